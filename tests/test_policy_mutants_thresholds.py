"""The threshold rules (S11-S13) and the schedule state at the edges mutation testing found
unguarded: verifier/policy/rules/thresholds.py, verifier/policy/calendar.py and
verifier/policy/state.py.

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, caps 1e25 / 1e26 / 3e26,
initial frontier level 1, lag 2, notice 90 days) and names the findings exactly: rule,
severity, entries and message. The mutants these tests kill, and those no input can tell
from the original, are listed in docs/mutation-thresholds.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest

from tests.test_plan_rule_boundaries import replayed
from tests.test_policy_boundaries import N, V, dereg_world, seen
from tests.test_reference_rules import (
    OTHER_DIGEST,
    Ledger,
    amendment,
    ms,
    submitted_run,
)
from verifier.policy import snapshot
from verifier.policy.calendar import date_of, day_start_ms, fmt_date, fmt_time
from verifier.policy.state import PolicyState, Postponement

Seen = set[tuple[str, str, tuple[int, ...], str]]


def rule(found: Seen, name: str) -> Seen:
    """The findings of one rule."""
    return {f for f in found if f[0] == name}


def cap_over(
    p: int, t: int, level: int, run_id: str = "acme-2027-a"
) -> tuple[str, str, tuple[int, ...], str]:
    return V(
        "S2", (p, t), f"run {run_id} plans more than the level-{level} cap in force when it started"
    )


# == The calendar is UTC whatever the machine's local time zone ==================


@pytest.fixture
def local_time_zone_five_hours_behind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to UTC-5 (a POSIX rule: no time-zone data
    needed) for the test, then restored."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_time_zone_five_hours_behind")
def test_day_start_is_midnight_utc_in_any_local_time_zone() -> None:
    assert time.timezone == 5 * 3600  # the fixture took effect
    assert day_start_ms(dt.date(2028, 1, 1)) == ms("2028-01-01T00:00:00Z")


@pytest.mark.usefixtures("local_time_zone_five_hours_behind")
def test_date_of_an_instant_is_its_utc_date_in_any_local_time_zone() -> None:
    # 02:00 UTC is still the previous day five hours west of Greenwich
    assert date_of(ms("2028-01-01T02:00:00Z")) == dt.date(2028, 1, 1)
    assert fmt_date(ms("2027-12-31T23:59:59.999Z")) == "2027-12-31"


@pytest.mark.usefixtures("local_time_zone_five_hours_behind")
def test_fmt_time_is_utc_to_the_second_in_any_local_time_zone() -> None:
    assert fmt_time(ms("2028-01-02T00:00:00.001Z")) == "2028-01-02T00:00:00Z"
    assert fmt_time(ms("2027-01-03T23:59:59.999Z")) == "2027-01-03T23:59:59Z"


@pytest.mark.usefixtures("local_time_zone_five_hours_behind")
def test_retroactive_deregulation_is_judged_and_told_in_utc_in_any_local_time_zone() -> None:
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(0, "2028-01-01", "2028-01-02T00:00:00.001Z")
    assert V(
        "S13",
        (x,),
        "deregulation is retroactive: effective 2028-01-01, logged 2028-01-02T00:00:00Z",
    ) in seen(lg, "2028-02-01")


# == A calendar amendment applies from its cycle on (CycleCalendar) ===============


MARCH_LIFT = {
    "lift": "03-01",
    "submission_deadline": "08-31",
    "decision": "11-30",
    "time_zone": "UTC",
}


def march_from_2028(lg: Ledger) -> int:
    """Cycles from 2028 on lift on 03-01 (the amendment logged with ample notice)."""
    return amendment(
        lg, {"calendar": MARCH_LIFT, "calendar_from_cycle": 2028}, "2026-09-01", "2026-06-02"
    )


def test_a_lift_on_the_amended_lift_date_of_the_amendments_first_cycle() -> None:
    """2028-03-01 is cycle 2028's lift date under the amended calendar; 2028-01-01 (the
    charter's lift date) no longer is."""
    lg = Ledger()
    march_from_2028(lg)
    on = lg.schedule(2, "3e26", "2028-03-01", "2027-06-01")
    off = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    assert on
    assert rule(seen(lg, "2027-07-01"), "S11") == {
        V("S11", (off,), "a threshold change takes effect on 2028-01-01, which is not a lift date")
    }


