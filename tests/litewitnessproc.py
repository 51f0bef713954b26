"""litewitness (filippo.io/torchwood) on loopback, with its key in its own ssh-agent.

For tests/test_litewitness_interop.py. ``tests/interop/litewitness.sh`` builds
``litewitness`` and ``witnessctl`` at the pinned version into ``.cache/interop/bin/``;
:func:`litewitness_bin` runs it (a no-op once built) and says where they are.

litewitness takes everything from flags (cmd/litewitness/README.md of that version)::

    litewitness -db <sqlite path> -ssh-agent <socket> -key SHA256:<ssh fingerprint>
                -name <witness name> -listen 127.0.0.1:<port>

Its Ed25519 key stays in an ssh-agent (here one started for the test, on a socket
in a short temporary directory: a unix socket path is limited to about 100 bytes);
``-key`` picks it by its OpenSSH SHA-256 fingerprint. The logs it witnesses are rows
of its database, added with ``witnessctl add-log -origin`` and ``add-key -key <vkey>``.
It cosigns as ``<name>`` with a tlog-cosignature key (type 0x04): its vkey is
``<name>+<hex key ID>+<base64(0x04 || pubkey)>``, which :func:`ssh_ed25519_public_key`
and :class:`~verifier.core.cosignature.CosignatureVerifier` derive from the ssh
public key, and which litewitness logs at start (``msg="verifier key" vkey=...``).

Processes are stopped by their pid (SIGINT for litewitness: its clean shutdown;
SIGTERM for ssh-agent), with SIGKILL after a bounded wait.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.serverproc import REPO, free_port
from verifier.core.cosignature import CosignatureVerifier

BUILD_SCRIPT = REPO / "tests" / "interop" / "litewitness.sh"
#: The first build downloads torchwood's modules and compiles a pure-Go SQLite.
BUILD_TIMEOUT_S = 1800.0
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class InteropUnavailable(Exception):
    """A tool the interop test needs is not installed (Go, or OpenSSH's client)."""


class InteropBuildError(RuntimeError):
    """litewitness or witnessctl did not build."""


def litewitness_bin() -> Path:
    """The directory holding litewitness and witnessctl, built if they are not yet."""
    try:
        proc = subprocess.run(
            ["bash", str(BUILD_SCRIPT)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InteropBuildError(f"{BUILD_SCRIPT} ran over {BUILD_TIMEOUT_S:.0f} s") from exc
    if proc.returncode == 127 and shutil.which("go") is None:
        raise InteropUnavailable("Go is not installed: cannot build litewitness")
    if proc.returncode != 0:
        raise InteropBuildError(f"{BUILD_SCRIPT} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def require_openssh() -> None:
    missing = [t for t in ("ssh-agent", "ssh-add", "ssh-keygen") if shutil.which(t) is None]
    if missing:
        raise InteropUnavailable(f"OpenSSH's client is not installed (no {', '.join(missing)})")


def ssh_ed25519_public_key(pub_line: str) -> bytes:
    """The raw 32-byte key of an OpenSSH ``ssh-ed25519 <base64 blob> [comment]`` line.

    The blob is RFC 4253 §6.6 / RFC 8709 §4: ``string "ssh-ed25519" || string key``.
    """
    kind, b64 = pub_line.split()[:2]
    blob = base64.b64decode(b64, validate=True)
    fields = []
    while blob:
        (n,) = struct.unpack(">I", blob[:4])
        fields.append(blob[4 : 4 + n])
        blob = blob[4 + n :]
    if kind != "ssh-ed25519" or len(fields) != 2 or fields[0] != b"ssh-ed25519":
        raise ValueError(f"not an ssh-ed25519 public key: {pub_line[:40]!r}")
    if len(fields[1]) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return fields[1]


def _wait(what: str, ready: Any, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout} s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes] | None, sig: int) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


class SshAgent:
    """An ssh-agent of its own (``ssh-agent -D -a SOCKET``) holding the witness key."""

    def __init__(self) -> None:
        require_openssh()
        # Short: the socket path must fit in sockaddr_un (108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="lw-agent-"))
        self.socket = self.dir / "agent.sock"
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(self.socket)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait("ssh-agent", self.socket.exists, self.proc, START_TIMEOUT_S)

    def add_new_key(self, path: Path, comment: str) -> tuple[str, bytes]:
        """``ssh-keygen -t ed25519`` a key at *path*, ``ssh-add`` it; return its
        ``SHA256:`` fingerprint and raw public key."""
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
        run(["ssh-add", "-q", str(path)], env={"SSH_AUTH_SOCK": str(self.socket)})
        pub = Path(f"{path}.pub").read_text()
        fingerprint = run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{path}.pub"]).split()[1]
        assert fingerprint.startswith("SHA256:"), fingerprint
        return fingerprint, ssh_ed25519_public_key(pub)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGTERM)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 60.0) -> str:
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


class LiteWitness:
    """One litewitness process, its database, and its key in *agent*."""

    def __init__(self, bin_dir: Path, root: Path, name: str, agent: SshAgent) -> None:
        self.bin = bin_dir
        self.root = root
        root.mkdir(parents=True)
        self.name = name
        self.agent = agent
        self.db = root / "litewitness.db"
        self.log_path = root / "litewitness.log"
        # A second Ed25519 key in the agent: -key must pick the witness key by fingerprint.
        agent.add_new_key(root / "other.pem", "not-the-witness")
        self.fingerprint, self.public_key = agent.add_new_key(root / "witness.pem", name)
        self.verifier = CosignatureVerifier.from_public_key(name, self.public_key)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def vkey(self) -> str:
        """tlog-cosignature: ``<name>+<key ID>+<base64(0x04 || pubkey)>``."""
        return self.verifier.vkey

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def witnessctl(self, *args: str) -> str:
        return run([str(self.bin / "witnessctl"), args[0], "-db", str(self.db), *args[1:]])

    def add_log(self, origin: str, log_vkey: str) -> None:
        """``witnessctl add-log`` (the log starts at size 0) and ``add-key`` (its vkey)."""
        self.witnessctl("add-log", "-origin", origin)
        self.witnessctl("add-key", "-origin", origin, "-key", log_vkey)

    def logs(self) -> dict[str, dict[str, Any]]:
        """``witnessctl list-logs``: origin -> {size, root_hash, keys} (its JSON lines)."""
        out = self.witnessctl("list-logs")
        docs = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {d["origin"]: d for d in docs}

    def start(self) -> None:
        cmd = [
            str(self.bin / "litewitness"),
            "-db",
            str(self.db),
            "-ssh-agent",
            str(self.agent.socket),
            "-key",
            self.fingerprint,
            "-name",
            self.name,
            "-listen",
            f"127.0.0.1:{self.port}",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

        def answers() -> bool:
            try:
                return httpx.get(self.url + "/", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        try:
            _wait("litewitness", answers, self.proc, START_TIMEOUT_S)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log:\n{self.log_text()[-2000:]}") from None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logged_vkey(self) -> str:
        """The vkey litewitness reports for itself at start."""
        m = re.search(r'msg="verifier key" vkey="?([^"\s]+)', self.log_text())
        assert m, f"no verifier key line in:\n{self.log_text()[-2000:]}"
        return m.group(1)

    def stop(self) -> None:
        _stop(self.proc, signal.SIGINT)
        self.proc = None
