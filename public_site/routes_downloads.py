"""Downloads of the whole log in a form journalists' tools open: ``/downloads/ledger.sqlite``.

The SQLite snapshot (:mod:`public_site.sqlite_download`) is built on the first request
after the log grows, at most once per tree size, cached under
``DATA/site-cache/`` and streamed from the file.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from public_site import render
from public_site.sqlite_download import cache_dir_for, cached_snapshot, snapshot_size

router = APIRouter(include_in_schema=False)

SQLITE_MEDIA_TYPE = "application/vnd.sqlite3"


@router.get("/downloads/ledger.sqlite")
def sqlite_snapshot(request: Request) -> FileResponse:
    state = request.app.state
    path = cached_snapshot(
        cache_dir_for(state.reader), state.reader, state.view, vkey=state.vkey, now_ms=state.clock()
    )
    return FileResponse(
        path,
        media_type=SQLITE_MEDIA_TYPE,
        # FileResponse makes this Content-Disposition: attachment; filename="…".
        filename=f"ledger-{snapshot_size(path)}.sqlite",
        headers={**render.SECURITY_HEADERS, "Cache-Control": "no-cache"},
    )
