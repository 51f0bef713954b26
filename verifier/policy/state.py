"""Schedule state: what the policy engine knows after replaying entries ``0 .. i-1``.

Plain data (dataclasses that :mod:`verifier.policy.snapshot` stores and loads)
plus the questions the rules ask of it — the cap in force, the frontier level,
the deregulated level — each answered from the state alone, with no clock: the
caller passes the instant (UTC milliseconds).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal

from verifier.entries.fields import parse_flop
from verifier.entries.payloads import Charter, CharterChanges
from verifier.policy.calendar import Calendar, CycleCalendar, date_of


@dataclass(slots=True)
class Run:
    """One version of a pre-registration (the first version is the run's root)."""

    index: int
    org: str
    run_id: str
    level: int
    cycle: int
    planned_flop: int
    logged_ms: int
    root: int  # index of the first version of this pre-registration
    superseded_by: int | None = None  # the latest amendment of this version
    #: The first amendment of this version: the one S4's warnings name (A').
    first_amendment: int | None = None
    started: int | None = None  # index of training_started
    halted: int | None = None
    chain_started: bool = False  # on the first version: has any version started training?
    #: On the first version: the most compute the run reported, and where (S16).
    reported_flop: int = 0
    reported_at: int | None = None
    reported_ms: int = 0  # when that report was logged
    #: On the first version: the violations of S1-S5 found on the run's entries, as
    #: (rule, entries named). An approval cannot rest on such a run (S6).
    breaches: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)


@dataclass(slots=True)
class Postponement:
    """A threshold postponement: the lifts of cycles from_cycle .. to_cycle - 1 do not
    happen if it was logged before they take effect, whatever level they lift to."""

    index: int
    level: int  # as the entry states it (informative: a postponement stops a cycle's lift)
    from_cycle: int
    to_cycle: int
    logged_ms: int

    def covers(self, cycle: int) -> bool:
        return self.from_cycle <= cycle < self.to_cycle


@dataclass(slots=True)
class Update:
    """A declared change to an approved model (S15)."""

    index: int
    prereg: int
    decision: int
    logged_ms: int
    significant: bool


@dataclass(slots=True)
class Attestation:
    """Compute a provider attests it delivered to an organisation (S16)."""

    index: int
    provider: str
    organisation: str
    start_ms: int
    end_ms: int
    flop: int
    run: int | None
    logged_ms: int


@dataclass(slots=True)
class Sub:
    """A submission of a model for evaluation."""

    index: int
    prereg: int
    cycle: int
    level: int
    logged_ms: int
    on_time: bool
    model_digest: str = ""
    remedies: int | None = None  # the contest resolution this changed model answers
    config: str = ""  # digest of the inference configuration submitted with the model
    max_inference_flop: int = 0  # its per-task inference ceiling
    posttraining_flop: int = 0  # the post-training its configuration lists, in all
    outcome: str | None = None  # of its (first) decision
    decision: int | None = None
    results: list[int] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Contest:
    """A contest finding about a submission, and its resolution once logged."""

    index: int
    submission: int
    logged_ms: int
    resolution: int | None = None
    resolved_ms: int | None = None
    outcome: str | None = None
    remedied: bool = False


