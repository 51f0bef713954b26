"""C2SP tlog-tiles read paths, under /log/ (tlog-tiles §"Read API")."""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import PlainTextResponse, Response

from ledger.api.deps import reader_of
from ledger.api.openapi import TILE_PATH, TILE_PATH_MAX_LENGTH, content, problems
from ledger.api.problems import Problem
from ledger.errors import NotFound
from verifier.errors import FormatError

router = APIRouter(prefix="/log", tags=["tlog-tiles"])

#: tlog-tiles: the checkpoint "SHOULD prevent caching beyond a few seconds".
CHECKPOINT_CACHE = "public, max-age=2, must-revalidate"
#: Tiles and bundles are immutable: "caching headers SHOULD be long-lived".
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
CORS = {"Access-Control-Allow-Origin": "*"}
_BYTES = {"type": "string", "format": "binary"}


def accepts_gzip(header: str) -> bool:
    """True if Accept-Encoding admits gzip (RFC 9110 §12.5.3: q=0 means "not acceptable")."""
    star = None
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            return q > 0
        if coding == "*":
            star = q > 0
    return bool(star)


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (C2SP tlog-checkpoint)",
    response_class=PlainTextResponse,
    responses=problems(503),
)
def checkpoint(request: Request) -> Response:
    witnesses = request.app.state.witnesses
    note = (
        witnesses.published(request.app.state.require_quorum)
        if witnesses is not None
        else reader_of(request).checkpoint()
    )
    return Response(
        note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE, **CORS},
    )


@router.get(
    "/witnesses.policy",
    summary="The log's witness policy (C2SP tlog-policy): its key, its witnesses, the quorum",
    response_class=PlainTextResponse,
    responses=problems(404),
)
def witness_policy(request: Request) -> Response:
    """What the operator publishes as the policy to verify with. A verifier should pin
    the keys it names out of band; this copy only says which the operator uses."""
    try:
        text = request.app.state.witness_policy_path.read_bytes()
    except OSError:
        raise Problem(404, "no-witness-policy", "this log publishes no witness policy") from None
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE, **CORS},
    )


@router.get(
    "/blobs/sha256/{digest}",
    summary="A revealed document (plan, report, evidence) by its SHA-256",
    response_class=Response,
    responses={
        200: content("application/octet-stream", _BYTES, "the document, byte for byte"),
        **problems(400, 404),
    },
)
def blob(
    digest: Annotated[str, Path(json_schema_extra={"pattern": "^[0-9a-f]{64}$"})],
    request: Request,
) -> Response:
    try:
        data = reader_of(request).blob(digest)
    except FormatError as exc:
        raise Problem(400, "bad-digest", str(exc)) from None
    except NotFound as exc:
        raise Problem(404, "blob-not-found", str(exc)) from None
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Cache-Control": IMMUTABLE_CACHE, **CORS},
    )


@router.get(
    "/tile/{path:path}",
    summary="A hash tile or an entry bundle (C2SP tlog-tiles)",
    response_class=Response,
    responses={
        200: content("application/octet-stream", _BYTES, "the tile's hashes, or the bundle"),
        **problems(400, 404, 503),
    },
)
def tile(
    path: Annotated[
        str,
        Path(
            description="<L>/<N>[.p/<W>], e.g. 0/x001/234 or entries/000.p/17",
            json_schema_extra={"pattern": TILE_PATH, "maxLength": TILE_PATH_MAX_LENGTH},
        ),
    ],
    request: Request,
) -> Response:
    full_path = "tile/" + path
    try:
        body = reader_of(request).tile(full_path)
    except FormatError as exc:
        raise Problem(400, "bad-tile-path", str(exc)) from None
    except NotFound as exc:
        raise Problem(404, "tile-not-found", str(exc)) from None
    headers = {"Cache-Control": IMMUTABLE_CACHE, **CORS}
    data = body.data
    if path.startswith("entries/"):
        # tlog-tiles: "Entry bundles SHOULD be compressed at the HTTP layer".
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            data = body.gzipped if body.gzipped is not None else gzip.compress(data, 6, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="application/octet-stream", headers=headers)
