"""The policy engine at the edges of its rules: exact instants, limits and messages.

Each test builds a small signed log (the ``Ledger`` of tests/test_reference_rules.py,
default charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, caps 1e25 / 1e26 /
3e26, initial frontier level 1, lag 2, notice 90 days, lead time 30 days, late limit
60 days, contest reply 30 days, reveal deadline 365 days, tolerance 5 %, reporting
tolerance 48 hours) and audits it with the real auditor (``audit_leaves``). Where a
rule has a limit, the log is judged one millisecond before it, exactly on it and one
millisecond after it, and the finding is named exactly: rule, severity, entries and
the sentence a reader sees (docs/policy-notes.md, "Evidence: which entries a finding
names").

Where the engine and the reference auditor (tests/reference_rules.py) read an
instant differently, the test says which reading the engine implements.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from tests.payload_examples import EXAMPLES, ORIGIN
from tests.test_reference_rules import (
    DIGEST,
    OTHER_DIGEST,
    PLAN,
    SALT,
    Ledger,
    approved_run,
    commitment,
    ms,
    submitted_run,
)
from verifier.policy.audit import Auditor, AuditReport, audit_leaves
from verifier.policy.findings import Finding
from verifier.policy.report import report_json, report_text, verdict
from verifier.policy.rules.reveals import due_markers
from verifier.policy.status import submission_schedule

Seen = set[tuple[str, str, tuple[int, ...], str]]


def audit(lg: Ledger, now: str, blobs: dict[str, bytes] | None = None) -> AuditReport:
    return audit_leaves(ORIGIN, lg.leaves, ms(now), blobs or {})


def seen(lg: Ledger, now: str, blobs: dict[str, bytes] | None = None) -> Seen:
    """Every finding as (rule, severity, entries, message)."""
    return {(f.rule, f.severity, f.indices, f.message) for f in audit(lg, now, blobs).findings}


def only(lg: Ledger, now: str, blobs: dict[str, bytes] | None = None) -> Finding:
    (f,) = audit(lg, now, blobs).findings
    return f


def iso_ms(value: int) -> str:
    """Milliseconds since the epoch -> 2027-06-30T23:59:59.999Z."""
    when = dt.datetime.fromtimestamp(value // 1000, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value % 1000:03d}Z"


def V(rule: str, indices: tuple[int, ...], message: str) -> tuple[str, str, tuple[int, ...], str]:
    return (rule, "violation", indices, message)


def W(rule: str, indices: tuple[int, ...], message: str) -> tuple[str, str, tuple[int, ...], str]:
    return (rule, "warning", indices, message)


def N(rule: str, indices: tuple[int, ...], message: str) -> tuple[str, str, tuple[int, ...], str]:
    return (rule, "notice", indices, message)


def submitted(lg: Ledger, at: str = "2027-06-01") -> tuple[int, int, int]:
    """A run pre-registered, started and completed, submitted at *at*: (P, suite, S)."""
    p = lg.prereg()
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    return p, suite, lg.submission(p, at=at)


# == S1: the lead time, counted from the pre-registration's logged_at ==========


def test_s1_start_exactly_the_lead_time_after_the_preregistration_is_on_time() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-05T00:00:00Z")  # 30 days: 2027-01-04T00:00:00Z
    lg.started(p, at="2027-01-04T00:00:00Z")
    assert seen(lg, "2027-02-01") == set()


def test_s1_start_one_millisecond_inside_the_lead_time() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-05T00:00:00Z")
    t = lg.started(p, at="2027-01-04T00:00:00Z", time="2027-01-03T23:59:59.999Z")
    assert seen(lg, "2027-02-01") == {
        V(
            "S1",
            (p, t),
            "run acme-2027-a started 2027-01-03T23:59:59Z, less than the 30-day lead time "
            "after its pre-registration (2026-12-05)",
        )
    }


def test_s1_start_before_the_preregistration_was_logged() -> None:
    lg = Ledger()
    p = lg.prereg(at="2027-01-04T10:00:00Z")
    t = lg.started(p, at="2027-01-04T11:00:00Z", time="2027-01-04T09:59:59.999Z")
    assert seen(lg, "2027-02-01") == {
        V(
            "S1",
            (p, t),
            "run acme-2027-a started (2027-01-04T09:59:59Z) before its pre-registration "
            "was logged (2027-01-04)",
        )
    }


def test_s1_start_at_the_instant_the_preregistration_was_logged_is_only_short_of_lead() -> None:
    lg = Ledger()
    p = lg.prereg(at="2027-01-04T10:00:00Z")
    t = lg.started(p, at="2027-01-04T10:00:00Z")
    ((rule, severity, indices, message),) = seen(lg, "2027-02-01")
    assert (rule, severity, indices) == ("S1", "violation", (p, t))
    assert "less than the 30-day lead time" in message


def test_s1_a_start_reported_later_than_logged_counts_when_logged() -> None:
    """A start cannot be reported before it happens: the claim counts at its logging."""
    lg = Ledger()
    p = lg.prereg(at="2026-12-05T00:00:00Z")
    # Claimed 2027-01-05, logged 2027-01-03T23:59:59.999: inside the lead time.
    t = lg.started(p, at="2027-01-03T23:59:59.999Z", time="2027-01-05T00:00:00Z")
    assert {(r, s, i) for r, s, i, _ in seen(lg, "2027-02-01")} == {("S1", "violation", (p, t))}


# == reporting tolerance (48 hours): claimed times against logged_at ==========


@pytest.mark.parametrize(
    ("claimed", "message"),
    [
        ("2027-01-02T00:00:00Z", None),  # exactly 48 hours before
        ("2027-01-06T00:00:00Z", None),  # exactly 48 hours after
        (
            "2027-01-01T23:59:59.999Z",
            "entry {t} was logged 2027-01-04, 2 days after the start it claims "
            "(2027-01-01T23:59:59.999Z), beyond the 48-hour reporting tolerance",
        ),
        (
            "2027-01-06T00:00:00.001Z",
            "entry {t} was logged 2027-01-04 but claims a start 2 days later "
            "(2027-01-06T00:00:00.001Z), beyond the 48-hour reporting tolerance",
        ),
        (
            "2027-01-15T00:00:00Z",
            "entry {t} was logged 2027-01-04 but claims a start 11 days later "
            "(2027-01-15T00:00:00Z), beyond the 48-hour reporting tolerance",
        ),
        (
            "2027-01-01T00:00:00Z",
            "entry {t} was logged 2027-01-04, 3 days after the start it claims "
            "(2027-01-01T00:00:00Z), beyond the 48-hour reporting tolerance",
        ),
    ],
)
def test_claimed_start_against_the_reporting_tolerance(claimed: str, message: str | None) -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    t = lg.started(p, at="2027-01-04T00:00:00Z", time=claimed)
    warnings = {f for f in seen(lg, "2027-02-01") if f[1] == "warning"}
    expected = set() if message is None else {W("S1", (t,), message.format(t=t))}
    assert warnings == expected


def test_claimed_submission_time_says_lateness_is_judged_by_logged_at() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-06-01", submitted_at="2027-05-25")
    assert seen(lg, "2027-09-01") == {
        W(
            "S8",
            (s,),
            f"entry {s} was logged 2027-06-01, 7 days after the submission time it claims "
            "(2027-05-25T00:00:00Z), beyond the 48-hour reporting tolerance: it is on time "
            "or late by when it was logged",
        )
    }


def test_the_reporting_tolerance_is_the_charters() -> None:
    lg = Ledger(report_tolerance_hours=1)
    p = lg.prereg()
    t = lg.started(p, at="2027-01-04T00:00:00Z", time="2027-01-04T01:00:00.001Z")
    assert seen(lg, "2027-02-01") == {
        W(
            "S1",
            (t,),
            f"entry {t} was logged 2027-01-04 but claims a start 1 hours later "
            "(2027-01-04T01:00:00.001Z), beyond the 1-hour reporting tolerance",
        )
    }


# == S2: the cap and the lift ==================================================


def test_s2_level_one_starts_exactly_at_its_lift() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    lg.started(p, at="2027-01-01T00:00:00Z")
    assert seen(lg, "2027-02-01") == set()


def test_s2_level_one_starts_one_millisecond_before_its_lift() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    t = lg.started(p, at="2026-12-31T23:59:59.999Z")
    assert seen(lg, "2027-02-01") == {
        V(
            "S2",
            (p, t),
            "run acme-2027-a started 2026-12-31T23:59:59Z, before level 1 was lifted (2027-01-01)",
        )
    }


def test_s2_level_zero_is_trainable_from_the_start() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-07-01", level=0, planned_flop="1e25")
    lg.started(p, at="2026-08-01")
    assert seen(lg, "2027-02-01") == set()


def test_s2_level_never_lifted() -> None:
    lg = Ledger()
    p = lg.prereg(level=2, planned_flop="2e26")
    t = lg.started(p)
    assert seen(lg, "2027-02-01") == {
        V(
            "S2",
            (p, t),
            "run acme-2027-a started 2027-01-04T00:00:00Z, before level 2 was lifted "
            "(it has not been)",
        )
    }


@pytest.mark.parametrize(("flop", "over"), [("1e26", False), ("100000000000000000000000001", True)])
def test_s2_plan_against_the_cap(flop: str, over: bool) -> None:
    lg = Ledger()
    p = lg.prereg(planned_flop=flop)
    expected = {
        V("S2", (p,), f"run acme-2027-a plans {flop} FLOP, above the level-1 cap of 1e26 FLOP")
    }
    assert seen(lg, "2027-01-01") == (expected if over else set())


def test_s2_plan_at_a_level_without_a_cap() -> None:
    lg = Ledger()
    p = lg.prereg(level=5, planned_flop="1e26")
    assert seen(lg, "2027-01-01") == {
        V(
            "S2",
            (p,),
            "run acme-2027-a is planned at level 5, which has no cap in force at its planned "
            "start (2027-01-04T00:00:00Z) in the charter or a threshold schedule",
        )
    }


def test_s2_plan_is_judged_by_the_cap_in_force_at_its_planned_start() -> None:
    lg = Ledger()
    lg.schedule(1, "5e25", "2027-01-01", "2026-09-01")  # lowers level 1 from 2027-01-01
    early = lg.prereg(
        at="2026-10-01", run_id="early", planned_start="2026-12-31T23:59:59Z", planned_flop="8e25"
    )
    late = lg.prereg(at="2026-10-02", run_id="late", planned_flop="8e25")
    assert {(r, i) for r, _, i, _ in seen(lg, "2026-11-01")} == {("S2", (late,))}
    assert early


def test_s2_started_with_a_plan_above_the_cap_in_force_then() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-09-01", planned_flop="8e25")  # within the 1e26 cap when logged
    lg.schedule(1, "5e25", "2027-01-01", "2026-09-02")
    t = lg.started(p)
    assert seen(lg, "2027-02-01") == {
        V("S2", (p, t), "run acme-2027-a plans more than the level-1 cap in force when it started")
    }


# == S3: compute against plan × (1 + tolerance) and the cap ====================


@pytest.mark.parametrize(
    ("flop", "finding"),
    [
        ("8.4e25", None),  # 8e25 × 1.05 exactly
        ("84000000000000000000000001", "its plan plus tolerance"),
    ],
)
def test_s3_completion_against_plan_and_tolerance(flop: str, finding: str | None) -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    e = lg.completed(p, flop=flop)
    expected = (
        set()
        if finding is None
        else {
            V(
                "S3",
                (p, e),
                f"run acme-2027-a reports 8.4e25 FLOP (training event), above {finding}, "
                "without a halt",
            )
        }
    )
    assert seen(lg, "2027-06-01") == expected


@pytest.mark.parametrize(("flop", "over"), [("1e26", False), ("100000000000000000000000001", True)])
def test_s3_completion_against_the_cap(flop: str, over: bool) -> None:
    lg = Ledger()
    p = lg.prereg(planned_flop="1e26")  # plan + 5 % is above the cap: the cap binds
    lg.started(p)
    e = lg.completed(p, flop=flop)
    expected = {
        V(
            "S3",
            (p, e),
            "run acme-2027-a reports 1e26 FLOP (training event), above its cap, without a halt",
        )
    }
    assert seen(lg, "2027-06-01") == (expected if over else set())


def test_s3_halt_reporting_the_excess_is_the_required_reaction() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    h = lg.halted(p, flop="9e25")
    assert seen(lg, "2027-06-01") == {
        N(
            "S3",
            (p, h),
            "run acme-2027-a exceeded its plan plus tolerance and was halted, as required "
            "(training event)",
        )
    }


def test_s3_submission_reporting_more_than_the_plan() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, final_flop="9e25")
    assert seen(lg, "2027-06-02") == {
        V(
            "S3",
            (p, s),
            "run acme-2027-a reports 9e25 FLOP (final compute at submission), above its plan "
            "plus tolerance, without a halt",
        )
    }


def test_s3_halt_and_completion_claims_beyond_the_reporting_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    h = lg.event("training_halted", p, "2027-02-10", "2e25", "2027-02-01", halt_criterion="x")
    assert seen(lg, "2027-03-01") == {
        W(
            "S3",
            (h,),
            f"entry {h} was logged 2027-02-10, 9 days after the halt it claims "
            "(2027-02-01T00:00:00Z), beyond the 48-hour reporting tolerance",
        )
    }


# == S4, S5 ====================================================================


def test_only_requests_are_refused_facts_and_warnings_are_logged() -> None:
    """docs/policy-notes.md, "Which violations are refused at the door"."""
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")
    lg.started(p, at="2027-01-04T00:00:00Z", time="2027-01-10T00:00:00Z")  # S1, S1 warning
    lg.completed(p, flop="9e25")  # S3: a fact
    lg.prereg(at="2027-06-01", supersedes=p)  # S4: a request
    refusable = {(f.rule, f.severity, f.refusable) for f in audit(lg, "2027-07-01").findings}
    assert refusable == {
        ("S1", "violation", False),
        ("S1", "warning", False),
        ("S3", "violation", False),
        ("S4", "violation", True),
    }


def test_s4_amendment_after_the_start_and_events_on_an_amended_version() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-10-01")
    a1 = lg.prereg(at="2026-10-02", supersedes=p)
    a2 = lg.prereg(at="2026-10-03", supersedes=p)
    t = lg.started(p)
    t2 = lg.started(p, at="2027-01-05")
    a3 = lg.prereg(at="2027-01-10", supersedes=a1)
    assert seen(lg, "2027-02-01") == {
        W(
            "S4",
            (p, a1, a2),
            f"amendment of a pre-registration that was already amended (entry {a1})",
        ),
        # A' is the first amendment of p (a1), however many followed (docs/policy-notes.md, S4).
        W("S4", (p, a1, t), f"training event refers to entry {p}, which was amended by entry {a1}"),
        W(
            "S4",
            (p, a1, t2),
            f"training event refers to entry {p}, which was amended by entry {a1}",
        ),
        W("S4", (t, t2), "run acme-2027-a reported its start twice"),
        V("S4", (a1, a3), "run acme-2027-a is amended after its training started"),
    }


def test_s5_halted_run_submitted() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    h = lg.halted(p)
    s = lg.submission(p)
    assert seen(lg, "2027-06-02") == {
        V(
            "S5",
            (p, h, s),
            f"run acme-2027-a was halted (entry {h}) and is submitted without a new "
            "pre-registration",
        )
    }


def test_s1_submission_of_a_run_never_started() -> None:
    lg = Ledger()
    p = lg.prereg()
    s = lg.submission(p)
    assert seen(lg, "2027-06-02") == {
        V(
            "S1",
            (p, s),
            "run acme-2027-a is submitted, but its training start was never reported: report "
            "the start first",
        )
    }


# == The submission window: on time until the end of the deadline day ==========


@pytest.mark.parametrize(
    ("at", "on_time"),
    [("2027-06-30T23:59:59.999Z", True), ("2027-07-01T00:00:00Z", False)],
)
def test_window_closes_at_the_end_of_the_deadline_day(at: str, on_time: bool) -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg, at=at)
    # Undecided when the decision day is over: S8 for an on-time one, nothing yet for a late one.
    expected = {
        V("S8", (s,), f"on-time submission {s} was not decided on the decision date 2027-12-31")
    }
    assert seen(lg, "2028-01-01") == (expected if on_time else set())


def test_window_closed_by_its_marker() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    lg.marker("submission_window_closed", 2027, "2027-07-01T00:00:00Z")
    s = lg.submission(p, at="2027-07-01T00:00:00Z")
    status = schedule_of(lg, s, "2027-07-02")
    assert status is not None and not status.on_time


# == S8: on-time submissions are decided on the decision day ===================


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2027-12-30T23:59:59.999Z", "refused"),
        ("2027-12-31T00:00:00Z", None),
        ("2027-12-31T23:59:59.999Z", None),
        ("2028-01-01T00:00:00Z", "late"),
    ],
)
def test_s8_on_time_decision_on_the_decision_day(at: str, expected: str | None) -> None:
    lg = Ledger()
    _p, suite, s = submitted(lg)
    lg.result(s, suite)
    d = lg.decision(s, at=at)
    lg.access(d, at="2028-01-05")  # researchers' access opens in time (S17)
    found = audit(lg, "2028-02-01").findings
    if expected is None:
        assert found == ()
        return
    (f,) = found
    assert (f.rule, f.severity, f.indices) == ("S8", "violation", (s, d))
    assert f.refusable == (expected == "refused")
    day = at[:10]
    word = "before" if expected == "refused" else "after"
    assert f.message == (
        f"submission {s} was on time and is decided on {day}, {word} the decision date 2027-12-31"
    )


@pytest.mark.parametrize(
    ("now", "undecided"), [("2027-12-31T23:59:59.999Z", False), ("2028-01-01", True)]
)
def test_s8_undecided_once_the_decision_day_is_over(now: str, undecided: bool) -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    expected = {
        V("S8", (s,), f"on-time submission {s} was not decided on the decision date 2027-12-31")
    }
    assert seen(lg, now) == (expected if undecided else set())


# == Schedule markers: logged no earlier than the instant they stand for ========


@pytest.mark.parametrize(
    ("marker", "deadline"),
    [
        ("lift_date", "2027-01-01T00:00:00Z"),
        ("submission_window_closed", "2027-07-01T00:00:00Z"),
        ("decision_due", "2027-12-31T00:00:00Z"),
    ],
)
def test_marker_at_and_just_before_its_instant(marker: str, deadline: str) -> None:
    on_time = Ledger()
    on_time.marker(marker, 2027, deadline)
    assert seen(on_time, "2028-02-01") == set()
    early = Ledger()
    at = iso_ms(ms(deadline) - 1)
    m = early.marker(marker, 2027, at)
    assert seen(early, "2028-02-01") == {
        V(
            "S8",
            (m,),
            f"the {marker} marker of 2027 is logged on {at[:10]}, before {deadline[:10]}",
        )
    }


def due(lg: Ledger, now: str) -> list[tuple[str, str, int]]:
    """The markers the sequencer owes at *now*: (their instant, marker, cycle)."""
    auditor = Auditor(ORIGIN)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    assert auditor.engine is not None
    return [(iso_ms(at), m, c) for at, m, c in due_markers(auditor.engine.state, ms(now))]


def test_markers_fall_due_at_their_instant_and_earliest_first() -> None:
    lg = Ledger()
    assert due(lg, "2026-12-31T23:59:59.999Z") == []
    lift = ("2027-01-01T00:00:00.000Z", "lift_date", 2027)
    window = ("2027-07-01T00:00:00.000Z", "submission_window_closed", 2027)
    decision = ("2027-12-31T00:00:00.000Z", "decision_due", 2027)
    assert due(lg, "2027-01-01T00:00:00Z") == [lift]
    assert due(lg, "2027-06-30T23:59:59.999Z") == [lift]
    assert due(lg, "2027-07-01T00:00:00Z") == [lift, window]
    assert due(lg, "2028-01-01T00:00:00Z") == [
        lift,
        window,
        decision,
        ("2028-01-01T00:00:00.000Z", "lift_date", 2028),
    ]
    lg.marker("lift_date", 2027, "2027-01-01")
    lg.marker("submission_window_closed", 2027, "2027-07-01")
    assert due(lg, "2027-12-31T00:00:00Z") == [decision]


def test_no_markers_are_due_before_a_charter() -> None:
    lg = Ledger()
    lg.leaves = lg.leaves[1:]
    assert due(lg, "2030-01-01") == []


def test_marker_logged_twice_is_a_notice() -> None:
    lg = Ledger()
    m1 = lg.marker("lift_date", 2027, "2027-01-01")
    m2 = lg.marker("lift_date", 2027, "2027-01-02")
    assert seen(lg, "2027-02-01") == {
        N("S8", (m1, m2), "the lift_date marker of 2027 is logged twice")
    }


# == S9: late submissions ======================================================


def late_after_the_decision_day(lg: Ledger) -> int:
    """A late submission of cycle 2027 logged 2028-01-10: due 60 days later, 2028-03-10."""
    p = lg.prereg()
    lg.started(p)
    return lg.submission(p, at="2028-01-10T00:00:00Z")


@pytest.mark.parametrize(
    ("at", "days_late"),
    [
        ("2028-03-09T23:59:59.999Z", None),
        # The engine's reading: the limit's last instant is still within it.
        ("2028-03-10T00:00:00Z", None),
        ("2028-03-10T00:00:00.001Z", 1),
        ("2028-03-10T23:59:59.999Z", 1),
        ("2028-03-11T00:00:00.001Z", 2),
    ],
)
def test_s9_late_decision_against_its_limit(at: str, days_late: int | None) -> None:
    lg = Ledger()
    s = late_after_the_decision_day(lg)
    d = lg.decision(s, at=at, outcome="rejected")
    expected = (
        set()
        if days_late is None
        else {
            V(
                "S9",
                (s, d),
                f"late submission {s} is decided {days_late} days after its 60-day limit",
            )
        }
    )
    assert seen(lg, "2028-04-01") == expected


@pytest.mark.parametrize(
    ("now", "undecided"),
    [("2028-03-10T00:00:00Z", False), ("2028-03-10T00:00:00.001Z", True)],
)
def test_s9_late_submission_undecided_after_its_limit(now: str, undecided: bool) -> None:
    lg = Ledger()
    s = late_after_the_decision_day(lg)
    expected = {V("S9", (s,), f"late submission {s} has no decision 60 days after it became due")}
    assert seen(lg, now) == (expected if undecided else set())


def test_s9_late_decision_before_its_batch_and_out_of_order() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    e = lg.submission(p, at="2027-08-01")
    s = lg.submission(p, at="2027-08-05", model_digest=OTHER_DIGEST)
    d = lg.decision(s, at="2027-12-30T23:59:59.999Z", outcome="rejected")
    assert seen(lg, "2027-12-31T01:00:00Z") == {
        V(
            "S9",
            (s, d),
            f"late submission {s} is decided on 2027-12-30, before its batch's decision date "
            "2027-12-31",
        ),
        V(
            "S9",
            (e, s, d),
            f"late submission {s} is decided before the earlier late submission {e}",
        ),
    }


def test_s9_late_submissions_decided_in_order_are_fine() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    e = lg.submission(p, at="2027-08-01")
    s = lg.submission(p, at="2027-08-05", model_digest=OTHER_DIGEST)
    lg.decision(e, at="2027-12-31T00:00:00Z", outcome="rejected")
    lg.decision(s, at="2027-12-31T00:00:00.001Z", outcome="rejected")
    assert seen(lg, "2028-01-02") == set()


# == S10: one decision, one resolution, answered within the reply limit =========


@pytest.mark.parametrize(
    ("at", "late"),
    [("2027-07-31T00:00:00Z", False), ("2027-07-31T00:00:00.001Z", True)],
)
def test_s10_resolution_against_the_reply_limit(at: str, late: bool) -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    c = lg.contest(s, "2027-07-01T00:00:00Z")
    r = lg.resolution(c, at)
    expected = {V("S10", (c, r), f"contest finding {c} was resolved after the 30-day limit")}
    assert seen(lg, "2027-09-01") == (expected if late else set())


@pytest.mark.parametrize(
    ("now", "late"), [("2027-07-31T00:00:00Z", False), ("2027-07-31T00:00:00.001Z", True)]
)
def test_s10_finding_unanswered_against_the_reply_limit(now: str, late: bool) -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    c = lg.contest(s, "2027-07-01T00:00:00Z")
    expected = {V("S10", (c,), f"contest finding {c} has no resolution within 30 days")}
    assert seen(lg, now) == (expected if late else set())


def test_s10_repeats_name_the_first() -> None:
    lg = Ledger()
    _p, suite, s = submitted(lg)
    c = lg.contest(s, "2027-07-01")
    r1 = lg.resolution(c, "2027-07-10")
    r2 = lg.resolution(c, "2027-07-11", outcome="upheld")
    d1 = lg.decision(s, outcome="rejected")
    d2 = lg.decision(s, at="2027-12-31T13:00:00Z", outcome="rejected")
    r = lg.result(s, suite, at="2027-12-31T14:00:00Z")
    assert seen(lg, "2027-12-31T15:00:00Z") == {
        V("S10", (c, r1, r2), f"contest finding {c} is resolved twice"),
        V("S10", (d1, d2), f"submission {s} already has a decision (entry {d1})"),
        W("S10", (d1, r), f"an evaluation result for submission {s} was logged after its decision"),
    }


# == S6, S7: the chain and the conditions of an approval =======================


@pytest.mark.parametrize("outcome", ["approved", "rejected"])
def test_s6_a_decision_naming_what_is_not_a_submission_says_what_it_names(outcome: str) -> None:
    what = "an approval" if outcome == "approved" else "a rejection"
    lg = Ledger()
    p = lg.prereg()
    suite = lg.suite()
    failed = lg.prereg(org="beta")  # L3: signed by a lab:acme key
    d_prereg = lg.decision(p, at="2027-01-01", outcome=outcome)
    d_suite = lg.decision(suite, at="2027-01-01", outcome=outcome)
    d_grant = lg.decision(1, at="2027-01-01", outcome=outcome)
    d_failed = lg.decision(failed, at="2027-01-01", outcome=outcome)
    d_self = len(lg.leaves)
    lg.decision(d_self, at="2027-01-01", outcome=outcome)
    d_later = lg.decision(d_self + 6, at="2027-01-01", outcome=outcome)
    s6 = {f for f in seen(lg, "2027-01-02") if f[0] == "S6"}

    def names(d: int, target: int, found: str) -> tuple[str, str, tuple[int, ...], str]:
        return V(
            "S6",
            tuple(sorted({target, d})),
            f"decision {d} ({what}) names entry {target} as its submission, but entry "
            f"{target} is {found}",
        )

    assert s6 == {
        names(d_prereg, p, "a preregistration"),
        names(d_suite, suite, "an eval suite"),
        names(d_grant, 1, "a key grant"),
        names(d_failed, failed, "an entry that failed its own checks and has no effect"),
        V(
            "S6",
            (d_self,),
            f"decision {d_self} ({what}) names entry {d_self} as its submission, but entry "
            f"{d_self} is not before it",
        ),
        V(
            "S6",
            (d_later,),
            f"decision {d_later} ({what}) names entry {d_self + 6} as its submission, but "
            f"entry {d_self + 6} is not before it",
        ),
    }
    l4 = {(r, i) for r, _, i, _ in seen(lg, "2027-01-02") if r == "L4"}
    assert l4 == {("L4", (d,)) for d in (d_prereg, d_suite, d_grant, d_failed, d_self, d_later)}


def test_a_decision_failing_its_roles_is_judged_on_its_chain_only() -> None:
    """Signed by the lab, not a regulator: L3. Its chain is sound, so no S6; and it does
    not count as the submission's decision, so S8 once the day is over."""
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    d = lg.decision(s, by=[lg.lab], outcome="rejected")
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-01-01")} == {("L3", (d,)), ("S8", (s,))}


