"""The witness's I/O edge: a stdlib HTTP server for ``add-checkpoint`` and its state on disk.

Layout of the state directory::

    witness.lock              flock held by the one process serving this state
    logs/<sha256(origin)>.json  per log: origin, size, root, timestamp, checkpoint
    evidence/<kind>-<digest>.json  refused checkpoints that may prove a split view

Every state file is replaced atomically (temp file, fsync, rename, fsync of the
directory) while the origin's lock is held, before the cosignature is made, so a
crash can lose at most an answer, never roll a log back. Two processes on one
state directory could each advance from the same size; the flock refuses the
second one. If a write fails half-way the store stops answering (500) until a
restart re-reads the disk, rather than guess what was written.

HTTP (tlog-witness §add-checkpoint): ``POST <prefix>/add-checkpoint`` only; other
methods on that path get 405 with ``Allow: POST``; other paths 404. A body needs
a Content-Length (411 otherwise) no larger than
:data:`verifier.witness.protocol.MAX_REQUEST_SIZE` (413). HTTP/1.1 keep-alive is
supported ("witnesses SHOULD support, HTTP keep-alive").
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from verifier.core.checkpoint import parse_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.leaf import loads_strict
from verifier.core.merkle import HASH_SIZE
from verifier.core.note import parse_note
from verifier.errors import FormatError, WitnessStoreError
from verifier.files import atomic_write
from verifier.witness.protocol import (
    MAX_REQUEST_SIZE,
    TEXT_CONTENT_TYPE,
    LogState,
    Witness,
    WitnessEvidence,
    WitnessResponse,
)

log = logging.getLogger("verifier.witness.protocol")

STATE_MEDIA_TYPE = "application/vnd.frontier-ledger.witness-state.v1+json"
EVIDENCE_MEDIA_TYPE = "application/vnd.frontier-ledger.witness-evidence.v1+json"
#: Evidence files are named by the signed text, so only the log can make new ones;
#: this cap is a second line of defence for the disk.
MAX_EVIDENCE_FILES = 10_000
#: Idle keep-alive connections and slow senders are dropped after this long.
SOCKET_TIMEOUT_S = 15.0
#: Connections served at once; more are closed at once (each holds a thread).
MAX_CONNECTIONS = 64


def _state_to_json(origin: str, state: LogState) -> bytes:
    doc = {
        "media_type": STATE_MEDIA_TYPE,
        "origin": origin,
        "size": state.size,
        "root": b64encode(state.root),
        "timestamp": state.timestamp,
        "checkpoint": state.checkpoint.decode("utf-8"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def _state_from_json(data: bytes, what: str) -> tuple[str, LogState]:
    """Parse a state file and check it agrees with the checkpoint it holds."""
    doc = loads_strict(data, what=what)
    if not isinstance(doc, dict) or doc.get("media_type") != STATE_MEDIA_TYPE:
        raise FormatError(f"{what}: not a witness state file ({STATE_MEDIA_TYPE})")
    origin, size, root, ts, note = (
        doc.get(k) for k in ("origin", "size", "root", "timestamp", "checkpoint")
    )
    if not (
        isinstance(origin, str)
        and type(size) is int
        and isinstance(root, str)
        and type(ts) is int
        and isinstance(note, str)
    ):
        raise FormatError(f"{what}: missing or mistyped fields")
    raw_root = b64decode_strict(root, what=f"{what} root", length=HASH_SIZE)
    cp = parse_checkpoint(parse_note(note.encode()).text)
    if (cp.origin, cp.size, cp.root) != (origin, size, raw_root) or ts < 0:
        raise FormatError(f"{what}: the recorded size or root is not the checkpoint's")
    return origin, LogState(size, raw_root, note.encode(), ts)


def _evidence_to_json(ev: WitnessEvidence) -> bytes:
    doc = {
        "media_type": EVIDENCE_MEDIA_TYPE,
        "kind": ev.kind,
        "origin": ev.origin,
        "detail": ev.detail,
        "cosigned_checkpoint": ev.cosigned_checkpoint.decode("utf-8"),
        "submitted_checkpoint": ev.submitted_checkpoint.decode("utf-8"),
        "submitted_old_size": ev.old_size,
        "submitted_consistency_proof": [b64encode(h) for h in ev.proof],
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


class FileStore:
    """A :class:`~verifier.witness.protocol.WitnessStore` in a directory (module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.root = directory
        self.logs_dir = directory / "logs"
        self.evidence_dir = directory / "evidence"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        self._take_process_lock()
        self._states: dict[str, LogState] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._broken: str | None = None
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _take_process_lock(self) -> None:
        fd = os.open(self.root / "witness.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WitnessStoreError(
                f"another witness process is using the state in {self.root}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _file_name(origin: str) -> str:
        return hashlib.sha256(origin.encode()).hexdigest() + ".json"

    def _load(self) -> None:
        # A write cut short (verifier.files.temp_name: .<name>.tmp-<pid>-<hex>); its
        # rename never ran, so the state file beside it still holds the last good bytes.
        for tmp in self.logs_dir.glob(".*.tmp*"):
            tmp.unlink()
        for path in sorted(self.logs_dir.glob("*.json")):
            try:
                origin, state = _state_from_json(path.read_bytes(), str(path))
            except FormatError as exc:
                # Never start from zero for a log we have a record of: that is a rollback.
                raise WitnessStoreError(f"corrupt witness state: {exc}") from None
            if path.name != self._file_name(origin):
                raise WitnessStoreError(f"{path}: the file name does not match its origin")
            self._states[origin] = state

    def get(self, origin: str) -> LogState | None:
        with self._lock_for(origin):
            return self._states.get(origin)

    def _lock_for(self, origin: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(origin, threading.Lock())

    def update(self, origin: str, decide: Callable[[LogState | None], LogState]) -> LogState:
        with self._lock_for(origin):
            if self._broken is not None:
                raise WitnessStoreError(f"witness state is not writable ({self._broken}); restart")
            new = decide(self._states.get(origin))
            try:
                atomic_write(
                    self.logs_dir / self._file_name(origin),
                    _state_to_json(origin, new),
                    mode=0o644,
                )
            except BaseException as exc:
                # The rename may or may not have happened: stop until a restart re-reads it.
                self._broken = f"{type(exc).__name__}: {exc}"
                raise
            self._states[origin] = new
            return new

    def record_evidence(self, evidence: WitnessEvidence) -> None:
        path = self.evidence_dir / f"{evidence.kind}-{evidence.digest}.json"
        try:
            if path.exists():
                return
            if sum(1 for _ in self.evidence_dir.glob("*.json")) >= MAX_EVIDENCE_FILES:
                log.warning("evidence directory is full; not keeping %s", path.name)
                return
            atomic_write(path, _evidence_to_json(evidence), mode=0o644)
            log.warning("kept evidence %s: %s", path.name, evidence.detail)
        except OSError as exc:  # evidence is best effort; the refusal stands regardless
            log.error("could not write evidence %s: %s", path.name, exc)


# --- HTTP ----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], witness: Witness, prefix: str) -> None:
        self.witness = witness
        self.endpoint = prefix.rstrip("/") + "/add-checkpoint"
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "frontier-witness"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = TEXT_CONTENT_TYPE,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse_method(self) -> None:
        if urlsplit(self.path).path == self.server.endpoint:
            self._send(405, b"add-checkpoint takes POST\n", headers={"Allow": "POST"}, close=True)
        else:
            self._send(404, b"not found\n", close=True)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411/413/400 (and closing)."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._send(411, b"send the body with a Content-Length\n", close=True)
            return None
        length = self.headers.get("Content-Length")
        if length is None:
            self._send(411, b"Content-Length is required\n", close=True)
            return None
        if not length.isascii() or not length.isdigit() or len(length) > 12:
            self._send(400, b"bad Content-Length\n", close=True)
            return None
        n = int(length)
        if n > MAX_REQUEST_SIZE:
            self._send(413, f"body larger than {MAX_REQUEST_SIZE} bytes\n".encode(), close=True)
            return None
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            return None
        return body

    def do_POST(self) -> None:
        if urlsplit(self.path).path != self.server.endpoint:
            self._send(404, b"not found\n", close=True)
            return
        body = self._read_body()
        if body is None:
            return
        try:
            resp = self.server.witness.add_checkpoint(body)
        except Exception:
            log.exception("add-checkpoint failed")
            resp = WitnessResponse(500, b"internal error\n")
        if resp.status != 200:
            log.info("add-checkpoint %d: %s", resp.status, resp.body[:200].decode(errors="replace"))
        self._send(resp.status, resp.body, resp.content_type)


class WitnessServer:
    """A running witness: ``serve_forever()`` in the foreground, or ``start()`` a thread."""

    def __init__(
        self, witness: Witness, host: str = "127.0.0.1", port: int = 0, prefix: str = ""
    ) -> None:
        self.httpd = _Server((host, port), witness, prefix)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}{self.httpd.endpoint.removesuffix('/add-checkpoint')}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> WitnessServer:
        self._thread = threading.Thread(target=self.serve_forever, name="witness", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
