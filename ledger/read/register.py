"""The register of approved models: every approval in the log, with what it covers.

The page a journalist opens first, the API's ``GET /api/v1/register`` and the site's
``/register`` (with its CSV, JSON and Atom twins) all read this one function, so
they never disagree. One row per decision whose outcome is ``approved``, in log
order, built from the replayed policy state (which knows which submission,
results, contests, updates and researchers' access belong to which decision) and
from the entries' own payloads (for the words: names, descriptions, categories).

An approval that broke a rule stays in the register — the log cannot forget it —
with the audit's findings about it beside it. Nothing here writes.
"""

from __future__ import annotations

from typing import Any

from ledger.read.reader import LogReader
from ledger.read.views import LogView
from verifier.core.leaf import format_logged_at, parse_leaf
from verifier.entries.codec import parse_payload, payload_to_json
from verifier.errors import FormatError
from verifier.policy.calendar import fmt_date
from verifier.policy.findings import VIOLATION, Finding, fmt_flop
from verifier.policy.state import PolicyState

#: Columns of the CSV twin, in order (nested facts are summarised in one cell each).
CSV_COLUMNS = (
    "decision",
    "decided_at",
    "lab",
    "model",
    "run_id",
    "level",
    "cycle",
    "model_digest",
    "final_flop",
    "max_inference_flop_per_task",
    "scaffolding",
    "post_training_flop",
    "results",
    "contests",
    "updates",
    "research_access",
    "deregulated_from",
    "violations",
    "receipt",
)


class _Entries:
    """Entries of one request, read and decoded once (payload as JSON, logged_at)."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self.cache: dict[int, tuple[dict[str, Any], int]] = {}

    def get(self, index: int) -> tuple[dict[str, Any], int]:
        hit = self.cache.get(index)
        if hit is None:
            row = self.reader.entry(index)
            try:
                payload = payload_to_json(parse_payload(parse_leaf(row.leaf).envelope.payload))
            except FormatError:  # an admitted entry always parses; a guard, not a path
                payload = {}
            hit = self.cache[index] = (payload, row.logged_at_ms)
        return hit


def _post_training_flop(inference: dict[str, Any] | None) -> int:
    if not inference:
        return 0
    return sum(int(float(p.get("flop", "0"))) for p in inference.get("post_training", ()))


def _deregulation(st: PolicyState, level: int) -> dict[str, Any] | None:
    """The first deregulation in force that frees the model's level (None: not yet)."""
    found = sorted(
        (eff, index)
        for eff, lv, index in st.deregulated
        if lv >= level and st.deregulation_takes_effect(eff, lv)
    )
    if not found:
        return None
    eff, index = found[0]
    return {"date": fmt_date(eff), "entry": index, "url": f"/entries/{index}"}


def _results(st: PolicyState, entries: _Entries, sub_results: list[int]) -> list[dict[str, Any]]:
    out = []
    for r in sub_results:
        payload, logged = entries.get(r)
        suite_index = int(payload.get("suite", -1))
        suite = entries.get(suite_index)[0] if suite_index in st.suites else {}
        out.append(
            {
                "entry": r,
                "url": f"/entries/{r}",
                "logged_at": format_logged_at(logged),
                "suite": suite_index,
                "suite_id": suite.get("suite_id", ""),
                "suite_version": suite.get("version", ""),
                "sealed_part": suite.get("secret") is not None,
                "outcome": payload.get("outcome", ""),
                "categories": [
                    {"category": c.get("category", ""), "outcome": c.get("outcome", "")}
                    for c in payload.get("results", ())
                ],
            }
        )
    return out


def _contests(st: PolicyState, entries: _Entries, submission: int) -> list[dict[str, Any]]:
    out = []
    for c in sorted(st.contests.values(), key=lambda c: c.index):
        if c.submission != submission:
            continue
        payload, logged = entries.get(c.index)
        out.append(
            {
                "entry": c.index,
                "url": f"/entries/{c.index}",
                "logged_at": format_logged_at(logged),
                "summary": payload.get("summary", ""),
                "resolution": c.resolution,
                "outcome": c.outcome or "unresolved",
                "remedied": c.remedied,
            }
        )
    return out


def _updates(st: PolicyState, entries: _Entries, decision: int) -> list[dict[str, Any]]:
    out = []
    for u in sorted(st.updates.values(), key=lambda u: u.index):
        if u.decision != decision:
            continue
        payload, logged = entries.get(u.index)
        out.append(
            {
                "entry": u.index,
                "url": f"/entries/{u.index}",
                "logged_at": format_logged_at(logged),
                "offered_from": payload.get("offered_from", ""),
                "description": payload.get("description", ""),
                "model_digest": payload.get("model_digest", ""),
                "added_posttraining_flop": payload.get("added_posttraining_flop", "0"),
                "significant": u.significant,
                "evaluated_as": payload.get("evaluated_as"),
            }
        )
    return out


