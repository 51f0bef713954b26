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
from ledger.storage.protocol import SearchQuery
from public_site.pages import Site, link, payload_fields
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.entries.codec import parse_payload, payload_to_json, references
from verifier.errors import FormatError
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import VIOLATION, Finding, fmt_flop
from verifier.policy.state import Run
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
    """Every entry that refers to the run, to its submissions or to their contests."""
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
            if e.type in ("submission", "contest_finding"):
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
                "schedule": _status(engine, s.index),
            }
            for s in subs
        ],
        "events": [
            {
                "index": e.index,
                "type": e.type,
                "logged_at": format_logged_at(e.logged_ms),
                "what": _event_text(e),
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


def _event_text(e: Entry) -> str:
    p = e.payload
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
    out = []
    for root in sorted(
        (r.index for r in engine.state.runs.values() if r.root == r.index), reverse=True
    ):
        latest = _versions(engine, root)[-1]
        sub = next(
            (s for s in engine.state.subs.values() if engine.state.runs[s.prereg].root == root),
            None,
        )
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
                "decided": sub is not None and sub.decision is not None,
            }
        )
    return out


# -- organisations ----------------------------------------------------------------------


def _organisations(site: Site, reader: Reader) -> dict[str, dict[str, Any]]:
    orgs: dict[str, dict[str, Any]] = {}
    after = -1
    while True:
        rows = site.reader.store.search(
            SearchQuery(entry_type="organisation", after=after, limit=500)
        )
        for row in rows:
            p = reader.get(row.index).payload
            org_id = p.get("org_id")
            if isinstance(org_id, str):
                orgs[org_id] = {
                    "org": org_id,
                    "name": p.get("legal_name", org_id),
                    "kind": p.get("kind"),
                    "jurisdiction": p.get("jurisdiction"),
                    "registered_at": row.index,
                }
        if len(rows) < 500:
            return orgs
        after = rows[-1].index


def _scorecard(
    engine: PolicyEngine, org: str, findings: list[Finding], entry_org: dict[int, str]
) -> dict[str, Any]:
    st = engine.state
    roots = {r.root for r in st.runs.values() if r.org == org}
    subs = [s for s in st.subs.values() if st.runs[s.prereg].org == org]
    approved = {i for _, _, i in st.approvals}
    decided = [s for s in subs if s.decision is not None]
    against = [f for f in findings if any(entry_org.get(i) == org for i in f.indices)]
    return {
        "runs": len(roots),
        "amended": sum(1 for r in st.runs.values() if r.org == org and r.index != r.root),
        "halted": sum(1 for r in st.runs.values() if r.org == org and r.halted is not None),
        "submitted": len(subs),
        "on_time": sum(1 for s in subs if s.on_time),
        "late": sum(1 for s in subs if not s.on_time),
        "approved": sum(1 for s in decided if s.decision in approved),
        "rejected": sum(1 for s in decided if s.decision not in approved),
        "pending": len(subs) - len(decided),
        "violations": sum(1 for f in against if f.severity == VIOLATION),
        "findings": len(against),
    }


def _entry_orgs(site: Site, engine: PolicyEngine) -> dict[int, str]:
    """Each entry of a run's history -> the run's organisation (for findings against it)."""
    out: dict[int, str] = {}
    for run in engine.state.runs.values():
        out[run.index] = run.org
        stack = [run.index]
        while stack:
            target = stack.pop()
            for index, _ in site.view.referrers(target):
                if index not in out:
                    out[index] = run.org
                    stack.append(index)
    return out


def organisations(site: Site) -> dict[str, Any]:
    """The league table: every organisation's scorecard."""
    engine = _engine(site)
    reader = Reader(site)
    orgs = _organisations(site, reader)
    for run in engine.state.runs.values():
        orgs.setdefault(
            run.org,
            {
                "org": run.org,
                "name": run.org,
                "kind": None,
                "jurisdiction": None,
                "registered_at": None,
            },
        )
    findings = list(site.view.audit(site.now_ms).findings)
    entry_org = _entry_orgs(site, engine)
    table = []
    for org_id, info in sorted(orgs.items()):
        table.append(
            info
            | {"url": f"/orgs/{org_id}", "score": _scorecard(engine, org_id, findings, entry_org)}
        )
    table.sort(key=lambda o: (-o["score"]["violations"], -o["score"]["late"], o["org"]))
    return {"as_of": format_logged_at(site.now_ms), "organisations": table}


