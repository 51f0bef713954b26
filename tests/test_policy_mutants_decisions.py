"""The decision rules, the engine, findings, reveals and a submission's status: cases the
other boundary tests left open (found by mutation testing, docs/mutation.md).

Most tests build a small signed log with the ``Ledger`` of tests/test_reference_rules.py
(default charter: calendar 01-01 / 06-30 / 12-31, first cycle 2027, cap of level 1 1e26,
late limit 60 days, contest reply 30 days) and audit it with the real auditor, naming
every finding exactly: rule, severity, entries and sentence. The engine's own clock
guard (L2, which the auditor replaces by its own) is read from
:meth:`PolicyEngine.check` fed with the log's payloads directly.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.payload_examples import ORIGIN
from tests.test_policy_boundaries import V, W, schedule_of, seen, submitted
from tests.test_reference_rules import (
    DIGEST,
    OTHER_DIGEST,
    PLAN,
    PUBLIC,
    SALT,
    Ledger,
    amendment,
    approved_model,
    commitment,
    ms,
    submitted_run,
    update,
)
from verifier.core.leaf import parse_leaf
from verifier.entries.codec import Payload, parse_payload
from verifier.policy.audit import Auditor
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import Finding

# == The engine on its own: the clock guard (L2) and a log without a charter ====


def payloads(lg: Ledger) -> list[tuple[Payload, int]]:
    """Each entry's payload and logged_at (ms), as the admission hands them to the engine."""
    out = []
    for leaf in lg.leaves:
        parsed = parse_leaf(leaf)
        out.append((parse_payload(parsed.envelope.payload), parsed.logged_at_ms))
    return out


def engine_after(lg: Ledger) -> PolicyEngine:
    """A policy engine that applied every entry of *lg* (a clean log) in order."""
    engine = PolicyEngine()
    for index, (payload, logged) in enumerate(payloads(lg)):
        engine.apply(index, payload, logged)
    return engine


def test_l2_an_entry_logged_at_or_after_the_one_before_it_is_not_backwards() -> None:
    """The engine's clock guard fires only on a strictly earlier logged_at: the same
    millisecond as the entry before, or any later one, is no L2 finding."""
    lg = Ledger()
    _p, _suite, s = submitted(lg, at="2027-06-01")
    engine = engine_after(lg)
    payload, _ = payloads(lg)[s]
    n = len(lg.leaves)
    assert engine.check(n, payload, ms("2027-06-01")) == []  # same instant
    assert engine.check(n, payload, ms("2027-06-01T00:00:00.001Z")) == []


def test_l2_an_entry_logged_one_millisecond_before_the_one_before_it() -> None:
    """One millisecond earlier than the latest logged_at: an L2 violation naming both
    entries, reported (not refused: the order of logging is a fact)."""
    lg = Ledger()
    _p, suite, _s = submitted(lg, at="2027-06-01")
    engine = engine_after(lg)
    payload, _ = payloads(lg)[suite]  # an eval suite: no rule of its own
    n = len(lg.leaves)
    assert engine.check(n, payload, ms("2027-06-01") - 1) == [
        Finding(
            "L2",
            "violation",
            (n - 1, n),
            "logged_at goes backwards: this entry was logged before the one preceding it",
            refusable=False,
        )
    ]


def test_l2_the_guard_compares_with_the_latest_logged_at_not_the_last_entry() -> None:
    """After an entry logged at T, one at T - 1 ms is backwards even though it is the
    engine's latest entry that set T (the engine keeps the maximum it applied)."""
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    engine = engine_after(lg)
    payload, _ = payloads(lg)[p]
    n = len(lg.leaves)
    engine.apply(n, payload, ms("2026-11-05"))  # a second pre-registration, later
    found = engine.check(n + 1, payload, ms("2026-11-05") - 1)
    assert [(f.rule, f.indices) for f in found] == [("L2", (n, n + 1))]


