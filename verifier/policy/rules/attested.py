"""What a provider's attestation proves of the run it names (S1-S4 on its evidence).

A lab reports its own start, its own compute and its own amendments; a compute
provider that attests FLOP delivered for one of its runs over a period is independent
evidence about the same run: the run trained by the period's end (the latest it can
have started), and it used at least what its providers attest. Where that evidence
contradicts the lab's reports, the rule is judged on the evidence
(docs/policy-notes.md, "S1 on a provider's evidence"):

- S1: the period ended before the lead time after the plan in force then;
- S2: the period ended before the level of that plan was lifted;
- S3: the compute attested for the run's training in all (periods that began before
  it was reported over) exceeds its plan (with the compute tolerance) or its level's
  cap, and the run has not halted;
- S4: an amendment of the run was logged after the period ended (the run had
  started), whichever of the two was logged first.

A start is proved when the compute attested for the run over periods that ended by
then is more than the compute tolerance of the plan: a provider's nil return, or a
pipeline test, is within the run's own measurement error, and compute split into small
attestations is summed. Compute is counted at least: periods of one provider and
cluster that overlap (a report to date, a restated period) count once, at the largest
(:func:`at_least`). The plan is the run's version in force at the period's end,
whichever version the attestation names.
"""

from __future__ import annotations

from collections.abc import Iterable

from verifier.entries.fields import parse_time
from verifier.entries.payloads import ComputeAttestation
from verifier.policy.calendar import DAY_MS, fmt_date, fmt_time
from verifier.policy.findings import Finding, fmt_flop, refused, violation
from verifier.policy.state import PolicyState, Run, exceeds, flop

#: One attestation as the evidence rules keep it: (provider, cluster, period start,
#: period end, FLOP).
Delivered = tuple[str, str, int, int, int]


def at_least(delivered: Iterable[Delivered]) -> int:
    """The least compute *delivered* proves: summed across providers and clusters, and
    across periods that do not overlap; of periods of one provider and cluster that
    overlap (a report to date, a restated period), only the largest counts, since they
    may describe the same compute."""
    total = 0
    by_source: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for provider, cluster, start, end, amount in delivered:
        by_source.setdefault((provider, cluster), []).append((start, end, amount))
    for periods in by_source.values():
        periods.sort()
        reach, largest = periods[0][1], periods[0][2]
        for start, end, amount in periods[1:]:
            if start < reach:  # overlaps the periods before it: the same compute, maybe
                reach, largest = max(reach, end), max(largest, amount)
            else:
                total += largest
                reach, largest = end, amount
        total += largest
    return total


def delivered_of(b: ComputeAttestation) -> Delivered:
    return (
        b.provider,
        b.cluster,
        parse_time(b.period_start, "period_start"),
        parse_time(b.period_end, "period_end"),
        flop(b.flop_delivered),
    )


def proven_start(
    st: PolicyState, b: ComputeAttestation, named: Run, logged_ms: int
) -> tuple[Run, int, int] | None:
    """(the plan in force at the period's end, that end, the compute proved by then) if
    *b*, naming *named* (a run of the organisation it attests for), proves the run
    trained by then; else None.

    It does when the compute attested for the run over periods that ended by then (this
    one and the earlier ones: split into small pieces it is still the same compute) is,
    at least, more than the compute tolerance of that plan. The plan is the run's
    version in force then, whichever version the attestation names."""
    mine = delivered_of(b)
    _, _, start, end, _ = mine
    if end <= start:
        return None
    root = st.runs[named.root]
    plan = st.version_in_force(root, end)
    proved = at_least([*(d for d in root.attested if d[3] <= end), mine])
    if not exceeds(proved, plan.planned_flop, st.tolerance(logged_ms)):
        return None
    return plan, end, proved


