"""A static mirror of the public site: ``frontier-ledger export-site --data DIR OUT``.

The site is not rendered a second way: the exporter builds the same FastAPI app
``serve --read-only`` runs, in this process, and crawls it over ASGI from ``/``,
following every same-site ``href``/``src`` in the HTML it gets back. What it writes:

- each page at ``OUT/<path>/index.html`` and its JSON twin (``?format=json``) at
  ``OUT/<path>/index.json``; CSV downloads at ``OUT/<path>/index.csv``;
- everything under ``/static/``, the Atom feed(s), ``/downloads/ledger.sqlite``
  and the JSON API documents the pages link to (``OUT/api/…/index.json``);
- the log itself, in the C2SP tlog-tiles layout, under ``OUT/log/``
  (:func:`ledger.read.mirror.export_log`, last, so the mirror's log holds every entry
  its pages show), so ``frontier-verify verify --log OUT/log`` checks the mirror;
- ``OUT/README.txt``: how to serve it and verify it.

A static server cannot answer query strings, so every URL with one is given a
path of its own: each parameter becomes a segment ``name=value`` (characters
other than letters, digits, ``-``, ``_`` and ``.`` escaped as ``~XX``), with
``after`` last — ``/entries?type=decision&after=50`` is
``/entries/type=decision/after=50`` — and every link in the written HTML is
rewritten to it. ``?format=json`` and ``?format=csv`` name the ``index.json`` and
``index.csv`` beside the page. Search forms cannot work without the server: they
are replaced with a pointer to the SQLite snapshot. Links keep the site's own
form (``/entries/5``), so any static server that maps ``/x`` to ``/x/index.html``
serves the mirror (nginx: ``try_files $uri $uri/index.html =404;``).

Re-runs are incremental: a file whose bytes are unchanged is not rewritten (its
mtime and inode stay), so only what the new entries changed is written. Files
are replaced atomically (temporary file, rename) but not fsynced: the mirror is
derived data, and a re-run repairs whatever a crash left behind. Memory stays
flat in the size of the log: pages are written as they are fetched, and the
crawler remembers numbered pages (``/entries/<n>``) in a bit set.
"""

from __future__ import annotations

import asyncio
import html
import multiprocessing
import os
import re
import string
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit

from fastapi import FastAPI

from ledger.errors import DataDirError
from ledger.ops.clock import Clock
from ledger.ops.datadir import DataDir
from ledger.read.mirror import ExportStats, export_log
from ledger.read.reader import LogReader
from ledger.storage.backends import open_store
from public_site import render
from verifier.core.prover import Prover
from verifier.files import temp_name

#: The host the crawler asks for when no --base-url is given; links to it become root-relative.
DEFAULT_ORIGIN = "http://mirror.invalid"
SNAPSHOT = "/downloads/ledger.sqlite"
FEEDS = ("/feeds/entries.atom",)

PAGE, TWIN, CSV, API, FILE, LOG = "page", "twin", "csv", "api", "file", "log"
#: Paths served as files with their own names (no index.html).
FILE_PREFIXES = ("/static/", "/downloads/", "/feeds/")
FILE_SUFFIXES = (".atom", ".xml", ".csv", ".json", ".sqlite", ".css", ".js", ".svg", ".txt")
LAST_PARAM = "after"  # keyset pagination reads best as the last segment
SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
#: Query segments use only these characters, so they need no percent-encoding.
SEGMENT_SAFE = "=~"
#: Links resolved and remembered per crawl (cleared when full, to keep memory flat).
RESOLVED_CACHE = 4096
#: Errors printed (and listed in the stats) at most, per process.
MAX_WARNINGS = 20
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

