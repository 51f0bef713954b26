"""HTTP workers: several processes answer HTTP, one sequences and signs (``serve --workers N``).

One Python process spends most of an append in the HTTP stack, the JSON parser
and the Ed25519 check, none of which depends on the log. With ``--workers N``:

- **The writer** (the ``serve`` process) is the only one that holds the data
  directory's writer lock and the log's keys. It runs the app's lifespan as
  ``serve`` does -- admission, the group committer, markers, witnesses, backups
  -- but answers no HTTP itself. It binds the listening socket and starts N
  worker processes.
- **A worker** is ``serve`` again (the same command line, so the same settings)
  with a hidden ``--worker-fds``: it inherits the listening socket and one end of
  a private socket pair to the writer, opens the store read-only, never loads a
  key, and serves every route. ``POST /api/v1/entries``: the body is read,
  parsed and shape-checked as without workers (``routes_api``), the signatures
  are checked (:mod:`ledger.write.precheck`, under the public keys the writer
  sends), and the entry goes to the writer; the answer is the receipt the
  writer sends back once its batch is committed, so a worker acknowledges
  exactly what the writer made durable. ``/readyz`` and ``/metrics`` are the
  writer's, forwarded.

Crashes: a worker holds nothing durable. If one dies, its clients see their
connection close (nothing they were not answered about is lost or doubled: a
retry of a committed entry gets its receipt, marked duplicate) and the writer
starts another. If the writer dies, every worker dies with it
(``PR_SET_PDEATHSIG``, armed before the worker's interpreter starts by
util-linux's ``setpriv`` where there is one, and a watchdog thread) and frees the
port for the next start.

The link is length-prefixed frames of pickled tuples of plain values over a
socket pair that only these two processes hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from ledger.errors import EntryRefused, Overloaded, StoreError
from ledger.ops import metrics
from ledger.write.admission import Refusal
from ledger.write.precheck import KeyTable, precheck
from ledger.write.sequencer import GroupCommitter, PreparedEntry, Receipt
from verifier.core.leaf import Envelope, EnvelopeSignature

log = logging.getLogger(__name__)

#: Paths a worker forwards to the writer: the writer's own readiness and metrics.
FORWARDED = frozenset({"/readyz", "/metrics"})
#: Seconds between the writer's checks for newly granted keys to send the workers.
KEYS_INTERVAL_S = 0.25
#: Seconds before a worker that exited is started again.
RESTART_DELAY_S = 1.0
#: Seconds workers get to finish what they are answering when the server stops.
STOP_TIMEOUT_S = 15.0
_HEADER = 4
_PR_SET_PDEATHSIG = 1


# -- frames -------------------------------------------------------------------------------


def _frame(msg: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_HEADER, "big") + data


async def _frames(reader: asyncio.StreamReader) -> AsyncIterator[tuple[Any, ...]]:
    """Frames until the other end closes the link."""
    while True:
        try:
            head = await reader.readexactly(_HEADER)
            body = await reader.readexactly(int.from_bytes(head, "big"))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        # Only the two processes of this server hold the socket pair.
        yield pickle.loads(body)  # noqa: S301


def _receipt_tuple(r: Receipt) -> tuple[Any, ...]:
    return (
        r.index,
        r.leaf,
        r.leaf_hash,
        r.logged_at_ms,
        r.tree_size,
        r.checkpoint,
        r.inclusion_proof,
        r.duplicate,
        r.schedule,
    )


# -- the writer's side ----------------------------------------------------------------------


class _WriterLink:
    """The writer's end of one worker's link: appends in, receipts out."""

    def __init__(self, app: FastAPI, committer: GroupCommitter, sock: socket.socket) -> None:
        self.app = app
        self.committer = committer
        self.sock = sock
        self._out: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._buffer: list[bytes] = []

    async def start(self) -> None:
        reader, self._out = await asyncio.open_connection(sock=self.sock)
        self._task = asyncio.get_running_loop().create_task(self._serve(reader))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._out is not None:
            self._out.close()

    def send(self, msg: tuple[Any, ...]) -> None:
        # Answers of one batch are resolved in one pass of the event loop: write them
        # together, in one system call, once that pass is over.
        if not self._buffer:
            asyncio.get_running_loop().call_soon(self._flush)
        self._buffer.append(_frame(msg))

    def _flush(self) -> None:
        data, self._buffer = b"".join(self._buffer), []
        if self._out is not None and not self._out.is_closing():
            self._out.write(data)

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        async for msg in _frames(reader):
            if msg[0] == "a":
                self._append(msg)
            elif msg[0] == "g":
                asyncio.get_running_loop().create_task(self._get(msg[1], msg[2]))

    def _append(self, msg: tuple[Any, ...]) -> None:
        _, rid, text, digest, ptype, payload, sigs, etype, version, verified, words = msg
        envelope = Envelope(
            payload, ptype, tuple(EnvelopeSignature(k, s) for k, s in sigs), etype, version
        )
        entry = PreparedEntry(envelope, text, digest, ptype, verified, words)
        if verified:
            metrics.PRECHECKED.inc()
        try:
            fut = self.committer.enqueue(entry)
        except Overloaded:
            self.send(("o", rid))
            return
        fut.add_done_callback(partial(self._answer, rid))

    def _answer(self, rid: int, fut: asyncio.Future[Receipt]) -> None:
        if fut.cancelled():
            self.send(("e", rid, "the writer is stopping"))
            return
        exc = fut.exception()
        if exc is None:
            self.send(("r", rid, _receipt_tuple(fut.result())))
        elif isinstance(exc, EntryRefused):
            r = exc.refusal
            self.send(("f", rid, r.code, r.message, r.rule))
        else:
            self.send(("e", rid, str(exc)))

    async def _get(self, rid: int, path: str) -> None:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://writer") as client:
            r = await client.get(path)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in r.headers.items()]
        self.send(("h", rid, r.status_code, headers, r.content))


@dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    link: _WriterLink


@dataclass
class WorkerPool:
    """The writer's worker processes: started, watched, started again, stopped."""

    app: FastAPI
    listen: socket.socket
    #: The command that runs ``serve`` again (``--worker-fds`` is appended).
    command: Sequence[str]
    count: int
    workers: dict[int, _Worker] = field(default_factory=dict)
    _stopping: bool = False
    _keys: dict[str, bytes] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def committer(self) -> GroupCommitter:
        committer: GroupCommitter = self.app.state.committer
        return committer

    async def start(self) -> None:
        for i in range(self.count):
            await self._spawn(i)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._send_keys(), name="worker-keys"))

    async def _spawn(self, i: int) -> None:
        ours, theirs = socket.socketpair()
        fds = (self.listen.fileno(), theirs.fileno())
        argv = [*self.command, "--worker-fds", f"{fds[0]},{fds[1]},{os.getpid()}"]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:
            # util-linux: the death signal is armed before the worker's interpreter starts
            # (die_with_parent arms it again, once the worker runs, where setpriv is missing).
            argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, pass_fds=fds, stdin=subprocess.DEVNULL
            )
        finally:
            theirs.close()
        link = _WriterLink(self.app, self.committer, ours)
        await link.start()
        if self._keys:
            link.send(("k", dict(self._keys)))
        self.workers[i] = _Worker(proc, link)
        self._tasks.append(asyncio.get_running_loop().create_task(self._watch(i, proc)))

    async def _watch(self, i: int, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        worker = self.workers.pop(i, None)
        if worker is not None:
            worker.link.close()
        if self._stopping:
            return
        log.warning("HTTP worker %d (pid %d) exited with %s; starting another", i, proc.pid, code)
        await asyncio.sleep(RESTART_DELAY_S)
        if not self._stopping:
            await self._spawn(i)

    async def _send_keys(self) -> None:
        """Send the workers every public key the log grants, as grants come in."""
        while True:
            keys = self._granted()
            if keys is not None and keys.keys() != self._keys.keys():
                new = {k: v for k, v in keys.items() if k not in self._keys}
                self._keys = keys
                for w in list(self.workers.values()):
                    w.link.send(("k", new))
            await asyncio.sleep(KEYS_INTERVAL_S)

    def _granted(self) -> dict[str, bytes] | None:
        admission = self.committer.writer.admission
        if admission is None or not admission.ready:
            return None
        lock = admission.locked()
        # Never wait on the event loop: a commit (or a replay) holds the lock for a while.
        if not lock.acquire(blocking=False):
            return None
        try:
            registry = admission.replay.registry
            if registry is None:
                return {}
            return {k: r.public_key for k, r in registry.keys.items()}
        finally:
            lock.release()

    async def stop(self) -> None:
        """Stop the workers (they finish what they are answering; the committer still runs)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        procs = [w.proc for w in self.workers.values()]
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(p.wait() for p in procs)), timeout=STOP_TIMEOUT_S
            )
        except TimeoutError:
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
            await asyncio.gather(*(p.wait() for p in procs))
        for w in self.workers.values():
            w.link.close()
        self.workers.clear()


def listen_socket(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound before any worker starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


async def run_writer(
    app: FastAPI, listen: socket.socket, command: Sequence[str], count: int
) -> None:
    """Run the app's lifespan (the writer), start *count* workers, and serve until
    SIGTERM or SIGINT; then stop the workers first, the writer last."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with app.router.lifespan_context(app):
        if getattr(app.state, "committer", None) is None:
            raise StoreError("--workers needs a writer: it cannot be combined with --read-only")
        pool = WorkerPool(app, listen, command, count)
        await pool.start()
        try:
            await stop.wait()
        finally:
            await pool.stop()
            listen.close()


# -- a worker's side ----------------------------------------------------------------------


class RemoteCommitter:
    """What a worker's routes append through: the writer's group committer, over the link."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        #: Public keys the log grants, as the writer sent them (signatures are checked here).
        self.keys = KeyTable()
        self._out: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._task: asyncio.Task[None] | None = None
        self.alive = False

    async def start(self) -> None:
        reader, self._out = await asyncio.open_connection(sock=self.sock)
        self.alive = True
        self._task = asyncio.get_running_loop().create_task(self._read(reader))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._out is not None:
            self._out.close()

    async def submit(self, entry: PreparedEntry) -> Receipt:
        entry = precheck(entry, self.keys)
        env = entry.envelope
        sigs = tuple((s.keyid, s.sig) for s in env.signatures)
        answer = await self._ask(
            "a",
            entry.envelope_json,
            entry.envelope_hash,
            entry.payload_type,
            env.payload,
            sigs,
            env.entry_type,
            env.type_version,
            entry.verified,
            entry.text,
        )
        kind = answer[0]
        if kind == "r":
            return Receipt(*answer[2])
        if kind == "f":
            _, _, code, message, rule = answer
            raise EntryRefused(Refusal(code, message, rule))
        if kind == "o":
            raise Overloaded("the sequencer queue is full")
        raise StoreError(answer[2])

    async def get(self, path: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The writer's answer to ``GET path`` (its readiness and metrics)."""
        answer = await self._ask("g", path)
        if answer[0] != "h":
            raise StoreError(str(answer[2:]))
        _, _, status, headers, body = answer
        return status, headers, body

    async def _ask(self, kind: str, *args: Any) -> tuple[Any, ...]:
        if not self.alive or self._out is None:
            raise StoreError("the writer process is not answering; nothing was logged")
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            self._out.write(_frame((kind, rid, *args)))
            result: tuple[Any, ...] = await fut
            return result
        finally:
            self._pending.pop(rid, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            async for msg in _frames(reader):
                if msg[0] == "k":
                    self.keys.update(msg[1])
                    continue
                fut = self._pending.get(msg[1])
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        finally:
            self.alive = False
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(
                        StoreError("lost the writer process; the entry may not be logged")
                    )


class ForwardToWriter:
    """ASGI middleware of a worker: ``/readyz`` and ``/metrics`` are the writer's."""

    def __init__(self, app: FastAPI, committer: RemoteCommitter) -> None:
        self.app = app
        self.committer = committer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in FORWARDED or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            status, headers, body = await self.committer.get(
                scope["path"] + (f"?{query}" if query else "")
            )
        except StoreError as exc:
            status = 503
            check = {"ok": False, "detail": f"this HTTP worker cannot reach the writer: {exc}"}
            body = orjson.dumps({"ready": False, "checks": {"writer": check}})
            headers = [(b"content-type", b"application/json"), (b"retry-after", b"5")]
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def die_with_parent(parent: int) -> None:
    """End this process when the writer (*parent*) ends, however it ends."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def as_worker(app: FastAPI, link: socket.socket) -> Any:
    """The ASGI app a worker serves: *app* (read-only) appending through the writer."""
    committer = RemoteCommitter(link)
    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def with_writer(a: FastAPI) -> AsyncIterator[Any]:
        async with lifespan(a) as state:
            await committer.start()
            a.state.committer = committer
            a.state.read_only = False
            try:
                yield state
            finally:
                await committer.stop()

    app.router.lifespan_context = with_writer
    return ForwardToWriter(app, committer)


def worker_fds(text: str) -> tuple[int, int, int]:
    """``--worker-fds L,K,P``: the listening socket, the link, the writer's pid."""
    listen, link, parent = (int(x) for x in text.split(","))
    return listen, link, parent