def check(
    st: PolicyState, index: int, b: ComputeAttestation, named: Run, logged_ms: int
) -> list[Finding]:
    """S1-S4 on the evidence of attestation *index*, which names *named*, a run of the
    organisation it attests for, over a valid period."""
    out = _compute(st, index, b, named, logged_ms)
    proved = proven_start(st, b, named, logged_ms)
    if proved is None:
        return out
    plan, end, total = proved
    amount = flop(b.flop_delivered)
    said = (
        f"{b.provider} attests {fmt_flop(amount)} FLOP delivered for run "
        f"{named.run_id} over a period that ended {fmt_time(end)}"
        + (
            f" (with the earlier attestations, at least {fmt_flop(total)} over periods that "
            "ended by then)"
            if total > amount
            else ""
        )
    )
    lead = st.rules_at(plan.logged_ms).preregistration_lead_days
    if plan.level > st.deregulated_level_at(end) and end < plan.logged_ms + lead * DAY_MS:
        which = (
            "its pre-registration"
            if plan.index == plan.root
            else f"the amendment of its plan in force then (entry {plan.index})"
        )
        when = (
            f"before {which} was logged"
            if end <= plan.logged_ms
            else f"less than the {lead}-day lead time after {which}"
        )
        out.append(
            violation(
                "S1",
                (plan.index, index),
                f"{said}, {when} ({fmt_date(plan.logged_ms)}): the run trained before it "
                "could start",
            )
        )
    # S2 likewise: compute delivered before the level's lift is training before it.
    lifted = st.level_effective_ms(plan.level)
    if lifted is None or end < lifted:
        at = f" ({fmt_date(lifted)})" if lifted is not None else " (it has not been)"
        out.append(
            violation(
                "S2",
                (plan.index, index),
                f"{said}, before level {plan.level} was lifted{at}: the run trained before "
                "its level could be trained",
            )
        )
    # S4: the amendments already logged after the run had started, by this evidence.
    root = st.runs[named.root]
    for i in root.versions:
        amendment = st.runs[i]
        if amendment.logged_ms > end and amendment.supersedes is not None:
            out.append(
                violation(
                    "S4",
                    (amendment.supersedes, i, index),
                    f"{said}: the run had started, yet its plan was amended after that "
                    f"(entry {i}, logged {fmt_date(amendment.logged_ms)})",
                )
            )
    return out


def _compute(
    st: PolicyState, index: int, b: ComputeAttestation, named: Run, logged_ms: int
) -> list[Finding]:
    """S3 on the evidence: the compute attested for the run's training in all (this
    attestation and every earlier one naming any of its versions, for periods that
    began before the run was reported over, as the log stands) above the plan in force
    at this period's end, with the compute tolerance, or above its level's cap (the
    latest schedule's, as S3 reads it for a report), while no version of the run has
    halted: a halt is the required reaction, and a halted run is not approved anyway
    (S5). Compute for periods after the run was over is not its training (S16 asks
    what covers it)."""
    root = st.runs[named.root]
    if any(st.runs[i].halted is not None for i in (root.index, *root.versions)):
        return []
    mine = delivered_of(b)
    _, _, start, end, _ = mine
    over = root.ended_ms
    if over is not None and start >= over:
        return []
    plan = st.version_in_force(root, end)
    total = at_least([*(d for d in root.attested if over is None or d[2] < over), mine])
    cap = st.cap_at(plan.level, 2**62)
    if cap is not None and total > cap:
        limit = f"its level's cap of {fmt_flop(cap)} FLOP"
    elif exceeds(total, plan.planned_flop, 1 + st.tolerance(logged_ms)):
        limit = f"its plan of {fmt_flop(plan.planned_flop)} FLOP with the compute tolerance"
    else:
        return []
    return [
        violation(
            "S3",
            (plan.index, index),
            f"providers attest at least {fmt_flop(total)} FLOP delivered for run {named.run_id} "
            f"in all (the latest, {b.provider}: {fmt_flop(flop(b.flop_delivered))}), above {limit}, "
            "and the run has not halted",
        )
    ]


def record(st: PolicyState, index: int, b: ComputeAttestation, named: Run, logged_ms: int) -> None:
    """Keep, on the run's first version, the compute *index* attests (S3) and the start
    it proves: an amendment logged after that is S4 (:func:`amended_after_proof`)."""
    proved = proven_start(st, b, named, logged_ms)
    mine = delivered_of(b)
    # Looked up after every other record this entry reads: a record is the live one
    # only until enough others have been read after it (verifier.policy.spill, the
    # writer's stored state), so it is changed right after it is looked up.
    root = st.runs[named.root]
    if mine[3] > mine[2]:  # an empty period delivers nothing
        root.attested = (*root.attested, mine)
    if proved is not None:
        root.proofs = (*root.proofs, (proved[1], index))


def amended_after_proof(
    st: PolicyState, index: int, supersedes: int, root: Run, logged_ms: int
) -> list[Finding]:
    """S4 on the evidence, at an amendment: each attestation logged before it that
    proves the run had started before it (its period ended before the amendment)."""
    return [
        refused(
            "S4",
            (supersedes, index, proof),
            f"run {root.run_id} is amended after its training started: a provider "
            f"attests compute delivered for it over a period that ended {fmt_time(end)} "
            f"(entry {proof})",
        )
        for end, proof in root.proofs
        if end < logged_ms
    ]