def test_s6_citations_about_another_submission() -> None:
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    other = lg.submission(p, at="2027-06-02", model_digest=OTHER_DIGEST)
    r = lg.result(other, suite)
    c = lg.contest(other, "2027-07-01")
    cr = lg.resolution(c, "2027-07-10")
    d = lg.decision(s, outcome="rejected", results=(r,), findings=(cr,))
    assert seen(lg, "2027-12-31T13:00:00Z") == {
        V(
            "S6",
            (r, d),
            f"the decision cites evaluation result {r}, which is not about submission {s}",
        ),
        V(
            "S6",
            (cr, d),
            f"the decision cites contest resolution {cr}, which resolves no finding about "
            f"submission {s}",
        ),
    }


def test_s6_approval_of_a_run_that_broke_the_run_rules_lists_them() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")  # S1: too late for the 2027-01-04 start
    suite = lg.suite(at="2026-12-21")
    t = lg.started(p)
    e = lg.completed(p, flop="9e25")  # S3
    s = lg.submission(p)
    lg.result(s, suite)
    d = lg.decision(s)
    s6 = {f for f in seen(lg, "2027-12-31T13:00:00Z") if f[0] == "S6"}
    assert s6 == {
        V(
            "S6",
            (p, t, e, d),
            f"decision {d} approves submission {s} of run acme-2027-a, which broke S1, S3 "
            f"(entries {p}, {t}, {e}): an approval cannot rest on such a run",
        )
    }


