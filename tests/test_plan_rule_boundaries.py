"""The engine's S15-S19 (and the charter amendments' S12) at the edges of their rules.

Each test builds a small signed log with the ``Ledger`` of tests/test_reference_rules.py
(default charter: update thresholds 1e24 post-training and 1e18 inference FLOP,
compute tolerance 5 %, attestation tolerance 25 %, attestation interval 90 days,
research access within 30 days and for at least 365, cooling-off 365 days, notice 90
days) and audits it with the real auditor. Every finding is named exactly: rule,
severity, entries and sentence (docs/policy-notes.md, "The whole plan" and "Evidence
for S15-S19"); where a rule has a limit, the log is judged on it and just past it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.governed import Actor, grant_body
from tests.payload_examples import EXAMPLES, ORIGIN
from tests.test_policy_boundaries import N, V, W, audit, seen
from tests.test_reference_rules import (
    CALENDAR_2,
    DIGEST,
    INFERENCE,
    OTHER_DIGEST,
    RAISED_CEILING,
    Ledger,
    amendment,
    approved_model,
    approved_run,
    attest,
    departure,
    ms,
    provider,
    revoke,
    submitted_run,
    update,
)
from verifier.policy.audit import Auditor
from verifier.policy.state import Attestation, PolicyState, Update


def replayed(lg: Ledger) -> PolicyState:
    """The policy state after the whole log (what the register and the site read)."""
    auditor = Auditor(ORIGIN)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    assert auditor.state.policy is not None
    return auditor.state.policy


WITHOUT = "yet it is offered without a new evaluation and decision of the updated model"


# == S15: significant updates =====================================================


def test_s15_post_training_exactly_at_the_threshold_is_a_lesser_update() -> None:
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, added_posttraining_flop="1e24")
    assert seen(lg, "2028-01-20") == set()
    assert replayed(lg).updates[u] == Update(u, run["P"], run["D"], ms("2028-01-10"), False)


def test_s15_post_training_one_flop_above_the_threshold_is_significant() -> None:
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, added_posttraining_flop="1000000000000000000000001")
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it adds 1e24 FLOP of post-training, above the "
            f"charter's 1e24), {WITHOUT}",
        )
    }
    assert replayed(lg).updates[u] == Update(u, run["P"], run["D"], ms("2028-01-10"), True)


def _ceiling(flop: str) -> dict[str, Any]:
    return {**INFERENCE, "max_inference_flop_per_task": flop}


def test_s15_inference_ceiling_raised_by_exactly_the_threshold_is_a_lesser_update() -> None:
    lg = Ledger()
    run = approved_model(lg)  # evaluated ceiling 1e17
    update(lg, run, inference=_ceiling("1100000000000000000"))  # + 1e18
    assert seen(lg, "2028-01-20") == set()


def test_s15_inference_ceiling_raised_by_one_flop_more_is_significant() -> None:
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, inference=_ceiling("1100000000000000001"))
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it raises the per-task inference ceiling from 1e17 "
            f"to 1.1e18 FLOP, by more than the charter's 1e18), {WITHOUT}",
        )
    }


def _approved_beside_rejected(lg: Ledger, approved_again: bool = False) -> dict[str, int]:
    """Run P's model approved (D); the lab's other run's model, OTHER_DIGEST, failed and
    rejected (X), and with *approved_again* the same weights submitted again, approved."""
    p = lg.prereg()
    p2 = lg.prereg(at="2026-11-02", run_id="acme-2027-b")
    suite = lg.suite()
    lg.started(p)
    lg.started(p2, at="2027-01-05")
    lg.completed(p)
    lg.completed(p2, at="2027-05-30")
    s = lg.submission(p, inference=INFERENCE)
    s2 = lg.submission(p2, at="2027-06-02", model_digest=OTHER_DIGEST, inference=INFERENCE)
    s3 = (
        lg.submission(p2, at="2027-06-03", model_digest=OTHER_DIGEST, inference=INFERENCE)
        if approved_again
        else None
    )
    r = lg.result(s, suite)
    r2 = lg.result(s2, suite, outcome="fail")
    r3 = lg.result(s3, suite) if s3 is not None else None
    d = lg.decision(s, results=(r,))
    x = lg.decision(s2, outcome="rejected", results=(r2,))
    again = [lg.decision(s3, results=(r3,))] if s3 is not None and r3 is not None else []
    lg.access(d, *again, at="2028-01-05")
    return {"P": p, "S": s, "D": d, "X": x}


def test_s15_an_update_cannot_bring_back_rejected_weights() -> None:
    """A "lesser" update (no added post-training) whose new weights are those of the
    lab's other model, which failed and was rejected."""
    lg = Ledger()
    run = _approved_beside_rejected(lg)
    d, x = run["D"], run["X"]
    u = update(lg, run, model_digest=OTHER_DIGEST, added_posttraining_flop="0")
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (d, x, u),
            f"the update's weights are those decision {x} rejected: a rejected model is not "
            "offered as a change to an approved one",
        )
    }
    assert lg.audit("2028-01-20") == {("S15", "violation", (d, x, u))}  # the reference


def test_s15_weights_rejected_then_approved_may_come_back() -> None:
    """OTHER_DIGEST was rejected for one submission, then approved for a later one:
    its last verdict is an approval, so an update to it is no M7 finding."""
    lg = Ledger()
    run = _approved_beside_rejected(lg, approved_again=True)
    u = update(lg, run, model_digest=OTHER_DIGEST, added_posttraining_flop="0")
    assert not [f for f in seen(lg, "2028-01-20") if f[0] == "S15"], u
    assert not [f for f in lg.audit("2028-01-20") if f[0] == "S15"]  # the reference


def test_s15_lesser_updates_add_up() -> None:
    """Two updates of 0.6e24 each: the first is lesser, the second adds up to 1.2e24."""
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, added_posttraining_flop="6e23")
    second = update(lg, run, at="2028-01-11", added_posttraining_flop="6e23")
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], second),
            "the update is significant (it adds 6e23 FLOP of post-training, 1.2e24 with the "
            f"lesser updates before it, above the charter's 1e24), {WITHOUT}",
        )
    }
    assert lg.audit("2028-01-20") == {("S15", "violation", (run["D"], second))}  # reference


def test_s15_only_updates_of_the_approved_model_add_up() -> None:
    """An update naming the approval from another run (itself S15) adds nothing to the
    approved model's total: the lab's own 2e22 update after it stays lesser."""
    lg = Ledger()
    run = approved_model(lg)
    lg.access(run["D"], at="2028-01-01")
    p2 = lg.prereg(at="2028-01-02", run_id="acme-other")
    other = update(lg, {**run, "P": p2}, at="2028-01-05", added_posttraining_flop="9.9e23")
    update(lg, run, at="2028-01-10", added_posttraining_flop="2e22")
    s15 = {(r, i) for r, _, i, _ in seen(lg, "2028-01-20") if r == "S15"}
    assert s15 == {("S15", (run["D"], other))}
    assert {(r, i) for r, _, i in lg.audit("2028-01-20") if r == "S15"} == s15  # reference


def test_s15_three_lesser_updates_add_up_and_exactly_the_threshold_is_lesser() -> None:
    """4e23 three times: the third reaches 1.2e24. 5e23 twice: exactly 1e24, lesser."""
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, added_posttraining_flop="4e23")
    update(lg, run, at="2028-01-11", added_posttraining_flop="4e23")
    third = update(lg, run, at="2028-01-12", added_posttraining_flop="4e23")
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-01-20")} == {("S15", (run["D"], third))}
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, added_posttraining_flop="5e23")
    update(lg, run, at="2028-01-11", added_posttraining_flop="5e23")
    assert seen(lg, "2028-01-20") == set()
    assert lg.audit("2028-01-20") == set()  # the reference agrees


def _listing(flop: str) -> dict[str, Any]:
    """The approved configuration with one more RL step of *flop* FLOP."""
    rl = {"method": "rl", "flop": flop, "description": "more RL"}
    return {**INFERENCE, "post_training": [*INFERENCE.get("post_training", []), rl]}


def test_s15_which_figure_the_sentence_gives() -> None:
    """Declared and listed equal: the sentence gives what it adds. Listed between what
    it declares and the total with the lesser update before it: the total."""
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, added_posttraining_flop="5e25", inference=_listing("5e25"))
    assert [m for r, _, _, m in seen(lg, "2028-01-20") if r == "S15"] == [
        "the update is significant (it adds 5e25 FLOP of post-training, above the "
        f"charter's 1e24), {WITHOUT}"
    ]
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, added_posttraining_flop="6e23")
    u = update(
        lg, run, at="2028-01-11", added_posttraining_flop="6e23", inference=_listing("1.1e24")
    )
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it adds 6e23 FLOP of post-training, 1.2e24 with the "
            f"lesser updates before it, above the charter's 1e24), {WITHOUT}",
        )
    }


def test_s15_a_model_approved_without_a_configuration_lists_no_post_training() -> None:
    """The approved submission carried no inference configuration: an update listing
    1e24 + 1 FLOP of post-training lists all of it beyond the approved one's."""
    lg = Ledger()
    p = lg.prereg()
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    s = lg.submission(p)
    lg.result(s, suite)
    d = lg.decision(s)
    lg.access(d, at="2028-01-05")
    config = {**INFERENCE, "post_training": [{"method": "rl", "flop": "1000000000000000000000001"}]}
    u = update(lg, {"P": p, "D": d}, added_posttraining_flop="0", inference=config)
    assert {(r, i) for r, _, i, _ in seen(lg, "2028-01-20") if r == "S15"} == {("S15", (d, u))}


def test_s15_an_update_of_no_approved_model_is_judged_against_no_configuration() -> None:
    """Naming a rejection (itself S15), its configuration's 1e24 + 1 FLOP of
    post-training count in full: the register shows it as significant."""
    lg = Ledger()
    run = approved_model(lg, outcome="rejected")
    config = {**INFERENCE, "post_training": [{"method": "rl", "flop": "1000000000000000000000001"}]}
    u = update(lg, run, added_posttraining_flop="0", inference=config)
    assert replayed(lg).updates[u].significant


def test_s15_the_configuration_cannot_list_more_post_training_than_declared() -> None:
    """An update declaring no added post-training whose configuration lists 5e25 FLOP of
    RL the approved one did not."""
    lg = Ledger()
    run = approved_model(lg)
    rl = {"method": "rl", "flop": "5e25", "description": "more RL"}
    config = {**INFERENCE, "post_training": [*INFERENCE.get("post_training", []), rl]}
    u = update(lg, run, added_posttraining_flop="0", inference=config)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (its configuration lists 5e25 FLOP of "
            f"post-training that the approved one does not, above the charter's 1e24), {WITHOUT}",
        )
    }
    assert lg.audit("2028-01-20") == {("S15", "violation", (run["D"], u))}  # the reference


def test_s15_a_post_training_step_swapped_for_another_of_equal_flop_is_added() -> None:
    """Each step of the approved configuration matches one equal step (method, FLOP and
    description): one swapped for another of the same FLOP is new post-training; the
    same steps in another order, or listed again alongside, are not."""
    lg = Ledger()
    approved = [
        {"method": "rl", "flop": "5e24", "description": "agentic tool use"},
        {"method": "fine_tuning", "flop": "1e23", "description": "instructions"},
    ]
    p = lg.prereg()
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    sub = lg.submission(p, inference={**INFERENCE, "post_training": approved})
    lg.result(sub, suite)
    run = {"P": p, "S": sub, "D": lg.decision(sub)}
    same = update(
        lg,
        run,
        added_posttraining_flop="0",
        inference={**INFERENCE, "post_training": approved[::-1]},
    )
    swapped = [{**approved[0], "description": "long-horizon persuasion"}, approved[1]]
    u = update(
        lg,
        run,
        added_posttraining_flop="0",
        inference={**INFERENCE, "post_training": swapped},
    )
    twice = update(
        lg,
        run,
        added_posttraining_flop="0",
        inference={**INFERENCE, "post_training": [*approved, approved[1]]},
    )
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (its configuration lists 5e24 FLOP of "
            f"post-training that the approved one does not, above the charter's 1e24), {WITHOUT}",
        )
    }
    assert same < u < twice  # the same steps reordered, and a 1e23 step again: lesser
    assert lg.audit("2028-01-20") == {("S15", "violation", (run["D"], u))}  # the reference


def test_s15_threshold_is_the_one_in_force_when_the_update_is_logged() -> None:
    lg = Ledger()
    run = approved_model(lg)
    lg.access(run["D"], at="2028-01-01")
    amendment(lg, {"posttraining_update_threshold_flop": "5e24"}, "2028-04-01", "2028-01-01")
    first = update(
        lg,
        run,
        at="2028-03-31T23:59:59.999Z",
        added_posttraining_flop="2e24",
        offered_from="2028-04-01T00:00:00Z",
    )
    update(
        lg,
        run,
        at="2028-04-01",
        added_posttraining_flop="5e24",
        offered_from="2028-04-01T00:00:00Z",
    )  # not more than 5e24
    late = update(
        lg,
        run,
        at="2028-04-02",
        added_posttraining_flop="6e24",
        offered_from="2028-04-02T00:00:00Z",
    )
    assert seen(lg, "2028-04-20") == {
        V(
            "S15",
            (run["D"], first),
            "the update is significant (it adds 2e24 FLOP of post-training, above the "
            f"charter's 1e24), {WITHOUT}",
        ),
        V(
            "S15",
            (run["D"], late),
            "the update is significant (it adds 6e24 FLOP of post-training, 1.1e25 with "
            f"the lesser updates before it, above the charter's 5e24), {WITHOUT}",
        ),
    }


