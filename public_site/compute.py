"""The compute page: what independent compute providers attest, against what labs declared.

A lab reports its own runs; a compute provider (a cloud, a data centre, a chip
registry) attests, signed, the compute it delivered to an organisation
(``compute_attestation``). This page lays the two side by side: per organisation,
the compute each provider attests and the runs the organisation pre-registered
(with the compute each planned and reported); each provider's last attestation and
whether it has gone silent; every attestation with its period and the run it is for,
flagged when no pre-registered run covers it (an undeclared large run); and each run
whose own reports fall short of what its providers attest.

Every flag is the policy audit's own finding (rule S16), read from the report the
compliance page shows, so the two pages never disagree. Like the other page modules,
it returns JSON-ready data for the page and its JSON and CSV twins.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from public_site.labels import compute_status_label
from public_site.pages import Site
from public_site.schedule import Reader, _engine, _versions
from verifier.core.leaf import format_logged_at
from verifier.policy.calendar import fmt_date
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import NOTICE, VIOLATION, WARNING, Finding, fmt_flop
from verifier.policy.rules.compute import free_cap
from verifier.policy.state import Attestation, PolicyState

#: Columns of the CSV twin: one row per attestation.
CSV_COLUMNS = (
    "index",
    "logged_at",
    "provider",
    "organisation",
    "cluster",
    "period_start",
    "period_end",
    "flop_delivered",
    "run",
    "run_id",
    "status",
    "finding",
)

Flags = dict[str, dict[int, Finding]]


def _finding(f: Finding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return f.to_json() | {"links": [{"index": i, "url": f"/entries/{i}"} for i in f.indices]}


def flags(st: PolicyState, findings: list[Finding]) -> Flags:
    """The audit's S16 findings, keyed by the entry each is about: an attestation no run
    covers (undeclared), one naming another organisation's run, a run reporting short
    (keyed by its first version), a provider's last attestation (silent)."""
    out: Flags = {"undeclared": {}, "other_organisation": {}, "short": {}, "silent": {}}
    for f in findings:
        if f.rule != "S16":
            continue
        last = f.indices[-1]
        if f.severity == VIOLATION and len(f.indices) == 1 and last in st.attestations:
            out["undeclared"][last] = f
        elif f.severity == VIOLATION and last in st.attestations:
            out["other_organisation"][last] = f
        elif f.severity == WARNING and f.indices[0] in st.runs:
            out["short"][f.indices[0]] = f
        elif f.severity == NOTICE and last in st.attestations:
            out["silent"][last] = f
    return out


def _status(st: PolicyState, a: Attestation, found: Flags) -> str:
    if a.index in found["undeclared"]:
        return "undeclared"
    if a.index in found["other_organisation"]:
        return "other_organisation"
    return "covered" if a.flop > free_cap(st, a.start_ms) else "free"


def _attestation(st: PolicyState, reader: Reader, a: Attestation, found: Flags) -> dict[str, Any]:
    run = st.runs.get(a.run) if a.run is not None else None
    status = _status(st, a, found)
    flagged = found["undeclared"].get(a.index) or found["other_organisation"].get(a.index)
    payload = reader.get(a.index).payload
    return {
        "index": a.index,
        "url": f"/entries/{a.index}",
        "logged_at": format_logged_at(a.logged_ms),
        "provider": a.provider,
        "organisation": a.organisation,
        "cluster": payload.get("cluster", ""),
        "period_start": fmt_date(a.start_ms),
        "period_end": fmt_date(a.end_ms),
        "flop_delivered": payload.get("flop_delivered", fmt_flop(a.flop)),
        "run": run.root if run is not None else None,
        "run_url": f"/runs/{run.root}" if run is not None else None,
        "run_id": run.run_id if run is not None else None,
        "status": status,
        "status_words": compute_status_label(status),
        "flagged": flagged is not None,
        "finding": _finding(flagged),
    }


def compute(site: Site) -> dict[str, Any]:
    """Compute attested per organisation and provider, every attestation, each provider's
    last attestation, and each run's reports against what was attested for it."""
    engine = _engine(site)
    st = engine.state
    found = flags(st, list(site.view.audit(site.now_ms).findings))
    ordered = sorted(st.attestations.values(), key=lambda a: a.index)
    reader = Reader(site)
    rows = [_attestation(st, reader, a, found) for a in ordered]
    rules = st.rules_at(site.now_ms)
    cap = free_cap(st, site.now_ms)
    return {
        "as_of": format_logged_at(site.now_ms),
        # what a run may use without oversight today (None while no level is deregulated)
        "free_cap_flop": fmt_flop(cap) if cap else None,
        "attestation_interval_days": rules.attestation_interval_days,
        # the organisation's sum and a run's overrun (S16)
        "compute_window_days": rules.compute_window_days,
        "attestation_tolerance": _percent(Decimal(rules.attestation_tolerance)),
        "summary": {
            "attestations": len(rows),
            "providers": len({a.provider for a in ordered}),
            "undeclared": len(found["undeclared"]),
            "other_organisation": len(found["other_organisation"]),
            "short_runs": len(found["short"]),
            "silent_providers": len(found["silent"]),
        },
        "organisations": _organisations(engine, ordered, rows),
        "providers": _providers(ordered, found),
        "attestations": rows,
        "runs": _runs(st, ordered, found),
        "compliance": "/compliance#rule-S16",
    }