def test_s6_breaches_of_an_amended_version_count_for_the_run() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")
    a = lg.prereg(at="2026-12-21", supersedes=p)
    suite = lg.suite(at="2026-12-21")
    t = lg.started(a)  # S1 on the amendment: the run's breach
    s = lg.submission(a)
    lg.result(s, suite)
    d = lg.decision(s)
    assert {(r, i) for r, _, i, _ in seen(lg, "2027-12-31T13:00:00Z")} == {
        ("S1", (a, t)),
        ("S6", (a, t, d)),
    }


@pytest.mark.parametrize(
    ("suite_at", "passing"),
    [("2027-06-30T23:59:59.999Z", True), ("2027-07-01T00:00:00Z", False)],
)
def test_s7_the_suite_must_be_logged_before_the_submission_deadline(
    suite_at: str, passing: bool
) -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p)
    suite = lg.suite(at=suite_at)
    lg.result(s, suite, at="2027-07-02")
    d = lg.decision(s)
    expected = {
        V(
            "S7",
            (s, d),
            f"submission {s} is approved without a passing evaluation from a suite published "
            "before the 2027 submission deadline",
        )
    }
    assert seen(lg, "2028-01-01") == (set() if passing else expected)


def test_s7_failing_and_unresolved_and_upheld() -> None:
    lg = Ledger()
    _p, suite, s = submitted(lg)
    passing = lg.result(s, suite)
    failing = lg.result(s, suite, at="2027-07-02", outcome="fail")
    c1 = lg.contest(s, "2027-07-05")
    r1 = lg.resolution(c1, "2027-07-20", outcome="upheld")
    c2 = lg.contest(s, "2027-12-20")
    d = lg.decision(s, results=(passing, failing))
    assert seen(lg, "2027-12-31T13:00:00Z") == {
        V(
            "S7",
            (failing, d),
            f"submission {s} is approved although it failed evaluation (entry {failing})",
        ),
        V("S7", (c2, d), f"submission {s} is approved with contest finding {c2} unresolved"),
        V(
            "S7",
            (c1, r1, d),
            f"submission {s} is approved although contest finding {c1} was upheld (entry {r1}): "
            "the approval would cover the very model the finding is about; a remedied model is "
            "a new submission, evaluated and decided itself",
        ),
    }