def test_s15_update_naming_a_rejection() -> None:
    lg = Ledger()
    run = approved_model(lg, outcome="rejected")
    u = update(lg, run, inference=_ceiling("1000000000000000001"))
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            f"the update names decision {run['D']}, which approved no model of run "
            "acme-2027-a: only an approved model is updated",
        )
    }
    # Nothing was approved, so the ceiling is raised from nothing: by more than 1e18.
    assert replayed(lg).updates[u].significant


def test_s15_update_naming_the_approval_of_another_run() -> None:
    lg = Ledger()
    other = lg.prereg(at="2026-10-31", run_id="acme-2027-b")
    run = approved_model(lg)
    u = update(lg, run, preregistration=other)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            f"the update names decision {run['D']}, which approved no model of run "
            "acme-2027-b: only an approved model is updated",
        )
    }


def test_s15_update_offered_before_it_was_logged_beyond_the_tolerance() -> None:
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, at="2028-01-10T00:00:00Z", offered_from="2028-01-08T00:00:00Z")  # 48 h
    u = update(lg, run, at="2028-01-10T00:00:00.001Z", offered_from="2028-01-08T00:00:00Z")
    assert seen(lg, "2028-01-20") == {
        W(
            "S15",
            (u,),
            f"entry {u} was logged 2028-01-10, 2 days after the offer date it claims "
            "(2028-01-08T00:00:00Z), beyond the 48-hour reporting tolerance",
        )
    }


def _evaluated(lg: Ledger, run: dict[str, int], outcome: str = "approved", **fields: Any) -> int:
    """A submission of the updated model (weights OTHER_DIGEST, RAISED_CEILING), decided."""
    body = {"model_digest": OTHER_DIGEST, "inference": RAISED_CEILING, **fields}
    s2 = lg.submission(body.pop("p", run["P"]), at="2028-01-02", **body)
    lg.result(s2, run["suite"], at="2028-01-03")
    lg.decision(s2, at="2028-01-05", outcome=outcome)
    return s2


def test_s15_significant_update_evaluated_and_approved_is_clean() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2 = _evaluated(lg, run)
    update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    assert seen(lg, "2028-01-20") == set()


def test_s15_significant_update_cannot_name_the_approval_it_updates() -> None:
    """5e25 FLOP of post-training with the weights declared unchanged, "evaluated as"
    the submission the updated approval covers: that is the model before the update,
    not a new evaluation of it."""
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, model_digest=DIGEST, added_posttraining_flop="5e25", evaluated_as=run["S"])
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it adds 5e25 FLOP of post-training, above the "
            f"charter's 1e24), yet the evaluation it names is that of submission {run['S']}, "
            "the model before the update, not a new evaluation and decision of the updated "
            "model",
        )
    }
    assert lg.audit("2028-01-20") == {("S15", "violation", (run["D"], u))}  # the reference


def test_s15_significant_update_whose_evaluation_was_rejected() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2 = _evaluated(lg, run, outcome="rejected")
    u = update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    x = u - 1  # the rejection of s2, logged just before the update
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it raises the per-task inference ceiling from 1e17 "
            f"to 2e18 FLOP, by more than the charter's 1e18), {WITHOUT}",
        ),
        # ... and its weights are the ones that evaluation rejected.
        V(
            "S15",
            (run["D"], x, u),
            f"the update's weights are those decision {x} rejected: a rejected model is not "
            "offered as a change to an approved one",
        ),
    }
    assert lg.audit("2028-01-20") == {
        ("S15", "violation", (run["D"], u)),
        ("S15", "violation", (run["D"], x, u)),
    }


NOT_IT = "is not the updated model and configuration of this run"
RAISED = (
    "it raises the per-task inference ceiling from 1e17 to 2e18 FLOP, by more than the "
    "charter's 1e18"
)


def test_s15_evaluated_as_other_weights() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2 = _evaluated(lg, run, model_digest="ef" * 32)
    u = update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], s2, u),
            f"the update is significant ({RAISED}); submission {s2}, which it names as "
            f"evaluated, {NOT_IT}",
        )
    }


def test_s15_evaluated_as_the_same_weights_with_another_configuration() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2 = _evaluated(lg, run, inference=_ceiling("3e18"))
    u = update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], s2, u),
            f"the update is significant ({RAISED}); submission {s2}, which it names as "
            f"evaluated, {NOT_IT}",
        )
    }


def test_s15_evaluated_as_the_same_model_of_another_run() -> None:
    lg = Ledger()
    other = lg.prereg(at="2026-10-31", run_id="acme-2027-b")
    run = approved_model(lg)
    lg.started(other, at="2028-01-01")
    s2 = _evaluated(lg, run, p=other)
    u = update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], s2, u),
            f"the update is significant ({RAISED}); submission {s2}, which it names as "
            f"evaluated, {NOT_IT}",
        )
    }


# == S16: compute attestations ====================================================


# Each boundary holds for an attestation that names the run and for one that does not
# (then any run the organisation pre-registered before the period may cover it).
NAMED = pytest.mark.parametrize("named", [False, True], ids=["no-run-named", "run-named"])


def _run(p: int, named: bool) -> dict[str, int]:
    return {"run": p} if named else {}


def _not_covered(org: str, named: bool, why_named: str = "", why: str = "") -> str:
    """Why S16 finds an attestation uncovered: *why_named* when it names a run (not one
    under way, or planning too little), else *why* (the largest run under way plans
    too little) or, by default, that the organisation had no run under way."""
    if named:
        assert why_named, "say why the named run does not cover it"
        return why_named
    return why or f"{org} had no run under way when the period started to cover it"


def _undeclared(a: int, amount: str, why: str) -> tuple[str, str, tuple[int, ...], str]:
    """S16's violation on attestation *a* of *amount* FLOP to acme in the first quarter
    of 2027 (no level deregulated), with *why* no run covers it."""
    return V(
        "S16",
        (a,),
        f"stratus attests {amount} FLOP delivered to acme (Stratus East 4, 2027-01-01 to "
        f"2027-04-01), while no level is deregulated, and {why}: an undeclared large run",
    )


#: 6e25 x 1.05 against one FLOP more: three digits would print both as 6.3e25.
SHORT = (
    "6e25 FLOP, 63000000000000000000000000 with the 5% compute tolerance, less than the "
    "63000000000000000000000001 FLOP"
)


@NAMED
def test_s16_attestation_covered_exactly_at_the_compute_tolerance(named: bool) -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="6e25")
    lg.started(p)
    attest(lg, stratus, flop_delivered="6.3e25", **_run(p, named))  # 6e25 x 1.05
    assert _s16(lg, "2027-05-01") == (set(), set())


@NAMED
def test_s16_attestation_one_flop_above_the_compute_tolerance(named: bool) -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="6e25")
    lg.started(p)
    a = attest(lg, stratus, flop_delivered="63000000000000000000000001", **_run(p, named))
    assert _s16(lg, "2027-05-01")[0] == {
        _undeclared(
            a,
            "6.3e25",
            _not_covered(
                "acme",
                named,
                f"run acme-2027-a plans {SHORT} it attests",
                f"the one run acme had under way when the period started plans {SHORT}",
            ),
        )
    }


@NAMED
def test_s16_a_run_logged_at_the_instant_the_period_starts_does_not_cover_it(
    named: bool,
) -> None:
    """ "Pre-registered (logged) before the period started" is strictly before
    (docs/policy-notes.md, S16; the reference auditor's reading K2): a run logged at
    the period's first instant does not cover it."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2027-01-01T00:00:00Z", planned_start="2027-03-01T00:00:00Z")
    lg.started(p, at="2027-03-01")  # under way but for the instant it was logged
    a = attest(lg, stratus, **_run(p, named))
    engine, reference = _s16(lg, "2027-05-01")  # the reference agrees
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (a,))}
    (message,) = [f[3] for f in engine]
    why = (
        "the run it names, acme-2027-a, was pre-registered only at 2027-01-01T00:00:00Z, "
        "not before the period started"
        if named
        else "acme had no run under way when the period started to cover it"
    )
    assert why in message, message


@NAMED
def test_s16_a_run_logged_a_second_before_the_period_starts_covers_it(named: bool) -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-12-31T23:59:59Z", planned_start="2027-03-01T00:00:00Z")
    lg.started(p, at="2027-03-01")
    attest(lg, stratus, **_run(p, named))
    assert _s16(lg, "2027-05-01") == (set(), set())  # the reference agrees


@NAMED
def test_s16_the_compute_tolerance_is_the_one_in_force_when_the_attestation_is_logged(
    named: bool,
) -> None:
    """A run plans 5.72e25 FLOP; 6e25 is within 5% of it. An amendment sets the tolerance
    to 0 from 1 April, after the period starts (1 January) and before the attestation is
    logged (2 April): the attestation is judged by 0 (docs/policy-notes.md, "Which
    value applies")."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="5.72e25")
    amendment(lg, {"compute_tolerance": "0"}, "2027-04-01", "2026-12-01")
    a = attest(lg, stratus, at="2027-04-02", **_run(p, named))
    # Named, the run is held to its plan by S3 as well (by the same tolerance).
    want = {("S16", "violation", (a,))} | ({("S3", "violation", (p, a))} if named else set())
    assert {(r, s, i) for r, s, i, _ in seen(lg, "2027-05-01")} == want
    assert lg.audit("2027-05-01") == want  # the reference agrees


def _attested_and_reported(
    lg: Ledger, *, report_at: str = "2027-05-30", second_at: str = "2027-04-03", amend: bool
) -> dict[str, int]:
    """Run P, started; 3e25 attested for it twice (A1 on 2 April, A2 at *second_at*) and
    4.4e25 reported at *report_at* (R, 27% below), A2 and R in time order. With *amend*,
    an amendment logged on 15 January raises the attestation tolerance to 50% from 1 May."""
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    if amend:
        amendment(lg, {"attestation_tolerance": "0.5"}, "2027-05-01", "2027-01-15")
    a1 = attest(lg, stratus, run=p, flop_delivered="3e25")
    if report_at < second_at:
        r = lg.completed(p, at=report_at, flop="4.4e25")
    a2 = attest(lg, stratus, at=second_at, run=p, flop_delivered="3e25")
    if report_at >= second_at:
        r = lg.completed(p, at=report_at, flop="4.4e25")
    return {"P": p, "A1": a1, "A2": a2, "R": r}


def test_s16_a_later_amendment_does_not_erase_an_under_report_or_a_silence() -> None:
    """6e25 attested, 4.4e25 reported: below by more than 25%. An amendment logged
    afterwards raises the tolerance to 50% and the attestation interval to ten years;
    audited after it takes effect, both findings stand, judged by the values in force
    when the entries were logged."""
    lg = Ledger()
    e = _attested_and_reported(lg, amend=False)
    p, a1, a2, r = e["P"], e["A1"], e["A2"], e["R"]
    changes = {"attestation_tolerance": "0.5", "attestation_interval_days": 3650}
    amendment(lg, changes, "2027-09-01", "2027-06-01")
    expected = {("S16", "warning", (p, a1, a2, r)), ("S16", "notice", (a2,))}
    assert {(r_, s, i) for r_, s, i, _ in seen(lg, "2027-10-01")} == expected
    assert lg.audit("2027-10-01") == expected  # the reference agrees


def test_s16_an_under_report_is_judged_by_the_tolerance_when_the_last_entry_is_logged() -> None:
    """6e25 attested, 4.4e25 reported (27% below). The tolerance becomes 50% on 1 May:
    whichever of the report and the attestations is logged after that, the comparison is
    judged by 50%, so no warning; when all were logged before it, by 25%."""
    # The report last (after the amendment takes effect), then an attestation last.
    for last in ({}, {"report_at": "2027-04-20", "second_at": "2027-05-02"}):
        lg = Ledger()
        _attested_and_reported(lg, amend=True, **last)
        assert not [f for f in seen(lg, "2027-06-15") if f[1] == "warning"], last
        assert not [f for f in lg.audit("2027-06-15") if f[1] == "warning"], last  # reference


def test_s16_one_flop_is_above_nothing_while_no_level_is_deregulated() -> None:
    lg = Ledger()
    stratus = provider(lg)
    a = attest(lg, stratus, flop_delivered="1")
    assert seen(lg, "2027-05-01") == {_undeclared(a, "1", _not_covered("acme", named=False))}


def _deregulated(lg: Ledger) -> None:
    """Level 0 (cap 1e25) deregulated from 2028-01-01, with a tolerance amended too."""
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    lg.deregulation(0, "2028-01-01", "2026-10-01")
    amendment(lg, {"compute_tolerance": "0.1"}, "2027-12-01", "2026-10-01")
    lg.access(approved_run(lg)["D"], at="2028-01-01")


PERIOD = {"period_start": "2028-01-01T00:00:00Z", "period_end": "2028-04-01T00:00:00Z"}


def test_s16_attestation_at_the_deregulated_cap_needs_no_run() -> None:
    lg = Ledger()
    stratus = provider(lg)
    _deregulated(lg)
    attest(lg, stratus, "2028-04-02", organisation="beta", flop_delivered="1e25", **PERIOD)
    a = attest(
        lg,
        stratus,
        "2028-04-03",
        organisation="beta",
        flop_delivered="10000000000000000000000001",
        **PERIOD,
    )
    assert seen(lg, "2028-05-01") == {
        V(
            "S16",
            (a,),
            "stratus attests 1e25 FLOP delivered to beta (Stratus East 4, 2028-01-01 to "
            "2028-04-01), where a deregulated run may use 1e25 FLOP, and "
            + _not_covered("beta", named=False)
            + ": an undeclared large run",
        )
    }


