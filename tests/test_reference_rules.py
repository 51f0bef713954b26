"""Unit tests of the reference auditor (tests/reference_rules.py) on small signed logs.

One test per finding kind of the table "Evidence: which entries a finding names"
(docs/policy-notes.md): each builds the smallest log that triggers the finding and
asserts the exact set of findings, so that nothing else fires by accident.

The default charter (tests/payload_examples.py): calendar 01-01 / 06-30 / 12-31,
first cycle 2027, levels 0: 1e25, 1: 1e26, 2: 3e26, initial frontier level 1,
deregulation lag 2, notice 90 days, lead time 30 days, late-decision limit 60 days,
contest reply limit 30 days, reveal deadline 365 days, tolerance 5%, reporting
tolerance 48 hours.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tests.governed import Actor, charter_body, envelope, grant_body
from tests.payload_examples import EXAMPLES, ORIGIN
from tests.reference_rules import reference_audit
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.entries.fields import parse_time

DIGEST = "ab" * 32
OTHER_DIGEST = "cd" * 32
PUBLIC = {"sealed": False, "sha256": DIGEST}
DECISION_TIME = "2027-12-31T12:00:00Z"
BEFORE_DECISION_DAY_ENDS = "2027-12-31T23:00:00Z"
SALT = bytes(range(100, 132))
PLAN = b"the plan of run acme-2027-a"


def iso(when: str) -> str:
    """'2027-01-04' -> '2027-01-04T00:00:00Z'; full times unchanged."""
    return when + "T00:00:00Z" if len(when) == 10 else when


def ms(when: str) -> int:
    return parse_time(iso(when), "test time")


def commitment(salt: bytes, content: bytes) -> str:
    return hashlib.sha256(b"frontier-ledger/commitment/v1\n" + salt + content).hexdigest()


def V(rule: str, *indices: int) -> tuple[str, str, tuple[int, ...]]:
    return (rule, "violation", indices)


def W(rule: str, *indices: int) -> tuple[str, str, tuple[int, ...]]:
    return (rule, "warning", indices)


def N(rule: str, *indices: int) -> tuple[str, str, tuple[int, ...]]:
    return (rule, "notice", indices)


class Ledger:
    """A governed log being built: a charter (2026-06-01), grants for a regulator, an
    evaluator, the lab ``acme``, a contester and the sequencer, then test entries."""

    def __init__(self, board_quorum: int = 1, **charter_overrides: Any) -> None:
        self.board = [Actor("Governor A"), Actor("Governor B")]
        self.regulator = Actor("Regulator")
        self.evaluator = Actor("Evaluation unit")
        self.lab = Actor("Acme")
        self.contester = Actor("Watchdog")
        self.sequencer = Actor("Sequencer")
        self.leaves: list[bytes] = []
        quorum = self.board[:board_quorum]
        self.add("charter", charter_body(self.board, board_quorum, **charter_overrides), quorum)
        for actor, role in [
            (self.regulator, "regulator"),
            (self.evaluator, "evaluator"),
            (self.lab, "lab:acme"),
            (self.contester, "contester:watchdog"),
            (self.sequencer, "log"),
        ]:
            self.add("key_grant", grant_body(actor, role), quorum)

    def add(
        self, entry_type: str, body: dict[str, Any], by: list[Actor], at: str = "2026-06-01"
    ) -> int:
        return self.add_envelope(envelope(ORIGIN, entry_type, body, *by), at)

    def add_envelope(self, env: dict[str, Any], at: str) -> int:
        self.leaves.append(encode_leaf(canonical_json(env), ms(at)))
        return len(self.leaves) - 1

    def audit(self, now: str, blobs: dict[str, bytes] | None = None) -> set[Any]:
        return reference_audit(ORIGIN, self.leaves, ms(now), blobs or {})

    # -- entries, with the defaults of one on-time run of cycle 2027 -----------------

    def prereg(self, at: str = "2026-11-01", **fields: Any) -> int:
        body = {**EXAMPLES["preregistration"], "plan": PUBLIC, **fields}
        return self.add("preregistration", body, [self.lab], at)

    def event(
        self, kind: str, p: int, at: str, flop: str, time: str | None = None, **extra: Any
    ) -> int:
        body = {"preregistration": p, "time": iso(time or at), "cumulative_flop": flop, **extra}
        return self.add(kind, body, [self.lab], at)

    def started(self, p: int, at: str = "2027-01-04", time: str | None = None) -> int:
        return self.event("training_started", p, at, "0", time)

    def halted(self, p: int, at: str = "2027-02-01", flop: str = "2e25") -> int:
        return self.event("training_halted", p, at, flop, halt_criterion="loss spike")

    def completed(
        self, p: int, at: str = "2027-05-30", flop: str = "7.9e25", time: str | None = None
    ) -> int:
        return self.event("training_completed", p, at, flop, time)

    def submission(
        self, p: int, at: str = "2027-06-01", submitted_at: str | None = None, **fields: Any
    ) -> int:
        body = {
            "preregistration": p,
            "model_digest": DIGEST,
            "final_flop": "7.9e25",
            "submitted_at": iso(submitted_at or at),
            **fields,
        }
        return self.add("submission", body, [self.lab], at)

    def suite(self, at: str = "2026-12-01") -> int:
        body = {"suite_id": "core", "version": "2027.1", "levels": [1], "public": PUBLIC}
        return self.add("eval_suite", body, [self.evaluator], at)

    def result(self, s: int, suite: int, at: str = "2027-07-01", outcome: str = "pass") -> int:
        body = {
            "submission": s,
            "suite": suite,
            "outcome": outcome,
            "results": [{"category": "bio-uplift", "outcome": outcome}],
            "report": PUBLIC,
        }
        return self.add("eval_result", body, [self.evaluator], at)

    def contest(self, s: int, at: str) -> int:
        body = {"submission": s, "summary": "jailbreak", "evidence": PUBLIC}
        return self.add("contest_finding", body, [self.contester], at)

    def resolution(self, c: int, at: str, outcome: str = "dismissed") -> int:
        body = {"finding": c, "outcome": outcome, "remedied": False, "reason": "test"}
        return self.add("contest_resolution", body, [self.regulator], at)

    def decision(
        self,
        s: int,
        *,
        at: str = DECISION_TIME,
        outcome: str = "approved",
        results: tuple[int, ...] = (),
        findings: tuple[int, ...] = (),
        by: list[Actor] | None = None,
    ) -> int:
        body = {
            "submission": s,
            "outcome": outcome,
            "eval_results": list(results),
            "findings": list(findings),
            "reason": "test",
        }
        return self.add("decision", body, by or [self.regulator], at)

    def marker(self, kind: str, cycle: int, at: str) -> int:
        return self.add("schedule_marker", {"marker": kind, "cycle": cycle}, [self.sequencer], at)

    def schedule(self, level: int, cap: str, effective: str, at: str) -> int:
        body = {"level": level, "cap_flop": cap, "effective_date": effective}
        return self.add("threshold_schedule", body, [self.regulator], at)

    def postponement(self, from_cycle: int, to_cycle: int, at: str, level: int = 2) -> int:
        body = {"level": level, "from_cycle": from_cycle, "to_cycle": to_cycle, "reason": "test"}
        return self.add("threshold_postponement", body, [self.regulator], at)

    def deregulation(self, level: int, effective: str, at: str) -> int:
        body = {"level": level, "effective_date": effective}
        return self.add("deregulation", body, [self.regulator], at)

    def grant(self, actor: Actor, role: str, at: str = "2026-06-01") -> int:
        return self.add("key_grant", grant_body(actor, role), self.board[:1], at)

    def access(
        self, *decisions: int, at: str = "2028-01-05", start: str = "", until: str = "2029-01-05"
    ) -> int:
        """Researchers' access to the models approved by *decisions* (S17)."""
        body = {
            "decisions": list(decisions),
            "institutions": ["Institute for Alignment Studies"],
            "access_from": start or at[:10],
            "access_until": until,
        }
        return self.add("research_access", body, [self.regulator], at)

    def reveal(self, c: int, salt: bytes, content: bytes, at: str, by: Actor) -> int:
        body = {
            "commitment": c,
            "salt": base64.b64encode(salt).decode(),
            "content_sha256": hashlib.sha256(content).hexdigest(),
        }
        return self.add("reveal", body, [by], at)


