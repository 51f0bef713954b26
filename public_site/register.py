"""The register of approved models as the site shows it, its Atom feed, and the home
page's answers.

The register's rows are :func:`ledger.read.register.register`'s — the document
``GET /api/v1/register`` answers — so the page, its JSON and CSV twins, the feed and
the API never disagree. The home page answers, in one screen, the questions a
journalist asks first: which models are approved at which level, who was late,
which evaluations failed, and whether any approval broke a rule.
"""

from __future__ import annotations

from typing import Any

from ledger.read.register import approved_models, register
from public_site import schedule, scorecards, trust
from public_site.pages import Site
from verifier.core.leaf import format_logged_at
from verifier.policy.findings import VIOLATION
from verifier.policy.state import PolicyState

#: The command that checks a receipt offline, as the page and the docs write it.
CHECK_COMMAND = "frontier-verify proof {index}.receipt.json --policy witnesses.policy"


def as_of(site: Site) -> int:
    """The time the register is judged at, as the API judges it: the site's clock, never
    before the newest entry (so the page's JSON twin is the API's document)."""
    return max(site.now_ms, site.reader.head().logged_at_ms)


def document(site: Site) -> dict[str, Any]:
    """The register: exactly what ``GET /api/v1/register`` answers."""
    return register(site.reader, site.view, as_of(site))


def page(site: Site) -> dict[str, Any]:
    """What the register's page needs besides the document: how to check a row."""
    return {
        "policy_url": trust.POLICY_URL if site.witness_policy is not None else None,
        "check_command": CHECK_COMMAND,
        "api": "/api/v1/register",
    }


# -- the Atom feed: one item per approval ------------------------------------------------


def _summary(m: dict[str, Any]) -> str:
    inference = m["inference"] or {}
    parts = [
        f"Approved in decision entry {m['decision']} ({m['decided_at'][:10]}): "
        f"{m['model']} of {m['lab_name']}, level {m['level']}, cycle {m['cycle']}, "
        f"submitted {'on time' if m['on_time'] else 'late'}."
    ]
    if m["evaluates_update"]:
        parts.append(
            f"It is the update declared in entry {m['evaluates_update']['entry']} of the model "
            f"approved in entry {m['evaluates_update']['of_decision']}, evaluated anew."
        )
    if inference:
        scaffolding = ", ".join(inference.get("scaffolding", ())) or "none"
        parts.append(
            f"Runs with: {scaffolding}; at most {inference.get('max_inference_flop_per_task')} "
            f"FLOP of inference per task; {m['post_training_flop']} FLOP of post-training."
        )
    results = "; ".join(
        f"{r['suite_id']} {r['suite_version']}: {r['outcome']}" for r in m["results"]
    )
    parts.append(f"Evaluations: {results or 'none cited'}.")
    if m["contests"]:
        contests = "; ".join(f"entry {c['entry']}: {c['outcome']}" for c in m["contests"])
        parts.append(f"Contests: {contests}.")
    if m["updates"]:
        updates = "; ".join(
            f"entry {u['entry']} ({'significant' if u['significant'] else 'lesser'})"
            for u in m["updates"]
        )
        parts.append(f"Updates since: {updates}.")
    for a in m["research_access"]:
        parts.append(f"Researchers' access from {a['from']} to {a['until']}.")
    if m["deregulated_from"]:
        parts.append(f"Deregulated from {m['deregulated_from']['date']}.")
    parts.append(
        f"{m['violations']} violation(s) found about it."
        if m["violations"]
        else "The audit found no violation about it."
    )
    return " ".join(parts)


def feed(site: Site, base: str, self_url: str) -> dict[str, Any]:
    """The Atom feed of the register (feed.atom): one item per approval, newest first."""
    doc = document(site)
    models = sorted(doc["models"], key=lambda m: m["decision"], reverse=True)
    origin = site.view.store.origin
    return {
        "title": "Frontier Ledger: the register of approved models",
        "feed_id": "register",
        "base": base,
        "self_url": self_url,
        "alternate": "/register",
        "updated": models[0]["decided_at"] if models else "1970-01-01T00:00:00.000Z",
        "origin": origin,
        "entries": [
            {
                "index": m["decision"],
                "title": f"Approved: {m['model']} of {m['lab_name']}, level {m['level']}, "
                f"cycle {m['cycle']}",
                "url": f"/register#decision-{m['decision']}",
                "logged_at": m["decided_at"],
                "summary": _summary(m),
                "links": [
                    {"rel": "related", "type": "text/html", "href": m["url"]},
                    {"rel": "enclosure", "type": "application/json", "href": m["receipt"]},
                ],
            }
            for m in models
        ],
    }


