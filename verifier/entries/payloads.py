"""The v1 payload types of POLICY.md, as frozen dataclasses.

Each field's ``Annotated`` spec drives both the strict parser and the JSON
Schema (:mod:`verifier.entries.codec`). Every payload also carries ``type``,
``v`` (schema version) and ``log`` (the origin it is meant for), checked by the
codec. References name earlier entries by log index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from verifier.entries.fields import (
    COUNT,
    DATE,
    DAYS,
    DECIMAL,
    DIGEST,
    FLOP,
    IDENT,
    KEYHASH,
    KEYID,
    LEVEL,
    LOG_VKEY,
    MLDSA_VKEY,
    MONTHDAY,
    NAME,
    PUBKEY,
    ROLE,
    TEXT,
    TIME,
    YEAR,
    Spec,
    enum,
    index_ref,
    parse_monthday,
)

# -- nested objects ------------------------------------------------------------


@dataclass(frozen=True)
class Regulator:
    name: Annotated[str, NAME]
    jurisdiction: Annotated[str, NAME]


@dataclass(frozen=True)
class Calendar:
    lift: Annotated[str, MONTHDAY]
    submission_deadline: Annotated[str, MONTHDAY]
    decision: Annotated[str, MONTHDAY]
    time_zone: Annotated[str, Spec("enum", "time zone of the calendar", choices=("UTC",))]

    def out_of_order(self) -> str | None:
        """Why the month-days are not in order within a year (None when they are): each
        cycle runs from its lift through its submission deadline to its decision date,
        all in the year that names it, so a decision before the deadline (or a deadline
        before the lift) leaves no day on which the cycle could be decided as the rules
        require."""
        lift = parse_monthday(self.lift, "lift")
        deadline = parse_monthday(self.submission_deadline, "submission_deadline")
        if lift < deadline < parse_monthday(self.decision, "decision"):
            return None
        return (
            f"the calendar's days are not in order within a year (lift {self.lift}, "
            f"submission deadline {self.submission_deadline}, decision {self.decision}): a "
            "cycle is lifted, then closes its window, then is decided, in the year that "
            "names it"
        )


@dataclass(frozen=True)
class LevelCap:
    level: Annotated[int, LEVEL]
    cap_flop: Annotated[str, FLOP]


@dataclass(frozen=True)
class RootKey:
    name: Annotated[str, NAME]
    keyid: Annotated[str, KEYID]
    public_key: Annotated[str, PUBKEY]


@dataclass(frozen=True)
class Hardware:
    chip_type: Annotated[str, NAME]
    chip_count: Annotated[int, COUNT]
    site: Annotated[str, NAME]
    country: Annotated[str, Spec("text", "ISO 3166-1 alpha-2 country code", max_len=2)]


@dataclass(frozen=True)
class Forecast:
    eval: Annotated[str, NAME]
    forecast: Annotated[str, TEXT]


@dataclass(frozen=True)
class Document:
    """A document kept outside the log: public (digest of the content) or sealed
    (``SHA-256("frontier-ledger/commitment/v1\\n" || salt32 || content)``)."""

    sealed: bool
    sha256: Annotated[str, DIGEST]


@dataclass(frozen=True)
class PostTraining:
    """Compute spent on the model after pre-training (part of what a model is)."""

    method: Annotated[str, enum("fine_tuning", "rl", "distillation", "other")]
    flop: Annotated[str, FLOP]
    description: Annotated[str, TEXT] = ""


@dataclass(frozen=True)
class InferenceConfig:
    """How the model is run: part of its definition, so an approval covers exactly the
    configuration evaluated (docs/policy-notes.md, "What a model is")."""

    scaffolding: tuple[Annotated[str, NAME], ...]
    max_inference_flop_per_task: Annotated[str, FLOP]
    post_training: tuple[PostTraining, ...] = ()
    document: Document | None = None


@dataclass(frozen=True)
class CharterChanges:
    """What a charter amendment changes; every field it leaves out stays as it was."""

    calendar: Calendar | None = None
    calendar_from_cycle: Annotated[int, YEAR] | None = None
    preregistration_lead_days: Annotated[int, DAYS] | None = None
    notice_period_days: Annotated[int, DAYS] | None = None
    late_decision_limit_days: Annotated[int, DAYS] | None = None
    contest_reply_limit_days: Annotated[int, DAYS] | None = None
    reveal_deadline_days: Annotated[int, DAYS] | None = None
    compute_tolerance: Annotated[str, DECIMAL] | None = None
    report_tolerance_hours: (
        Annotated[
            int,
            Spec("int", "hours a claimed time may lie from its logging", minimum=0, maximum=8760),
        ]
        | None
    ) = None
    evaluation_scope: tuple[Annotated[str, NAME], ...] | None = None
    posttraining_update_threshold_flop: Annotated[str, FLOP] | None = None
    inference_update_threshold_flop: Annotated[str, FLOP] | None = None
    attestation_tolerance: Annotated[str, DECIMAL] | None = None
    attestation_interval_days: Annotated[int, DAYS] | None = None
    compute_window_days: Annotated[int, DAYS] | None = None
    research_access_limit_days: Annotated[int, DAYS] | None = None
    research_access_min_days: Annotated[int, DAYS] | None = None
    cooling_off_days: Annotated[int, DAYS] | None = None


@dataclass(frozen=True)
class CategoryResult:
    category: Annotated[str, NAME]
    outcome: Annotated[str, enum("pass", "fail")]
    detail: Annotated[str, TEXT] = ""


# -- entry types -----------------------------------------------------------------


@dataclass(frozen=True)
class Charter:
    """Index 0: the rules of this log, signed by the board's root keys."""

    regulator: Regulator
    simulation: bool
    calendar: Calendar
    first_cycle: Annotated[int, YEAR]
    levels: tuple[LevelCap, ...]
    initial_frontier_level: Annotated[int, LEVEL]
    deregulation_lag: Annotated[
        int, Spec("int", "levels below the frontier that are deregulated", minimum=1, maximum=8)
    ]
    notice_period_days: Annotated[int, DAYS]
    preregistration_lead_days: Annotated[int, DAYS]
    late_decision_limit_days: Annotated[int, DAYS]
    contest_reply_limit_days: Annotated[int, DAYS]
    reveal_deadline_days: Annotated[int, DAYS]
    compute_tolerance: Annotated[str, DECIMAL]
    root_keys: tuple[RootKey, ...]
    board_quorum: Annotated[
        int, Spec("int", "signatures of root keys needed", minimum=1, maximum=16)
    ]
    decision_quorum: Annotated[
        int, Spec("int", "regulator signatures on a decision", minimum=1, maximum=16)
    ]
    #: How far a claimed time (a start, a halt, a submission time) may lie from the
    #: time its entry was logged before it is flagged (docs/policy-notes.md).
    report_tolerance_hours: Annotated[
        int,
        Spec("int", "hours a claimed time may differ from its logging", minimum=0, maximum=8760),
    ] = 48
    #: The regulator's scope: the evaluation categories it may assess (empty: any).
    evaluation_scope: tuple[Annotated[str, NAME], ...] = ()
    #: An update to an approved model that adds more post-training compute than this,
    #: or raises its per-task inference ceiling by more than the next, is evaluated
    #: and decided anew before it is offered (S15).
    posttraining_update_threshold_flop: Annotated[str, FLOP] = "1e24"
    inference_update_threshold_flop: Annotated[str, FLOP] = "1e18"
    #: A run reporting less compute than attested for it by more than this share (S16).
    attestation_tolerance: Annotated[str, DECIMAL] = "0.25"
    #: A compute provider silent for longer than this is shown as such (S16 notice).
    attestation_interval_days: Annotated[int, DAYS] = 90
    #: Compute attested to an organisation naming none of its runs is summed over
    #: this many days, and a run never reported over covers compute until this long
    #: after its planned end (S16).
    compute_window_days: Annotated[int, DAYS] = 365
    #: Researchers' access to an approved model opens within this many days (S17)…
    research_access_limit_days: Annotated[int, DAYS] = 30
    #: …and lasts at least this long (the plan: "for the next year").
    research_access_min_days: Annotated[int, DAYS] = 365
    #: A former staff member may not hold a lab's key within this many days (S19).
    cooling_off_days: Annotated[int, DAYS] = 365


