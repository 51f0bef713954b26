"""The threshold rules (S11-S13) and the schedule state at the edges mutation testing found
unguarded: verifier/policy/rules/thresholds.py, verifier/policy/calendar.py and
verifier/policy/state.py.

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, caps 1e25 / 1e26 / 3e26,
initial frontier level 1, lag 2, notice 90 days) and names the findings exactly: rule,
severity, entries and message. The mutants these tests kill, and those no input can tell
from the original, are listed in docs/mutation-equivalents-a.md.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_plan_rule_boundaries import replayed
from tests.test_policy_boundaries import V, W, dereg_world, seen
from tests.test_reference_rules import Ledger, amendment, approved_run, ms
from verifier.policy import snapshot
from verifier.policy.calendar import date_of, day_start_ms, fmt_date, fmt_time
from verifier.policy.state import PolicyState

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
