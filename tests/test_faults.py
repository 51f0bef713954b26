"""Faults a production log meets, on a real server process: a read-only database
file, a full disk, a witness that hangs, witnesses that all go quiet.

For each: the service says what is wrong (/readyz names the failed check, an
append gets 503 with Retry-After and a problem naming the cause), refuses the
writes it cannot make durable, keeps serving reads, loses nothing it
acknowledged, and recovers by itself when the fault clears (no restart).
PostgreSQL restarted mid-run is in tests/test_pg_store.py.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serverproc import ServerProcess, init_test_log, make_envelopes, run_module
from tests.witnessproc import two_witnesses
from verifier.core.encoding import b64encode
from verifier.core.note import parse_note
from verifier.core.tiles import TILE_WIDTH, split_hashes, tiles_for_size

ORIGIN = "faults.example/log"


class Appender:
    """Appends one envelope at a time and remembers every acknowledged one."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.acked: dict[int, str] = {}  # index -> leaf hash
        self.n = 0

    def append(self) -> httpx.Response:
        env = make_envelopes(ORIGIN, 1, self.n)[0]
        self.n += 1
        r = httpx.post(self.server.url("/api/v1/entries"), json=env, timeout=30)
        if r.status_code in (200, 201):
            body = r.json()
            self.acked[body["index"]] = body["leaf_hash"]
        return r

    def check_nothing_lost(self) -> None:
        """Every acknowledged entry is in the log with its leaf hash; the log verifies."""
        size = int(httpx.get(self.server.url("/log/checkpoint")).text.split("\n")[1])
        for t in tiles_for_size(size, 0):
            data = httpx.get(self.server.url(f"/log/{t.path}"), timeout=30).content
            for k, h in enumerate(split_hashes(data)):
                index = t.index * TILE_WIDTH + k
                if index in self.acked:
                    assert b64encode(h) == self.acked[index], index
        assert max(self.acked) < size
        vkey = (self.server.data / "log.vkey").read_text().strip()
        out = run_module("verifier.cli", "verify", "--log", self.server.url("/log"), "--vkey", vkey)
        assert out.returncode == 0, out.stdout + out.stderr


