"""One valid example payload of every v1 entry type (test data, fictional)."""

from __future__ import annotations

import base64
from typing import Any

from verifier.core.mldsa import MLDSA44Signer
from verifier.core.note import Ed25519Signer

ORIGIN = "ledger.example/log"
KEY = base64.b64encode(bytes(range(1, 33))).decode()
DIGEST = "ab" * 32


def doc(sealed: bool = False) -> dict[str, Any]:
    return {"sealed": sealed, "sha256": DIGEST}


EXAMPLES: dict[str, dict[str, Any]] = {
    "charter": {
        "regulator": {"name": "Frontier Compute Authority", "jurisdiction": "Example Republic"},
        "simulation": True,
        "calendar": {
            "lift": "01-01",
            "submission_deadline": "06-30",
            "decision": "12-31",
            "time_zone": "UTC",
        },
        "first_cycle": 2027,
        "levels": [
            {"level": 0, "cap_flop": "1e25"},
            {"level": 1, "cap_flop": "1e26"},
            {"level": 2, "cap_flop": "3e26"},
        ],
        "initial_frontier_level": 1,
        "deregulation_lag": 2,
        "notice_period_days": 90,
        "preregistration_lead_days": 30,
        "late_decision_limit_days": 60,
        "contest_reply_limit_days": 30,
        "reveal_deadline_days": 365,
        "compute_tolerance": "0.05",
        "root_keys": [{"name": "Governor A", "keyid": "cd" * 32, "public_key": KEY}],
        "board_quorum": 1,
        "decision_quorum": 1,
    },
    "key_grant": {
        "keyid": "cd" * 32,
        "public_key": KEY,
        "roles": ["lab:acme"],
        "holder": "Acme compliance",
        "reason": "onboarding",
    },
    "key_revoke": {"keyid": "cd" * 32, "reason": "key rotated"},
    "organisation": {
        "org_id": "acme",
        "legal_name": "Acme Intelligence Ltd",
        "jurisdiction": "Example Republic",
        "kind": "lab",
    },
    "threshold_schedule": {"level": 2, "cap_flop": "3e26", "effective_date": "2028-01-01"},
    "threshold_postponement": {
        "level": 3,
        "from_cycle": 2029,
        "to_cycle": 2030,
        "reason": "no level-2 model approved",
    },
    "deregulation": {"level": 0, "effective_date": "2028-01-01"},
    "preregistration": {
        "org": "acme",
        "run_id": "acme-2027-a",
        "model_name": "Acme One",
        "cycle": 2027,
        "level": 1,
        "planned_flop": "8e25",
        "flop_method": "6 x parameters x tokens",
        "flop_confidence": "0.9",
        "planned_params": "400000000000",
        "planned_start": "2027-01-04T00:00:00Z",
        "planned_end": "2027-05-31T00:00:00Z",
        "hardware": {
            "chip_type": "accelerator-x",
            "chip_count": 20000,
            "site": "North campus",
            "country": "XR",
        },
        "energy_source": "hydro",
        "expected_behaviour": [{"eval": "bio-uplift", "forecast": "below threshold"}],
        "halting_criteria": ["loss spike above plan by 20%"],
        "plan": doc(sealed=True),
    },
    "training_started": {
        "preregistration": 5,
        "time": "2027-01-04T00:00:00Z",
        "cumulative_flop": "0",
    },
    "training_halted": {
        "preregistration": 5,
        "time": "2027-02-01T00:00:00Z",
        "cumulative_flop": "2e25",
        "halt_criterion": "loss spike",
    },
    "training_completed": {
        "preregistration": 5,
        "time": "2027-05-30T00:00:00Z",
        "cumulative_flop": "7.9e25",
    },
    "submission": {
        "preregistration": 5,
        "model_digest": DIGEST,
        "final_flop": "7.9e25",
        "submitted_at": "2027-06-01T12:00:00Z",
    },
    "eval_suite": {"suite_id": "core", "version": "2027.1", "levels": [1], "public": doc()},
    "eval_result": {
        "submission": 9,
        "suite": 10,
        "outcome": "pass",
        "results": [{"category": "bio-uplift", "outcome": "pass"}],
        "report": doc(),
    },
    "contest_finding": {
        "submission": 9,
        "summary": "jailbreak reproduces uplift",
        "evidence": doc(sealed=True),
    },
    "contest_resolution": {
        "finding": 12,
        "outcome": "upheld_in_part",
        "remedied": True,
        "reason": "patched",
    },
    "decision": {
        "submission": 9,
        "outcome": "approved",
        "eval_results": [11],
        "findings": [13],
        "reason": "passed",
    },
    "reveal": {"commitment": 5, "salt": KEY, "content_sha256": DIGEST},
    "schedule_marker": {"marker": "submission_window_closed", "cycle": 2027},
    "log_key_change": {
        "new_vkey": Ed25519Signer.from_seed(ORIGIN, bytes(range(7, 39))).verifier.vkey,
        "old_key_hash": Ed25519Signer.from_seed(ORIGIN, bytes(range(32))).key_id.hex(),
        "overlap_end": "2027-03-01T00:00:00Z",
        "reason": "scheduled rotation",
        "new_mldsa_vkey": MLDSA44Signer.from_seed(ORIGIN, bytes(range(32))).verifier.vkey,
    },
    "model_update": {
        "preregistration": 5,
        "decision": 14,
        "description": "a faster tool-use scaffold; same weights",
        "model_digest": DIGEST,
        "inference": {
            "scaffolding": ["code interpreter", "web search"],
            "max_inference_flop_per_task": "1e17",
            "post_training": [{"method": "rl", "flop": "2e23", "description": "tool use"}],
        },
        "added_posttraining_flop": "1e22",
        "offered_from": "2028-02-01T00:00:00Z",
    },
    "compute_attestation": {
        "provider": "stratus",
        "organisation": "acme",
        "cluster": "Stratus East 4",
        "period_start": "2027-01-01T00:00:00Z",
        "period_end": "2027-04-01T00:00:00Z",
        "flop_delivered": "6e25",
        "run": 5,
    },
    "charter_amendment": {
        "changes": {"late_decision_limit_days": 45, "evaluation_scope": ["bio-uplift", "cyber"]},
        "effective_date": "2028-01-01",
        "reason": "decisions on late submissions were taking too long",
    },
    "observer_statement": {
        "about": 11,
        "kind": "attendance",
        "statement": "attended the evaluation on site",
    },
    "staff_declaration": {
        "staff": "Evaluation officer 7",
        "kind": "departure",
        "organisation": "acme",
        "date": "2027-10-01",
        "statement": "leaves the regulator; joins Acme",
    },
    "research_access": {
        "decisions": [14],
        "institutions": ["Institute for Alignment Studies (fictional)"],
        "access_from": "2028-01-15",
        "access_until": "2029-01-15",
    },
}


def payload(entry_type: str, **overrides: Any) -> dict[str, Any]:
    body = {"type": entry_type, "v": 1, "log": ORIGIN, **EXAMPLES[entry_type]}
    body.update(overrides)
    return body
