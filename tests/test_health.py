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