def test_an_engine_without_a_charter_judges_nothing() -> None:
    """Before a charter is applied there is no schedule to judge against: an engine
    that has seen no charter reports no finding for an entry (not even a failure)."""
    lg = Ledger()
    _p, _suite, s = submitted(lg)
    d = lg.decision(s, at="2027-01-01")  # would be an early decision (S8) with a charter
    payload, logged = payloads(lg)[d]
    assert PolicyEngine().check(d, payload, logged) == []


# == S14: an auditor without the revealed documents ===========================


def test_s14_an_auditor_given_no_blobs_reports_the_reveal_not_auditable() -> None:
    """An auditor built without a blob store (blobs=None) has none of the revealed
    documents: the reveal cannot be checked, which it says (it does not fail)."""
    lg = Ledger()
    p = lg.prereg(plan={"sealed": True, "sha256": commitment(SALT, PLAN)})
    v = lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    auditor = Auditor(ORIGIN)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    digest = payloads(lg)[v][0].body.content_sha256
    assert {(f.rule, f.severity, f.indices, f.message) for f in auditor.findings} == {
        (
            "S14",
            "not_auditable",
            (p, v),
            f"the revealed document {digest[:16]}… is not available, so the commitment "
            "cannot be checked",
        )
    }


# == S6: a run's breaches named on the pre-registration itself ==================


def test_s6_approval_of_a_run_whose_preregistration_broke_s2() -> None:
    """A plan above the cap is a breach (S2) of the pre-registration entry itself; an
    approval of the run's submission must name it (S6) beside the submission's own
    breach (S1: submitted without a reported start, so no start repeats the S2)."""
    lg = Ledger()
    p = lg.prereg(planned_flop="2e26")  # level 1: cap 1e26
    suite = lg.suite()
    s = lg.submission(p)
    lg.result(s, suite)
    d = lg.decision(s)
    found = seen(lg, "2028-01-01")
    assert {(r, i) for r, _, i, _ in found if r in ("S1", "S2")} == {
        ("S2", (p,)),
        ("S1", (p, s)),
    }
    assert {f for f in found if f[0] == "S6"} == {
        V(
            "S6",
            (p, s, d),
            f"decision {d} approves submission {s} of run acme-2027-a, which broke S1, S2 "
            f"(entries {p}, {s}): an approval cannot rest on such a run",
        )
    }


# == S10, S7: the first resolution of a contest finding is the one that counts ==


def test_s7_a_second_resolution_does_not_replace_the_first() -> None:
    """A finding dismissed, then 'upheld' by a second resolution (S10: resolved twice):
    the approval is judged on the first resolution, so no S7 for an upheld finding."""
    lg = Ledger()
    _p, suite, s = submitted(lg)
    r = lg.result(s, suite)
    c = lg.contest(s, "2027-07-05")
    r1 = lg.resolution(c, "2027-07-10", outcome="dismissed")
    r2 = lg.resolution(c, "2027-07-11", outcome="upheld")
    lg.decision(s, results=(r,))
    assert seen(lg, "2027-12-31T13:00:00Z") == {
        V("S10", (c, r1, r2), f"contest finding {c} is resolved twice"),
    }


# == S10: a decision after an approval ==========================================


def test_s10_a_second_decision_after_an_approval_says_it_cannot_withdraw_it() -> None:
    """After an approval, a rejection of the same submission is a second decision whose
    sentence says why: an approval cannot be withdrawn or restricted."""
    lg = Ledger()
    _p, suite, s = submitted(lg)
    lg.result(s, suite)
    d1 = lg.decision(s)
    d2 = lg.decision(s, at="2027-12-31T13:00:00Z", outcome="rejected")
    s10 = {f for f in seen(lg, "2027-12-31T14:00:00Z") if f[0] == "S10"}
    assert s10 == {
        V(
            "S10",
            (d1, d2),
            f"submission {s} already has a decision (entry {d1}); an approval cannot be "
            "withdrawn or restricted",
        )
    }