def test_s7_results_the_decision_does_not_cite_are_all_the_submissions() -> None:
    lg = Ledger()
    _p, suite, s = submitted(lg)
    lg.result(s, suite)
    failing = lg.result(s, suite, at="2027-07-02", outcome="fail")
    d = lg.decision(s)
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-01-01")} == {("S7", (failing, d))}


def test_s7_citing_only_the_passing_result_does_not_hide_the_failing_one() -> None:
    lg = Ledger()
    _p, suite, s = submitted(lg)
    passing = lg.result(s, suite)
    failing = lg.result(s, suite, at="2027-07-02", outcome="fail")
    d = lg.decision(s, results=(passing,))
    assert seen(lg, "2028-01-01") == {
        V(
            "S7",
            (failing, d),
            f"submission {s} is approved although it failed evaluation (entry {failing})",
        )
    }
    assert lg.audit("2028-01-01") == {("S7", "violation", (failing, d))}  # the reference


def test_s7_a_result_with_a_missing_suite_does_not_pass() -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    r = lg.result(s, 1)  # entry 1 is a key grant, not a suite: L4
    d = lg.decision(s)
    assert {(rule, i) for rule, _, i, _ in seen(lg, "2028-01-01")} == {
        ("L4", (r,)),
        ("S7", (s, d)),
    }


