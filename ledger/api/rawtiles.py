"""Full tiles and entry bundles answered from memory at the HTTP protocol, before h11.

A full tile never changes, and a verifier or mirror fetches thousands of them. Even
through :class:`ledger.api.fastpath.FastPath` (no routing, no worker thread), a
tile costs uvicorn's h11 parser, the ASGI scope and the middleware stack: most of
a CPU's work per request, measured with py-spy (benchmarks/README.md, "Reads at a
crowd"). :class:`RawTilesProtocol` looks at each chunk a connection receives first:
when it is exactly one plain ``GET /log/tile/...`` request on an idle HTTP/1.1
keep-alive connection, for a full tile or bundle the reader holds in memory
(:class:`ledger.read.reader.FullTiles`), it writes the answer — the headers
:func:`ledger.api.routes_log.tile_response` gives, uvicorn's ``date`` and
``server``, the bytes — in one write. Anything else (another request, a tile not
in memory, HTTP/1.0, ``Connection: close``, a body, a header it does not read
plainly, pipelined requests, a client not reading its answers) goes to h11 and
the app exactly as before; the first fetch of a tile loads it into memory there.

The nginx mirror stays the path for a crowd of verifiers (docs/operator.md, "Serve
or the mirror"); this makes ``serve`` answer tiles at a fraction of nginx's rate
rather than a few percent of it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import h11
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT

from ledger.api import routes_log
from ledger.api.http11 import ProblemH11Protocol
from ledger.ops import metrics
from ledger.read.reader import LogReader, TileBody
from verifier.core.tiles import parse_tile_path
from verifier.errors import FormatError

#: One complete GET of a tile, HTTP/1.1, well-formed header lines, nothing after the
#: blank line. Header names are RFC 9110 tokens; values printable (or tab), as h11
#: accepts them; no obsolete line folding. Anything else does not match.
_REQUEST = re.compile(
    rb"GET /log/(tile/[0-9a-z/]{1,64}) HTTP/1\.1\r\n"
    rb"((?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*"  # name: optional whitespace
    rb"[\x21-\x7e\x80-\xff]*(?:[ \t]+[\x21-\x7e\x80-\xff]+)*[ \t]*\r\n)*)"  # value
    rb"\r\n\Z"
)
#: Headers that change how a request is framed or the connection is kept, or (a
#: proxy's) who the client is in the access log: leave such requests to h11 and
#: uvicorn (they know them; this path answers only the plain case).
_LEAVE_TO_H11 = (
    b"content-length",
    b"transfer-encoding",
    b"connection",
    b"expect",
    b"upgrade",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"forwarded",
)


def plain_tile_get(data: bytes) -> tuple[str, str] | None:
    """(tile path, Accept-Encoding) if *data* is exactly one plain GET of a tile.

    Plain: HTTP/1.1, a ``Host`` header (HTTP/1.1 requires one; h11 refuses a
    request without it), no header of :data:`_LEAVE_TO_H11`, no repeated
    ``Accept-Encoding``. None for anything else.
    """
    m = _REQUEST.match(data)
    if m is None:
        return None
    host = False
    accept: str | None = None
    for line in m.group(2).split(b"\r\n")[:-1]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name in _LEAVE_TO_H11:
            return None
        if name == b"host":
            if host:
                return None
            host = True
        elif name == b"accept-encoding":
            if accept is not None:
                return None
            accept = value.strip(b" \t").decode("latin-1")
    if not host:
        return None
    return m.group(1).decode("ascii"), accept or ""


@lru_cache(maxsize=64)
def _head(path_kind: str, gzipped: bool, length: int) -> bytes:
    """The header lines of a full tile's answer (without uvicorn's date and server),
    as :func:`routes_log.tile_response` makes them: they depend only on the kind of
    tile, the encoding and the length."""
    probe = "entries/000" if path_kind == "entries" else "0/000"
    body = TileBody(b"\0" * length, b"\0" * length if gzipped else None)
    response = routes_log.tile_response(probe, body, "gzip" if gzipped else "")
    return b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)


class RawTilesProtocol(ProblemH11Protocol):
    """uvicorn's h11 protocol (with the problem-document 400s), answering full tiles
    in memory before h11 (see the module). :func:`protocol_for` binds it to an app."""

    #: The app's ``state``: its reader (set when the lifespan starts) holds the tiles.
    served_state: Any = None

    def data_received(self, data: bytes) -> None:
        if not self._answer_from_memory(data):
            super().data_received(data)

    def _answer_from_memory(self, data: bytes) -> bool:
        if not data.startswith(b"GET /log/tile/") or not self._idle():
            return False
        request = plain_tile_get(data)
        answer = None if request is None else self._tile_answer(*request)
        if answer is None:
            return False
        defaults = b"".join(n + b": " + v + b"\r\n" for n, v in self.server_state.default_headers)
        self._unset_keepalive_if_required()
        self.transport.write(b"HTTP/1.1 200 OK\r\n" + defaults + answer)
        self.server_state.total_requests += 1
        metrics.TILES_FROM_MEMORY.inc()
        if self.access_log:
            # uvicorn's access record: (client, method, path, http version, status).
            client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
            assert request is not None
            path = "/log/" + request[0]
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, "GET", path, "1.1", 200)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        return True

    def _idle(self) -> bool:
        """Nothing in flight, nothing buffered: a request now is the next on the wire;
        and the client reads its answers (else h11's flow control applies)."""
        return (
            self.conn.our_state is h11.IDLE
            and self.conn.their_state is h11.IDLE
            and self.conn.trailing_data == (b"", False)
            and (self.cycle is None or self.cycle.response_complete)
            and self.transport.get_write_buffer_size() <= HIGH_WATER_LIMIT
        )

    def _tile_answer(self, path: str, accept_encoding: str) -> bytes | None:
        """The rest of the answer (headers, blank line, body) of a full tile in memory."""
        reader: LogReader | None = getattr(self.served_state, "reader", None)
        try:
            tile = parse_tile_path(path)
        except FormatError:
            return None  # the router answers the problem document
        if reader is None or not tile.is_full:
            return None
        body = reader.cached_tile(tile.level, tile.index)
        if body is None:
            return None
        gzipped = tile.is_entries and routes_log.accepts_gzip(accept_encoding)
        data = body.gzipped if gzipped else body.data
        if data is None:
            return None
        head = _head("entries" if tile.is_entries else "hashes", gzipped, len(data))
        return head + b"\r\n" + data


def protocol_for(app: Any) -> type[RawTilesProtocol]:
    """The protocol class for uvicorn (``uvicorn.run(http=...)``) serving *app*."""
    return type("RawTilesProtocol", (RawTilesProtocol,), {"served_state": app.state})