def test_the_amended_window_closes_after_the_amended_deadline_of_its_first_cycle() -> None:
    """A cycle-2028 submission logged 2028-07-15 is on time under the amended calendar
    (deadline 08-31, decision day 11-30), so it is undecided once 2028-11-30 ends."""
    lg = Ledger()
    march_from_2028(lg)
    lg.schedule(2, "3e26", "2028-03-01", "2026-10-01")
    p = lg.prereg(at="2027-11-01", cycle=2028, planned_start="2028-03-04T00:00:00Z")
    lg.started(p, at="2028-03-04")
    s = lg.submission(p, at="2028-07-15")
    assert rule(seen(lg, "2028-12-01"), "S8") == {
        V("S8", (s,), f"on-time submission {s} was not decided on the decision date 2028-11-30")
    }


# == Caps: which schedule is in force, and from when (PolicyState.cap_at) ==========


@pytest.mark.parametrize(
    ("start", "over"), [("2027-12-31T23:59:59.999Z", False), ("2028-01-01T00:00:00Z", True)]
)
def test_s2_a_lowered_cap_is_in_force_from_the_instant_it_takes_effect(
    start: str, over: bool
) -> None:
    """Level 1's cap lowered to 5e25 from 2028-01-01: a run planning 8e25 that starts at
    that instant breaks it, one that starts a millisecond earlier does not."""
    lg = Ledger()
    lg.schedule(1, "5e25", "2028-01-01", "2027-06-01")
    p = lg.prereg(at="2027-11-01", cycle=2028, planned_start="2027-12-15T00:00:00Z")
    t = lg.started(p, at=start)
    assert rule(seen(lg, "2028-02-01"), "S2") == ({cap_over(p, t, 1)} if over else set())


def test_s2_the_latest_schedule_for_a_date_wins_even_with_a_higher_earlier_cap() -> None:
    """Two schedules of level 1 for the same date: the later entry's (lower) cap is in
    force, not the higher cap of the earlier one."""
    lg = Ledger()
    lg.schedule(1, "9e25", "2028-01-01", "2027-06-01")
    lg.schedule(1, "5e25", "2028-01-01", "2027-06-02")
    p = lg.prereg(at="2027-11-01", cycle=2028, planned_start="2027-12-15T00:00:00Z")
    t = lg.started(p, at="2028-01-04")
    assert rule(seen(lg, "2028-02-01"), "S2") == {cap_over(p, t, 1)}


def test_s2_the_caps_of_a_postponed_lift_never_take_effect() -> None:
    """Two schedules lift level 2 on 2028-01-01 (the second with a lower cap, 2e26); the
    cycle is postponed before the lift. Neither cap takes effect, so a level-2 run
    planning 2.5e26 is judged against the charter's 3e26: it only starts unlifted."""
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    lg.schedule(2, "2e26", "2028-01-01", "2027-06-02")
    lg.postponement(2028, 2029, "2027-07-01")
    p = lg.prereg(
        at="2027-10-01",
        level=2,
        planned_flop="2.5e26",
        cycle=2028,
        planned_start="2028-01-04T00:00:00Z",
    )
    t = lg.started(p, at="2028-01-04")
    assert rule(seen(lg, "2028-02-01"), "S2") == {
        V(
            "S2",
            (p, t),
            "run acme-2027-a started 2028-01-04T00:00:00Z, before level 2 was lifted "
            "(it has not been)",
        )
    }


def test_a_cap_change_at_the_frontier_level_in_a_postponed_cycle_takes_effect() -> None:
    """A schedule of level 1 (already trainable) on 2028-01-01 is no lift: the
    postponement of cycle 2028 neither refuses it (S11) nor stops its cap (S2)."""
    lg = Ledger()
    lg.postponement(2028, 2029, "2027-06-01")
    lg.schedule(1, "5e25", "2028-01-01", "2027-06-02")
    p = lg.prereg(at="2027-11-01", cycle=2028, planned_start="2027-12-15T00:00:00Z")
    t = lg.started(p, at="2028-01-04")
    found = seen(lg, "2028-02-01")
    assert rule(found, "S11") == set()
    assert rule(found, "S2") == {cap_over(p, t, 1)}


# == S11: lifts on one date, and lifts into a postponed cycle ======================


def test_s11_a_second_lift_on_the_same_date_skips_the_level_the_first_lifts_to() -> None:
    """Levels 2 and 3 both scheduled for 2028-01-01: the frontier before that day is 1,
    so the lift to 3 skips level 2 although another schedule lifts to 2 that day."""
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    skip = lg.schedule(3, "1e27", "2028-01-01", "2027-06-02")
    assert rule(seen(lg, "2027-07-01"), "S11") == {
        V("S11", (skip,), "a lift to level 3 skips level 2")
    }


