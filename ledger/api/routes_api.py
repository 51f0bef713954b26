"""JSON API: append entries, read entries and receipts, proofs, historical checkpoints."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BeforeValidator
from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response

from ledger.api.deps import committer_of, reader_of, view_of
from ledger.api.openapi import (
    UTC_TIME,
    AppendReceipt,
    Audit,
    ConsistencyProof,
    Entry,
    EntryTypes,
    InclusionProof,
    Receipt,
    Register,
    SearchAnswer,
    content,
    problems,
)
from ledger.api.problems import Problem
from ledger.api.responses import JSONBody
from ledger.errors import EntryRefused, NotFound, Overloaded, StoreError
from ledger.read.receipts import receipt
from ledger.read.register import register
from ledger.storage.protocol import EntryRow, SearchQuery
from ledger.write.sequencer import prepare
from verifier.core.encoding import b64encode
from verifier.core.leaf import format_logged_at, loads_strict
from verifier.entries.codec import json_schema
from verifier.entries.fields import parse_time
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError

router = APIRouter(prefix="/api/v1", tags=["api"])

#: A leaf is at most 65,535 bytes; the envelope JSON that makes it is smaller.
MAX_REQUEST_BYTES = 96 * 1024
#: What an append may be sent as (type/subtype; parameters such as charset are ignored).
APPEND_MEDIA_TYPES = ("application/json", "application/vnd.dsse.envelope.v1+json")
RETRY_AFTER_SECONDS = "1"
_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _canonical(value: object) -> object:
    """An integer of a path or query in its one spelling: decimal digits, a minus sign at
    most, no leading zero. (pydantic would also read "+0.0", "05", " 5" and "5_0" as 0, 5,
    5 and 50: one entry under many URLs.)"""
    if isinstance(value, str) and (not _CANONICAL_INT.fullmatch(value) or value == "-0"):
        raise ValueError("not an integer in plain decimal digits")
    return value


Canonical = BeforeValidator(_canonical)
#: Indices and sizes are the stores' integers: 0 .. 2**63 - 1.
NonNeg = Annotated[int, Query(ge=0, le=2**63 - 1), Canonical]
IndexPath = Annotated[int, Path(ge=0, le=2**63 - 1), Canonical]
#: RFC 3339 UTC, as the API reads times (verifier.entries.fields.parse_time).
UtcTime = Annotated[
    str | None,
    Query(max_length=40, description="RFC 3339 UTC", json_schema_extra={"pattern": UTC_TIME}),
]
_LOCATION = {"Location": {"description": "/api/v1/entries/<index>", "schema": {"type": "string"}}}


def media_type(content_type: str) -> str:
    """The type/subtype of a Content-Type header, lower-cased: media types are
    case-insensitive (RFC 9110 §8.3.1), so ``APPLICATION/JSON`` is ``application/json``."""
    return content_type.split(";", 1)[0].strip().lower()


async def _read_capped(request: Request, timeout_s: float) -> bytes:
    """The request body, at most MAX_REQUEST_BYTES of it, within *timeout_s* seconds.

    A client that stalls mid-body is answered 408 and its connection closed (RFC 9110
    §15.5.9), instead of holding a connection and a task for as long as it likes.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise Problem(413, "too-large", f"request body over {MAX_REQUEST_BYTES} bytes")
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > MAX_REQUEST_BYTES:
                    raise Problem(413, "too-large", f"request body over {MAX_REQUEST_BYTES} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise Problem(
            408,
            "body-timeout",
            f"the request body did not arrive within {timeout_s:g} s",
            headers={"Connection": "close"},
        ) from None
    except ClientDisconnect:
        # Nobody is left to read the answer; it still must not be a 500 in the log.
        raise Problem(400, "incomplete-body", "the client left before sending the body") from None
    return b"".join(chunks)


@router.post(
    "/entries",
    summary="Append a DSSE envelope; answers with its receipt once it is durable",
    status_code=201,
    responses={
        201: {"model": AppendReceipt, "description": "Logged and durable", "headers": _LOCATION},
        200: {
            "model": AppendReceipt,
            "description": "The same envelope was logged before: its original receipt",
            "headers": _LOCATION,
        },
        **problems(400, 403, 408, 409, 413, 415, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"$ref": "#/components/schemas/Envelope"}}
                for media in APPEND_MEDIA_TYPES
            },
        }
    },
)
async def append_entry(request: Request) -> Response:
    if media_type(request.headers.get("content-type", "")) not in APPEND_MEDIA_TYPES:
        raise Problem(415, "unsupported-media-type", "send the DSSE envelope as application/json")
    body = await _read_capped(request, request.app.state.body_timeout_s)
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
    # One function makes every receipt, the site's too (ledger/read/receipts.py); it
    # carries the cosigned checkpoint when the witnesses have signed it.
    witnesses = request.app.state.witnesses
    policy = witnesses.policy if witnesses is not None else None
    return receipt(reader_of(request), index, policy, leaf)