# == S7: a remedy must change the model ========================================


def test_s7_a_remedy_with_the_contested_models_digest_is_not_valid() -> None:
    """A submission claiming to remedy an upheld finding with the same model digest as
    the contested submission changes nothing: its approval is refused (S7)."""
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="upheld")
    s2 = lg.submission(p, at="2027-08-01", model_digest=DIGEST, remedies=r)
    lg.result(s2, suite, at="2027-09-01")
    lg.decision(s, outcome="rejected")
    d = lg.decision(s2, at="2027-12-31T13:00:00Z")
    s7 = {f for f in seen(lg, "2028-01-01") if f[0] == "S7"}
    assert s7 == {
        V(
            "S7",
            (r, s2, d),
            f"submission {s2} claims to remedy entry {r}, which is not an upheld contest "
            "finding's resolution about another model of the same run",
        ),
        # The same weights: the finding upheld about them binds this submission too.
        V(
            "S7",
            (c, r, d),
            f"submission {s2} is approved although contest finding {c} (about the same "
            f"model, submitted as entry {s}) was upheld (entry {r}): the approval would "
            "cover the very model the finding is about; a remedied model is a new "
            "submission, evaluated and decided itself",
        ),
    }


def test_s7_the_contested_model_submitted_again_cannot_be_approved() -> None:
    """A finding upheld against a model binds the same weights submitted again, with no
    claim to remedy anything (a late submission of the same digest): its approval is S7,
    as the approval of the contested submission itself would be."""
    lg = Ledger()
    p, suite, s0 = submitted_run(lg)
    r0 = lg.result(s0, suite, at="2027-07-01")
    c = lg.contest(s0, "2027-07-05")
    res = lg.resolution(c, "2027-07-20", outcome="upheld")
    s1 = lg.submission(p, at="2027-08-01")  # the same DIGEST, no remedies
    r1 = lg.result(s1, suite, at="2027-08-10")
    lg.decision(s0, outcome="rejected", results=(r0,), findings=(res,))
    d1 = lg.decision(s1, results=(r1,))
    message = (
        f"submission {s1} is approved although contest finding {c} (about the same model, "
        f"submitted as entry {s0}) was upheld (entry {res}): the approval would cover the "
        "very model the finding is about; a remedied model is a new submission, evaluated "
        "and decided itself"
    )
    assert {f for f in seen(lg, "2028-01-10") if f[0] == "S7"} == {V("S7", (c, res, d1), message)}
    assert ("S7", "violation", (c, res, d1)) in lg.audit("2028-01-10")  # the reference


def test_s7_a_pending_contest_binds_the_same_model_submitted_again() -> None:
    lg = Ledger()
    p, suite, s0 = submitted_run(lg)
    c = lg.contest(s0, "2027-07-05")
    s1 = lg.submission(p, at="2027-08-01")
    r1 = lg.result(s1, suite, at="2027-08-10")
    d1 = lg.decision(s1, results=(r1,))
    message = (
        f"submission {s1} is approved with contest finding {c} (about the same model, "
        f"submitted as entry {s0}) unresolved"
    )
    assert V("S7", (c, d1), message) in seen(lg, "2028-01-10")
    assert ("S7", "violation", (c, d1)) in lg.audit("2028-01-10")  # the reference


# == status.py: the late-decision limit in force when the submission was logged ==


def test_status_decide_by_uses_an_amended_late_decision_limit() -> None:
    """A charter amendment shortening the late-decision limit to 20 days, in force
    before a late submission is logged: its decide-by day is 20 days after it."""
    lg = Ledger()
    amendment(lg, {"late_decision_limit_days": 20}, "2027-10-01", "2027-06-01")
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2028-01-10T00:00:00Z")
    status = schedule_of(lg, s, "2028-01-11")
    assert status is not None and not status.on_time
    # S9's limit is 2028-01-30T00:00:00.000: the last whole day in time is the 29th
    assert (status.decide_by, status.decide_by_time) == ("2028-01-29", "2028-01-29T23:59:59Z")


