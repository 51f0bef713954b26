"""The demonstration's witnesses: two fictional countries that cosign the log.

Each is its own process — ``frontier-verify witness serve``, the same command a
real country runs — with its own key, its own state directory and its own list
of the logs it accepts, all under ``DATA/witnesses/<name>/``. The log's witness
policy, ``DATA/witnesses.policy`` (C2SP tlog-policy: the log's key, both
witnesses, a quorum of both), tells the server whom to ask for cosignatures and
tells verifiers whose cosignatures to require.

A simulation: the witnesses take the demo's simulated clock (``DATA/clock``), so
their cosignatures carry the simulated calendar's dates. Their keys are real,
fresh Ed25519 keys made for this demo directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import DemoError
from verifier.core.cosignature import CosignatureSigner
from verifier.files import write_new_private
from verifier.witness.protocol import witness_skey

#: (policy name, the witness's key name, the country it speaks for) — fictional.
COUNTRIES = (
    ("northmark", "witness.northmark.example/ledger", "the Northmark Ministry of Foreign Affairs"),
    (
        "southvale",
        "witness.southvale.example/ledger",
        "the Southvale Treaty Office",
    ),
)
POLICY = "witnesses.policy"
#: How long a witness may take to start listening.
START_TIMEOUT_S = 30.0
_LISTENING = re.compile(r"serving POST (http://\S+)/add-checkpoint")


@dataclass(frozen=True)
class DemoWitness:
    name: str  # as the policy names it
    key_name: str  # the witness's own name (tlog-cosignature)
    country: str
    home: Path  # DATA/witnesses/<name>

    @property
    def key(self) -> Path:
        return self.home / "witness.key"

    @property
    def vkey(self) -> str:
        return (self.home / "witness.vkey").read_text().strip()


def witnesses(data_root: Path) -> list[DemoWitness]:
    return [DemoWitness(n, k, c, data_root / "witnesses" / n) for n, k, c in COUNTRIES]


def create(data_root: Path, log_vkey: str) -> list[DemoWitness]:
    """New keys and empty states for both witnesses; each accepts only this log."""
    made = witnesses(data_root)
    for w in made:
        w.home.mkdir(parents=True)
        signer = CosignatureSigner.from_seed(w.key_name, os.urandom(32))
        write_new_private(w.key, (witness_skey(signer) + "\n").encode())
        (w.home / "witness.vkey").write_text(signer.verifier.vkey + "\n")
        # The logs this witness cosigns: tlog-policy "log" lines (tlog-witness).
        (w.home / "logs.policy").write_text(f"log {log_vkey}\n")
    return made


def write_policy(data_root: Path, log_vkey: str, urls: dict[str, str], log_url: str = "") -> str:
    """DATA/witnesses.policy: the log, both witnesses (where to reach them), quorum 2."""
    lines = [f"log {log_vkey}" + (f" {log_url}" if log_url else "")]
    members = []
    for w in witnesses(data_root):
        url = urls.get(w.name, "")
        lines.append(f"witness {w.name} {w.vkey}" + (f" {url}" if url else ""))
        members.append(w.name)
    lines.append(f"group both {len(members)} {' '.join(members)}")
    lines.append("quorum both")
    text = "\n".join(lines) + "\n"
    (data_root / POLICY).write_text(text)
    return text


class Running:
    """The witness processes of a demo directory, stopped by :meth:`stop` (by pid)."""

    def __init__(self, data_root: Path, ports: dict[str, int] | None = None) -> None:
        self.data_root = data_root
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.urls: dict[str, str] = {}
        try:
            for w in witnesses(data_root):
                self._start(w, (ports or {}).get(w.name, 0))
        except BaseException:
            self.stop()
            raise

    def _start(self, w: DemoWitness, port: int) -> None:
        cmd = [
            sys.executable, "-m", "verifier.cli", "witness", "serve",
            "--key", str(w.key),
            "--policy", str(w.home / "logs.policy"),
            "--state", str(w.home / "state"),
            "--port", str(port),
            "--simulated-clock", str(self.data_root / "clock"),
        ]  # fmt: skip
        log_path = w.home / "witness.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        with open(log_path, "a") as log:
            # the project's own witness command, arguments from this directory only
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, text=True)  # noqa: S603
        self.procs[w.name] = proc
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            with open(log_path) as f:
                f.seek(start)
                found = _LISTENING.search(f.read())
            if found:
                self.urls[w.name] = found.group(1)
                return
            time.sleep(0.05)
        raise DemoError(f"the {w.name} witness did not start: see {log_path}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
