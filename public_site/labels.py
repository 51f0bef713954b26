"""Words for the payloads' field names and entry types, as the pages show them.

The wire names (``final_flop``, ``preregistration``, ``v``) are the format's and stay in
every JSON twin; a page shows a reader's label instead ("final compute (FLOP)"). A
field without a label here is shown with its underscores as spaces. The protocol
fields every payload carries (``type``, ``v``, ``log``) are not shown among what an
entry says: the entry page states them once, as its format.
"""

from __future__ import annotations

import re

#: Fields every payload carries (FORMATS.md "Payload"): shown as the entry's format.
PROTOCOL_FIELDS = ("type", "v", "log")

#: Fields that hold a document by digest (FORMATS.md "Blobs and commitments").
DOCUMENT_FIELDS = ("plan", "public", "secret", "report", "evidence", "document", "terms")

FIELD_LABELS = {
    # common
    "org": "organisation",
    "org_id": "organisation id",
    "run_id": "run id",
    "model_name": "model",
    "cycle": "cycle",
    "level": "compute level",
    "levels": "compute levels",
    "reason": "reason",
    # the charter
    "regulator": "regulator",
    "simulation": "a simulation",
    "calendar": "calendar",
    "lift": "lift date (month-day)",
    "submission_deadline": "submission deadline (month-day)",
    "calendar.decision": "decision date (month-day)",
    "time_zone": "time zone",
    "first_cycle": "first cycle",
    "cap_flop": "cap (FLOP)",
    "initial_frontier_level": "frontier level at the start",
    "deregulation_lag": "levels below the frontier that are deregulated",
    "notice_period_days": "notice period (days)",
    "preregistration_lead_days": "pre-registration lead time (days)",
    "late_decision_limit_days": "limit for late decisions (days)",
    "contest_reply_limit_days": "limit for contest replies (days)",
    "reveal_deadline_days": "limit for revealing sealed documents (days)",
    "compute_tolerance": "compute tolerance",
    "report_tolerance_hours": "reporting tolerance (hours)",
    "root_keys": "the board's root keys",
    "board_quorum": "board quorum (signatures)",
    "decision_quorum": "decision quorum (signatures)",
    # keys
    "keyid": "key id",
    "public_key": "public key",
    "roles": "roles",
    "holder": "holder",
    "name": "name",
    "new_vkey": "new log key",
    "new_mldsa_vkey": "new post-quantum log key",
    "old_key_hash": "replaced key (hash)",
    "overlap_end": "both keys sign until",
    # organisations
    "legal_name": "legal name",
    "jurisdiction": "jurisdiction",
    "kind": "kind",
    # thresholds
    "effective_date": "takes effect on",
    "from_cycle": "lift postponed from",
    "to_cycle": "lift postponed to",
    # pre-registrations
    "planned_flop": "planned compute (FLOP)",
    "flop_method": "how compute is counted",
    "flop_confidence": "confidence in the compute estimate",
    "planned_params": "planned parameters",
    "planned_start": "planned start",
    "planned_end": "planned end",
    "hardware": "hardware",
    "chip_type": "chip type",
    "chip_count": "number of chips",
    "site": "site",
    "country": "country",
    "energy_source": "energy source",
    "expected_behaviour": "expected behaviour",
    "eval": "evaluation",
    "forecast": "forecast",
    "halting_criteria": "halting criteria",
    "plan": "training plan",
    "supersedes": "replaces the pre-registration",
    # training and submission
    "preregistration": "pre-registration",
    "time": "at",
    "cumulative_flop": "compute so far (FLOP)",
    "halt_criterion": "halting criterion that fired",
    "model_digest": "model (SHA-256 of the weights)",
    "final_flop": "final compute (FLOP)",
    "submitted_at": "submitted at",
    "remedies": "remedies the contest resolution",
    # evaluation
    "suite_id": "suite",
    "version": "version",
    "public": "public description",
    "secret": "sealed test material",
    "submission": "submission",
    "suite": "evaluation suite",
    "outcome": "outcome",
    "results": "results by category",
    "category": "category",
    "detail": "detail",
    "report": "evaluation report",
    # contests and decisions
    "decision": "decision",
    "summary": "summary",
    "evidence": "evidence",
    "finding": "contest finding",
    "remedied": "remedied by a new submission",
    "eval_results": "evaluation results",
    "findings": "contest resolutions",
    # reveals and markers
    "commitment": "sealed in entry",
    "salt": "salt",
    "content_sha256": "revealed document (SHA-256)",
    "marker": "marker",
    # documents
    "sealed": "sealed",
    "sha256": "SHA-256",
    # the parameters of S15-S19 (charter and charter amendments)
    "evaluation_scope": "what the regulator may evaluate (categories)",
    # an update above either threshold is evaluated and decided anew (S15)
    "posttraining_update_threshold_flop": "update threshold: post-training added (FLOP)",
    "inference_update_threshold_flop": "update threshold: inference ceiling raised (FLOP per task)",
    "attestation_tolerance": "tolerance between reported and attested compute",
    "attestation_interval_days": "a compute provider attests at least every (days)",
    "compute_window_days": "compute window: an organisation's attested compute summed over (days)",
    "research_access_limit_days": "researchers' access opens within (days of approval)",
    "research_access_min_days": "researchers' access lasts at least (days)",
    "cooling_off_days": "cooling-off period for departing staff (days)",
    "changes": "what changes",
    "calendar_from_cycle": "new calendar from cycle",
    # what a model is: its inference configuration
    "inference": "inference configuration",
    "scaffolding": "scaffolding and tools",
    "max_inference_flop_per_task": "inference compute ceiling (FLOP per task)",
    "post_training": "post-training",
    "method": "method",
    "flop": "compute (FLOP)",
    "description": "description",
    "document": "document",
    "updates": "evaluates the model update",
    # model updates
    "added_posttraining_flop": "post-training compute added (FLOP)",
    "offered_from": "offered from",
    "evaluated_as": "evaluated and approved as the submission",
    # compute attestations
    "provider": "compute provider",
    "organisation": "organisation",
    "cluster": "cluster",
    "period_start": "period from",
    "period_end": "period to",
    "flop_delivered": "compute delivered (FLOP)",
    "run": "for the run (as the organisation says)",
    # observers, staff, researchers
    "about": "about the entry",
    "statement": "statement",
    "staff": "staff member",
    "date": "date",
    "decisions": "approvals (decisions)",
    "institutions": "research institutions",
    "access_from": "access from",
    "access_until": "access until",
    "terms": "terms of access",
    # protocol
    "type": "entry type",
    "v": "schema version",
    "log": "meant for the log",
}

