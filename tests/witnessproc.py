"""A real witness (`frontier-verify witness serve`) on loopback, for tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serverproc import REPO, free_port, terminate


class WitnessProcess:
    def __init__(self, root: Path, name: str, log_vkey: str) -> None:
        self.root = root
        root.mkdir(parents=True)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "verifier.cli",
                "witness",
                "keygen",
                "--out",
                str(root / "key"),
                "--name",
                name,
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            timeout=60,
        )
        self.vkey = out.stdout.strip()
        (root / "policy").write_text(f"log {log_vkey}\nquorum none\n")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "verifier.cli",
                "witness",
                "serve",
                "--key",
                str(self.root / "key"),
                "--policy",
                str(self.root / "policy"),
                "--port",
                str(self.port),
                "--state",
                str(self.root / "state"),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except httpx.TransportError:
                assert self.proc.poll() is None and time.monotonic() < deadline, (
                    "witness did not start"
                )
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc, timeout=15)


def two_witnesses(
    root: Path, log_vkey: str, data_root: Path
) -> tuple[WitnessProcess, WitnessProcess]:
    """Two witnesses (not started) of two governments, and DATA/witnesses.policy naming
    them with a 2-of-2 quorum ('both')."""
    w1 = WitnessProcess(root / "w1", "gov-a.example/witness", log_vkey)
    w2 = WitnessProcess(root / "w2", "gov-b.example/witness", log_vkey)
    (data_root / "witnesses.policy").write_text(
        f"log {log_vkey}\n"
        f"witness w1 {w1.vkey} http://127.0.0.1:{w1.port}\n"
        f"witness w2 {w2.vkey} http://127.0.0.1:{w2.port}\n"
        "group both all w1 w2\nquorum both\n"
    )
    return w1, w2