# == The charter's caps: in force from the first instant, the latest entry wins a tie ==


def test_a_threshold_schedule_dated_at_the_epoch_ties_with_the_charters_cap_and_wins() -> None:
    """The charter's level table gives each cap from instant 0; a (retroactive, S12)
    threshold schedule raising level 1 to 2e26 from 1970-01-01 takes effect at that
    same instant and, logged later, wins the tie: a 1.5e26 plan is within the cap."""
    lg = Ledger()
    k = lg.schedule(1, "2e26", "1970-01-01", at="2026-07-01")
    lg.prereg(planned_flop="1.5e26")  # would break S2 under the charter's 1e26
    assert seen(lg, "2026-12-01") == {
        V(
            "S12",
            (k,),
            "the cap of level 1 takes effect on 1970-01-01, less than the 90-day notice "
            "period after it was logged (2026-07-01)",
        )
    }


# == S7: a result that contradicts itself, and failures bound to the weights ======


def result(
    lg: Ledger, s: int, suite: int, outcome: str, *categories: tuple[str, str], at: str
) -> int:
    """An evaluation result of submission *s* whose overall outcome is *outcome* and which
    lists *categories* as (category, outcome), whatever they say."""
    body = {
        "submission": s,
        "suite": suite,
        "outcome": outcome,
        "results": [{"category": c, "outcome": o} for c, o in categories],
        "report": PUBLIC,
    }
    return lg.add("eval_result", body, [lg.evaluator], at)


NOT_PASSING = "it is not a passing result"


def contradicted_pass(r: int, category: str) -> tuple[str, str, tuple[int, ...], str]:
    """The S7 warning on result *r*, which says pass while its one *category* failed."""
    return W(
        "S7",
        (r,),
        f"evaluation result {r} says pass, yet its {category} category failed: "
        f"{NOT_PASSING} but a failing one",
    )


@pytest.mark.parametrize(
    ("categories", "why"),
    [
        (
            [("bio-uplift", "pass"), ("cyber", "fail")],
            f"its cyber category failed: {NOT_PASSING} but a failing one",
        ),
        (
            [("bio-uplift", "fail"), ("autonomy", "pass"), ("cyber", "fail")],
            f"its bio-uplift, cyber categories failed: {NOT_PASSING} but a failing one",
        ),
        (
            [("a", "fail"), ("b", "fail"), ("c", "fail"), ("d", "fail")],
            f"its a, b, c categories failed: {NOT_PASSING} but a failing one",
        ),
        ([], f"it assesses no category: {NOT_PASSING}"),
    ],
    ids=["one-failed", "two-failed", "four-failed", "none-listed"],
)
def test_s7_a_pass_whose_categories_failed_or_are_none_is_a_warning_on_the_result(
    categories: list[tuple[str, str]], why: str
) -> None:
    """A result that says pass while a category it lists failed names the failed
    categories (the first three, "category" for one, "categories" for more) and is a
    failing result; one that lists no category is only not a passing one."""
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    r = result(lg, s, suite, "pass", *categories, at="2027-07-01")
    assert seen(lg, "2027-08-01") == {W("S7", (r,), f"evaluation result {r} says pass, yet {why}")}
    assert lg.audit("2027-08-01") == {("S7", "warning", (r,))}  # the reference
    st = engine_after(lg).state
    failing = bool(categories)
    # The register lists a contradicted pass as a failed evaluation (st.unsound_results).
    assert st.unsound_results == {r: "fail" if failing else "none"}
    assert st.failed == ({DIGEST: [r]} if failing else {})


