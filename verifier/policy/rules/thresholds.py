"""Thresholds: a lift only on a lift date and one level at a time (S11), notice
before a change takes effect (S12), deregulation that follows the lift (S13)."""

from __future__ import annotations

from dataclasses import replace

from verifier.entries.fields import parse_date
from verifier.entries.payloads import Deregulation, ThresholdPostponement, ThresholdSchedule
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date, fmt_time
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, refused
from verifier.policy.state import PolicyState, Postponement, flop


def notice(
    st: PolicyState, index: int, what: str, effective_ms: int, logged_ms: int
) -> list[Finding]:
    """S12: a change takes effect the notice period (in force when logged) after it is logged."""
    days = st.rules_at(logged_ms).notice_period_days
    if effective_ms - logged_ms < days * DAY_MS:
        return [
            refused(
                "S12",
                (index,),
                f"{what} takes effect on {fmt_date(effective_ms)}, less than the {days}-day notice period after it was logged ({fmt_date(logged_ms)})",
            )
        ]
    return []


def check_threshold_schedule(
    st: PolicyState, index: int, b: ThresholdSchedule, logged_ms: int
) -> list[Finding]:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    out = notice(st, index, f"the cap of level {b.level}", eff, logged_ms)
    return out + _s11(st, index, b)


def _s11(st: PolicyState, index: int, b: ThresholdSchedule) -> list[Finding]:
    """S11: a threshold change on a lift date, a lift one level at a time and not into
    a cycle a postponement logged before it postponed (whatever level that names)."""
    eff_date = parse_date(b.effective_date, "effective_date")
    if not st.cal.is_lift_date(eff_date):
        return [
            refused(
                "S11",
                (index,),
                f"a threshold change takes effect on {b.effective_date}, which is not a lift date",
            )
        ]
    out: list[Finding] = []
    frontier = _frontier_before(st, b.level, day_start_ms(eff_date))
    if b.level > frontier:
        if b.level > frontier + 1:
            out.append(
                refused("S11", (index,), f"a lift to level {b.level} skips level {frontier + 1}")
            )
        cycle = eff_date.year
        out += [
            refused(
                "S11",
                (index, p.index),
                f"the lift to level {b.level} in {cycle} was postponed to {p.to_cycle} (entry {p.index})",
            )
            for p in st.postponements_of(cycle)
        ]
    return out


def apply_threshold_schedule(
    st: PolicyState, index: int, b: ThresholdSchedule, logged_ms: int
) -> None:
    # A schedule that breaks S11 (refused at admission, present only if forced in)
    # takes no effect: a refused entry cannot change the rules (docs/policy-notes.md).
    if _s11(st, index, b):
        return
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    st.caps.setdefault(b.level, []).append((eff, flop(b.cap_flop), index))
    st.caps[b.level].sort(key=lambda c: (c[0], c[2]))  # the latest schedule wins a date
    if b.level > _frontier_before(st, b.level, eff):
        st.lifts.append((eff, b.level, index))
        st.lifts.sort()


def _frontier_before(st: PolicyState, level: int, eff: int) -> int:
    """The frontier a schedule of *level* taking effect at *eff* is judged against: the
    frontier just before its date. On the first cycle's lift date the charter itself
    lifts the initial level, so a schedule of that level then changes its cap and
    lifts nothing (docs/policy-notes.md, "The frontier before the first lift")."""
    initial = st.rules.initial_frontier_level
    if level == initial and eff == st.cal.lift_ms(st.rules.first_cycle):
        return initial
    return st.frontier_at(eff - 1)


def check_threshold_postponement(
    st: PolicyState, index: int, b: ThresholdPostponement, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    if b.to_cycle <= b.from_cycle:
        out.append(
            refused(
                "S11",
                (index,),
                f"a postponement from {b.from_cycle} to {b.to_cycle} does not postpone",
            )
        )
    # Choice: a postponement answers a decision date with no approval, so it
    # must be logged by the decision date before the lift (S11); the notice
    # period of S12 cannot apply to it and is not required.
    _, decision_end = st.cal.decision_day(b.from_cycle - 1)
    if logged_ms >= decision_end:
        out.append(
            finding(
                "S11",
                WARNING,
                (index,),
                f"the postponement of level {b.level} was logged after the {b.from_cycle - 1} decision date",
            )
        )
    return out + _frozen(st, index, b, logged_ms)


def _frozen(st: PolicyState, index: int, b: ThresholdPostponement, logged_ms: int) -> list[Finding]:
    """S13 notice: the deregulations this postponement stops from taking effect: those
    that would take effect without it and do not with it."""
    postponement = Postponement(index, b.level, b.from_cycle, b.to_cycle, logged_ms)
    with_it = replace(st, postponements=[*st.postponements, postponement])
    return [
        finding(
            "S13",
            NOTICE,
            (dereg, index),
            f"the postponement freezes the deregulation of level {level} (entry {dereg}) that was to take effect on {fmt_date(eff)}",
        )
        for eff, level, dereg in st.deregulated
        if st.deregulation_takes_effect(eff, level)
        and not with_it.deregulation_takes_effect(eff, level)
    ]


def apply_threshold_postponement(
    st: PolicyState, index: int, b: ThresholdPostponement, logged_ms: int
) -> None:
    st.postponements.append(Postponement(index, b.level, b.from_cycle, b.to_cycle, logged_ms))


def check_deregulation(
    st: PolicyState, index: int, b: Deregulation, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    eff_date = parse_date(b.effective_date, "effective_date")
    eff = day_start_ms(eff_date)
    out += notice(st, index, f"deregulation of level {b.level}", eff, logged_ms)
    if eff < logged_ms:
        out.append(
            refused(
                "S13",
                (index,),
                f"deregulation is retroactive: effective {b.effective_date}, logged {fmt_time(logged_ms)}",
            )
        )
    frontier = st.frontier_at(eff)
    lag = st.rules.deregulation_lag
    if b.level > frontier - lag:
        allowed = (
            f"at most level {frontier - lag} may be"
            if frontier >= lag
            else f"no level may be until the frontier is level {lag}"
        )
        out.append(
            refused(
                "S13",
                (index,),
                f"level {b.level} is deregulated while the frontier on {b.effective_date} is level {frontier}: {allowed}",
            )
        )
    # Only a postponement logged before the lift took effect stops it.
    out += [
        refused(
            "S13",
            (index, p.index),
            f"deregulation on {b.effective_date}, a lift date whose lift was postponed to {p.to_cycle} (entry {p.index})",
        )
        for p in st.freezing_postponements(eff)
    ]
    return out


def apply_deregulation(st: PolicyState, index: int, b: Deregulation, logged_ms: int) -> None:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    st.deregulated.append((eff, b.level, index))