@pytest.mark.parametrize("outcome", ["upheld", "upheld_in_part"])
def test_s7_valid_remedy_keeps_its_batch(outcome: str) -> None:
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome=outcome)
    s2 = lg.submission(p, at="2027-08-01", model_digest=OTHER_DIGEST, remedies=r)
    lg.result(s2, suite, at="2027-09-01")
    lg.decision(s, outcome="rejected")
    d2 = lg.decision(s2, at="2027-12-31T13:00:00Z")
    lg.access(d2)  # researchers' access opens in time (S17)
    assert seen(lg, "2028-03-02") == set()
    status = schedule_of(lg, s2, "2028-03-02")
    assert status is not None and status.on_time and status.remedies == r


def test_s7_remedy_of_a_dismissed_finding_is_not_valid() -> None:
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="dismissed")
    s2 = lg.submission(p, at="2027-08-01", model_digest=OTHER_DIGEST, remedies=r)
    lg.result(s2, suite, at="2027-09-01")
    lg.decision(s, outcome="rejected")
    d = lg.decision(s2, at="2027-12-31T13:00:00Z")
    assert seen(lg, "2028-01-01") == {
        V(
            "S7",
            (r, s2, d),
            f"submission {s2} claims to remedy entry {r}, which is not an upheld contest "
            "finding's resolution about another model of the same run",
        )
    }


def test_s7_remedy_of_another_runs_finding_is_not_valid() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="upheld")
    other = lg.prereg(at="2026-11-02", run_id="acme-2027-b")
    lg.started(other)
    s2 = lg.submission(other, at="2027-08-01", model_digest=OTHER_DIGEST, remedies=r)
    lg.result(s2, suite, at="2027-09-01")
    d = lg.decision(s2, at="2027-12-31T13:00:00Z")
    assert ("S7", "violation", (r, s2, d)) in {(a, b, c) for a, b, c, _ in seen(lg, "2028-01-01")}


# == S11: lifts ================================================================


@pytest.mark.parametrize(
    ("now", "due"), [("2027-12-31T23:59:59.999Z", False), ("2028-01-01T00:00:00Z", True)]
)
def test_s11_lift_neither_earned_nor_postponed_once_the_decision_day_ends(
    now: str, due: bool
) -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    expected = {
        V(
            "S11",
            (t,),
            "no level-1 model was approved by 2027-12-31, yet the lift to level 2 on "
            "2028-01-01 was not postponed",
        )
    }
    assert seen(lg, now) == (expected if due else set())


@pytest.mark.parametrize(
    ("at", "in_time"), [("2027-12-31T23:59:59.999Z", True), ("2028-01-01T00:00:00Z", False)]
)
def test_s11_postponement_by_the_decision_day(at: str, in_time: bool) -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    p = lg.postponement(2028, 2029, at)
    late = {
        W("S11", (p,), "the postponement of level 2 was logged after the 2027 decision date"),
        V(
            "S11",
            (t,),
            "no level-1 model was approved by 2027-12-31, yet the lift to level 2 on "
            "2028-01-01 was not postponed",
        ),
    }
    assert seen(lg, "2028-02-01") == (set() if in_time else late)


@pytest.mark.parametrize(
    ("at", "counts"), [("2027-12-31T23:59:59.999Z", True), ("2028-01-01T00:00:00Z", False)]
)
def test_s11_an_approval_counts_if_logged_before_the_decision_day_ends(
    at: str, counts: bool
) -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    _p, suite, s = submitted_run(lg)
    lg.result(s, suite)
    lg.decision(s, at=at)
    s11 = {(r, i) for r, _, i, _ in seen(lg, "2028-02-01") if r == "S11"}
    assert s11 == (set() if counts else {("S11", (t,))})


def test_s11_each_passing_decision_day_is_judged() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    t = lg.schedule(3, "1e27", "2029-01-01", "2026-10-02")
    run = approved_run(lg)  # level 1 approved in 2027: the lift to 2 happens
    lg.access(run["D"])  # researchers' access opens in time (S17)
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-12-31T23:59:59.999Z")} == set()
    assert seen(lg, "2029-01-01") == {
        V(
            "S11",
            (t,),
            "no level-2 model was approved by 2028-12-31, yet the lift to level 3 on "
            "2029-01-01 was not postponed",
        )
    }


def test_s11_threshold_changes_that_are_no_lift() -> None:
    lg = Ledger()
    off = lg.schedule(2, "3e26", "2028-03-01", "2027-06-01")
    skip = lg.schedule(3, "1e27", "2028-01-01", "2027-06-01")
    same = lg.schedule(1, "2e26", "2028-01-01", "2027-06-01")  # not a lift: level 1 is open
    p = lg.postponement(2028, 2028, "2027-06-02")
    assert same
    assert {f for f in seen(lg, "2027-07-01") if f[0] == "S11"} == {
        V("S11", (off,), "a threshold change takes effect on 2028-03-01, which is not a lift date"),
        V("S11", (skip,), "a lift to level 3 skips level 2"),
        V("S11", (p,), "a postponement from 2028 to 2028 does not postpone"),
    }


def test_s11_lift_into_a_postponed_cycle() -> None:
    lg = Ledger()
    p = lg.postponement(2028, 2030, "2027-06-01")
    t = lg.schedule(2, "3e26", "2029-01-01", "2027-07-01")
    assert seen(lg, "2027-12-01") == {
        V("S11", (p, t), f"the lift to level 2 in 2029 was postponed to 2030 (entry {p})")
    }


def test_a_postponed_lift_does_not_raise_the_frontier() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    lg.postponement(2028, 2029, "2027-07-01")
    p = lg.prereg(
        at="2027-10-01",
        level=2,
        planned_flop="2e26",
        cycle=2028,
        planned_start="2028-01-04T00:00:00Z",
    )
    t = lg.started(p, at="2028-01-04")
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-02-01")} == {("S2", (p, t))}