def submitted_run(lg: Ledger) -> tuple[int, int, int]:
    """A pre-registered, started, completed and submitted run with a suite: (P, suite, S)."""
    p = lg.prereg()
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    return p, suite, lg.submission(p)


def approved_run(lg: Ledger) -> dict[str, int]:
    """submitted_run, a passing result (2027-07-01) and an approval on the decision day."""
    p, suite, s = submitted_run(lg)
    r = lg.result(s, suite)
    return {"P": p, "suite": suite, "S": s, "R": r, "D": lg.decision(s)}


# == A clean log ================================================================


def test_clean_log_has_no_findings() -> None:
    lg = Ledger()
    p = lg.prereg()
    suite = lg.suite()
    lg.marker("lift_date", 2027, "2027-01-01")
    lg.started(p)
    lg.completed(p)
    s = lg.submission(p)
    lg.marker("submission_window_closed", 2027, "2027-07-01")
    lg.result(s, suite, at="2027-07-01")
    d = lg.decision(s)
    lg.marker("decision_due", 2027, "2028-01-01")
    lg.access(d, at="2028-01-05")
    assert p
    assert lg.audit("2028-03-01") == set()


def test_empty_log_has_no_findings() -> None:
    assert reference_audit(ORIGIN, [], ms("2028-01-01")) == set()


def test_matching_reveal_and_a_two_regulator_decision_are_clean() -> None:
    lg = Ledger(decision_quorum=2)
    second = Actor("Regulator 2")
    lg.add("key_grant", grant_body(second, "regulator"), lg.board[:1])
    p = lg.prereg(plan={"sealed": True, "sha256": commitment(SALT, PLAN)})
    suite = lg.suite()
    lg.started(p)
    s = lg.submission(p)
    lg.result(s, suite)
    lg.reveal(p, SALT, PLAN, "2027-08-01", lg.lab)
    d = lg.decision(s, by=[lg.regulator, second])
    lg.access(d, at="2028-01-05")
    assert lg.audit("2028-03-01", {hashlib.sha256(PLAN).hexdigest(): PLAN}) == set()


# == L2, L3, L4 ================================================================


def test_l2_logged_at_decreases() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-11-01")
    body = {"org_id": "acme", "legal_name": "Acme", "jurisdiction": "XR", "kind": "lab"}
    org = lg.add("organisation", body, [lg.regulator], "2026-10-01")
    assert lg.audit("2027-01-01") == {V("L2", p, org)}


def _tampered(env: dict[str, Any]) -> dict[str, Any]:
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[0] ^= 1
    return {**env, "signatures": [{**env["signatures"][0], "sig": base64.b64encode(sig).decode()}]}


def _l3_bad_signature(lg: Ledger) -> int:
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC}
    return lg.add_envelope(
        _tampered(envelope(ORIGIN, "preregistration", body, lg.lab)), "2026-11-01"
    )


def _l3_not_a_leaf(lg: Ledger) -> int:
    lg.leaves.append(b'{"not": "a leaf"}')
    return len(lg.leaves) - 1


def _l3_unknown_key(lg: Ledger) -> int:
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC}
    return lg.add("preregistration", body, [Actor("Stranger")], "2026-11-01")


def _l3_lab_signs_for_another_org(lg: Ledger) -> int:
    return lg.prereg(org="beta")


def _l3_wrong_role(lg: Ledger) -> int:
    body = {"org_id": "acme", "legal_name": "Acme", "jurisdiction": "XR", "kind": "lab"}
    return lg.add("organisation", body, [lg.lab], "2026-11-01")


def _l3_other_origin(lg: Ledger) -> int:
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC}
    env = envelope("other.example/log", "preregistration", body, lg.lab)
    return lg.add_envelope(env, "2026-11-01")


def _l3_revoked_key(lg: Ledger) -> int:
    lg.add("key_revoke", {"keyid": lg.lab.keyid, "reason": "lost"}, lg.board[:1], "2026-07-01")
    return lg.prereg()


def _l3_charter_after_index_0(lg: Ledger) -> int:
    return lg.add("charter", charter_body(lg.board, 1), lg.board[:1], "2026-07-01")


def _l3_reveal_by_another_key(lg: Ledger) -> int:
    p = lg.prereg(plan={"sealed": True, "sha256": commitment(SALT, PLAN)})
    return lg.reveal(p, SALT, PLAN, "2026-12-01", lg.regulator)


def _l3_schema(lg: Ledger) -> int:
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC, "planned_flop": 8e25}
    return lg.add("preregistration", body, [lg.lab], "2026-11-01")


def _l3_grant_keyid_mismatch(lg: Ledger) -> int:
    body = {**grant_body(Actor("Someone"), "evaluator"), "keyid": "ef" * 32}
    return lg.add("key_grant", body, lg.board[:1], "2026-07-01")


@pytest.mark.parametrize(
    "make",
    [
        _l3_not_a_leaf,
        _l3_bad_signature,
        _l3_unknown_key,
        _l3_lab_signs_for_another_org,
        _l3_wrong_role,
        _l3_other_origin,
        _l3_revoked_key,
        _l3_charter_after_index_0,
        _l3_reveal_by_another_key,
        _l3_schema,
        _l3_grant_keyid_mismatch,
    ],
)
def test_l3_entry_fails_its_checks(make: Any) -> None:
    lg = Ledger()
    bad = make(lg)
    assert lg.audit("2027-01-01") == {V("L3", bad)}


def test_l3_key_grant_without_board_quorum() -> None:
    lg = Ledger(board_quorum=2)
    grant = lg.add("key_grant", grant_body(Actor("New lab"), "lab:beta"), lg.board[:1])
    assert lg.audit("2027-01-01") == {V("L3", grant)}


def test_l3_decision_without_decision_quorum_is_ignored_by_s_rules() -> None:
    lg = Ledger(decision_quorum=2)
    run = approved_run(lg)
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == {V("L3", run["D"])}
    # Not counted as a decision: once the day is over, S is undecided.
    assert lg.audit("2028-01-01") == {V("L3", run["D"]), V("S8", run["S"])}


@pytest.mark.parametrize("entry0", ["organisation", "charter signed by a stranger"])
def test_l3_not_auditable_without_a_charter(entry0: str) -> None:
    lg = Ledger()
    if entry0 == "organisation":
        body = {"org_id": "acme", "legal_name": "Acme", "jurisdiction": "XR", "kind": "lab"}
        env = envelope(ORIGIN, "organisation", body, lg.regulator)
    else:
        env = envelope(ORIGIN, "charter", charter_body(lg.board, 1), Actor("Stranger"))
    lg.leaves[0] = encode_leaf(canonical_json(env), ms("2026-06-01"))
    p = lg.prereg()
    # A13: no charter grants no key: the grants and the pre-registration after it fail
    # their checks too.
    every = {V("L3", i) for i in range(p + 1)}
    assert lg.audit("2027-01-01") == every | {("L3", "not_auditable", ())}


def test_l4_reference_forward_wrong_type_or_to_a_failed_entry() -> None:
    lg = Ledger()
    forward = lg.started(99, at="2026-11-01")
    wrong_type = lg.started(1, at="2026-11-01")  # entry 1 is a key_grant
    failed = lg.prereg(org="beta")  # L3: signed by a lab:acme key
    to_failed = lg.started(failed, at="2026-11-02")
    assert lg.audit("2027-01-01") == {
        V("L4", forward),
        V("L4", wrong_type),
        V("L3", failed),
        V("L4", to_failed),
    }


# == S1 =======================================================================


def test_s1_start_less_than_lead_time_after_preregistration() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")
    t = lg.started(p)
    assert lg.audit("2027-02-01") == {V("S1", p, t)}


