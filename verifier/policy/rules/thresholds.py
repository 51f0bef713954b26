"""Thresholds: a lift only on a lift date and one level at a time (S11), notice
before a change takes effect (S12), deregulation that follows the lift (S13)."""

from __future__ import annotations

from verifier.entries.fields import parse_date
from verifier.entries.payloads import Deregulation, ThresholdPostponement, ThresholdSchedule
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, refused
from verifier.policy.state import PolicyState, flop


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
    out: list[Finding] = []
    eff_date = parse_date(b.effective_date, "effective_date")
    eff = day_start_ms(eff_date)
    out += notice(st, index, f"the cap of level {b.level}", eff, logged_ms)
    if not st.cal.is_lift_date(eff_date):
        out.append(
            refused(
                "S11",
                (index,),
                f"a threshold change takes effect on {b.effective_date}, which is not a lift date",
            )
        )
        return out
    frontier = st.frontier_at(eff - 1)
    if b.level > frontier:
        if b.level > frontier + 1:
            out.append(
                refused("S11", (index,), f"a lift to level {b.level} skips level {frontier + 1}")
            )
        cycle = eff_date.year
        postponed = st.postponed.get((b.level, cycle))
        if postponed is not None:
            out.append(
                refused(
                    "S11",
                    (index, postponed[1]),
                    f"the lift to level {b.level} in {cycle} was postponed to {postponed[0]} (entry {postponed[1]})",
                )
            )
    return out


def apply_threshold_schedule(
    st: PolicyState, index: int, b: ThresholdSchedule, logged_ms: int
) -> None:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    st.caps.setdefault(b.level, []).append((eff, flop(b.cap_flop), index))
    st.caps[b.level].sort()
    if b.level > st.frontier_at(eff - 1):
        st.lifts.append((eff, b.level, index))
        st.lifts.sort()


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
    """S13 notice: the deregulations this postponement stops from taking effect."""
    lift_dates = {st.cal.lift_ms(cycle) for cycle in range(b.from_cycle, b.to_cycle)}
    return [
        finding(
            "S13",
            NOTICE,
            (dereg, index),
            f"the postponement freezes the deregulation of level {level} (entry {dereg}) that was to take effect on {fmt_date(eff)}",
        )
        for eff, level, dereg in st.deregulated
        if eff in lift_dates and eff > logged_ms
    ]


def apply_threshold_postponement(
    st: PolicyState, index: int, b: ThresholdPostponement, logged_ms: int
) -> None:
    for cycle in range(b.from_cycle, b.to_cycle):
        st.postponed[(b.level, cycle)] = (b.to_cycle, index, logged_ms)


def check_deregulation(
    st: PolicyState, index: int, b: Deregulation, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    eff_date = parse_date(b.effective_date, "effective_date")
    eff = day_start_ms(eff_date)
    out += notice(st, index, f"deregulation of level {b.level}", eff, logged_ms)
    if eff < logged_ms - DAY_MS:
        out.append(
            refused(
                "S13",
                (index,),
                f"deregulation is retroactive: effective {b.effective_date}, logged {fmt_date(logged_ms)}",
            )
        )
    frontier = st.frontier_at(eff)
    lag = st.rules.deregulation_lag
    if b.level > frontier - lag:
        out.append(
            refused(
                "S13",
                (index,),
                f"level {b.level} is deregulated while the frontier on {b.effective_date} is level {frontier}: at most level {frontier - lag} may be",
            )
        )
    for (lv, cycle), (to_cycle, pidx, _) in st.postponed.items():
        if cycle == eff_date.year and st.cal.is_lift_date(eff_date):
            out.append(
                refused(
                    "S13",
                    (index, pidx),
                    f"deregulation on {b.effective_date} while the lift of level {lv} is postponed to {to_cycle}",
                )
            )
            break
    return out


def apply_deregulation(st: PolicyState, index: int, b: Deregulation, logged_ms: int) -> None:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    st.deregulated.append((eff, b.level, index))