def _summary(row: EntryRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "logged_at": format_logged_at(row.logged_at_ms),
        "payload_type": row.payload_type,
        "url": f"/api/v1/entries/{row.index}",
    }


@router.get(
    "/entries/{index}",
    summary="One entry: leaf bytes, decoded payload, signers, receipt",
    responses={200: {"model": Entry}, **problems(400, 404, 503)},
)
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
    "/entries/{index}/receipt",
    summary="An offline receipt for the entry at the latest checkpoint",
    responses={200: {"model": Receipt}, **problems(400, 404, 503)},
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
    "/entries",
    summary="Search entries by type, organisation, run, level, cycle, time, text",
    responses={200: {"model": SearchAnswer}, **problems(400, 503)},
)
def search_entries(
    request: Request,
    *,
    type: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    run: Annotated[str | None, Query(max_length=64)] = None,
    level: Annotated[int | None, Query(ge=0, le=63), Canonical] = None,
    cycle: Annotated[int | None, Query(ge=2000, le=2999), Canonical] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    since: UtcTime = None,
    until: UtcTime = None,
    after: Annotated[int, Query(ge=-1, le=2**63 - 1), Canonical] = -1,
    limit: Annotated[int, Query(ge=1, le=500), Canonical] = 50,
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


@router.get(
    "/schemas", summary="The entry types this log knows", responses={200: {"model": EntryTypes}}
)
def list_schemas() -> JSONBody:
    return JSONBody({"types": {t: f"/api/v1/schemas/{t}" for t in TYPES}})


@router.get(
    "/schemas/{entry_type}",
    summary="JSON Schema of an entry type's payload",
    response_class=Response,
    responses={
        200: content(
            "application/schema+json", {"type": "object"}, "a JSON Schema (draft 2020-12)"
        ),
        **problems(400, 404),
    },
)
def get_schema(
    entry_type: Annotated[str, Path(max_length=64, json_schema_extra={"enum": list(TYPES)})],
) -> Response:
    try:
        schema = json_schema(entry_type)
    except FormatError as exc:
        raise Problem(404, "unknown-type", str(exc)) from None
    return Response(orjson.dumps(schema), media_type="application/schema+json")


def _as_of(request: Request, at: str | None) -> int:
    """The time deadlines are judged at: *at*, or now (never before the newest entry)."""
    try:
        if at:
            return parse_time(at, "at")
    except FormatError as exc:
        raise Problem(400, "invalid-request", str(exc)) from None
    now: int = request.app.state.clock()
    return max(now, reader_of(request).head().logged_at_ms)


@router.get(
    "/audit",
    summary="The policy audit of the log: every finding, by rule",
    responses={200: {"model": Audit}, **problems(400, 404, 503)},
)
def get_audit(request: Request, at: UtcTime = None) -> JSONBody:
    """Deadlines are judged as of *at* (default: now, by the server's clock)."""
    view = view_of(request)
    if not view.governed:
        raise Problem(404, "not-governed", "a synthetic test log has no schedule to audit")
    now = _as_of(request, at)
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
    "/register",
    summary="The register of approved models: each approval with what it covers, and its receipt",
    responses={200: {"model": Register}, **problems(400, 404, 503)},
)
def get_register(request: Request, at: UtcTime = None) -> JSONBody:
    """Findings about each approval are judged as of *at* (default: now)."""
    view = view_of(request)
    if not view.governed:
        raise Problem(404, "not-governed", "a synthetic test log approves no models")
    reader = reader_of(request)
    now = _as_of(request, at)
    return JSONBody(register(reader, view, now))


@router.get(
    "/proofs/inclusion",
    summary="Inclusion proof of the entry at index in a published tree size",
    responses={200: {"model": InclusionProof}, **problems(400, 404, 503)},
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


@router.get(
    "/proofs/consistency",
    summary="Consistency proof between two published tree sizes",
    responses={200: {"model": ConsistencyProof}, **problems(400, 404, 503)},
)
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


@router.get(
    "/checkpoints/{size}",
    summary="The signed checkpoint published at a tree size",
    response_class=PlainTextResponse,
    responses=problems(400, 404, 503),
)
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
