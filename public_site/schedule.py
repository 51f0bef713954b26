"""The schedule as people read it: runs with their whole history, labs' and the regulator's
scorecards, and the timeline — all from the policy engine's replayed state and the log.

Like :mod:`public_site.pages`, every function returns JSON-ready data for a page
and its JSON twin. Required and actual dates come from the same calendar the
audit uses (:class:`verifier.policy.calendar.Calendar`), so a scorecard never
disagrees with the compliance page.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import NotFound
from public_site.pages import Site, link, payload_fields
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.entries.codec import parse_payload, payload_to_json, references
from verifier.errors import FormatError
from verifier.policy.calendar import DAY_MS
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import fmt_flop
from verifier.policy.state import PolicyState, Run, Sub
from verifier.policy.status import submission_schedule

#: Entry types that make up a run's history, after its pre-registration(s).
RUN_EVENTS = (
    "training_started",
    "training_halted",
    "training_completed",
    "submission",
    "eval_result",
    "contest_finding",
    "contest_resolution",
    "decision",
    "reveal",
    # after its approval: declared updates, researchers' access; and what others say of it
    "model_update",
    "research_access",
    "compute_attestation",
    "observer_statement",
)


@dataclass
class Entry:
    index: int
    type: str
    logged_ms: int
    payload: dict[str, Any]


@dataclass
class Reader:
    """Entries of one request, read and decoded once."""

    site: Site
    cache: dict[int, Entry] = field(default_factory=dict)

    def get(self, index: int) -> Entry:
        e = self.cache.get(index)
        if e is None:
            row = self.site.reader.entry(index)
            parsed = parse_leaf(row.leaf)
            try:
                payload = payload_to_json(parse_payload(parsed.envelope.payload))
            except FormatError:
                payload = {}
            e = self.cache[index] = Entry(
                index, parsed.envelope.entry_type, row.logged_at_ms, payload
            )
        return e


def _engine(site: Site) -> PolicyEngine:
    engine = site.view.catch_up().engine
    if engine is None or engine.state.charter is None:
        raise NotFound("this log has no charter, so it has no schedule")
    return engine


def _status(engine: PolicyEngine, index: int) -> str | None:
    schedule = submission_schedule(engine.state, index)
    return None if schedule is None else schedule.sentence()


def _days_late(actual_ms: int, due_ms: int) -> int:
    """Whole days after *due_ms* (0 when on time)."""
    return 0 if actual_ms <= due_ms else (actual_ms - due_ms + DAY_MS - 1) // DAY_MS


def _versions(engine: PolicyEngine, root: int) -> list[Run]:
    runs = engine.state.runs
    out = [runs[root]]
    while out[-1].superseded_by is not None and out[-1].superseded_by in runs:
        out.append(runs[out[-1].superseded_by])
    return out


def _history(site: Site, reader: Reader, versions: list[Run]) -> Iterator[Entry]:
    """Every entry that refers to the run or, in turn, to an entry of its history: its
    training, submissions, results, contests and decisions; after an approval, the
    model's declared updates and researchers' access; compute attested for the run and
    observers' statements about any of these."""
    seen: set[int] = {v.index for v in versions}
    todo = [v.index for v in versions]
    while todo:
        target = todo.pop()
        for index, _ in site.view.referrers(target):
            if index in seen:
                continue
            e = reader.get(index)
            if e.type not in RUN_EVENTS:
                continue
            seen.add(index)
            yield e
            todo.append(index)


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, str]]:
    """Fields an amendment changed, with old and new values as text."""
    out = []
    for key in sorted(set(before) | set(after)):
        if key in ("supersedes", "log", "type", "v"):
            continue
        a, b = before.get(key), after.get(key)
        if a != b:
            out.append({"field": key, "before": _text(a), "after": _text(b)})
    return out


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def run_page(site: Site, index: int) -> dict[str, Any]:
    """A pre-registration with every amendment, training event, submission, result and decision."""
    engine = _engine(site)
    run = engine.state.runs.get(index)
    if run is None:
        raise NotFound(f"entry {index} is not a pre-registration of this log")
    reader = Reader(site)
    versions = _versions(engine, run.root)
    latest = versions[-1]
    amendments = []
    for old, new in itertools.pairwise(versions):
        amendments.append(
            {
                "from": old.index,
                "to": new.index,
                "logged_at": format_logged_at(new.logged_ms),
                "changes": _diff(reader.get(old.index).payload, reader.get(new.index).payload),
            }
        )
    events = sorted(_history(site, reader, versions), key=lambda e: e.index)
    decision = next((e for e in reversed(events) if e.type == "decision"), None)
    status = "pre-registered"
    for e in events:
        status = {
            "training_started": "training",
            "training_halted": "halted",
            "training_completed": "trained",
            "submission": "submitted",
            "decision": f"decided: {e.payload.get('outcome', '?')}",
        }.get(e.type, status)
    chain = {v.index for v in versions} | {e.index for e in events}
    findings = [
        f.to_json() | {"links": [{"index": i, "url": f"/entries/{i}"} for i in f.indices]}
        for f in site.view.audit(site.now_ms).findings
        if chain.intersection(f.indices)
    ]
    subs = [engine.state.subs[e.index] for e in events if e.index in engine.state.subs]
    st = engine.state
    return {
        "index": index,
        "root": run.root,
        "latest": latest.index,
        "org": latest.org,
        "run_id": latest.run_id,
        "model_name": reader.get(latest.index).payload.get("model_name"),
        "level": latest.level,
        "cycle": latest.cycle,
        "planned_flop": fmt_flop(latest.planned_flop),
        "status": status,
        "versions": [
            {
                "index": v.index,
                "logged_at": format_logged_at(v.logged_ms),
                "url": f"/entries/{v.index}",
            }
            for v in versions
        ],
        "amendments": amendments,
        "submissions": [
            {
                "index": s.index,
                "on_time": s.on_time,
                "logged_at": format_logged_at(s.logged_ms),
                "decision": s.decision,
                "outcome": s.outcome,
                "schedule": _status(engine, s.index),
            }
            for s in subs
        ],
        "events": [
            {
                "index": e.index,
                "type": e.type,
                "logged_at": format_logged_at(e.logged_ms),
                "what": _event_text(e, st),
                "url": f"/entries/{e.index}",
            }
            for e in events
        ],
        "decision": None if decision is None else decision.payload.get("outcome"),
        "findings": findings,
        "registered": reader.get(latest.index).payload,
        "registered_fields": payload_fields(
            site, latest.index, reader.get(latest.index).payload, _refs(site, latest.index), None
        ),
    }


