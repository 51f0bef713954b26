"""What each public page shows, as plain data: the HTML, the JSON twin and the CSV read this.

Every function takes the ledger's read side (:class:`ledger.read.reader.LogReader`
for bytes and proofs, :class:`ledger.read.views.LogView` for the replayed key set and
the audit) and returns JSON-ready dictionaries, so a page and its ``?format=json``
twin can never disagree. Nothing here writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ledger.errors import NotFound
from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.storage.protocol import EntryRow, SearchQuery
from public_site import trust
from public_site.labels import (
    DOCUMENT_FIELDS,
    PROTOCOL_FIELDS,
    a_type,
    field_label,
    type_label,
)
from verifier.core.checkpoint import Checkpoint, parse_checkpoint
from verifier.core.encoding import b64encode
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.core.tlog_proof import TlogProof
from verifier.entries.codec import parse_payload, references
from verifier.errors import FormatError
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import RULES, fmt_flop
from verifier.policy.rules.reveals import COMMITMENT_PREFIX
from verifier.policy.status import submission_schedule

SEARCH_NOTE = (
    "Search is a convenience: it can miss what it was never indexed for. "
    "Completeness comes from the log itself — verify it with frontier-verify, "
    "which reads every entry."
)
PAGE_SIZE = 50


@dataclass(frozen=True)
class Site:
    reader: LogReader
    view: LogView
    vkey: str
    now_ms: int
    #: the log's ML-DSA-44 (post-quantum) vkey, when it has one (DATA/log-mldsa.vkey)
    mldsa_vkey: str | None = None
    #: the witness policy the log publishes (C2SP tlog-policy text), if it has one
    witness_policy: str | None = None


# -- entries -------------------------------------------------------------------------


def _detail(entry_type: str, payload: dict[str, Any]) -> str:
    """What this entry says, in a few words (for lists and feeds)."""
    for key in ("outcome", "marker", "legal_name", "holder", "name", "model_name", "summary"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value.replace("_", " ")
    if entry_type in ("threshold_schedule", "deregulation"):
        return f"level {payload.get('level')} from {payload.get('effective_date')}"
    if entry_type == "threshold_postponement":
        lv, a, b = payload.get("level"), payload.get("from_cycle"), payload.get("to_cycle")
        return f"level {lv}: lift of {a} postponed to {b}"
    if entry_type == "log_key_change":
        new = str(payload.get("new_vkey", "")).split("+")
        key = "+".join(new[:2]) if len(new) == 3 else "?"
        old, until = payload.get("old_key_hash"), payload.get("overlap_end")
        return f"log key {old} → {key}, both until {until}"
    return ""


def _headline(row: EntryRow, entry_type: str, payload: dict[str, Any] | None) -> str:
    """A one-line description of an entry: whose run, and what it says."""
    if payload is None:
        return "(payload does not parse)"
    f = row.facets
    detail = _detail(entry_type, payload)
    if f is not None and f.org and f.run_id:
        return f"{f.org}: {f.run_id}" + (f" — {detail}" if detail else "")
    return detail or entry_type.replace("_", " ")


def summary(site: Site, row: EntryRow) -> dict[str, Any]:
    described = site.view.describe(row.leaf)
    payload = described.get("payload")
    org = row.facets.org if row.facets is not None else None
    if org is None and isinstance(payload, dict) and isinstance(payload.get("org"), str):
        org = payload["org"]
    return {
        "index": row.index,
        "logged_at": format_logged_at(row.logged_at_ms),
        "type": described["type"],
        "org": org,
        "headline": _headline(row, described["type"], payload),
        "signers": [s["holder"] or s["keyid"][:16] for s in described["signers"]],
        "url": f"/entries/{row.index}",
    }


def newest(site: Site, count: int = 10) -> list[dict[str, Any]]:
    rows = site.reader.store.search(SearchQuery(limit=count, newest_first=True))
    return [summary(site, r) for r in rows]


def entry_list(site: Site, query: SearchQuery) -> dict[str, Any]:
    rows = site.reader.store.search(query)
    items = [summary(site, r) for r in rows]
    more = len(rows) == query.limit
    return {
        "entries": items,
        "next_after": rows[-1].index if more and rows else None,
        "note": SEARCH_NOTE,
        "tree_size": site.reader.head().size,
    }


def _schedule(site: Site, index: int, entry_type: str) -> dict[str, Any] | None:
    """For a submission: on time or late, and when it is decided (what its receipt said)."""
    if entry_type != "submission":
        return None
    engine = site.view.catch_up().engine
    if engine is None or engine.state.charter is None:
        return None
    schedule = submission_schedule(engine.state, index)
    return None if schedule is None else schedule.to_json()


def entry_type(site: Site, index: int) -> str:
    return parse_leaf(site.reader.entry(index).leaf).envelope.entry_type


def entry_page(site: Site, index: int) -> dict[str, Any]:
    """One entry with everything needed to check it, in the browser or offline."""
    row = site.reader.entry(index)
    described = site.view.describe(row.leaf)
    checkpoint = trust.cosigned(site, index)
    size, proof = site.reader.inclusion(index, checkpoint.size)
    receipt = TlogProof(index, tuple(proof), checkpoint.note.encode()).to_text()
    payload = described.get("payload")
    refs: list[dict[str, Any]] = []
    try:
        body = parse_payload(parse_leaf(row.leaf).envelope.payload).body
        refs = [link(site, target, path) for path, target, _ in references(body)]
    except FormatError:
        pass
    reveal = _reveal(site, payload, checkpoint.size) if described["type"] == "reveal" else None
    return {
        "index": index,
        "logged_at": format_logged_at(row.logged_at_ms),
        "type": described["type"],
        "type_label": type_label(described["type"]),
        "payload_type": described["payload_type"],
        "payload": payload,
        "payload_error": described.get("payload_error"),
        # A payload that does not parse is still shown, as text, for people to read.
        "payload_text": None
        if payload is not None
        else parse_leaf(row.leaf).envelope.payload.decode("utf-8", errors="replace"),
        "format": _format(payload),
        "fields": payload_fields(site, index, payload, refs, reveal),
        "signers": described["signers"],
        "refers_to": refs,
        "schedule": _schedule(site, index, described["type"]),
        "referred_by": [link(site, i, path) for i, path in site.view.referrers(index)],
        "earliest_witness_time": _earliest_witness(site, index),
        "leaf": row.leaf.decode("utf-8", errors="replace"),
        "leaf_b64": b64encode(row.leaf),
        "leaf_hash": b64encode(row.leaf_hash),
        "proof": {
            "tree_size": size,
            "hashes": [b64encode(h) for h in proof],
            "checkpoint": checkpoint.note,
            "vkey": site.vkey,
            "cosigned_by": sorted(_signer(a, v) for a, v in checkpoint.cosignatures.items()),
            "policy": site.witness_policy,
            "policy_url": trust.POLICY_URL if site.witness_policy is not None else None,
        },
        "reveal": reveal,
        "receipt": receipt,
        "api": f"/api/v1/entries/{index}",
    }


def link(site: Site, index: int, path: str) -> dict[str, Any]:
    """Another entry, named with its type and the field through which the two are linked."""
    kind = entry_type(site, index)
    return {
        "index": index,
        "url": f"/entries/{index}",
        "field": path,
        "field_label": field_label(path),
        "type": kind,
        "a_type": a_type(kind),
    }


def _format(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The protocol fields every payload carries, shown once rather than as what it says."""
    if payload is None:
        return None
    return {k: payload.get(k) for k in PROTOCOL_FIELDS}