def test_s1_start_counts_at_the_earlier_of_claimed_and_logged() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-01")  # lead time ends 2026-12-31
    t = lg.started(p, at="2027-01-04", time="2026-12-20")
    # The start counts on 2026-12-20: inside the lead time and before level 1's lift.
    assert lg.audit("2027-02-01") == {V("S1", p, t), W("S1", t), V("S2", p, t)}


def test_s1_deregulated_run_needs_no_lead_time() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    x = lg.deregulation(0, "2028-01-01", "2026-10-01")
    approval_p, suite, s = submitted_run(lg)
    lg.result(s, suite)
    lg.access(lg.decision(s), at="2028-01-01")
    p = lg.prereg(
        at="2028-01-02",
        level=0,
        planned_flop="5e24",
        cycle=2028,
        planned_start="2028-01-03T00:00:00Z",
    )
    lg.started(p, at="2028-01-03")
    assert x and approval_p
    assert lg.audit("2028-02-01") == set()


def test_s1_submission_without_a_training_start() -> None:
    lg = Ledger()
    p = lg.prereg()
    s = lg.submission(p)
    assert lg.audit("2027-09-01") == {V("S1", p, s)}


def test_s1_claimed_start_beyond_reporting_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()
    t = lg.started(p, at="2027-01-04", time="2027-01-10")
    assert lg.audit("2027-02-01") == {W("S1", t)}


# == S2 =======================================================================


@pytest.mark.parametrize(("level", "flop"), [(2, "4e26"), (5, "1e26")])
def test_s2_plan_above_the_cap_or_level_without_cap(level: int, flop: str) -> None:
    lg = Ledger()
    p = lg.prereg(level=level, planned_flop=flop)
    assert lg.audit("2027-01-01") == {V("S2", p)}


def test_s2_start_before_the_level_is_lifted() -> None:
    lg = Ledger()
    p = lg.prereg(level=2, planned_flop="2e26")  # level 2 has a cap but no lift yet
    t = lg.started(p)
    assert lg.audit("2027-02-01") == {V("S2", p, t)}


def test_s2_start_of_a_run_at_a_level_without_a_cap_names_only_the_plan() -> None:
    """The initial frontier level is lifted; with no cap in force there is nothing for
    the plan to be above at the start: the missing cap is the pre-registration's finding."""
    levels = [{"level": 0, "cap_flop": "1e25"}, {"level": 2, "cap_flop": "3e26"}]
    lg = Ledger(levels=levels)
    p = lg.prereg(planned_flop="8e25")  # level 1, which has no cap
    lg.started(p)
    assert lg.audit("2027-02-01") == {V("S2", p)}


def test_s2_start_after_a_scheduled_lift_is_fine() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    _p, suite, s = submitted_run(lg)
    lg.result(s, suite)
    p = lg.prereg(
        at="2027-11-01",
        level=2,
        planned_flop="2e26",
        cycle=2028,
        planned_start="2028-01-04T00:00:00Z",
    )
    d = lg.decision(s)  # approves a level-1 model: the lift to level 2 may happen
    lg.started(p, at="2028-01-04")
    lg.access(d, at="2028-01-05")
    assert lg.audit("2028-02-01") == set()


# == S3 =======================================================================


def test_s3_reported_compute_above_plan_and_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()  # plans 8e25; 8.4e25 is the tolerance
    lg.started(p)
    e = lg.completed(p, flop="9e25")
    assert lg.audit("2027-06-01") == {V("S3", p, e)}


def test_s3_halt_reporting_the_excess_is_a_notice() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    h = lg.halted(p, flop="9e25")
    assert lg.audit("2027-06-01") == {N("S3", p, h)}


def test_s3_claimed_completion_beyond_reporting_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    e = lg.completed(p, at="2027-05-30", time="2027-05-20")
    assert lg.audit("2027-06-01") == {W("S3", e)}


# == S4 =======================================================================


def test_s4_amendment_after_training_started() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    a = lg.prereg(at="2027-01-10", supersedes=p)
    assert lg.audit("2027-02-01") == {V("S4", p, a)}


def test_s4_amendment_of_an_already_amended_version() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-10-01")
    a1 = lg.prereg(at="2026-10-02", supersedes=p)
    a2 = lg.prereg(at="2026-10-03", supersedes=p)
    assert lg.audit("2026-12-01") == {W("S4", p, a1, a2)}


def test_s4_training_event_on_an_amended_version() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-10-01")
    a = lg.prereg(at="2026-10-02", supersedes=p)
    t = lg.started(p)
    assert lg.audit("2027-02-01") == {W("S4", p, a, t)}


def test_s4_second_start_of_the_same_version() -> None:
    lg = Ledger()
    p = lg.prereg()
    t1 = lg.started(p)
    t2 = lg.started(p, at="2027-01-05")
    assert lg.audit("2027-02-01") == {W("S4", t1, t2)}


# == S5 =======================================================================


def test_s5_halted_version_submitted() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    h = lg.halted(p)
    s = lg.submission(p)
    assert lg.audit("2027-09-01") == {V("S5", p, h, s)}


def test_s5_new_version_after_the_halt_may_be_submitted() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    lg.halted(p)
    a = lg.prereg(at="2027-02-02", supersedes=p)
    s = lg.submission(a)
    # The amendment comes after the start (S4), but the submission itself is not S5.
    assert lg.audit("2027-09-01") == {V("S4", p, a)}
    assert s


# == S6 =======================================================================


def test_s6_decision_names_an_entry_that_is_not_a_submission() -> None:
    lg = Ledger()
    p = lg.prereg()
    d = lg.decision(p, at="2027-01-01", outcome="rejected")
    assert lg.audit("2027-02-01") == {V("L4", d), V("S6", p, d)}


def test_s6_decision_names_a_later_entry() -> None:
    lg = Ledger()
    d = lg.decision(50, at="2027-01-01", outcome="rejected")
    assert lg.audit("2027-02-01") == {V("L4", d), V("S6", d)}


def test_s6_decision_names_a_submission_that_failed_its_checks() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    body = {
        "preregistration": p,
        "model_digest": DIGEST,
        "final_flop": "7.9e25",
        "submitted_at": "2027-06-01T00:00:00Z",
    }
    s = lg.add("submission", body, [lg.evaluator], "2027-06-01")
    d = lg.decision(s, outcome="rejected")
    assert lg.audit("2028-01-01") == {V("L3", s), V("L4", d), V("S6", s, d)}


def test_s6_decision_cites_a_result_about_another_submission() -> None:
    lg = Ledger()
    p, suite, s = submitted_run(lg)
    other = lg.submission(p, at="2027-06-02", model_digest=OTHER_DIGEST)
    r = lg.result(other, suite)
    d = lg.decision(s, outcome="rejected", results=(r,))
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == {V("S6", r, d)}


def test_s6_decision_cites_a_resolution_about_another_submission() -> None:
    lg = Ledger()
    p, _suite, s = submitted_run(lg)
    other = lg.submission(p, at="2027-06-02", model_digest=OTHER_DIGEST)
    c = lg.contest(other, "2027-07-01")
    r = lg.resolution(c, "2027-07-10")
    d = lg.decision(s, outcome="rejected", findings=(r,))
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == {V("S6", r, d)}


def test_s6_approval_of_a_run_that_broke_s1_to_s5() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")  # too late for the 2027-01-04 start
    suite = lg.suite(at="2026-12-21")
    t = lg.started(p)
    s = lg.submission(p)
    lg.result(s, suite)
    d = lg.decision(s)
    assert lg.audit("2028-01-01") == {V("S1", p, t), V("S6", p, t, d)}


def test_s6_rejection_of_a_broken_run_is_fine() -> None:
    lg = Ledger()
    p = lg.prereg(at="2026-12-20")
    t = lg.started(p)
    s = lg.submission(p)
    lg.decision(s, outcome="rejected")
    assert lg.audit("2028-01-01") == {V("S1", p, t)}


def test_s6_facts_after_the_decision_do_not_reach_back() -> None:
    lg = Ledger()
    run = approved_run(lg)
    e = lg.completed(run["P"], at="2028-01-02", flop="9e25")
    lg.access(run["D"], at="2028-01-05")
    assert lg.audit("2028-02-01") == {V("S3", run["P"], e)}