def ready(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    r = httpx.get(server.url("/readyz"), timeout=30)
    return r.status_code, r.json()


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _chattr(flag: str, *paths: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    out = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return out.returncode == 0


def test_database_made_read_only(tmp_path: Path) -> None:
    data, _ = init_test_log(tmp_path / "data", ORIGIN)
    server = ServerProcess(data.root)
    server.start()
    db = data.db_path
    files = [db, Path(f"{db}-wal")]
    try:
        app = Appender(server)
        for _ in range(5):
            assert app.append().status_code == 201
        # The immutable attribute makes even the server's open descriptors refuse
        # writes (as root, permissions alone would not): the file is read-only now.
        if not _chattr("+i", *files):
            pytest.skip("this filesystem has no immutable attribute (chattr +i)")
        try:
            r = app.append()
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"]
            problem = r.json()
            assert problem["type"].endswith(":not-durable")
            assert "not logged" in problem["detail"]
            status, body = ready(server)
            assert status == 503
            assert body["checks"]["writer"]["ok"] is False
            assert "the last commit failed" in body["checks"]["writer"]["detail"]
            # Reads go on.
            assert httpx.get(server.url("/log/checkpoint")).status_code == 200
            assert httpx.get(server.url("/api/v1/entries/0")).status_code == 200
            assert httpx.get(server.url("/")).status_code == 200
        finally:
            _chattr("-i", *files)
        # The fault cleared: the writer's probe finds out by itself, with no append.
        wait_until(lambda: ready(server)[0] == 200, "/readyz to recover")
        for _ in range(3):
            assert app.append().status_code == 201
        app.check_nothing_lost()
        assert sorted(app.acked) == list(range(8))  # nothing refused took an index
    finally:
        _chattr("-i", *files)
        server.stop()


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {out.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def test_disk_full(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "640k") as disk:
        data, _ = init_test_log(disk / "data", ORIGIN)
        server = ServerProcess(data.root, log_path=tmp_path / "server.log")
        server.start()
        try:
            app = Appender(server)
            refused: list[httpx.Response] = []
            for _ in range(3000):
                r = app.append()
                if r.status_code == 503:
                    refused.append(r)
                    if len(refused) >= 3:
                        break
                else:
                    assert r.status_code == 201, r.text
            assert refused, "the small disk never filled"
            assert len(app.acked) > 10
            problem = refused[-1].json()
            assert problem["type"].endswith(":not-durable")
            assert "full" in problem["detail"], problem
            status, body = ready(server)
            assert status == 503 and "full" in body["checks"]["writer"]["detail"]
            assert httpx.get(server.url("/log/checkpoint")).status_code == 200
            # More room (the operator grows the volume): the writer recovers by itself.
            out = subprocess.run(
                ["mount", "-o", "remount,size=64m", str(disk)], capture_output=True, check=False
            )
            assert out.returncode == 0, out.stderr
            wait_until(lambda: ready(server)[0] == 200, "/readyz to recover")
            before = len(app.acked)
            for _ in range(5):
                assert app.append().status_code == 201
            assert len(app.acked) == before + 5
            app.check_nothing_lost()
            assert sorted(app.acked) == list(range(len(app.acked)))
        finally:
            server.stop()


class HangingWitness:
    """Accepts connections on a port and never answers (a witness that hangs)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = self.sock.accept()
                self.conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


def cosigners(server: ServerProcess) -> tuple[int, set[str]]:
    note = httpx.get(server.url("/log/checkpoint"), timeout=30).content
    return int(note.split(b"\n")[1]), {s.name for s in parse_note(note).signatures}


def test_a_hanging_witness_then_silent_witnesses(tmp_path: Path) -> None:
    data, vkey = init_test_log(tmp_path / "data", ORIGIN)
    w1, w2 = two_witnesses(tmp_path, vkey, data.root)
    hang = HangingWitness(w2.port)
    w1.start()
    server = ServerProcess(
        data.root,
        extra=[
            "--require-witness-quorum",
            "--witness-interval",
            "0.2",
            "--witness-timeout",
            "1",
            "--witness-idle-cadence",
            "1",
            "--max-checkpoint-age",
            "4",
        ],
    )
    try:
        server.start()
        app = Appender(server)
        for _ in range(3):
            assert app.append().status_code == 201
        # The server did call the hanging witness, and was left waiting; appends were
        # acknowledged all the same (witnessing is a job beside the sequencer).
        wait_until(lambda: bool(hang.conns), "the server to call the hanging witness")
        # Only w1 cosigns: the quorum is not met, the new checkpoint is held back.
        wait_until(lambda: ready(server)[0] == 503, "/readyz to report the quorum")
        _, body = ready(server)
        assert body["checks"]["witness_quorum"]["ok"] is False
        assert "short of the policy's quorum" in body["checks"]["witness_quorum"]["detail"]
        assert cosigners(server)[0] == 0  # the newest checkpoint with the quorum: the empty tree
        wait_until(
            lambda: (
                'frontier_witness_failures_total{witness="w2"}'
                in httpx.get(server.url("/metrics")).text
            ),
            "a failure counted for w2",
        )
        wait_until(
            lambda: (
                'frontier_witness_cosigned{witness="w1"} 1'
                in httpx.get(server.url("/metrics")).text
            ),
            "w1 to cosign the latest checkpoint",
        )
        # The fault clears: the witness answers again on its address.
        hang.close()
        w2.start()
        wait_until(lambda: ready(server)[0] == 200, "/readyz to recover", timeout=60)
        size, names = cosigners(server)
        assert size == 3 and {"gov-a.example/witness", "gov-b.example/witness"} <= names
        # Then every witness goes quiet: the served checkpoint's cosignatures age past
        # --max-checkpoint-age and the server says it is no longer fresh.
        w1.stop()
        w2.stop()
        wait_until(lambda: ready(server)[0] == 503, "/readyz to report a stale checkpoint")
        _, body = ready(server)
        assert "was last cosigned" in body["checks"]["checkpoint"]["detail"]
        assert body["checks"]["checkpoint"]["ok"] is False
        # Appends are still taken and durable meanwhile (the quorum gates publishing).
        assert app.append().status_code == 201
        w1.start()
        w2.start()
        wait_until(lambda: ready(server)[0] == 200, "/readyz to recover again", timeout=60)
        wait_until(lambda: cosigners(server)[0] == 4, "the new entry's checkpoint to be cosigned")
        app.check_nothing_lost()
    finally:
        server.stop()
        hang.close()
        w1.stop()
        w2.stop()