CAPLESS_LEVEL_0 = [{"level": 1, "cap_flop": "1e26"}, {"level": 2, "cap_flop": "3e26"}]


def _capless(flop: str) -> tuple[Ledger, int]:
    """Level 0 deregulated, but the charter gives it no cap: a deregulated run may use
    nothing (the cap of the deregulated level, and there is none)."""
    lg = Ledger(levels=CAPLESS_LEVEL_0)
    stratus = provider(lg)
    _deregulated(lg)
    return lg, attest(lg, stratus, "2028-04-02", organisation="beta", flop_delivered=flop, **PERIOD)


def test_s16_a_deregulated_level_without_a_cap_frees_no_compute() -> None:
    lg, a = _capless("1")
    assert {(r, s, i) for r, s, i, _ in seen(lg, "2028-05-01")} == {("S16", "violation", (a,))}


def test_s16_a_deregulated_level_without_a_cap_is_not_called_no_deregulation() -> None:
    lg, _a = _capless("1")
    ((_rule, _severity, _indices, message),) = seen(lg, "2028-05-01")
    assert "while no level is deregulated" not in message
    assert "while deregulated level 0 has no cap in the charter" in message


def test_s16_compute_tolerance_is_the_charters_as_amended() -> None:
    lg = Ledger()
    stratus = provider(lg)
    _deregulated(lg)
    p = lg.prereg(
        at="2028-01-01",
        cycle=2028,
        planned_start="2028-02-01T00:00:00Z",
        planned_flop="5e25",
        run_id="acme-2028-a",
    )
    lg.started(p, at="2028-02-01")
    # A period from the day after (logged before it); acme's 2027 run is over by then
    # (approved_run completed it): only this run covers the compute.
    period = {**PERIOD, "period_start": "2028-01-02T00:00:00Z"}
    attest(lg, stratus, "2028-04-02", flop_delivered="5.5e25", **period)  # 5e25 x 1.1
    assert seen(lg, "2028-05-01") == set()


def test_s16_attestation_names_another_organisations_run() -> None:
    lg = Ledger()
    stratus = provider(lg)
    beta = Actor("Beta")
    lg.grant(beta, "lab:beta")
    body = {
        **EXAMPLES["preregistration"],
        "plan": {"sealed": False, "sha256": DIGEST},
        "org": "beta",
        "run_id": "beta-1",
    }
    p = lg.add("preregistration", body, [beta], "2026-11-01")
    lg.prereg(at="2026-11-02")  # acme's own run covers the compute: only the naming is wrong
    a = attest(lg, stratus, run=p, flop_delivered="1")
    assert seen(lg, "2027-05-01") == {
        V(
            "S16",
            (p, a),
            "stratus attests compute delivered to acme for run beta-1, which is beta's",
        ),
        _undeclared(
            a, "1", _not_covered("acme", True, "the run it names, beta-1, is beta's, not acme's")
        ),
    }


def test_s16_the_named_run_covers_its_compute() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    attest(lg, stratus, run=p)
    assert _s16(lg, "2027-05-01") == (set(), set())


@NAMED
def test_s16_a_run_never_reported_started_covers_nothing(named: bool) -> None:
    """A plan is not a run: until its training is reported started, a pre-registration
    covers no compute (ten plans that never start would otherwise cover ten runs'
    compute in one quarter)."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    a = attest(lg, stratus, **_run(p, named))
    engine, reference = _s16(lg, "2027-05-01")
    assert engine == {
        _undeclared(
            a,
            "6e25",
            _not_covered(
                "acme",
                named,
                "the run it names, acme-2027-a, has not reported its training started",
            ),
        )
    }
    assert reference == {("S16", "violation", (a,))}


def test_s16_a_later_version_that_cuts_the_plan_is_the_plan() -> None:
    """Version 1 plans 1e26; version 2, logged before the period, cuts it to 2e25: the
    compute attested is held to 2e25, whichever version the attestation names."""
    lg = Ledger()
    stratus = provider(lg)
    v1 = lg.prereg(planned_flop="1e26")
    lg.prereg(at="2026-11-20", planned_flop="2e25", supersedes=v1)
    lg.started(v1)
    for run in (v1, None):
        a = attest(lg, stratus, flop_delivered="9e25", **({"run": run} if run else {}))
        engine, reference = _s16(lg, "2027-05-01")
        assert ("S16", "violation", (a,)) in reference, run
        assert ("S16", "violation", (a,)) in {f[:3] for f in engine}, run
        if run is not None:
            # The run's own sum says so, with the plan of the version that cut it.
            (message,) = [f[3] for f in engine if f[2] == (a,)]
            assert "run acme-2027-a plans 2e25 FLOP, 2.1e25 with the 5% compute" in message


def test_s16_attestations_are_kept_as_attested() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    a = attest(lg, stratus, at="2027-04-02T10:00:00Z", run=p)
    assert replayed(lg).attestations == {
        a: Attestation(
            a,
            "stratus",
            "acme",
            ms("2027-01-01"),
            ms("2027-04-01"),
            6 * 10**25,
            p,
            ms("2027-04-02T10:00:00Z"),
        )
    }


def _reporting(lg: Ledger, stratus: Actor, flop: str) -> tuple[int, int, int, int, int]:
    """A run with no report yet (first) and a run attested 3e25 + 3e25 reporting *flop*.
    The quiet run never reported its start, so the compute attested for it is an
    undeclared large run's (QUIET), whatever the reports of the other."""
    quiet = lg.prereg(at="2026-10-30", run_id="acme-2027-q")
    p = lg.prereg()
    lg.started(p)
    attest(lg, stratus, at="2027-04-01", run=quiet, flop_delivered="1e25")
    attest(lg, stratus, at="2027-04-01T01:00:00Z", flop_delivered="1e24")  # names no run
    a1 = attest(lg, stratus, at="2027-04-02", run=p, flop_delivered="3e25")
    a2 = attest(lg, stratus, at="2027-04-03", run=p, flop_delivered="3e25")
    return quiet, p, a1, a2, lg.completed(p, at="2027-05-30", flop=flop)


def QUIET(a: int) -> tuple[str, str, tuple[int, ...], str]:
    return V(
        "S16",
        (a,),
        "stratus attests 1e25 FLOP delivered to acme (Stratus East 4, 2027-01-01 to "
        "2027-04-01), while no level is deregulated, and the run it names, acme-2027-q, has "
        "not reported its training started: an undeclared large run",
    )


def test_s16_report_exactly_at_the_attestation_tolerance_is_fine() -> None:
    lg = Ledger()
    stratus = provider(lg)
    quiet = _reporting(lg, stratus, "4.5e25")[0]  # 6e25 x 0.75
    assert seen(lg, "2027-06-15") == {QUIET(quiet + 3)}


def test_s16_report_one_flop_below_the_attestation_tolerance() -> None:
    lg = Ledger()
    stratus = provider(lg)
    quiet, p, a1, a2, r = _reporting(lg, stratus, "44999999999999999999999999")
    assert seen(lg, "2027-06-15") == {
        QUIET(quiet + 3),
        W(
            "S16",
            (p, a1, a2, r),
            "run acme-2027-a reports 4.5e25 FLOP, far below the 6e25 FLOP its providers "
            "attest for it",
        ),
    }


def test_s16_provider_silent_for_exactly_the_interval_then_a_millisecond_more() -> None:
    lg = Ledger()
    stratus = provider(lg)
    lg.started(lg.prereg())
    # Two halves of the run's compute (one period: S16 sums them against its plan).
    attest(lg, stratus, at="2027-04-02T00:00:00Z", flop_delivered="3e25")
    a = attest(lg, stratus, at="2027-04-02T00:00:00Z", flop_delivered="3e25")  # the later entry
    assert seen(lg, "2027-07-01T00:00:00Z") == set()
    assert seen(lg, "2027-07-01T00:00:00.001Z") == {
        N(
            "S16",
            (a,),
            "compute provider stratus has not attested since 2027-04-02 (more than 90 days)",
        )
    }


def _s16(lg: Ledger, now: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """S16's violations from the engine (with messages) and from the reference auditor
    (the warnings and notices these logs also get are other tests' concern)."""
    return (
        {f for f in seen(lg, now) if f[:2] == ("S16", "violation")},
        {f for f in lg.audit(now) if f[:2] == ("S16", "violation")},
    )


@pytest.mark.parametrize("ended", ["completed", "halted"])
@NAMED
def test_s16_a_run_over_before_the_period_covers_none_of_it(named: bool, ended: str) -> None:
    """A run that ended does not use compute: one that completed (or halted) before the
    attested period started does not cover it, whatever it planned."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p, at="2026-12-01")
    getattr(lg, ended)(p, at="2026-12-20", flop="1e25")
    a = attest(lg, stratus, **_run(p, named))
    engine, reference = _s16(lg, "2027-05-01")
    assert engine == {
        _undeclared(
            a,
            "6e25",
            _not_covered(
                "acme",
                named,
                f"the run it names, acme-2027-a, was over when the period started: entry "
                f"{a - 1} ended it at 2026-12-20T00:00:00Z",
            ),
        )
    }
    assert reference == {("S16", "violation", (a,))}


@NAMED
def test_s16_a_run_that_ends_at_the_periods_first_instant_is_over_then(named: bool) -> None:
    """Over "by" the period's start: an end logged at that instant; a millisecond later,
    the run was under way when the period started and covers it."""
    for end, covered in (("2027-01-01T00:00:00Z", False), ("2027-01-01T00:00:00.001Z", True)):
        lg = Ledger()
        stratus = provider(lg)
        p = lg.prereg()
        lg.started(p, at="2026-12-01")
        lg.completed(p, at=end, flop="6e25")
        a = attest(lg, stratus, **_run(p, named))
        expected = set() if covered else {("S16", "violation", (a,))}
        engine, reference = _s16(lg, "2027-05-01")
        assert {f[:3] for f in engine} == expected, end
        assert reference == expected, end


def test_s16_compute_attested_for_a_run_is_summed_against_its_plan() -> None:
    """A run that never reports is still held to its plan: the compute attested for it,
    in all, above 6e25 x 1.05 is an undeclared large run's (here on the third
    attestation, each alone within the plan)."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="6e25")
    lg.started(p)
    first = attest(lg, stratus, run=p, flop_delivered="3e25")
    second = attest(lg, stratus, "2027-07-02", run=p, flop_delivered="3.3e25", **LATER)
    third = attest(lg, stratus, "2027-07-03", run=p, flop_delivered="1", **LATER)
    engine, reference = _s16(lg, "2027-07-10")
    assert engine == {
        V(
            "S16",
            (third,),
            "stratus attests 1 FLOP delivered to acme (Stratus East 4, 2027-04-01 to "
            f"2027-07-01), while no level is deregulated, and run acme-2027-a plans {SHORT} "
            "attested for that run in all: an undeclared large run",
        )
    }
    assert reference == {("S16", "violation", (third,))}
    assert first < second < third


def test_s16_compute_split_across_attestations_is_summed_per_organisation() -> None:
    """Five attestations of the deregulated cap (1e25) each, to beta in one quarter from
    two providers, are five times the cap: each after the first adds up, with what
    overlaps its compute window, to more than beta's runs under way (none) plan. The
    same compute in five first quarters a year apart is five deregulated runs', each
    outside the others' 365-day windows, and raises nothing."""
    for split in (True, False):
        lg = Ledger()
        stratus = provider(lg)
        nimbus = Actor("Nimbus")
        lg.grant(nimbus, "compute:nimbus")
        lg.grant(Actor("Beta"), "lab:beta")  # beta is registered: its own sum
        _deregulated(lg)
        found = []
        for n in range(5):
            period = PERIOD if split else _quarter(2028 + n)
            by, name = (stratus, "stratus") if n % 2 == 0 else (nimbus, "nimbus")
            body = {"organisation": "beta", "flop_delivered": "1e25", "provider": name}
            logged = f"{2028 if split else 2028 + n}-04-0{n + 2}"  # after each period
            found.append(attest(lg, by, logged, **body, **period))
        engine, reference = _s16(lg, "2033-01-01")
        expected = {("S16", "violation", (a,)) for a in found[1:]} if split else set()
        assert {f[:3] for f in engine} == expected, split
        assert reference == expected, split
        if split:
            third = next(f[3] for f in engine if f[2] == (found[2],))
            assert third.endswith(
                "where a deregulated run may use 1e25 FLOP, and with the 2 earlier "
                "attestations of periods in the 365-day compute window from 2027-04-02, "
                "beta was delivered 3e25 FLOP, and beta had no run "
                "under way then; one run's compute split across attestations looks like "
                "this: an undeclared large run"
            ), third


