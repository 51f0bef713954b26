"""The schedule's deadline rules (S8-S11, S14) where mutation testing found them
unguarded: verifier/policy/rules/deadlines.py.

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, initial frontier level 1) and
names the findings exactly: rule, severity, entries and message. The mutants these tests
kill, and those no input can tell from the original, are listed in
docs/mutation-deadlines.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from tests.payload_examples import ORIGIN
from tests.test_policy_boundaries import V, seen, submitted
from tests.test_reference_rules import OTHER_DIGEST, Ledger, ms
from verifier.core.leaf import parse_leaf
from verifier.entries.replay import LogReplay
from verifier.errors import FormatError
from verifier.policy.audit import Auditor, AuditState
from verifier.policy.findings import VIOLATION, Finding

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
            "2029-01-01 was not postponed",
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
            "2028-01-01 was not postponed",
        ),
        V(
            "S11",
            (t3,),
            "no level-2 model was approved by 2028-12-31, yet the lift to level 3 on "
            "2029-01-01 was not postponed",
        ),
    }


# == The auditor (verifier/policy/audit.py) ========================================


def fed(lg: Ledger, **kwargs: Any) -> Auditor:
    """An auditor that has been fed every leaf of *lg*."""
    auditor = Auditor(ORIGIN, **kwargs)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    return auditor


def as_seen(findings: Iterable[Finding]) -> Seen:
    return {(f.rule, f.severity, f.indices, f.message) for f in findings}


def test_a_fresh_auditor_has_parsed_and_admitted_nothing() -> None:
    """Before the first feed there is no last parsed leaf and no last admitted entry."""
    auditor = Auditor(ORIGIN)
    assert auditor.last_parsed is None
    assert auditor.last_checked is None
    assert auditor.schedule is True


def test_an_auditor_without_the_schedule_judges_only_the_log_rules() -> None:
    """schedule=False: no policy state, no S findings for an undecided submission."""
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    only_log = fed(lg, schedule=False)
    assert only_log.schedule is False
    assert only_log.state.policy is None
    assert only_log.report(ms("2028-01-01")).findings == ()
    assert as_seen(fed(lg).report(ms("2028-01-01")).findings) == {
        V("S8", (s,), f"on-time submission {s} was not decided on the decision date 2027-12-31")
    }


def test_a_state_of_another_log_is_refused_by_name() -> None:
    """Resuming from the state of another log fails and names both logs."""
    state = Auditor("example.org/other").state
    with pytest.raises(FormatError) as exc:
        Auditor(ORIGIN, state=state)
    assert str(exc.value) == f"state is for log 'example.org/other', not {ORIGIN!r}"


def test_a_leaf_that_does_not_parse_is_l3_and_keeps_its_index() -> None:
    """Bytes that are no leaf: one L3 finding naming the entry and the parse error; the
    entry keeps its index (the next entry is still admitted at the next index) and the
    auditor reports no parsed leaf and no admitted entry."""
    lg = Ledger()
    auditor = fed(lg)
    n = len(lg.leaves)
    with pytest.raises(FormatError) as exc:
        parse_leaf(b"garbage")
    expected = Finding("L3", VIOLATION, (n,), f"entry {n} is not a valid leaf: {exc.value}")
    assert auditor.feed(b"garbage") == [expected]
    assert auditor.last_parsed is None
    assert auditor.last_checked is None
    assert auditor.size == n + 1
    p = lg.prereg()
    assert p == n  # the ledger's own index; the auditor has one more entry
    assert auditor.feed(lg.leaves[p]) == []
    assert auditor.last_checked is not None
    assert auditor.size == n + 2
    assert auditor.report(ms("2026-12-01")).findings == (expected,)


def test_an_entry_failing_its_schema_is_l3_and_keeps_its_index() -> None:
    """An organisation whose org_id is a number fails its schema: one L3 finding with the
    schema's reason; the entry keeps its index."""
    lg = Ledger()
    auditor = fed(lg)
    n = len(lg.leaves)
    bad = lg.add("organisation", {"org_id": 5}, [lg.regulator])
    assert bad == n
    assert auditor.feed(lg.leaves[bad]) == [
        Finding(
            "L3",
            VIOLATION,
            (n,),
            f"entry {n} should not have been admitted: org_id: expected a string",
        )
    ]
    assert auditor.last_parsed is not None
    assert auditor.last_checked is None
    assert auditor.size == n + 1


