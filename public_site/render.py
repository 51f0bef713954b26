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
    return Response(
        body.encode(), media_type="application/atom+xml; charset=utf-8", headers=SECURITY_HEADERS
    )