def test_s16_compute_naming_another_organisations_run_is_summed_with_its_own() -> None:
    """beta is delivered the free cap naming no run, then 1e24 naming acme's run (whose
    plan, 6e24, would cover it): the 1e24 is beta's compute, summed with beta's 1e25
    (above the cap, and beta has no run), not held to acme's plan."""
    lg = Ledger()
    stratus = provider(lg)
    lg.grant(Actor("Beta"), "lab:beta")
    _deregulated(lg)
    p = lg.prereg(planned_flop="6e24")
    lg.started(p)
    attest(lg, stratus, "2028-04-02", organisation="beta", flop_delivered="1e25", **PERIOD)
    other = attest(
        lg, stratus, "2028-04-03", run=p, organisation="beta", flop_delivered="1e24", **PERIOD
    )
    engine, reference = _s16(lg, "2028-05-01")
    expected = {("S16", "violation", (p, other)), ("S16", "violation", (other,))}
    assert {f[:3] for f in engine} == reference == expected
    assert replayed(lg).runs[p].attested_flop == 0  # nothing attested to acme


def test_s16_compute_split_across_names_the_log_does_not_know_is_summed() -> None:
    """Compute attested to organisations the log does not register (no organisation
    entry, no lab key) is summed across all such names: two shells at the free cap each
    are twice the cap. A registered organisation (a lab key, or an organisation entry
    logged before the attestation) is summed under its own name."""
    lg = Ledger()
    stratus = provider(lg)
    _deregulated(lg)
    beta_key = lg.grant(Actor("Beta"), "lab:beta", at="2027-01-01")
    lg.grant(Actor("Beta 2"), "lab:beta", at="2027-01-01")  # registered already
    body = {"org_id": "gamma", "legal_name": "Gamma", "jurisdiction": "XR", "kind": "lab"}
    gamma = lg.add("organisation", body, [lg.regulator], "2027-01-02")
    acme_key = replayed(lg).registered["acme"]
    cap = {"flop_delivered": "1e25", **PERIOD}
    attest(lg, stratus, "2028-04-02", organisation="shell-a", **cap)
    attest(lg, stratus, "2028-04-03", organisation="beta", **cap)
    attest(lg, stratus, "2028-04-04", organisation="gamma", **cap)
    engine, reference = _s16(lg, "2028-05-01")
    assert engine == reference == set()
    second = attest(lg, stratus, "2028-04-05", organisation="shell-b", **cap)
    engine, reference = _s16(lg, "2028-05-01")
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (second,))}
    (message,) = [f[3] for f in engine]
    assert (
        "and shell-b is an organisation the log does not register (no organisation entry, "
        "no lab key); with the 1 earlier attestation to such names of periods in the "
        "365-day compute window from 2027-04-02, they were delivered 2e25 FLOP, and shell-b "
        "had no run under way then; one lab's compute split across names the log does not "
        "know looks like this: an undeclared large run" in message
    ), message
    # What registers whom: the lab key (acme's, the Ledger's own; beta's) and gamma's
    # organisation entry, each the first entry that did.
    assert replayed(lg).registered == {"acme": acme_key, "beta": beta_key, "gamma": gamma}
    # A third name: two earlier attestations to such names, in the plural.
    third_name = attest(lg, stratus, "2028-04-05", organisation="shell-c", **cap)
    engine, reference = _s16(lg, "2028-05-01")
    (message,) = [f[3] for f in engine if f[2] == (third_name,)]
    assert "with the 2 earlier attestations to such names of periods" in message, message
    # Registered after its first attestation: shell-a's later compute is its own sum
    # (1e25 + 1e25 is still above the cap, and it has no run).
    body = {**body, "org_id": "shell-a", "legal_name": "Shell A"}
    lg.add("organisation", body, [lg.regulator], "2028-04-06")
    third = attest(lg, stratus, "2028-04-07", organisation="shell-a", **cap)
    engine, reference = _s16(lg, "2028-05-01")
    expected = {
        ("S16", "violation", (second,)),
        ("S16", "violation", (third_name,)),
        ("S16", "violation", (third,)),
    }
    assert {f[:3] for f in engine} == reference == expected
    assert any("with the 1 earlier attestation of periods" in f[3] for f in engine), engine


def test_s16_runs_one_after_another_each_named_by_its_provider_raise_nothing() -> None:
    """Run A attested January to June (it completes in May), run B June to September by
    another provider, each naming its run and within its plan: attestations naming one
    of the organisation's runs are held to that run's plan, not summed with the
    organisation's compute (which would hold A's half-year against B's plan alone)."""
    lg = Ledger()
    stratus = provider(lg)
    nimbus = Actor("Nimbus")
    lg.grant(nimbus, "compute:nimbus")
    a = lg.prereg(planned_flop="6e25")
    lg.started(a)
    b = lg.prereg(at="2027-04-01", run_id="acme-2027-b", planned_flop="6e25")
    lg.started(b, at="2027-06-01")
    half = {"period_start": "2027-01-01T00:00:00Z", "period_end": "2027-07-01T00:00:00Z"}
    attest(lg, stratus, "2027-07-02", run=a, flop_delivered="6e25", **half)
    lg.completed(a, at="2027-05-30", flop="6e25")
    later = {"period_start": "2027-06-01T00:00:00Z", "period_end": "2027-09-01T00:00:00Z"}
    body = {"provider": "nimbus", "flop_delivered": "6e25"}
    attest(lg, nimbus, "2027-09-02", run=b, **body, **later)
    engine, reference = _s16(lg, "2027-10-01")
    assert engine == set()
    assert reference == set()
    # The same compute naming no run is summed over the compute window, against both
    # runs (each under way in it): 1.2e26 within their 1.26e26 (5% tolerance); one FLOP
    # beyond that is not, and the sentence then gives every digit.
    lg2 = Ledger()
    stratus = provider(lg2)
    lg2.grant(nimbus, "compute:nimbus")
    a = lg2.prereg(planned_flop="6e25")
    lg2.started(a)
    lg2.started(lg2.prereg(at="2027-04-01", run_id="acme-2027-b", planned_flop="6e25"))
    lg2.completed(a, at="2027-05-30", flop="6e25")
    attest(lg2, stratus, "2027-07-02", flop_delivered="6e25", **half)
    attest(lg2, nimbus, "2027-09-02", **body, **later)
    engine, reference = _s16(lg2, "2027-10-01")
    assert engine == reference == set()
    beyond = {**body, "flop_delivered": "6000000000000000000000001"}
    last = attest(lg2, nimbus, "2027-09-03", **beyond, **later)
    engine, reference = _s16(lg2, "2027-10-01")
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (last,))}
    assert (
        "more than the 2 runs it had under way then plan: 1.2e26 FLOP, "
        "126000000000000000000000000 with the 5% compute tolerance, less than the "
        "126000000000000000000000001 FLOP" in next(iter(engine))[3]
    ), engine


@pytest.mark.parametrize("end", ["2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z"])
def test_s16_a_period_that_ends_before_it_starts_is_refused(end: str) -> None:
    """An empty or reversed period overlaps nothing, so summed with the organisation's
    compute it would hide a split: refused at admission, a violation if forced in."""
    lg = Ledger()
    stratus = provider(lg)
    lg.started(lg.prereg())
    period = {"period_start": "2027-04-01T00:00:00Z", "period_end": end}
    a = attest(lg, stratus, flop_delivered="1e25", **period)
    engine, reference = _s16(lg, "2027-05-01")
    assert engine == {
        V(
            "S16",
            (a,),
            f"the attested period ends ({end}) no later than it starts (2027-04-01T00:00:00Z)",
        )
    }
    assert reference == {("S16", "violation", (a,))}
    (only,) = [f for f in audit(lg, "2027-05-01").findings if f.rule == "S16" and f.refusable]
    assert only.indices == (a,)


def test_s16_small_compute_for_a_run_already_over_is_held_to_its_plan() -> None:
    """Within the free cap alone, compute named for a run that is over is still summed
    for that run against the plan of the version named, once the sum passes the cap."""
    lg = Ledger()
    stratus = provider(lg)
    _deregulated(lg)
    p = lg.prereg(planned_flop="6e24")
    lg.started(p)
    lg.completed(p, at="2027-05-30", flop="6e24")
    # Exactly the free cap: free, though the run it names is over.
    first = attest(lg, stratus, "2028-04-02", run=p, flop_delivered="1e25", **PERIOD)
    engine, reference = _s16(lg, "2028-05-01")
    assert engine == reference == set(), first
    second = attest(lg, stratus, "2028-04-03", run=p, flop_delivered="1", **PERIOD)
    engine, reference = _s16(lg, "2028-05-01")
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (second,))}
    assert "attested for that run in all" in next(iter(engine))[3]
    # Small compute naming another organisation's run is summed with the organisation's
    # own: with beta's 1e25 (the cap, alone free) it is above the cap, and beta had no
    # run under way; naming acme's run is a violation of its own.
    attest(lg, stratus, "2028-04-04", organisation="beta", flop_delivered="1e25", **PERIOD)
    other = attest(
        lg, stratus, "2028-04-05", run=p, organisation="beta", flop_delivered="1e24", **PERIOD
    )
    engine, reference = _s16(lg, "2028-05-01")
    assert reference == {
        ("S16", "violation", (second,)),
        ("S16", "violation", (p, other)),
        ("S16", "violation", (other,)),
    }
    assert {f[:3] for f in engine} == reference


@pytest.mark.parametrize("gap", [0, 1])
def test_s16_the_compute_window_ends_with_the_period_and_starts_window_days_before(
    gap: int,
) -> None:
    """The organisation's sum takes the periods that overlap the 365 days before this
    period's end: one ending exactly at the window's start (2027-06-02, 365 days before
    2028-06-01) is not in it, one ending a second later is; the sum names beta's one
    run under way in that time in the singular, and leaves acme's compute out."""
    lg = Ledger()
    stratus = provider(lg)
    beta = Actor("Beta")
    lg.grant(beta, "lab:beta")
    edge = f"2027-06-02T00:00:0{gap}Z"
    before = {"period_start": "2027-03-01T00:00:00Z", "period_end": edge}
    # In 2027 nothing is deregulated: beta's 4e24 then is a violation of its own.
    early = attest(lg, stratus, "2027-06-03", organisation="beta", flop_delivered="4e24", **before)
    # beta's one run, pre-registered in December and under way from February 2028.
    body = {**EXAMPLES["preregistration"], "plan": {"sealed": False, "sha256": DIGEST}}
    body.update(org="beta", run_id="beta-2028-a", cycle=2028, planned_flop="6e24")
    body.update(planned_start="2028-02-01T00:00:00Z", planned_end="2028-05-31T00:00:00Z")
    p = lg.add("preregistration", body, [beta], "2027-12-01")
    _deregulated(lg)
    start = {"preregistration": p, "time": "2028-02-01T00:00:00Z", "cumulative_flop": "0"}
    lg.add("training_started", start, [beta], "2028-02-01")
    spring = {"period_start": "2028-03-01T00:00:00Z", "period_end": "2028-06-01T00:00:00Z"}
    attest(lg, stratus, "2028-06-02", flop_delivered="1e24", **spring)  # acme's
    first = attest(
        lg, stratus, "2028-06-03", organisation="beta", flop_delivered="6.6e24", **spring
    )
    engine, reference = _s16(lg, "2028-08-01")
    # 6.6e24 is the plan with the tolerance: within it, or 4e24 above it (and above
    # the free cap) with the period the window reaches.
    expected = {("S16", "violation", (early,))} | (
        {("S16", "violation", (first,))} if gap else set()
    )
    assert {f[:3] for f in engine} == reference == expected
    if gap:
        (message,) = [f[3] for f in engine if f[2] == (first,)]
        assert (
            "with the 1 earlier attestation of periods in the 365-day compute window from "
            "2027-06-02, beta was delivered 1.06e25 FLOP, more "
            "than the 1 run it had under way then plans: 6e24 FLOP, 6.6e24 with the 10% "
            "compute tolerance, less than the 1.06e25 FLOP" in message
        ), message


