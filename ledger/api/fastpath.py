"""The hot read paths, answered before FastAPI: immutable tiles, the checkpoint, ``/healthz``.

FastAPI costs a few hundred microseconds of CPU per request (routing, the request
object, dependencies, a hop to a worker thread for a ``def`` route), which is most of
the cost of serving a tile from memory, and its worker threads are shared by every
``def`` route: under a crowd, a tile or a health check waited behind entry pages.
:class:`FastPath` is a pure ASGI middleware in front of the routers that answers:

- ``GET /log/tile/<path>`` for a **full** tile or entry bundle in the reader's
  in-memory cache (:class:`ledger.read.reader.FullTiles`), on the event loop, with no
  I/O; a tile not in memory is read on :data:`READS`, a small thread pool of its own.
- ``GET /log/checkpoint``: the store's head (and cosignatures) read on :data:`READS`.
- ``GET /healthz``: from a store check at most :data:`HEALTH_TTL_S` old, refreshed on
  :data:`READS` (see :class:`LivenessCache`).

Each answer is the one the router would give, byte for byte: the same
:class:`starlette.responses.Response` with the same headers (``routes_log`` and
``routes_health`` build both). Anything else — another method, a malformed or absent
tile, an error of the store — falls through to FastAPI, which answers as before
(problem documents, OpenAPI). uvicorn still parses the request and logs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.responses import Response

from ledger.api import routes_health, routes_log
from ledger.api.health import Check, liveness
from ledger.errors import NotFound
from ledger.read.reader import LogReader, TileBody
from verifier.core.tiles import parse_tile_path
from verifier.errors import FormatError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Threads for the fast path's store reads: a head row, a tile. Few, so that they
#: never queue behind the pages and API reads of FastAPI's worker threads.
READS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fast-reads")
#: How old the store check /healthz answers from may be.
HEALTH_TTL_S = 1.0
#: A store check still running after this long is itself the answer: 503.
HEALTH_STUCK_S = 10.0
TILE_PREFIX = "/log/tile/"


class LivenessCache:
    """``/healthz``'s store check, at most :data:`HEALTH_TTL_S` old, never on the loop.

    The first request waits for a check; later ones answer from the last result and,
    when it is older than the TTL, start one new check in the background (one at a
    time). If a check has been running longer than :data:`HEALTH_STUCK_S` (the store
    hangs), the answer is 503 until it returns.
    """

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self._last: Check | None = None
        self._at = 0.0
        self._running: asyncio.Future[Check] | None = None
        self._started = 0.0

    def _refresh(self) -> asyncio.Future[Check]:
        if self._running is None:
            loop = asyncio.get_running_loop()
            self._started = time.monotonic()
            fut = loop.run_in_executor(READS, liveness, self.reader)
            fut.add_done_callback(self._done)
            self._running = fut
        return self._running

    def _done(self, fut: asyncio.Future[Check]) -> None:
        self._running = None
        if fut.cancelled():
            return
        exc = fut.exception()
        self._last = Check(False, f"cannot read the store: {exc}") if exc else fut.result()
        self._at = time.monotonic()

    async def check(self) -> Check:
        now = time.monotonic()
        if self._last is None:
            # The first check: wait for it (shielded: a client that goes away does not
            # cancel it); _done turns a failure into the 503 answer.
            await asyncio.wait([asyncio.shield(self._refresh())])
            assert self._last is not None
            return self._last
        if now - self._at > HEALTH_TTL_S:
            self._refresh()
            if self._running is not None and now - self._started > HEALTH_STUCK_S:
                waited = now - self._started
                return Check(False, f"the store has not answered a read for {waited:.0f} s")
        return self._last


class FastPath:
    """ASGI middleware: the hot read paths before the framework (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        response: Response | None = None
        state = scope["app"].state
        if path.startswith(TILE_PREFIX):
            response = await self._tile(state, path[len("/log/") :], scope)
        elif path == "/log/checkpoint":
            response = await self._checkpoint(state)
        elif path == "/healthz":
            response = await self._healthz(state)
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _tile(self, state: Any, path: str, scope: Scope) -> Response | None:
        reader: LogReader | None = getattr(state, "reader", None)
        if reader is None:
            return None
        try:
            tile = parse_tile_path(path)
        except FormatError:
            return None  # the router answers the problem document
        body: TileBody | None = reader.cached_tile(tile.level, tile.index) if tile.is_full else None
        if body is None:
            try:
                body = await asyncio.get_running_loop().run_in_executor(READS, reader.tile, path)
            except (FormatError, NotFound):
                return None
            except Exception:  # noqa: BLE001 - the router reports it as it always did
                return None
        return routes_log.tile_response(path.removeprefix("tile/"), body, _accept_encoding(scope))

    async def _checkpoint(self, state: Any) -> Response | None:
        if getattr(state, "reader", None) is None:
            return None
        try:
            note = await asyncio.get_running_loop().run_in_executor(
                READS, routes_log.published_checkpoint, state
            )
        except Exception:  # noqa: BLE001 - the router answers the error as it always did
            return None
        return routes_log.checkpoint_response(note)

    async def _healthz(self, state: Any) -> Response | None:
        cache: LivenessCache | None = getattr(state, "liveness", None)
        if cache is None:
            return None
        check = await cache.check()
        return routes_health.liveness_response(check)


def _accept_encoding(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return str(value.decode("latin-1"))
    return ""
