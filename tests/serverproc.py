"""Test helper: a real ``frontier-ledger serve`` process on loopback, and log set-up.

``ServerProcess`` runs ``python -m frontier_ledger serve --data DIR --port P`` as a child
process (P a free port on 127.0.0.1), waits -- in a bounded loop -- until
``GET /log/checkpoint`` answers 200, and can end it with SIGKILL (a crash) or
SIGTERM (a clean stop). Only the process it started is ever signalled, by pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.write.open_log import init_log

REPO = Path(__file__).resolve().parent.parent
#: How long a start may take before the helper gives up (bounded loop, not an assertion
#: about speed: a healthy start takes about a second).
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class ServerStartError(RuntimeError):
    """The server process exited or never answered GET /log/checkpoint."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_test_log(
    path: Path, origin: str = "test.example/log", database: str | None = None
) -> tuple[DataDir, str]:
    """Create a new log in *path* (in PostgreSQL *database* if given); return its data
    directory and vkey."""
    data = DataDir.at(path, database=database)
    vkey = init_log(data, origin, synthetic=True)
    return data, vkey


def make_envelopes(origin: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    """*count* synthetic, really signed DSSE envelopes (a fresh key per call)."""
    return list(synthetic_envelopes(origin, count, start))


def run_module(module: str, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m MODULE ARGS`` from the repository to completion; never raise on
    its exit code (the caller asserts on it)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(*args: str, timeout: float = 300.0) -> str:
    """Run ``python -m frontier_ledger ARGS`` to completion; return stdout (raise on failure)."""
    proc = run_module("frontier_ledger", *args, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(
            f"frontier-ledger {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}"
        )
    return proc.stdout


def terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM a child process (a graceful stop), SIGKILL if it does not exit in time;
    close its pipes; return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return proc.returncode


class ServerProcess:
    """One ``serve`` process at a time on a data directory; restartable."""

    def __init__(
        self,
        data: Path,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        extra: Sequence[str] = (),
        database: str | None = None,
    ) -> None:
        self.data = Path(data)
        #: ``--database``: the PostgreSQL URL holding the log (None: SQLite in DATA).
        self.database = database
        self.port = port or free_port()
        self.log_path = log_path or self.data.parent / f"server-{self.data.name}.log"
        self.extra = tuple(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def _spawn(self) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable,
            "-m",
            "frontier_ledger",
            "serve",
            "--data",
            str(self.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *(["--database", self.database] if self.database else []),
            *self.extra,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            return subprocess.Popen(
                cmd,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the server and wait until GET /log/checkpoint answers 200."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("server already running")
        for _attempt in range(3):
            self.proc = self._spawn()
            self.starts += 1
            if self._wait_ready(timeout):
                return
            # The process died: most likely the port was taken meanwhile; try another.
            self.port = free_port()
        raise ServerStartError(f"server did not start; log tail:\n{self._log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    r = client.get(self.url("/log/checkpoint"))
                    if r.status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.kill()
        raise ServerStartError(
            f"server did not answer within {timeout} s; log tail:\n{self._log_tail()}"
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """Pids of the server's child processes (its HTTP workers, with ``--workers``)."""
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def kill(self) -> int | None:
        """SIGKILL the process (a crash) and reap it; return its exit status."""
        return self._signal(signal.SIGKILL)

    def stop(self) -> int | None:
        """SIGTERM the process (a graceful stop), SIGKILL if it does not exit in time."""
        return self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                return proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait(timeout=STOP_TIMEOUT_S)
        return proc.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_demo(
    factory: Any,
    name: str,
    scenario: Any = None,
    database: str | None = None,
    *,
    witnessed: bool = False,
) -> Iterator[tuple[ServerProcess, Any]]:
    """Build the demo (or *scenario*) in a fresh directory and serve it on its simulated clock.

    A fixture body: ``yield from serve_demo(tmp_path_factory, "name")`` yields
    (server, DemoResult) and stops the server afterwards. With *witnessed*, the demo's
    two witnesses cosign every checkpoint as it is built (as ``make demo`` does); the
    server then publishes their policy and serves the cosigned checkpoint.
    """
    from ledger.demo.build import build_demo

    result = build_demo(
        factory.mktemp(name) / "data", scenario, database=database, witnessed=witnessed
    )
    root = result.data.root
    server = ServerProcess(
        root, extra=["--simulated-clock", str(root / "clock")], database=database
    )
    server.start()
    try:
        yield server, result
    finally:
        server.stop()