def test_s16_compute_split_over_quarters_one_after_another_is_summed() -> None:
    """Four quarters one after another, the free cap each, to an organisation with no
    run: the second brings the compute window's sum above the cap (the hole the
    overlapping periods alone left open); a charter amendment to a window of 0 days
    sums overlapping periods only, and the same quarters then raise nothing."""
    for window in (None, 0):
        lg = Ledger()
        stratus = provider(lg)
        _deregulated(lg)
        lg.grant(Actor("Beta"), "lab:beta")
        if window is not None:
            amendment(lg, {"compute_window_days": window}, "2027-12-15", "2026-10-01")
        found = []
        quarters = [("01-01", "04-01"), ("04-01", "07-01"), ("07-01", "10-01"), ("10-01", "12-31")]
        for start, end in quarters:
            period = {
                "period_start": f"2028-{start}T00:00:00Z",
                "period_end": f"2028-{end}T00:00:00Z",
            }
            logged = f"2028-{end}T12:00:00Z"  # the period's last day
            body = {"organisation": "beta", "flop_delivered": "1e25"}
            found.append(attest(lg, stratus, logged, **body, **period))
        engine, reference = _s16(lg, "2029-02-01")
        expected = set() if window == 0 else {("S16", "violation", (a,)) for a in found[1:]}
        assert {f[:3] for f in engine} == reference == expected, window
    # With a window of 0 days, periods that overlap are still summed.
    body = {"organisation": "beta", "flop_delivered": "1", **period}
    last = attest(lg, stratus, "2029-01-03", **body)
    engine, reference = _s16(lg, "2029-02-01")
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (last,))}
    assert (
        "with the 1 earlier attestation of periods overlapping this one, beta was delivered"
        in next(iter(engine))[3]
    ), engine


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("second", [0, 1])
def test_s16_a_run_never_reported_over_covers_until_a_window_after_its_planned_end(
    named: bool, second: int
) -> None:
    """acme's run, planned to end 2027-05-31 and never reported over, covers a period
    starting a second before its planned end + 365 days (2028-05-30), and not one
    starting then: named or not, the compute is then an undeclared large run."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="8e25")
    lg.started(p)
    start = "2028-05-29T23:59:59Z" if second == 0 else "2028-05-30T00:00:00Z"
    period = {"period_start": start, "period_end": "2028-08-01T00:00:00Z"}
    run = {"run": p} if named else {}
    a = attest(lg, stratus, "2028-08-02", flop_delivered="5e25", **run, **period)
    engine, reference = _s16(lg, "2028-09-01")
    expected = {("S16", "violation", (a,))} if second else set()
    assert {f[:3] for f in engine} == reference == expected
    if second:
        (message,) = [f[3] for f in engine]
        why = (
            "the run it names, acme-2027-a, was planned to end by 2027-05-31T00:00:00Z (its "
            "planned end, or the end of its cycle's year if earlier), at least the 365-day "
            "compute window before the period started, and was never reported completed "
            "or halted"
            if named
            else "acme had no run under way when the period started to cover it"
        )
        assert why in message, message


@pytest.mark.parametrize("second", [0, 1])
def test_s16_a_planned_end_years_away_counts_only_to_the_end_of_the_cycle(second: int) -> None:
    """A run of cycle 2027 planned to end in 2099 and never reported over covers compute
    until 365 days after the end of 2027 (2028-12-31, 2028 being a leap year), not
    for ever."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop="8e25", planned_end="2099-12-31T00:00:00Z")
    lg.started(p)
    start = "2028-12-30T23:59:59Z" if second == 0 else "2028-12-31T00:00:00Z"
    period = {"period_start": start, "period_end": "2029-02-01T00:00:00Z"}
    a = attest(lg, stratus, "2029-02-02", run=p, flop_delivered="5e25", **period)
    engine, reference = _s16(lg, "2029-03-01")
    assert (
        {f[:3] for f in engine} == reference == ({("S16", "violation", (a,))} if second else set())
    )
    if second:
        assert "was planned to end by 2028-01-01T00:00:00Z" in next(iter(engine))[3]


def test_s16_sums_name_their_runs_and_stop_at_the_free_cap() -> None:
    """Level 0 (cap 1e25) deregulated from 2028. Compute at the cap is free, summed or
    not; a run ended before the period is held to its plan by what is attested for it
    once the sum passes the cap; a run of another organisation named on small compute
    is summed with the organisation's; a period starting where another ends is in its
    compute window; the organisation's sum names the runs it had under way."""
    lg = Ledger()
    stratus = provider(lg)
    beta = Actor("Beta")
    lg.grant(beta, "lab:beta")
    _deregulated(lg)
    # beta's two runs, under way from February 2028 (before the periods below).
    runs = []
    for name in ("beta-a", "beta-b"):
        body = {**EXAMPLES["preregistration"], "plan": {"sealed": False, "sha256": DIGEST}}
        body.update(org="beta", run_id=name, cycle=2028, planned_flop="5e24")
        body.update(planned_start="2028-02-01T00:00:00Z")
        runs.append(lg.add("preregistration", body, [beta], "2027-12-01"))
    later = {"period_start": "2028-03-01T00:00:00Z", "period_end": "2028-06-01T00:00:00Z"}
    for p in runs:
        start = {"preregistration": p, "time": "2028-02-01T00:00:00Z", "cumulative_flop": "0"}
        lg.add("training_started", start, [beta], "2028-02-01")
    named = {"organisation": "beta", "run": runs[0], "flop_delivered": "1e25"}
    at_cap = attest(lg, stratus, "2028-06-02", **named, **later)
    # Exactly the free cap attested for the run in all: free, whatever the plan (5e24).
    engine, reference = _s16(lg, "2028-07-01")
    assert engine == reference == set(), at_cap
    more = attest(lg, stratus, "2028-06-03", organisation="beta", flop_delivered="1.1e25", **later)
    engine, reference = _s16(lg, "2028-07-01")
    # Above the cap alone, and above the larger of the two runs' plans (5e24 x 1.1).
    assert {f[:3] for f in engine} == reference == {("S16", "violation", (more,))}
    assert (
        "the largest of the 2 runs beta had under way when the period started plans 5e24 "
        "FLOP, 5.5e24 with the 10% compute tolerance, less than the 1.1e25 FLOP"
    ) in next(iter(engine))[3]
    third = attest(lg, stratus, "2028-06-04", organisation="beta", flop_delivered="1", **later)
    engine, reference = _s16(lg, "2028-07-01")
    expected = {("S16", "violation", (more,)), ("S16", "violation", (third,))}
    assert {f[:3] for f in engine} == reference == expected
    (message,) = [f[3] for f in engine if f[2] == (third,)]
    assert (
        "with the 2 earlier attestations of periods in the 365-day compute window from "
        "2027-06-02, beta was delivered 2.1e25 FLOP, more than the 2 runs it had under way "
        "then plan: 1e25 FLOP, 1.1e25 with the 10% compute tolerance, less than the 2.1e25 "
        "FLOP" in message
    ), message
    # An earlier attestation of a period that starts where this one ends is after it,
    # not in its window: beta's 1e25 for June, logged first, then 1e25 for spring.
    lg3 = Ledger()
    stratus3 = provider(lg3)
    lg3.grant(beta, "lab:beta")
    _deregulated(lg3)
    june = {"period_start": "2028-06-01T00:00:00Z", "period_end": "2028-07-01T00:00:00Z"}
    attest(lg3, stratus3, "2028-07-02", organisation="beta", flop_delivered="1e25", **june)
    spring = attest(
        lg3, stratus3, "2028-07-03", organisation="beta", flop_delivered="1e25", **later
    )
    engine3, reference3 = _s16(lg3, "2028-08-01")
    assert engine3 == reference3 == set(), spring
    # A period that starts where the others end is in their window: summed with them.
    after = {"period_start": "2028-06-01T00:00:00Z", "period_end": "2028-07-01T00:00:00Z"}
    fourth = attest(lg, stratus, "2028-07-02", organisation="beta", flop_delivered="1", **after)
    engine, reference = _s16(lg, "2028-08-01")
    expected.add(("S16", "violation", (fourth,)))
    assert {f[:3] for f in engine} == reference == expected


LATER = {"period_start": "2027-04-01T00:00:00Z", "period_end": "2027-07-01T00:00:00Z"}


def _quarter(year: int) -> dict[str, str]:
    return {"period_start": f"{year}-01-01T00:00:00Z", "period_end": f"{year}-04-01T00:00:00Z"}


# == S17: researchers' access =====================================================


def test_s17_of_two_late_accesses_opening_together_the_lower_index_is_named() -> None:
    lg = Ledger()
    run = approved_run(lg)
    x1 = lg.access(run["D"], at="2028-03-01", until="2030-01-01")
    lg.access(run["D"], at="2028-03-01", until="2029-06-01")  # ends first
    assert {(r, s, i) for r, s, i, _ in seen(lg, "2028-04-01")} == {
        ("S17", "violation", (run["D"], x1))
    }
    assert lg.audit("2028-04-01") == {("S17", "violation", (run["D"], x1))}  # the reference


def test_s17_access_lasting_exactly_the_minimum_is_fine() -> None:
    lg = Ledger()
    run = approved_run(lg)
    lg.access(run["D"], at="2028-01-05", until="2029-01-04")  # 365 days (2028 is leap)
    assert seen(lg, "2028-01-20") == set()


def test_s17_access_one_day_short_of_the_minimum() -> None:
    lg = Ledger()
    run = approved_run(lg)
    x = lg.access(run["D"], at="2028-01-05", until="2029-01-03")
    assert seen(lg, "2028-01-20") == {
        V(
            "S17",
            (x,),
            "researchers' access from 2028-01-05 to 2029-01-03 is shorter than the charter's "
            "365 days",
        )
    }


def test_s17_minimum_is_the_charters_as_amended() -> None:
    lg = Ledger()
    amendment(lg, {"research_access_min_days": 300}, "2026-09-01", "2026-06-01")
    run = approved_run(lg)
    lg.access(run["D"], at="2028-01-05", until="2028-11-01")  # 301 days
    assert seen(lg, "2028-01-20") == set()


def test_s17_access_for_a_decision_that_approved_nothing() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    d = lg.decision(s, outcome="rejected")
    x = lg.access(d, at="2028-01-05")
    assert seen(lg, "2028-03-01") == {
        V("S17", (d, x), f"decision {d} approved no model, so there is nothing to open")
    }


def test_s17_access_is_kept_from_its_opening_to_the_start_of_its_last_day() -> None:
    lg = Ledger()
    run = approved_run(lg)
    x = lg.access(run["D"], at="2028-01-05T10:00:00Z", start="2028-01-01", until="2029-01-06")
    assert replayed(lg).access == {run["D"]: [(ms("2028-01-05T10:00:00Z"), ms("2029-01-06"), x)]}


def test_s17_every_approval_is_judged() -> None:
    lg = Ledger()
    p1 = lg.prereg()
    p2 = lg.prereg(at="2026-11-02", run_id="acme-2027-b")
    suite = lg.suite()
    for p in (p1, p2):
        lg.started(p)
    for p in (p1, p2):
        lg.completed(p)
    s1 = lg.submission(p1)
    s2 = lg.submission(p2, model_digest=OTHER_DIGEST)
    lg.result(s1, suite)
    lg.result(s2, suite)
    d1 = lg.decision(s1)
    d2 = lg.decision(s2, at="2027-12-31T13:00:00Z")
    x = lg.access(d2, at="2028-02-01", until="2029-03-01")
    assert seen(lg, "2028-03-01") == {
        V(
            "S17",
            (d1,),
            f"the model approved by decision {d1} on 2027-12-31 has no researchers' "
            "access 30 days later",
        ),
        V(
            "S17",
            (d2, x),
            f"researchers' access to the model approved by decision {d2} opens on "
            "2028-02-01, after the 30-day limit",
        ),
    }


# == S18: the regulator's scope ===================================================


def test_s18_categories_outside_the_scope_are_listed() -> None:
    lg = Ledger(evaluation_scope=["cyber", "autonomy"])
    _p, suite, s = submitted_run(lg)
    categories = ["persuasion", "cyber", "bio-uplift"]
    body = {
        "submission": s,
        "suite": suite,
        "outcome": "pass",
        "results": [{"category": c, "outcome": "pass"} for c in categories],
        "report": {"sealed": False, "sha256": DIGEST},
    }
    r = lg.add("eval_result", body, [lg.evaluator], "2027-07-01")
    assert seen(lg, "2027-08-01") == {
        V(
            "S18",
            (r,),
            "the evaluation assesses bio-uplift, persuasion, outside the regulator's scope "
            "(cyber, autonomy)",
        )
    }


def test_s18_scope_is_the_one_in_force_when_the_result_is_logged() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    amendment(lg, {"evaluation_scope": ["cyber"]}, "2027-10-01", "2027-06-02")
    lg.result(s, suite, at="2027-09-30T23:59:59.999Z")
    r = lg.result(s, suite, at="2027-10-01")
    assert seen(lg, "2027-11-01") == {
        V("S18", (r,), "the evaluation assesses bio-uplift, outside the regulator's scope (cyber)")
    }


# == S19: cooling-off =============================================================


def _cooling(lg: Ledger, name: str, at: str, *roles: str) -> int:
    """A key for *name* with *roles*, granted at *at*."""
    return lg.add("key_grant", grant_body(Actor(name), *roles), lg.board[:1], at)


OFFICER = "Evaluation officer 7"


def test_s19_key_at_the_instant_of_the_departure() -> None:
    lg = Ledger()
    leaving = departure(lg, OFFICER)  # departs 2027-10-01
    g = _cooling(lg, OFFICER, "2027-10-01T00:00:00Z", "lab:beta", "lab:acme")
    assert seen(lg, "2028-10-01") == {
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme); a key of "
            "acme, beta for them 0 days later is inside the 365-day cooling-off period",
        )
    }


def test_s19_days_later_are_whole_days() -> None:
    lg = Ledger()
    leaving = departure(lg, OFFICER)
    g = _cooling(lg, OFFICER, "2027-10-11T12:00:00Z", "lab:acme")
    assert seen(lg, "2028-10-01") == {
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme); a key of "
            "acme for them 10 days later is inside the 365-day cooling-off period",
        )
    }


def test_s19_key_at_the_end_of_the_cooling_off_is_fine() -> None:
    lg = Ledger()
    departure(lg, OFFICER)
    _cooling(lg, OFFICER, "2028-09-30T00:00:00Z", "lab:acme")  # 2027-10-01 + 365 days
    assert seen(lg, "2028-10-01") == set()


def test_s19_cooling_off_is_the_one_in_force_at_the_departure() -> None:
    lg = Ledger()
    amendment(lg, {"cooling_off_days": 100}, "2027-09-01", "2027-06-01")
    leaving = departure(lg, OFFICER)
    amendment(lg, {"cooling_off_days": 10}, "2028-01-01", "2027-10-02")
    g = _cooling(lg, OFFICER, "2028-01-08T23:59:59.999Z", "lab:acme")
    _cooling(lg, OFFICER, "2028-01-09", "lab:acme")
    assert seen(lg, "2028-10-01") == {
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme); a key of "
            "acme for them 99 days later is inside the 100-day cooling-off period",
        )
    }