def _access(st: PolicyState, entries: _Entries, decision: int) -> list[dict[str, Any]]:
    out = []
    for start, until, index in sorted(st.access.get(decision, [])):
        payload, _ = entries.get(index)
        out.append(
            {
                "entry": index,
                "url": f"/entries/{index}",
                "institutions": list(payload.get("institutions", ())),
                "from": fmt_date(start),
                "until": fmt_date(until),
            }
        )
    return out


def _about(findings: tuple[Finding, ...], indices: set[int]) -> list[dict[str, Any]]:
    return [f.to_json() for f in findings if indices.intersection(f.indices)]


def approved_models(reader: LogReader, view: LogView, now_ms: int) -> list[dict[str, Any]]:
    """Every approved model, in the order its approval was logged."""
    auditor = view.catch_up()
    engine = auditor.engine
    if engine is None:
        return []
    st = engine.state
    report = auditor.report(now_ms)
    entries = _Entries(reader)
    rows = []
    for decision, submission in sorted(st.decided.items()):
        sub = st.subs.get(submission)
        if sub is None or sub.decision != decision or sub.outcome != "approved":
            continue
        run = st.runs.get(sub.prereg)
        sub_payload, submitted_ms = entries.get(submission)
        _, decided_ms = entries.get(decision)
        prereg_payload = entries.get(sub.prereg)[0] if run is not None else {}
        inference = sub_payload.get("inference")
        findings = _about(report.findings, {decision, submission})
        rows.append(
            {
                "decision": decision,
                "url": f"/entries/{decision}",
                "decided_at": format_logged_at(decided_ms),
                "lab": run.org if run else "",
                "model": prereg_payload.get("model_name", ""),
                "run_id": run.run_id if run else "",
                "run_url": f"/runs/{run.root}" if run else None,
                "level": sub.level,
                "cycle": sub.cycle,
                "submission": submission,
                "submitted_at": format_logged_at(submitted_ms),
                "on_time": sub.on_time,
                "model_digest": sub.model_digest,
                "final_flop": sub_payload.get("final_flop", ""),
                "inference": inference,
                "post_training_flop": fmt_flop(_post_training_flop(inference)),
                "updates_model": sub_payload.get("updates"),
                "results": _results(st, entries, sub.results),
                "contests": _contests(st, entries, submission),
                "updates": _updates(st, entries, decision),
                "research_access": _access(st, entries, decision),
                "deregulated_from": _deregulation(st, sub.level),
                "findings": findings,
                "violations": sum(1 for f in findings if f["severity"] == VIOLATION),
                "receipt": f"/entries/{decision}/receipt.json",
                "api_receipt": f"/api/v1/entries/{decision}/receipt",
            }
        )
    return rows


def register(reader: LogReader, view: LogView, now_ms: int) -> dict[str, Any]:
    """The register as one JSON-ready document (the API's answer and the page's data)."""
    models = approved_models(reader, view, now_ms)
    head = reader.head()
    return {
        "as_of": format_logged_at(now_ms),
        "tree_size": head.size,
        "approved": len(models),
        "with_violations": sum(1 for m in models if m["violations"]),
        "models": models,
        "note": (
            "Every decision in the log whose outcome is 'approved', with what it covers. "
            "Check any row offline: download its receipt and run "
            "'frontier-verify proof RECEIPT --policy P'."
        ),
    }


def csv_row(model: dict[str, Any]) -> list[str]:
    """One register row as the CSV twin's cells (CSV_COLUMNS order)."""
    inference = model["inference"] or {}
    dereg = model["deregulated_from"]
    return [
        str(model["decision"]),
        model["decided_at"],
        model["lab"],
        model["model"],
        model["run_id"],
        str(model["level"]),
        str(model["cycle"]),
        model["model_digest"],
        model["final_flop"],
        str(inference.get("max_inference_flop_per_task", "")),
        "; ".join(inference.get("scaffolding", ())),
        model["post_training_flop"],
        "; ".join(
            f"{r['suite_id']} {r['suite_version']}: {r['outcome']}" for r in model["results"]
        ),
        "; ".join(f"{c['entry']}: {c['outcome']}" for c in model["contests"]),
        "; ".join(
            f"{u['entry']}: {'significant' if u['significant'] else 'lesser'}"
            for u in model["updates"]
        ),
        "; ".join(
            f"{', '.join(a['institutions'])} {a['from']}..{a['until']}"
            for a in model["research_access"]
        ),
        dereg["date"] if dereg else "",
        str(model["violations"]),
        model["receipt"],
    ]
