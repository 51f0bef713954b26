"""What each public page shows, as plain data: the HTML, the JSON twin and the CSV read this.

Every function takes the ledger's read side (:class:`ledger.read.reader.LogReader`
for bytes and proofs, :class:`ledger.read.views.LogView` for the replayed key set and
the audit) and returns JSON-ready dictionaries, so a page and its ``?format=json``
twin can never disagree. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from ledger.errors import NotFound
from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.storage.protocol import EntryRow, SearchQuery
from verifier.core.checkpoint import Checkpoint, parse_checkpoint
from verifier.core.encoding import b64encode
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.core.tlog_proof import TlogProof
from verifier.entries.codec import parse_payload, references
from verifier.errors import FormatError
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import RULES, fmt_flop
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


def entry_page(site: Site, index: int) -> dict[str, Any]:
    """One entry with everything needed to check it, in the browser or offline."""
    row = site.reader.entry(index)
    described = site.view.describe(row.leaf)
    head = site.reader.head()
    size, proof = site.reader.inclusion(index, head.size)
    note = head.checkpoint.decode()
    receipt = TlogProof(index, tuple(proof), head.checkpoint).to_text()
    refs: list[dict[str, Any]] = []
    try:
        body = parse_payload(parse_leaf(row.leaf).envelope.payload).body
        refs = [
            {"field": path, "index": target, "url": f"/entries/{target}"}
            for path, target, _ in references(body)
        ]
    except FormatError:
        pass
    cosigned = site.reader.store.cosignatures(head.size)
    return {
        "index": index,
        "logged_at": format_logged_at(row.logged_at_ms),
        "type": described["type"],
        "payload_type": described["payload_type"],
        "payload": described.get("payload"),
        "payload_error": described.get("payload_error"),
        # A payload that does not parse is still shown, as text, for people to read.
        "payload_text": None
        if described.get("payload") is not None
        else parse_leaf(row.leaf).envelope.payload.decode("utf-8", errors="replace"),
        "signers": described["signers"],
        "refers_to": refs,
        "schedule": _schedule(site, index, described["type"]),
        "referred_by": [
            {"field": path, "index": i, "url": f"/entries/{i}"}
            for i, path in site.view.referrers(index)
        ],
        "earliest_witness_time": _earliest_witness(site, index),
        "leaf": row.leaf.decode("utf-8", errors="replace"),
        "leaf_b64": b64encode(row.leaf),
        "leaf_hash": b64encode(row.leaf_hash),
        "proof": {
            "tree_size": size,
            "hashes": [b64encode(h) for h in proof],
            "checkpoint": note,
            "vkey": site.vkey,
            "cosigned_by": sorted(_signer(a, v) for a, v in cosigned.items()),
        },
        "receipt": receipt,
        "api": f"/api/v1/entries/{index}",
    }


def _earliest_witness(site: Site, index: int) -> str | None:
    """When a witness first cosigned a checkpoint that includes the entry (it existed by then)."""
    ts = site.reader.store.earliest_cosignature_after(index)
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- home ------------------------------------------------------------------------------


def note_body(note: bytes) -> Checkpoint:
    """The checkpoint in the log's own latest note (signed by this server; shown, not trusted)."""
    return parse_checkpoint(note.split(b"\n\n", 1)[0].decode() + "\n")


def checkpoint_info(site: Site) -> dict[str, Any]:
    head = site.reader.head()
    cp = note_body(head.checkpoint)
    cosigned = site.reader.store.cosignatures(head.size)
    wall = time.time()  # cosignature times are the witnesses' real clocks
    return {
        "size": head.size,
        "root": b64encode(cp.root),
        "origin": cp.origin,
        "note": head.checkpoint.decode(),
        # The checkpoint moves with every entry: its age is the last entry's, by the site's clock.
        "last_entry_at": format_logged_at(head.logged_at_ms),
        "age": _age(site.now_ms - head.logged_at_ms),
        "cosigned_by": sorted(
            (
                {
                    "witness": _signer(alias, stored),
                    "at": dt.datetime.fromtimestamp(stored[1], tz=dt.UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "age": _age(int((wall - stored[1]) * 1000)),
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


def _age(ms: int) -> str:
    """A duration in words: "3 days", "5 hours", "12 minutes", "just now"."""
    s = max(ms, 0) // 1000
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if s >= size:
            n = s // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "just now"


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