# -- the home page's answers -------------------------------------------------------------


def _approved_by_level(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    levels: dict[int, list[dict[str, Any]]] = {}
    for m in models:
        levels.setdefault(m["level"], []).append(
            {
                "model": m["model"],
                "lab": m["lab"],
                "lab_name": m["lab_name"],
                "cycle": m["cycle"],
                "decision": m["decision"],
                "decided": m["decided_at"][:10],
                "url": f"/register#decision-{m['decision']}",
                "is_update": m["evaluates_update"] is not None,
                "deregulated": m["deregulated_from"]["date"] if m["deregulated_from"] else None,
            }
        )
    return [{"level": lv, "models": levels[lv]} for lv in sorted(levels, reverse=True)]


def _late_submissions(st: PolicyState, updates_evaluated: set[int]) -> list[dict[str, Any]]:
    out = []
    for s in sorted(st.subs.values(), key=lambda s: s.index):
        if s.on_time:
            continue
        run = st.runs[s.prereg]
        out.append(
            {
                "org": run.org,
                "run_id": run.run_id,
                "run_url": f"/runs/{run.root}",
                "submission": s.index,
                "url": f"/entries/{s.index}",
                "cycle": s.cycle,
                "outcome": s.outcome,
                "is_update": s.index in updates_evaluated,
            }
        )
    return out


def _failed_evaluations(site: Site, st: PolicyState) -> list[dict[str, Any]]:
    reader = schedule.Reader(site)
    out = []
    for index, (submission, suite, outcome) in sorted(st.results.items()):
        # A "pass" whose own categories failed is a failed evaluation too (S7).
        failed = outcome == "fail" or st.unsound_results.get(index) == "fail"
        if not failed or submission not in st.subs:
            continue
        sub = st.subs[submission]
        run = st.runs[sub.prereg]
        payload = reader.get(index).payload
        suite_payload = reader.get(suite).payload if suite in st.suites else {}
        out.append(
            {
                "index": index,
                "url": f"/entries/{index}",
                "org": run.org,
                "run_id": run.run_id,
                "run_url": f"/runs/{run.root}",
                "suite": f"{suite_payload.get('suite_id', '?')} {suite_payload.get('version', '')}",
                "failed": [
                    c.get("category", "")
                    for c in payload.get("results", ())
                    if c.get("outcome") == "fail"
                ],
                "outcome": sub.outcome,
            }
        )
    return out


def answers(site: Site) -> dict[str, Any] | None:
    """The home page's four answers (None for a log with no schedule)."""
    engine = site.view.catch_up().engine
    if engine is None or engine.state.charter is None:
        return None
    st = engine.state
    models = approved_models(site.reader, site.view, as_of(site))
    evaluated = {m["submission"] for m in models if m["evaluates_update"]}
    reg = scorecards.regulator(site)
    report = site.view.audit(site.now_ms)
    return {
        "as_of": format_logged_at(site.now_ms),
        "approved": len(models),
        "approved_by_level": _approved_by_level(models),
        "late_submissions": _late_submissions(st, evaluated),
        "regulator": reg["summary"],
        "regulator_late": [
            d | {"url": f"/entries/{d['submission']}"}
            for d in reg["decisions"]
            if d["days_late"] or d["early"]
        ],
        "contest_replies_late": [c for c in reg["contests"] if c["days_late"]],
        "failed_evaluations": _failed_evaluations(site, st),
        "approvals_breaking_rules": [
            {
                "model": m["model"],
                "lab": m["lab"],
                "lab_name": m["lab_name"],
                "decision": m["decision"],
                "url": f"/register#decision-{m['decision']}",
                "rules": sorted({f["rule"] for f in m["findings"] if f["severity"] == VIOLATION}),
            }
            for m in models
            if m["violations"]
        ],
        "violations": len(report.violations),
    }
