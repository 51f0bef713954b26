"""The policy engine: an incremental, pure replay of admitted entries into schedule state.

:meth:`PolicyEngine.check` judges one new entry against the state (read-only,
O(1) in the size of the log: dictionary look-ups only), which is what the
ledger's admission preflight runs. :meth:`PolicyEngine.apply` records it.
:meth:`PolicyEngine.time_findings` judges what only the passing of time can show
(a decision that never came, a contest left unanswered) at a time the caller
passes in — there is no clock in here.

The state is :class:`verifier.policy.state.PolicyState`; the rules live in
:mod:`verifier.policy.rules`, one module per family. Interpretations of POLICY.md
that an auditor should know are in docs/policy-notes.md and marked "Choice:".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from verifier.entries.codec import Payload
from verifier.entries.payloads import Charter, ComputeAttestation
from verifier.policy.calendar import Calendar
from verifier.policy.findings import VIOLATION, Finding, violation
from verifier.policy.rules import (
    access,
    compute,
    deadlines,
    decisions,
    governance,
    models,
    reveals,
    runs,
    thresholds,
)
from verifier.policy.state import PolicyState, flop

Check = Callable[[PolicyState, int, Any, int], list[Finding]]
Apply = Callable[[PolicyState, int, Any, int], None]

#: entry type -> its rule family's check (read-only) and apply (records it).
CHECKS: dict[str, Check] = {
    "threshold_schedule": thresholds.check_threshold_schedule,
    "threshold_postponement": thresholds.check_threshold_postponement,
    "deregulation": thresholds.check_deregulation,
    "preregistration": runs.check_preregistration,
    "training_started": runs.check_training_started,
    "training_halted": runs.check_training_halted,
    "training_completed": runs.check_training_completed,
    "submission": runs.check_submission,
    "eval_result": lambda st, i, b, ms: [
        *decisions.check_eval_result(st, i, b, ms),
        *governance.check_eval_result_scope(st, i, b, ms),
    ],
    "model_update": models.check_model_update,
    "compute_attestation": compute.check_compute_attestation,
    "charter_amendment": governance.check_charter_amendment,
    "key_grant": governance.check_key_grant,
    "staff_declaration": governance.check_staff_declaration,
    "research_access": access.check_research_access,
    "contest_resolution": decisions.check_contest_resolution,
    "decision": decisions.check_decision,
    "schedule_marker": reveals.check_schedule_marker,
}
APPLIES: dict[str, Apply] = {
    "threshold_schedule": thresholds.apply_threshold_schedule,
    "threshold_postponement": thresholds.apply_threshold_postponement,
    "deregulation": thresholds.apply_deregulation,
    "preregistration": runs.apply_preregistration,
    "training_started": runs.apply_training_started,
    "training_halted": runs.apply_training_halted,
    "training_completed": runs.apply_training_completed,
    "submission": runs.apply_submission,
    "eval_suite": decisions.apply_eval_suite,
    "eval_result": decisions.apply_eval_result,
    "contest_finding": decisions.apply_contest_finding,
    "contest_resolution": decisions.apply_contest_resolution,
    "decision": decisions.apply_decision,
    "reveal": reveals.apply_reveal,
    "schedule_marker": reveals.apply_schedule_marker,
    "model_update": models.apply_model_update,
    "compute_attestation": compute.apply_compute_attestation,
    "organisation": compute.apply_organisation,
    "key_grant": governance.apply_key_grant,
    "key_revoke": governance.apply_key_revoke,
    "charter_amendment": governance.apply_charter_amendment,
    "staff_declaration": governance.apply_staff_declaration,
    "research_access": access.apply_research_access,
}


class PolicyEngine:
    """Schedule state plus the rules S1–S14 (and L2 on time order)."""

    def __init__(self, blobs: Mapping[str, bytes] | None = None) -> None:
        self.state = PolicyState()
        #: Revealed documents by SHA-256 hex (content served as blobs), for S14.
        self.blobs = blobs if blobs is not None else {}
        self._checks: dict[str, Check] = {
            **CHECKS,
            "reveal": partial(_check_reveal, blobs=self.blobs),
        }

    def check(self, index: int, payload: Payload, logged_ms: int) -> list[Finding]:
        """Findings the entry would cause if logged at *index* at *logged_ms* (read-only)."""
        out: list[Finding] = []
        st = self.state
        if st.last_logged_ms and logged_ms < st.last_logged_ms:
            out.append(
                violation(
                    "L2",
                    (index - 1, index),
                    "logged_at goes backwards: this entry was logged before the one preceding it",
                )
            )
        if isinstance(payload.body, Charter) or st.charter is None:
            return out
        rule = self._checks.get(payload.type)
        if rule is not None:
            out.extend(rule(st, index, payload.body, logged_ms))
        return out

    def apply(
        self, index: int, payload: Payload, logged_ms: int, findings: list[Finding] | None = None
    ) -> list[Finding]:
        """Judge the entry (as :meth:`check`, unless its *findings* are given) and add it."""
        if findings is None:
            findings = self.check(index, payload, logged_ms)
        body = payload.body
        st = self.state
        st.last_logged_ms = max(st.last_logged_ms, logged_ms)
        if isinstance(body, Charter):
            _apply_charter(st, index, body)
            return findings
        if st.charter is None:
            return findings
        record = APPLIES.get(payload.type)
        if record is not None:
            record(st, index, body, logged_ms)
        reveals.record_sealed(st, index, body, logged_ms)
        _record_breaches(st, index, payload, findings)
        return findings

    def time_findings(self, now_ms: int) -> list[Finding]:
        """Findings that depend on deadlines having passed by *now_ms*."""
        return deadlines.time_findings(self.state, now_ms)


#: The rules whose violation on a run's entries no approval may rest on (S6).
RUN_RULES = frozenset({"S1", "S2", "S3", "S4", "S5"})


def _record_breaches(
    st: PolicyState, index: int, payload: Payload, findings: list[Finding]
) -> None:
    """Keep the run's violations of S1-S5 on its first version, for S6."""
    breaches = [
        (f.rule, f.indices) for f in findings if f.severity == VIOLATION and f.rule in RUN_RULES
    ]
    if not breaches:
        return
    body = payload.body
    prereg = (
        index
        if payload.type == "preregistration"
        # A provider's attestation names the run it served (S1 on its evidence).
        else body.run
        if isinstance(body, ComputeAttestation)
        else getattr(body, "preregistration", None)
    )
    run = st.runs.get(prereg) if isinstance(prereg, int) else None
    if run is not None:
        st.runs[run.root].breaches.extend(breaches)
        st.taint(run.root)


def _check_reveal(
    st: PolicyState, index: int, body: Any, logged_ms: int, *, blobs: Mapping[str, bytes]
) -> list[Finding]:
    return reveals.check_reveal(st, index, body, logged_ms, blobs)


def _apply_charter(st: PolicyState, index: int, charter: Charter) -> None:
    st.charter = charter
    st.calendar = Calendar.of(charter)
    for rk in charter.root_keys:  # the board's root keys, each held by its name (S19)
        governance.hold_key(st, rk.name, rk.keyid, index, 0, roles=("board",))
    # The charter's level table gives each level its cap from the start; when a level
    # becomes trainable is its lift (docs/policy-notes.md, S2), not its cap.
    for lc in charter.levels:
        st.caps.setdefault(lc.level, []).append((0, flop(lc.cap_flop), index))