def _refs(site: Site, index: int) -> list[dict[str, Any]]:
    try:
        body = parse_payload(parse_leaf(site.reader.entry(index).leaf).envelope.payload).body
    except FormatError:
        return []
    return [link(site, target, path) for path, target, _ in references(body)]


def _update_text(p: dict[str, Any], significant: bool) -> str:
    description = str(p.get("description", "")).rstrip(".")
    text = (
        f"{'significant' if significant else 'lesser'} update of the approved model declared: "
        f"{description}; offered from {str(p.get('offered_from', '?'))[:10]}"
    )
    if p.get("evaluated_as") is not None:
        text += f"; evaluated as submission {p['evaluated_as']}"
    return text


def _plan_event_text(e: Entry, st: PolicyState) -> str | None:
    """The entry types that follow an approval, or come from others than the lab."""
    p = e.payload
    if e.type == "model_update":
        update = st.updates.get(e.index)
        return _update_text(p, update is not None and update.significant)
    if e.type == "compute_attestation":
        return (
            f"{p.get('provider')} attests {p.get('flop_delivered')} FLOP delivered "
            f"({p.get('cluster')}, {str(p.get('period_start', '?'))[:10]} to "
            f"{str(p.get('period_end', '?'))[:10]})"
        )
    if e.type == "research_access":
        institutions = ", ".join(map(str, p.get("institutions") or []))
        return (
            f"researchers' access from {p.get('access_from')} to {p.get('access_until')}: "
            f"{institutions}"
        )
    if e.type == "observer_statement":
        kind = str(p.get("kind", "")).replace("_", " ")
        return f"observer's statement ({kind}) about entry {p.get('about')}: {p.get('statement')}"
    return None


def _event_text(e: Entry, st: PolicyState) -> str:
    p = e.payload
    plan = _plan_event_text(e, st)
    if plan is not None:
        return plan
    outcome = str(p.get("outcome", "?")).replace("_", " ")
    texts = {
        "training_started": f"training started at {p.get('time', '?')}",
        "training_completed": f"training completed at {p.get('time', '?')}",
        "training_halted": f"training halted at {p.get('time', '?')}: "
        f"{p.get('halt_criterion', '')}",
        "submission": f"model submitted at {p.get('submitted_at', '?')}, "
        f"final compute {p.get('final_flop', '?')} FLOP",
        "eval_result": f"evaluation result: {outcome} (suite entry {p.get('suite')})",
        "contest_finding": f"contest finding: {p.get('summary', '')}",
        "contest_resolution": f"contest {outcome}; "
        f"remedied: {'yes' if p.get('remedied') else 'no'}",
        "decision": f"decision: {outcome} — {p.get('reason', '')}",
        "reveal": f"sealed document of entry {p.get('commitment')} revealed",
    }
    text = texts.get(e.type, e.type.replace("_", " "))
    if e.type.startswith("training_"):
        text += f", {p.get('cumulative_flop', '?')} FLOP so far"
    return text


def runs(site: Site) -> list[dict[str, Any]]:
    """Every run (by its first pre-registration), newest first."""
    engine = _engine(site)
    by_root: dict[int, list[Sub]] = {}
    for s in sorted(engine.state.subs.values(), key=lambda s: s.index):
        by_root.setdefault(engine.state.runs[s.prereg].root, []).append(s)
    out = []
    for root in sorted(
        (r.index for r in engine.state.runs.values() if r.root == r.index), reverse=True
    ):
        latest = _versions(engine, root)[-1]
        subs = by_root.get(root, [])
        sub = subs[0] if subs else None
        decisions = [
            {
                "submission": s.index,
                "decision": s.decision,
                "outcome": s.outcome,
                "url": f"/entries/{s.decision}",
            }
            for s in subs
            if s.decision is not None
        ]
        out.append(
            {
                "index": root,
                "url": f"/runs/{root}",
                "org": latest.org,
                "run_id": latest.run_id,
                "level": latest.level,
                "cycle": latest.cycle,
                "amended": latest.index != root,
                "halted": latest.halted is not None,
                "submitted": sub is not None,
                "on_time": sub.on_time if sub is not None else None,
                "decided": bool(decisions),
                "outcome": _run_outcome(subs),
                "decisions": decisions,
            }
        )
    return out


def _run_outcome(subs: list[Sub]) -> str | None:
    """What was decided about a run: "approved" if any of its models was, "rejected" if
    every decision rejected, "pending" while a submission waits; None if nothing was
    submitted."""
    outcomes = [s.outcome for s in subs]
    if "approved" in outcomes:
        return "approved"
    if not outcomes:
        return None
    return "pending" if None in outcomes else "rejected"
