"""Jinja2 rendering with autoescape, and the headers every public page carries.

The Content-Security-Policy allows nothing but this site's own stylesheet and
the one verification script: no inline script or style, no third-party
request, no framing. Text from entries is escaped by Jinja2's autoescape and
wrapped in ``<bdi>`` where it is shown inline, so a right-to-left override in a
name cannot reorder the words around it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from public_site.labels import field_label

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every template is HTML or Atom XML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


env.filters["pretty"] = _pretty
env.filters["label"] = field_label
#: A key, digest, salt or id: shown as a hash, which may wrap anywhere (words may not).
_TOKEN = re.compile(r"[A-Za-z0-9+/=_.:@-]{24,}")
#: A time or date of the payload formats (RFC 3339 UTC, or a date): never wrapped.
_WHEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+Z)?")
env.tests["token"] = lambda v: isinstance(v, str) and _TOKEN.fullmatch(v) is not None
env.tests["when"] = lambda v: isinstance(v, str) and _WHEN.fullmatch(v) is not None
env.filters["clip"] = lambda s, n=120: s if len(s) <= n else s[: n - 1] + "…"


def prefers_html(accept: str) -> bool:
    """Whether a client's ``Accept`` header (RFC 9110 §12.5.1) would rather have HTML than
    JSON: yes with no header or ``*/*`` (HTML is the site's own representation), no if
    it names JSON or problem+json above HTML, or refuses HTML (``q=0``)."""
    if not accept.strip():
        return True
    html_q = _quality(accept, "text", "html")
    json_q = max(
        _quality(accept, "application", "json"), _quality(accept, "application", "problem+json")
    )
    return html_q > 0 and html_q >= json_q


def _quality(accept: str, kind: str, subtype: str) -> float:
    """The q of the most specific media range of *accept* matching kind/subtype (0 if none)."""
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        media, *params = item.split(";")
        k, _, sub = media.strip().lower().partition("/")
        if (k, sub) == (kind, subtype):
            specificity = 2
        elif (k, sub) == (kind, "*"):
            specificity = 1
        elif (k, sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


#: What XML 1.0 does not allow in a document (§2.2 Char): C0 controls but tab, line feed
#: and carriage return, lone surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def html(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    body = env.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def json_twin(data: Any) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=1).encode()
    return Response(body, media_type="application/json", headers=SECURITY_HEADERS)


def csv_response(rows: Iterable[Sequence[Any]], header: Sequence[str], name: str) -> Response:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")  # RFC 4180
    w.writerow(header)
    for row in rows:
        # A cell starting with = + - @ is a formula in spreadsheets: neutralise it.
        w.writerow([_cell(v) for v in row])
    return Response(
        buf.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def atom(context: dict[str, Any]) -> Response:
    body = env.get_template("feed.atom").render(**context)
    # An entry's text (or a filter in the feed's title) may hold what XML cannot: the
    # feed must stay well-formed, so each such character is shown as U+FFFD.
    return Response(
        _NOT_XML.sub("\ufffd", body).encode(),
        media_type="application/atom+xml; charset=utf-8",
        headers=SECURITY_HEADERS,
    )
