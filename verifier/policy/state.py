"""Schedule state: what the policy engine knows after replaying entries ``0 .. i-1``.

Plain data (dataclasses that :mod:`verifier.policy.snapshot` stores and loads)
plus the questions the rules ask of it — the cap in force, the frontier level,
the deregulated level — each answered from the state alone, with no clock: the
caller passes the instant (UTC milliseconds).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from fractions import Fraction

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
    planned_start_ms: int = 0  # when this version plans to start
    superseded_by: int | None = None  # the latest amendment of this version
    #: The first amendment of this version: the one S4's warnings name (A').
    first_amendment: int | None = None
    #: On the first version: the versions that superseded it, directly or not, in log
    #: order (S1: the lead time runs from the plan in force when training started).
    versions: tuple[int, ...] = ()
    supersedes: int | None = None  # the version this one amends
    #: On the first version: (period end, attestation) of each provider attestation that
    #: proves the run trained by that end (an amendment after it is S4). Few.
    proofs: tuple[tuple[int, int], ...] = ()
    #: On the first version: (provider, cluster, period start, period end, FLOP) of each
    #: attestation for the run with a period that is not empty, for S1-S4 on the
    #: evidence (verifier.policy.rules.attested). Few.
    attested: tuple[tuple[str, str, int, int, int], ...] = ()
    started: int | None = None  # index of training_started
    halted: int | None = None
    chain_started: bool = False  # on the first version: has any version started training?
    #: On the first version: the most compute the run reported, and where (S16).
    reported_flop: int = 0
    reported_at: int | None = None
    reported_ms: int = 0  # when that report was logged
    #: On the first version: when the run's first completion or halt (of any version)
    #: was logged; a run over by a period's start covers none of its compute (S16).
    ended_ms: int | None = None
    ended_by: int | None = None  # the completion or halt logged then
    #: On the first version: the compute attested to the run's organisation naming any
    #: of its versions, in all (S16: a run's attested compute within its plan).
    attested_flop: int = 0
    #: On the first version: the violations of S1-S5 found on the run's entries, as
    #: (rule, entries named). An approval cannot rest on such a run (S6).
    breaches: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    #: On the first version: the weights (model digests) submitted under the run, each
    #: with the run's first submission of them. The model is its weights: the same
    #: weights approved under another run that submitted them later still rest on
    #: this one (S6).
    digests: tuple[tuple[str, int], ...] = ()


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
    #: Each post-training step its configuration lists, as (method, FLOP, description):
    #: an update that swaps one for another of equal FLOP adds the new one (S15).
    posttraining: tuple[tuple[str, int, str], ...] = ()
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
    """An entry that commits to sealed documents, and the documents revealed for it."""

    index: int
    commitments: tuple[str, ...]
    logged_ms: int
    #: The documents revealed for it (content digests, each once): an entry with two
    #: sealed documents is revealed when two are, not one (S14).
    shown: tuple[str, ...] = ()


@dataclass(slots=True)
class HeldKey:
    """A key S19 follows: one holding a lab's role or an overseeing one."""

    keyid: str
    index: int  # its grant (0 for a root key of the charter)
    logged_ms: int  # when it came into force (0 for a root key)
    roles: tuple[str, ...]  # its lab and overseeing roles
    revoked_ms: int | None = None
    revoked_by: int | None = None