README = """\
A static mirror of the Frontier Ledger public site
==================================================

Log:        {origin}
Tree size:  {size} entries
Exported:   {when} (frontier-ledger export-site)
Log key:    {vkey}

Every page is OUT/<path>/index.html, with its machine-readable twin beside it
(index.json); pages with query strings on the live site have paths of their own
here (/entries?after=50 is /entries/after=50). The log itself, in the C2SP
tlog-tiles layout, is in log/; the whole log as one SQLite file (opens in
Datasette) is downloads/ledger.sqlite.

Serving it
----------
Any static web server will do, as long as it maps /x to /x/index.html when /x is
a directory. Serve it {where}. The nginx configuration to use is
docker/nginx/mirror.conf in the Frontier Ledger source: it also sends the
headers the C2SP tlog-tiles spec asks for (tiles cached for a year as immutable,
the checkpoint for a few seconds), the full entry bundles stored gzipped beside
themselves (log/tile/entries/N.gz), and the site's Content-Security-Policy. In
short:

    server {{
        listen 80;
        server_name ledger.example.org;
        root /var/www/ledger-mirror;          # this directory
        # mirror.conf holds "try_files $uri $uri/index.html =404;" and the headers
        include /etc/nginx/frontier-ledger/mirror.conf;
    }}

To look at it locally: python3 -m http.server --directory . 8000

Verifying it
------------
Do not trust this mirror, or the site it copies: verify the log. Obtain the
log's key from an official source and compare it with the one above, then:

    pip install frontier-ledger      # the verifier needs only 'cryptography'
    frontier-verify verify --log {out_log} --vkey '{vkey}'

or, once it is served, --log https://<host>/log. The verifier fetches every
tile and entry, recomputes the Merkle tree and checks the signed checkpoint;
"frontier-verify audit" also replays the schedule's rules. Each entry page
shows an inclusion proof and a receipt that "frontier-verify proof" checks
offline.
"""


class ExportError(DataDirError):
    """The site cannot be exported (bad --base-url, output directory is the data directory…)."""


# -- where each URL goes ------------------------------------------------------------------


def _escape(text: str) -> str:
    return "".join(c if c in SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in text)


@dataclass(frozen=True)
class Target:
    """A same-site URL and where the mirror keeps it."""

    kind: str
    segments: tuple[str, ...]  # the path, decoded, without empty segments
    query: tuple[tuple[str, str], ...]  # canonical order, without format=
    fragment: str = ""

    @cached_property
    def path(self) -> str:
        return "/" + "/".join(quote(s, safe="") for s in self.segments)

    @property
    def query_segments(self) -> tuple[str, ...]:
        return tuple(f"{_escape(k)}={_escape(v)}" for k, v in self.query)

    def rel(self) -> PurePosixPath:
        """The file in OUT that holds this URL."""
        q = self.query_segments
        if self.kind == FILE:
            return PurePosixPath(*self.segments[:-1], *q, self.segments[-1])
        if self.kind == LOG:
            return PurePosixPath(*self.segments)
        name = {PAGE: "index.html", TWIN: "index.json", API: "index.json", CSV: "index.csv"}
        return PurePosixPath(*self.segments, *q, name[self.kind])

    def href(self) -> str:
        """The link to it in the mirror (root-relative, percent-encoded)."""
        if self.kind == PAGE:
            parts = [*self.segments, *self.query_segments]
            return "/" + "/".join(quote(s, safe=SEGMENT_SAFE) for s in parts)
        return "/" + "/".join(quote(s, safe=SEGMENT_SAFE) for s in self.rel().parts)

    def request(self) -> tuple[str, str]:
        """The path and query string to ask the site for."""
        query = list(self.query)
        if self.kind == TWIN:
            query.append(("format", "json"))
        elif self.kind == CSV:
            query.append(("format", "csv"))
        return self.path, urlencode(query)

    @cached_property
    def key(self) -> tuple[str, str, str]:
        """What the crawler deduplicates on: a page and its twin are fetched together."""
        kind = PAGE if self.kind == TWIN else self.kind
        return kind, self.path, urlencode(self.query)

    def page(self) -> Target:
        return Target(PAGE, self.segments, self.query)

    def twin(self) -> Target:
        return Target(TWIN, self.segments, self.query)


def _classify(segments: tuple[str, ...], fmt: str) -> str:
    path = "/" + "/".join(segments)
    if path == "/log" or path.startswith("/log/"):
        return LOG
    if path.startswith("/api/"):
        return API
    if fmt == "json":
        return TWIN
    if fmt == "csv":
        return CSV
    if segments and (path.startswith(FILE_PREFIXES) or segments[-1].endswith(FILE_SUFFIXES)):
        return FILE
    return PAGE


def resolve(href: str, base: str, origin: str) -> Target | None:
    """Where a link on the page at *base* (a root-relative URL) points; None if not on this site."""
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    parts = urlsplit(urljoin(origin + base, href))
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
        return None  # another site, javascript:, mailto:, data: … are left as they are
    segments = tuple(unquote(s) for s in parts.path.split("/") if s)
    if any(s in (".", "..") or "\x00" in s or "/" in s for s in segments):
        return None
    pairs = parse_qsl(parts.query, keep_blank_values=False)  # blank filter = any
    fmt = ""
    query: list[tuple[str, str]] = []
    for k, v in pairs:
        if k == "format":
            fmt = v
        else:
            query.append((k, v))
    query.sort(key=lambda kv: (kv[0] == LAST_PARAM, kv[0]))  # stable: repeated keys keep order
    kind = _classify(segments, fmt)
    if kind == FILE and not segments:
        return None
    return Target(kind, segments, tuple(query), parts.fragment)


