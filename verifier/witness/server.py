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
a Content-Length (411 otherwise; 400 if given twice, RFC 9112 §6.3) no larger than
:data:`verifier.witness.protocol.MAX_REQUEST_SIZE` (413). HTTP/1.1 keep-alive is
supported ("witnesses SHOULD support, HTTP keep-alive").

Slow clients: each request (its line, headers and body) must arrive within
:data:`REQUEST_DEADLINE_S` of its first byte, however it trickles in, and an
idle keep-alive connection is closed after :data:`IDLE_TIMEOUT_S`; so a client
holds a connection slot for a bounded time. At most :data:`MAX_CONNECTIONS` are
served at once, and at most :data:`MAX_PER_CLIENT` from one address; a connection
beyond either is answered ``503`` with ``Retry-After`` and closed.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from verifier.core.checkpoint import parse_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.leaf import loads_strict
from verifier.core.merkle import HASH_SIZE
from verifier.core.note import MAX_NOTE_SIZE, parse_note
from verifier.errors import FileTooLarge, FormatError, WitnessStoreError
from verifier.files import atomic_write, read_capped
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
#: A state file holds one origin, size, root, time and checkpoint note: far below this.
MAX_STATE_FILE_BYTES = 4 * MAX_NOTE_SIZE
#: A connection with no request under way is closed after this long.
IDLE_TIMEOUT_S = 15.0
#: A request (line, headers, body) must arrive within this long of its first byte.
REQUEST_DEADLINE_S = 15.0
#: Kept for callers of the old name: the idle timeout.
SOCKET_TIMEOUT_S = IDLE_TIMEOUT_S
#: Connections served at once (each holds a thread); more are answered 503.
MAX_CONNECTIONS = 64
#: Connections served at once from one client address; more are answered 503.
MAX_PER_CLIENT = 16
#: Seconds a client told 503 is asked to wait before it tries again.
RETRY_AFTER_S = 5
#: A connection told 503 is read (and its data dropped) for this long before it is
#: closed, so that the client, still sending its request, reads the answer rather
#: than a reset; at most :data:`MAX_LINGERING` at once (beyond, closed at once).
LINGER_S = 1.0
MAX_LINGERING = 256


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
                data = read_capped(path, MAX_STATE_FILE_BYTES, "witness state file")
                origin, state = _state_from_json(data, str(path))
            except (FormatError, FileTooLarge, OSError, UnicodeError) as exc:
                # Never start from zero for a log we have a record of: that is a rollback.
                raise WitnessStoreError(
                    f"corrupt witness state file {path}: {exc} (restore it from a backup of "
                    "the state directory; never delete it: that would roll the log back)"
                ) from None
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


@dataclass(frozen=True)
class Limits:
    """How long and how many: see the module docstring."""

    idle_timeout_s: float = IDLE_TIMEOUT_S
    request_deadline_s: float = REQUEST_DEADLINE_S
    max_connections: int = MAX_CONNECTIONS
    max_per_client: int = MAX_PER_CLIENT
    retry_after_s: int = RETRY_AFTER_S


class _DeadlineReader(io.RawIOBase):
    """The connection's read side: waits at most the idle timeout for a request's first
    byte, then the rest of the request must arrive before its deadline."""

    def __init__(self, sock: socket.socket, limits: Limits) -> None:
        self.sock = sock
        self.limits = limits
        self.deadline: float | None = None  # None: between requests

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.deadline is None:
            self.sock.settimeout(self.limits.idle_timeout_s)
        else:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request did not arrive before its deadline")
            self.sock.settimeout(left)
        n = self.sock.recv_into(buf)
        if self.deadline is None and n:
            self.deadline = time.monotonic() + self.limits.request_deadline_s
        return n


_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: %d\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
)


