"""``audit --low-memory`` finds exactly what the audit in memory finds.

The schedule records spill to a temporary SQLite database (verifier/policy/spill.py);
here they spill after two records of each kind, so nearly every lookup, change and
iteration of the rules goes through the disk. Every scenario the differential
fuzzing found (tests/scenarios/found: the schedules with the most findings) and
random schedules are audited both ways; the reports must be equal, finding by
finding, messages and order included. The CLI is run both ways on a governed log.
"""

from __future__ import annotations

import bisect
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from ledger.demo.scenario import load
from tests.schedules import Schedule, schedules
from tests.test_differential import append, found_files
from verifier.cli import main
from verifier.client.fetch import LogSource, RemoteBlobs
from verifier.client.logcheck import check_log
from verifier.core.checkpoint import open_checkpoint
from verifier.core.note import parse_vkey
from verifier.entries.replay import LogReplay
from verifier.policy.audit import Auditor, AuditReport
from verifier.policy.spill import SpillDict, SpillList, low_memory_audit
from verifier.policy.state import Run


def reports(
    origin: str, leaves: list[bytes], now: int, blobs: dict[str, bytes]
) -> tuple[AuditReport, AuditReport]:
    plain = Auditor(origin, blobs)
    spilled = Auditor(origin, blobs, state=low_memory_audit(origin, hot=2))
    for leaf in leaves:
        assert plain.feed(leaf) == spilled.feed(leaf)
    return plain.report(now), spilled.report(now)


@pytest.mark.parametrize("path", found_files(), ids=lambda p: p.stem)
def test_found_scenarios_audit_the_same_spilled(path: Path) -> None:
    s = load(path)
    app = append(s)
    plain, spilled = reports(s.origin, app.leaves, s.now_ms, s.blobs())
    assert spilled == plain


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(schedules())
def test_random_schedules_audit_the_same_spilled(s: Schedule) -> None:
    app = append(s)
    plain, spilled = reports(s.origin, app.leaves, s.now_ms, s.blobs())
    assert spilled == plain


def test_spill_dict_is_a_dict_in_insertion_order() -> None:
    db = sqlite3.connect("", isolation_level=None)
    d: SpillDict[Run] = SpillDict(db, "runs", Run, hot=3)
    plain: dict[int, Run] = {}
    for i in range(0, 40, 3):
        run = Run(i, "org", f"r{i}", 1, 2027, 10**24, 1000 * i, i)
        d[i] = plain[i] = run
    assert len(d) == len(plain) and list(d) == list(plain)
    assert list(d.values()) == list(plain.values())
    assert 9 in d and 10 not in d and d.get(10) is None
    # A record looked up is the live one: changing it changes what is stored.
    d[0].started = 99
    plain[0].started = 99
    for i in range(3, 40, 3):
        d[i]
    assert d[0].started == 99
    del d[3]
    del plain[3]
    assert list(d.items()) == [(k, v) for k, v in plain.items()]
    with pytest.raises(ValueError, match="out of order"):
        d[4] = Run(4, "org", "r4", 1, 2027, 1, 1, 4)
    with pytest.raises(KeyError):
        d[10]


def test_spill_dict_in_any_order_takes_keys_as_they_come() -> None:
    """Researchers' access is keyed by the decision it opens, which comes in any order."""
    db = sqlite3.connect("", isolation_level=None)
    d: SpillDict[list[tuple[int, int, int]]] = SpillDict(
        db, "access", list[tuple[int, int, int]], hot=2, any_order=True
    )
    plain: dict[int, list[tuple[int, int, int]]] = {}
    for x, decision in enumerate([30, 10, 20, 10, 5, 30, 10]):
        for m in (d, plain):
            m.setdefault(decision, []).append((x, x + 1, 100 + x))
    assert sorted(d.items()) == sorted(plain.items()) and len(d) == len(plain)
    assert d.get(10) == plain[10] == [(1, 2, 101), (3, 4, 103), (6, 7, 106)]
    assert 7 not in d and d.get(7) is None
    with pytest.raises(ValueError, match="no table"):
        SpillDict(db, "nothing", int)


def test_spill_list_is_an_append_only_list() -> None:
    db = sqlite3.connect("", isolation_level=None)
    items: SpillList[tuple[int, int, int]] = SpillList(db, "approvals", tuple[int, int, int], hot=3)
    plain = [(1000 * i, i % 3, 10 * i) for i in range(20)]
    for item in plain:
        items.append(item)
    assert len(items) == 20 and list(items) == plain
    assert [items[i] for i in range(-20, 20)] == plain + plain
    assert bisect.bisect_left(items, 70, key=lambda a: a[2]) == 7
    for bad in (20, -21):
        with pytest.raises(IndexError):
            items[bad]
    with pytest.raises(TypeError, match="append-only"):
        items[0] = plain[0]
    with pytest.raises(TypeError, match="append-only"):
        items.insert(0, plain[0])
    with pytest.raises(TypeError, match="append-only"):
        del items[0]
    with pytest.raises(ValueError, match="no table"):
        SpillList(db, "runs", int)


def test_low_memory_state_replays_from_an_empty_log() -> None:
    state = low_memory_audit("example.invalid/log", hot=2)
    assert isinstance(state.replay, LogReplay) and state.size == 0
    assert isinstance(state.policy.runs, SpillDict)  # type: ignore[union-attr]
    assert isinstance(state.policy.access, SpillDict)  # type: ignore[union-attr]
    assert isinstance(state.policy.approvals, SpillList)  # type: ignore[union-attr]


def test_the_cli_audit_is_the_same_with_low_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger.demo.build import build_demo
    from ledger.read.mirror import export_log
    from ledger.read.reader import LogReader
    from ledger.storage.backends import open_store

    result = build_demo(tmp_path / "data")
    store = open_store(result.data, readonly=True)
    try:
        export_log(LogReader(store), tmp_path / "out")
    finally:
        store.close()
    argv = ["audit", "--log", str(tmp_path / "out"), "--vkey", result.vkey, "--json", "--quiet"]
    argv += ["--at", "2030-01-02T00:00:00Z"]
    first = main(argv)
    plain = capsys.readouterr().out
    second = main([*argv, "--low-memory"])
    assert (second, capsys.readouterr().out) == (first, plain)
    # A fresh spilled state is a whole-log check: every tile and bundle against the
    # checkpoint, as without one (not the incremental path of a stored state).
    source = LogSource(str(tmp_path / "out"))
    cp = open_checkpoint(source.fetch("checkpoint"), parse_vkey(result.vkey))
    runs = [
        check_log(cp, source.fetch, start, schedule=True, blobs=RemoteBlobs(source))
        for start in (None, low_memory_audit(cp.origin, hot=2))
    ]
    counts = {(r.tiles_checked, r.bundles_checked, r.start_size) for r in runs}
    assert len(counts) == 1 and next(iter(counts))[1] > 0
    assert main([*argv, "--low-memory", "--state", str(tmp_path / "state")]) != 0