def test_s11_a_lift_that_skips_a_level_into_a_postponed_cycle_is_told_both() -> None:
    lg = Ledger()
    pp = lg.postponement(2028, 2029, "2027-06-01")
    skip = lg.schedule(3, "1e27", "2028-01-01", "2027-06-02")
    assert rule(seen(lg, "2027-07-01"), "S11") == {
        V("S11", (skip,), "a lift to level 3 skips level 2"),
        V("S11", (pp, skip), f"the lift to level 3 in 2028 was postponed to 2029 (entry {pp})"),
    }


def test_a_postponement_is_recorded_as_stated_and_survives_a_snapshot() -> None:
    """The state keeps the postponement's entry, level, cycles and logged time, and
    a snapshot of that state decodes to the same postponement."""
    lg = Ledger()
    pp = lg.postponement(2029, 2030, "2028-03-01", level=3)
    expected = [Postponement(pp, 3, 2029, 2030, ms("2028-03-01"))]
    st = replayed(lg)
    assert st.postponements == expected
    data = json.loads(json.dumps(snapshot.encode(PolicyState, st)))
    assert snapshot.decode(PolicyState, data).postponements == expected


# == S13: which deregulations take effect ========================================


def test_s13_a_deregulation_above_frontier_minus_lag_exempts_no_run() -> None:
    """Frontier 2, lag 2: deregulating level 1 is refused and does not take effect, so a
    level-1 run still needs the lead time (S1)."""
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(1, "2028-04-01", "2027-12-01")
    p = lg.prereg(at="2028-04-02", cycle=2028, run_id="late", planned_start="2028-04-03T00:00:00Z")
    t = lg.started(p, at="2028-04-03")
    found = seen(lg, "2028-05-01")
    assert rule(found, "S13") == {
        V(
            "S13",
            (x,),
            "level 1 is deregulated while the frontier on 2028-04-01 is level 2: at most "
            "level 0 may be",
        )
    }
    assert rule(found, "S1") == {
        V(
            "S1",
            (p, t),
            "run late started 2028-04-03T00:00:00Z, less than the 30-day lead time after its "
            "pre-registration (2028-04-02)",
        )
    }


def test_s13_a_postponement_freezes_a_deregulation_on_its_cycles_lift_date_without_a_lift() -> None:
    """Nothing lifts on 2029-01-01, yet a postponement of cycle 2029 logged before then
    freezes a deregulation that would take effect that day (frontier 2, level 0)."""
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(0, "2029-01-01", "2028-02-01")
    pp = lg.postponement(2029, 2030, "2028-03-01", level=3)
    assert rule(seen(lg, "2028-06-01"), "S13") == {
        N(
            "S13",
            (x, pp),
            f"the postponement freezes the deregulation of level 0 (entry {x}) that was to "
            "take effect on 2029-01-01",
        )
    }


def test_level_zero_is_trainable_from_the_epoch() -> None:
    """Below the initial frontier a level was never lifted: a start claimed at
    1970-01-01T00:00:00Z is early for other rules but not before its level (S2)."""
    lg = Ledger()
    p = lg.prereg(level=0, planned_flop="5e24")
    lg.started(p, at="2027-01-04", time="1970-01-01T00:00:00Z")
    found = seen(lg, "2027-02-01")
    assert rule(found, "S1")  # the claimed start is before the pre-registration
    assert rule(found, "S2") == set()


# == S7: which resolution a remedy may cite (PolicyState.remedied_submission) ======


def test_s7_a_remedy_citing_the_second_resolution_of_a_finding_is_not_valid() -> None:
    """Only a finding's first resolution counts: a changed model citing the second (an
    S10 violation itself) remedies nothing, although both upheld the finding."""
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    lg.resolution(c, "2027-07-20", outcome="upheld")
    r2 = lg.resolution(c, "2027-07-21", outcome="upheld")
    s2 = lg.submission(p, at="2027-08-01", model_digest=OTHER_DIGEST, remedies=r2)
    lg.result(s2, suite, at="2027-09-01")
    lg.decision(s, outcome="rejected")
    d = lg.decision(s2, at="2027-12-31T13:00:00Z")
    assert rule(seen(lg, "2028-01-01"), "S7") == {
        V(
            "S7",
            (r2, s2, d),
            f"submission {s2} claims to remedy entry {r2}, which is not an upheld contest "
            "finding's resolution about another model of the same run",
        )
    }