def payload_fields(
    site: Site,
    index: int,
    payload: dict[str, Any] | None,
    refs: list[dict[str, Any]],
    reveal: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """What the entry says, field by field in the format's order, with a reader's label;
    references and documents become links."""
    if payload is None:
        return []
    linked: dict[str, list[dict[str, Any]]] = {}
    for r in refs:
        linked.setdefault(r["field"].split("[", 1)[0], []).append(r)
    out = []
    for name, value in payload.items():
        if name in PROTOCOL_FIELDS:
            continue
        item: dict[str, Any] = {
            "name": name,
            "label": field_label(name),
            "value": value,
            "refs": None,
            "document": None,
        }
        if name in linked:
            item["refs"] = linked[name]
        elif name in DOCUMENT_FIELDS and isinstance(value, dict):
            item["document"] = _document_field(site, index, value)
        elif reveal is not None and name == "content_sha256":
            item["document"] = {
                "sealed": False,
                "sha256": value,
                "url": reveal["document_url"],
                "raw_url": reveal["raw_url"],
            }
        out.append(item)
    return out


def document_url(digest: str) -> str:
    return f"/documents/{digest}"


def blob_url(digest: str) -> str:
    return f"/log/blobs/sha256/{digest}"


def blob(site: Site, digest: str) -> bytes | None:
    """A published document, if this server has it and it has its digest."""
    try:
        data = site.reader.blob(digest)
    except (NotFound, FormatError):
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


def commitment(salt_b64: str, content: bytes) -> str:
    """FORMATS.md "Blobs and commitments": SHA-256(prefix || salt32 || content), hex."""
    return hashlib.sha256(COMMITMENT_PREFIX + base64.b64decode(salt_b64) + content).hexdigest()


def _document_field(site: Site, index: int, doc: dict[str, Any]) -> dict[str, Any]:
    """A document field: where to read it — served by digest if public; if sealed, the
    revealed document whose commitment matches, once a reveal has been logged."""
    digest = str(doc.get("sha256", ""))
    out: dict[str, Any] = {
        "sealed": bool(doc.get("sealed")),
        "sha256": digest,
        "url": None,
        "raw_url": None,
        "revealed_in": None,
    }
    if not out["sealed"]:
        if blob(site, digest) is not None:
            out["url"], out["raw_url"] = document_url(digest), blob_url(digest)
        return out
    for i, path in site.view.referrers(index):
        if path != "commitment":
            continue
        revealed = site.view.describe(site.reader.entry(i).leaf).get("payload") or {}
        content_sha256 = str(revealed.get("content_sha256", ""))
        content = blob(site, content_sha256)
        if content is not None and commitment(str(revealed.get("salt")), content) == digest:
            out["revealed_in"] = i
            out["url"], out["raw_url"] = document_url(content_sha256), blob_url(content_sha256)
            break
    return out


def _reveal(site: Site, payload: dict[str, Any] | None, size: int) -> dict[str, Any] | None:
    """A reveal: the entry that sealed the document, with its leaf and inclusion proof
    (so the browser checks the commitment it holds), and where to read the document."""
    if payload is None or not isinstance(payload.get("commitment"), int):
        return None
    sealed = payload["commitment"]
    digest = str(payload.get("content_sha256", ""))
    available = blob(site, digest) is not None
    row = site.reader.entry(sealed)
    _, proof = site.reader.inclusion(sealed, size)
    return {
        "commitment": sealed,
        "commitment_url": f"/entries/{sealed}",
        "commitment_type": a_type(entry_type(site, sealed)),
        "document_url": document_url(digest) if available else None,
        "raw_url": blob_url(digest) if available else None,
        "proof": {
            "index": sealed,
            "leaf": b64encode(row.leaf),
            "hashes": [b64encode(h) for h in proof],
        },
    }


#: A line this long is part of a paragraph that was wrapped by hand, not a line of its own.
REFLOW_CHARS = 60


def text_blocks(text: str) -> list[dict[str, Any]]:
    """A plain-text document as blocks a page can lay out at any width: paragraphs
    wrapped by hand become one paragraph; "- " lines become a list; a block of short
    lines (a title, an address) keeps its lines. The raw text is the document."""
    blocks: list[dict[str, Any]] = []
    for block in (b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()):
        lines = block.strip("\n").split("\n")
        if lines[0].startswith("- ") and all(ln.startswith(("- ", "  ")) for ln in lines):
            items: list[str] = []
            for ln in lines:
                if ln.startswith("- "):
                    items.append(ln[2:].strip())
                else:
                    items[-1] += " " + ln.strip()
            blocks.append({"kind": "list", "items": items})
        elif any(len(ln) >= REFLOW_CHARS for ln in lines):
            blocks.append({"kind": "paragraph", "text": " ".join(ln.strip() for ln in lines)})
        else:
            blocks.append({"kind": "lines", "lines": [ln.strip() for ln in lines]})
    return blocks


def _earliest_witness(site: Site, index: int) -> str | None:
    """When a witness first cosigned a checkpoint that includes the entry (it existed by then)."""
    ts = site.reader.store.earliest_cosignature_after(index)
    if ts is None:
        return None
    return trust.iso(ts)


def document_page(site: Site, digest: str) -> dict[str, Any]:
    """A document named by digest: its text if this server publishes it, and who names it."""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise NotFound("a document is named by the 64 lower-case hex digits of its SHA-256")
    naming = [link(site, i, path) for i, path in site.view.naming(digest)]
    content = blob(site, digest)
    if content is None and not naming:
        raise NotFound(f"no document {digest} in this log")
    try:
        text = content.decode("utf-8") if content is not None else None
    except UnicodeDecodeError:
        text = None
    sealed = [n for n in naming if n["field"] != "content_sha256"] if content is None else []
    return {
        "sha256": digest,
        "available": content is not None,
        "size": len(content) if content is not None else None,
        "text": text,
        "blocks": text_blocks(text) if text is not None else [],
        "raw_url": blob_url(digest) if content is not None else None,
        "named_by": naming,
        # Named only as a commitment: the content is sealed, not published.
        "sealed_in": sealed,
    }


# -- home ------------------------------------------------------------------------------


def note_body(note: bytes) -> Checkpoint:
    """The checkpoint in the log's own latest note (signed by this server; shown, not trusted)."""
    return parse_checkpoint(note.split(b"\n\n", 1)[0].decode() + "\n")


def checkpoint_info(site: Site) -> dict[str, Any]:
    head = site.reader.head()
    cp = note_body(head.checkpoint)
    cosigned = site.reader.store.cosignatures(head.size)
    return {
        "size": head.size,
        "root": b64encode(cp.root),
        "origin": cp.origin,
        "note": head.checkpoint.decode(),
        # The checkpoint moves with every entry: its age is the last entry's, by the site's clock.
        "last_entry_at": format_logged_at(head.logged_at_ms),
        "age": trust.age(site.now_ms - head.logged_at_ms),
        # The witnesses' times, by the site's clock too: in a simulation the witnesses
        # run on the simulated calendar, as the site does.
        "cosigned_by": sorted(
            (
                {
                    "witness": _signer(alias, stored),
                    "name": alias,
                    "at": trust.iso(stored[1]),
                    "age": trust.age(site.now_ms - stored[1] * 1000),
                }
                for alias, stored in cosigned.items()
            ),
            key=lambda w: w["witness"],
        ),
    }


def _signer(alias: str, stored: tuple[str, int]) -> str:
    """The witness's key name from its signature line ("— <name> <sig>"), not our local alias."""
    parts = stored[0].split(" ")
    return parts[1] if len(parts) == 3 and parts[0] == "\u2014" else alias


def schedule_now(site: Site) -> dict[str, Any] | None:
    """Where the schedule stands at the site's clock: cycle, frontier, cap, next dates."""
    auditor = site.view.catch_up()
    engine = auditor.engine
    if engine is None or engine.state.charter is None:
        return None
    now = site.now_ms
    cal = engine.state.cal
    year = dt.datetime.fromtimestamp(now // 1000, tz=dt.UTC).year
    level = engine.state.frontier_at(now)
    cap = engine.state.cap_at(level, now)
    upcoming: list[tuple[int, str]] = []
    for y in (year, year + 1):
        upcoming.append((cal.lift_ms(y), f"lift date of cycle {y}"))
        upcoming.append((cal.window_closes_ms(y) - 1, f"submission deadline of cycle {y}"))
        upcoming.append((cal.decision_day(y)[0], f"decision date of cycle {y}"))
    nxt = sorted((ms, what) for ms, what in upcoming if ms > now)
    return {
        "today": fmt_date(now),
        "cycle": year,
        "frontier_level": level,
        "cap_flop": fmt_flop(cap) if cap is not None else None,
        "next": [
            {"date": fmt_date(ms), "what": what, "in_days": (ms - now) // DAY_MS}
            for ms, what in nxt[:3]
        ],
        "simulation": engine.state.charter.simulation,
    }


def home(site: Site) -> dict[str, Any]:
    return {
        "checkpoint": checkpoint_info(site),
        "witnesses": trust.witnesses(site),
        "schedule": schedule_now(site),
        "newest": newest(site),
    }


# -- keys and compliance ------------------------------------------------------------------


def keys(site: Site) -> dict[str, Any]:
    auditor = site.view.catch_up()
    registry = auditor.replay.registry
    out: list[dict[str, Any]] = []
    if registry is not None:
        for rec in sorted(registry.keys.values(), key=lambda r: (r.granted_at, r.keyid)):
            out.append(
                {
                    "keyid": rec.keyid,
                    "holder": rec.holder,
                    "roles": sorted(rec.roles),
                    "granted_at": rec.granted_at,
                    "revoked_at": rec.revoked_at,
                    "public_key": b64encode(rec.public_key),
                }
            )
    return {
        "vkey": site.vkey,
        "mldsa_vkey": site.mldsa_vkey,
        "witnesses": trust.witnesses(site),
        "board_quorum": registry.board_quorum if registry is not None else None,
        "decision_quorum": registry.decision_quorum if registry is not None else None,
        "keys": out,
        "log_key_changes": _log_key_changes(site),
    }


def _log_key_changes(site: Site) -> list[dict[str, Any]]:
    """The log's own key changes (``log_key_change`` entries), oldest first."""
    out: list[dict[str, Any]] = []
    for row in site.reader.store.search(SearchQuery(entry_type="log_key_change", limit=PAGE_SIZE)):
        payload = site.view.describe(row.leaf).get("payload")
        if not isinstance(payload, dict):
            continue
        out.append(
            {
                "index": row.index,
                "logged_at": format_logged_at(row.logged_at_ms),
                "new_vkey": payload.get("new_vkey"),
                "new_mldsa_vkey": payload.get("new_mldsa_vkey"),
                "old_key_hash": payload.get("old_key_hash"),
                "overlap_end": payload.get("overlap_end"),
                "reason": payload.get("reason"),
                "url": f"/entries/{row.index}",
            }
        )
    return out


def compliance(site: Site) -> dict[str, Any]:
    report = site.view.audit(site.now_ms)
    groups = []
    for rule, findings in report.by_rule().items():
        groups.append(
            {
                "rule": rule,
                "text": RULES.get(rule, ""),
                "findings": [
                    {
                        **f.to_json(),
                        "links": [{"index": i, "url": f"/entries/{i}"} for i in f.indices],
                    }
                    for f in findings
                ],
            }
        )
    return {
        "as_of": format_logged_at(site.now_ms),
        "tree_size": report.size,
        "violations": len(report.violations),
        "rules": groups,
        "all_rules": [{"rule": r, "text": t} for r, t in RULES.items()],
    }


def not_found(index: int) -> NotFound:
    return NotFound(f"no entry at index {index}")
