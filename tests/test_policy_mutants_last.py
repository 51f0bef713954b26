"""The last policy mutants mutation testing found unguarded: the postponement state
(verifier/policy/state.py), the engine's S6 refusal of a decision naming no submission
(verifier/policy/rules/decisions.py), the auditor's L2 naming (verifier/policy/audit.py)
and the markers owed over several cycles (verifier/policy/rules/reveals.py).

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027) and names the findings or
values exactly. The mutants no input can tell from the original are listed in
docs/mutation-thresholds.md, docs/mutation-decisions.md, docs/mutation-deadlines.md and
docs/mutation.md.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from tests.test_plan_rule_boundaries import replayed
from tests.test_policy_boundaries import V, due, seen, submitted
from tests.test_policy_mutants_deadlines import as_seen, fed
from tests.test_policy_mutants_decisions import engine_after, payloads
from tests.test_reference_rules import Ledger, ms
from verifier.policy.findings import Finding
from verifier.policy.state import Postponement

Seen = set[tuple[str, str, tuple[int, ...], str]]


def rule(found: Seen, name: str) -> Seen:
    """The findings of one rule."""
    return {f for f in found if f[0] == name}


# == Postponements: the cycles they cover and when they were logged ===============


def test_a_postponement_covers_its_from_cycle_up_to_but_not_its_to_cycle() -> None:
    """A postponement from 2028 to 2029 postpones cycle 2028's lift only: not 2027's,
    not 2029's (the cycle it moves the lift to), so a lift on 2029-01-01 is no S11."""
    lg = Ledger()
    pp = lg.postponement(2028, 2029, "2027-06-01")
    lg.schedule(2, "3e26", "2029-01-01", "2027-06-02")
    st = replayed(lg)
    expected = Postponement(pp, 2, 2028, 2029, ms("2027-06-01"))
    assert st.postponements_of(2027) == []
    assert st.postponements_of(2028) == [expected]
    assert st.postponements_of(2029) == []
    assert rule(seen(lg, "2027-07-01"), "S11") == set()


def test_a_postponement_of_another_cycle_logged_before_is_not_one_of_this_cycle() -> None:
    """A time bound does not widen the cycles: a postponement of 2029 logged in 2027 is
    not a postponement of 2028's lift, whatever the bound."""
    lg = Ledger()
    lg.postponement(2029, 2030, "2027-06-01")
    st = replayed(lg)
    assert st.postponements_of(2028) == []
    assert st.postponements_of(2028, ms("2028-01-01")) == []
    assert st.lift_postponed(ms("2028-01-01")) is False


@pytest.mark.parametrize(
    ("logged", "postponed"),
    [("2027-12-31T23:59:59.999Z", True), ("2028-01-01T00:00:00.000Z", False)],
)
def test_a_postponement_logged_at_the_instant_the_lift_takes_effect_is_too_late(
    logged: str, postponed: bool
) -> None:
    """Only a postponement logged before the lift took effect stops it: 1 ms before
    2028-01-01 it does, at that instant it does not."""
    lg = Ledger()
    pp = lg.postponement(2028, 2029, logged)
    st = replayed(lg)
    lift = ms("2028-01-01")
    expected = [Postponement(pp, 2, 2028, 2029, ms(logged))] if postponed else []
    assert st.postponements_of(2028, lift) == expected
    assert st.lift_postponed(lift) is postponed
    assert st.freezing_postponements(lift) == expected


def test_a_postponement_logged_after_a_lift_date_does_not_freeze_it() -> None:
    """S13: a postponement of cycle 2029 logged on 2029-03-01 came after that cycle's
    lift date: it freezes nothing on 2029-01-01 (nor makes that lift postponed)."""
    lg = Ledger()
    pp = lg.postponement(2029, 2030, "2029-03-01")
    st = replayed(lg)
    assert st.postponements_of(2029) == [Postponement(pp, 2, 2029, 2030, ms("2029-03-01"))]
    assert st.freezing_postponements(ms("2029-01-01")) == []
    assert st.freezing_postponement(ms("2029-01-01")) is None


# == S6: the engine on its own, asked to admit a decision naming no submission ====


def test_s6_the_engine_refuses_a_decision_naming_an_entry_that_is_no_submission() -> None:
    """The sequencer's engine, asked about a decision whose "submission" is the
    pre-registration: refused, naming that entry and the decision."""
    lg = Ledger()
    p, _suite, _s = submitted(lg)
    engine = engine_after(lg)
    d = lg.decision(p)
    payload, logged = payloads(lg)[d]
    assert engine.check(d, payload, logged) == [
        Finding(
            "S6",
            "violation",
            (p, d),
            f"the decision refers to entry {p}, which is not a submission of a pre-registered run",
            refusable=True,
        )
    ]


# == L2: the auditor names the first entry logged at the latest time ==============


def test_l2_names_the_first_of_two_entries_logged_at_the_latest_time() -> None:
    """Two entries logged at 2026-11-01, then one at 2026-10-01: L2 names the first of
    the two (the one that set the latest logged_at), not the second."""
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    body = {"org_id": "acme2", "legal_name": "Acme", "jurisdiction": "XR", "kind": "lab"}
    same = lg.add("organisation", body, [lg.regulator], "2026-11-01")
    back = lg.add("organisation", {**body, "org_id": "acme3"}, [lg.regulator], "2026-10-01")
    assert (same, back) == (p + 1, p + 2)
    found = as_seen(fed(lg).report(ms("2026-12-01")).findings)
    assert rule(found, "L2") == {
        V(
            "L2",
            (p, back),
            f"entry {back} was logged at 2026-10-01T00:00:00.000Z, before entry {p} "
            "(logged at 2026-11-01T00:00:00.000Z)",
        )
    }


# == Markers owed over several cycles ==============================================


class _Overran(Exception):
    pass


@pytest.fixture
def does_not_hang() -> Iterator[None]:
    """Fail the test rather than hang the suite if it loops (a generous two minutes: this is
    no timing assertion, the body takes milliseconds even on a busy machine)."""

    def overran(_signum: int, _frame: FrameType | None) -> None:
        raise _Overran("still running after 120 s: the loop over cycles does not end")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, 120)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("does_not_hang")
def test_markers_owed_over_two_cycles_start_at_the_first_cycle_and_end() -> None:
    """On 2028-01-02 the markers of cycles 2027 and 2028 whose instant has passed are
    owed, none of an earlier cycle, and the count of cycles ends."""
    owed = due(Ledger(), "2028-01-02")
    assert {c for _at, _m, c in owed} == {2027, 2028}
    assert owed == sorted(owed)
