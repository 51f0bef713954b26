"""JSON API: append entries, read entries and receipts, proofs, historical checkpoints."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ledger.api.deps import committer_of, reader_of
from ledger.api.problems import Problem
from ledger.api.responses import JSONBody
from ledger.sequencer import EntryRefused, Overloaded, prepare
from ledger.service import NotFound
from ledger.store import StoreError
from verifier.encoding import b64encode
from verifier.errors import FormatError
from verifier.leaf import format_logged_at, loads_strict
from verifier.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof

router = APIRouter(prefix="/api/v1", tags=["api"])

#: A leaf is at most 65,535 bytes; the envelope JSON that makes it is smaller.
MAX_REQUEST_BYTES = 96 * 1024
RETRY_AFTER_SECONDS = "1"
NonNeg = Annotated[int, Query(ge=0, le=2**63 - 1)]
#: Indices and sizes are SQLite integers: 0 .. 2**63 - 1.
IndexPath = Annotated[int, Path(ge=0, le=2**63 - 1)]


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise Problem(413, "too-large", f"request body over {MAX_REQUEST_BYTES} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_REQUEST_BYTES:
            raise Problem(413, "too-large", f"request body over {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/entries",
    summary="Append a DSSE envelope; answers with its receipt once it is durable",
    status_code=201,
)
async def append_entry(request: Request) -> Response:
    ctype = request.headers.get("content-type", "")
    if ctype.split(";")[0].strip() not in (
        "application/json",
        "application/vnd.dsse.envelope.v1+json",
    ):
        raise Problem(415, "unsupported-media-type", "send the DSSE envelope as application/json")
    body = await _read_capped(request)
    try:
        envelope = loads_strict(body, what="request body")
        prepared = prepare(envelope)
    except FormatError as exc:
        raise Problem(400, "malformed-entry", str(exc)) from None
    committer = committer_of(request)
    if committer is None:
        raise Problem(
            503, "read-only", "this server does not accept appends", headers={"Retry-After": "60"}
        )
    try:
        receipt = await committer.submit(prepared)
    except EntryRefused as exc:
        r = exc.refusal
        extra = {"code": r.code} | ({"rule": r.rule} if r.rule else {})
        raise Problem(r.status, r.code, r.message, extra=extra) from None
    except Overloaded:
        raise Problem(
            503,
            "overloaded",
            "the sequencer is busy; retry shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        ) from None
    except StoreError as exc:
        raise Problem(
            503, "not-durable", f"the entry was not logged: {exc}", headers={"Retry-After": "5"}
        ) from None
    return JSONBody(
        receipt.to_json(),
        status_code=200 if receipt.duplicate else 201,
        headers={"Location": f"/api/v1/entries/{receipt.index}"},
    )


def _entry_json(request: Request, index: int) -> dict[str, Any]:
    reader = reader_of(request)
    try:
        row = reader.entry(index)
    except NotFound as exc:
        raise Problem(404, "entry-not-found", str(exc)) from None
    return {
        "index": row.index,
        "leaf": b64encode(row.leaf),
        "leaf_hash": b64encode(row.leaf_hash),
        "logged_at": format_logged_at(row.logged_at_ms),
        "payload_type": row.payload_type,
        "entry": orjson.loads(row.leaf),
    }


@router.get("/entries/{index}", summary="One entry: its leaf bytes and decoded contents")
def get_entry(index: IndexPath, request: Request) -> JSONBody:
    return JSONBody(_entry_json(request, index))


@router.get(
    "/entries/{index}/receipt", summary="An offline receipt for the entry at the latest checkpoint"
)
def get_receipt(index: IndexPath, request: Request) -> JSONBody:
    reader = reader_of(request)
    try:
        row = reader.entry(index)
        head = reader.head()
        _, proof = reader.inclusion(index, head.size)
    except NotFound as exc:
        raise Problem(404, "entry-not-found", str(exc)) from None
    text = TlogProof(index, tuple(proof), head.checkpoint).to_text()
    return JSONBody(
        {"media_type": RECEIPT_MEDIA_TYPE, "leaf": b64encode(row.leaf), "tlog_proof": text}
    )


@router.get(
    "/proofs/inclusion", summary="Inclusion proof of the entry at index in a published tree size"
)
def inclusion_proof(request: Request, index: NonNeg, tree_size: NonNeg | None = None) -> JSONBody:
    reader = reader_of(request)
    try:
        size, proof = reader.inclusion(index, tree_size)
        checkpoint = reader.checkpoint_at(size)
        row = reader.entry(index)
    except NotFound as exc:
        raise Problem(404, "proof-not-found", str(exc)) from None
    return JSONBody(
        {
            "index": index,
            "tree_size": size,
            "leaf_hash": b64encode(row.leaf_hash),
            "proof": [b64encode(h) for h in proof],
            "checkpoint": checkpoint.decode(),
        }
    )


@router.get("/proofs/consistency", summary="Consistency proof between two published tree sizes")
def consistency_proof(
    request: Request, old_size: NonNeg, new_size: NonNeg | None = None
) -> JSONBody:
    reader = reader_of(request)
    try:
        size, proof = reader.consistency(old_size, new_size)
        old_cp, new_cp = reader.checkpoint_at(old_size), reader.checkpoint_at(size)
    except NotFound as exc:
        raise Problem(404, "proof-not-found", str(exc)) from None
    return JSONBody(
        {
            "old_size": old_size,
            "new_size": size,
            "proof": [b64encode(h) for h in proof],
            "old_checkpoint": old_cp.decode(),
            "new_checkpoint": new_cp.decode(),
        }
    )


@router.get("/checkpoints/{size}", summary="The signed checkpoint published at a tree size")
def checkpoint_at(size: IndexPath, request: Request) -> Response:
    try:
        note = reader_of(request).checkpoint_at(size)
    except NotFound as exc:
        raise Problem(404, "checkpoint-not-found", str(exc)) from None
    return Response(
        note,
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
