"""What ``/openapi.json`` says: the API's answers, errors and request body, as clients see them.

The routes build their answers themselves (orjson, :class:`~ledger.api.responses.JSONBody`),
so FastAPI would describe every answer as "any JSON" and every refusal as its own 422
``HTTPValidationError``, which this server never sends. The models here describe the
JSON each route answers (documentation only: nothing is validated against them at run
time); :func:`problems` the RFC 9457 problem documents it answers instead; and
:func:`document` is the generated document with FastAPI's 422 taken out.

``tests/test_api_fuzz.py`` holds the server to this description: schemathesis sends
what the schema allows and what it does not, and checks every answer against it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from verifier.core.leaf import MAX_PAYLOAD_TYPE_LENGTH, MAX_SIGNATURES

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: Canonical padded base64 (what the verifier's strict decoder accepts).
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$"
#: A SHA-256 in base64 (a leaf hash, a proof's hash).
HASH_BASE64 = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
LOGGED_AT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
KEYID = r"^[0-9a-f]{64}$"

#: An RFC 3339 UTC time as the API reads one (``2027-01-04T09:00:00Z``, up to 6 digits of
#: a second), or nothing (an empty value is no bound): a real date from year 1 to 9999
#: and a time without leap seconds. (29 February is left out, which the API also
#: accepts in leap years: a pattern cannot tell leap years.)
UTC_TIME = (
    r"^(?:(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-"
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z)?$"
)

#: A tile path after ``/log/tile/`` in its one canonical spelling (C2SP tlog-tiles): a
#: level 0..63 or ``entries``, the index in 3-digit groups (``x`` before all but the
#: last, no leading zero group), and a partial width 1..255. With TILE_PATH_MAX_LENGTH.
TILE_PATH = (
    r"^(?:[0-9]|[1-5][0-9]|6[0-3]|entries)/"
    r"(?:x(?:[1-9][0-9]{2}|0[1-9][0-9]|00[1-9])/(?:x[0-9]{3}/)*)?[0-9]{3}"
    r"(?:\.p/(?:[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$"
)
#: verifier.core.tiles.MAX_PATH_LENGTH less the "tile/" the route's prefix holds.
TILE_PATH_MAX_LENGTH = 64 - len("tile/")

#: The DSSE envelope an append sends (verifier.core.leaf.check_envelope). Two signatures
#: with one keyid, and an envelope whose leaf would exceed 65,535 bytes, are refused
#: (400) though no JSON Schema can say so.
ENVELOPE: dict[str, Any] = {
    "title": "Envelope",
    "description": "A DSSE v1 envelope signed by its author's Ed25519 key(s).",
    "type": "object",
    "required": ["payload", "payloadType", "signatures"],
    "additionalProperties": False,
    "properties": {
        "payload": {
            "type": "string",
            "pattern": BASE64,
            "description": "the payload's bytes (UTF-8 JSON), in canonical padded base64",
        },
        "payloadType": {
            "type": "string",
            "maxLength": MAX_PAYLOAD_TYPE_LENGTH,
            "pattern": r"^application/vnd\.frontier-ledger\.[a-z][a-z0-9_]{0,63}"
            r"\.v[1-9][0-9]{0,3}\+json$",
        },
        "signatures": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SIGNATURES,
            "items": {
                "type": "object",
                "required": ["keyid", "sig"],
                "additionalProperties": False,
                "properties": {
                    "keyid": {
                        "type": "string",
                        "pattern": KEYID,
                        "description": "hex SHA-256 of the raw Ed25519 public key",
                    },
                    "sig": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9+/]{85}[AQgw]==$",
                        "description": "the 64-byte Ed25519 signature over the DSSE PAE, base64",
                    },
                },
            },
        },
    },
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Strict):
    """An RFC 9457 problem document: every error the API answers."""

    type: str = Field(pattern=r"^urn:frontier-ledger:problem:[a-z0-9-]+$")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    code: str | None = Field(None, description="why admission refused the entry")
    rule: str | None = Field(None, description="the schedule's rule a policy violation breaks")


class Receipt(_Strict):
    """An offline receipt: the leaf and a C2SP tlog-proof against a signed checkpoint."""

    media_type: str
    leaf: str = Field(pattern=BASE64)
    tlog_proof: str


class SubmissionSchedule(_Strict):
    cycle: int
    on_time: bool
    deadline: str
    decision_date: str
    decide_by: str
    decide_by_time: str
    earlier_late: list[int]
    remedies: int | None
    status: str


class AppendReceipt(_Strict):
    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=HASH_BASE64)
    logged_at: str = Field(pattern=LOGGED_AT)
    tree_size: int = Field(ge=1)
    checkpoint: str
    inclusion_proof: list[str]
    duplicate: bool
    receipt: Receipt
    schedule: SubmissionSchedule | None = Field(
        None, description="a submission's standing on the schedule (governed logs)"
    )


class EntrySummary(_Strict):
    index: int = Field(ge=0)
    logged_at: str = Field(pattern=LOGGED_AT)
    payload_type: str
    url: str


class SearchAnswer(_Strict):
    entries: list[EntrySummary]
    next_after: int | None = Field(description="pass as after= for the next page; null: last")
    note: str


class Signer(_Strict):
    keyid: str = Field(pattern=KEYID)
    holder: str | None
    roles: list[str]
    granted_at: int | None
    revoked_at: int | None


class Entry(_Strict):
    index: int = Field(ge=0)
    logged_at: str = Field(pattern=LOGGED_AT)
    payload_type: str
    url: str
    leaf: str = Field(pattern=BASE64)
    leaf_hash: str = Field(pattern=HASH_BASE64)
    type: str
    payload: dict[str, Any] | None = Field(description="the decoded payload (null if it fails)")
    payload_error: str | None = Field(None, description="why the payload does not parse")
    signers: list[Signer]
    receipt: Receipt


class EntryTypes(_Strict):
    types: dict[str, str] = Field(description="each entry type, and the URL of its schema")


class Finding(_Strict):
    rule: str
    severity: str
    indices: list[int]
    message: str


class Audit(_Strict):
    origin: str
    tree_size: int = Field(ge=0)
    at: str = Field(pattern=LOGGED_AT)
    violations: int = Field(ge=0)
    findings: list[Finding]


class RegisterResult(_Strict):
    entry: int = Field(ge=0)
    url: str
    logged_at: str = Field(pattern=LOGGED_AT)
    suite: int
    suite_id: str
    suite_version: str
    sealed_part: bool
    outcome: str
    categories: list[dict[str, str]]


class RegisterContest(_Strict):
    entry: int = Field(ge=0)
    url: str
    logged_at: str = Field(pattern=LOGGED_AT)
    summary: str
    resolution: int | None
    outcome: str
    remedied: bool


class RegisterUpdate(_Strict):
    entry: int = Field(ge=0)
    url: str
    logged_at: str = Field(pattern=LOGGED_AT)
    offered_from: str
    description: str
    model_digest: str
    added_posttraining_flop: str
    significant: bool
    evaluated_as: int | None


class RegisterAccess(_Strict):
    entry: int = Field(ge=0)
    url: str
    institutions: list[str]
    from_: str = Field(alias="from")
    until: str


class Deregulated(_Strict):
    date: str
    entry: int = Field(ge=0)
    url: str


class EvaluatedUpdate(_Strict):
    """The significant update an approval evaluates (it approves an updated model)."""

    entry: int = Field(ge=0)
    url: str
    of_decision: int = Field(ge=0)
    of_url: str


class Remedy(_Strict):
    """The upheld contest finding a changed model answers."""

    resolution: int = Field(ge=0)
    resolution_url: str
    finding: int = Field(ge=0)
    finding_url: str
    outcome: str
    of_submission: int = Field(ge=0)


class ApprovedModel(_Strict):
    """One approval: what it covers (the model, its configuration, its evaluation), what
    followed (contests, updates, researchers' access, deregulation) and its receipt."""

    decision: int = Field(ge=0)
    url: str
    decided_at: str = Field(pattern=LOGGED_AT)
    lab: str
    lab_name: str
    model: str
    run_id: str
    run_url: str | None
    level: int
    cycle: int
    submission: int = Field(ge=0)
    submitted_at: str = Field(pattern=LOGGED_AT)
    on_time: bool
    model_digest: str
    final_flop: str
    inference: dict[str, Any] | None
    post_training_flop: str
    updates_model: int | None
    evaluates_update: EvaluatedUpdate | None
    results: list[RegisterResult]
    contests: list[RegisterContest]
    remedies: Remedy | None
    updates: list[RegisterUpdate]
    research_access: list[RegisterAccess]
    deregulated_from: Deregulated | None
    findings: list[Finding]
    violations: int = Field(ge=0)
    receipt: str
    api_receipt: str


class Register(_Strict):
    """The register of approved models, derived from the log (verify the log for completeness)."""

    as_of: str = Field(pattern=LOGGED_AT)
    tree_size: int = Field(ge=0)
    approved: int = Field(ge=0)
    with_violations: int = Field(ge=0)
    models: list[ApprovedModel]
    note: str


class InclusionProof(_Strict):
    index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    leaf_hash: str = Field(pattern=HASH_BASE64)
    proof: list[str]
    checkpoint: str


class ConsistencyProof(_Strict):
    old_size: int = Field(ge=0)
    new_size: int = Field(ge=0)
    proof: list[str]
    old_checkpoint: str
    new_checkpoint: str


class Liveness(_Strict):
    ok: bool
    detail: str


class Check(_Strict):
    ok: bool
    detail: str


class Readiness(_Strict):
    ready: bool
    checks: dict[str, Check]


_ERRORS = {
    400: "Malformed input: a parameter of the wrong type or out of range, a bad body",
    403: "The envelope's signatures do not admit it",
    404: "No such entry, tile, blob, schema or published tree size",
    408: "The request body did not arrive in time; the connection is closed",
    409: "The entry would break a rule of the schedule (policy-violation; rule names it)",
    413: "Request body over 96 KiB",
    415: "Not sent as application/json",
    422: "The payload does not fit the log: schema, wrong-log or bad-reference",
    503: "Overloaded, not durable, read-only, or the store cannot be read; see Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route: problem documents, with these statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": _ERRORS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 503:
            response["headers"] = _RETRY_AFTER
        out[status] = response
    return out


def content(media_type: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A non-JSON answer (text, bytes, a JSON Schema document)."""
    return {"description": description, "content": {media_type: {"schema": schema}}}


def document(app: FastAPI) -> dict[str, Any]:
    """``/openapi.json``: FastAPI's document, with this server's errors (generated once)."""
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        for path in doc.get("paths", {}).values():
            for operation in path.values():
                if _is_fastapi_422(operation):  # validation errors are 400 problems here
                    del operation["responses"]["422"]
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas["Envelope"] = ENVELOPE
        app.openapi_schema = doc
    return app.openapi_schema


def _is_fastapi_422(operation: dict[str, Any]) -> bool:
    schema = (
        operation.get("responses", {})
        .get("422", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    )
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))