def organisation(site: Site, org: str) -> dict[str, Any]:
    engine = _engine(site)
    reader = Reader(site)
    orgs = _organisations(site, reader)
    if org not in orgs and not any(r.org == org for r in engine.state.runs.values()):
        raise NotFound(f"no organisation {org[:64]!r} in this log")
    info = orgs.get(
        org, {"org": org, "name": org, "kind": None, "jurisdiction": None, "registered_at": None}
    )
    findings = list(site.view.audit(site.now_ms).findings)
    entry_org = _entry_orgs(site, engine)
    return info | {
        "as_of": format_logged_at(site.now_ms),
        "score": _scorecard(engine, org, findings, entry_org),
        "runs": [r for r in runs(site) if r["org"] == org],
        "findings": [
            f.to_json() | {"links": [{"index": i, "url": f"/entries/{i}"} for i in f.indices]}
            for f in findings
            if any(entry_org.get(i) == org for i in f.indices)
        ],
        "feed": f"/feeds/entries.atom?org={org}",
    }


# -- the regulator ----------------------------------------------------------------------


def regulator(site: Site) -> dict[str, Any]:
    """The regulator's own record: decisions and contest replies, required vs actual dates."""
    engine = _engine(site)
    st = engine.state
    charter = st.charter
    assert charter is not None
    now = site.now_ms
    decisions = []
    for sub in sorted(st.subs.values(), key=lambda s: s.index):
        start, end = engine.state.cal.decision_day(sub.cycle)
        due = (
            end - 1
            if sub.on_time
            else max(start, sub.logged_ms) + charter.late_decision_limit_days * DAY_MS
        )
        actual = site.reader.entry(sub.decision).logged_at_ms if sub.decision is not None else None
        run = st.runs[sub.prereg]
        decisions.append(
            {
                "submission": sub.index,
                "org": run.org,
                "run_id": run.run_id,
                "cycle": sub.cycle,
                "on_time": sub.on_time,
                "required": (
                    f"on {fmt_date(start)}"
                    if sub.on_time
                    else f"from {fmt_date(start)} to {fmt_date(due)}"
                ),
                "required_from": fmt_date(start),
                "due": fmt_date(due),
                "decision": sub.decision,
                "decided": fmt_date(actual) if actual is not None else None,
                "early": actual is not None and actual < start,
                "days_late": _days_late(actual if actual is not None else now, due)
                if actual is not None or now > due
                else 0,
                "pending": actual is None,
            }
        )
    contests = []
    for c in sorted(st.contests.values(), key=lambda c: c.index):
        due = c.logged_ms + charter.contest_reply_limit_days * DAY_MS
        contests.append(
            {
                "finding": c.index,
                "submission": c.submission,
                "due": fmt_date(due),
                "resolution": c.resolution,
                "replied": fmt_date(c.resolved_ms) if c.resolved_ms is not None else None,
                "outcome": c.outcome,
                "days_late": _days_late(c.resolved_ms if c.resolved_ms is not None else now, due)
                if c.resolved_ms is not None or now > due
                else 0,
            }
        )
    findings = [
        f.to_json() | {"links": [{"index": i, "url": f"/entries/{i}"} for i in f.indices]}
        for f in site.view.audit(now).findings
        if f.rule in ("S8", "S9", "S10", "S11", "S12", "S13")
    ]
    decided = [d for d in decisions if not d["pending"]]
    return {
        "as_of": format_logged_at(now),
        "summary": {
            "decisions": len(decided),
            "on_time_decided_on_the_date": sum(
                1 for d in decided if d["on_time"] and not d["early"] and d["days_late"] == 0
            ),
            "on_time_submissions_decided": sum(1 for d in decided if d["on_time"]),
            "late_decided_within_limit": sum(
                1 for d in decided if not d["on_time"] and not d["early"] and d["days_late"] == 0
            ),
            "late_submissions_decided": sum(1 for d in decided if not d["on_time"]),
            "pending": len(decisions) - len(decided),
            "contest_replies_in_time": sum(
                1 for c in contests if c["replied"] and c["days_late"] == 0
            ),
            "contests": len(contests),
        },
        "decisions": decisions,
        "contests": contests,
        "findings": findings,
    }