@pytest.mark.parametrize(
    ("at", "postponed"), [("2027-12-31T23:59:59.999Z", True), ("2028-01-01T00:00:00Z", False)]
)
def test_a_postponement_voids_a_lift_only_if_logged_before_it_takes_effect(
    at: str, postponed: bool
) -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    p2 = lg.prereg(
        at="2026-10-02",
        run_id="big",
        level=2,
        planned_flop="2e26",
        cycle=2028,
        planned_start="2028-01-04T00:00:00Z",
    )
    x = lg.deregulation(0, "2028-01-01", "2026-10-03")
    run = approved_run(lg)
    pp = lg.postponement(2028, 2029, at)
    lg.access(run["D"], at="2028-01-02")  # researchers' access opens in time (S17)
    t = lg.started(p2, at="2028-01-04")
    found = {(r, sev, i) for r, sev, i, _ in seen(lg, "2028-02-01")}
    if postponed:
        assert found == {("S2", "violation", (p2, t)), ("S13", "notice", (x, pp))}
    else:
        assert found == {("S11", "warning", (pp,))}


# == S12: notice =============================================================


@pytest.mark.parametrize(
    ("at", "short"), [("2027-10-03T00:00:00Z", False), ("2027-10-03T00:00:00.001Z", True)]
)
def test_s12_notice_period_exactly(at: str, short: bool) -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", at)
    expected = {
        V(
            "S12",
            (t,),
            "the cap of level 2 takes effect on 2028-01-01, less than the 90-day notice period "
            "after it was logged (2027-10-03)",
        )
    }
    assert seen(lg, "2027-12-01") == (expected if short else set())


def test_s12_a_deregulation_needs_the_notice_period_too() -> None:
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(0, "2028-03-01", "2028-01-02")
    assert V(
        "S12",
        (x,),
        "deregulation of level 0 takes effect on 2028-03-01, less than the 90-day notice "
        "period after it was logged (2028-01-02)",
    ) in seen(lg, "2028-02-01")


# == S13: deregulation =========================================================


def dereg_world(lg: Ledger) -> None:
    """Level 2 lifted on 2028-01-01 (approved in 2027): level 0 may be deregulated then."""
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    run = approved_run(lg)
    lg.access(run["D"], at="2028-01-01T12:00:00Z")  # researchers' access in time (S17)


@pytest.mark.parametrize(
    ("at", "retroactive"),
    [
        ("2027-12-31T23:59:59.999Z", False),
        ("2028-01-01T00:00:00Z", False),
        ("2028-01-01T00:00:00.001Z", True),
        ("2028-01-01T23:59:59.999Z", True),
    ],
)
def test_s13_deregulation_logged_on_its_day_is_retroactive(at: str, retroactive: bool) -> None:
    """It takes effect at the start of its effective date: logged after that instant, even
    on the same day, it is retroactive (docs/policy-notes.md, S13)."""
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    approved_run(lg)  # approved 2027-12-31T12:00Z; its access (S17) is not this test's
    x = lg.deregulation(0, "2028-01-01", at)
    s13 = {i for r, _, i, _ in seen(lg, "2028-01-02") if r == "S13"}
    assert s13 == ({(x,)} if retroactive else set())


def test_s13_deregulation_logged_after_its_day() -> None:
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(0, "2028-01-01", "2028-01-02T00:00:00.001Z")
    assert V(
        "S13",
        (x,),
        # the logged time to the second, as every message gives it
        "deregulation is retroactive: effective 2028-01-01, logged 2028-01-02T00:00:00Z",
    ) in (seen(lg, "2028-02-01"))


def test_s13_deregulation_logged_at_midnight_after_its_day_is_retroactive() -> None:
    lg = Ledger()
    dereg_world(lg)
    x = lg.deregulation(0, "2028-01-01", "2028-01-02T00:00:00Z")
    assert ("S13", (x,)) in {(r, i) for r, _, i, _ in seen(lg, "2028-02-01")}


def test_s13_deregulation_above_frontier_minus_lag() -> None:
    lg = Ledger()
    x = lg.deregulation(0, "2028-01-01", "2027-06-01")
    assert seen(lg, "2027-12-01") == {
        V(
            "S13",
            (x,),
            "level 0 is deregulated while the frontier on 2028-01-01 is level 1: no level may "
            "be until the frontier is level 2",
        )
    }


def test_s13_deregulation_on_a_postponed_lift_date() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    p = lg.postponement(2028, 2029, "2027-07-01")
    x = lg.deregulation(0, "2028-01-01", "2027-08-01")
    assert V(
        "S13",
        (p, x),
        f"deregulation on 2028-01-01, a lift date whose lift was postponed to 2029 (entry {p})",
    ) in seen(lg, "2027-12-01")


def test_s13_postponement_freezes_only_deregulations_still_to_come() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    x = lg.deregulation(0, "2028-01-01", "2027-07-01")
    p = lg.postponement(2028, 2029, "2027-08-01")
    assert seen(lg, "2027-12-01") == {
        N(
            "S13",
            (x, p),
            f"the postponement freezes the deregulation of level 0 (entry {x}) that was to take "
            "effect on 2028-01-01",
        )
    }


def test_s13_a_frozen_deregulation_does_not_exempt_a_run() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    lg.deregulation(0, "2028-01-01", "2027-07-01")
    lg.postponement(2028, 2029, "2027-08-01")
    p = lg.prereg(
        at="2028-01-02",
        level=0,
        planned_flop="5e24",
        cycle=2028,
        planned_start="2028-01-03T00:00:00Z",
    )
    t = lg.started(p, at="2028-01-03")
    assert ("S1", (p, t)) in {(r, i) for r, _, i, _ in seen(lg, "2028-01-05")}


def test_s13_deregulated_level_exempts_its_runs_from_the_day_it_takes_effect() -> None:
    lg = Ledger()
    dereg_world(lg)
    lg.deregulation(0, "2028-01-01", "2027-06-01")
    before = lg.prereg(
        at="2027-12-30",
        level=0,
        planned_flop="5e24",
        cycle=2028,
        run_id="before",
        planned_start="2027-12-31T00:00:00Z",
    )
    t0 = lg.started(before, at="2027-12-31T23:59:59.999Z")
    on = lg.prereg(
        at="2027-12-31T00:00:00.001Z",
        level=0,
        planned_flop="5e24",
        cycle=2028,
        run_id="on",
        planned_start="2028-01-01T00:00:00Z",
    )
    lg.started(on, at="2028-01-01T00:00:00Z")
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-02-01") if r == "S1"} == {("S1", (before, t0))}


# == S14: reveals ==============================================================


def sealed(lg: Ledger) -> int:
    return lg.prereg(plan={"sealed": True, "sha256": commitment(SALT, PLAN)})


BLOBS = {hashlib.sha256(PLAN).hexdigest(): PLAN}


@pytest.mark.parametrize(
    ("now", "due"), [("2027-11-01T00:00:00Z", False), ("2027-11-01T00:00:00.001Z", True)]
)
def test_s14_unrevealed_against_the_reveal_deadline(now: str, due: bool) -> None:
    lg = Ledger()
    p = sealed(lg)  # logged 2026-11-01: deadline 2027-11-01
    expected = {
        W("S14", (p,), f"the sealed document of entry {p} was not revealed within 365 days")
    }
    assert seen(lg, now) == (expected if due else set())


def test_s14_reveals_that_do_not_match() -> None:
    lg = Ledger()
    p = sealed(lg)
    wrong_salt = lg.reveal(p, bytes(32), PLAN, "2026-12-01", lg.lab)
    assert seen(lg, "2027-01-01", BLOBS) == {
        V(
            "S14",
            (p, wrong_salt),
            f"the revealed document does not match the commitment in entry {p}",
        )
    }