def test_s7_a_pass_whose_only_category_failed_approves_nothing() -> None:
    """The submission's only result says pass but its category failed: the approval has
    no passing result and has a failing one (two S7 refusals), beside the warning."""
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    r = result(lg, s, suite, "pass", ("bio-uplift", "fail"), at="2027-07-01")
    d = lg.decision(s)
    assert seen(lg, "2028-01-01") == {
        V(
            "S7",
            (s, d),
            f"submission {s} is approved without a passing evaluation from a suite "
            "published before the 2027 submission deadline",
        ),
        V("S7", (r, d), f"submission {s} is approved although it failed evaluation (entry {r})"),
        contradicted_pass(r, "bio-uplift"),
    }
    assert lg.audit("2028-01-01") == {
        ("S7", "violation", (s, d)),
        ("S7", "violation", (r, d)),
        ("S7", "warning", (r,)),
    }


@pytest.mark.parametrize("says", ["fail", "pass"])
def test_s7_weights_that_failed_as_another_submission_are_named_as_such(says: str) -> None:
    """The same weights submitted again, passing, are approved: the failure of the first
    submission (a fail, or a pass whose category failed) binds them, and the sentence
    names that submission."""
    lg = Ledger()
    p, suite, s1 = submitted_run(lg)
    s2 = lg.submission(p, at="2027-06-02")  # the same DIGEST
    r1 = result(lg, s1, suite, says, ("bio-uplift", "fail"), at="2027-07-01")
    r2 = lg.result(s2, suite, at="2027-07-02")
    lg.decision(s1, outcome="rejected", results=(r1,))
    d = lg.decision(s2, at="2027-12-31T13:00:00Z", results=(r2,))
    lg.access(d, at="2028-01-05", until="2029-02-01")
    expected = {
        V(
            "S7",
            (r1, d),
            f"submission {s2} is approved although the same weights failed evaluation as "
            f"submission {s1} (entry {r1})",
        )
    }
    if says == "pass":
        expected.add(contradicted_pass(r1, "bio-uplift"))
    assert seen(lg, "2028-01-10") == expected
    assert lg.audit("2028-01-10") == {(r, sev, i) for r, sev, i, _ in expected}  # reference


def test_s7_failing_results_of_another_model_cited_count_and_are_not_its_weights() -> None:
    """An approval citing two results of the lab's other model (S6 each): one failed,
    one says pass while its category failed. Both are failing results cited; the
    sentence does not call them a failure of the same weights."""
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    s2 = lg.submission(p, at="2027-06-02", model_digest=OTHER_DIGEST)
    r = lg.result(s, suite)
    failed = lg.result(s2, suite, at="2027-07-02", outcome="fail")
    contradicted = result(lg, s2, suite, "pass", ("cyber", "fail"), at="2027-07-03")
    lg.decision(s2, outcome="rejected", results=(failed, contradicted))
    d = lg.decision(s, at="2027-12-31T13:00:00Z", results=(r, failed, contradicted))
    lg.access(d, at="2028-01-05", until="2029-02-01")
    assert seen(lg, "2028-01-10") == {
        V(
            "S6",
            (failed, d),
            f"the decision cites evaluation result {failed}, which is not about submission {s}",
        ),
        V(
            "S6",
            (contradicted, d),
            f"the decision cites evaluation result {contradicted}, which is not about "
            f"submission {s}",
        ),
        V(
            "S7",
            (failed, contradicted, d),
            f"submission {s} is approved although it failed evaluation (entry {failed})",
        ),
        contradicted_pass(contradicted, "cyber"),
    }
    assert lg.audit("2028-01-10") == {
        ("S6", "violation", (failed, d)),
        ("S6", "violation", (contradicted, d)),
        ("S7", "violation", (failed, contradicted, d)),
        ("S7", "warning", (contradicted,)),
    }


# == S15: weights offered before their rejection or an upheld contest ============

ON_OFFER = "a rejected or contested model was on offer"


