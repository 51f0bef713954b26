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
from verifier.policy.calendar import DAY_MS, fmt_date, fmt_time
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, fmt_flop, violation
from verifier.policy.state import Attestation, PolicyState, Run, flop


def free_cap(st: PolicyState, ms: int) -> int:
    """The compute a run may use without oversight at *ms*: the deregulated level's cap
    (0 while no level is deregulated)."""
    level = st.deregulated_level_at(ms)
    if level < 0:
        return 0
    return st.cap_at(level, ms) or 0


def _not_under_way(st: PolicyState, named: Run | None, org: str, start_ms: int) -> str | None:
    """Why the run an attestation names does not cover the period from *start_ms*, or
    None when it was under way then: pre-registered by *org* before *start_ms*, its run
    not completed or halted by then (an end logged at that instant or before)."""
    if named is None:
        return "the run it names is not a pre-registration"
    root = st.runs[named.root]
    if named.org != org:
        return f"the run it names, {named.run_id}, is {named.org}'s, not {org}'s"
    if named.logged_ms >= start_ms:
        return (
            f"the run it names, {named.run_id}, was pre-registered only at "
            f"{fmt_time(named.logged_ms)}, not before the period started"
        )
    if root.ended_ms is not None and root.ended_ms <= start_ms:
        return (
            f"the run it names, {named.run_id}, was over (completed or halted) at "
            f"{fmt_time(root.ended_ms)}, by the time the period started"
        )
    return None


def _uncovered(
    st: PolicyState, b: ComputeAttestation, start: int, amount: int, logged_ms: int
) -> str | None:
    """Why compute *b* attests is not covered (S16), or None.

    Three readings, each a way compute escapes a plan (docs/policy-notes.md, S16), each
    judged only when its compute is above the free cap: the attestation alone against
    the run it names or, naming none, the runs under way when its period started; the
    run it names, against all the compute attested for it; the organisation's compute
    over the periods that overlap this one, against all the runs it had under way.
    """
    cap = free_cap(st, start)
    # The compute tolerance is the one in force when the attestation is logged
    # (docs/policy-notes.md, "Which value applies"), not at the period's start: an
    # amendment between the two applies to the attestation it precedes.
    allowed = 1 + st.tolerance(logged_ms)
    org = b.organisation
    plans = st.plans_under_way(org, start)
    named = st.runs.get(b.run) if b.run is not None else None
    if b.run is None:
        if amount > cap and Decimal(max(plans, default=0)) * allowed < amount:
            return (
                f"no run {org} pre-registered before it and still under way when it "
                "started covers that compute"
            )
    else:
        why = _not_under_way(st, named, org, start)
        if amount > cap and why is not None:
            return why
        if named is not None and named.org == org:
            run_total = st.runs[named.root].attested_flop + amount
            if run_total > cap and Decimal(named.planned_flop) * allowed < run_total:
                what = "it attests" if run_total == amount else "attested for that run in all"
                return (
                    f"run {named.run_id} plans {fmt_flop(named.planned_flop)} FLOP"
                    f"{_within(allowed)}, less than the {fmt_flop(run_total)} FLOP {what}"
                )
    end = end_of(b)
    overlapping = [f for s, e, f in st.org_attested.get(org, ()) if s < end and start < e]
    total = amount + sum(overlapping)
    if total > cap and Decimal(sum(plans)) * allowed < total:
        earlier = f"{len(overlapping)} earlier attestation" + ("s" if len(overlapping) > 1 else "")
        return (
            f"with the {earlier} of periods overlapping this one, {org} was delivered "
            f"{fmt_flop(total)} FLOP, more than all its runs under way when the period "
            f"started plan: {fmt_flop(sum(plans))} FLOP{_within(allowed)}; one run's compute "
            "split across attestations looks like this"
        )
    return None


def _within(allowed: Decimal) -> str:
    """The compute tolerance in words, after a plan ("(5% more within ...)"); nothing
    when it is 0."""
    if allowed == 1:
        return ""
    return f" ({((allowed - 1) * 100).normalize():f}% more within the compute tolerance)"


def end_of(b: ComputeAttestation) -> int:
    return parse_time(b.period_end, "period_end")


def check_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> list[Finding]:
    start, end = parse_time(b.period_start, "period_start"), end_of(b)
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
    why = _uncovered(st, b, start, amount, logged_ms)
    if why is not None:
        cap = free_cap(st, start)
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
                f"({b.cluster}, {fmt_date(start)} to {fmt_date(end)}), {free}, and {why}: "
                "an undeclared large run",
            )
        )
    return out


def apply_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> None:
    start, end, amount = (
        parse_time(b.period_start, "period_start"),
        end_of(b),
        flop(b.flop_delivered),
    )
    st.attestations[index] = Attestation(
        index, b.provider, b.organisation, start, end, amount, b.run, logged_ms
    )
    st.org_attested.setdefault(b.organisation, []).append((start, end, amount))
    named = st.runs.get(b.run) if b.run is not None else None
    if named is not None and named.org == b.organisation:
        st.runs[named.root].attested_flop += amount


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
