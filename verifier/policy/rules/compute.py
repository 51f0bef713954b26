"""Compute accounting: what compute providers attest against what labs declared (S16).

A lab's own reports are not the only evidence: a compute provider (a cloud, a data
centre, a chip registry) attests the compute it delivered to an organisation. Compute
above the deregulated cap that no run pre-registered before it covers is an
undeclared large run; a run that reports far less than was attested for it is
flagged; a provider that stops attesting is shown.
"""

from __future__ import annotations

from decimal import Decimal

from verifier.entries.fields import parse_time
from verifier.entries.payloads import ComputeAttestation
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, fmt_flop, violation
from verifier.policy.state import Attestation, PolicyState, Run, flop


def free_cap(st: PolicyState, ms: int) -> int:
    """The compute a run may use without oversight at *ms*: the deregulated level's cap
    (0 while no level is deregulated)."""
    level = st.deregulated_level_at(ms)
    if level < 0:
        return 0
    return st.cap_at(level, ms) or 0


def _covers(run: Run, org: str, start_ms: int, amount: int, tolerance: Decimal) -> bool:
    """*run* (any version) was pre-registered by *org* before *start_ms* with enough compute."""
    return (
        run.org == org
        and run.logged_ms < start_ms
        and Decimal(run.planned_flop) * (1 + tolerance) >= amount
    )


def check_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> list[Finding]:
    start, end = parse_time(b.period_start, "period_start"), parse_time(b.period_end, "period_end")
    amount = flop(b.flop_delivered)
    out: list[Finding] = []
    if b.run is not None:
        named = st.runs.get(b.run)
        if named is not None and named.org != b.organisation:
            out.append(
                violation(
                    "S16",
                    (b.run, index),
                    f"{b.provider} attests compute delivered to {b.organisation} for run "
                    f"{named.run_id}, which is {named.org}'s",
                )
            )
    cap = free_cap(st, start)
    if amount <= cap:
        return out
    # The compute tolerance is the one in force when the attestation is logged
    # (docs/policy-notes.md, "Which value applies"), not at the period's start: an
    # amendment between the two applies to the attestation it precedes.
    tolerance = st.tolerance(logged_ms)
    if b.run is not None:
        covered = b.run in st.runs and _covers(
            st.runs[b.run], b.organisation, start, amount, tolerance
        )
    else:
        # Any run of the organisation's logged by then: the one that plans the most
        # covers it if any does (the tolerance depends on the instant, not the run).
        planned = st.most_planned_before(b.organisation, start)
        covered = Decimal(planned) * (1 + tolerance) >= amount
    if not covered:
        # free_cap is 0 in two cases the reader must tell apart: no level deregulated,
        # or a deregulated level that the charter gives no cap (it frees no compute).
        level = st.deregulated_level_at(start)
        if cap:
            free = f"above the {fmt_flop(cap)} FLOP a deregulated run may use"
        elif level < 0:
            free = "while no level is deregulated"
        else:
            free = f"while deregulated level {level} has no cap in the charter"
        out.append(
            violation(
                "S16",
                (index,),
                f"{b.provider} attests {fmt_flop(amount)} FLOP delivered to {b.organisation} "
                f"({b.cluster}, {fmt_date(start)} to {fmt_date(end)}), {free}, and no run "
                f"{b.organisation} pre-registered before it covers that compute: an "
                "undeclared large run",
            )
        )
    return out


def apply_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> None:
    st.attestations[index] = Attestation(
        index,
        b.provider,
        b.organisation,
        parse_time(b.period_start, "period_start"),
        parse_time(b.period_end, "period_end"),
        flop(b.flop_delivered),
        b.run,
        logged_ms,
    )


def compute_findings(st: PolicyState, now_ms: int) -> list[Finding]:
    """What the passing of time shows: under-reported runs, silent providers."""
    return [*_under_reported(st), *_silent(st, now_ms)]


def _under_reported(st: PolicyState) -> list[Finding]:
    attested: dict[int, list[Attestation]] = {}
    for a in st.attestations.values():
        if a.run is not None and a.run in st.runs:
            attested.setdefault(st.runs[a.run].root, []).append(a)
    out: list[Finding] = []
    for root_index, found in sorted(attested.items()):
        root = st.runs[root_index]
        total = sum(a.flop for a in found)
        if root.reported_at is None:
            continue  # nothing reported yet: judged once the run reports
        # The tolerance in force when the last of the entries compared was logged, not
        # at the audit's "now": an amendment after them cannot erase the finding.
        latest = max(root.logged_ms, root.reported_ms, *(a.logged_ms for a in found))
        tolerance = Decimal(st.rules_at(latest).attestation_tolerance)
        if Decimal(root.reported_flop) < Decimal(total) * (1 - tolerance):
            out.append(
                finding(
                    "S16",
                    WARNING,
                    (root_index, *(a.index for a in found), root.reported_at),
                    f"run {root.run_id} reports {fmt_flop(root.reported_flop)} FLOP, far below "
                    f"the {fmt_flop(total)} FLOP its providers attest for it",
                )
            )
    return out


def _silent(st: PolicyState, now_ms: int) -> list[Finding]:
    last: dict[str, Attestation] = {}
    for a in st.attestations.values():
        if a.provider not in last or a.logged_ms >= last[a.provider].logged_ms:
            last[a.provider] = a
    out = []
    for provider, a in sorted(last.items()):
        # The interval in force at the provider's last attestation: the time it was then
        # given to attest again, which a later amendment does not stretch.
        days = st.rules_at(a.logged_ms).attestation_interval_days
        if now_ms > a.logged_ms + days * DAY_MS:
            out.append(
                finding(
                    "S16",
                    NOTICE,
                    (a.index,),
                    f"compute provider {provider} has not attested since "
                    f"{fmt_date(a.logged_ms)} (more than {days} days)",
                )
            )
    return out