@dataclass
class PolicyState:
    charter: Charter | None = None
    calendar: Calendar | None = None
    caps: dict[int, list[tuple[int, int, int]]] = field(
        default_factory=dict
    )  # level -> [(effective_ms, cap, index)]
    lifts: list[tuple[int, int, int]] = field(default_factory=list)  # (effective_ms, level, index)
    #: Threshold schedule -> the charter amendment whose calendar left its date no lift
    #: date: it takes no effect, neither its lift nor its cap (S11). Few: one per
    #: schedule a calendar moved from under, dropped if a later calendar moves back.
    lapsed: dict[int, int] = field(default_factory=dict)
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
    #: model digest -> the failing evaluation results of submissions of those weights,
    #: in log order: a failure binds every submission of the same weights (S7). Few.
    failed: dict[str, list[int]] = field(default_factory=dict)
    #: evaluation result -> "fail" when its outcome is pass yet a category it lists
    #: failed, "none" when it is pass and lists no category: neither is a passing
    #: result (S7). Rare: a result that contradicts itself.
    unsound_results: dict[int, str] = field(default_factory=dict)
    #: model digest -> (run, its first submission of those weights) for each run (first
    #: version) that submitted them and broke S1-S5: an approval of the same weights
    #: under a run that submitted them later rests on them (S6). Few: only runs with
    #: such a violation are named.
    tainted: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: model digest -> (update, the decision it updates) of each update of an approved
    #: model offering those weights: a rejection of them, or a contest upheld against
    #: them, logged after the update still finds it (S15). One per update.
    offered: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
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
    #: when it was declared, the name as declared)]. The departure is the later of the
    #: date declared and the last time the log shows the person in post.
    departures: dict[str, list[tuple[int, str, int, int, str]]] = field(default_factory=dict)
    #: S19 matches people, not keys: holder (as S19 compares names) -> the keys granted
    #: to that holder with a lab's role or an overseeing one, in log order, revoked or
    #: not; and key id -> its holder, for revocations. As many as keys granted.
    held: dict[str, list[HeldKey]] = field(default_factory=dict)
    holder_of: dict[str, str] = field(default_factory=dict)
    #: S16 asks which runs of an organisation were under way when a period started, or
    #: at some time in a window before it (pre-registered before the period, reported
    #: started, not completed or halted, nor past their planned end by more than the
    #: overrun a run is allowed), and what they plan.
    #: Organisation -> first version -> (logged ms, planned FLOP, planned end ms) of
    #: each version, for the runs not over yet: as many as run at once, not as many as
    #: ever ran.
    live_runs: dict[str, dict[int, list[tuple[int, int, int]]]] = field(default_factory=dict)
    #: The runs that are over, appended as each ends (log order): (the latest end
    #: so far, this end's ms, organisation, first version, its versions as above).
    #: Read from the newest back, only as far as ends after the period's start: a walk
    #: over the runs that ended since, not over every run (the first field makes the
    #: stop exact in a log out of time order, which L2 reports).
    run_ends: list[tuple[int, int, str, int, tuple[tuple[int, int, int], ...]]] = field(
        default_factory=list
    )
    #: Organisation -> (period start ms, period end ms, FLOP) of each attestation of
    #: compute delivered to it: S16 sums what a compute window's periods attest.
    #: Attestations are few (a provider's per period), not one per entry.
    org_attested: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    #: The organisations the log registers: an `organisation` entry or a key granted a
    #: lab's role names them (organisation -> the first such entry). Compute attested to
    #: any other name is summed with every other such name's (S16): one lab's compute
    #: split across names the log does not know.
    registered: dict[str, int] = field(default_factory=dict)
    #: (period start ms, period end ms, FLOP) of each attestation to an organisation
    #: the log did not register when it was logged.
    unregistered_attested: list[tuple[int, int, int]] = field(default_factory=list)

    # -- what the rules record ----------------------------------------------------

    def note_version(
        self, org: str, root: Run, logged_ms: int, planned_flop: int, planned_end_ms: int
    ) -> None:
        """Record a run version *org* pre-registered at *logged_ms* for S16's question.
        A version logged after its run is over covers nothing (no period starts
        before it and after the end), so it is not recorded."""
        if root.ended_ms is None:
            self.live_runs.setdefault(org, {}).setdefault(root.index, []).append(
                (logged_ms, planned_flop, planned_end_ms)
            )

    def note_run_end(self, root: Run, logged_ms: int, index: int) -> None:
        """The run whose first version is *root* completed or halted (entry *index*)
        at *logged_ms*."""
        if root.ended_ms is not None:
            return  # over since its first end
        root.ended_ms, root.ended_by = logged_ms, index
        latest = max(logged_ms, self.run_ends[-1][0]) if self.run_ends else logged_ms
        # Every organisation that logged a version, in a fixed order: one, as admission
        # refuses a version of another organisation's run (L4); a log forced past it
        # is still judged.
        for org in sorted(self.live_runs):
            versions = self.live_runs[org].pop(root.index, None)
            if versions is not None:
                self.run_ends.append((latest, logged_ms, org, root.index, tuple(versions)))

    # -- questions the rules ask ------------------------------------------------

    def plans_under_way(
        self, org: str, ms: int, overrun_ms: int, since: int | None = None
    ) -> dict[int, int]:
        """The runs *org* had under way at *ms* (S16), each first version with its plan:
        a run with a version *org* logged before *ms*, not completed or halted by *ms*,
        whose training is reported started (a plan never started covers nothing), and
        not more than *overrun_ms* past its planned end by *ms* (a run never reported
        over does not cover compute for ever); its plan is that of its latest version
        logged before *ms* (a later version's plan replaces an earlier one's, smaller
        or larger), and so is its planned end.

        With *since* (before *ms*): the runs under way at some time from *since* to
        *ms*, the same runs less the condition at *ms* that they were not over: over
        after *since*, and not past the overrun by *since*."""
        at_ms = ms if since is None else since
        out = {
            root: latest
            for root, v in self.live_runs.get(org, {}).items()
            if self.runs[root].chain_started and (latest := _latest_before(v, ms)) is not None
        }
        # Runs over now but not at *at_ms*: those whose end came after it, newest first.
        at = len(self.run_ends) - 1
        while at >= 0:
            latest_end, end_ms, owner, root, versions = self.run_ends[at]
            if latest_end <= at_ms:
                break  # this end and every earlier one came by *at_ms*
            if owner == org and end_ms > at_ms and self.runs[root].chain_started:
                version = _latest_before(versions, ms)
                if version is not None:
                    out[root] = version
            at -= 1
        return {
            root: planned
            for root, (planned, planned_end) in out.items()
            if planned_end + overrun_ms > at_ms
        }

    def planned_end(self, org: str, root: int, ms: int) -> int | None:
        """The planned end of the latest version of run *root* that *org* logged before
        *ms* (None when it has none): what S16's overrun counts from."""
        versions = self.live_runs.get(org, {}).get(root)
        # A run over has one record in run_ends; read from the newest back, where the
        # run S16 asks about (over after the period started) is found first.
        at = len(self.run_ends) - 1
        while versions is None and at >= 0:
            _, _, owner, r, ended = self.run_ends[at]
            if owner == org and r == root:
                versions = list(ended)
            at -= 1
        latest = _latest_before(versions or [], ms)
        return None if latest is None else latest[1]

    @property
    def cal(self) -> CycleCalendar:
        """Each cycle's calendar: the charter's, or an amendment's from its cycle on."""
        assert self.calendar is not None, "no charter applied"
        # In log order: a later amendment overrides an earlier one for every cycle it
        # covers, whichever starts first (docs/policy-notes.md, "Charter amendments").
        amended = tuple(
            (c.calendar_from_cycle, Calendar.of_payload(c.calendar))
            for _, _, c in sorted(self.amendments, key=lambda a: a[1])
            if c.calendar is not None and c.calendar_from_cycle is not None
        )
        return CycleCalendar(self.calendar, amended)

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
        caps = self.caps.get(level, [])
        if not caps:
            return None
        # Lifts that do not happen (postponed) or take no effect (stranded) set no cap.
        _, stranded, postponed = self._judged_lifts()
        cap = None
        for eff, value, index in caps:
            if (
                eff <= ms
                and index not in self.lapsed
                and index not in postponed
                and index not in stranded
            ):
                cap = value
        return cap

    def raising_lifts(self) -> list[tuple[int, int, int]]:
        """The lifts that raise the frontier, (effective ms, level, index) in date
        order: not lapsed, not postponed, and each to the level just above the frontier
        the ones before it left (see _judged_lifts)."""
        return self._judged_lifts()[0]

    def stranded_lifts(self) -> set[int]:
        """The lifts (indices) that would skip a level (see _judged_lifts)."""
        return self._judged_lifts()[1]

    def _judged_lifts(self) -> tuple[list[tuple[int, int, int]], set[int], set[int]]:
        """The lifts that raise the frontier, those stranded above it, and those
        postponed (a postponement of their cycle logged before they took effect).

        A lift is scheduled to the level above the frontier on its date; when a lift
        below it then lapses (a calendar amendment) or is postponed, it would skip a
        level. It is stranded: it takes no effect, as a lift that skips a level would
        not (S11), and its cap neither; the frontier rises one level at a time
        (docs/policy-notes.md, S11). A lift to a level the frontier already reached
        (scheduled before the lift below it) is a change of that level's cap."""
        initial = self.rules.initial_frontier_level
        first_lift = self.cal.lift_ms(self.rules.first_cycle)
        # Before the first cycle's lift the initial level is not yet trainable (S2): the
        # frontier is the level below it, and the first lift date raises it to the
        # initial level as a lift would (a schedule on that date to the level above the
        # initial one skips a level, S11).
        level = initial - 1
        raising: list[tuple[int, int, int]] = []
        stranded: set[int] = set()
        postponed: set[int] = set()
        # In date order and, on one date, in log order: a lift logged after another on
        # the same date is judged against the frontier that one left (two levels on one
        # day would be a jump). self.lifts is kept sorted by level within a date.
        for eff, lv, index in sorted(self.lifts, key=lambda lift: (lift[0], lift[2])):
            if eff >= first_lift:
                level = max(level, initial)
            if index in self.lapsed:
                continue
            if self.lift_postponed(eff):
                postponed.add(index)
            elif lv == level + 1:
                level = lv
                raising.append((eff, lv, index))
            elif lv > level + 1:
                stranded.add(index)
        return raising, stranded, postponed

    def frontier_at(self, ms: int) -> int:
        """The highest level trainable at *ms*: the initial level from the first cycle's
        lift (the level below it before), raised one level by each lift that took effect
        by then (raising_lifts)."""
        initial = self.rules.initial_frontier_level
        # The initial level is trainable from the first cycle's lift (S2), not before.
        level = initial if ms >= self.cal.lift_ms(self.rules.first_cycle) else initial - 1
        for eff, lv, _ in self.raising_lifts():
            if eff <= ms:
                level = max(level, lv)
        return level

    def off_lift_dates(self, cal: CycleCalendar) -> dict[int, tuple[int, int]]:
        """Threshold schedule -> (its date, its level) for each schedule in effect when
        logged whose date *cal* says is no lift date (S11: it then takes no effect). The
        charter's own caps (in force from the start, at 0) are no schedules."""
        return {
            index: (eff, level)
            for level, caps in self.caps.items()
            for eff, _, index in caps
            if eff and not cal.is_lift_date(date_of(eff))
        }

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
        times = [eff for eff, lv, _ in self.raising_lifts() if lv == level]
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

    def plan_in_force(self, named: Run, ms: int) -> Run:
        """The version of *named*'s run in force at *ms*: the last version of the run,
        in log order, logged by then (*named* itself if it was logged after *ms*). A
        start report naming a version an amendment had already superseded is judged
        against that amendment: the lead time runs from the plan actually in force
        (docs/policy-notes.md, S1)."""
        if ms < named.logged_ms:
            return named
        version = self.version_in_force(self.runs[named.root], ms)
        return version if version.index >= named.index else named

    def version_in_force(self, root: Run, ms: int) -> Run:
        """The version of the run whose first version is *root* in force at *ms*: the
        last (in log order) logged by then, or the first if none was. What a provider
        attests of the run is judged against it, whichever version it names."""
        for i in reversed((root.index, *root.versions)):
            if self.runs[i].logged_ms <= ms:
                return self.runs[i]
        return root

    def taint(self, root: int) -> None:
        """Name the run *root* (which broke S1-S5) against each of the weights it
        submitted (S6: the model is its weights)."""
        for digest, first in self.runs[root].digests:
            named = self.tainted.setdefault(digest, [])
            if (root, first) not in named:
                named.append((root, first))

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

    def approval_ms(self, decision: int) -> int | None:
        """When *decision* approved a model (None if it approved none): any decision
        whose outcome is approved, a second one on a submission (S10) included, as S11
        and S17 count approvals.

        ``approvals`` is appended in log order, so it is sorted by decision index: a
        binary search, as one access may name every approval of a cycle (a scan per
        decision made a long log's audit quadratic).
        """
        i = bisect_left(self.approvals, decision, key=lambda a: a[2])
        if i < len(self.approvals) and self.approvals[i][2] == decision:
            return self.approvals[i][0]
        return None

    def approved_at_level_by(self, level: int, ms: int) -> int | None:
        for when, lv, index in self.approvals:
            if lv == level and when < ms:
                return index
        return None


def exceeds(amount: int, base: int, factor: Decimal) -> bool:
    """Whether *amount* is above *base* x *factor*, exactly. FLOP counts run to 28
    digits and more, past a Decimal's default precision, which would round the product
    (and let a report one FLOP over its limit pass): the comparison is made on
    fractions, as the reference auditor makes it."""
    return amount > Fraction(base) * Fraction(factor)


def flop(text: str) -> int:
    return parse_flop(text, "flop")


def _latest_before(versions: Sequence[tuple[int, int, int]], ms: int) -> tuple[int, int] | None:
    """The plan and planned end of the latest version (in log order) logged before
    *ms*; None when none was logged by then."""
    plans = [(planned, end) for logged, planned, end in versions if logged < ms]
    return plans[-1] if plans else None