# -- fetching over ASGI, in process -----------------------------------------------------------


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


class _SharedProverReader(LogReader):
    """A LogReader whose inclusion proofs share one :class:`Prover` per tree size.

    ``LogReader.inclusion`` builds a fresh Prover per proof, rehashing the upper
    nodes of partial tiles every time (about 1.3 ms a proof at 10^5 entries), and
    a crawl asks for three proofs per entry. One Prover serves every proof of a
    tree size (it caches tiles as read at that size); it is replaced when the
    size changes, and now and then to keep memory flat.
    """

    RESET_EVERY = 4096

    def __init__(self, reader: LogReader) -> None:
        super().__init__(reader.store, reader.blobs_dir)
        self._lock = threading.Lock()
        self._prover = Prover(self.store.read_tile)
        self._prover_size = -1
        self._uses = 0

    def inclusion(self, index: int, size: int | None = None) -> tuple[int, list[bytes]]:
        n = self._size(size)
        if not 0 <= index < n:
            return super().inclusion(index, size)  # raises NotFound, worded as the site's
        with self._lock:
            self._uses += 1
            if n != self._prover_size or self._uses % self.RESET_EVERY == 0:
                self._prover = Prover(self.store.read_tile)
                self._prover_size = n
            return n, self._prover.inclusion(index, n)


# -- writing ----------------------------------------------------------------------------------


@dataclass
class SiteExportStats:
    size: int = 0
    pages: int = 0
    files: int = 0
    written: int = 0
    unchanged: int = 0
    bytes_written: int = 0
    #: URLs the site answered with an error (a page's error page is mirrored as the site shows it)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    #: of which server errors (5xx): the mirror is incomplete
    server_errors: int = 0
    log: ExportStats | None = None
    seconds: float = 0.0

    def merge(self, other: SiteExportStats) -> None:
        """Add the counts of another process's share."""
        self.pages += other.pages
        self.files += other.files
        self.written += other.written
        self.unchanged += other.unchanged
        self.bytes_written += other.bytes_written
        self.error_count += other.error_count
        self.server_errors += other.server_errors
        self.errors = (self.errors + other.errors)[:MAX_WARNINGS]