@dataclass(slots=True)
class Sealed:
    """An entry that commits to sealed documents, and its reveal once logged."""

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
    postponements: list[Postponement] = field(default_factory=list)  # in index order
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
    #: model digest -> the contest findings about a submission of that model: a finding
    #: is about the model, so it binds every submission of the same weights (S7). Small:
    #: one entry per contest finding, which are few.
    contested: dict[str, list[int]] = field(default_factory=dict)
    #: model digest -> the decision that last rejected those weights (dropped when a
    #: later decision approves them): an update may not bring them back (S15).
    rejected: dict[str, int] = field(default_factory=dict)
    #: approving decision -> the post-training its lesser updates declared, in all: an
    #: update's own adds to it (S15). One entry per updated model.
    lesser_added: dict[int, int] = field(default_factory=dict)
    resolutions: dict[int, int] = field(default_factory=dict)  # resolution -> its finding
    approvals: list[tuple[int, int, int]] = field(
        default_factory=list
    )  # (logged_ms, level, decision index)
    late: dict[int, list[int]] = field(
        default_factory=dict
    )  # cycle -> late submission indices, in order
    markers: dict[tuple[int, str], int] = field(default_factory=dict)  # (cycle, marker) -> index
    sealed: dict[int, Sealed] = field(default_factory=dict)
    last_logged_ms: int = 0
    #: Charter amendments: (effective ms, index, changes), in the order they take effect.
    amendments: list[tuple[int, int, CharterChanges]] = field(default_factory=list)
    updates: dict[int, Update] = field(default_factory=dict)
    decided: dict[int, int] = field(default_factory=dict)  # decision -> its submission
    attestations: dict[int, Attestation] = field(default_factory=dict)
    #: decision index -> [(access from ms, access until ms, research_access index)]
    access: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)
    #: staff member's name (as S19 compares names) -> [(departure ms, organisation,
    #: declaration index, cooling-off days in force at the departure as the log stood
    #: when it was declared, the name as declared)]
    departures: dict[str, list[tuple[int, str, int, int, str]]] = field(default_factory=dict)
    #: Organisation -> the most compute any of its runs (any version) planned, as it
    #: grew: (logged ms, planned FLOP) steps, both rising. S16 asks whether any run an
    #: organisation pre-registered by an instant covers attested compute: one bisect
    #: here, where a walk over every run would read each from the writer's stored state.
    planned_max: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    # -- what the rules record ----------------------------------------------------

    def note_planned(self, org: str, logged_ms: int, planned_flop: int) -> None:
        """Record a run version *org* pre-registered at *logged_ms* for S16's question."""
        steps = self.planned_max.setdefault(org, [])
        at = bisect_right(steps, logged_ms, key=_step_ms)
        if at and steps[at - 1][1] >= planned_flop:
            return  # an earlier or equal run already plans as much
        # Entries come in time order, so this is an append; a log out of time order
        # (reported by the replay) still gets the right answer: the steps after it
        # that plan no more are dropped.
        end = at
        while end < len(steps) and steps[end][1] <= planned_flop:
            end += 1
        steps[at:end] = [(logged_ms, planned_flop)]

    # -- questions the rules ask ------------------------------------------------

    def most_planned_before(self, org: str, ms: int) -> int:
        """The most compute any run *org* pre-registered (logged) before *ms* plans, 0 if none."""
        steps = self.planned_max.get(org, ())
        at = bisect_left(steps, ms, key=_step_ms)
        return steps[at - 1][1] if at else 0

    @property
    def cal(self) -> CycleCalendar:
        """Each cycle's calendar: the charter's, or an amendment's from its cycle on."""
        assert self.calendar is not None, "no charter applied"
        amended = tuple(
            (c.calendar_from_cycle, Calendar.of_payload(c.calendar))
            for _, _, c in self.amendments
            if c.calendar is not None and c.calendar_from_cycle is not None
        )
        return CycleCalendar(self.calendar, tuple(sorted(amended, key=lambda x: x[0])))

    @property
    def rules(self) -> Charter:
        """The charter as logged: for what no amendment changes (levels, lag, keys)."""
        assert self.charter is not None, "no charter applied"
        return self.charter

    def rules_at(self, ms: int) -> Charter:
        """The charter in force at *ms*: amended by every amendment effective by then."""
        charter = self.rules
        for effective, _, changes in self.amendments:
            if effective > ms:
                break
            values = {
                f.name: getattr(changes, f.name)
                for f in fields(changes)
                if getattr(changes, f.name) is not None and not f.name.startswith("calendar")
            }
            charter = replace(charter, **values)
        return charter

    def cap_at(self, level: int, ms: int) -> int | None:
        """The cap of *level* in force at *ms* (None before any takes effect)."""
        cap = None
        for eff, value, index in self.caps.get(level, []):
            if eff <= ms and not self._postponed_lift(index):
                cap = value
        return cap

    def _postponed_lift(self, index: int) -> bool:
        """Whether the threshold schedule at *index* is a lift that does not happen (a
        postponement of its cycle was logged before it took effect): nor does its cap."""
        return any(i == index and self.lift_postponed(eff) for eff, _, i in self.lifts)

    def frontier_at(self, ms: int) -> int:
        """The highest level trainable at *ms*: the initial level, raised by every lift
        that took effect by then and was not postponed."""
        level = self.rules.initial_frontier_level
        for eff, lv, _ in self.lifts:
            if eff <= ms and lv > level and not self.lift_postponed(eff):
                level = lv
        return level

    def postponements_of(self, cycle: int, before_ms: int | None = None) -> list[Postponement]:
        """The postponements of *cycle*'s lift (logged before *before_ms*, if given)."""
        return [
            p
            for p in self.postponements
            if p.covers(cycle) and (before_ms is None or p.logged_ms < before_ms)
        ]

    def lift_postponed(self, effective_ms: int) -> bool:
        """A lift is void if a postponement of its cycle was logged before it took
        effect, whatever level the lift or the postponement names."""
        return bool(self.postponements_of(date_of(effective_ms).year, effective_ms))

    def level_effective_ms(self, level: int) -> int | None:
        """When *level* became trainable (its lift, or the charter for the initial levels)."""
        charter = self.rules
        if level <= charter.initial_frontier_level:
            return (
                self.cal.lift_ms(charter.first_cycle)
                if level == charter.initial_frontier_level
                else 0
            )
        times = [eff for eff, lv, _ in self.lifts if lv == level and not self.lift_postponed(eff)]
        return min(times) if times else None

    def deregulated_level_at(self, ms: int) -> int:
        """The deregulated level in force at *ms* (-1: none), as the log stands now.

        Only deregulations that are not frozen count (docs/policy-notes.md,
        "Postponements and deregulation"): a postponement logged later can still
        stop one that has not yet taken effect.
        """
        level = -1
        for eff, lv, _ in self.deregulated:
            if eff <= ms and lv > level and self.deregulation_takes_effect(eff, lv):
                level = lv
        return level

    def deregulation_takes_effect(self, effective_ms: int, level: int) -> bool:
        """A deregulation takes effect unless a postponement freezes it or it goes
        above frontier - lag on its date (given every postponement logged)."""
        if self.freezing_postponement(effective_ms) is not None:
            return False
        return level <= self.frontier_at(effective_ms) - self.rules.deregulation_lag

    def freezing_postponements(self, effective_ms: int) -> list[Postponement]:
        """The postponements of the lift on *effective_ms*, if that is a lift date,
        logged before the lift took effect."""
        day = date_of(effective_ms)
        if not self.cal.is_lift_date(day):
            return []
        return self.postponements_of(day.year, effective_ms)

    def freezing_postponement(self, effective_ms: int) -> int | None:
        """The first postponement (its index) of the lift on *effective_ms*, if that is a
        lift date whose lift was postponed before it took effect."""
        found = self.freezing_postponements(effective_ms)
        return found[0].index if found else None

    def remedied_submission(
        self, prereg: int, model_digest: str, remedies: int | None
    ) -> Sub | None:
        """The submission a changed model validly remedies (docs/policy-notes.md,
        "Contests and remedies"), or None: *remedies* names a resolution that upheld
        a finding about a submission of the same run, and the model changed."""
        if remedies is None or remedies not in self.resolutions:
            return None
        contest = self.contests.get(self.resolutions[remedies])
        if contest is None or contest.resolution != remedies:
            return None
        if contest.outcome not in ("upheld", "upheld_in_part"):
            return None
        original = self.subs.get(contest.submission)
        run = self.runs.get(prereg)
        if original is None or run is None:
            return None
        if self.runs[original.prereg].root != run.root or original.model_digest == model_digest:
            return None
        return original

    def report_tolerance_ms(self, ms: int) -> int:
        """How far a claimed time may lie from its entry's logged_at (the charter's)."""
        return self.rules_at(ms).report_tolerance_hours * 3_600_000

    def tolerance(self, ms: int) -> Decimal:
        return Decimal(self.rules_at(ms).compute_tolerance)

    def approved_at_level_by(self, level: int, ms: int) -> int | None:
        for when, lv, index in self.approvals:
            if lv == level and when < ms:
                return index
        return None


def flop(text: str) -> int:
    return parse_flop(text, "flop")


def _step_ms(step: tuple[int, int]) -> int:
    return step[0]