@dataclass(frozen=True)
class KeyGrant:
    keyid: Annotated[str, KEYID]
    public_key: Annotated[str, PUBKEY]
    roles: tuple[Annotated[str, ROLE], ...]
    holder: Annotated[str, NAME]
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class KeyRevoke:
    keyid: Annotated[str, KEYID]
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class LogKeyChange:
    """The log changes the key it signs checkpoints with (a key rotation).

    From this entry until overlap_end the log signs every checkpoint with both
    its old key (key hash old_key_hash) and new_vkey; after it, with new_vkey
    only. A verifier that verified, under a key it trusts, a checkpoint whose
    tree holds this entry may trust new_vkey (and new_mldsa_vkey) from then on."""

    new_vkey: Annotated[str, LOG_VKEY]
    old_key_hash: Annotated[str, KEYHASH]
    overlap_end: Annotated[str, TIME]
    reason: Annotated[str, TEXT]
    new_mldsa_vkey: Annotated[str, MLDSA_VKEY] | None = None


@dataclass(frozen=True)
class Organisation:
    org_id: Annotated[str, IDENT]
    legal_name: Annotated[str, NAME]
    jurisdiction: Annotated[str, NAME]
    kind: Annotated[str, enum("lab", "evaluator", "contester")]


@dataclass(frozen=True)
class ThresholdSchedule:
    level: Annotated[int, LEVEL]
    cap_flop: Annotated[str, FLOP]
    effective_date: Annotated[str, DATE]


