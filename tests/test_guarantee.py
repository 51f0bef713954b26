"""The guarantee under attack: what a cheating lab, regulator or operator can log.

Each attack goes through the ledger's real write path (tests/writepath.py): an
entry that asks for something the rules forbid is refused at admission with the
rule named, and the same entry forced in with the operator's key is flagged by
the audit with that rule — admission and audit are one judgement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.demo.scenario import load
from tests.writepath import WritePath, append_scenario
from verifier.entries.fields import parse_time
from verifier.policy.audit import Auditor
from verifier.policy.findings import VIOLATION, WARNING, Finding

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.toml"))


def attack(tmp_path: Path, name: str, *, force: bool = True) -> WritePath:
    return append_scenario(tmp_path / "data", load(SCENARIOS / f"{name}.toml"), force=force)


def findings(wp: WritePath, rule: str, severity: str = VIOLATION) -> list[Finding]:
    return [f for f in wp.report.findings if f.rule == rule and f.severity == severity]


def test_a_laundered_secret_run_is_refused_approval_and_flagged_when_forced(tmp_path: Path) -> None:
    """Trained before any pre-registration; plan, start and submission logged after the fact."""
    wp = attack(tmp_path, "s6_approval_of_a_laundered_run")
    # The lab's entries are facts and are logged; only the approval is refused.
    assert {k: v.rule for k, v in wp.refused().items()} == {"decision-acme": "S6"}
    decision = wp.index_of("decision-acme")
    (s6,) = findings(wp, "S6")
    assert s6.indices[-1] == decision and "broke S1" in s6.message
    start = wp.index_of("start-acme")
    assert any(start in f.indices for f in findings(wp, "S1"))


def test_an_upheld_contest_blocks_approving_the_original_model(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s7_upheld_contest_original_approved")
    assert {k: v.rule for k, v in wp.refused().items()} == {"decision-acme": "S7"}
    (s7,) = findings(wp, "S7")
    assert s7.indices == (
        wp.index_of("contest-acme"),
        wp.index_of("resolution-acme"),
        wp.index_of("decision-acme"),
    )


def test_the_remedy_is_a_new_submission_decided_itself(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s7_remedied_model_approved_clean", force=False)
    assert wp.refused() == {}
    assert [f for f in wp.report.findings if f.severity in (VIOLATION, WARNING)] == []


def test_weights_that_failed_are_refused_approval_when_submitted_again(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s7_same_weights_failed_before")
    assert {k: v.rule for k, v in wp.refused().items()} == {"decision-again": "S7"}
    (s7,) = findings(wp, "S7")
    assert s7.indices == (wp.index_of("result-acme"), wp.index_of("decision-again"))
    assert f"failed evaluation as submission {wp.index_of('submission-acme')}" in s7.message


def test_a_pass_whose_category_failed_approves_nothing(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s7_pass_with_failing_category")
    assert {k: v.rule for k, v in wp.refused().items()} == {"decision-acme": "S7"}
    result, decision = wp.index_of("result-acme"), wp.index_of("decision-acme")
    assert {f.indices for f in findings(wp, "S7")} == {
        (wp.index_of("submission-acme"), decision),
        (result, decision),
    }
    (warning,) = findings(wp, "S7", WARNING)
    assert warning.indices == (result,) and "bio-uplift category failed" in warning.message


def test_a_model_offered_before_its_rejection_is_named_by_the_rejection(tmp_path: Path) -> None:
    """The regulator's rejection is admitted (refusing it would hide the verdict); the
    audit names the update that had already offered the rejected model."""
    wp = attack(tmp_path, "s15_update_offered_then_rejected", force=False)
    assert wp.refused() == {}
    (s15,) = findings(wp, "S15")
    update, rejection = wp.index_of("update-acme"), wp.index_of("rejection-second")
    assert s15.indices == (wp.index_of("decision-acme"), update, rejection)
    assert f"update {update} offered these weights" in s15.message
    assert f"decision {rejection} rejects them" in s15.message


def test_a_cycle_under_way_keeps_its_dates(tmp_path: Path) -> None:
    """The board cannot re-date a cycle mid-way to make an early approval on time: the
    calendar is refused (S12); forced in, it is named by the audit."""
    wp = attack(tmp_path, "s12_calendar_for_a_cycle_under_way")
    refused = {k: v.rule for k, v in wp.refused().items()}
    assert refused == {"amendment-calendar": "S12"}
    assert "cycle 2027, under way since its lift on 2027-01-01" in (
        wp.refused()["amendment-calendar"].message
    )
    # Forced in, the calendar re-dates the cycle (so the approval is on its new date),
    # and the audit names the amendment.
    (s12,) = findings(wp, "S12")
    assert s12.indices == (wp.index_of("amendment-calendar"),)


def test_a_calendar_out_of_order_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s12_calendar_out_of_order")
    refusal = wp.refused()["amendment-calendar"]
    assert refusal.rule == "S12" and "decision 03-31" in refusal.message
    (s12,) = findings(wp, "S12")
    assert s12.indices == (wp.index_of("amendment-calendar"),)
    assert list(wp.report.findings) == [s12]
    # Forced in, cycle 2028 keeps the charter's calendar (decided on 31 December).
    scenario = load(SCENARIOS / "s12_calendar_out_of_order.toml")
    auditor = Auditor(scenario.origin, scenario.blobs())
    for leaf in wp.leaves:
        auditor.feed(leaf)
    assert auditor.engine.state.cal.decision_day(2028)[0] == parse_time(
        "2028-12-31T00:00:00Z", "decision day"
    )


def test_one_reveal_does_not_clear_a_second_sealed_document(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s14_one_of_two_sealed_documents_revealed", force=False)
    assert wp.refused() == {}
    (s14,) = findings(wp, "S14", WARNING)
    suite = wp.index_of("suite")
    assert s14.indices == (suite,)
    assert s14.message == (
        f"1 of the 2 sealed documents of entry {suite} was not revealed within 365 days"
    )


def test_a_postponement_freezes_a_deregulation_logged_before_it(tmp_path: Path) -> None:
    """The run's start is a fact (logged); the audit names the lead time it broke."""
    wp = attack(tmp_path, "s13_postponement_freezes_deregulation", force=False)
    assert wp.refused() == {}
    (s1,) = findings(wp, "S1")
    assert s1.indices == (wp.index_of("prereg-small"), wp.index_of("start-small"))
    notices = [f for f in wp.report.findings if f.rule == "S13"]
    assert [f.indices for f in notices] == [(wp.index_of("dereg-0"), wp.index_of("postpone-2"))]


