"""Scorecards: each organisation's record against the schedule (runs, lateness, the
findings that name it, its staff declarations) and the regulator's own (decisions on
time, contests answered, markers, charter changes). JSON-ready data for a page and its
JSON twin, from the same replayed state and calendar as :mod:`public_site.schedule`.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import NotFound
from ledger.storage.protocol import SearchQuery
from public_site.pages import Site
from public_site.schedule import Reader, _days_late, _engine, runs
from verifier.core.leaf import format_logged_at
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import VIOLATION, Finding, fmt_flop

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
        **_plan_entries(site, engine, reader, org),
    }


def _plan_entries(
    site: Site, engine: PolicyEngine, reader: Reader, org: str
) -> dict[str, list[dict[str, Any]]]:
    """What others logged about an organisation, and what followed its approvals: compute
    attested for it, updates of its approved models, researchers' access to them, and
    the regulator's staff declarations that name it."""
    st = engine.state
    attestations = [
        {
            "index": a.index,
            "url": f"/entries/{a.index}",
            "provider": a.provider,
            "cluster": reader.get(a.index).payload.get("cluster", ""),
            "period_start": fmt_date(a.start_ms),
            "period_end": fmt_date(a.end_ms),
            "flop": fmt_flop(a.flop),
            "run": st.runs[a.run].root if a.run in st.runs else None,
            "run_id": st.runs[a.run].run_id if a.run in st.runs else None,
        }
        for a in sorted(st.attestations.values(), key=lambda a: a.index)
        if a.organisation == org
    ]
    updates = [
        {
            "index": u.index,
            "url": f"/entries/{u.index}",
            "run": st.runs[u.prereg].root,
            "decision": u.decision,
            "significant": u.significant,
            "description": reader.get(u.index).payload.get("description", ""),
            "offered_from": str(reader.get(u.index).payload.get("offered_from", ""))[:10],
        }
        for u in sorted(st.updates.values(), key=lambda u: u.index)
        if u.prereg in st.runs and st.runs[u.prereg].org == org
    ]
    ours = {
        d
        for d, sub in st.decided.items()
        if sub in st.subs and st.runs[st.subs[sub].prereg].org == org
    }
    access: dict[int, dict[str, Any]] = {}
    for d in sorted(ours & set(st.access)):
        for start, until, index in st.access[d]:
            row = access.setdefault(
                index,
                {
                    "index": index,
                    "url": f"/entries/{index}",
                    "from": fmt_date(start),
                    "until": fmt_date(until),
                    "institutions": list(reader.get(index).payload.get("institutions", ())),
                    "decisions": [],
                },
            )
            row["decisions"].append(d)
    return {
        "attestations": attestations,
        "updates": updates,
        "research_access": [access[i] for i in sorted(access)],
        "staff_declarations": _staff_naming(site, reader, org),
    }


def _staff_naming(site: Site, reader: Reader, org: str) -> list[dict[str, Any]]:
    """The regulator's staff declarations that name *org* (a conflict, a departure to it)."""
    out: list[dict[str, Any]] = []
    after = -1
    while True:
        rows = site.reader.store.search(
            SearchQuery(entry_type="staff_declaration", after=after, limit=500)
        )
        for row in rows:
            p = reader.get(row.index).payload
            if p.get("organisation") == org:
                out.append(
                    {
                        "index": row.index,
                        "url": f"/entries/{row.index}",
                        "staff": p.get("staff", ""),
                        "kind": str(p.get("kind", "")).replace("_", " "),
                        "date": p.get("date", ""),
                    }
                )
        if len(rows) < 500:
            return out
        after = rows[-1].index


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
                "outcome": sub.outcome,
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
            "approved": sum(1 for d in decided if d["outcome"] == "approved"),
            "rejected": sum(1 for d in decided if d["outcome"] == "rejected"),
            "contest_replies_in_time": sum(
                1 for c in contests if c["replied"] and c["days_late"] == 0
            ),
            "contests": len(contests),
        },
        "decisions": decisions,
        "contests": contests,
        "findings": findings,
    }