@dataclass(frozen=True)
class ThresholdPostponement:
    level: Annotated[int, LEVEL]
    from_cycle: Annotated[int, YEAR]
    to_cycle: Annotated[int, YEAR]
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class Deregulation:
    level: Annotated[int, LEVEL]
    effective_date: Annotated[str, DATE]
    reason: Annotated[str, TEXT] = ""


@dataclass(frozen=True)
class Preregistration:
    org: Annotated[str, IDENT]
    run_id: Annotated[str, IDENT]
    model_name: Annotated[str, NAME]
    cycle: Annotated[int, YEAR]
    level: Annotated[int, LEVEL]
    planned_flop: Annotated[str, FLOP]
    flop_method: Annotated[str, TEXT]
    flop_confidence: Annotated[str, DECIMAL]
    planned_params: Annotated[str, FLOP]
    planned_start: Annotated[str, TIME]
    planned_end: Annotated[str, TIME]
    hardware: Hardware
    energy_source: Annotated[str, NAME]
    expected_behaviour: tuple[Forecast, ...]
    halting_criteria: tuple[Annotated[str, TEXT], ...]
    plan: Document
    supersedes: Annotated[int, index_ref("preregistration")] | None = None


@dataclass(frozen=True)
class TrainingStarted:
    preregistration: Annotated[int, index_ref("preregistration")]
    time: Annotated[str, TIME]
    cumulative_flop: Annotated[str, FLOP]


@dataclass(frozen=True)
class TrainingHalted:
    preregistration: Annotated[int, index_ref("preregistration")]
    time: Annotated[str, TIME]
    cumulative_flop: Annotated[str, FLOP]
    halt_criterion: Annotated[str, TEXT]


@dataclass(frozen=True)
class TrainingCompleted:
    preregistration: Annotated[int, index_ref("preregistration")]
    time: Annotated[str, TIME]
    cumulative_flop: Annotated[str, FLOP]


@dataclass(frozen=True)
class Submission:
    preregistration: Annotated[int, index_ref("preregistration")]
    model_digest: Annotated[str, DIGEST]
    final_flop: Annotated[str, FLOP]
    submitted_at: Annotated[str, TIME]
    #: A changed model that remedies an upheld contest finding: the resolution it answers.
    remedies: Annotated[int, index_ref("contest_resolution")] | None = None
    #: How the model is run (scaffolding, inference ceiling, post-training): evaluated
    #: and approved together with the weights.
    inference: InferenceConfig | None = None
    #: This submission evaluates an update of an approved model (S15).
    updates: Annotated[int, index_ref("model_update")] | None = None


@dataclass(frozen=True)
class EvalSuite:
    suite_id: Annotated[str, IDENT]
    version: Annotated[str, IDENT]
    levels: tuple[Annotated[int, LEVEL], ...]
    public: Document
    secret: Document | None = None


@dataclass(frozen=True)
class EvalResult:
    submission: Annotated[int, index_ref("submission")]
    suite: Annotated[int, index_ref("eval_suite")]
    outcome: Annotated[str, enum("pass", "fail")]
    results: tuple[CategoryResult, ...]
    report: Document


@dataclass(frozen=True)
class ContestFinding:
    submission: Annotated[int, index_ref("submission")]
    summary: Annotated[str, TEXT]
    evidence: Document


@dataclass(frozen=True)
class ContestResolution:
    finding: Annotated[int, index_ref("contest_finding")]
    outcome: Annotated[str, enum("upheld", "upheld_in_part", "dismissed")]
    remedied: bool
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class Decision:
    submission: Annotated[int, index_ref("submission")]
    outcome: Annotated[str, enum("approved", "rejected")]
    eval_results: tuple[Annotated[int, index_ref("eval_result")], ...]
    findings: tuple[Annotated[int, index_ref("contest_resolution")], ...]
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class Reveal:
    commitment: Annotated[
        int, index_ref("preregistration", "eval_suite", "eval_result", "contest_finding")
    ]
    salt: Annotated[str, Spec("b64key", "the 32-byte salt, standard base64", max_len=44)]
    content_sha256: Annotated[str, DIGEST]