# == S7 =======================================================================


def test_s7_approval_without_a_passing_result() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    d = lg.decision(s)
    assert lg.audit("2028-01-01") == {V("S7", s, d)}


def test_s7_passing_result_from_a_suite_logged_after_the_deadline() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p)
    late_suite = lg.suite(at="2027-07-01")
    lg.result(s, late_suite, at="2027-07-02")
    d = lg.decision(s)
    assert lg.audit("2028-01-01") == {V("S7", s, d)}


def test_s7_approval_citing_a_failing_result() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    passing = lg.result(s, suite)
    failing = lg.result(s, suite, at="2027-07-02", outcome="fail")
    d = lg.decision(s, results=(passing, failing))
    assert lg.audit("2028-01-01") == {V("S7", failing, d)}


def test_s7_approval_with_an_unresolved_contest() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    lg.result(s, suite)
    c = lg.contest(s, "2027-12-15")
    d = lg.decision(s)
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == {V("S7", c, d)}


def test_s7_approval_with_an_upheld_contest() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    lg.result(s, suite)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="upheld_in_part")
    d = lg.decision(s, findings=(r,))
    assert lg.audit("2028-01-01") == {V("S7", c, r, d)}


def _contested_and_remedied(lg: Ledger, outcome: str, digest: str) -> dict[str, int]:
    p, suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome=outcome)
    s2 = lg.submission(p, at="2027-08-01", model_digest=digest, remedies=r)
    lg.result(s2, suite, at="2027-09-01")
    d0 = lg.decision(s, outcome="rejected")
    d = lg.decision(s2, at="2027-12-31T13:00:00Z")
    return {"S": s, "C": c, "R": r, "S2": s2, "D0": d0, "D": d}


def test_s7_valid_remedy_is_decided_with_its_batch() -> None:
    lg = Ledger()
    x = _contested_and_remedied(lg, "upheld", OTHER_DIGEST)
    lg.access(x["D"], at="2028-01-05")
    assert lg.audit("2028-03-02") == set()


@pytest.mark.parametrize(("outcome", "digest"), [("dismissed", OTHER_DIGEST), ("upheld", DIGEST)])
def test_s7_approval_of_an_invalid_remedy(outcome: str, digest: str) -> None:
    lg = Ledger()
    x = _contested_and_remedied(lg, outcome, digest)
    # Not a valid remedy: S2 is late by its own logged_at, decided on the batch day.
    expected = {V("S7", x["R"], x["S2"], x["D"])}
    if outcome == "upheld":
        # The same weights again: the upheld finding about them binds S2 too (R25).
        expected.add(V("S7", x["C"], x["R"], x["D"]))
    assert lg.audit("2028-01-01") == expected


# == S8 =======================================================================


@pytest.mark.parametrize("when", ["2027-12-01", "2028-01-01T00:00:00Z"])
def test_s8_on_time_submission_decided_off_the_decision_day(when: str) -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    d = lg.decision(s, at=when, outcome="rejected")
    assert lg.audit("2028-02-01") == {V("S8", s, d)}


def test_s8_on_time_submission_undecided_after_its_decision_day() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == set()
    assert lg.audit("2028-01-01") == {V("S8", s)}


def test_s8_marker_logged_before_its_deadline() -> None:
    lg = Ledger()
    m = lg.marker("submission_window_closed", 2027, "2027-06-30T23:59:59Z")
    ok = lg.marker("decision_due", 2027, "2028-01-01")
    assert ok
    assert lg.audit("2028-01-02") == {V("S8", m)}


def test_s8_marker_after_which_submissions_are_late() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    m = lg.marker("submission_window_closed", 2027, "2027-06-15")
    s = lg.submission(p, at="2027-06-20")
    # The early marker is a violation, and it makes S late: due by 2028-03-01.
    assert lg.audit("2028-03-01T00:00:00.001Z") == {V("S8", m), V("S9", s)}


def test_s8_marker_repeated() -> None:
    lg = Ledger()
    m1 = lg.marker("lift_date", 2027, "2027-01-01")
    m2 = lg.marker("lift_date", 2027, "2027-01-02")
    assert lg.audit("2027-02-01") == {N("S8", m1, m2)}


def test_s8_submission_time_beyond_reporting_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-06-01", submitted_at="2027-05-25")
    assert lg.audit("2027-09-01") == {W("S8", s)}


# == S9 =======================================================================


@pytest.mark.parametrize("when", ["2027-09-01", "2028-03-01T00:00:00.001Z"])
def test_s9_late_submission_decided_before_its_batch_or_after_its_limit(when: str) -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-08-01")
    d = lg.decision(s, at=when, outcome="rejected")
    assert lg.audit("2028-04-01") == {V("S9", s, d)}


def test_s9_late_submission_decided_within_its_limit_is_fine() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-08-01")
    lg.decision(s, at="2028-02-29T23:59:59Z", outcome="rejected")
    assert lg.audit("2028-04-01") == set()


def test_s9_late_submission_decided_before_an_earlier_late_one() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    e = lg.submission(p, at="2027-08-01")
    s = lg.submission(p, at="2027-08-05", model_digest=OTHER_DIGEST)
    d = lg.decision(s, outcome="rejected")
    lg.decision(e, at="2027-12-31T13:00:00Z", outcome="rejected")
    assert lg.audit("2028-01-01") == {V("S9", e, s, d)}


def test_s9_late_submission_undecided_after_its_limit() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    s = lg.submission(p, at="2027-08-01")
    assert lg.audit("2028-03-01") == set()  # due by then: not yet after its limit
    assert lg.audit("2028-03-01T00:00:00.001Z") == {V("S9", s)}


# == S10 ======================================================================


def test_s10_second_decision_of_a_submission() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    d1 = lg.decision(s, outcome="rejected")
    d2 = lg.decision(s, at="2027-12-31T13:00:00Z", outcome="rejected")
    assert lg.audit("2028-01-01") == {V("S10", d1, d2)}


def test_s10_result_logged_after_the_decision() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    d = lg.decision(s, outcome="rejected")
    r = lg.result(s, suite, at="2028-01-05")
    assert lg.audit("2028-02-01") == {W("S10", d, r)}


def test_s10_second_resolution_of_a_finding() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-01")
    r1 = lg.resolution(c, "2027-07-10")
    r2 = lg.resolution(c, "2027-07-11", outcome="upheld")
    assert lg.audit("2027-09-01") == {V("S10", c, r1, r2)}


def test_s10_finding_unresolved_after_the_reply_limit() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-01")
    assert lg.audit("2027-07-31") == set()  # the reply limit itself is not after it
    assert lg.audit("2027-07-31T00:00:00.001Z") == {V("S10", c)}


def test_s10_finding_resolved_after_the_reply_limit() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-01")
    r = lg.resolution(c, "2027-08-15")
    assert lg.audit("2027-09-01") == {V("S10", c, r)}


# == S11 ======================================================================


@pytest.mark.parametrize(("level", "effective"), [(2, "2028-03-01"), (3, "2028-01-01")])
def test_s11_threshold_change_off_a_lift_date_or_skipping_a_level(
    level: int, effective: str
) -> None:
    lg = Ledger()
    t = lg.schedule(level, "3e26", effective, "2027-06-01")
    assert lg.audit("2027-12-01") == {V("S11", t)}


def test_s11_lift_into_a_postponed_cycle() -> None:
    lg = Ledger()
    p = lg.postponement(2028, 2029, "2027-06-01")
    t = lg.schedule(2, "3e26", "2028-01-01", "2027-07-01")
    assert lg.audit("2027-12-01") == {V("S11", p, t)}


def test_s11_a_cap_change_on_a_postponed_lift_date_is_not_a_lift() -> None:
    """A postponement stops lifts; a new cap for the level already in force still takes
    effect on the lift date (here it admits a plan the charter's cap would not)."""
    lg = Ledger()
    lg.postponement(2028, 2029, "2027-06-01")
    lg.schedule(1, "2e26", "2028-01-01", "2027-07-01")
    lg.prereg(
        at="2027-11-01", cycle=2028, planned_flop="1.5e26", planned_start="2028-01-04T00:00:00Z"
    )
    assert lg.audit("2027-12-01") == set()