def test_s15_a_rejection_logged_after_an_update_offered_those_weights() -> None:
    """The approved model is updated to the weights of a late submission still awaiting
    its decision, which then rejects them: the rejection names the update (M8)."""
    lg = Ledger()
    run = approved_model(lg)
    s2 = lg.submission(run["P"], at="2028-01-02", model_digest=OTHER_DIGEST)
    r2 = lg.result(s2, run["suite"], at="2028-01-05", outcome="fail")
    u = update(lg, run, at="2028-01-06", model_digest=OTHER_DIGEST, added_posttraining_flop="0")
    x = lg.decision(s2, at="2028-01-10", outcome="rejected", results=(r2,))
    lg.access(run["D"], at="2028-01-10T10:00:00Z", until="2029-02-01")
    d = run["D"]
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (d, u, x),
            f"update {u} offered these weights as a change to the model decision {d} "
            f"approved, and decision {x} rejects them: {ON_OFFER}",
        )
    }
    assert lg.audit("2028-01-20") == {("S15", "violation", (d, u, x))}  # the reference


def _offered_and_contested(lg: Ledger, outcome: str, resolved_first: bool) -> dict[str, int]:
    """Run P's model approved (D); a late submission of other weights (S2) is contested
    (C) and the approved model updated to those weights (U); C is resolved with
    *outcome* (R) before U or after it."""
    run = approved_model(lg)
    s2 = lg.submission(run["P"], at="2028-01-02", model_digest=OTHER_DIGEST)
    c = lg.contest(s2, "2028-01-03")
    r = lg.resolution(c, "2028-01-05", outcome) if resolved_first else None
    u = update(lg, run, at="2028-01-06", model_digest=OTHER_DIGEST, added_posttraining_flop="0")
    if r is None:
        r = lg.resolution(c, "2028-01-10", outcome)
    lg.access(run["D"], at="2028-01-10T10:00:00Z", until="2029-02-01")
    return {**run, "C": c, "R": r, "U": u}


@pytest.mark.parametrize("outcome", ["upheld", "upheld_in_part", "dismissed"])
def test_s15_an_update_to_weights_a_contest_was_upheld_against(outcome: str) -> None:
    """Upheld, in whole or in part, before the update: the update names the finding and
    its resolution (M9, D, C, R, U). Dismissed: nothing binds the weights."""
    lg = Ledger()
    run = _offered_and_contested(lg, outcome, resolved_first=True)
    d, c, r, u = run["D"], run["C"], run["R"], run["U"]
    expected: set[Any] = set()
    if outcome != "dismissed":
        expected = {
            V(
                "S15",
                (d, c, r, u),
                f"the update's weights are those contest finding {c} was upheld against "
                f"(entry {r}): a model a finding was upheld against is not offered as a "
                "change to an approved one",
            )
        }
    assert seen(lg, "2028-01-20") == expected
    assert lg.audit("2028-01-20") == {(rule, sev, i) for rule, sev, i, _ in expected}


@pytest.mark.parametrize("outcome", ["upheld", "upheld_in_part", "dismissed"])
def test_s15_a_contest_upheld_after_an_update_offered_those_weights(outcome: str) -> None:
    """Upheld, in whole or in part, after the update: the resolution names the update
    that had offered the weights (M9, D, R, U). Dismissed: no finding."""
    lg = Ledger()
    run = _offered_and_contested(lg, outcome, resolved_first=False)
    d, c, r, u = run["D"], run["C"], run["R"], run["U"]
    expected: set[Any] = set()
    if outcome != "dismissed":
        expected = {
            V(
                "S15",
                (d, u, r),
                f"update {u} offered these weights as a change to the model decision {d} "
                f"approved, and entry {r} upholds contest finding {c} about them: {ON_OFFER}",
            )
        }
    assert seen(lg, "2028-01-20") == expected
    assert lg.audit("2028-01-20") == {(rule, sev, i) for rule, sev, i, _ in expected}