def test_s19_a_key_granted_before_the_departure_date_or_to_another_spelling() -> None:
    """A lab key granted after the departure is declared but before its date would be
    held through the cooling-off; "evaluation OFFICER  7" is the same person."""
    lg = Ledger()
    leaving = departure(lg, OFFICER)  # declared 2027-09-20, departs 2027-10-01
    before = _cooling(lg, OFFICER, "2027-09-30T23:59:59Z", "lab:acme")
    variant = _cooling(lg, "evaluation OFFICER  7", "2027-10-11", "lab:beta")
    assert seen(lg, "2028-10-01") == {
        V(
            "S19",
            (leaving, before),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme); a key of "
            "acme granted before that date would be held inside the 365-day cooling-off "
            "period",
        ),
        V(
            "S19",
            (leaving, variant),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme); a key of "
            'beta (as "evaluation OFFICER  7") for them 10 days later is inside the 365-day '
            "cooling-off period",
        ),
    }
    expected = {("S19", "violation", (leaving, before)), ("S19", "violation", (leaving, variant))}
    assert lg.audit("2028-10-01") == expected  # the reference agrees


def test_s19_two_overseeing_roles_are_both_named() -> None:
    lg = Ledger()
    _cooling(lg, "Dual", "2026-06-01", "regulator", "board", "lab:acme")
    assert [m for r, _, _, m in seen(lg, "2026-07-01")] == [
        "the key of Dual would hold board, regulator and the role of acme: one key cannot "
        "both act for a lab and oversee it"
    ]


def test_s19_a_second_departure_has_its_own_cooling_off() -> None:
    """Left in 2027 (cooling-off over), came back, left again in 2029: a lab key in
    2029 is inside the second departure's cooling-off."""
    lg = Ledger()
    departure(lg, OFFICER)  # 2027-10-01
    second = departure(lg, OFFICER, at="2029-03-01", date="2029-03-10")
    g = _cooling(lg, OFFICER, "2029-04-01", "lab:acme")
    assert {(r, i) for r, _, i, _ in seen(lg, "2029-05-01")} == {("S19", (second, g))}
    assert lg.audit("2029-05-01") == {("S19", "violation", (second, g))}  # the reference


@pytest.mark.parametrize(
    "oversight", ["regulator", "board", "evaluator", "observer:un", "compute:stratus"]
)
def test_s19_one_key_cannot_act_for_a_lab_and_oversee_it(oversight: str) -> None:
    lg = Ledger()
    g = _cooling(lg, "Dual", "2026-06-01", oversight, "lab:acme")
    assert seen(lg, "2026-07-01") == {
        V(
            "S19",
            (g,),
            f"the key of Dual would hold {oversight} and the role of acme: one key cannot "
            "both act for a lab and oversee it",
        )
    }
    assert lg.audit("2026-07-01") == {("S19", "violation", (g,))}  # the reference agrees


def test_s19_an_amendment_logged_after_the_declaration_does_not_shorten_it() -> None:
    """Declared in June for a departure on 1 December; an amendment logged in July (with
    its notice) cuts the cooling-off to 10 days from October. The declared departure
    keeps the 365 days it was declared under: otherwise the board could clear one
    person's way to a lab."""
    lg = Ledger()
    leaving = departure(lg, OFFICER, at="2027-06-01", date="2027-12-01")
    amendment(lg, {"cooling_off_days": 10}, "2027-10-01", "2027-07-01")
    g = _cooling(lg, OFFICER, "2027-12-20", "lab:acme")
    assert seen(lg, "2028-01-01") == {
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 2027-12-01 (for acme); a key of "
            "acme for them 19 days later is inside the 365-day cooling-off period",
        )
    }
    assert lg.audit("2028-01-01") == {("S19", "violation", (leaving, g))}  # the reference


def both(lg: Ledger, now: str) -> set[tuple[str, str, tuple[int, ...]]]:
    """The engine's findings (rule, severity, entries), checked against the reference's."""
    engine = {(f.rule, f.severity, f.indices) for f in audit(lg, now).findings}
    assert engine == lg.audit(now)
    return engine


@pytest.mark.parametrize("first", ["lab:acme", "evaluator", "board", "observer:un"])
def test_s19_one_person_cannot_hold_a_lab_key_and_an_overseeing_one(first: str) -> None:
    """Two keys of one holder in force at once, one acting for a lab and the other
    overseeing it, whichever is granted first: (K, G), refused."""
    lg = Ledger()
    other = "evaluator" if first == "lab:acme" else "lab:acme"
    k = _cooling(lg, OFFICER, "2027-01-01", first)
    g = _cooling(lg, " evaluation OFFICER  7", "2027-02-01", other)
    theirs, mine = (first, other)
    assert seen(lg, "2027-03-01") == {
        V(
            "S19",
            (k, g),
            f'" evaluation OFFICER  7" holds a key with {theirs} (granted at entry {k}, in '
            f"force); a key with {mine} for the same person would let them both act for a "
            "lab and oversee it",
        )
    }
    assert both(lg, "2027-03-01") == {("S19", "violation", (k, g))}


def test_s19_one_person_after_the_overseeing_key_is_revoked() -> None:
    lg = Ledger()
    officer = Actor(OFFICER)
    lg.add("key_grant", grant_body(officer, "evaluator"), lg.board[:1], "2027-01-01")
    revoke(lg, officer, "2027-01-15")
    _cooling(lg, OFFICER, "2027-02-01", "lab:acme")
    _cooling(lg, "Evaluation officer 8", "2027-02-01", "evaluator")
    _cooling(lg, OFFICER, "2027-02-01", "contester:watchdog")
    assert both(lg, "2027-03-01") == set()


def test_s19_a_governor_cannot_hold_a_lab_key() -> None:
    """A root key is held by its name and holds the board's role."""
    lg = Ledger()
    g = _cooling(lg, lg.board[1].name, "2027-02-01", "lab:acme")
    assert both(lg, "2027-03-01") == {("S19", "violation", (0, g))}


def test_s19_a_back_dated_departure_counts_from_the_revocation() -> None:
    """The evaluator key is revoked on 2027-12-01; the departure, declared that day,
    claims 2026-06-01: a warning, and the cooling-off counts from the revocation."""
    lg = Ledger()
    officer = Actor(OFFICER)
    lg.add("key_grant", grant_body(officer, "evaluator"), lg.board[:1], "2026-07-01")
    r = revoke(lg, officer, "2027-12-01T08:00:00Z")
    leaving = departure(lg, OFFICER, at="2027-12-01T09:00:00Z", date="2026-06-01")
    g = _cooling(lg, OFFICER, "2027-12-02T08:00:00Z", "lab:acme")
    assert seen(lg, "2028-01-01") == {
        W(
            "S19",
            (r, leaving),
            "the departure of Evaluation officer 7 is dated 2026-06-01, but the log shows "
            'them in post later: "Evaluation officer 7" held a staff key until its '
            f"revocation (entry {r}) on 2027-12-01; the cooling-off counts from then",
        ),
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 2027-12-01 (for acme); a key of "
            "acme for them 1 days later is inside the 365-day cooling-off period",
        ),
    }
    assert both(lg, "2028-01-01") == {
        ("S19", "warning", (r, leaving)),
        ("S19", "violation", (leaving, g)),
    }


def test_s19_a_departure_declared_while_a_staff_key_is_in_force() -> None:
    """In post when the departure is declared: the cooling-off counts from the
    declaration, the date is a warning, and a lab key later is also held beside the
    evaluator key."""
    lg = Ledger()
    k = _cooling(lg, OFFICER, "2026-07-01", "evaluator")
    leaving = departure(lg, OFFICER, at="2027-12-01", date="2027-06-01")
    g = _cooling(lg, OFFICER, "2028-11-01", "lab:acme")  # 2027-06-01 + 365 days before
    assert both(lg, "2029-01-01") == {
        ("S19", "warning", (leaving,)),
        ("S19", "violation", (leaving, g)),
        ("S19", "violation", (k, g)),
    }