def test_l2_is_judged_against_the_latest_logged_at_so_far() -> None:
    """L2 (docs/policy-notes.md: "entry i logged before the latest logged_at so far",
    naming j, i where j set that time): an entry later than its predecessor but earlier
    than an entry before that is still out of order, and is named against that entry."""
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    body = {"org_id": "acme2", "legal_name": "Acme", "jurisdiction": "XR", "kind": "lab"}
    o1 = lg.add("organisation", body, [lg.regulator], "2026-10-01")
    o2 = lg.add("organisation", {**body, "org_id": "acme3"}, [lg.regulator], "2026-10-15")
    assert (o1, o2) == (p + 1, p + 2)
    auditor = fed(lg)
    assert as_seen(auditor.report(ms("2026-12-01")).findings) == {
        V(
            "L2",
            (p, o1),
            f"entry {o1} was logged at 2026-10-01T00:00:00.000Z, before entry {p} "
            "(logged at 2026-11-01T00:00:00.000Z)",
        ),
        V(
            "L2",
            (p, o2),
            f"entry {o2} was logged at 2026-10-15T00:00:00.000Z, before entry {p} "
            "(logged at 2026-11-01T00:00:00.000Z)",
        ),
    }


def test_a_log_whose_first_entry_is_no_charter_checks_only_leaf_shapes() -> None:
    """Entry 0 is a pre-registration: no key set to check it against, so it is not
    refused (no L3 for it); the schedule is not auditable."""
    lg = Ledger()
    auditor = Auditor(ORIGIN)
    assert auditor.feed(lg.leaves[lg.prereg()]) == []
    assert auditor.state.charterless is True
    assert auditor.size == 1
    assert as_seen(auditor.report(ms("2027-01-01")).findings) == {
        (
            "L3",
            "not_auditable",
            (),
            "the log has no charter, so the schedule cannot be audited",
        )
    }


class RecordingSink:
    """A signature sink that only records the checks it is given."""

    def __init__(self) -> None:
        self.checks: list[tuple[bytes, bytes, bytes]] = []

    def add(self, public_key: bytes, signature: bytes, message: bytes) -> None:
        self.checks.append((public_key, signature, message))


def test_signature_checks_go_to_the_sink_the_auditor_defers_to() -> None:
    """With a sink set, each entry's Ed25519 checks are handed to it."""
    lg = Ledger()
    p = lg.prereg()
    auditor = Auditor(ORIGIN)
    sink = RecordingSink()
    auditor.defer = sink
    for leaf in lg.leaves[:p]:
        auditor.feed(leaf)
    before = len(sink.checks)
    assert auditor.feed(lg.leaves[p]) == []
    assert len(sink.checks) == before + 1  # the pre-registration has one signer


def test_a_decision_with_a_bad_reference_to_a_result_is_l4_alone() -> None:
    """A decision naming a real submission but a pre-registration as an evaluation
    result is L4, and its submission link is sound: no S6 finding, nothing else."""
    lg = Ledger()
    p, _suite, s = submitted(lg)
    d = lg.decision(s, results=(p,), outcome="rejected")
    findings = fed(lg).report(ms("2027-12-31T13:00:00Z")).findings
    assert findings == (
        Finding(
            "L4",
            VIOLATION,
            (d,),
            f"entry {d} should not have been admitted: "
            f"eval_results[0]: entry {p} is a preregistration, not an eval_result",
        ),
    )


def test_the_report_orders_by_severity_then_rule_number_then_entries() -> None:
    """Violations first, then warnings, notices, not auditable; within a severity by
    rule letter, then rule number as a number (S9 before S10), then entries; an
    unknown severity last. The report carries the log, its size and the instant."""
    made = [
        Finding("S10", VIOLATION, (1,), "s10"),
        Finding("X1", "unknown", (0,), "x"),
        Finding("S2", "notice", (0,), "s2n"),
        Finding("S9", VIOLATION, (2,), "s9"),
        Finding("S2", VIOLATION, (5,), "s2v"),
        Finding("L3", VIOLATION, (9,), "l3"),
        Finding("L2", "not_auditable", (), "l2"),
        Finding("S1", "warning", (3,), "s1"),
    ]
    state = AuditState(LogReplay(ORIGIN), None, findings=made)
    report = Auditor(ORIGIN, state=state).report(ms("2027-01-01"))
    assert [f.message for f in report.findings] == [
        "l3",
        "s2v",
        "s9",
        "s10",
        "s1",
        "s2n",
        "l2",
        "x",
    ]
    assert (report.origin, report.size, report.now_ms) == (ORIGIN, 0, ms("2027-01-01"))