def test_s14_revealed_blob_with_another_digest() -> None:
    lg = Ledger()
    p = sealed(lg)
    v = lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    digest = hashlib.sha256(PLAN).hexdigest()
    assert seen(lg, "2027-01-01", {digest: b"something else"}) == {
        V("S14", (p, v), "the revealed document does not have the digest the reveal states")
    }


def test_s14_revealed_document_unavailable() -> None:
    lg = Ledger()
    p = sealed(lg)
    v = lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    digest = hashlib.sha256(PLAN).hexdigest()
    assert seen(lg, "2027-01-01") == {
        (
            "S14",
            "not_auditable",
            (p, v),
            f"the revealed document {digest[:16]}… is not available, so the commitment cannot "
            "be checked",
        )
    }


def test_s14_reveal_of_an_entry_without_a_sealed_document() -> None:
    lg = Ledger()
    p = lg.prereg()  # its plan is public
    v = lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    assert seen(lg, "2027-01-01", BLOBS) == {
        V("S14", (p, v), f"entry {p} has no sealed document to reveal")
    }


@pytest.mark.parametrize("field", ["plan", "public", "secret", "report", "evidence"])
def test_s14_every_sealed_document_field_needs_a_reveal(field: str) -> None:
    lg = Ledger()
    doc = {"sealed": True, "sha256": commitment(SALT, PLAN)}
    entry = {
        "plan": lambda: lg.prereg(plan=doc),
        "public": lambda: lg.add(
            "eval_suite",
            {"suite_id": "core", "version": "1", "levels": [1], "public": doc},
            [lg.evaluator],
            "2026-11-01",
        ),
        "secret": lambda: lg.add(
            "eval_suite",
            {
                "suite_id": "core",
                "version": "1",
                "levels": [1],
                "public": {"sealed": False, "sha256": DIGEST},
                "secret": doc,
            },
            [lg.evaluator],
            "2026-11-01",
        ),
        "report": lambda: _result_with_report(lg, doc),
        "evidence": lambda: _contest_with_evidence(lg, doc),
    }[field]()
    unrevealed = {(r, s, i) for r, s, i, _ in seen(lg, "2030-01-01")}
    assert ("S14", "warning", (entry,)) in unrevealed


def _result_with_report(lg: Ledger, doc: dict[str, object]) -> int:
    _p, suite, s = submitted(lg)
    body = {
        "submission": s,
        "suite": suite,
        "outcome": "pass",
        "results": [{"category": "bio-uplift", "outcome": "pass"}],
        "report": doc,
    }
    return lg.add("eval_result", body, [lg.evaluator], "2027-07-01")


def _contest_with_evidence(lg: Ledger, doc: dict[str, object]) -> int:
    _p, _suite, s = submitted(lg)
    body = {"submission": s, "summary": "jailbreak", "evidence": doc}
    return lg.add("contest_finding", body, [lg.contester], "2027-07-01")


def test_s14_the_first_reveal_is_the_one_that_counts() -> None:
    lg = Ledger()
    p = sealed(lg)
    lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    lg.reveal(p, bytes(32), PLAN, "2026-12-02", lg.lab)
    assert {(r, s) for r, s, _, _ in seen(lg, "2028-01-01", BLOBS)} == {("S14", "violation")}


SECRET_PART = b"the secret part of the suite (fictional)"


@pytest.mark.parametrize(
    ("revealed", "sentence"),
    [
        ((), "the 2 sealed documents of entry {e} were not revealed within 365 days"),
        (("public",), "1 of the 2 sealed documents of entry {e} was not revealed within 365 days"),
        (
            ("public", "public"),
            "1 of the 2 sealed documents of entry {e} was not revealed within 365 days",
        ),
        (("secret", "public"), None),
    ],
    ids=["none", "one", "one twice", "both"],
)
def test_s14_each_sealed_document_needs_its_own_reveal(
    revealed: tuple[str, ...], sentence: str | None
) -> None:
    """A reveal names the entry, not the document: as many different documents as the
    entry sealed must be revealed (R28), in any order, a repeat counting once."""
    lg = Ledger()
    docs = {"public": PLAN, "secret": SECRET_PART}
    body = {
        "suite_id": "core",
        "version": "1",
        "levels": [1],
        **{k: {"sealed": True, "sha256": commitment(SALT, v)} for k, v in docs.items()},
    }
    e = lg.add("eval_suite", body, [lg.evaluator], "2026-11-01")
    for day, part in enumerate(revealed, start=1):
        lg.reveal(e, SALT, docs[part], f"2026-12-0{day}", lg.evaluator)
    blobs = {hashlib.sha256(v).hexdigest(): v for v in docs.values()}
    expected = set() if sentence is None else {W("S14", (e,), sentence.format(e=e))}
    assert seen(lg, "2028-01-01", blobs) == expected
    assert lg.audit("2028-01-01", blobs) == {(r, sev, i) for r, sev, i, _ in expected}


# == S17: researchers' access opens within the limit of the approval ===========


def test_s17_no_access_is_reported_only_once_the_limit_has_passed() -> None:
    lg = Ledger()
    run = approved_run(lg)  # approved 2027-12-31T12:00Z: access due by 2028-01-30T12:00Z
    assert not seen(lg, "2028-01-30T12:00:00.000Z")  # access may still open at that instant
    assert seen(lg, "2028-01-30T12:00:00.001Z") == {
        V(
            "S17",
            (run["D"],),
            f"the model approved by decision {run['D']} on 2027-12-31 has no researchers' "
            "access 30 days later",
        )
    }


@pytest.mark.parametrize(
    ("logged", "late"),
    [("2028-01-30T12:00:00.000Z", False), ("2028-01-30T12:00:00.001Z", True)],
    ids=["at the limit", "a millisecond late"],
)
def test_s17_access_opening_at_the_limit_is_in_time(logged: str, late: bool) -> None:
    lg = Ledger()
    run = approved_run(lg)
    x = lg.access(run["D"], at=logged, start="2028-01-30", until="2029-02-01")  # opens when logged
    want = V(
        "S17",
        (run["D"], x),
        f"researchers' access to the model approved by decision {run['D']} opens on "
        "2028-01-30, after the 30-day limit",
    )
    assert seen(lg, "2028-03-01") == ({want} if late else set())


# == The charter ===============================================================


def test_a_log_without_a_charter_cannot_be_audited() -> None:
    lg = Ledger()
    lg.leaves = lg.leaves[1:]  # the grants alone
    findings = audit(lg, "2027-01-01").findings
    assert (
        "L3",
        "not_auditable",
        (),
        "the log has no charter, so the schedule cannot be audited",
    ) in {(f.rule, f.severity, f.indices, f.message) for f in findings}


def test_a_calendar_other_than_the_default() -> None:
    calendar = {
        "lift": "03-01",
        "submission_deadline": "08-31",
        "decision": "11-30",
        "time_zone": "UTC",
    }
    lg = Ledger(calendar=calendar)
    p = lg.prereg(at="2026-11-01", planned_start="2027-03-04T00:00:00Z")
    lg.started(p, at="2027-03-01T00:00:00Z")
    s = lg.submission(p, at="2027-08-31T23:59:59.999Z")
    assert seen(lg, "2027-11-30T23:59:59.999Z") == set()
    assert seen(lg, "2027-12-01") == {
        V("S8", (s,), f"on-time submission {s} was not decided on the decision date 2027-11-30")
    }


# == Where a submission stands (verifier/policy/status.py) =====================


def schedule_of(lg: Ledger, index: int, now: str):  # type: ignore[no-untyped-def]
    auditor = Auditor(ORIGIN)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    assert auditor.engine is not None
    return submission_schedule(auditor.engine.state, index)