def test_s11_postponement_to_a_cycle_not_after_its_from_cycle() -> None:
    lg = Ledger()
    p = lg.postponement(2028, 2028, "2027-06-01")
    assert lg.audit("2027-12-01") == {V("S11", p)}


def test_s11_postponement_logged_after_the_decision_date() -> None:
    lg = Ledger(calendar={**EXAMPLES["charter"]["calendar"], "decision": "12-15"})
    p = lg.postponement(2028, 2029, "2027-12-20")
    assert lg.audit("2027-12-21") == {W("S11", p)}


def test_s11_lift_without_an_approval_or_a_postponement() -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == set()
    assert lg.audit("2028-01-01") == {V("S11", t)}


def test_s11_lift_after_an_approval_or_with_a_postponement_is_fine() -> None:
    approved = Ledger()
    approved.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    approved.access(approved_run(approved)["D"], at="2028-01-05")
    assert approved.audit("2028-02-01") == set()
    postponed = Ledger()
    postponed.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    postponed.postponement(2028, 2029, "2027-12-31T12:00:00Z")
    assert postponed.audit("2028-02-01") == set()


# == S12 ======================================================================


def test_s12_threshold_change_without_the_notice_period() -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2028-01-01", "2027-12-01")
    assert lg.audit("2027-12-20") == {V("S12", t)}


# == S13 ======================================================================


def test_s13_deregulation_above_frontier_minus_lag() -> None:
    lg = Ledger()
    x = lg.deregulation(0, "2028-01-01", "2027-06-01")  # the frontier stays at 1
    assert lg.audit("2027-12-01") == {V("S13", x)}


def test_s13_retroactive_deregulation() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    lg.access(approved_run(lg)["D"], at="2028-01-01")
    x = lg.deregulation(0, "2028-01-01", "2028-01-02")
    assert lg.audit("2028-02-01") == {V("S12", x), V("S13", x)}


def test_s13_deregulation_on_a_postponed_lift_date() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    p = lg.postponement(2028, 2029, "2027-07-01")
    x = lg.deregulation(0, "2028-01-01", "2027-08-01")
    # With the lift postponed the frontier stays at 1, so level 0 is also above 1 - 2.
    assert lg.audit("2027-12-01") == {V("S13", p, x), V("S13", x)}


def test_s13_postponement_freezes_an_earlier_deregulation() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    x = lg.deregulation(0, "2028-01-01", "2027-07-01")
    p = lg.postponement(2028, 2029, "2027-08-01")
    assert lg.audit("2027-12-01") == {N("S13", x, p)}


def test_s13_frozen_deregulation_does_not_exempt_a_run_from_s1() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    x = lg.deregulation(0, "2028-01-01", "2027-07-01")
    pp = lg.postponement(2028, 2029, "2027-08-01")
    p = lg.prereg(
        at="2028-01-02",
        level=0,
        planned_flop="5e24",
        cycle=2028,
        planned_start="2028-01-03T00:00:00Z",
    )
    t = lg.started(p, at="2028-01-03")
    assert lg.audit("2028-01-05") == {N("S13", x, pp), V("S1", p, t)}


# == S14 ======================================================================


def _sealed_plan(lg: Ledger) -> int:
    return lg.prereg(plan={"sealed": True, "sha256": commitment(SALT, PLAN)})


def test_s14_reveal_does_not_match() -> None:
    lg = Ledger()
    p = _sealed_plan(lg)
    v = lg.reveal(p, bytes(32), PLAN, "2026-12-01", lg.lab)
    blobs = {hashlib.sha256(PLAN).hexdigest(): PLAN}
    assert lg.audit("2027-01-01", blobs) == {V("S14", p, v)}


def test_s14_revealed_document_unavailable() -> None:
    lg = Ledger()
    p = _sealed_plan(lg)
    v = lg.reveal(p, SALT, PLAN, "2026-12-01", lg.lab)
    assert lg.audit("2027-01-01") == {("S14", "not_auditable", (p, v))}
    assert lg.audit("2027-01-01", {hashlib.sha256(PLAN).hexdigest(): PLAN}) == set()


def test_s14_sealed_document_unrevealed_after_the_deadline() -> None:
    lg = Ledger()
    p = _sealed_plan(lg)  # logged 2026-11-01, reveal deadline 365 days
    assert lg.audit("2027-11-01") == set()  # the deadline itself is not after it
    assert lg.audit("2027-11-01T00:00:00.001Z") == {W("S14", p)}
    lg.reveal(p, SALT, PLAN, "2027-12-01", lg.lab)  # late: judged at now, it clears
    assert lg.audit("2027-12-02", {hashlib.sha256(PLAN).hexdigest(): PLAN}) == set()


# == Admission of the new entry types (L3) ======================================

OBSERVATION = {"kind": "attendance", "statement": "attended the evaluation"}


def attestation_body(run: int | None = None, **fields: Any) -> dict[str, Any]:
    body = {**EXAMPLES["compute_attestation"], **fields}
    if run is None:
        body.pop("run")
    else:
        body["run"] = run
    return body


def _l3_attestation_by_another_provider(lg: Ledger) -> int:
    other = Actor("Nimbus")
    lg.grant(other, "compute:nimbus")
    return lg.add("compute_attestation", attestation_body(), [other], "2027-04-02")


def _l3_attestation_by_a_lab(lg: Ledger) -> int:
    return lg.add("compute_attestation", attestation_body(), [lg.lab], "2027-04-02")


def _l3_observer_statement_by_a_contester(lg: Ledger) -> int:
    p = lg.prereg()
    return lg.add("observer_statement", {"about": p, **OBSERVATION}, [lg.contester], "2027-01-01")


def _l3_model_update_by_another_lab(lg: Ledger) -> int:
    beta = Actor("Beta")
    lg.grant(beta, "lab:beta")
    run = approved_run(lg)
    return lg.add("model_update", update_body(run), [beta], "2028-01-10")


def _l3_staff_declaration_by_the_evaluator(lg: Ledger) -> int:
    return lg.add("staff_declaration", EXAMPLES["staff_declaration"], [lg.evaluator], "2027-09-20")


def _l3_research_access_by_the_lab(lg: Ledger) -> int:
    run = approved_run(lg)
    body = {**EXAMPLES["research_access"], "decisions": [run["D"]]}
    return lg.add("research_access", body, [lg.lab], "2028-01-05")


def _l3_role_of_the_new_format_misspelt(lg: Ledger) -> int:
    return lg.grant(Actor("Stratus"), "compute-stratus")


@pytest.mark.parametrize(
    "make",
    [
        _l3_attestation_by_another_provider,
        _l3_attestation_by_a_lab,
        _l3_observer_statement_by_a_contester,
        _l3_model_update_by_another_lab,
        _l3_staff_declaration_by_the_evaluator,
        _l3_research_access_by_the_lab,
        _l3_role_of_the_new_format_misspelt,
    ],
)
def test_l3_new_entry_type_signed_without_its_role(make: Any) -> None:
    lg = Ledger()
    bad = make(lg)
    assert lg.audit("2028-01-20") == {V("L3", bad)}


def test_l3_charter_amendment_without_the_board_quorum() -> None:
    lg = Ledger(board_quorum=2)
    body = {**EXAMPLES["charter_amendment"], "effective_date": "2028-01-01"}
    x = lg.add("charter_amendment", body, lg.board[:1], "2027-06-01")
    assert lg.audit("2027-07-01") == {V("L3", x)}


def test_new_entry_types_signed_by_their_roles_are_admitted() -> None:
    lg = Ledger(board_quorum=2)
    provider, observer = Actor("Stratus"), Actor("Observer")
    lg.add("key_grant", grant_body(provider, "compute:stratus"), lg.board)
    lg.add("key_grant", grant_body(observer, "observer:un-panel"), lg.board)
    p = lg.prereg()
    lg.started(p)  # a run under way covers the compute attested for it (S16)...
    lg.completed(p, at="2027-04-01", flop="6e25")  # ...and reports as much
    lg.add("compute_attestation", attestation_body(run=p), [provider], "2027-04-02")
    lg.add("observer_statement", {"about": p, **OBSERVATION}, [observer], "2027-04-03")
    lg.add("staff_declaration", EXAMPLES["staff_declaration"], [lg.regulator], "2027-04-04")
    body = {**EXAMPLES["charter_amendment"], "effective_date": "2028-01-01"}
    lg.add("charter_amendment", body, lg.board, "2027-06-01")
    assert lg.audit("2027-06-02") == set()