def _same_file(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _same_files(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def _tmp_for(path: Path) -> Path:
    return temp_name(path)


class _Writer:
    def __init__(self, out: Path, stats: SiteExportStats) -> None:
        self.out = out
        self.stats = stats

    def put(self, rel: PurePosixPath, data: bytes) -> None:
        """Write *data* at OUT/*rel* unless the file already holds exactly these bytes."""
        path = self.out.joinpath(*rel.parts)
        if _same_file(path, data):
            self.stats.unchanged += 1
            return
        tmp = _tmp_for(path)
        try:
            tmp.write_bytes(data)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        os.replace(tmp, path)
        self.stats.written += 1
        self.stats.bytes_written += len(data)

    def put_file(self, rel: PurePosixPath, tmp: Path) -> None:
        """Move the finished temporary file *tmp* to OUT/*rel* unless that is the same."""
        path = self.out.joinpath(*rel.parts)
        if _same_files(path, tmp):
            tmp.unlink()
            self.stats.unchanged += 1
            return
        size = tmp.stat().st_size
        os.replace(tmp, path)
        self.stats.written += 1
        self.stats.bytes_written += size


# -- the crawl --------------------------------------------------------------------------------


def _entry_index(t: Target) -> int | None:
    """The index of an entry page, its twin or its API document; None for anything else."""
    seg = t.segments
    if t.query or not seg or not (seg[-1].isascii() and seg[-1].isdigit()):
        return None
    if seg[:-1] in (("entries",), ("api", "v1", "entries")):
        return int(seg[-1])
    return None


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

    def __init__(self, app: FastAPI, job: _Job) -> None:
        self.shard, self.jobs, self.size = job.shard, job.jobs, job.size
        origin, base_url, out, progress = job.origin, job.base_url, job.out, job.progress
        self.client = AsgiClient(app, origin)
        self.origin = origin
        parts = urlsplit(base_url) if base_url else None
        self.prefix = parts.path.rstrip("/") if parts else ""
        #: What absolute links in feeds start with (root-relative without --base-url).
        self.public = f"{parts.scheme}://{parts.netloc}{self.prefix}" if parts else ""
        self.out = out
        self.stats = SiteExportStats()
        self.writer = _Writer(out, self.stats)
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
        index = _entry_index(t)
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
        path = self.out.joinpath(*t.rel().parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_for(path)
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


# -- the command ------------------------------------------------------------------------------


def _check_base_url(base_url: str | None) -> str:
    """The origin to crawl as: --base-url's scheme and host, or a placeholder."""
    if base_url is None:
        return DEFAULT_ORIGIN
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ExportError(
            f"--base-url {base_url!r} is not an http(s) URL without query or fragment, "
            "e.g. https://ledger.example.org"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _tree_size(data: DataDir) -> int:
    store = open_store(data, readonly=True)
    try:
        return store.head().size
    finally:
        store.close()


@dataclass(frozen=True)
class _Job:
    """One process's share of an export (picklable: it is sent to worker processes)."""

    data: DataDir
    out: Path
    origin: str
    base_url: str | None
    clock: Clock | None
    size: int
    #: builds the read-only app to crawl (a module-level function: it is pickled by name)
    app_factory: AppFactory
    shard: int = 0
    jobs: int = 1
    progress: bool = False


#: (data directory, simulated clock) -> the site's app, read-only
AppFactory = Callable[[DataDir, "Clock | None"], FastAPI]


def export_site(
    data: DataDir,
    out: Path,
    app_factory: AppFactory,
    *,
    base_url: str | None = None,
    clock: Clock | None = None,
    progress: bool | None = None,
    jobs: int = 1,
) -> SiteExportStats:
    """Write the public site of the log in *data* as static files under *out*, crawling
    the app *app_factory* builds (``frontier_ledger.app.read_only_app``).

    With *jobs* > 1 the entry pages are shared among that many processes (blocks
    of 256 entries each, dealt in turn); this process crawls everything else,
    then writes the log and README.txt once every process is done.
    """
    data.check_initialised()
    if out.resolve() == data.root.resolve():
        raise ExportError("the output directory must not be the data directory")
    if jobs < 1:
        raise ExportError("--jobs must be 1 or more")
    origin = _check_base_url(base_url)
    out.mkdir(parents=True, exist_ok=True)
    job = _Job(data, out, origin, base_url, clock, _tree_size(data), app_factory, jobs=jobs)
    if progress is None:
        progress = sys.stderr.isatty()
    t0 = time.perf_counter()
    if jobs == 1:
        stats = asyncio.run(_main_shard(replace(job, progress=progress), []))
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(jobs - 1, mp_context=ctx) as pool:
            workers = [pool.submit(_worker, replace(job, shard=i)) for i in range(1, jobs)]
            stats = asyncio.run(_main_shard(replace(job, progress=progress), workers))
    stats.seconds = time.perf_counter() - t0
    return stats


def _app(job: _Job) -> FastAPI:
    return job.app_factory(job.data, job.clock)


def _crawler(app: FastAPI, job: _Job) -> SiteCrawler:
    app.state.reader = _SharedProverReader(app.state.reader)
    return SiteCrawler(app, job)


def _worker(job: _Job) -> SiteExportStats:
    """A worker process: its share of the entry pages."""

    async def run() -> SiteExportStats:
        app = _app(job)
        async with app.router.lifespan_context(app):
            crawler = _crawler(app, job)
            await crawler.crawl()
            return crawler.stats

    return asyncio.run(run())


async def _main_shard(job: _Job, workers: list[Future[SiteExportStats]]) -> SiteExportStats:
    app = _app(job)
    async with app.router.lifespan_context(app):
        crawler = _crawler(app, job)
        await crawler.crawl()
        stats = crawler.stats
        loop = asyncio.get_running_loop()
        for w in workers:
            stats.merge(await asyncio.wrap_future(w, loop=loop))
        state = app.state
        # The log last: every entry a page shows is in it.
        cosign: Callable[[int, bytes], bytes] | None = (
            state.witnesses.with_cosignatures if state.witnesses is not None else None
        )
        stats.log = export_log(state.reader, job.out / "log", cosign)
        crawler.writer.put(
            PurePosixPath("README.txt"),
            README.format(
                origin=state.reader.store.origin,
                size=stats.log.size,
                when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                vkey=state.vkey,
                out_log=job.out / "log",
                where=(
                    f"at {crawler.prefix}/ of its host (it was exported for --base-url "
                    f"{job.base_url}: its links start with {crawler.prefix}/)"
                    if crawler.prefix
                    else "at the root of a host"
                ),
            ).encode(),
        )
    return stats