@dataclass(frozen=True)
class ScheduleMarker:
    marker: Annotated[str, enum("submission_window_closed", "decision_due", "lift_date")]
    cycle: Annotated[int, YEAR]


@dataclass(frozen=True)
class ModelUpdate:
    """A change to an approved model, declared by its lab before it is offered."""

    preregistration: Annotated[int, index_ref("preregistration")]
    decision: Annotated[int, index_ref("decision")]
    description: Annotated[str, TEXT]
    model_digest: Annotated[str, DIGEST]
    inference: InferenceConfig
    added_posttraining_flop: Annotated[str, FLOP]
    offered_from: Annotated[str, TIME]
    #: A significant update: the submission of the updated model that was approved.
    evaluated_as: Annotated[int, index_ref("submission")] | None = None


@dataclass(frozen=True)
class ComputeAttestation:
    """A compute provider's signed statement of compute it delivered to an organisation."""

    provider: Annotated[str, IDENT]
    organisation: Annotated[str, IDENT]
    cluster: Annotated[str, NAME]
    period_start: Annotated[str, TIME]
    period_end: Annotated[str, TIME]
    flop_delivered: Annotated[str, FLOP]
    #: The run the organisation says this compute served, if it names one.
    run: Annotated[int, index_ref("preregistration")] | None = None


@dataclass(frozen=True)
class CharterAmendment:
    """The board changes the charter's rules, with the notice period (S12)."""

    changes: CharterChanges
    effective_date: Annotated[str, DATE]
    reason: Annotated[str, TEXT]


@dataclass(frozen=True)
class ObserverStatement:
    """An international observer's statement: attendance at an evaluation, dissent…"""

    about: Annotated[
        int,
        index_ref(
            "preregistration", "submission", "eval_suite", "eval_result", "contest_finding",
            "contest_resolution", "decision", "threshold_schedule", "threshold_postponement",
            "deregulation", "model_update", "research_access", "charter_amendment",
            description="log index of the entry the statement is about",
        ),
    ]  # fmt: skip
    kind: Annotated[str, enum("attendance", "dissent", "concurrence", "note")]
    statement: Annotated[str, TEXT]
    document: Document | None = None


@dataclass(frozen=True)
class StaffDeclaration:
    """A regulator staff member's declaration: a conflict of interest, a divestment, or
    leaving the regulator (which starts the cooling-off period, S19)."""

    staff: Annotated[str, NAME]
    kind: Annotated[str, enum("conflict_of_interest", "divestment", "departure")]
    organisation: Annotated[str, IDENT]
    date: Annotated[str, DATE]
    statement: Annotated[str, TEXT]


@dataclass(frozen=True)
class ResearchAccess:
    """Alignment researchers' access to approved models (the plan: "for the next year")."""

    decisions: tuple[Annotated[int, index_ref("decision")], ...]
    institutions: tuple[Annotated[str, NAME], ...]
    access_from: Annotated[str, DATE]
    access_until: Annotated[str, DATE]
    terms: Document | None = None


#: type name → (dataclass, the role that must sign it). The charter may not
#: override these: the roles are part of the format, so auditors can rely on them.
TYPES: dict[str, tuple[type, str]] = {
    "charter": (Charter, "board"),
    "key_grant": (KeyGrant, "board"),
    "key_revoke": (KeyRevoke, "board"),
    "organisation": (Organisation, "regulator"),
    "threshold_schedule": (ThresholdSchedule, "regulator"),
    "threshold_postponement": (ThresholdPostponement, "regulator"),
    "deregulation": (Deregulation, "regulator"),
    "preregistration": (Preregistration, "lab"),
    "training_started": (TrainingStarted, "lab"),
    "training_halted": (TrainingHalted, "lab"),
    "training_completed": (TrainingCompleted, "lab"),
    "submission": (Submission, "lab"),
    "eval_suite": (EvalSuite, "evaluator"),
    "eval_result": (EvalResult, "evaluator"),
    "contest_finding": (ContestFinding, "contester"),
    "contest_resolution": (ContestResolution, "regulator"),
    "decision": (Decision, "regulator"),
    "reveal": (Reveal, "committer"),
    "schedule_marker": (ScheduleMarker, "log"),
    # New types go last: a replay state stores each entry's type by its position here.
    "log_key_change": (LogKeyChange, "board"),
    "model_update": (ModelUpdate, "lab"),
    "compute_attestation": (ComputeAttestation, "compute"),
    "charter_amendment": (CharterAmendment, "board"),
    "observer_statement": (ObserverStatement, "observer"),
    "staff_declaration": (StaffDeclaration, "regulator"),
    "research_access": (ResearchAccess, "regulator"),
}
