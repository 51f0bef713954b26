"""``/healthz`` and ``/readyz`` over a real server: what each says, and when readiness fails."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serverproc import ServerProcess, init_test_log


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d, _ = init_test_log(tmp_path_factory.mktemp("health") / "data")
    return d.root


@pytest.fixture(scope="module")
def server(data: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(data)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def test_healthz_reads_the_store(server: ServerProcess) -> None:
    r = httpx.get(server.url("/healthz"), timeout=30)
    assert r.status_code == 200 and r.json() == {"ok": True, "detail": "tree size 0"}
    assert r.headers["cache-control"] == "no-store"


def test_readyz_lists_its_checks(server: ServerProcess) -> None:
    r = httpx.get(server.url("/readyz"), timeout=30)
    body = r.json()
    assert r.status_code == 200 and body["ready"] is True
    assert set(body["checks"]) == {"store", "writer", "checkpoint"}
    assert body["checks"]["writer"]["detail"] == "sequencing and signing"


def test_a_read_only_server_has_no_writer_to_check(data: Path, server: ServerProcess) -> None:
    reader = ServerProcess(data, extra=["--read-only"])
    reader.start()
    try:
        body = httpx.get(reader.url("/readyz"), timeout=30).json()
        assert body["ready"] is True and "writer" not in body["checks"]
    finally:
        reader.stop()


def _scrape(server: ServerProcess) -> dict[str, float]:
    """Every sample of /metrics, strictly parsed: 'name{labels} value' per line."""
    import re

    r = httpx.get(server.url("/metrics"), timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    samples: dict[str, float] = {}
    sample = re.compile(r'([a-z_]+)(\{[a-z_]+="[^"\\\n]*"(?:,[a-z_]+="[^"\\\n]*")*\})? (\S+)')
    for line in r.text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = sample.fullmatch(line)
        assert m, line
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_metrics_count_appends_batches_and_commit_time(server: ServerProcess) -> None:
    from tests.serverproc import make_envelopes

    before = _scrape(server)
    envelopes = make_envelopes("test.example/log", 5)
    for env in envelopes:
        assert httpx.post(server.url("/api/v1/entries"), json=env, timeout=30).status_code == 201
    assert (
        httpx.post(server.url("/api/v1/entries"), json=envelopes[0], timeout=30).status_code == 200
    )
    after = _scrape(server)
    assert (
        after["frontier_appends_total"] - before["frontier_appends_total"] == 5
    )  # not the duplicate
    assert after["frontier_batch_size_count"] - before["frontier_batch_size_count"] >= 1
    assert (
        after['frontier_commit_seconds_bucket{le="+Inf"}'] == after["frontier_commit_seconds_count"]
    )
    assert after["frontier_tree_size"] == before["frontier_tree_size"] + 5
    assert 0 <= after["frontier_seconds_since_last_append"] < 60


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    import json

    d, _ = init_test_log(tmp_path / "data")
    proc = ServerProcess(d.root, extra=["--log-format", "json", "--log-level", "info"])
    proc.start()
    try:
        assert httpx.get(proc.url("/healthz"), timeout=30).status_code == 200
    finally:
        proc.stop()
    records = []
    for line in proc.log_path.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    access = [r for r in records if r["logger"] == "uvicorn.access" and r["path"] == "/healthz"]
    assert access and access[0]["status"] == 200 and access[0]["method"] == "GET"
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "uvicorn.error" for r in records)  # start-up, as JSON too
