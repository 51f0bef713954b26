"""Compute accounting: what compute providers attest against what labs declared (S16).

A lab's own reports are not the only evidence: a compute provider (a cloud, a data
centre, a chip registry) attests the compute it delivered to an organisation. Compute
above the deregulated cap that no run pre-registered before it covers is an
undeclared large run; a run that reports far less than was attested for it is
flagged; a provider that stops attesting is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from verifier.entries.fields import parse_time
from verifier.entries.payloads import ComputeAttestation, KeyGrant, Organisation
from verifier.policy.calendar import DAY_MS, fmt_date, fmt_time
from verifier.policy.findings import (
    NOTICE,
    WARNING,
    Finding,
    finding,
    fmt_flop,
    refused,
    violation,
)
from verifier.policy.rules import attested
from verifier.policy.state import Attestation, PolicyState, Run, exceeds, flop


def free_cap(st: PolicyState, ms: int) -> int:
    """The compute a run may use without oversight at *ms*: the deregulated level's cap
    (0 while no level is deregulated)."""
    level = st.deregulated_level_at(ms)
    if level < 0:
        return 0
    return st.cap_at(level, ms) or 0


def _not_under_way(st: PolicyState, named: Run | None, org: str, start_ms: int) -> str | None:
    """Why the run an attestation names does not cover the period from *start_ms*, or
    None when it was under way then: pre-registered by *org* before *start_ms*, its
    training reported started, and not completed or halted by then (an end logged at
    that instant or before); _overrun asks the last condition."""
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
    if not root.chain_started:
        return f"the run it names, {named.run_id}, has not reported its training started"
    if root.ended_ms is not None and root.ended_ms <= start_ms:
        return (
            f"the run it names, {named.run_id}, was over when the period started: "
            f"entry {root.ended_by} ended it at {fmt_time(root.ended_ms)}"
        )
    return None


def _overrun(st: PolicyState, named: Run, start_ms: int, window_ms: int) -> str | None:
    """Why the run *named*, otherwise under way at *start_ms*, no longer covers compute:
    its planned end (its latest version's before *start_ms*) came more than the compute
    window (*window_ms*) before, and it was never reported over. Without this, a run
    never reported over would cover compute for ever (docs/policy-notes.md, S16)."""
    planned_end = st.planned_end(named.org, named.root, start_ms)
    if planned_end is None or planned_end + window_ms > start_ms:
        return None
    return (
        f"the run it names, {named.run_id}, was planned to end by {fmt_time(planned_end)} "
        "(its planned end, or the end of its cycle's year if earlier), at least the "
        f"{window_ms // DAY_MS}-day compute window before the period started, and was "
        "never reported completed or halted"
    )


def _own_run(st: PolicyState, b: ComputeAttestation) -> Run | None:
    """The run *b* names if it is one of the organisation's it attests for: its compute
    is then held to that run's plan, not summed with the organisation's (S16)."""
    named = st.runs.get(b.run) if b.run is not None else None
    return named if named is not None and named.org == b.organisation else None


@dataclass(frozen=True, slots=True)
class _Question:
    """What S16 asks of one attestation: its compute, the free cap at its period's
    start, the compute tolerance and the compute window when it is logged, and the
    organisation's runs under way at the period's start (each one's plan)."""

    b: ComputeAttestation
    start: int
    end: int
    amount: int
    cap: int
    allowed: Decimal
    window: int  # the compute window, in ms
    window_start: int  # the window's end is the period's
    plans: dict[int, int]  # each run under way (its first version) -> its plan


def _question(st: PolicyState, b: ComputeAttestation, logged_ms: int) -> _Question:
    start = parse_time(b.period_start, "period_start")
    end = parse_time(b.period_end, "period_end")
    # The compute tolerance and window are the ones in force when the attestation is
    # logged (docs/policy-notes.md, "Which value applies"), not at the period's start:
    # an amendment between the two applies to the attestation it precedes.
    window = st.rules_at(logged_ms).compute_window_days * DAY_MS
    # The window ends with the period and is at least the period: a period longer
    # than the window is summed whole.
    window_start = min(start, end - window)
    org = b.organisation
    return _Question(
        b,
        start,
        end,
        flop(b.flop_delivered),
        free_cap(st, start),
        1 + st.tolerance(logged_ms),
        window,
        window_start,
        st.plans_under_way(org, start, window),
    )


def _uncovered(st: PolicyState, q: _Question) -> str | None:
    """Why compute *b* attests is not covered (S16), or None.

    Three readings, each a way compute escapes a plan (docs/policy-notes.md, S16), each
    judged only when its compute is above the free cap: the attestation alone against
    the run it names or, naming none, the runs under way when its period started; the
    run it names, against all the compute attested for it; the organisation's compute
    over the periods in the compute window ending with this one (every attestation to
    it, naming its runs or not), against all the runs it had under way in that time.
    """
    b = q.b
    if b.run is None:
        return _alone(q) or _organisation(st, q)
    if q.amount > q.cap:
        # Alone above the free cap: the run it names must be under way. A run the
        # other conditions leave under way but absent from the plans under way is past
        # its overrun (q.plans applies it); only then is its planned end looked up.
        named = st.runs.get(b.run)
        why = _not_under_way(st, named, b.organisation, q.start)
        if why is None and named is not None and named.root not in q.plans:
            why = _overrun(st, named, q.start, q.window)
        if why is not None:
            return why
    own = _own_run(st, b)
    if own is None:
        return _organisation(st, q)  # not its own run: summed with the organisation's
    # Its own run's compute is held to that run's plan, and summed with the
    # organisation's too: a plan cannot cover the same compute twice, named and not.
    return _run_total(st, q, own) or _organisation(st, q)


def _alone(q: _Question) -> str | None:
    """An attestation naming no run, against the largest run under way."""
    largest = max(q.plans.values(), default=0)
    if q.amount <= q.cap or not exceeds(q.amount, largest, q.allowed):
        return None
    org = q.b.organisation
    if not q.plans:
        return f"{org} had no run under way when the period started to cover it"
    which = "the one run" if len(q.plans) == 1 else f"the largest of the {len(q.plans)} runs"
    return (
        f"{which} {org} had under way when the period started plans "
        f"{_compared(largest, q.allowed, q.amount)}"
    )


def _run_total(st: PolicyState, q: _Question, named: Run) -> str | None:
    """The compute attested for the run *named*, in all, against its plan."""
    total = st.runs[named.root].attested_flop + q.amount
    # The run's plan when the period started (its latest version logged by then), or,
    # for a run not under way then, the plan of the version named.
    planned = q.plans.get(named.root, named.planned_flop)
    if total <= q.cap or not exceeds(total, planned, q.allowed):
        return None
    what = "it attests" if total == q.amount else "attested for that run in all"
    return f"run {named.run_id} plans {_compared(planned, q.allowed, total)} {what}"


def _organisation(st: PolicyState, q: _Question) -> str | None:
    """The compute attested to the organisation (naming its runs or not) over the
    periods that overlap the compute window ending with this one, against all the runs
    it had under way at some time from the earliest of those periods' starts (or the
    window's) to this one's. An organisation the log does not register is summed with
    every other such name (reading K11)."""
    org = q.b.organisation
    ws = q.window_start
    known = org in st.registered
    attested = st.org_attested.get(org, ()) if known else st.unregistered_attested
    summed = [(s, f) for s, e, f in attested if s < q.end and ws < e]
    earlier = [f for _, f in summed]
    total = q.amount + sum(earlier)
    if total <= q.cap:
        return None  # free compute: no need to ask which runs cover it
    # A period that began before the window is summed whole, so the runs under way
    # during it count too: a run that ended before the window started covered it.
    since = min([ws, *(s for s, _ in summed)])
    window_plans = st.plans_under_way(org, q.start, q.window, since=since)
    planned = sum(window_plans.values())
    if not exceeds(total, planned, q.allowed):
        return None
    count = f"{len(earlier)} earlier attestation" + ("s" if len(earlier) != 1 else "")
    days = q.window // DAY_MS
    where = (
        f"in the {days}-day compute window from {fmt_date(ws)}" if days else "overlapping this one"
    )
    if not window_plans:
        runs = f"and {org} had no run under way then"
    else:
        n = len(window_plans)
        runs = (
            f"more than the {n} run{'s' if n > 1 else ''} it had under way then "
            f"plan{'' if n > 1 else 's'}: {_compared(planned, q.allowed, total)}"
        )
    if not known:
        # No lab key and no organisation entry: the name alone could be one of many
        # that a lab's compute is split across.
        return (
            f"{org} is an organisation the log does not register (no organisation entry, "
            f"no lab key); with the {len(earlier)} earlier attestation"
            f"{'s' if len(earlier) != 1 else ''} to such names of periods {where}, "
            f"they were delivered {fmt_flop(total)} FLOP, {runs}; one lab's compute split "
            "across names the log does not know looks like this"
        )
    return (
        f"with the {count} of periods {where}, "
        f"{org} was delivered {fmt_flop(total)} FLOP, {runs}; one run's compute split "
        "across attestations looks like this"
    )


def _compared(planned: int, allowed: Decimal, attested: int) -> str:
    """A plan, what the compute tolerance lets it reach, and the compute it falls short
    of: "6e25 FLOP, 6.3e25 with the 5% compute tolerance, less than the 6.4e25 FLOP",
    with every digit when three would print the last two alike."""
    limit = Decimal(planned) * allowed
    # Three digits of the limit, as people write FLOP (a Decimal keeps its zeros).
    a, b = fmt_flop(Decimal(f"{limit:.3g}").normalize()), fmt_flop(attested)
    if a == b:
        a, b = _digits(limit), str(attested)
    if allowed == 1:
        return f"{a} FLOP, less than the {b} FLOP"
    pct = f"{((allowed - 1) * 100).normalize():f}%"
    return f"{fmt_flop(planned)} FLOP, {a} with the {pct} compute tolerance, less than the {b} FLOP"


def _digits(n: Decimal) -> str:
    """Every digit of *n*: an integer as one, a fraction without trailing zeros."""
    if n == n.to_integral_value():
        return str(int(n))
    return f"{n:f}".rstrip("0")


def check_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> list[Finding]:
    q = _question(st, b, logged_ms)
    start, end = q.start, q.end
    out: list[Finding] = []
    named = st.runs.get(b.run) if b.run is not None else None
    if named is not None and named.org != b.organisation:
        out.append(
            violation(
                "S16",
                (named.index, index),
                f"{b.provider} attests compute delivered to {b.organisation} for run "
                f"{named.run_id}, which is {named.org}'s",
            )
        )
    elif named is not None and end > start:
        out += attested.check(st, index, b, named, logged_ms)
    if end <= start:
        # An empty or reversed period overlaps nothing: summed with the organisation's
        # other attestations it would hide compute split across them.
        out.append(
            refused(
                "S16",
                (index,),
                f"the attested period ends ({fmt_time(end)}) no later than it starts "
                f"({fmt_time(start)})",
            )
        )
    why = _uncovered(st, q)
    if why is not None:
        cap = q.cap
        # free_cap is 0 in two cases the reader must tell apart: no level deregulated,
        # or a deregulated level that the charter gives no cap (it frees no compute).
        level = st.deregulated_level_at(start)
        if cap:
            free = f"where a deregulated run may use {fmt_flop(cap)} FLOP"
        elif level < 0:
            free = "while no level is deregulated"
        else:
            free = f"while deregulated level {level} has no cap in the charter"
        out.append(
            violation(
                "S16",
                (index,),
                f"{b.provider} attests {fmt_flop(q.amount)} FLOP delivered to {b.organisation} "
                f"({b.cluster}, {fmt_date(start)} to {fmt_date(end)}), {free}, and {why}: "
                "an undeclared large run",
            )
        )
    return out


def apply_compute_attestation(
    st: PolicyState, index: int, b: ComputeAttestation, logged_ms: int
) -> None:
    start, end = parse_time(b.period_start, "period_start"), parse_time(b.period_end, "period_end")
    amount = flop(b.flop_delivered)
    st.attestations[index] = Attestation(
        index, b.provider, b.organisation, start, end, amount, b.run, logged_ms
    )
    own = _own_run(st, b)
    if own is not None:
        attested.record(st, index, b, own, logged_ms)
        st.runs[own.root].attested_flop += amount
    st.org_attested.setdefault(b.organisation, []).append((start, end, amount))
    if b.organisation not in st.registered:
        st.unregistered_attested.append((start, end, amount))


def apply_organisation(st: PolicyState, index: int, b: Organisation, logged_ms: int) -> None:
    """The regulator registers an organisation: S16 sums its compute under its name."""
    st.registered.setdefault(b.org_id, index)


def apply_key_grant(st: PolicyState, index: int, b: KeyGrant, logged_ms: int) -> None:
    """A key granted a lab's role registers the lab it acts for (S16)."""
    for role in b.roles:
        if role.startswith("lab:"):
            st.registered.setdefault(role.split(":", 1)[1], index)


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
        if root.reported_flop < Fraction(total) * (1 - Fraction(tolerance)):
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