# == S15 ========================================================================

INFERENCE = {
    "scaffolding": ["code interpreter"],
    "max_inference_flop_per_task": "1e17",
    "post_training": [{"method": "rl", "flop": "2e23", "description": "tool use"}],
}
RAISED_CEILING = {**INFERENCE, "max_inference_flop_per_task": "2e18"}  # +1.9e18 > 1e18


def update_body(run: dict[str, int], **fields: Any) -> dict[str, Any]:
    return {
        "preregistration": run["P"],
        "decision": run["D"],
        "description": "a change",
        "model_digest": OTHER_DIGEST,
        "inference": INFERENCE,
        "added_posttraining_flop": "1e22",
        "offered_from": "2028-01-10T00:00:00Z",
        **fields,
    }


def approved_model(lg: Ledger, outcome: str = "approved") -> dict[str, int]:
    """An approved run whose submission carries its inference configuration."""
    p = lg.prereg()
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    s = lg.submission(p, inference=INFERENCE)
    r = lg.result(s, suite)
    return {"P": p, "suite": suite, "S": s, "R": r, "D": lg.decision(s, outcome=outcome)}


def update(lg: Ledger, run: dict[str, int], at: str = "2028-01-10", **fields: Any) -> int:
    return lg.add("model_update", update_body(run, **fields), [lg.lab], at)


@pytest.mark.parametrize(
    "change",
    [{"added_posttraining_flop": "2e24"}, {"inference": RAISED_CEILING}],
    ids=["post-training", "inference ceiling"],
)
def test_s15_significant_update_without_evaluated_as(change: dict[str, Any]) -> None:
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, **change)
    assert lg.audit("2028-01-20") == {V("S15", run["D"], u)}


def test_s15_significant_update_whose_evaluated_as_is_another_model() -> None:
    lg = Ledger()
    run = approved_model(lg)
    # The original submission: other weights, other configuration.
    u = update(lg, run, inference=RAISED_CEILING, evaluated_as=run["S"])
    # Another model, and no new evaluation either: the one the update changes (M5).
    assert lg.audit("2028-01-20") == {V("S15", run["S"], run["D"], u), V("S15", run["D"], u)}


def test_s15_significant_update_evaluated_as_the_approval_it_updates() -> None:
    """5e25 FLOP of post-training declared with the weights and configuration unchanged,
    and the approval being updated named as its evaluation: no new evaluation (M5)."""
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, model_digest=DIGEST, added_posttraining_flop="5e25", evaluated_as=run["S"])
    assert lg.audit("2028-01-20") == {V("S15", run["D"], u)}


def _updated_model_submitted(lg: Ledger, run: dict[str, int]) -> tuple[int, int]:
    """The updated model, submitted (late, cycle 2027) and passing: (S', its result)."""
    s2 = lg.submission(
        run["P"], at="2028-01-02", model_digest=OTHER_DIGEST, inference=RAISED_CEILING
    )
    return s2, lg.result(s2, run["suite"], at="2028-01-03")


def test_s15_significant_update_evaluated_and_approved_first_is_clean() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2, _r = _updated_model_submitted(lg, run)
    lg.decision(s2, at="2028-01-05")
    update(lg, run, inference=RAISED_CEILING, evaluated_as=s2)
    assert lg.audit("2028-01-20") == set()


def test_s15_significant_update_whose_evaluated_model_is_approved_only_after_it() -> None:
    lg = Ledger()
    run = approved_model(lg)
    s2, _r = _updated_model_submitted(lg, run)
    u = update(lg, run, at="2028-01-04", offered_from="2028-01-10T00:00:00Z",
               inference=RAISED_CEILING, evaluated_as=s2)  # fmt: skip
    lg.decision(s2, at="2028-01-05")
    assert lg.audit("2028-01-20") == {V("S15", run["D"], u)}


def test_s15_update_names_a_decision_that_approved_no_model_of_its_run() -> None:
    lg = Ledger()
    run = approved_model(lg, outcome="rejected")
    u = update(lg, run)
    assert lg.audit("2028-01-20") == {V("S15", run["D"], u)}


def test_s15_lesser_update_is_no_finding() -> None:
    lg = Ledger()
    run = approved_model(lg)
    update(lg, run, added_posttraining_flop="1e24")  # not more than the threshold
    assert lg.audit("2028-01-20") == set()


def test_s15_update_offered_before_it_was_logged() -> None:
    lg = Ledger()
    run = approved_model(lg)
    u = update(lg, run, at="2028-01-10T00:00:01Z", offered_from="2028-01-08T00:00:00Z")
    assert lg.audit("2028-01-20") == {W("S15", u)}


# == S16 ========================================================================


def provider(lg: Ledger) -> Actor:
    stratus = Actor("Stratus")
    lg.grant(stratus, "compute:stratus")
    return stratus


def attest(lg: Ledger, by: Actor, at: str = "2027-04-02", **fields: Any) -> int:
    run = fields.pop("run", None)
    return lg.add("compute_attestation", attestation_body(run, **fields), [by], at)


@pytest.mark.parametrize(
    "case",
    ["no run", "run logged after the period start", "plan too small", "named run", "named version"],
)
def test_s16_undeclared_large_run(case: str) -> None:
    lg = Ledger()
    stratus = provider(lg)
    named = None
    if case == "run logged after the period start":
        lg.prereg(at="2027-01-01T00:00:01Z", planned_start="2027-03-01T00:00:00Z")
    elif case == "plan too small":
        lg.prereg(planned_flop="5.7e25")  # x 1.05 = 5.985e25 < 6e25
    elif case == "named run":
        named = lg.prereg(planned_flop="5e25")
        lg.prereg(at="2026-11-02", run_id="acme-2027-b")  # would cover, but is not named
    elif case == "named version":
        first = lg.prereg(at="2026-10-01")  # planned 8e25, then amended down to 5e25
        named = lg.prereg(at="2026-10-02", planned_flop="5e25", supersedes=first)
    a = attest(lg, stratus, run=named)
    # A run named is held to its plan by S3 too: its providers attest more than it
    # allows, and it never halted (reading R34).
    also = {V("S3", named, a)} if named is not None else set()
    assert lg.audit("2027-05-01") == {V("S16", a)} | also


def test_s16_attestation_covered_by_a_run_planned_within_tolerance() -> None:
    lg = Ledger()
    stratus = provider(lg)
    lg.started(lg.prereg(planned_flop="5.72e25"))  # x 1.05 = 6.006e25 >= 6e25
    attest(lg, stratus)
    assert lg.audit("2027-05-01") == set()


def test_s16_attestation_under_the_deregulated_cap_needs_no_run() -> None:
    lg = Ledger()
    stratus = provider(lg)
    lg.schedule(2, "3e26", "2028-01-01", "2026-10-01")
    lg.deregulation(0, "2028-01-01", "2026-10-01")
    lg.access(approved_run(lg)["D"], at="2028-01-01")
    period = {"period_start": "2028-01-01T00:00:00Z", "period_end": "2028-04-01T00:00:00Z"}
    # Beta pre-registered nothing; level 0 (cap 1e25) is deregulated from 2028-01-01.
    small = attest(lg, stratus, "2028-04-02", organisation="beta", flop_delivered="1e25", **period)
    large = attest(lg, stratus, "2028-04-03", organisation="beta", flop_delivered="2e25", **period)
    assert small
    assert lg.audit("2028-05-01") == {V("S16", large)}


