"""The site's route for the compute page: ``/compute`` with its JSON and CSV twins.

Thin, like :mod:`public_site.routes`, whose helpers it shares: parse the request, ask
:mod:`public_site.compute`, render.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from public_site import compute, render
from public_site.routes import Format, _not_found_as_page, _page, _site

router = APIRouter(include_in_schema=False)


@router.get("/compute")
@_not_found_as_page
def compute_page(request: Request, fmt: Format = None) -> Response:
    data = compute.compute(_site(request))
    if fmt == "csv":
        return render.csv_response(compute.csv_rows(data), compute.CSV_COLUMNS, "compute.csv")
    return _page(request, "compute.html", data, fmt)
