"""The policy engine: an incremental, pure replay of admitted entries into schedule state.

:meth:`PolicyEngine.check` judges one new entry against the state (read-only,
O(1) in the size of the log: dictionary look-ups only), which is what the
ledger's admission preflight runs. :meth:`PolicyEngine.apply` records it.
:meth:`PolicyEngine.time_findings` judges what only the passing of time can show
(a decision that never came, a contest left unanswered) at a time the caller
passes in — there is no clock in here.

Interpretations of POLICY.md that an auditor should know are marked "Choice:".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from verifier.entries.codec import Payload
from verifier.entries.fields import parse_date, parse_flop, parse_time
from verifier.entries.payloads import (
    Charter,
    ContestFinding,
    ContestResolution,
    Decision,
    Deregulation,
    Document,
    EvalResult,
    EvalSuite,
    Preregistration,
    Reveal,
    ScheduleMarker,
    Submission,
    ThresholdPostponement,
    ThresholdSchedule,
    TrainingCompleted,
    TrainingHalted,
    TrainingStarted,
)
from verifier.policy.calendar import DAY_MS, Calendar, date_of, day_start_ms, fmt_date
from verifier.policy.findings import NOT_AUDITABLE, NOTICE, VIOLATION, WARNING, Finding

COMMITMENT_PREFIX = b"frontier-ledger/commitment/v1\n"


@dataclass(slots=True)
class Run:
    index: int
    org: str
    run_id: str
    level: int
    cycle: int
    planned_flop: int
    logged_ms: int
    root: int  # index of the first version of this pre-registration
    superseded_by: int | None = None
    started: int | None = None  # index of training_started
    halted: int | None = None
    chain_started: bool = False  # on the first version: has any version started training?


@dataclass(slots=True)
class Sub:
    index: int
    prereg: int
    cycle: int
    level: int
    logged_ms: int
    on_time: bool
    decision: int | None = None
    results: list[int] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Contest:
    index: int
    submission: int
    logged_ms: int
    resolution: int | None = None
    resolved_ms: int | None = None
    outcome: str | None = None
    remedied: bool = False


@dataclass(slots=True)
class Sealed:
    index: int
    commitments: tuple[str, ...]
    logged_ms: int
    revealed: int | None = None


@dataclass
class PolicyState:
    charter: Charter | None = None
    calendar: Calendar | None = None
    caps: dict[int, list[tuple[int, int, int]]] = field(
        default_factory=dict
    )  # level -> [(effective_ms, cap, index)]
    lifts: list[tuple[int, int, int]] = field(default_factory=list)  # (effective_ms, level, index)
    postponed: dict[tuple[int, int], tuple[int, int, int]] = field(
        default_factory=dict
    )  # (level, from_cycle) -> (to_cycle, index, logged_ms)
    deregulated: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # (effective_ms, level, index)
    runs: dict[int, Run] = field(default_factory=dict)
    subs: dict[int, Sub] = field(default_factory=dict)
    suites: dict[int, int] = field(default_factory=dict)  # index -> logged_ms
    results: dict[int, tuple[int, int, str]] = field(
        default_factory=dict
    )  # index -> (submission, suite, outcome)
    contests: dict[int, Contest] = field(default_factory=dict)
    approvals: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # (logged_ms, level, decision index)
    late: dict[int, list[int]] = field(
        default_factory=dict
    )  # cycle -> late submission indices, in order
    markers: dict[tuple[int, str], int] = field(default_factory=dict)  # (cycle, marker) -> index
    sealed: dict[int, Sealed] = field(default_factory=dict)
    last_logged_ms: int = 0


def _flop(text: str) -> int:
    return parse_flop(text, "flop")


def fmt_flop(n: int | Decimal) -> str:
    """3 significant digits, as people write FLOP: 1e26, 7.9e25."""
    return f"{n:.3g}".replace("e+", "e")


def _sealed_docs(body: object) -> tuple[str, ...]:
    out: list[str] = []
    for name in ("plan", "public", "secret", "report", "evidence"):
        doc = getattr(body, name, None)
        if isinstance(doc, Document) and doc.sealed:
            out.append(doc.sha256)
    return tuple(out)


class PolicyEngine:
    """Schedule state plus the rules S1–S14 (and L2 on time order)."""

    def __init__(self, blobs: Mapping[str, bytes] | None = None) -> None:
        self.state = PolicyState()
        #: Revealed documents by SHA-256 hex (content served as blobs), for S14.
        self.blobs = blobs if blobs is not None else {}

    # -- helpers over the state --------------------------------------------

    @property
    def cal(self) -> Calendar:
        assert self.state.calendar is not None, "no charter applied"
        return self.state.calendar

    def cap_at(self, level: int, ms: int) -> int | None:
        cap = None
        for eff, value, _ in self.state.caps.get(level, []):
            if eff <= ms:
                cap = value
        return cap

    def frontier_at(self, ms: int) -> int:
        assert self.state.charter is not None
        level = self.state.charter.initial_frontier_level
        for eff, lv, _ in self.state.lifts:
            if eff <= ms and lv > level and not self._postponed(lv, eff):
                level = lv
        return level

    def _postponed(self, level: int, effective_ms: int) -> bool:
        """A lift is void if a postponement for its cycle was logged before it took effect."""
        p = self.state.postponed.get((level, date_of(effective_ms).year))
        return p is not None and p[2] < effective_ms

    def level_effective_ms(self, level: int) -> int | None:
        """When *level* became trainable (its lift, or the charter for the initial levels)."""
        assert self.state.charter is not None
        if level <= self.state.charter.initial_frontier_level:
            return (
                self.cal.lift_ms(self.state.charter.first_cycle)
                if level == self.state.charter.initial_frontier_level
                else 0
            )
        times = [
            eff for eff, lv, _ in self.state.lifts if lv == level and not self._postponed(lv, eff)
        ]
        return min(times) if times else None

    def deregulated_level_at(self, ms: int) -> int:
        level = -1
        for eff, lv, _ in self.state.deregulated:
            if eff <= ms:
                level = max(level, lv)
        return level

    def tolerance(self) -> Decimal:
        assert self.state.charter is not None
        return Decimal(self.state.charter.compute_tolerance)

    def approved_at_level_by(self, level: int, ms: int) -> int | None:
        for when, lv, index in self.state.approvals:
            if lv == level and when < ms:
                return index
        return None

    # -- the entry point -----------------------------------------------------

    def check(self, index: int, payload: Payload, logged_ms: int) -> list[Finding]:
        """Findings the entry would cause if logged at *index* at *logged_ms* (read-only)."""
        out: list[Finding] = []
        st = self.state
        if st.last_logged_ms and logged_ms < st.last_logged_ms:
            out.append(
                Finding(
                    "L2",
                    VIOLATION,
                    (index - 1, index),
                    "logged_at goes backwards: this entry was logged before the one preceding it",
                )
            )
        body = payload.body
        if isinstance(body, Charter) or st.charter is None:
            return out
        handler = getattr(self, f"_check_{payload.type}", None)
        if handler is not None:
            out.extend(handler(index, body, logged_ms))
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
            st.charter = body
            st.calendar = Calendar.of(body)
            first = self.cal.lift_ms(body.first_cycle)
            for lc in body.levels:
                st.caps.setdefault(lc.level, []).append(
                    (
                        0 if lc.level <= body.initial_frontier_level else first,
                        _flop(lc.cap_flop),
                        index,
                    )
                )
            return findings
        if st.charter is None:
            return findings
        handler = getattr(self, f"_apply_{payload.type}", None)
        if handler is not None:
            handler(index, body, logged_ms)
        sealed = _sealed_docs(body)
        if sealed:
            st.sealed[index] = Sealed(index, sealed, logged_ms)
        return findings

    # -- thresholds: S11, S12, S13 ---------------------------------------------

    def _notice(self, index: int, what: str, effective_ms: int, logged_ms: int) -> list[Finding]:
        assert self.state.charter is not None
        days = self.state.charter.notice_period_days
        if effective_ms - logged_ms < days * DAY_MS:
            return [
                Finding(
                    "S12",
                    VIOLATION,
                    (index,),
                    f"{what} takes effect on {fmt_date(effective_ms)}, less than the {days}-day notice period after it was logged ({fmt_date(logged_ms)})",
                    refusable=True,
                )
            ]
        return []

    def _check_threshold_schedule(
        self, index: int, b: ThresholdSchedule, logged_ms: int
    ) -> list[Finding]:
        out: list[Finding] = []
        eff_date = parse_date(b.effective_date, "effective_date")
        eff = day_start_ms(eff_date)
        out += self._notice(index, f"the cap of level {b.level}", eff, logged_ms)
        if not self.cal.is_lift_date(eff_date):
            out.append(
                Finding(
                    "S11",
                    VIOLATION,
                    (index,),
                    f"a threshold change takes effect on {b.effective_date}, which is not a lift date",
                    refusable=True,
                )
            )
            return out
        frontier = self.frontier_at(eff - 1)
        if b.level > frontier:
            if b.level > frontier + 1:
                out.append(
                    Finding(
                        "S11",
                        VIOLATION,
                        (index,),
                        f"a lift to level {b.level} skips level {frontier + 1}",
                        refusable=True,
                    )
                )
            cycle = eff_date.year
            postponed = self.state.postponed.get((b.level, cycle))
            if postponed is not None:
                out.append(
                    Finding(
                        "S11",
                        VIOLATION,
                        (index, postponed[1]),
                        f"the lift to level {b.level} in {cycle} was postponed to {postponed[0]} (entry {postponed[1]})",
                        refusable=True,
                    )
                )
        return out

    def _apply_threshold_schedule(self, index: int, b: ThresholdSchedule, logged_ms: int) -> None:
        eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
        self.state.caps.setdefault(b.level, []).append((eff, _flop(b.cap_flop), index))
        self.state.caps[b.level].sort()
        if b.level > self.frontier_at(eff - 1):
            self.state.lifts.append((eff, b.level, index))
            self.state.lifts.sort()

    def _check_threshold_postponement(
        self, index: int, b: ThresholdPostponement, logged_ms: int
    ) -> list[Finding]:
        out: list[Finding] = []
        if b.to_cycle <= b.from_cycle:
            out.append(
                Finding(
                    "S11",
                    VIOLATION,
                    (index,),
                    f"a postponement from {b.from_cycle} to {b.to_cycle} does not postpone",
                    refusable=True,
                )
            )
        # Choice: a postponement answers a decision date with no approval, so it
        # must be logged by the decision date before the lift (S11); the notice
        # period of S12 cannot apply to it and is not required.
        _, decision_end = self.cal.decision_day(b.from_cycle - 1)
        if logged_ms >= decision_end:
            out.append(
                Finding(
                    "S11",
                    WARNING,
                    (index,),
                    f"the postponement of level {b.level} was logged after the {b.from_cycle - 1} decision date",
                )
            )
        return out

    def _apply_threshold_postponement(
        self, index: int, b: ThresholdPostponement, logged_ms: int
    ) -> None:
        for cycle in range(b.from_cycle, b.to_cycle):
            self.state.postponed[(b.level, cycle)] = (b.to_cycle, index, logged_ms)

    def _check_deregulation(self, index: int, b: Deregulation, logged_ms: int) -> list[Finding]:
        assert self.state.charter is not None
        out: list[Finding] = []
        eff_date = parse_date(b.effective_date, "effective_date")
        eff = day_start_ms(eff_date)
        out += self._notice(index, f"deregulation of level {b.level}", eff, logged_ms)
        if eff < logged_ms - DAY_MS:
            out.append(
                Finding(
                    "S13",
                    VIOLATION,
                    (index,),
                    f"deregulation is retroactive: effective {b.effective_date}, logged {fmt_date(logged_ms)}",
                    refusable=True,
                )
            )
        frontier = self.frontier_at(eff)
        lag = self.state.charter.deregulation_lag
        if b.level > frontier - lag:
            out.append(
                Finding(
                    "S13",
                    VIOLATION,
                    (index,),
                    f"level {b.level} is deregulated while the frontier on {b.effective_date} is level {frontier}: at most level {frontier - lag} may be",
                    refusable=True,
                )
            )
        for (lv, cycle), (to_cycle, pidx, _) in self.state.postponed.items():
            if cycle == eff_date.year and self.cal.is_lift_date(eff_date):
                out.append(
                    Finding(
                        "S13",
                        VIOLATION,
                        (index, pidx),
                        f"deregulation on {b.effective_date} while the lift of level {lv} is postponed to {to_cycle}",
                        refusable=True,
                    )
                )
                break
        return out

    def _apply_deregulation(self, index: int, b: Deregulation, logged_ms: int) -> None:
        eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
        self.state.deregulated.append((eff, b.level, index))

    # -- pre-registration and compute: S1–S5 -----------------------------------

    def _check_preregistration(
        self, index: int, b: Preregistration, logged_ms: int
    ) -> list[Finding]:
        out: list[Finding] = []
        cap = self.cap_at(b.level, parse_time(b.planned_start, "planned_start"))
        scheduled = self.state.caps.get(b.level)
        if scheduled is None:
            out.append(
                Finding(
                    "S2",
                    VIOLATION,
                    (index,),
                    f"run {b.run_id} is planned at level {b.level}, which has no cap in the charter or a threshold schedule",
                    refusable=True,
                )
            )
        else:
            limit = cap if cap is not None else scheduled[-1][1]
            if _flop(b.planned_flop) > limit:
                out.append(
                    Finding(
                        "S2",
                        VIOLATION,
                        (index,),
                        f"run {b.run_id} plans {b.planned_flop} FLOP, above the level-{b.level} cap of {fmt_flop(limit)} FLOP",
                        refusable=True,
                    )
                )
        if b.supersedes is not None:
            old = self.state.runs.get(b.supersedes)
            if old is not None:
                root = self.state.runs[old.root]
                chain_started = root.chain_started  # O(1): kept on the first version
                if chain_started:
                    out.append(
                        Finding(
                            "S4",
                            VIOLATION,
                            (b.supersedes, index),
                            f"run {root.run_id} is amended after its training started",
                            refusable=True,
                        )
                    )
                if old.superseded_by is not None:
                    out.append(
                        Finding(
                            "S4",
                            WARNING,
                            (b.supersedes, old.superseded_by, index),
                            f"amendment of a pre-registration that was already amended (entry {old.superseded_by})",
                        )
                    )
        return out

    def _apply_preregistration(self, index: int, b: Preregistration, logged_ms: int) -> None:
        root = index
        if b.supersedes is not None and b.supersedes in self.state.runs:
            old = self.state.runs[b.supersedes]
            old.superseded_by = index
            root = old.root
        self.state.runs[index] = Run(
            index, b.org, b.run_id, b.level, b.cycle, _flop(b.planned_flop), logged_ms, root
        )

    def _compute(self, index: int, run: Run, flop: int, what: str, halted: bool) -> list[Finding]:
        out: list[Finding] = []
        allowed = Decimal(run.planned_flop) * (1 + self.tolerance())
        cap = self.cap_at(run.level, 2**62)
        over_plan = Decimal(flop) > allowed
        over_cap = cap is not None and flop > cap
        if over_plan or over_cap:
            limit = "its cap" if over_cap else "its plan plus tolerance"
            if halted:
                out.append(
                    Finding(
                        "S3",
                        NOTICE,
                        (run.index, index),
                        f"run {run.run_id} exceeded {limit} and was halted, as required ({what})",
                    )
                )
            else:
                out.append(
                    Finding(
                        "S3",
                        VIOLATION,
                        (run.index, index),
                        f"run {run.run_id} reports {fmt_flop(flop)} FLOP ({what}), above {limit}, without a halt",
                    )
                )
        return out

    def _training(
        self, index: int, b: TrainingStarted | TrainingHalted | TrainingCompleted, logged_ms: int
    ) -> list[Finding]:
        run = self.state.runs.get(b.preregistration)
        if run is None:
            return []
        halted = isinstance(b, TrainingHalted)
        out = self._compute(index, run, _flop(b.cumulative_flop), "training event", halted)
        if run.superseded_by is not None:
            out.append(
                Finding(
                    "S4",
                    WARNING,
                    (run.index, run.superseded_by, index),
                    f"training event refers to entry {run.index}, which was amended by entry {run.superseded_by}",
                )
            )
        return out

    def _check_training_started(
        self, index: int, b: TrainingStarted, logged_ms: int
    ) -> list[Finding]:
        assert self.state.charter is not None
        out = self._training(index, b, logged_ms)
        run = self.state.runs.get(b.preregistration)
        if run is None:
            return out
        start = parse_time(b.time, "time")
        lead = self.state.charter.preregistration_lead_days
        deregulated = self.deregulated_level_at(start)
        if run.level > deregulated:
            if start < run.logged_ms:
                out.append(
                    Finding(
                        "S1",
                        VIOLATION,
                        (run.index, index),
                        f"run {run.run_id} claims to have started ({b.time}) before its pre-registration was logged ({fmt_date(run.logged_ms)})",
                    )
                )
            elif start < run.logged_ms + lead * DAY_MS:
                out.append(
                    Finding(
                        "S1",
                        VIOLATION,
                        (run.index, index),
                        f"run {run.run_id} started {b.time}, less than the {lead}-day lead time after its pre-registration ({fmt_date(run.logged_ms)})",
                    )
                )
            effective = self.level_effective_ms(run.level)
            if effective is None or start < effective:
                when = f"before level {run.level} was lifted" + (
                    f" ({fmt_date(effective)})" if effective else " (it has not been)"
                )
                out.append(
                    Finding(
                        "S2",
                        VIOLATION,
                        (run.index, index),
                        f"run {run.run_id} started {b.time}, {when}",
                    )
                )
            cap = self.cap_at(run.level, start)
            if cap is not None and run.planned_flop > cap:
                out.append(
                    Finding(
                        "S2",
                        VIOLATION,
                        (run.index, index),
                        f"run {run.run_id} plans more than the level-{run.level} cap in force when it started",
                    )
                )
        if run.started is not None:
            out.append(
                Finding(
                    "S4",
                    WARNING,
                    (run.started, index),
                    f"run {run.run_id} reported its start twice",
                )
            )
        return out

    def _apply_training_started(self, index: int, b: TrainingStarted, logged_ms: int) -> None:
        run = self.state.runs.get(b.preregistration)
        if run is not None and run.started is None:
            run.started = index
            self.state.runs[run.root].chain_started = True

    def _check_training_halted(
        self, index: int, b: TrainingHalted, logged_ms: int
    ) -> list[Finding]:
        return self._training(index, b, logged_ms)

    def _apply_training_halted(self, index: int, b: TrainingHalted, logged_ms: int) -> None:
        run = self.state.runs.get(b.preregistration)
        if run is not None:
            run.halted = index

    def _check_training_completed(
        self, index: int, b: TrainingCompleted, logged_ms: int
    ) -> list[Finding]:
        return self._training(index, b, logged_ms)

    def _check_submission(self, index: int, b: Submission, logged_ms: int) -> list[Finding]:
        out: list[Finding] = []
        run = self.state.runs.get(b.preregistration)
        if run is None:
            return out
        if run.halted is not None:
            out.append(
                Finding(
                    "S5",
                    VIOLATION,
                    (run.index, run.halted, index),
                    f"run {run.run_id} was halted (entry {run.halted}) and is submitted without a new pre-registration",
                    refusable=True,
                )
            )
        out += self._compute(index, run, _flop(b.final_flop), "final compute at submission", False)
        return out

    def _apply_submission(self, index: int, b: Submission, logged_ms: int) -> None:
        run = self.state.runs.get(b.preregistration)
        if run is None:
            return
        marker = self.state.markers.get((run.cycle, "submission_window_closed"))
        on_time = logged_ms < self.cal.window_closes_ms(run.cycle) and marker is None
        self.state.subs[index] = Sub(
            index, b.preregistration, run.cycle, run.level, logged_ms, on_time
        )
        if not on_time:
            self.state.late.setdefault(run.cycle, []).append(index)

    # -- evaluation and decisions: S6–S10 -----------------------------------------

    def _apply_eval_suite(self, index: int, b: EvalSuite, logged_ms: int) -> None:
        self.state.suites[index] = logged_ms

    def _check_eval_result(self, index: int, b: EvalResult, logged_ms: int) -> list[Finding]:
        sub = self.state.subs.get(b.submission)
        if sub is not None and sub.decision is not None:
            return [
                Finding(
                    "S10",
                    WARNING,
                    (sub.decision, index),
                    f"an evaluation result for submission {sub.index} was logged after its decision",
                )
            ]
        return []

    def _apply_eval_result(self, index: int, b: EvalResult, logged_ms: int) -> None:
        self.state.results[index] = (b.submission, b.suite, b.outcome)
        sub = self.state.subs.get(b.submission)
        if sub is not None:
            sub.results.append(index)

    def _apply_contest_finding(self, index: int, b: ContestFinding, logged_ms: int) -> None:
        self.state.contests[index] = Contest(index, b.submission, logged_ms)
        sub = self.state.subs.get(b.submission)
        if sub is not None:
            sub.findings.append(index)

    def _check_contest_resolution(
        self, index: int, b: ContestResolution, logged_ms: int
    ) -> list[Finding]:
        c = self.state.contests.get(b.finding)
        if c is None:
            return []
        if c.resolution is not None:
            return [
                Finding(
                    "S10",
                    VIOLATION,
                    (c.index, c.resolution, index),
                    f"contest finding {c.index} is resolved twice",
                    refusable=True,
                )
            ]
        return []

    def _apply_contest_resolution(self, index: int, b: ContestResolution, logged_ms: int) -> None:
        c = self.state.contests.get(b.finding)
        if c is not None and c.resolution is None:
            c.resolution, c.resolved_ms, c.outcome, c.remedied = (
                index,
                logged_ms,
                b.outcome,
                b.remedied,
            )

    def _check_decision(self, index: int, b: Decision, logged_ms: int) -> list[Finding]:
        assert self.state.charter is not None
        out: list[Finding] = []
        sub = self.state.subs.get(b.submission)
        if sub is None:
            return [
                Finding(
                    "S6",
                    VIOLATION,
                    (b.submission, index),
                    f"the decision refers to entry {b.submission}, which is not a submission of a pre-registered run",
                    refusable=True,
                )
            ]
        if sub.decision is not None:
            out.append(
                Finding(
                    "S10",
                    VIOLATION,
                    (sub.decision, index),
                    f"submission {sub.index} already has a decision (entry {sub.decision})",
                    refusable=True,
                )
            )
        for r in b.eval_results:
            if self.state.results.get(r, (None,))[0] != sub.index:
                out.append(
                    Finding(
                        "S6",
                        VIOLATION,
                        (r, index),
                        f"the decision cites evaluation result {r}, which is not about submission {sub.index}",
                        refusable=True,
                    )
                )
        start, end = self.cal.decision_day(sub.cycle)
        if sub.on_time:
            if logged_ms < start:
                out.append(
                    Finding(
                        "S8",
                        VIOLATION,
                        (sub.index, index),
                        f"submission {sub.index} was on time and is decided on {fmt_date(logged_ms)}, before the decision date {fmt_date(start)}",
                        refusable=True,
                    )
                )
            elif logged_ms >= end:
                out.append(
                    Finding(
                        "S8",
                        VIOLATION,
                        (sub.index, index),
                        f"submission {sub.index} was on time and is decided on {fmt_date(logged_ms)}, after the decision date {fmt_date(start)}",
                    )
                )
        else:
            if logged_ms < start:
                out.append(
                    Finding(
                        "S9",
                        VIOLATION,
                        (sub.index, index),
                        f"late submission {sub.index} is decided on {fmt_date(logged_ms)}, before its batch's decision date {fmt_date(start)}",
                        refusable=True,
                    )
                )
            for earlier in self.state.late.get(sub.cycle, []):
                if earlier == sub.index:
                    break
                if self.state.subs[earlier].decision is None:
                    out.append(
                        Finding(
                            "S9",
                            VIOLATION,
                            (earlier, sub.index, index),
                            f"late submission {sub.index} is decided before the earlier late submission {earlier}",
                            refusable=True,
                        )
                    )
                    break
            limit = self.state.charter.late_decision_limit_days
            due = max(start, sub.logged_ms) + limit * DAY_MS
            if logged_ms > due:
                out.append(
                    Finding(
                        "S9",
                        VIOLATION,
                        (sub.index, index),
                        f"late submission {sub.index} is decided {(logged_ms - due) // DAY_MS + 1} days after its {limit}-day limit",
                    )
                )
        if b.outcome == "approved":
            out += self._check_approval(index, b, sub, logged_ms)
        return out

    def _check_approval(self, index: int, b: Decision, sub: Sub, logged_ms: int) -> list[Finding]:
        out: list[Finding] = []
        deadline = self.cal.window_closes_ms(sub.cycle)
        cited = b.eval_results or tuple(sub.results)
        passing = [
            r
            for r in cited
            if self.state.results.get(r, (0, 0, ""))[2] == "pass"
            and self.state.suites.get(self.state.results[r][1], deadline) < deadline
        ]
        failing = [r for r in cited if self.state.results.get(r, (0, 0, ""))[2] == "fail"]
        if not passing:
            out.append(
                Finding(
                    "S7",
                    VIOLATION,
                    (sub.index, index),
                    f"submission {sub.index} is approved without a passing evaluation from a suite published before the {sub.cycle} submission deadline",
                    refusable=True,
                )
            )
        if failing:
            out.append(
                Finding(
                    "S7",
                    VIOLATION,
                    (*failing, index),
                    f"submission {sub.index} is approved although it failed evaluation (entry {failing[0]})",
                    refusable=True,
                )
            )
        for ci in sub.findings:
            c = self.state.contests[ci]
            if c.resolution is None:
                out.append(
                    Finding(
                        "S7",
                        VIOLATION,
                        (ci, index),
                        f"submission {sub.index} is approved with contest finding {ci} unresolved",
                        refusable=True,
                    )
                )
            elif c.outcome in ("upheld", "upheld_in_part") and not c.remedied:
                out.append(
                    Finding(
                        "S7",
                        VIOLATION,
                        (ci, c.resolution, index),
                        f"submission {sub.index} is approved although contest finding {ci} was upheld and not remedied",
                        refusable=True,
                    )
                )
        return out

    def _apply_decision(self, index: int, b: Decision, logged_ms: int) -> None:
        sub = self.state.subs.get(b.submission)
        if sub is None:
            return
        if sub.decision is None:
            sub.decision = index
        if b.outcome == "approved":
            self.state.approvals.append((logged_ms, sub.level, index))

    # -- markers and reveals ----------------------------------------------------------

    def _apply_schedule_marker(self, index: int, b: ScheduleMarker, logged_ms: int) -> None:
        self.state.markers.setdefault((b.cycle, b.marker), index)

    def _check_reveal(self, index: int, b: Reveal, logged_ms: int) -> list[Finding]:
        import base64

        sealed = self.state.sealed.get(b.commitment)
        if sealed is None:
            return [
                Finding(
                    "S14",
                    VIOLATION,
                    (b.commitment, index),
                    f"entry {b.commitment} has no sealed document to reveal",
                    refusable=True,
                )
            ]
        content = self.blobs.get(b.content_sha256)
        if content is None:
            return [
                Finding(
                    "S14",
                    NOT_AUDITABLE,
                    (b.commitment, index),
                    f"the revealed document {b.content_sha256[:16]}… is not available, so the commitment cannot be checked",
                )
            ]
        if hashlib.sha256(content).hexdigest() != b.content_sha256:
            return [
                Finding(
                    "S14",
                    VIOLATION,
                    (b.commitment, index),
                    "the revealed document does not have the digest the reveal states",
                    refusable=True,
                )
            ]
        commitment = hashlib.sha256(
            COMMITMENT_PREFIX + base64.b64decode(b.salt) + content
        ).hexdigest()
        if commitment not in sealed.commitments:
            return [
                Finding(
                    "S14",
                    VIOLATION,
                    (b.commitment, index),
                    f"the revealed document does not match the commitment in entry {b.commitment}",
                    refusable=True,
                )
            ]
        return []

    def _apply_reveal(self, index: int, b: Reveal, logged_ms: int) -> None:
        sealed = self.state.sealed.get(b.commitment)
        if sealed is not None and sealed.revealed is None:
            sealed.revealed = index

    # -- what only time shows --------------------------------------------------------

    def time_findings(self, now_ms: int) -> list[Finding]:
        """Findings that depend on deadlines having passed by *now_ms*."""
        st = self.state
        if st.charter is None:
            return [
                Finding(
                    "L3",
                    NOT_AUDITABLE,
                    (),
                    "the log has no charter, so the schedule cannot be audited",
                )
            ]
        out: list[Finding] = []
        charter = st.charter
        # S8 / S9: decisions that never came.
        for sub in st.subs.values():
            if sub.decision is not None:
                continue
            start, end = self.cal.decision_day(sub.cycle)
            if sub.on_time and now_ms >= end:
                out.append(
                    Finding(
                        "S8",
                        VIOLATION,
                        (sub.index,),
                        f"on-time submission {sub.index} was not decided on the decision date {fmt_date(start)}",
                    )
                )
            if not sub.on_time:
                due = max(start, sub.logged_ms) + charter.late_decision_limit_days * DAY_MS
                if now_ms > due:
                    out.append(
                        Finding(
                            "S9",
                            VIOLATION,
                            (sub.index,),
                            f"late submission {sub.index} has no decision {charter.late_decision_limit_days} days after it became due",
                        )
                    )
        # S10: contest replies.
        limit = charter.contest_reply_limit_days * DAY_MS
        for c in st.contests.values():
            answered = c.resolved_ms if c.resolved_ms is not None else None
            if answered is None and now_ms > c.logged_ms + limit:
                out.append(
                    Finding(
                        "S10",
                        VIOLATION,
                        (c.index,),
                        f"contest finding {c.index} has no resolution within {charter.contest_reply_limit_days} days",
                    )
                )
            elif answered is not None and answered > c.logged_ms + limit:
                out.append(
                    Finding(
                        "S10",
                        VIOLATION,
                        (c.index, c.resolution or 0),
                        f"contest finding {c.index} was resolved after the {charter.contest_reply_limit_days}-day limit",
                    )
                )
        # S11: a lift scheduled for the next lift date needs an approval at the
        # level below by this decision date, or a postponement logged by then.
        cycle = charter.first_cycle
        while self.cal.decision_day(cycle)[1] <= now_ms:
            start, end = self.cal.decision_day(cycle)
            frontier = self.frontier_at(end - 1)
            lift = self.cal.lift_ms(cycle + 1)
            scheduled = [i for eff, lv, i in st.lifts if lv == frontier + 1 and eff == lift]
            if scheduled and self.approved_at_level_by(frontier, end) is None:
                postponed = st.postponed.get((frontier + 1, cycle + 1))
                if postponed is None or postponed[2] >= end:
                    out.append(
                        Finding(
                            "S11",
                            VIOLATION,
                            (scheduled[0],),
                            f"no level-{frontier} model was approved by {fmt_date(start)}, yet the "
                            f"lift to level {frontier + 1} on {fmt_date(lift)} was not postponed by then",
                        )
                    )
            cycle += 1
        # S14: sealed documents not revealed by the deadline.
        deadline = charter.reveal_deadline_days * DAY_MS
        for s in st.sealed.values():
            if s.revealed is None and now_ms > s.logged_ms + deadline:
                out.append(
                    Finding(
                        "S14",
                        WARNING,
                        (s.index,),
                        f"the sealed document of entry {s.index} was not revealed within {charter.reveal_deadline_days} days",
                    )
                )
        return out

    def _check_schedule_marker(
        self, index: int, b: ScheduleMarker, logged_ms: int
    ) -> list[Finding]:
        expected = {
            "submission_window_closed": self.cal.window_closes_ms(b.cycle),
            "decision_due": self.cal.decision_day(b.cycle)[0],
            "lift_date": self.cal.lift_ms(b.cycle),
        }[b.marker]
        if logged_ms < expected:
            return [
                Finding(
                    "S8",
                    VIOLATION,
                    (index,),
                    f"the {b.marker} marker of {b.cycle} is logged on {fmt_date(logged_ms)}, before {fmt_date(expected)}",
                    refusable=True,
                )
            ]
        if (b.cycle, b.marker) in self.state.markers:
            return [
                Finding(
                    "S8",
                    NOTICE,
                    (self.state.markers[(b.cycle, b.marker)], index),
                    f"the {b.marker} marker of {b.cycle} is logged twice",
                )
            ]
        return []


MARKERS = ("lift_date", "submission_window_closed", "decision_due")


def due_markers(state: PolicyState, now_ms: int) -> list[tuple[int, str, int]]:
    """Schedule markers whose deadline has passed by *now_ms* and are not yet logged.

    Returns (deadline ms, marker, cycle), earliest first. Cycles start at the
    charter's first cycle, so a new log never back-fills history.
    """
    if state.charter is None or state.calendar is None:
        return []
    cal = state.calendar
    out = []
    cycle = state.charter.first_cycle
    while cal.lift_ms(cycle) <= now_ms:
        for marker, when in (
            ("lift_date", cal.lift_ms(cycle)),
            ("submission_window_closed", cal.window_closes_ms(cycle)),
            ("decision_due", cal.decision_day(cycle)[0]),
        ):
            if when <= now_ms and (cycle, marker) not in state.markers:
                out.append((when, marker, cycle))
        cycle += 1
    out.sort()
    return out