def test_s16_attestation_names_a_run_of_another_organisation() -> None:
    lg = Ledger()
    stratus = provider(lg)
    beta = Actor("Beta")
    lg.grant(beta, "lab:beta")
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC, "org": "beta", "run_id": "beta-1"}
    p = lg.add("preregistration", body, [beta], "2026-11-01")
    a = attest(lg, stratus, run=p)
    # Not acme's run, so it does not cover acme's compute either.
    assert lg.audit("2027-05-01") == {V("S16", p, a), V("S16", a)}


def test_s16_run_reports_far_less_than_attested() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    a1 = attest(lg, stratus, run=p, flop_delivered="3e25")
    a2 = attest(lg, stratus, at="2027-04-03", run=p, flop_delivered="3e25")
    r = lg.completed(p, at="2027-05-30", flop="4.4e25")  # < 6e25 x 0.75 = 4.5e25
    assert lg.audit("2027-06-15") == {W("S16", p, a1, a2, r)}


def test_s16_run_reporting_within_the_attestation_tolerance_is_fine() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    attest(lg, stratus, run=p)
    lg.completed(p, at="2027-05-30", flop="4.5e25")
    assert lg.audit("2027-06-15") == set()


def test_s16_silent_provider() -> None:
    lg = Ledger()
    stratus = provider(lg)
    lg.started(lg.prereg())
    attest(lg, stratus, at="2027-04-01", flop_delivered="3e25")
    a = attest(lg, stratus, at="2027-04-02", flop_delivered="3e25")  # 6e25 in all: the plan
    assert lg.audit("2027-07-01") == set()  # silent for exactly 90 days: not more
    assert lg.audit("2027-07-01T00:00:01Z") == {N("S16", a)}


# == S17 ========================================================================


def test_s17_access_shorter_than_the_minimum() -> None:
    lg = Ledger()
    run = approved_run(lg)
    x = lg.access(run["D"], at="2028-01-05", until="2029-01-03")  # 364 days from 2028-01-05
    assert lg.audit("2028-01-20") == {V("S17", x)}


def test_s17_access_lasting_the_minimum_from_its_opening_is_fine() -> None:
    lg = Ledger()
    run = approved_run(lg)
    lg.access(run["D"], at="2028-01-05", start="2027-12-01", until="2029-01-05")
    assert lg.audit("2028-03-01") == set()


def test_s17_access_for_a_decision_that_approved_nothing() -> None:
    lg = Ledger()
    _p, _suite, s = submitted_run(lg)
    d = lg.decision(s, outcome="rejected")
    x = lg.access(d, at="2028-01-05")
    assert lg.audit("2028-03-01") == {V("S17", d, x)}


def test_s17_approval_with_no_access_after_the_limit() -> None:
    lg = Ledger()
    run = approved_run(lg)  # approved 2027-12-31T12:00Z: access due by 2028-01-30T12:00Z
    # "Within" the limit includes its last instant: access may still open then.
    assert lg.audit("2028-01-30T12:00:00Z") == set()
    assert lg.audit("2028-01-30T12:00:00.001Z") == {V("S17", run["D"])}


@pytest.mark.parametrize(
    ("logged", "start"),
    [("2028-01-05", "2028-02-15"), ("2028-02-01", "2028-01-01")],
    ids=["access_from late", "logged late"],
)
def test_s17_first_access_opening_late(logged: str, start: str) -> None:
    lg = Ledger()
    run = approved_run(lg)
    x = lg.access(run["D"], at=logged, start=start, until="2029-03-01")
    lg.access(run["D"], at="2028-02-02", start="2028-02-20", until="2029-03-01")
    assert lg.audit("2028-03-01") == {V("S17", run["D"], x)}


def test_s17_the_access_that_opens_first_counts() -> None:
    lg = Ledger()
    run = approved_run(lg)
    lg.access(run["D"], at="2028-01-05", start="2028-03-01", until="2029-03-01")
    lg.access(run["D"], at="2028-01-06", until="2029-03-01")  # opens 2028-01-06: in time
    assert lg.audit("2028-03-02") == set()


# == S18 ========================================================================


def test_s18_evaluation_result_outside_the_scope() -> None:
    lg = Ledger(evaluation_scope=["cyber"])
    _p, suite, s = submitted_run(lg)
    r = lg.result(s, suite)  # category bio-uplift
    assert lg.audit("2027-08-01") == {V("S18", r)}


# == S19 ========================================================================


def departure(lg: Ledger, staff: str, at: str = "2027-09-20", date: str = "2027-10-01") -> int:
    body = {**EXAMPLES["staff_declaration"], "staff": staff, "date": date}
    return lg.add("staff_declaration", body, [lg.regulator], at)


@pytest.mark.parametrize("at", ["2027-10-01", "2028-09-29T23:59:59Z"])
def test_s19_lab_key_for_former_staff_within_the_cooling_off(at: str) -> None:
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    leaving = departure(lg, officer.name)
    g = lg.grant(officer, "lab:acme", at)
    assert lg.audit("2028-10-01") == {V("S19", leaving, g)}


def test_s19_before_the_declaration_after_the_cooling_off_or_another_role_is_fine() -> None:
    lg = Ledger()
    name = "Evaluation officer 7"
    early = Actor(name)
    lg.grant(early, "lab:acme", "2027-09-19")  # before the departure is declared ...
    departure(lg, name)  # logged 2027-09-20; 2027-10-01 + 365 days = 2028-09-30
    revoke(lg, early, "2027-09-30T23:59:59Z")  # ... and revoked before its date (H10)
    lg.grant(Actor(name), "contester:watchdog", "2027-11-01")
    lg.grant(Actor("Someone else"), "lab:acme", "2027-11-01")
    lg.grant(Actor(name), "lab:acme", "2028-09-30")
    assert lg.audit("2028-10-01") == set()


def test_s19_a_key_granted_between_the_declaration_and_the_departure() -> None:
    """Granted the second before the departure date, held into the cooling-off (H6),
    and to the same name spelt with other case and spacing."""
    lg = Ledger()
    leaving = departure(lg, "Evaluation officer 7")
    before = lg.grant(Actor("Evaluation officer 7"), "lab:acme", "2027-09-30T23:59:59Z")
    variant = lg.grant(Actor("  evaluation OFFICER  7"), "lab:beta", "2027-11-01")
    assert lg.audit("2028-10-01") == {V("S19", leaving, before), V("S19", leaving, variant)}


def revoke(lg: Ledger, actor: Actor, at: str) -> int:
    return lg.add("key_revoke", {"keyid": actor.keyid, "reason": "test"}, lg.board[:1], at)


@pytest.mark.parametrize("first", ["lab", "evaluator"])
def test_s19_one_person_with_a_lab_key_and_an_evaluator_key(first: str) -> None:
    """H8: two keys of one holder (as H6 compares names), one acting for a lab, the
    other overseeing, in force at once: whichever is granted first, (K, G)."""
    lg = Ledger()
    roles = ["lab:acme", "evaluator"] if first == "lab" else ["evaluator", "lab:acme"]
    k = lg.grant(Actor("Evaluation officer 7"), roles[0], "2027-01-01")
    g = lg.grant(Actor(" evaluation OFFICER 7"), roles[1], "2027-02-01")
    assert lg.audit("2027-03-01") == {V("S19", k, g)}


def test_s19_one_person_after_the_other_key_is_revoked_or_another_person() -> None:
    """H8: not in force at once, or two people, or a role that oversees nothing."""
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    lg.grant(officer, "evaluator", "2027-01-01")
    revoke(lg, officer, "2027-01-15")
    lg.grant(Actor("Evaluation officer 7"), "lab:acme", "2027-02-01")
    lg.grant(Actor("Evaluation officer 8"), "evaluator", "2027-02-01")
    lg.grant(Actor("Evaluation officer 7"), "contester:watchdog", "2027-02-01")
    assert lg.audit("2027-03-01") == set()


def test_s19_a_governor_root_key_and_a_lab_key() -> None:
    """H8: a root key is held by its name and holds board."""
    lg = Ledger()
    g = lg.grant(Actor(lg.board[1].name), "lab:acme", "2027-02-01")
    assert lg.audit("2027-03-01") == {V("S19", 0, g)}


