"""``/healthz`` and ``/readyz``: thin; the checks are in :mod:`ledger.health`."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ledger.health import liveness, readiness

router = APIRouter(tags=["operations"])


def _json(body: object, status: int) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.get("/healthz", summary="Liveness: the process answers and can read its store")
def healthz(request: Request) -> Response:
    check = liveness(request.app.state.reader)
    return _json({"ok": check.ok, "detail": check.detail}, 200 if check.ok else 503)


@router.get(
    "/readyz",
    summary="Readiness: store, writer, and the latest checkpoint served with its witness quorum",
)
def readyz(request: Request) -> Response:
    state = request.app.state
    committer = state.committer
    result = readiness(
        state.reader,
        writer_running=None if state.read_only else committer is not None and committer.running,
        witnesses=state.witnesses,
        require_quorum=state.require_quorum,
    )
    return _json(result.to_json(), 200 if result.ready else 503)
