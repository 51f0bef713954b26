"""The read side's replayed state survives a restart: stored, reloaded, and refused when foreign."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ledger.demo.build import build_demo
from ledger.read.views import LogView
from ledger.storage.sqlite import SqliteStore


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("view-cache") / "data").data.root


def _view(root: Path, cache: Path) -> LogView:
    store = SqliteStore.open(root / "ledger.sqlite", readonly=True)
    return LogView(store, root / "blobs" / "sha256", cache=cache)


def test_a_restart_resumes_from_the_stored_state(demo: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "view-state.json"
    first = _view(demo, cache)
    report = first.audit(1_900_000_000_000)
    referrers = {i: first.referrers(i) for i in range(first.catch_up().size)}
    first.save()
    assert json.loads(cache.read_text())["size"] == first.catch_up().size

    second = _view(demo, cache)
    fed: list[bytes] = []
    monkeypatch.setattr(second.store, "read_leaves", lambda a, b: fed.append(b"x") or [])
    assert second.audit(1_900_000_000_000) == report
    assert fed == [], "nothing was replayed: the state came from the cache"
    assert {i: second.referrers(i) for i in referrers} == referrers


def test_a_damaged_or_foreign_state_is_ignored(demo: Path, tmp_path: Path, caplog) -> None:
    cache = tmp_path / "view-state.json"
    view = _view(demo, cache)
    expected = view.audit(1_900_000_000_000)
    view.save()
    doc = json.loads(cache.read_text())
    for name, edit in (
        ("foreign", lambda d: d.__setitem__("checkpoint_sha256", "00" * 32)),
        ("damaged", lambda d: d["state"]["audit"]["replay"].__setitem__("_types", "%%")),
        ("truncated", None),
    ):
        if edit is None:
            cache.write_text(json.dumps(doc)[:100])
        else:
            bad = json.loads(json.dumps(doc))
            edit(bad)
            cache.write_text(json.dumps(bad))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ledger.read.views"):
            again = _view(demo, cache)
            assert again.audit(1_900_000_000_000) == expected, name
        assert "ignoring the site's stored replay state" in caplog.text, name
