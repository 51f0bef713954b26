"""JSON API: append entries, read entries and receipts, proofs, historical checkpoints."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ledger.api.deps import committer_of, reader_of, view_of
from ledger.api.problems import Problem
from ledger.api.responses import JSONBody
from ledger.errors import EntryRefused, NotFound, Overloaded, StoreError
from ledger.storage.protocol import EntryRow, SearchQuery
from ledger.write.sequencer import prepare
from verifier.core.encoding import b64encode
from verifier.core.leaf import format_logged_at, loads_strict
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof
from verifier.entries.codec import json_schema
from verifier.entries.fields import parse_time
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError

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
    answer = receipt.to_json()
    if receipt.schedule is not None:
        # A submission learns at once whether it was on time, and when it will be decided.
        answer["schedule"] = receipt.schedule
    return JSONBody(
        answer,
        status_code=200 if receipt.duplicate else 201,
        headers={"Location": f"/api/v1/entries/{receipt.index}"},
    )


def _receipt(request: Request, index: int, leaf: bytes) -> dict[str, Any]:
    reader = reader_of(request)
    head = reader.head()
    note = head.checkpoint
    witnesses = request.app.state.witnesses
    if witnesses is not None:
        # Receipts carry the cosigned checkpoint when the witnesses have signed it.
        note = witnesses.published(False)
    _, proof = reader.inclusion(index, head.size)
    text = TlogProof(index, tuple(proof), note).to_text()
    return {"media_type": RECEIPT_MEDIA_TYPE, "leaf": b64encode(leaf), "tlog_proof": text}


def _summary(row: EntryRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "logged_at": format_logged_at(row.logged_at_ms),
        "payload_type": row.payload_type,
        "url": f"/api/v1/entries/{row.index}",
    }


@router.get("/entries/{index}", summary="One entry: leaf bytes, decoded payload, signers, receipt")
def get_entry(index: IndexPath, request: Request) -> JSONBody:
    try:
        row = reader_of(request).entry(index)
        receipt = _receipt(request, index, row.leaf)
    except NotFound as exc:
        raise Problem(404, "entry-not-found", str(exc)) from None
    body = {
        **_summary(row),
        "leaf": b64encode(row.leaf),
        "leaf_hash": b64encode(row.leaf_hash),
        **view_of(request).describe(row.leaf),
        "receipt": receipt,
    }
    return JSONBody(body)


@router.get(
    "/entries/{index}/receipt", summary="An offline receipt for the entry at the latest checkpoint"
)
def get_receipt(index: IndexPath, request: Request) -> JSONBody:
    try:
        row = reader_of(request).entry(index)
        return JSONBody(_receipt(request, index, row.leaf))
    except NotFound as exc:
        raise Problem(404, "entry-not-found", str(exc)) from None


SEARCH_NOTE = (
    "Search is a convenience. Completeness comes from the log itself: "
    "verify it with frontier-verify and read every entry from /log/."
)


@router.get(
    "/entries", summary="Search entries by type, organisation, run, level, cycle, time, text"
)
def search_entries(
    request: Request,
    *,
    type: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    run: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[int | None, Query(ge=0, le=63)] = None,
    cycle: Annotated[int | None, Query(ge=2000, le=2999)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=40, description="RFC 3339 UTC")] = None,
    until: Annotated[str | None, Query(max_length=40, description="RFC 3339 UTC")] = None,
    after: Annotated[int, Query(ge=-1, le=2**63 - 1)] = -1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONBody:
    try:
        since_ms = parse_time(since, "since") if since else None
        until_ms = parse_time(until, "until") if until else None
    except FormatError as exc:
        raise Problem(400, "invalid-request", str(exc)) from None
    query = SearchQuery(type, org, run, level, cycle, q, since_ms, until_ms, after, limit)
    rows = reader_of(request).store.search(query)
    return JSONBody(
        {
            "entries": [_summary(r) for r in rows],
            "next_after": rows[-1].index if len(rows) == limit else None,
            "note": SEARCH_NOTE,
        }
    )


@router.get("/schemas", summary="The entry types this log knows")
def list_schemas() -> JSONBody:
    return JSONBody({"types": {t: f"/api/v1/schemas/{t}" for t in TYPES}})


@router.get("/schemas/{entry_type}", summary="JSON Schema of an entry type's payload")
def get_schema(entry_type: Annotated[str, Path(max_length=64)]) -> Response:
    try:
        schema = json_schema(entry_type)
    except FormatError as exc:
        raise Problem(404, "unknown-type", str(exc)) from None
    return Response(orjson.dumps(schema), media_type="application/schema+json")


@router.get("/audit", summary="The policy audit of the log: every finding, by rule")
def get_audit(
    request: Request,
    at: Annotated[
        str | None, Query(max_length=40, description="judge deadlines as of this time")
    ] = None,
) -> JSONBody:
    view = view_of(request)
    if not view.governed:
        raise Problem(404, "not-governed", "a synthetic test log has no schedule to audit")
    try:
        now = (
            parse_time(at, "at")
            if at
            else max(request.app.state.clock(), reader_of(request).head().logged_at_ms)
        )
    except FormatError as exc:
        raise Problem(400, "invalid-request", str(exc)) from None
    report = view.audit(now)
    return JSONBody(
        {
            "origin": report.origin,
            "tree_size": report.size,
            "at": format_logged_at(now),
            "violations": len(report.violations),
            "findings": [f.to_json() for f in report.findings],
        }
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