class _Lingerer:
    """Closes the connections answered 503 once their client stopped sending (or after
    :data:`LINGER_S`): one thread for them all, reading and dropping what arrives."""

    def __init__(self) -> None:
        self._socks: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="witness-503", daemon=True)
        self._thread.start()

    def __contains__(self, sock: object) -> bool:
        with self._lock:
            return sock in self._socks

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._closed and len(self._socks) < MAX_LINGERING:
                self._socks[sock] = time.monotonic() + LINGER_S
                self._wake.set()
                return
        sock.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                if self._closed:
                    return
                socks = list(self._socks)
                if not socks:
                    self._wake.clear()
                    continue
            poller = select.poll()  # not select(): descriptors may be above FD_SETSIZE
            for sock in socks:
                poller.register(sock, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(100)}
            now = time.monotonic()
            done = []
            for sock in socks:
                if sock.fileno() in ready:
                    try:
                        if sock.recv(65536):
                            continue
                    except OSError:
                        pass
                    done.append(sock)
                elif self._socks.get(sock, 0.0) <= now:
                    done.append(sock)
            with self._lock:
                for sock in done:
                    self._socks.pop(sock, None)
            for sock in done:
                sock.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            socks, self._socks = list(self._socks), {}
            self._wake.set()
        for sock in socks:
            sock.close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: Connections the kernel queues before accept(): a burst is answered (perhaps
    #: 503) rather than left retrying SYNs.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], witness: Witness, prefix: str, limits: Limits
    ) -> None:
        self.witness = witness
        self.endpoint = prefix.rstrip("/") + "/add-checkpoint"
        self.limits = limits
        self._count_lock = threading.Lock()
        self._total = 0
        self._per_client: dict[str, int] = {}
        self._lingerer = _Lingerer()
        super().__init__(address, _Handler)

    def _take_slot(self, client: str) -> str | None:
        """None if *client* may be served now (counted), else why not."""
        with self._count_lock:
            if self._total >= self.limits.max_connections:
                return "the witness is serving as many connections as it can"
            if self._per_client.get(client, 0) >= self.limits.max_per_client:
                return "too many connections from your address"
            self._total += 1
            self._per_client[client] = self._per_client.get(client, 0) + 1
            return None

    def _release_slot(self, client: str) -> None:
        with self._count_lock:
            self._total -= 1
            left = self._per_client.pop(client) - 1
            if left:
                self._per_client[client] = left

    def process_request(self, request: Any, client_address: Any) -> None:
        client = str(client_address[0])
        why = self._take_slot(client)
        if why is not None:
            log.warning("503 to %s: %s", client, why)
            self._answer_busy(request, why)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release_slot(client)
            raise

    def _answer_busy(self, request: socket.socket, why: str) -> None:
        """503 with Retry-After, without blocking the accepting thread; the connection
        is then left to :class:`_Lingerer` to close."""
        body = f"{why}; retry later\n".encode()
        try:
            request.setblocking(False)
            request.send(_BUSY % (self.limits.retry_after_s, len(body), body))
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._lingerer.add(request)

    def shutdown_request(self, request: Any) -> None:
        if request in self._lingerer:
            return  # the lingerer closes it
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._lingerer.close()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release_slot(str(client_address[0]))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "frontier-witness"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # The read side enforces the idle timeout and the request deadline; writes
        # (small answers) get the idle timeout.
        self.rfile.close()  # the socket's own file object: replaced by this one
        self._reader = _DeadlineReader(self.connection, self.server.limits)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = None
        super().handle_one_request()

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
        self.connection.settimeout(self.server.limits.idle_timeout_s)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse_method(self) -> None:
        if urlsplit(self.path).path == self.server.endpoint:
            self._send(405, b"add-checkpoint takes POST\n", headers={"Allow": "POST"}, close=True)
        else:
            self._send(404, b"not found\n", close=True)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def _body_length(self) -> tuple[int, bytes] | int:
        """The body's length, or (status, reason) to answer instead."""
        if self.headers.get("Transfer-Encoding") is not None:
            return 411, b"send the body with a Content-Length\n"
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return 411, b"Content-Length is required\n"
        if len(lengths) > 1:  # RFC 9112 §6.3: which one frames the body is unknowable
            return 400, b"more than one Content-Length\n"
        length = lengths[0]
        if not length.isascii() or not length.isdigit() or len(length) > 12:
            return 400, b"bad Content-Length\n"
        if int(length) > MAX_REQUEST_SIZE:
            return 413, f"body larger than {MAX_REQUEST_SIZE} bytes\n".encode()
        return int(length)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 411/413/400 (and closing)."""
        n = self._body_length()
        if isinstance(n, tuple):
            self._send(*n, close=True)
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
        self,
        witness: Witness,
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "",
        limits: Limits | None = None,
    ) -> None:
        self.httpd = _Server((host, port), witness, prefix, limits or Limits())
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