def test_status_of_an_on_time_submission() -> None:
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    status = schedule_of(lg, s, "2027-06-02")
    assert status is not None and status.index == s
    assert status.to_json() == {
        "cycle": 2027,
        "on_time": True,
        "deadline": "2027-06-30",
        "decision_date": "2027-12-31",
        "decide_by": "2027-12-31",
        "decide_by_time": "2027-12-31T23:59:59Z",
        "earlier_late": [],
        "remedies": None,
        "status": "on time for the 2027 cycle: decided with every on-time submission on 2027-12-31",
    }


def test_status_of_late_submissions_in_order() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    first = lg.submission(p, at="2027-08-01")
    second = lg.submission(p, at="2027-08-02", model_digest=OTHER_DIGEST)
    third = lg.submission(p, at="2028-01-10T12:00:00Z", model_digest="ef" * 32)
    one, two, three = (schedule_of(lg, i, "2028-01-11") for i in (first, second, third))
    assert one is not None and two is not None and three is not None
    assert one.sentence() == (
        "late: logged after the 2027 submission deadline (2027-06-30); decided in the order "
        "late submissions were logged, not before 2027-12-31 and by 2028-02-29"
    )
    assert two.earlier_late == (first,)
    assert ", after the 1 late submission of its cycle logged before it," in two.sentence()
    assert three.earlier_late == (first, second)
    assert ", after the 2 late submissions of its cycle logged before it," in three.sentence()
    assert three.decide_by == "2028-03-10"  # 60 days after it was logged, not the decision date
    # ...to the instant (S9), which the sentence says, not the whole day
    assert three.decide_by_time == "2028-03-10T12:00:00Z"
    assert three.sentence().endswith("not before 2027-12-31 and by 2028-03-10 12:00:00 UTC")
    assert three.to_json()["on_time"] is False
    assert one.decide_by_time == "2028-02-29T23:59:59Z"


def test_s9_a_late_submission_logged_after_the_decision_day_is_due_at_its_instant() -> None:
    """Its status names the instant S9 counts to: a decision at it is in time, one
    millisecond later is a violation, though still on the same day."""
    for decided_at, rules in (
        ("2028-03-10T12:00:00Z", set()),
        ("2028-03-10T12:00:00.001Z", {"S9"}),
    ):
        lg = Ledger()
        p = lg.prereg()
        lg.started(p)
        s = lg.submission(p, at="2028-01-10T12:00:00Z")
        status = schedule_of(lg, s, "2028-01-11")
        assert status is not None and status.decide_by_time == "2028-03-10T12:00:00Z"
        lg.decision(s, at=decided_at, outcome="rejected")
        assert {f[0] for f in seen(lg, "2028-04-01")} == rules, decided_at


def test_status_of_something_that_is_not_a_submission() -> None:
    lg = Ledger()
    p = lg.prereg()
    assert schedule_of(lg, p, "2027-01-01") is None
    assert schedule_of(lg, 9999, "2027-01-01") is None


def test_status_of_a_remedy_names_the_resolution() -> None:
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="upheld")
    s2 = lg.submission(p, at="2027-08-01", model_digest=OTHER_DIGEST, remedies=r)
    status = schedule_of(lg, s2, "2027-08-02")
    assert status is not None
    assert status.sentence() == (
        f"on time for the 2027 cycle (it remedies an upheld contest finding, resolution {r}): "
        "decided with every on-time submission on 2027-12-31"
    )
    assert suite


def test_s9_a_late_submission_decided_on_its_decide_by_day_is_in_time() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-08-01")
    status = schedule_of(lg, s, "2027-08-02")
    assert status is not None and status.decide_by == "2028-02-29"
    lg.decision(s, at="2028-02-29T12:00:00Z", outcome="rejected")
    assert seen(lg, "2028-04-01") == set()


# == The report a person and a program read (verifier/policy/report.py) ========


def test_report_text_json_and_verdict() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")
    m1 = lg.marker("lift_date", 2027, "2027-01-01")
    m2 = lg.marker("lift_date", 2027, "2027-01-02")
    t = lg.started(p)
    s = lg.submission(p, at="2027-06-01", submitted_at="2027-05-25")
    report = audit(lg, "2028-01-01")
    size = len(lg.leaves)
    assert report_text(report).split("\n") == [
        f"Audit of {ORIGIN}: {size} entries, 4 findings",
        "",
        "S1 — training starts only after a pre-registration logged the lead time before",
        f"  violation     entries {p}, {t}: run acme-2027-a started 2027-01-04T00:00:00Z, less "
        "than the 30-day lead time after its pre-registration (2026-12-20)",
        "",
        "S8 — on-time submissions are decided on the decision date",
        f"  violation     entries {s}: on-time submission {s} was not decided on the decision "
        "date 2027-12-31",
        f"  warning       entries {s}: entry {s} was logged 2027-06-01, 7 days after the "
        "submission time it claims (2027-05-25T00:00:00Z), beyond the 48-hour reporting "
        "tolerance: it is on time or late by when it was logged",
        f"  notice        entries {m1}, {m2}: the lift_date marker of 2027 is logged twice",
    ]
    assert verdict(report) == (
        f"VIOLATIONS {ORIGIN}: 2 violations of the schedule's rules at tree size {size} "
        "(1 warning, 1 notice); the log itself verified"
    )
    assert verdict(report, size=99).endswith(
        "at tree size 99 (1 warning, 1 notice); the log itself verified"
    )
    doc = json.loads(report_json(report, checkpoint="x"))
    assert list(doc) == ["origin", "tree_size", "violations", "checkpoint", "findings"]
    assert (doc["origin"], doc["tree_size"], doc["violations"], doc["checkpoint"]) == (
        ORIGIN,
        size,
        2,
        "x",
    )
    assert doc["findings"][0] == {
        "rule": "S1",
        "severity": "violation",
        "indices": [p, t],
        "message": report.findings[0].message,
    }


def test_report_of_a_clean_log_and_verdict_counts() -> None:
    lg = Ledger()
    report = audit(lg, "2027-01-01")
    assert report_text(report) == (
        f"Audit of {ORIGIN}: {len(lg.leaves)} entries, 0 findings\nNo findings: every rule holds."
    )
    assert (
        verdict(report) == f"NO VIOLATIONS {ORIGIN}: every rule holds at tree size {len(lg.leaves)}"
    )
    p = sealed(lg)
    lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    m1 = lg.marker("lift_date", 2027, "2027-01-01")
    lg.marker("lift_date", 2027, "2027-01-02")
    lg.marker("lift_date", 2027, "2027-01-03")
    report = audit(lg, "2027-02-01")
    assert verdict(report) == (
        f"NO VIOLATIONS {ORIGIN}: every rule holds at tree size {len(lg.leaves)} "
        "(2 notices, 1 not auditable)"
    )
    assert m1


def test_findings_are_ordered_by_severity_rule_number_then_entries() -> None:
    lg = Ledger()
    p = lg.prereg(level=5, planned_flop="1e26")  # S2
    lg.marker("lift_date", 2027, "2027-01-01")
    lg.marker("lift_date", 2027, "2027-01-02")  # S8 notice
    body = {**EXAMPLES["preregistration"], "plan": {"sealed": False, "sha256": DIGEST}}
    q = lg.add("preregistration", {**body, "run_id": "b", "level": 5}, [lg.lab], "2027-01-03")
    late_contest_world = lg.prereg(at="2027-01-04", run_id="c", planned_flop="2e27")  # S2
    report = audit(lg, "2027-02-01")
    assert [(f.rule, f.severity, f.indices) for f in report.findings] == [
        ("S2", "violation", (p,)),
        ("S2", "violation", (q,)),
        ("S2", "violation", (late_contest_world,)),
        ("S8", "notice", (q - 2, q - 1)),
    ]
    by_rule = report.by_rule()
    assert list(by_rule) == ["S2", "S8"] and len(by_rule["S2"]) == 3
    assert report.violations == report.findings[:3]
