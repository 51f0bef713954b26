"""Crawling the site in process: an ASGI client, and the crawler that rewrites and writes.

:class:`AsgiClient` sends GET requests straight into the FastAPI app, with no
socket. :class:`SiteCrawler` starts from ``/`` (and the static files, the feeds
and the SQLite snapshot), follows every same-site ``href``/``src`` in the HTML it
gets back, rewrites each link to the mirror's file for it
(:mod:`public_site.export.paths`), replaces search forms with a pointer to the
snapshot (a static server cannot answer them), and hands each page, its JSON
twin and every other file to the :class:`~public_site.export.writer.Writer` as
soon as it is fetched. With several processes each crawler takes its share of
the entry pages (:data:`SHARD_BLOCK`), and shard 0 everything else.

Memory stays flat in the size of the log: pages are written as they are fetched,
the crawler remembers numbered pages (``/entries/<n>``) in a bit set, and
resolved links in a bounded cache. A URL the site answers with an error is
counted and reported on stderr (at most :data:`MAX_WARNINGS` of them), and the
crawl goes on.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import time
from collections import deque
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI

from public_site import render
from public_site.export.paths import (
    FEEDS,
    FILE,
    LOG,
    PAGE,
    SNAPSHOT,
    TWIN,
    Target,
    entry_index,
    resolve,
)
from public_site.export.writer import MAX_WARNINGS, SiteExportStats, Writer

if TYPE_CHECKING:
    from public_site.export.run import Job

#: Links resolved and remembered per crawl (cleared when full, to keep memory flat).
RESOLVED_CACHE = 4096
#: With --jobs, entry pages are dealt to the processes in blocks of a tile's width
#: (the proofs of neighbouring entries share most of their hashes).
SHARD_BLOCK = 256

_ATTR = re.compile(r"""(\s(?:href|src|action)=)"([^"]*)\"""")
_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_NUMBERED = re.compile(r"(.*/)([0-9]{1,18})")
STATIC_NOTE = (
    '<p class="note" role="note">This is a static mirror of the site: search and filters '
    "need the live site. Every entry is listed below, page by page; to query them all, "
    f'download <a href="{SNAPSHOT}">the SQLite snapshot</a> (it opens in Datasette).</p>'
)


@dataclass
class Fetched:
    status: int
    content_type: str
    body: bytes
    error: str = ""  # the exception a failing page raised


class AsgiClient:
    """GET requests straight into the ASGI app: no sockets, no HTTP client library.

    Starlette's TestClient does the same with a thread and a portal per request,
    several times slower; a crawl of 10^5 entries makes 3·10^5 requests.
    """

    def __init__(self, app: FastAPI, origin: str) -> None:
        self.app = app
        parts = urlsplit(origin)
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.port = parts.port or (443 if parts.scheme == "https" else 80)

    async def get(self, path: str, query: str = "", sink: BinaryIO | None = None) -> Fetched:
        """Fetch *path*?*query*; stream the body into *sink* if given (large files)."""
        done = asyncio.Event()
        started: dict[str, Any] = {}
        chunks: list[bytes] = []
        first = True

        async def receive() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # FileResponse listens for a disconnect while it sends
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if sink is not None and started.get("status") == 200:
                    sink.write(body)
                else:
                    chunks.append(body)
                if not message.get("more_body", False):
                    done.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": self.scheme,
            "path": unquote(path),
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", self.host.encode()), (b"user-agent", b"frontier-ledger")],
            "client": ("127.0.0.1", 0),
            "server": (self.host.split(":")[0], self.port),
            "state": {},
        }
        error = ""
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - one failing page must not end a long crawl
            # Starlette re-raises after answering 500; the crawl reports it and goes on.
            started["status"] = 500
            error = repr(exc)
        done.set()
        headers = {k.decode().lower(): v.decode() for k, v in started.get("headers", [])}
        status = int(started.get("status", 500))
        return Fetched(status, headers.get("content-type", ""), b"".join(chunks), error)


class _Seen:
    """The URLs already taken: numbered ones (``/entries/123``) in bit sets, the rest in a set."""

    def __init__(self) -> None:
        self._keys: set[tuple[str, str, str]] = set()
        self._bits: dict[tuple[str, str], bytearray] = {}

    def add(self, key: tuple[str, str, str]) -> bool:
        """Remember *key*; False if it was already there."""
        kind, path, query = key
        m = _NUMBERED.fullmatch(path) if not query else None
        if m is None or len(m.group(2)) > 9:  # bit sets for indices below 10^9 only
            if key in self._keys:
                return False
            self._keys.add(key)
            return True
        bits = self._bits.setdefault((kind, m.group(1)), bytearray())
        n = int(m.group(2))
        byte, bit = divmod(n, 8)
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits) + 1024))
        if bits[byte] & (1 << bit):
            return False
        bits[byte] |= 1 << bit
        return True


class SiteCrawler:
    """Crawls one process's share of the site (all of it with one job) and writes it."""

    def __init__(self, app: FastAPI, job: Job) -> None:
        self.shard, self.jobs, self.size = job.shard, job.jobs, job.size
        origin, base_url, out, progress = job.origin, job.base_url, job.out, job.progress
        self.client = AsgiClient(app, origin)
        self.origin = origin
        parts = urlsplit(base_url) if base_url else None
        self.prefix = parts.path.rstrip("/") if parts else ""
        #: What absolute links in feeds start with (root-relative without --base-url).
        self.public = f"{parts.scheme}://{parts.netloc}{self.prefix}" if parts else ""
        self.stats = SiteExportStats()
        self.writer = Writer(out, self.stats)
        self.seen = _Seen()
        self.queue: deque[Target] = deque()
        self.progress = progress
        self._t0 = time.perf_counter()
        self._last_report = 0.0
        self._resolved: dict[tuple[str, str, bool], tuple[Target | None, str]] = {}

    # links

    def _link(self, t: Target, absolute: bool = False) -> str:
        href = self.prefix + t.href()
        if absolute and self.public:
            href = self.public + t.href()
        return href + (f"#{t.fragment}" if t.fragment else "")

    def _rewrite(self, text: str, base: str, absolute: bool = False) -> str:
        """Every same-site link in *text* pointed at its file in the mirror, and queued."""

        def one(m: re.Match[str]) -> str:
            raw = m.group(2)
            # Links recur on every page (navigation, static files): resolve each once.
            # A relative link depends on the page it is on.
            relative = not raw.startswith("/") or raw.startswith("//")
            key = (raw, base if relative else "", absolute)
            hit = self._resolved.get(key)
            if hit is None:
                t = resolve(html.unescape(raw), base, self.origin)
                value = "" if t is None else html.escape(self._link(t, absolute), quote=True)
                hit = self._resolved[key] = (t, value)
                if len(self._resolved) > RESOLVED_CACHE:
                    self._resolved.clear()
            t, value = hit
            if t is None:
                return m.group(0)
            self.enqueue(t)
            return f'{m.group(1)}"{value}"'

        return _ATTR.sub(one, text)

    def owns(self, t: Target) -> bool:
        """Whether this process fetches *t*: its share of the entries; shard 0 the rest."""
        if self.jobs == 1:
            return True
        index = entry_index(t)
        if index is None or index >= self.size:
            return self.shard == 0
        return (index // SHARD_BLOCK) % self.jobs == self.shard

    def enqueue(self, t: Target) -> None:
        if t.kind == LOG or not self.owns(t):
            return  # the log is written by export_log; another process takes the rest
        if self.seen.add(t.key):
            self.queue.append(t.page() if t.kind == TWIN else t)

    # fetching

    def _error(self, t: Target, got: Fetched) -> None:
        self.stats.error_count += 1
        self.stats.server_errors += got.status >= 500
        path, query = t.request()
        where = path + (f"?{query}" if query else "")
        if len(self.stats.errors) < MAX_WARNINGS:
            self.stats.errors.append(f"{where} ({got.status})")
            why = f": {got.error}" if got.error else ""
            print(f"export-site: warning: GET {where} answered {got.status}{why}", file=sys.stderr)
        elif self.stats.error_count == MAX_WARNINGS + 1:
            print("export-site: warning: more errors; not shown", file=sys.stderr)

    async def _fetch(self, t: Target) -> Fetched | None:
        path, query = t.request()
        got = await self.client.get(path, query)
        if got.status != 200:
            self._error(t, got)
            return None
        return got

    async def process(self, t: Target) -> None:
        if t.kind == PAGE:
            await self._page(t)
        elif t.path == SNAPSHOT:
            await self._large_file(t)
        else:
            got = await self._fetch(t)
            if got is None:
                return
            body = got.body
            if "xml" in got.content_type:  # Atom: its links, absolute with --base-url
                text = body.decode("utf-8")
                body = self._rewrite(text, t.path, absolute=True).encode("utf-8")
            self.writer.put(t.rel(), body)
            self.stats.files += 1
        self._report()

    async def _page(self, t: Target) -> None:
        path, query = t.request()
        got = await self.client.get(path, query)
        is_html = got.content_type.startswith("text/html")
        if got.status != 200:
            self._error(t, got)
            if not (is_html and 400 <= got.status < 500):
                return
            # The site links a page it answers with its own "not found" page (a page that
            # needs a governed log, say): the mirror shows the same, so the link resolves.
        base = path + (f"?{query}" if query else "")
        text = _FORM.sub(STATIC_NOTE, got.body.decode("utf-8"))
        self.writer.put(t.rel(), self._rewrite(text, base).encode("utf-8"))
        self.stats.pages += 1
        twin_path, twin_query = t.twin().request()
        twin = await self.client.get(twin_path, twin_query)
        if twin.status == 200 or (got.status != 200 and 400 <= twin.status < 500):
            self.writer.put(t.twin().rel(), twin.body)  # an error page's twin: its answer too
        else:
            self._error(t.twin(), twin)

    async def _large_file(self, t: Target) -> None:
        """Stream a big download (the SQLite snapshot) to disk instead of holding it."""
        tmp = self.writer.temp_for(t.rel())
        with open(tmp, "wb") as f:
            got = await self.client.get(*t.request(), sink=f)
        if got.status != 200:
            tmp.unlink()
            self._error(t, got)
            return
        self.writer.put_file(t.rel(), tmp)
        self.stats.files += 1

    async def drain(self) -> None:
        while self.queue:
            await self.process(self.queue.popleft())

    def _report(self, final: bool = False) -> None:
        if not self.progress:
            return
        now = time.perf_counter()
        if not final and now - self._last_report < 0.5:
            return
        self._last_report = now
        rate = self.stats.pages / max(now - self._t0, 1e-9)
        print(
            f"\r  {self.stats.pages} pages, {self.stats.files} files, {rate:,.0f} pages/s, "
            f"{self.stats.written} written, {self.stats.unchanged} unchanged ",
            end="\n" if final else "",
            file=sys.stderr,
            flush=True,
        )

    async def crawl(self) -> None:
        self.stats.size = self.size
        if self.shard == 0:
            for t in self._seeds():
                self.enqueue(t)
            await self.drain()
        # Every entry, even one no page links to; the crawl above found most of them.
        for index in range(self.size):
            self.enqueue(Target(PAGE, ("entries", str(index)), ()))
            await self.drain()
        self._report(final=True)

    def _seeds(self) -> Iterator[Target]:
        yield Target(PAGE, (), ())
        for p in render.STATIC.rglob("*"):
            if p.is_file() and not p.name.startswith("."):
                yield Target(FILE, ("static", *p.relative_to(render.STATIC).parts), ())
        for feed in FEEDS:
            yield Target(FILE, tuple(feed.strip("/").split("/")), ())
        yield Target(FILE, tuple(SNAPSHOT.strip("/").split("/")), ())