def _declared(engine: PolicyEngine, org: str) -> list[dict[str, Any]]:
    """The runs *org* pre-registered (by their first version): planned and reported compute."""
    out = []
    for run in sorted(engine.state.runs.values(), key=lambda r: r.index):
        if run.org != org or run.index != run.root:
            continue
        latest = _versions(engine, run.root)[-1]
        out.append(
            {
                "index": run.root,
                "url": f"/runs/{run.root}",
                "run_id": run.run_id,
                "level": latest.level,
                "planned": fmt_flop(latest.planned_flop),
                "reported": fmt_flop(run.reported_flop) if run.reported_at is not None else None,
                "reported_in": run.reported_at,
            }
        )
    return out


def _organisations(
    engine: PolicyEngine, ordered: list[Attestation], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every organisation compute was attested for: what each provider attests (and over
    which periods), the runs the organisation declared, and how many attestations are flagged."""
    out = []
    for org in sorted({a.organisation for a in ordered}):
        mine = [(a, r) for a, r in zip(ordered, rows, strict=True) if a.organisation == org]
        by_provider = []
        for provider in sorted({a.provider for a, _ in mine}):
            theirs = [a for a, _ in mine if a.provider == provider]
            by_provider.append(
                {
                    "provider": provider,
                    "attestations": len(theirs),
                    "flop": fmt_flop(sum(a.flop for a in theirs)),
                    "from": fmt_date(min(a.start_ms for a in theirs)),
                    "to": fmt_date(max(a.end_ms for a in theirs)),
                }
            )
        out.append(
            {
                "organisation": org,
                "url": f"/orgs/{org}",
                "attestations": len(mine),
                "flop": fmt_flop(sum(a.flop for a, _ in mine)),
                "by_provider": by_provider,
                "declared_runs": _declared(engine, org),
                "flagged": sum(1 for _, r in mine if r["flagged"]),
                # No organisation entry and no lab key: the audit sums its compute with
                # every other such name's (S16), as shells of one lab would be.
                "registered": org in engine.state.registered,
            }
        )
    return out


def _providers(ordered: list[Attestation], found: Flags) -> list[dict[str, Any]]:
    out = []
    for provider in sorted({a.provider for a in ordered}):
        mine = [a for a in ordered if a.provider == provider]
        last = max(mine, key=lambda a: (a.logged_ms, a.index))
        silent = found["silent"].get(last.index)
        out.append(
            {
                "provider": provider,
                "attestations": len(mine),
                "organisations": sorted({a.organisation for a in mine}),
                "flop": fmt_flop(sum(a.flop for a in mine)),
                "last": {
                    "index": last.index,
                    "url": f"/entries/{last.index}",
                    "logged_at": format_logged_at(last.logged_ms),
                },
                "silent": silent is not None,
                "finding": _finding(silent),
            }
        )
    return out


def _runs(st: PolicyState, ordered: list[Attestation], found: Flags) -> list[dict[str, Any]]:
    """Each run some attestation names (by its first version), reported against attested."""
    by_root: dict[int, list[Attestation]] = {}
    for a in ordered:
        if a.run is not None and a.run in st.runs:
            by_root.setdefault(st.runs[a.run].root, []).append(a)
    out = []
    for root, mine in sorted(by_root.items()):
        run = st.runs[root]
        attested = sum(a.flop for a in mine)
        short = found["short"].get(root)
        reported = run.reported_flop if run.reported_at is not None else None
        out.append(
            {
                "index": root,
                "url": f"/runs/{root}",
                "org": run.org,
                "run_id": run.run_id,
                "attested": fmt_flop(attested),
                "attestations": [a.index for a in mine],
                "reported": fmt_flop(reported) if reported is not None else None,
                "reported_in": run.reported_at,
                "reported_share": _share(reported, attested),
                "short": short is not None,
                "finding": _finding(short),
            }
        )
    return out


def _percent(share: Decimal) -> str:
    """0.25 -> "25%"."""
    return f"{(share * 100).normalize():f}%"


def _share(reported: int | None, attested: int) -> str | None:
    """What the run reports as a share of what was attested for it, in percent."""
    if reported is None or attested <= 0:
        return None
    return _percent((Decimal(reported) / Decimal(attested)).quantize(Decimal("0.0001")))


def csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    """The CSV twin's rows: one per attestation, in the columns of :data:`CSV_COLUMNS`."""
    return [
        [
            *(r[c] for c in CSV_COLUMNS[:-1]),
            r["finding"]["message"] if r["finding"] else "",
        ]
        for r in data["attestations"]
    ]