@pytest.mark.parametrize(
    ("revoked", "warned"),
    [
        ("2027-10-02T23:59:59Z", False),  # 48 hours, less a second, after the date's start
        ("2027-10-03T00:00:00Z", False),  # exactly the tolerance
        ("2027-10-03T00:00:01Z", True),  # a second beyond it
    ],
)
def test_s19_the_departure_date_and_the_tolerance(revoked: str, warned: bool) -> None:
    """Dated 2027-10-01; a staff key revoked up to 48 hours after the start of that day
    is within the reporting tolerance. Either way the cooling-off counts from the
    revocation: a lab key 365 days after it, less a millisecond, is inside it; one at
    365 days is not."""
    lg = Ledger()
    officer = Actor(OFFICER)
    lg.add("key_grant", grant_body(officer, "evaluator"), lg.board[:1], "2026-07-01")
    r = revoke(lg, officer, revoked)
    leaving = departure(lg, OFFICER, at="2027-10-04", date="2027-10-01")
    end = dt.datetime.fromisoformat(revoked) + dt.timedelta(days=365)
    inside = (end - dt.timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
    g = _cooling(lg, OFFICER, inside.replace("+00:00", "Z"), "lab:acme")
    _cooling(lg, OFFICER, end.isoformat().replace("+00:00", "Z"), "lab:beta")
    expected = {("S19", "violation", (leaving, g))}
    if warned:
        expected.add(("S19", "warning", (r, leaving)))
    assert both(lg, "2028-12-01") == expected


@pytest.mark.parametrize(
    ("revoked", "now", "found"),
    [
        (None, "2028-01-01", True),
        ("2027-10-01T00:00:00Z", "2028-01-01", False),  # revoked as the departure starts
        ("2027-10-01T00:00:01Z", "2028-01-01", True),  # in force for a second of it
        ("2028-09-30T00:00:00Z", "2028-10-01", True),
        (None, "2027-09-30T23:59:59Z", False),  # the departure has not started yet
        (None, "2027-10-01T00:00:00Z", True),
    ],
)
def test_s19_a_lab_key_granted_before_the_departure_was_declared(
    revoked: str | None, now: str, found: bool
) -> None:
    """Granted before the declaration, in force at some instant of the cooling-off by
    now: (K, L); revoked before the departure, nothing."""
    lg = Ledger()
    officer = Actor(OFFICER)
    k = lg.add("key_grant", grant_body(officer, "lab:acme"), lg.board[:1], "2027-09-01")
    leaving = departure(lg, OFFICER)  # declared 2027-09-20, dated 2027-10-01
    if revoked is not None:
        revoke(lg, officer, revoked)
    if found:
        assert seen(lg, now) == {
            V(
                "S19",
                (k, leaving),
                "Evaluation officer 7 left the regulator on 2027-10-01 (for acme) holding a "
                f"key of acme (entry {k}), still in force on 2027-10-01, inside the 365-day "
                "cooling-off period",
            )
        }
    assert both(lg, now) == ({("S19", "violation", (k, leaving))} if found else set())


def test_s19_a_lab_key_granted_after_the_cooling_off_of_a_back_dated_departure() -> None:
    """Granted before the declaration but after the cooling-off it declares is over (no
    staff key): not held in it."""
    lg = Ledger()
    _cooling(lg, OFFICER, "2027-09-01", "lab:acme")
    departure(lg, OFFICER, at="2027-09-20", date="2026-06-01")
    assert both(lg, "2028-01-01") == set()


def test_a_key_id_is_granted_once() -> None:
    """A second grant of a key id fails its checks (L3) and gives the key nothing."""
    lg = Ledger()
    again = lg.add("key_grant", grant_body(lg.evaluator, "lab:acme"), lg.board[:1], "2026-07-01")
    assert both(lg, "2026-12-01") == {("L3", "violation", (again,))}


# -- S19: the person's keys, one by one ---------------------------------------------


def _staff_keys(lg: Ledger, *roles: str, at: str = "2026-07-01") -> list[Actor]:
    """One key of the officer for each of *roles*, granted at *at* in that order."""
    keys = [Actor(OFFICER) for _ in roles]
    for actor, role in zip(keys, roles, strict=True):
        lg.add("key_grant", grant_body(actor, role), lg.board[:1], at)
    return keys


def _in_post_until(r: int, on: str, date: str = "2026-06-01") -> str:
    return (
        f"the departure of Evaluation officer 7 is dated {date}, but the log shows them in "
        f'post later: "Evaluation officer 7" held a staff key until its revocation (entry '
        f"{r}) on {on}; the cooling-off counts from then"
    )


def test_s19_two_staff_keys_revoked_at_the_same_instant() -> None:
    """Both staff keys revoked at 08:00: the last revocation is the later entry, and it
    is the one the warning names."""
    lg = Ledger()
    first, second = _staff_keys(lg, "evaluator", "evaluator")
    revoke(lg, first, "2027-12-01T08:00:00Z")
    r = revoke(lg, second, "2027-12-01T08:00:00Z")
    leaving = departure(lg, OFFICER, at="2027-12-01T09:00:00Z", date="2026-06-01")
    assert seen(lg, "2028-01-01") == {W("S19", (r, leaving), _in_post_until(r, "2027-12-01"))}
    assert both(lg, "2028-01-01") == {("S19", "warning", (r, leaving))}


def test_s19_the_last_revocation_is_the_latest_in_time_when_the_log_goes_backwards() -> None:
    """The second revocation is logged before the first (L2): the person was in post
    until the later time, not until the later entry."""
    lg = Ledger()
    first, second = _staff_keys(lg, "evaluator", "regulator")
    r = revoke(lg, first, "2027-12-01")
    back = revoke(lg, second, "2027-11-01")
    leaving = departure(lg, OFFICER, at="2027-12-02", date="2026-06-01")
    assert seen(lg, "2028-01-01") == {
        V(
            "L2",
            (r, back),
            f"entry {back} was logged at 2027-11-01T00:00:00.000Z, before entry {r} (logged "
            "at 2027-12-01T00:00:00.000Z)",
        ),
        W("S19", (r, leaving), _in_post_until(r, "2027-12-01")),
    }
    assert both(lg, "2028-01-01") == {
        ("L2", "violation", (r, back)),
        ("S19", "warning", (r, leaving)),
    }


class EpochLedger(Ledger):
    """A Ledger whose charter and first grants are logged at 1970-01-01T00:00:00.000Z
    (logged_at 0), where a revocation's time is 0 too."""

    def add(
        self, entry_type: str, body: dict[str, Any], by: list[Actor], at: str = "1970-01-01"
    ) -> int:
        return super().add(entry_type, body, by, at)


def test_s19_a_staff_key_revoked_at_the_epoch() -> None:
    """Revoked at logged_at 0: the person was in post until 0, two days after the start
    of the date declared (exactly the tolerance, no warning), and the cooling-off counts
    from 0: a lab key 365 days later, less a millisecond, is inside it; one at 365 days
    is not."""
    lg = EpochLedger()
    (officer,) = _staff_keys(lg, "evaluator", at="1970-01-01")
    revoke(lg, officer, "1970-01-01")
    leaving = departure(lg, OFFICER, at="1970-01-02", date="1969-12-30")
    g = _cooling(lg, OFFICER, "1970-12-31T23:59:59.999Z", "lab:acme")
    _cooling(lg, OFFICER, "1971-01-01", "lab:beta")
    assert seen(lg, "1971-06-01") == {
        V(
            "S19",
            (leaving, g),
            "Evaluation officer 7 left the regulator on 1970-01-01 (for acme); a key of "
            "acme for them 364 days later is inside the 365-day cooling-off period",
        )
    }
    assert both(lg, "1971-06-01") == {("S19", "violation", (leaving, g))}


def test_s19_the_last_revocation_after_the_epoch_when_the_log_goes_backwards() -> None:
    """One staff key revoked a millisecond after the epoch, the other then at 0 (L2):
    the person was in post until the millisecond, which is past the tolerance."""
    lg = EpochLedger()
    first, second = _staff_keys(lg, "evaluator", "evaluator", at="1970-01-01")
    r = revoke(lg, second, "1970-01-01T00:00:00.001Z")
    back = revoke(lg, first, "1970-01-01")
    leaving = departure(lg, OFFICER, at="1970-01-02", date="1969-12-30")
    assert seen(lg, "1970-06-01") == {
        V(
            "L2",
            (r, back),
            f"entry {back} was logged at 1970-01-01T00:00:00.000Z, before entry {r} (logged "
            "at 1970-01-01T00:00:00.001Z)",
        ),
        W("S19", (r, leaving), _in_post_until(r, "1970-01-01", date="1969-12-30")),
    }
    assert both(lg, "1970-06-01") == {
        ("L2", "violation", (r, back)),
        ("S19", "warning", (r, leaving)),
    }


@pytest.mark.parametrize(
    ("revoked", "warned"),
    [("2027-10-04T00:00:00Z", False), ("2027-10-04T00:00:01Z", True)],
)
def test_s19_the_departure_date_and_an_amended_tolerance(revoked: str, warned: bool) -> None:
    """The reporting tolerance in force when the departure is declared is the amended
    72 hours: a revocation exactly 72 hours after the start of the date is within it."""
    lg = Ledger()
    amendment(lg, {"report_tolerance_hours": 72}, "2027-03-01", "2026-11-01")
    (officer,) = _staff_keys(lg, "evaluator", at="2026-11-02")
    r = revoke(lg, officer, revoked)
    leaving = departure(lg, OFFICER, at="2027-10-05", date="2027-10-01")
    expected = {("S19", "warning", (r, leaving))} if warned else set()
    assert both(lg, "2027-12-01") == expected


def test_s19_a_departure_declared_while_a_staff_key_is_in_force_says_so() -> None:
    lg = Ledger()
    _staff_keys(lg, "evaluator")
    leaving = departure(lg, OFFICER, at="2027-12-01", date="2027-06-01")
    assert seen(lg, "2028-01-01") == {
        W(
            "S19",
            (leaving,),
            "the departure of Evaluation officer 7 is dated 2027-06-01, but the log shows "
            'them in post later: "Evaluation officer 7" holds a staff key still in force '
            "when the departure is declared; the cooling-off counts from then",
        )
    }
    assert both(lg, "2028-01-01") == {("S19", "warning", (leaving,))}


def _beside(holder: str, theirs: str, k: int, mine: str) -> str:
    return (
        f'"{holder}" holds a key with {theirs} (granted at entry {k}, in force); a key with '
        f"{mine} for the same person would let them both act for a lab and oversee it"
    )


def test_s19_one_person_a_revoked_key_then_one_in_force() -> None:
    """Two evaluator keys, the first revoked: the second, still in force, is beside the
    lab key; revoking one key leaves the person's other keys in force."""
    lg = Ledger()
    first, _second = _staff_keys(lg, "evaluator", "evaluator")
    k = len(lg.leaves) - 1
    revoke(lg, first, "2026-08-01")
    g = _cooling(lg, OFFICER, "2026-09-01", "lab:acme")
    assert seen(lg, "2026-10-01") == {
        V("S19", (k, g), _beside(OFFICER, "evaluator", k, "lab:acme"))
    }
    assert both(lg, "2026-10-01") == {("S19", "violation", (k, g))}


def test_s19_one_person_two_overseeing_keys() -> None:
    """An evaluator key and then a regulator key, an observer's and a compute
    provider's for one person: none acts for a lab, so nothing."""
    lg = Ledger()
    _staff_keys(lg, "evaluator")
    _cooling(lg, OFFICER, "2026-08-01", "regulator")
    _cooling(lg, OFFICER, "2026-08-02", "observer:un")
    _cooling(lg, OFFICER, "2026-08-03", "compute:cloudco")
    assert both(lg, "2026-10-01") == set()


@pytest.mark.parametrize(
    ("held", "lab", "oversight", "mine"),
    [
        ("lab:acme", "lab:beta", "evaluator", "evaluator"),
        ("evaluator", "lab:acme", "observer:un", "lab:acme"),
    ],
)
def test_s19_one_person_a_key_both_acting_and_overseeing_beside_another(
    held: str, lab: str, oversight: str, mine: str
) -> None:
    """A grant with a lab's role and an overseeing one (refused for itself) beside a key
    of the person's with only one of them: the second refusal names only the granted
    role that clashes with the held key's."""
    lg = Ledger()
    k = _cooling(lg, OFFICER, "2026-07-01", held)
    g = _cooling(lg, OFFICER, "2026-08-01", lab, oversight)
    assert seen(lg, "2026-10-01") == {
        V(
            "S19",
            (g,),
            f"the key of {OFFICER} would hold {oversight} and the role of {lab[4:]}: one key "
            "cannot both act for a lab and oversee it",
        ),
        V("S19", (k, g), _beside(OFFICER, held, k, mine)),
    }
    assert both(lg, "2026-10-01") == {("S19", "violation", (g,)), ("S19", "violation", (k, g))}


def test_s19_one_person_roles_listed_in_full() -> None:
    """A key with the regulator's and an evaluator's roles, then one of two labs."""
    lg = Ledger()
    k = _cooling(lg, OFFICER, "2026-07-01", "regulator", "evaluator")
    g = _cooling(lg, OFFICER, "2026-08-01", "lab:beta", "lab:acme")
    assert seen(lg, "2026-10-01") == {
        V("S19", (k, g), _beside(OFFICER, "evaluator, regulator", k, "lab:acme, lab:beta"))
    }
    assert both(lg, "2026-10-01") == {("S19", "violation", (k, g))}


def test_s19_a_lab_key_after_an_earlier_staff_key_of_the_person() -> None:
    """The officer's evaluator key, revoked, then a lab key granted before the departure
    is declared: the lab key is held into the cooling-off (the evaluator key is no
    lab's and is passed over)."""
    lg = Ledger()
    (officer,) = _staff_keys(lg, "evaluator")
    revoke(lg, officer, "2027-09-10")
    k = _cooling(lg, OFFICER, "2027-09-15", "lab:acme")
    leaving = departure(lg, OFFICER)  # declared 2027-09-20, dated 2027-10-01
    assert seen(lg, "2028-01-01") == {
        V(
            "S19",
            (k, leaving),
            "Evaluation officer 7 left the regulator on 2027-10-01 (for acme) holding a "
            f"key of acme (entry {k}), still in force on 2027-10-01, inside the 365-day "
            "cooling-off period",
        )
    }
    assert both(lg, "2028-01-01") == {("S19", "violation", (k, leaving))}


# == S12: charter amendments ======================================================


def test_s12_amendment_exactly_the_notice_period_before_it_takes_effect() -> None:
    lg = Ledger()
    amendment(lg, {"cooling_off_days": 400}, "2027-12-30", "2027-10-01")  # 90 days
    x = amendment(lg, {"cooling_off_days": 400}, "2027-12-30", "2027-10-01T00:00:00.001Z")
    assert seen(lg, "2028-01-01") == {
        V(
            "S12",
            (x,),
            "the charter amendment takes effect on 2027-12-30, less than the 90-day notice "
            "period after it was logged (2027-10-01)",
        )
    }


def test_s12_calendar_and_amendment_both_short_of_notice() -> None:
    lg = Ledger()
    x = amendment(
        lg, {"calendar": CALENDAR_2, "calendar_from_cycle": 2028}, "2027-12-01", "2027-11-01"
    )
    assert seen(lg, "2027-12-15") == {
        V(
            "S12",
            (x,),
            "the charter amendment takes effect on 2027-12-01, less than the 90-day notice "
            "period after it was logged (2027-11-01)",
        ),
        V(
            "S12",
            (x,),
            "the calendar of cycle 2028 takes effect on 2028-01-01, less than the 90-day "
            "notice period after it was logged (2027-11-01)",
        ),
    }


LATE_2027 = {
    "lift": "09-10",
    "submission_deadline": "09-12",
    "decision": "09-15",
    "time_zone": "UTC",
}


@pytest.mark.parametrize(
    ("at", "under_way"),
    [("2026-12-31T23:59:59.999Z", False), ("2027-01-01T00:00:00Z", True)],
    ids=["a millisecond before the lift", "at the lift"],
)
def test_s12_a_calendar_cannot_start_with_a_cycle_under_way(at: str, under_way: bool) -> None:
    """Cycle 2027 is under way from its lift (2027-01-01T00:00:00Z, by the charter)."""
    lg = Ledger()
    x = amendment(lg, {"calendar": LATE_2027, "calendar_from_cycle": 2027}, "2027-09-10", at)
    expected = {
        V(
            "S12",
            (x,),
            "the new calendar starts with cycle 2027, under way since its lift on 2027-01-01: "
            "a cycle under way keeps its dates",
        )
    }
    if not under_way:
        expected = set()
    assert seen(lg, "2027-06-01") == expected
    assert lg.audit("2027-06-01") == {f[:3] for f in expected}  # the reference


def test_s12_a_calendar_out_of_order_is_refused_and_takes_no_effect() -> None:
    lg = Ledger()
    spring = {**CALENDAR_2, "decision": "03-31"}
    x = amendment(lg, {"calendar": spring, "calendar_from_cycle": 2028}, "2027-09-01", "2027-06-01")
    assert seen(lg, "2027-12-15") == {
        V(
            "S12",
            (x,),
            "the new calendar is refused: the calendar's days are not in order within a year "
            "(lift 01-01, submission deadline 05-31, decision 03-31): a cycle is lifted, then "
            "closes its window, then is decided, in the year that names it",
        )
    }
    assert lg.audit("2027-12-15") == {("S12", "violation", (x,))}  # the reference
    # Forced in, it takes no effect: cycle 2028 keeps the charter's decision date.
    auditor = Auditor(ORIGIN, {})
    for leaf in lg.leaves:
        auditor.feed(leaf)
    assert auditor.engine.state.cal.decision_day(2028)[0] == ms("2028-12-31")


def test_s12_calendar_with_notice_is_fine() -> None:
    lg = Ledger()
    amendment(lg, {"calendar": CALENDAR_2, "calendar_from_cycle": 2028}, "2027-09-01", "2027-06-01")
    assert seen(lg, "2027-12-15") == set()


ONE_DAY_LATER = {
    "lift": "01-02",
    "submission_deadline": "06-30",
    "decision": "12-31",
    "time_zone": "UTC",
}


def _s11(lg: Ledger, now: str) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    return (
        {f for f in seen(lg, now) if f[0] == "S11"},
        {f for f in lg.audit(now) if f[0] == "S11"},
    )


def test_s11_a_calendar_that_moves_a_lift_leaves_the_schedule_on_the_old_date_lapsed() -> None:
    """The review's attack: a lift to level 2 on 2028-01-01 with no level-1 approval in
    2027, then a properly noticed amendment moving cycle 2028's lift to 01-02. The
    schedule lapses: level 2 is not lifted on 1 January (nor its cap set), and the
    amendment gets an S11 notice naming it; no lift is scheduled for the new date, so
    the decision date has nothing to judge. Moving the lift back revives the schedule,
    and S11 judges it: no approval in 2027, no postponement."""
    lg = Ledger()
    t = lg.schedule(2, "2e26", "2028-01-01", "2027-06-01")  # the charter's table: 3e26
    x = amendment(
        lg, {"calendar": ONE_DAY_LATER, "calendar_from_cycle": 2028}, "2027-10-01", "2027-07-01"
    )
    engine, reference = _s11(lg, "2028-03-01")
    assert engine == {
        N(
            "S11",
            (t, x),
            "the new calendar moves cycle 2028's lift from 2028-01-01 to 2028-01-02: the "
            f"threshold schedule of level 2 on 2028-01-01 (entry {t}) lapses, so level 2 is "
            "neither lifted nor capped by it unless a schedule for the new date is logged",
        )
    }
    assert reference == {("S11", "notice", (t, x))}
    st = replayed(lg)
    assert st.lapsed == {t: x}
    assert st.frontier_at(ms("2028-01-05")) == 1
    assert st.cap_at(2, ms("2028-01-05")) == 3 * 10**26  # the table's, not the schedule's

    back = amendment(
        lg,
        {"calendar": {**ONE_DAY_LATER, "lift": "01-01"}, "calendar_from_cycle": 2028},
        "2027-11-01",
        "2027-08-01",
    )
    engine, reference = _s11(lg, "2028-03-01")
    assert (
        {f[:3] for f in engine}
        == reference
        == {
            ("S11", "notice", (t, x)),
            ("S11", "violation", (t,)),  # the lift judged on its date again: no approval
        }
    )
    st = replayed(lg)
    assert st.lapsed == {}
    assert st.frontier_at(ms("2028-01-05")) == 2
    assert st.cap_at(2, ms("2028-01-05")) == 2 * 10**26
    assert back > x


def _run_of_2029_s2(
    lg: Ledger, *, level: int, planned_flop: str
) -> tuple[int, set[tuple[Any, ...]]]:
    """acme's run of cycle 2029 at *level*, pre-registered in 2028 and started on 1
    February 2029: its pre-registration's index and the engine's S2 findings, which
    the reference auditor's must equal."""
    p = lg.prereg(
        at="2028-09-01",
        cycle=2029,
        level=level,
        run_id="acme-2029-a",
        planned_flop=planned_flop,
        planned_start="2029-02-01T00:00:00Z",
        planned_end="2029-05-31T00:00:00Z",
    )
    lg.started(p, at="2029-02-01", time="2029-02-01T00:00:00Z")
    s2 = {f for f in seen(lg, "2029-03-01") if f[0] == "S2"}
    assert {f[:3] for f in s2} == {f for f in lg.audit("2029-03-01") if f[0] == "S2"}
    return p, s2


def test_s11_a_lift_stranded_above_a_lapsed_one_needs_the_approval_below_it() -> None:
    """T1 lifts to level 2 on 2028-01-01 and T2 to level 3 on 2029-01-01; amendments
    move cycle 2028's lift to 01-02 (T1 lapses) and leave 2029's on 01-01. T2 was a lift
    when logged; now it stands above a frontier that stayed at 1. When the 2028
    decision date passes, S11 asks for a level-2 approval for it (there is none: level
    2 was never lifted), as it would of any lift above the frontier. Stranded, it
    takes no effect: the frontier does not jump two levels."""
    lg = Ledger()
    calendar = {**ONE_DAY_LATER, "lift": "01-01"}
    t1 = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    t2 = lg.schedule(3, "1e27", "2029-01-01", "2027-06-02")
    approved_run(lg)  # a level-1 approval on 2027-12-31
    x1 = amendment(
        lg, {"calendar": ONE_DAY_LATER, "calendar_from_cycle": 2028}, "2027-10-01", "2027-07-01"
    )
    amendment(lg, {"calendar": calendar, "calendar_from_cycle": 2029}, "2027-10-01", "2027-07-01")
    engine, reference = _s11(lg, "2029-03-01")
    assert (
        {f[:3] for f in engine}
        == reference
        == {
            ("S11", "notice", (t1, x1)),
            ("S11", "notice", (t2, x1)),
            ("S11", "violation", (t2,)),
        }
    )
    assert (
        "S11",
        "violation",
        (t2,),
        "no level-2 model was approved by 2028-12-31, yet the lift to level 3 on "
        "2029-01-01 was not postponed",
    ) in engine
    # Stranded, T2 takes no effect: the frontier rises one level at a time, so it
    # stays at 1, level 3 is not lifted, and T2's cap is not in force.
    st = replayed(lg)
    assert st.stranded_lifts() == {t2}
    assert st.frontier_at(ms("2029-01-05")) == 1
    assert st.level_effective_ms(3) is None
    assert st.cap_at(3, ms("2029-01-05")) is None  # T2's 1e27 is not; the table has none
    # A level-3 run planned and started in 2029: no cap in force for its level, and
    # started before its level was lifted (S2, both).
    p, s2 = _run_of_2029_s2(lg, level=3, planned_flop="5e26")
    assert s2 == {
        V(
            "S2",
            (p,),
            "run acme-2029-a is planned at level 3, which has no cap in force at its planned "
            "start (2029-02-01T00:00:00Z) in the charter or a threshold schedule",
        ),
        V(
            "S2",
            (p, p + 1),
            "run acme-2029-a started 2029-02-01T00:00:00Z, before level 3 was lifted (it has "
            "not been)",
        ),
    }, s2


def test_s11_a_lift_stranded_above_a_postponed_one_raises_nothing_until_the_one_below() -> None:
    """T1 lifts to level 2 on 2028-01-01 and T2 to level 3 on 2029-01-01; 2028's lift
    is postponed to 2029 before it takes effect, so T2 is stranded (the frontier stays
    at 1 through 2029). T3, logged later, lifts level 2 on 2030-01-01: the frontier
    rises to 2 then, and T2, dated before it, stays stranded."""
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    t2 = lg.schedule(3, "1e27", "2029-01-01", "2027-06-02")
    lg.postponement(2028, 2029, "2027-12-20")
    st = replayed(lg)
    assert st.stranded_lifts() == {t2}
    assert [st.frontier_at(ms(f"{y}-01-05")) for y in (2028, 2029)] == [1, 1]
    t3 = lg.schedule(2, "3e26", "2030-01-01", "2029-06-01")
    st = replayed(lg)
    assert st.stranded_lifts() == {t2}
    assert [lift[2] for lift in st.raising_lifts()] == [t3]
    assert [st.frontier_at(ms(f"{y}-01-05")) for y in (2029, 2030)] == [1, 2]
    assert st.level_effective_ms(2) == ms("2030-01-01")
    # Both auditors: a level-2 run started in 2029 started before its level was lifted.
    p, s2 = _run_of_2029_s2(lg, level=2, planned_flop="2e26")
    assert {f[:3] for f in s2} == {("S2", "violation", (p, p + 1))}, s2


def test_s11_two_lifts_on_one_date_raise_the_frontier_one_level() -> None:
    """T2 lifts level 3 on 2029-01-01, stranded when 2028's lift of level 2 (T1) is
    postponed; T3, logged after T2, lifts level 2 on the same date. Judged in log order
    on that date, T2 is still stranded and T3 raises the frontier to 2, not 3."""
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    t2 = lg.schedule(3, "1e27", "2029-01-01", "2027-06-02")
    lg.postponement(2028, 2029, "2027-12-20")
    t3 = lg.schedule(2, "3e26", "2029-01-01", "2028-06-01")
    st = replayed(lg)
    assert [lift[2] for lift in st.raising_lifts()] == [t3]
    assert st.stranded_lifts() == {t2}
    assert st.frontier_at(ms("2029-01-05")) == 2
    p, s2 = _run_of_2029_s2(lg, level=3, planned_flop="5e26")
    assert {f[:3] for f in s2} == {("S2", "violation", (p,)), ("S2", "violation", (p, p + 1))}


def test_s11_a_lift_to_a_level_already_lifted_is_a_change_of_its_cap() -> None:
    """T1 lifts level 2 on 2029-01-01; T2, logged after it, lifts level 2 a cycle
    earlier, on 2028-01-01. T2 raises the frontier; T1, to the level T2 reached, is
    neither a raising lift nor stranded: its cap takes over in 2029."""
    lg = Ledger()
    t1 = lg.schedule(2, "2e26", "2029-01-01", "2027-06-01")
    t2 = lg.schedule(2, "3e26", "2028-01-01", "2027-06-02")
    st = replayed(lg)
    assert [lift[2] for lift in st.raising_lifts()] == [t2]
    assert st.stranded_lifts() == set()
    assert st.cap_at(2, ms("2028-06-01")) == 3 * 10**26
    assert st.cap_at(2, ms("2029-01-05")) == 2 * 10**26, t1


def test_s11_a_calendar_that_leaves_the_lift_date_alone_lapses_nothing() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    calendar = {**ONE_DAY_LATER, "lift": "01-01", "decision": "12-15"}
    amendment(lg, {"calendar": calendar, "calendar_from_cycle": 2028}, "2027-10-01", "2027-07-01")
    engine, reference = _s11(lg, "2027-12-20")
    assert engine == set()
    assert reference == set()
    assert replayed(lg).lapsed == {}


LATE_LIFT = {
    "lift": "07-01",
    "submission_deadline": "09-30",
    "decision": "12-15",
    "time_zone": "UTC",
}


def test_s12_a_new_calendar_is_noticed_before_its_own_lift_not_the_old_one() -> None:
    """Logged on 1 March, when the charter's lift of 1 July is 122 days away, a calendar
    that moves cycle 2028's lift to 1 January moves it into the past: S12 by the new
    calendar's lift (measured by the old one it passed)."""
    lg = Ledger(calendar=LATE_LIFT)
    x = amendment(
        lg, {"calendar": CALENDAR_2, "calendar_from_cycle": 2028}, "2028-06-01", "2028-03-01"
    )
    assert seen(lg, "2028-03-02") == {
        V(
            "S12",
            (x,),
            "the calendar of cycle 2028 takes effect on 2028-01-01, less than the 90-day "
            "notice period after it was logged (2028-03-01)",
        )
    }
    assert lg.audit("2028-03-02") == {("S12", "violation", (x,))}  # the reference agrees


def test_s12_a_calendar_lifting_on_29_february_lifts_on_the_28th_in_common_years() -> None:
    """Cycle 2029 has no 29 February: its lift is the 28th (reading C1), no error."""
    lg = Ledger()
    leap = {
        "lift": "02-29",
        "submission_deadline": "06-30",
        "decision": "12-31",
        "time_zone": "UTC",
    }
    amendment(lg, {"calendar": leap, "calendar_from_cycle": 2029}, "2028-06-01", "2028-03-01")
    assert seen(lg, "2029-06-01") == set()
    assert lg.audit("2029-06-01") == set()  # the reference agrees
    state = replayed(lg)
    assert state.cal.lift_ms(2029) == ms("2029-02-28") and state.cal.lift_ms(2028) == ms(
        "2028-01-01"
    )
    assert state.cal.of(2032).lift_ms(2032) == ms("2032-02-29")


def test_s12_a_lift_moved_later_needs_notice_of_the_new_date_only() -> None:
    """The reverse: 1 January is 61 days away, the new lift of 1 July 243 days."""
    lg = Ledger()
    amendment(lg, {"calendar": LATE_LIFT, "calendar_from_cycle": 2028}, "2028-02-01", "2027-11-01")
    assert seen(lg, "2027-12-15") == set()
    assert lg.audit("2027-12-15") == set()  # the reference agrees


def test_s12_calendar_without_its_cycle_or_cycle_without_calendar() -> None:
    lg = Ledger()
    x = amendment(lg, {"calendar": CALENDAR_2}, "2028-03-01", "2027-06-01")
    y = amendment(lg, {"calendar_from_cycle": 2029}, "2028-03-01", "2027-06-01")
    message = "a calendar change names both the new calendar and the first cycle it applies to"
    assert seen(lg, "2027-12-15") == {V("S12", (x,), message), V("S12", (y,), message)}


def _result(lg: Ledger, s: int, suite: int) -> int:
    """A result logged 2027-12-15, then the decision on the decision day."""
    r = lg.result(s, suite, at="2027-12-15")
    lg.decision(s, outcome="rejected")
    return r


def test_amendments_apply_in_the_order_they_take_effect() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    amendment(lg, {"evaluation_scope": ["cyber"]}, "2027-12-01", "2027-06-02")
    amendment(lg, {"evaluation_scope": ["bio-uplift"]}, "2027-11-01", "2027-06-03")
    ok = lg.result(s, suite, at="2027-11-15")  # only the second is in force
    r = _result(lg, s, suite)  # both are: the one taking effect later wins
    assert ok
    assert seen(lg, "2028-03-01") == {
        V("S18", (r,), "the evaluation assesses bio-uplift, outside the regulator's scope (cyber)")
    }


def test_amendments_taking_effect_the_same_day_apply_in_log_order() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    amendment(lg, {"evaluation_scope": ["bio-uplift"]}, "2027-12-01", "2027-06-02")
    amendment(lg, {"evaluation_scope": ["cyber"]}, "2027-12-01", "2027-06-03")
    r = _result(lg, s, suite)
    assert seen(lg, "2028-03-01") == {
        V("S18", (r,), "the evaluation assesses bio-uplift, outside the regulator's scope (cyber)")
    }
