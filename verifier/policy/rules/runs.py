"""Runs: pre-registered before training (S1), within the cap and after the lift
(S2), within plan and cap or halted (S3), amended only before training (S4), a
halted run not submitted (S5)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict

from verifier.entries.fields import parse_time
from verifier.entries.payloads import (
    InferenceConfig,
    Preregistration,
    Submission,
    TrainingCompleted,
    TrainingHalted,
    TrainingStarted,
)
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date, fmt_time
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, fmt_flop, refused, violation
from verifier.policy.rules import attested
from verifier.policy.state import PolicyState, Run, Sub, exceeds, flop


def check_preregistration(
    st: PolicyState, index: int, b: Preregistration, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    # The plan is judged against the cap in force at its planned start (POLICY.md S2:
    # "the cap in force for its level on the start date"); none in force then is S2.
    cap = st.cap_at(b.level, parse_time(b.planned_start, "planned_start"))
    if cap is None:
        out.append(
            refused(
                "S2",
                (index,),
                f"run {b.run_id} is planned at level {b.level}, which has no cap in force at its planned start ({b.planned_start}) in the charter or a threshold schedule",
            )
        )
    elif flop(b.planned_flop) > cap:
        out.append(
            refused(
                "S2",
                (index,),
                f"run {b.run_id} plans {b.planned_flop} FLOP, above the level-{b.level} cap of {fmt_flop(cap)} FLOP",
            )
        )
    if b.supersedes is not None:
        old = st.runs.get(b.supersedes)
        if old is not None:
            root = st.runs[old.root]
            if root.chain_started:  # O(1): kept on the first version
                out.append(
                    refused(
                        "S4",
                        (b.supersedes, index),
                        f"run {root.run_id} is amended after its training started",
                    )
                )
            out += attested.amended_after_proof(st, index, b.supersedes, root, logged_ms)
            if old.first_amendment is not None:
                out.append(
                    finding(
                        "S4",
                        WARNING,
                        (b.supersedes, old.first_amendment, index),
                        f"amendment of a pre-registration that was already amended (entry {old.first_amendment})",
                    )
                )
    return out


def apply_preregistration(st: PolicyState, index: int, b: Preregistration, logged_ms: int) -> None:
    root = index
    if b.supersedes is not None and b.supersedes in st.runs:
        old = st.runs[b.supersedes]
        old.superseded_by = index
        if old.first_amendment is None:
            old.first_amendment = index
        root = old.root
    st.runs[index] = Run(
        index,
        b.org,
        b.run_id,
        b.level,
        b.cycle,
        flop(b.planned_flop),
        logged_ms,
        root,
        parse_time(b.planned_start, "planned_start"),
    )
    if root != index:
        first = st.runs[root]
        first.versions = (*first.versions, index)
        st.runs[index].supersedes = b.supersedes
    # A run's plan is for its cycle: its planned end counts up to the end of the
    # cycle's year, so a planned end years away cannot keep an unreported run covering
    # compute (S16, docs/policy-notes.md).
    cycle_end = day_start_ms(dt.date(b.cycle + 1, 1, 1))
    st.note_version(
        b.org,
        st.runs[root],
        logged_ms,
        flop(b.planned_flop),
        min(parse_time(b.planned_end, "planned_end"), cycle_end),
    )


def _compute(
    st: PolicyState, index: int, run: Run, reported: int, what: str, *, halted: bool, at: int
) -> list[Finding]:
    cap = st.cap_at(run.level, 2**62)
    over_plan = exceeds(reported, run.planned_flop, 1 + st.tolerance(at))
    over_cap = cap is not None and reported > cap
    if not (over_plan or over_cap):
        return []
    limit = "its cap" if over_cap else "its plan plus tolerance"
    if halted:
        return [
            finding(
                "S3",
                NOTICE,
                (run.index, index),
                f"run {run.run_id} exceeded {limit} and was halted, as required ({what})",
            )
        ]
    return [
        violation(
            "S3",
            (run.index, index),
            f"run {run.run_id} reports {fmt_flop(reported)} FLOP ({what}), above {limit}, without a halt",
        )
    ]


def _training(
    st: PolicyState,
    index: int,
    b: TrainingStarted | TrainingHalted | TrainingCompleted,
    logged_ms: int,
) -> list[Finding]:
    run = st.runs.get(b.preregistration)
    if run is None:
        return []
    halted = isinstance(b, TrainingHalted)
    out = _compute(
        st, index, run, flop(b.cumulative_flop), "training event", halted=halted, at=logged_ms
    )
    if run.first_amendment is not None:
        out.append(
            finding(
                "S4",
                WARNING,
                (run.index, run.first_amendment, index),
                f"training event refers to entry {run.index}, which was amended by entry {run.first_amendment}",
            )
        )
    return out


def claimed_time_gap(
    st: PolicyState,
    rule: str,
    index: int,
    logged_ms: int,
    *,
    what: str,
    claimed: str,
    consequence: str = "",
    before_only: bool = False,
) -> list[Finding]:
    """A warning when a claimed time lies further from its entry's logged_at than the
    charter's reporting tolerance (docs/policy-notes.md, "Claimed times"); with
    *before_only*, only a claim earlier than the logging (a plan may be later)."""
    gap = parse_time(claimed, what) - logged_ms
    tolerance = st.report_tolerance_ms(logged_ms)
    if abs(gap) <= tolerance or (before_only and gap > 0):
        return []
    hours = st.rules_at(logged_ms).report_tolerance_hours
    days = abs(gap) // DAY_MS
    span = f"{days} days" if days >= 2 else f"{abs(gap) // 3_600_000} hours"
    if gap < 0:
        text = f"was logged {fmt_date(logged_ms)}, {span} after the {what} it claims ({claimed})"
    else:
        text = f"was logged {fmt_date(logged_ms)} but claims a {what} {span} later ({claimed})"
    return [
        finding(
            rule,
            WARNING,
            (index,),
            f"entry {index} {text}, beyond the {hours}-hour reporting tolerance{consequence}",
        )
    ]


def effective_start(claimed: str, logged_ms: int) -> int:
    """When a run started, as far as the rules are concerned: a start cannot be
    reported before it happens, so never later than its report was logged."""
    return min(parse_time(claimed, "time"), logged_ms)


def check_training_started(
    st: PolicyState, index: int, b: TrainingStarted, logged_ms: int
) -> list[Finding]:
    out = _training(st, index, b, logged_ms)
    out += claimed_time_gap(st, "S1", index, logged_ms, what="start", claimed=b.time)
    run = st.runs.get(b.preregistration)
    if run is None:
        return out
    start = effective_start(b.time, logged_ms)
    when = fmt_time(start)
    plan = st.plan_in_force(run, start)
    lead = st.rules_at(plan.logged_ms).preregistration_lead_days
    if plan.level > st.deregulated_level_at(start):
        if start < plan.logged_ms:
            out.append(
                violation(
                    "S1",
                    (plan.index, index),
                    f"run {run.run_id} started ({when}) before its pre-registration was logged ({fmt_date(plan.logged_ms)})",
                )
            )
        elif start < plan.logged_ms + lead * DAY_MS:
            text = (
                f"run {run.run_id} started {when}, less than the {lead}-day lead time after its pre-registration ({fmt_date(plan.logged_ms)})"
                if plan is run
                else f"run {run.run_id} started {when}, less than the {lead}-day lead time after entry {plan.index} amended its plan ({fmt_date(plan.logged_ms)}); the start names entry {run.index}, but the plan in force by then is entry {plan.index}, the run's latest version"
            )
            out.append(violation("S1", (plan.index, index), text))
    # S2 holds at a deregulated level too: deregulation lifts S1's oversight, but the
    # level's cap is what makes a run one of that level (docs/policy-notes.md, S2).
    effective = st.level_effective_ms(run.level)
    if effective is None or start < effective:
        lifted = f"before level {run.level} was lifted" + (
            f" ({fmt_date(effective)})" if effective else " (it has not been)"
        )
        out.append(
            violation("S2", (run.index, index), f"run {run.run_id} started {when}, {lifted}")
        )
    cap = st.cap_at(run.level, start)
    if cap is not None and run.planned_flop > cap:
        out.append(
            violation(
                "S2",
                (run.index, index),
                f"run {run.run_id} plans more than the level-{run.level} cap in force when it started",
            )
        )
    if run.started is not None:
        out.append(
            finding(
                "S4",
                WARNING,
                (run.started, index),
                f"run {run.run_id} reported its start twice",
            )
        )
    return out


def _reported(st: PolicyState, prereg: int, reported: int, index: int, logged_ms: int) -> None:
    """Keep the most compute a run reported, on its first version (S16 compares it)."""
    run = st.runs.get(prereg)
    if run is not None:
        root = st.runs[run.root]
        # The first report of the largest compute names it (docs/policy-notes.md, S16).
        if reported > root.reported_flop or root.reported_at is None:
            root.reported_flop, root.reported_at, root.reported_ms = reported, index, logged_ms


def apply_training_started(st: PolicyState, index: int, b: TrainingStarted, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is not None and run.started is None:
        run.started = index
        st.runs[run.root].chain_started = True
    _reported(st, b.preregistration, flop(b.cumulative_flop), index, logged_ms)


def check_training_halted(
    st: PolicyState, index: int, b: TrainingHalted, logged_ms: int
) -> list[Finding]:
    out = _training(st, index, b, logged_ms)
    return out + claimed_time_gap(st, "S3", index, logged_ms, what="halt", claimed=b.time)


def apply_training_halted(st: PolicyState, index: int, b: TrainingHalted, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is not None:
        run.halted = index
        st.note_run_end(st.runs[run.root], logged_ms, index)
    _reported(st, b.preregistration, flop(b.cumulative_flop), index, logged_ms)


def apply_training_completed(
    st: PolicyState, index: int, b: TrainingCompleted, logged_ms: int
) -> None:
    run = st.runs.get(b.preregistration)
    if run is not None:
        st.note_run_end(st.runs[run.root], logged_ms, index)
    _reported(st, b.preregistration, flop(b.cumulative_flop), index, logged_ms)


def check_training_completed(
    st: PolicyState, index: int, b: TrainingCompleted, logged_ms: int
) -> list[Finding]:
    out = _training(st, index, b, logged_ms)
    return out + claimed_time_gap(st, "S3", index, logged_ms, what="completion", claimed=b.time)


def check_submission(st: PolicyState, index: int, b: Submission, logged_ms: int) -> list[Finding]:
    out = claimed_time_gap(
        st,
        "S8",
        index,
        logged_ms,
        what="submission time",
        claimed=b.submitted_at,
        consequence=": it is on time or late by when it was logged",
    )
    run = st.runs.get(b.preregistration)
    if run is None:
        return out
    root = st.runs[run.root]
    # With no start reported, the plans' starts are the only word on when the run
    # trained: a run planned to start while its level was not deregulated must report
    # its start, even if the level is deregulated by its submission.
    when = logged_ms
    for i in (root.index, *root.versions):
        # A version's planned start counts if it was still the plan in force then: a
        # later amendment postponing the start, logged after that date, does not
        # undo it (docs/policy-notes.md, "The chain of an approval", link 4).
        version = st.runs[i]
        if st.plan_in_force(version, version.planned_start_ms) is version:
            when = min(when, version.planned_start_ms)
    if not root.chain_started and run.level > st.deregulated_level_at(when):
        out.append(
            refused(
                "S1",
                (run.index, index),
                f"run {run.run_id} is submitted, but its training start was never reported: report the start first",
            )
        )
    if run.halted is not None:
        out.append(
            refused(
                "S5",
                (run.index, run.halted, index),
                f"run {run.run_id} was halted (entry {run.halted}) and is submitted without a new pre-registration",
            )
        )
    out += _compute(
        st,
        index,
        run,
        flop(b.final_flop),
        "final compute at submission",
        halted=False,
        at=logged_ms,
    )
    return out


def config_digest(config: InferenceConfig | None) -> str:
    """A model's inference configuration as one digest: two are the same configuration
    exactly when their canonical JSON is the same (empty: none was given)."""
    if config is None:
        return ""
    body = json.dumps(asdict(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def posttraining_steps(config: InferenceConfig | None) -> tuple[tuple[str, int, str], ...]:
    """Each post-training step a configuration lists, as (method, FLOP, description)."""
    if config is None:
        return ()
    return tuple((p.method, flop(p.flop), p.description) for p in config.post_training)


def posttraining_not_in(
    config: InferenceConfig | None, before: tuple[tuple[str, int, str], ...]
) -> int:
    """The FLOP of the post-training steps *config* lists that *before* does not (each
    step of *before* matches one equal step, method, FLOP and description): a step
    swapped for another of equal FLOP is new post-training, not none (S15)."""
    left = list(before)
    added = 0
    for step in posttraining_steps(config):
        if step in left:
            left.remove(step)
        else:
            added += step[1]
    return added


def apply_submission(st: PolicyState, index: int, b: Submission, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is None:
        return
    marker = st.markers.get((run.cycle, "submission_window_closed"))
    on_time = logged_ms < st.cal.window_closes_ms(run.cycle) and marker is None
    remedied = st.remedied_submission(b.preregistration, b.model_digest, b.remedies)
    if remedied is not None:
        # A valid remedy is decided with its batch (docs/policy-notes.md, "Contests
        # and remedies"): it keeps the on-time status of the model it changes.
        on_time = remedied.on_time
    st.subs[index] = Sub(
        index,
        b.preregistration,
        run.cycle,
        run.level,
        logged_ms,
        on_time,
        model_digest=b.model_digest,
        remedies=b.remedies,
        config=config_digest(b.inference),
        max_inference_flop=flop(b.inference.max_inference_flop_per_task) if b.inference else 0,
        posttraining=posttraining_steps(b.inference),
    )
    root = st.runs[run.root]
    if all(digest != b.model_digest for digest, _ in root.digests):
        root.digests = (*root.digests, (b.model_digest, index))
        if root.breaches:
            st.taint(root.index)
    _reported(st, b.preregistration, flop(b.final_flop), index, logged_ms)
    if not on_time:
        st.late.setdefault(run.cycle, []).append(index)
