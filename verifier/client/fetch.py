"""The verifier's I/O edge: read a tlog-tiles log from an HTTP(S) prefix or a directory.

Standard library only (urllib). Every read is size-capped: a checkpoint is a
small note, a hash tile at most 8,192 bytes, an entry bundle at most 256 leaves
of 65,535 bytes each. Every HTTP request is time-capped as a whole: the socket
timeout (:data:`TIMEOUT_SECONDS`) bounds each wait for a byte, and a deadline
(:data:`DEADLINE_SECONDS`, or ``LogSource(..., deadline=)``) bounds the request
from connecting to the last byte of the body, so a server that trickles its
answer a byte at a time cannot hold the verifier. Errors become
:class:`verifier.errors.FetchError`.

Files a user hands the verifier (a receipt, fork evidence, a checkpoint, a policy, a
key) are read the same way, by :func:`verifier.files.read_capped`: at most their cap and one byte,
so a huge file or ``/dev/zero`` fails with :class:`verifier.errors.FileTooLarge`
before any memory is spent on it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import socket
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from verifier.core.note import MAX_NOTE_SIZE
from verifier.core.tiles import TILE_WIDTH
from verifier.errors import FetchError

MAX_TILE_BYTES = TILE_WIDTH * 32
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 65_535)
#: Revealed documents (plans, reports) served as blobs/sha256/<hex>.
MAX_BLOB_BYTES = 16 * 1024 * 1024
#: Longest wait for the connection or for any one read of the socket.
TIMEOUT_SECONDS = 30.0
#: Longest time one HTTP request may take as a whole, connection, headers and body
#: (the CLI's --http-deadline). A tile is at most 8 KiB and a bundle typically well
#: under 1 MiB; a link too slow for the largest bundle or blob (16 MiB: about 67 s
#: at 2 Mbit/s) needs a longer --http-deadline.
DEADLINE_SECONDS = 60.0
USER_AGENT = "frontier-verify/0.1 (+https://c2sp.org/tlog-tiles)"


def _cap(path: str) -> int:
    if path == "checkpoint":
        return MAX_NOTE_SIZE
    if path.startswith("tile/entries/"):
        return MAX_BUNDLE_BYTES
    if path.startswith("tile/"):
        return MAX_TILE_BYTES
    if path.startswith("blobs/"):
        return MAX_BLOB_BYTES
    return MAX_NOTE_SIZE


class RemoteBlobs(Mapping[str, bytes]):
    """Revealed documents fetched on demand from ``<log>/blobs/sha256/<hex>``.

    A blob that cannot be fetched, or whose content does not hash to its name,
    is absent: the audit then says the commitment is not auditable.
    """

    def __init__(self, source: LogSource) -> None:
        self.source = source
        self._cache: dict[str, bytes | None] = {}

    def __getitem__(self, digest: str) -> bytes:
        if digest not in self._cache:
            data: bytes | None = None
            if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
                try:
                    got = self.source.fetch(f"blobs/sha256/{digest}")
                    data = got if hashlib.sha256(got).hexdigest() == digest else None
                except FetchError:
                    data = None
            self._cache[digest] = data
        found = self._cache[digest]
        if found is None:
            raise KeyError(digest)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([d for d, v in self._cache.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Deadline:
    """Shuts down the sockets of one request when its time is up.

    A timer thread, started with the request, shuts down every socket the request
    opened (redirects included) once *seconds* have passed: a read blocked on a
    trickling server then returns at once, and the caller sees :attr:`expired`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """urllib's opener, its connections' sockets handed to *deadline* as they open."""

    def connect(*args: Any, **kwargs: Any) -> socket.socket:
        return deadline.watch(socket.create_connection(*args, **kwargs))

    class HTTPConnection(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class HTTPSConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = connect

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HTTPConnection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HTTPSConnection, req)

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


class LogSource:
    """Where a log is read from: ``http(s)://host/prefix`` or a local directory.

    *deadline* bounds each HTTP request as a whole, in seconds (default
    :data:`DEADLINE_SECONDS`); a request that has not received its whole answer by
    then fails with a :class:`FetchError` naming the URL and the limit.
    """

    def __init__(self, location: str, *, deadline: float = DEADLINE_SECONDS) -> None:
        if not deadline > 0:
            raise ValueError("the HTTP deadline must be a positive number of seconds")
        self.location = location
        self.deadline = deadline
        self.is_http = location.startswith(("http://", "https://"))
        if not self.is_http and not Path(location).is_dir():
            raise FetchError(f"{location} is neither an http(s) URL nor a directory")

    def fetch(self, path: str) -> bytes:
        """Bytes at *path* below the log prefix (e.g. ``checkpoint``, ``tile/0/000``)."""
        if ".." in path.split("/"):
            raise FetchError(f"refusing path {path!r}")
        cap = _cap(path)
        if self.is_http:
            return self._fetch_http(path, cap)
        file = Path(self.location) / path
        try:
            with open(file, "rb") as f:
                data = f.read(cap + 1)
        except OSError as exc:
            raise FetchError(f"cannot read {file}: {exc.strerror}") from None
        if len(data) > cap:
            raise FetchError(f"{file} is larger than {cap} bytes")
        return data

    def _fetch_http(self, path: str, cap: int) -> bytes:
        url = self.location.rstrip("/") + "/" + path
        # The scheme was checked in __init__: http or https only, never file:.
        headers = {"Accept-Encoding": "gzip, identity", "User-Agent": USER_AGENT}
        req = urllib.request.Request(url, headers=headers)  # noqa: S310
        timeout = min(TIMEOUT_SECONDS, self.deadline)
        late = FetchError(
            f"GET {url}: no complete answer within {self.deadline:g} s "
            "(the limit for one request: --http-deadline)"
        )
        with _Deadline(self.deadline) as deadline:
            try:
                with _opener(deadline).open(req, timeout=timeout) as resp:
                    raw: bytes = resp.read(cap + 1)
                    encoding = resp.headers.get("Content-Encoding", "identity")
            except urllib.error.HTTPError as exc:
                status = FetchError(f"GET {url}: HTTP {exc.code}")
                raise (late if deadline.expired else status) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                raise (late if deadline.expired else FetchError(f"GET {url}: {exc}")) from None
        if deadline.expired:  # the body may have been cut short without an error
            raise late
        if encoding == "gzip":
            try:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                raw = d.decompress(raw, cap + 1)
            except (zlib.error, gzip.BadGzipFile) as exc:
                raise FetchError(f"GET {url}: bad gzip body ({exc})") from None
        elif encoding != "identity":
            raise FetchError(f"GET {url}: unsupported Content-Encoding {encoding}")
        if len(raw) > cap:
            raise FetchError(f"GET {url}: response larger than {cap} bytes")
        return raw