TYPE_LABELS = {
    "charter": "charter",
    "key_grant": "key grant",
    "key_revoke": "key revocation",
    "log_key_change": "change of the log's key",
    "organisation": "organisation",
    "threshold_schedule": "threshold schedule",
    "threshold_postponement": "postponement of a lift",
    "deregulation": "deregulation",
    "preregistration": "pre-registration",
    "training_started": "report that training started",
    "training_halted": "report that training halted",
    "training_completed": "report that training completed",
    "submission": "submission",
    "eval_suite": "evaluation suite",
    "eval_result": "evaluation result",
    "contest_finding": "contest finding",
    "contest_resolution": "contest resolution",
    "decision": "decision",
    "reveal": "reveal of a sealed document",
    "schedule_marker": "schedule marker",
    "model_update": "update of an approved model",
    "compute_attestation": "compute attestation",
    "charter_amendment": "charter amendment",
    "observer_statement": "observer's statement",
    "staff_declaration": "staff declaration",
    "research_access": "researchers' access",
}

#: What a compute attestation's standing under S16 is, in words (the compute page).
COMPUTE_STATUS_LABELS = {
    "undeclared": "undeclared large run: no run under way when its period started covers it",
    "other_organisation": "names a run of another organisation",
    "covered": "covered by a run pre-registered before it and under way then",
    "free": "within what a deregulated run may use",
}

_INDEX = re.compile(r"\[[0-9]+\]")


def field_label(path: str) -> str:
    """A field (or a field path such as ``eval_results[0]`` or ``calendar.decision``) in
    words: the label of its longest labelled tail (``calendar.decision`` is a date of the
    calendar, ``decision`` an entry)."""
    parts = _INDEX.sub("", path).split(".")
    for i in range(len(parts)):
        label = FIELD_LABELS.get(".".join(parts[i:]))
        if label is not None:
            return label
    return parts[-1].replace("_", " ")


def type_label(entry_type: str) -> str:
    return TYPE_LABELS.get(entry_type, entry_type.replace("_", " "))


def a_type(entry_type: str) -> str:
    """The type with its article: "a submission", "an evaluation result"."""
    label = type_label(entry_type)
    return ("an " if label[:1] in "aeiou" else "a ") + label


def compute_status_label(status: str) -> str:
    """An attestation's status on the compute page (``undeclared``, ``covered``...) in words."""
    return COMPUTE_STATUS_LABELS.get(status, status.replace("_", " "))
