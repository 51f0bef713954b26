"""Where each URL of the site goes in the mirror: pure functions of strings, no I/O.

A static server cannot answer query strings, so every URL with one is given a
path of its own: each parameter becomes a segment ``name=value`` (characters
other than letters, digits, ``-``, ``_`` and ``.`` escaped as ``~XX``), with
``after`` last — ``/entries?type=decision&after=50`` is
``/entries/type=decision/after=50``. ``?format=json`` and ``?format=csv`` name
the ``index.json`` and ``index.csv`` beside the page. Links keep the site's own
form (``/entries/5``), so any static server that maps ``/x`` to ``/x/index.html``
serves the mirror (nginx: ``try_files $uri $uri/index.html =404;``).

:func:`resolve` turns a link found on a page into a :class:`Target`: its kind
(``PAGE``, ``TWIN``, ``CSV``, ``API``, ``FILE``, ``LOG``), the file that holds it
(:meth:`Target.rel`), the link to write in its place (:meth:`Target.href`) and
the request to make for it (:meth:`Target.request`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit

#: The host the crawler asks for when no --base-url is given; links to it become root-relative.
DEFAULT_ORIGIN = "http://mirror.invalid"
SNAPSHOT = "/downloads/ledger.sqlite"
FEEDS = ("/feeds/entries.atom", "/feeds/register.atom")

PAGE, TWIN, CSV, API, FILE, LOG = "page", "twin", "csv", "api", "file", "log"
#: Paths served as files with their own names (no index.html).
FILE_PREFIXES = ("/static/", "/downloads/", "/feeds/")
FILE_SUFFIXES = (".atom", ".xml", ".csv", ".json", ".sqlite", ".css", ".js", ".svg", ".txt")
LAST_PARAM = "after"  # keyset pagination reads best as the last segment
SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
#: Query segments use only these characters, so they need no percent-encoding.
SEGMENT_SAFE = "=~"


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


def entry_index(t: Target) -> int | None:
    """The index of an entry page, its twin or its API document; None for anything else."""
    seg = t.segments
    if t.query or not seg or not (seg[-1].isascii() and seg[-1].isdigit()):
        return None
    if seg[:-1] in (("entries",), ("api", "v1", "entries")):
        return int(seg[-1])
    return None
