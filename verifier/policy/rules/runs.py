"""Runs: pre-registered before training (S1), within the cap and after the lift
(S2), within plan and cap or halted (S3), amended only before training (S4), a
halted run not submitted (S5)."""

from __future__ import annotations

from decimal import Decimal

from verifier.entries.fields import parse_time
from verifier.entries.payloads import (
    Preregistration,
    Submission,
    TrainingCompleted,
    TrainingHalted,
    TrainingStarted,
)
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, fmt_flop, refused, violation
from verifier.policy.state import PolicyState, Run, Sub, flop


def check_preregistration(
    st: PolicyState, index: int, b: Preregistration, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    cap = st.cap_at(b.level, parse_time(b.planned_start, "planned_start"))
    scheduled = st.caps.get(b.level)
    if scheduled is None:
        out.append(
            refused(
                "S2",
                (index,),
                f"run {b.run_id} is planned at level {b.level}, which has no cap in the charter or a threshold schedule",
            )
        )
    else:
        limit = cap if cap is not None else scheduled[-1][1]
        if flop(b.planned_flop) > limit:
            out.append(
                refused(
                    "S2",
                    (index,),
                    f"run {b.run_id} plans {b.planned_flop} FLOP, above the level-{b.level} cap of {fmt_flop(limit)} FLOP",
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
            if old.superseded_by is not None:
                out.append(
                    finding(
                        "S4",
                        WARNING,
                        (b.supersedes, old.superseded_by, index),
                        f"amendment of a pre-registration that was already amended (entry {old.superseded_by})",
                    )
                )
    return out


def apply_preregistration(st: PolicyState, index: int, b: Preregistration, logged_ms: int) -> None:
    root = index
    if b.supersedes is not None and b.supersedes in st.runs:
        old = st.runs[b.supersedes]
        old.superseded_by = index
        root = old.root
    st.runs[index] = Run(
        index, b.org, b.run_id, b.level, b.cycle, flop(b.planned_flop), logged_ms, root
    )


def _compute(
    st: PolicyState, index: int, run: Run, reported: int, what: str, *, halted: bool
) -> list[Finding]:
    allowed = Decimal(run.planned_flop) * (1 + st.tolerance())
    cap = st.cap_at(run.level, 2**62)
    over_plan = Decimal(reported) > allowed
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
    out = _compute(st, index, run, flop(b.cumulative_flop), "training event", halted=halted)
    if run.superseded_by is not None:
        out.append(
            finding(
                "S4",
                WARNING,
                (run.index, run.superseded_by, index),
                f"training event refers to entry {run.index}, which was amended by entry {run.superseded_by}",
            )
        )
    return out


def check_training_started(
    st: PolicyState, index: int, b: TrainingStarted, logged_ms: int
) -> list[Finding]:
    out = _training(st, index, b, logged_ms)
    run = st.runs.get(b.preregistration)
    if run is None:
        return out
    start = parse_time(b.time, "time")
    lead = st.rules.preregistration_lead_days
    if run.level > st.deregulated_level_at(start):
        if start < run.logged_ms:
            out.append(
                violation(
                    "S1",
                    (run.index, index),
                    f"run {run.run_id} claims to have started ({b.time}) before its pre-registration was logged ({fmt_date(run.logged_ms)})",
                )
            )
        elif start < run.logged_ms + lead * DAY_MS:
            out.append(
                violation(
                    "S1",
                    (run.index, index),
                    f"run {run.run_id} started {b.time}, less than the {lead}-day lead time after its pre-registration ({fmt_date(run.logged_ms)})",
                )
            )
        effective = st.level_effective_ms(run.level)
        if effective is None or start < effective:
            when = f"before level {run.level} was lifted" + (
                f" ({fmt_date(effective)})" if effective else " (it has not been)"
            )
            out.append(
                violation("S2", (run.index, index), f"run {run.run_id} started {b.time}, {when}")
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


def apply_training_started(st: PolicyState, index: int, b: TrainingStarted, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is not None and run.started is None:
        run.started = index
        st.runs[run.root].chain_started = True


def check_training_halted(
    st: PolicyState, index: int, b: TrainingHalted, logged_ms: int
) -> list[Finding]:
    return _training(st, index, b, logged_ms)


def apply_training_halted(st: PolicyState, index: int, b: TrainingHalted, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is not None:
        run.halted = index


def check_training_completed(
    st: PolicyState, index: int, b: TrainingCompleted, logged_ms: int
) -> list[Finding]:
    return _training(st, index, b, logged_ms)


def check_submission(st: PolicyState, index: int, b: Submission, logged_ms: int) -> list[Finding]:
    out: list[Finding] = []
    run = st.runs.get(b.preregistration)
    if run is None:
        return out
    if run.halted is not None:
        out.append(
            refused(
                "S5",
                (run.index, run.halted, index),
                f"run {run.run_id} was halted (entry {run.halted}) and is submitted without a new pre-registration",
            )
        )
    out += _compute(st, index, run, flop(b.final_flop), "final compute at submission", halted=False)
    return out


def apply_submission(st: PolicyState, index: int, b: Submission, logged_ms: int) -> None:
    run = st.runs.get(b.preregistration)
    if run is None:
        return
    marker = st.markers.get((run.cycle, "submission_window_closed"))
    on_time = logged_ms < st.cal.window_closes_ms(run.cycle) and marker is None
    st.subs[index] = Sub(index, b.preregistration, run.cycle, run.level, logged_ms, on_time)
    if not on_time:
        st.late.setdefault(run.cycle, []).append(index)
