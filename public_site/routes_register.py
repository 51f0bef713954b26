"""The site's routes for the register of approved models and the entries' receipts.

``/register`` (with ``?format=json`` — the API's ``GET /api/v1/register`` document —
``?format=csv`` and the Atom feed ``/feeds/register.atom``), each entry's offline
receipt at ``/entries/{index}/receipt.json`` (exactly the API's
``GET /api/v1/entries/{index}/receipt``: both come from :mod:`ledger.read.receipts`).
Thin, like :mod:`public_site.routes`,
whose helpers they share: parse the request, ask the data module, render.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledger.api.responses import JSONBody
from ledger.errors import NotFound
from ledger.read.receipts import receipt
from ledger.read.register import CSV_COLUMNS, csv_row
from public_site import register, render, trust
from public_site.routes import Format, _context, _error, _site

router = APIRouter(include_in_schema=False)
#: Log indices are the stores' integers.
MAX_INDEX = 2**63 - 1


@router.get("/register")
def register_page(request: Request, fmt: Format = None) -> Response:
    site = _site(request)
    if not site.view.governed:
        return _error(request, 404, "this log has no charter, so it approves no models")
    doc = register.document(site)
    if fmt == "json":
        return render.json_twin(doc)  # the API's document, as GET /api/v1/register answers
    if fmt == "csv":
        return render.csv_response((csv_row(m) for m in doc["models"]), CSV_COLUMNS, "register.csv")
    context = _context(request, data=doc, how=register.page(site), query=str(request.url.query))
    return render.html("register.html", context)


@router.get("/feeds/register.atom")
def register_feed(request: Request) -> Response:
    site = _site(request)
    if not site.view.governed:
        return _error(request, 404, "this log has no charter, so it approves no models")
    base = str(request.base_url).rstrip("/")
    return render.atom(register.feed(site, base, str(request.url)))


@router.get("/entries/{index}/receipt.json")
def receipt_file(request: Request, index: int) -> Response:
    """The entry's offline receipt: what ``frontier-verify proof RECEIPT --policy P`` checks."""
    if not 0 <= index <= MAX_INDEX:
        return _error(request, 404, f"log indices run from 0 to {MAX_INDEX}")
    site = _site(request)
    try:
        body = receipt(site.reader, index, trust.policy(site))
    except NotFound as exc:
        return _error(request, 404, str(exc))
    return JSONBody(body, headers=render.SECURITY_HEADERS)