def test_a_decision_naming_a_non_submission_says_which_link_is_broken(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s6_decision_names_a_non_submission")
    refusal = wp.refused()["decision-bogus"]
    assert refusal.code == "bad-reference" and refusal.status == 422
    decision, result = wp.index_of("decision-bogus"), wp.index_of("result-acme")
    (l4,) = findings(wp, "L4")
    assert l4.indices == (decision,) and "is an eval_result, not a submission" in l4.message
    (s6,) = findings(wp, "S6")
    assert s6.indices == (result, decision)
    assert f"names entry {result} as its submission, but entry {result} is an eval result" in (
        s6.message
    )


def test_a_back_dated_submission_is_late_by_the_logs_time(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s8_backdated_submission", force=False)
    assert wp.refused() == {}
    (warning,) = findings(wp, "S8", WARNING)
    assert warning.indices == (wp.index_of("submission-acme"),)
    assert "late by when it was logged" in warning.message or "on time or late" in warning.message


def test_a_submission_without_a_reported_start_is_refused(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s1_submission_without_start")
    refused = wp.refused()
    assert refused["submission-acme"].rule == "S1"
    (s1,) = findings(wp, "S1")
    assert s1.indices == (wp.index_of("prereg-acme"), wp.index_of("submission-acme"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_admission_and_audit_are_one_judgement(tmp_path: Path, path: Path) -> None:
    """Refused at admission ⇔ flagged by the audit when forced in, for every scenario."""
    wp = append_scenario(tmp_path / "data", load(path), force=True)
    judged: dict[int, list[Finding]] = {}
    for f in wp.report.findings:
        if f.severity == VIOLATION and f.indices:
            judged.setdefault(max(f.indices), []).append(f)
    for o in wp.outcomes:
        assert o.index is not None
        own = judged.get(o.index, [])
        if o.refusal is None:
            # Admitted: the audit may report a fact or lateness, never a refusable breach.
            assert not [f for f in own if f.refusable], (o.label, own)
        elif o.refusal.rule is not None:
            assert o.refusal.rule in {f.rule for f in own}, (o.label, o.refusal, own)
        else:
            assert {f.rule for f in own} & {"L3", "L4"}, (o.label, o.refusal, own)


def test_one_person_cannot_hold_a_lab_key_beside_the_evaluator_key(tmp_path: Path) -> None:
    """The evaluation officer's second key, of Acme, is refused (S19): forced in, the
    audit names both grants."""
    wp = attack(tmp_path, "s19_one_person_lab_and_evaluator")
    assert {k: v.rule for k, v in wp.refused().items()} == {"grant-lab-same-person": "S19"}
    (s19,) = findings(wp, "S19")
    assert s19.indices == (wp.index_of("grant-evaluator"), wp.index_of("grant-lab-same-person"))


def test_a_back_dated_departure_does_not_clear_the_cooling_off(tmp_path: Path) -> None:
    wp = attack(tmp_path, "s19_backdated_departure")
    assert {k: v.rule for k, v in wp.refused().items()} == {"grant-former-staff": "S19"}
    departure = wp.index_of("departure")
    (s19,) = findings(wp, "S19")
    assert s19.indices == (departure, wp.index_of("grant-former-staff"))
    (warned,) = findings(wp, "S19", WARNING)
    assert warned.indices == (wp.index_of("revoke-evaluator"), departure)


def test_a_lab_key_granted_before_the_departure_is_declared(tmp_path: Path) -> None:
    """Both entries are admitted (neither asks for anything the rule forbids when it is
    logged); the audit reports the key held into the cooling-off."""
    wp = attack(tmp_path, "s19_lab_key_held_into_cooling_off", force=False)
    assert wp.refused() == {}
    (s19,) = findings(wp, "S19")
    assert s19.indices == (wp.index_of("grant-officer"), wp.index_of("departure"))


def test_a_key_id_is_granted_once(tmp_path: Path) -> None:
    wp = attack(tmp_path, "l3_key_granted_twice")
    (refusal,) = wp.refused().values()
    assert refusal.code == "schema" and "was granted before" in refusal.message
    (l3,) = findings(wp, "L3")
    assert l3.indices == (wp.index_of("grant-lab-same-key"),)
