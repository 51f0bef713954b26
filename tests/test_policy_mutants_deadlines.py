"""The schedule's deadline rules (S8-S11, S14) where mutation testing found them
unguarded: verifier/policy/rules/deadlines.py.

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, initial frontier level 1) and
names the findings exactly: rule, severity, entries and message. The mutants these tests
kill, and those no input can tell from the original, are listed in
docs/mutation-equivalents-d.md.
"""

from __future__ import annotations

from tests.test_policy_boundaries import V, seen, submitted
from tests.test_reference_rules import OTHER_DIGEST, Ledger

Seen = set[tuple[str, str, tuple[int, ...], str]]


def rule(found: Seen, name: str) -> Seen:
    """The findings of one rule."""
    return {f for f in found if f[0] == name}


# == S8: a decided submission does not end the search for undecided ones ==========


def test_s8_an_undecided_submission_after_a_decided_one_is_still_found() -> None:
    """S8 names the on-time submission left undecided even when an earlier one (lower
    index) was decided on the decision date."""
    lg = Ledger()
    p, suite, s1 = submitted(lg)
    s2 = lg.submission(p, at="2027-06-02", model_digest=OTHER_DIGEST)
    lg.result(s1, suite)
    lg.decision(s1, at="2027-12-31T12:00:00Z", outcome="rejected")
    assert rule(seen(lg, "2028-01-01"), "S8") == {
        V("S8", (s2,), f"on-time submission {s2} was not decided on the decision date 2027-12-31")
    }


# == S11: only a lift to the next level on the lift date needs an approval ========


def test_s11_a_lift_to_the_next_level_a_cycle_later_is_judged_on_its_own_decision_day() -> None:
    """A lift to level 2 scheduled for 2029-01-01 is not due at the 2027 decision day
    (that day decides the 2028 lift): nothing then; it is judged after the 2028 one."""
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2029-01-01", "2027-06-01")
    assert rule(seen(lg, "2028-01-01"), "S11") == set()
    assert rule(seen(lg, "2029-01-01"), "S11") == {
        V(
            "S11",
            (t,),
            "no level-1 model was approved by 2028-12-31, yet the lift to level 2 on "
            "2029-01-01 was not postponed by then",
        )
    }


def test_s11_a_change_on_the_lift_date_that_is_not_the_next_level_needs_no_approval() -> None:
    """A change on the lift date to a level that is not the next one (a new cap for the
    open level 1) is no lift, so the passing decision day finds nothing to postpone."""
    lg = Ledger()
    lg.schedule(1, "2e26", "2028-01-01", "2027-06-01")
    assert rule(seen(lg, "2028-01-01"), "S11") == set()


def test_s11_every_passed_decision_day_keeps_its_own_finding() -> None:
    """Two lifts in a row, neither earned nor postponed: each passed decision day gives
    its own S11 finding, the earlier one is not lost to the later."""
    lg = Ledger()
    t2 = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    t3 = lg.schedule(3, "1e27", "2029-01-01", "2027-06-02")
    assert rule(seen(lg, "2029-01-01"), "S11") == {
        V(
            "S11",
            (t2,),
            "no level-1 model was approved by 2027-12-31, yet the lift to level 2 on "
            "2028-01-01 was not postponed by then",
        ),
        V(
            "S11",
            (t3,),
            "no level-2 model was approved by 2028-12-31, yet the lift to level 3 on "
            "2029-01-01 was not postponed by then",
        ),
    }