def test_s19_a_back_dated_departure_counts_from_the_last_staff_key() -> None:
    """H9: the evaluator key is revoked on 2027-12-01, the departure is dated
    2026-06-01: the cooling-off counts from the revocation, with a warning."""
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    lg.grant(officer, "evaluator", "2026-07-01")
    r = revoke(lg, officer, "2027-12-01T08:00:00Z")
    leaving = departure(lg, officer.name, at="2027-12-01T09:00:00Z", date="2026-06-01")
    g = lg.grant(Actor(officer.name), "lab:acme", "2027-12-02")
    assert lg.audit("2028-01-01") == {W("S19", r, leaving), V("S19", leaving, g)}


def test_s19_a_departure_declared_while_a_staff_key_is_in_force() -> None:
    """H9: in post at the declaration (L alone); the lab key later is also H8's."""
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    k = lg.grant(officer, "evaluator", "2026-07-01")
    leaving = departure(lg, officer.name, at="2027-12-01", date="2027-06-01")
    g = lg.grant(Actor(officer.name), "lab:acme", "2028-11-01")  # 2027-06-01 + 365 days before
    assert lg.audit("2029-01-01") == {W("S19", leaving), V("S19", leaving, g), V("S19", k, g)}


def test_s19_a_departure_within_the_tolerance_of_the_revocation() -> None:
    """H9: revoked 47 hours after the start of the departure date: no warning, and the
    cooling-off counts from the revocation (a grant 365 days after the date is in it)."""
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    lg.grant(officer, "evaluator", "2026-07-01")
    revoke(lg, officer, "2027-10-02T23:00:00Z")
    leaving = departure(lg, officer.name, at="2027-10-03", date="2027-10-01")
    g = lg.grant(Actor(officer.name), "lab:acme", "2028-09-30T12:00:00Z")
    assert lg.audit("2028-10-05") == {V("S19", leaving, g)}


@pytest.mark.parametrize(
    ("revoked", "now", "found"),
    [
        (None, "2028-01-01", True),  # never revoked
        ("2027-10-01T00:00:00Z", "2028-01-01", False),  # revoked as the departure starts
        ("2027-10-01T00:00:01Z", "2028-01-01", True),  # in force for a second of it
        (None, "2027-09-30T23:59:59Z", False),  # the departure has not started yet
    ],
)
def test_s19_a_lab_key_granted_before_the_declaration(
    revoked: str | None, now: str, found: bool
) -> None:
    """H10: held into the cooling-off unless revoked before the departure, by now."""
    lg = Ledger()
    officer = Actor("Evaluation officer 7")
    k = lg.grant(officer, "lab:acme", "2027-09-01")
    leaving = departure(lg, officer.name)  # logged 2027-09-20, dated 2027-10-01
    if revoked is not None:
        revoke(lg, officer, revoked)
    assert lg.audit(now) == ({V("S19", k, leaving)} if found else set())


def test_a_key_id_granted_twice() -> None:
    """A4: the second grant of a key id (here one in force, with a lab's role beside its
    evaluator role) fails its checks and gives the key nothing: its signature on a
    submission of Acme fails too."""
    lg = Ledger()
    again = lg.add("key_grant", grant_body(lg.evaluator, "lab:acme"), lg.board[:1], "2026-07-01")
    root = lg.add("key_grant", grant_body(lg.board[0], "regulator"), lg.board[:1], "2026-07-01")
    body = {**EXAMPLES["preregistration"], "plan": PUBLIC}
    p = lg.add("preregistration", body, [lg.evaluator], "2026-11-01")
    assert lg.audit("2026-12-01") == {V("L3", again), V("L3", root), V("L3", p)}


# == S12: charter amendments ====================================================


def amendment(lg: Ledger, changes: dict[str, Any], effective: str, at: str) -> int:
    body = {"changes": changes, "effective_date": effective, "reason": "test"}
    return lg.add("charter_amendment", body, lg.board[:1], at)


CALENDAR_2 = {
    "lift": "01-01",
    "submission_deadline": "05-31",
    "decision": "11-30",
    "time_zone": "UTC",
}


@pytest.mark.parametrize(
    ("changes", "effective", "at"),
    [
        ({"late_decision_limit_days": 45}, "2028-01-01", "2027-12-01"),
        ({"calendar": CALENDAR_2, "calendar_from_cycle": 2028}, "2028-03-01", "2027-11-01"),
        ({"calendar": CALENDAR_2}, "2028-03-01", "2027-06-01"),
        ({"calendar_from_cycle": 2029}, "2028-03-01", "2027-06-01"),
    ],
    ids=["short notice", "calendar short notice", "calendar without cycle", "cycle only"],
)
def test_s12_charter_amendment_without_notice(
    changes: dict[str, Any], effective: str, at: str
) -> None:
    lg = Ledger()
    x = amendment(lg, changes, effective, at)
    assert lg.audit("2027-12-15") == {V("S12", x)}


def test_s12_notice_period_of_an_amendment_is_the_one_in_force_when_it_is_logged() -> None:
    lg = Ledger()
    amendment(lg, {"notice_period_days": 30}, "2027-06-01", "2027-01-01")
    early = amendment(lg, {"cooling_off_days": 400}, "2027-06-15", "2027-05-31")  # old: 90
    ok = amendment(lg, {"cooling_off_days": 500}, "2027-07-15", "2027-06-02")  # new: 30
    assert ok
    assert lg.audit("2027-08-01") == {V("S12", early)}


# == Charter amendments take effect for every rule ==============================


def test_amended_late_decision_limit_applies_to_submissions_logged_after_it() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    before = lg.submission(p, at="2027-08-01")  # late, old limit: due 2028-03-01
    amendment(lg, {"late_decision_limit_days": 20}, "2028-01-01", "2027-09-01")
    after = lg.submission(p, at="2028-01-02", model_digest=OTHER_DIGEST)  # due 2028-01-22
    lg.decision(before, at="2028-01-25", outcome="rejected")
    d = lg.decision(after, at="2028-01-25T01:00:00Z", outcome="rejected")
    assert lg.audit("2028-02-01") == {V("S9", after, d)}


def test_amended_calendar_applies_from_its_cycle() -> None:
    lg = Ledger()
    amendment(lg, {"calendar": CALENDAR_2, "calendar_from_cycle": 2028}, "2026-09-01", "2026-06-02")
    p27 = lg.prereg()
    lg.started(p27)
    s27 = lg.submission(p27, at="2027-06-15")  # on time: cycle 2027 keeps 06-30 and 12-31
    p = lg.prereg(at="2027-11-01", cycle=2028, planned_start="2028-01-04T00:00:00Z")
    lg.decision(s27, outcome="rejected")
    lg.started(p, at="2028-01-04")
    on_time = lg.submission(p, at="2028-05-31T23:00:00Z")
    late = lg.submission(p, at="2028-06-01", model_digest=OTHER_DIGEST)
    lg.decision(on_time, at="2028-11-30", outcome="rejected")
    d = lg.decision(late, at="2029-01-30T09:00:00Z", outcome="rejected")
    # Cycle 2028: deadline 05-31, decision day 11-30, so 'late' is late and its limit
    # (60 days from the end of 2028-11-30) is the start of 2029-01-30.
    assert lg.audit("2029-02-01") == {V("S9", late, d)}


def test_amended_scope_applies_to_results_logged_after_it_takes_effect() -> None:
    lg = Ledger()
    _p, suite, s = submitted_run(lg)
    amendment(lg, {"evaluation_scope": ["cyber"]}, "2027-10-01", "2027-06-02")
    lg.result(s, suite, at="2027-09-30")
    r = lg.result(s, suite, at="2027-10-01")
    assert lg.audit("2027-11-01") == {V("S18", r)}


# == S10: an approval cannot be withdrawn =======================================


def test_s10_second_decision_on_an_approved_submission() -> None:
    lg = Ledger()
    run = approved_run(lg)
    d2 = lg.decision(run["S"], at="2027-12-31T13:00:00Z", outcome="rejected")
    assert lg.audit(BEFORE_DECISION_DAY_ENDS) == {V("S10", run["D"], d2)}
