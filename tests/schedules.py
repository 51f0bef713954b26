"""Random but plausible schedules, as scenarios (the readable format of tests/scenarios/).

:func:`schedules` is a hypothesis strategy. Each example is a
:class:`Schedule` — a :class:`ledger.demo.scenario.Scenario` plus the instants
it aimed at (its deadlines, each ±1 ms) — so any example can be written out
with :func:`to_toml` and read back with :func:`ledger.demo.scenario.load`.

A schedule is a charter with random numbers (lead time, notice period, limits,
tolerances, levels), key grants and organisations, then three cycles
(2027-2029) of stories: the evaluator's suites, the regulator's lifts,
deregulations and postponements, the log's schedule markers, and each lab's
runs (pre-registration, amendments, training, submissions, evaluation,
contests, decisions, reveals). Every step is optional, some repeat, and every
time is drawn around the deadline it concerns (−1 ms, exactly, +1 ms, ± the
reporting tolerance) or at random. Each story gives its entries absolute
times; the stories are then merged in time order, so steps of different actors
interleave, and a reference may end up pointing at a later entry (an L4 case).
A few entries are signed by an unknown key or by an actor without the role.

Shrinking moves every choice towards its first option: an on-time, correctly
signed, plausible step. What remains in a shrunk example is what matters.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from ledger.demo.scenario import Scenario, ScenarioEntry

ORIGIN = "fuzz.frontier-ledger.invalid/log"
CYCLES = (2027, 2028, 2029)
GOVERNORS = ("governor-a", "governor-b", "governor-c")
LABS = ("acme", "borealis", "cobalt")
#: Compute providers (S16): each holds compute:<name> and attests under its own name.
PROVIDERS = ("stratus", "nimbus")
CONTESTER = "openeval"
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
COMMITMENT_PREFIX = b"frontier-ledger/commitment/v1\n"
#: entries a schedule may hold (the setup included)
MAX_ENTRIES = 80


# -- time --------------------------------------------------------------------


def day_ms(year: int, month: int, day: int) -> int:
    return int(dt.datetime(year, month, day, tzinfo=dt.UTC).timestamp()) * 1000


def rfc3339(ms: int) -> str:
    """2027-01-04T09:00:00Z, or 2027-01-04T09:00:00.001Z when it has milliseconds."""
    t = dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{t}Z" if ms % 1000 == 0 else f"{t}.{ms % 1000:03d}Z"


def date_of(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).date().isoformat()


def lift(cycle: int) -> int:
    """The lift of *cycle* takes effect at the start of 1 January."""
    return day_ms(cycle, 1, 1)


def window_closes(cycle: int) -> int:
    """The submission window closes at the end of 30 June."""
    return day_ms(cycle, 7, 1)


def decision_day(cycle: int) -> tuple[int, int]:
    """[start, end) of 31 December."""
    return day_ms(cycle, 12, 31), day_ms(cycle + 1, 1, 1)


# -- documents and numbers ----------------------------------------------------


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Sealed:
    """A sealed document: what is committed, and what a reveal needs."""

    content: str
    salt: str  # base64 of 32 bytes

    @property
    def commitment(self) -> str:
        return hashlib.sha256(
            COMMITMENT_PREFIX + base64.b64decode(self.salt) + self.content.encode()
        ).hexdigest()


def sealed(label: str, what: str) -> Sealed:
    salt = hashlib.sha256(f"salt of {label}".encode()).digest()
    return Sealed(f"{what} of {label} (fictional)", base64.b64encode(salt).decode())


_E = re.compile(r"^([1-9])(\d*?)(0*)$")


def flop(n: int) -> str:
    """A FLOP count as people write it ("8e25", "8.4e25") when that is exact, else digits."""
    m = _E.match(str(n))
    if n < 10 or m is None or len(m.group(3)) == 0:
        return str(n)
    lead, rest, zeros = m.groups()
    exponent = len(rest) + len(zeros)
    return f"{lead}.{rest}e{exponent}" if rest else f"{lead}e{exponent}"


# -- the charter's numbers ----------------------------------------------------


@dataclass(frozen=True)
class Rules:
    lead_days: int
    notice_days: int
    late_limit_days: int
    reply_days: int
    reveal_days: int
    tolerance: str
    report_hours: int | None  # None: the charter leaves it out (48 hours)
    window_days: int | None  # None: the charter leaves out the compute window (365 days)
    lag: int
    caps: dict[int, int]  # the charter's level table

    @property
    def report_ms(self) -> int:
        return (48 if self.report_hours is None else self.report_hours) * HOUR

    @property
    def window_ms(self) -> int:
        return (365 if self.window_days is None else self.window_days) * DAY

    def allowed(self, planned: int) -> int:
        """planned x (1 + tolerance), rounded down."""
        return int(Decimal(planned) * (1 + Decimal(self.tolerance)))


@st.composite
def charter_rules(draw: Any) -> Rules:
    n_levels = draw(st.sampled_from([5, 4, 3]))
    caps, cap = {}, 10**25
    for level in range(n_levels):
        caps[level] = cap
        cap *= draw(st.sampled_from([3, 10, 2]))
    if draw(st.integers(0, 7)) == 7:
        del caps[n_levels - 2]  # a level without a cap
    return Rules(
        lead_days=draw(st.sampled_from([30, 0, 1, 7, 60])),
        notice_days=draw(st.sampled_from([90, 0, 1, 30, 120])),
        late_limit_days=draw(st.sampled_from([60, 1, 30, 90])),
        reply_days=draw(st.sampled_from([30, 1, 14, 60])),
        reveal_days=draw(st.sampled_from([365, 1, 30, 180])),
        tolerance=draw(st.sampled_from(["0.05", "0", "0.1", "0.25"])),
        report_hours=draw(st.sampled_from([None, 0, 1, 24, 48, 168])),
        window_days=draw(st.sampled_from([None, 0, 60, 200])),
        lag=draw(st.sampled_from([2, 1, 3])),
        caps=caps,
    )


# -- the schedule being drawn -------------------------------------------------


@dataclass(frozen=True)
class Schedule(Scenario):
    """A scenario plus a second time to audit it at: one of the deadlines its times
    were drawn around (±1 ms), between its first and last entries."""

    second_now: int | None = None


@dataclass
class Step:
    """An entry drawn, with what later steps need to know about it."""

    entry: ScenarioEntry
    seq: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.entry.label

    @property
    def at(self) -> int:
        return self.entry.at_ms

    @property
    def type(self) -> str:
        return self.entry.type


class Draft:
    """The entries drawn so far, in the order they were drawn (not yet in time order)."""

    def __init__(self, draw: Any, rules: Rules, labs: tuple[str, ...]) -> None:
        self.draw = draw
        self.rules = rules
        self.labs = labs
        self.steps: list[Step] = []
        self.by_label: dict[str, Step] = {}
        self.probes: set[int] = set()
        #: the frontier level each cycle should have if every lift so far happens
        self.frontier: dict[int, int] = {CYCLES[0]: 1}

    # choices: the first option is the plain one, where shrinking goes
    def pick(self, *options: Any) -> Any:
        return self.draw(st.sampled_from(options))

    def mostly(self, plain: Any, *others: Any, one_in: int = 4) -> Any:
        """*plain*, or (one time in *one_in*) one of *others*."""
        return self.pick(*others) if others and self.rarely(one_in) else plain

    def when(self, plain: Any, *others: Any, one_in: int = 2) -> int:
        """A time: the *plain* way, or (one time in *one_in*) one of the *others* (each a
        function, called only if picked)."""
        return int((self.pick(*others) if others and self.rarely(one_in) else plain)())

    def rarely(self, one_in: int = 12) -> bool:
        return bool(self.draw(st.integers(0, one_in - 1)) == one_in - 1)

    def maybe(self) -> bool:
        return bool(self.draw(st.booleans()))

    def count(self, most: int) -> int:
        return int(self.draw(st.integers(0, most)))

    def full(self) -> bool:
        return len(self.steps) >= MAX_ENTRIES

    def around(self, deadline: int, *, tolerance: int | None = None, spread: int = 0) -> int:
        """A time around *deadline*: −1 ms, exactly, +1 ms, ± *tolerance* (and ±1 ms
        around those), or up to *spread* either way in whole minutes."""
        self.probes.update((deadline - 1, deadline, deadline + 1))
        offsets = [0, -1, 1]
        if tolerance is not None:
            offsets += [-tolerance, tolerance, -tolerance - 1, tolerance + 1]
        kind = self.draw(st.integers(0, 2)) if spread else 0
        if kind < 2:
            return deadline + int(self.draw(st.sampled_from(offsets)))
        return deadline + int(self.draw(st.integers(-spread // MINUTE, spread // MINUTE))) * MINUTE

    def later(self, t: int, most: int, least: int = 0) -> int:
        """Some time after *t* (whole minutes), between *least* and *most* later."""
        return t + int(self.draw(st.integers(least // MINUTE, most // MINUTE))) * MINUTE

    def signers(self, by: list[str], wrong: list[str] | None) -> list[str]:
        """Mostly the right actors; rarely an unknown key or an actor without the role."""
        if wrong is None or not self.rarely(80):
            return by
        return [self.pick("impostor", *wrong)]

    def add(
        self,
        kind: str,
        at: int,
        by: list[str],
        fields: dict[str, Any],
        *,
        name: str,
        wrong: list[str] | None = None,
        content: str | None = None,
        **info: Any,
    ) -> Step | None:
        """Draw one entry; None when the schedule is full."""
        if self.full():
            return None
        if kind not in ("charter", "key_grant", "organisation"):
            at = max(at, STORIES_FROM)
        label, n = name, 1
        while label in self.by_label:
            n += 1
            label = f"{name}-{n}"
        who = self.signers(by, wrong)
        entry = ScenarioEntry(label, kind, at, tuple(who), fields, content)
        step = Step(entry, len(self.steps), info)
        self.steps.append(step)
        self.by_label[label] = step
        return step

    def ref(self, step: Step, *, at: int) -> str:
        """A reference to *step* from an entry logged at *at*: "@label", rarely an entry
        of another type, or a later one of the same type (L4)."""
        if self.rarely(80):
            others = [s for s in self.steps if s.type != step.type and s.at <= at]
            later = [s for s in self.steps if s.type == step.type and s.at > at]
            choice = self.pick(*(others[-3:] + later[:2])) if others or later else step
            return f"@{choice.label}"
        return f"@{step.label}"

    def of(self, kind: str, *, before: int, **match: Any) -> list[Step]:
        return [
            s
            for s in self.steps
            if s.type == kind
            and s.at < before
            and all(s.info.get(k) == v for k, v in match.items())
        ]

    def cap(self, level: int) -> int:
        return self.rules.caps.get(level, 10**26)


# -- setup: charter, keys, organisations --------------------------------------

#: The charter, the keys and the organisations; every story starts after them.
SETUP_AT = day_ms(2026, 6, 1)
STORIES_FROM = SETUP_AT + 2 * DAY


def charter(d: Draft) -> None:
    r = d.rules
    fields: dict[str, Any] = {
        "regulator": {
            "name": "Frontier Compute Authority (fictional)",
            "jurisdiction": "Simulated Republic",
        },
        "simulation": True,
        "calendar": {
            "lift": "01-01",
            "submission_deadline": "06-30",
            "decision": "12-31",
            "time_zone": "UTC",
        },
        "first_cycle": CYCLES[0],
        "levels": [{"level": lv, "cap_flop": flop(cap)} for lv, cap in sorted(r.caps.items())],
        "initial_frontier_level": 1,
        "deregulation_lag": r.lag,
        "notice_period_days": r.notice_days,
        "preregistration_lead_days": r.lead_days,
        "late_decision_limit_days": r.late_limit_days,
        "contest_reply_limit_days": r.reply_days,
        "reveal_deadline_days": r.reveal_days,
        "compute_tolerance": r.tolerance,
        "root_keys": list(GOVERNORS),
        "board_quorum": 2,
        "decision_quorum": 1,
    }
    if r.report_hours is not None:
        fields["report_tolerance_hours"] = r.report_hours
    if r.window_days is not None:
        fields["compute_window_days"] = r.window_days
    d.add("charter", SETUP_AT, list(GOVERNORS[:2]), fields, name="charter")


def grants(d: Draft) -> None:
    roles = [
        ("regulator", "regulator", "decision key of the authority"),
        ("evaluator", "evaluator", "evaluation unit"),
        ("sequencer", "log", "the schedule markers of the sequencer"),
        (CONTESTER, f"contester:{CONTESTER}", "a civil-society evaluator"),
        *((p, f"compute:{p}", f"attestation key of {p}") for p in PROVIDERS),
    ] + [(lab, f"lab:{lab}", f"compliance key of {lab}") for lab in d.labs]
    at = SETUP_AT + HOUR
    for actor, role, reason in roles:
        board = [GOVERNORS[0], d.pick(*GOVERNORS[1:])]
        fields = {"actor": actor, "roles": [role], "reason": reason}
        d.add("key_grant", at, board, fields, name=f"grant-{actor}", wrong=[GOVERNORS[0]])
    for org in (*d.labs, CONTESTER):
        if d.maybe():
            kind = "contester" if org == CONTESTER else "lab"
            fields = {
                "org_id": org,
                "legal_name": f"{org.title()} (fictional)",
                "jurisdiction": "Simulated Republic",
                "kind": kind,
            }
            d.add(
                "organisation",
                at + DAY,
                ["regulator"],
                fields,
                name=f"org-{org}",
                wrong=["evaluator"],
            )


def revocation(d: Draft, cycle: int) -> None:
    """Rarely, the board revokes a lab's key during a cycle: the lab's later entries fail L3."""
    lab = d.pick(*d.labs)
    at = d.later(lift(cycle), 300 * DAY)
    fields = {"actor": lab, "reason": "key compromised"}
    d.add("key_revoke", at, list(GOVERNORS[:2]), fields, name=f"revoke-{lab}")


# -- the evaluator: suites ----------------------------------------------------


def eval_suite(d: Draft, cycle: int) -> None:
    """A suite published before the submission deadline (mostly), or around it, or after."""
    close = window_closes(cycle)
    at = d.when(
        lambda: d.later(lift(cycle) - 120 * DAY, 150 * DAY),
        lambda: d.around(close),
        lambda: d.later(close, 120 * DAY),
        one_in=4,
    )
    name = f"suite-{cycle}"
    fields: dict[str, Any] = {
        "suite_id": "core",
        "version": f"{cycle}.{d.count(3)}",
        "levels": [d.frontier[cycle]],
        "public": {"sealed": False, "sha256": digest(f"public part of {name}")},
    }
    secret = public = None
    if d.rarely(4):
        secret = sealed(name, "secret part")
        fields["secret"] = {"sealed": True, "sha256": secret.commitment}
        if d.rarely(3):
            # Both parts sealed: each needs its own reveal (R28).
            public = sealed(name, "public part")
            fields["public"] = {"sealed": True, "sha256": public.commitment}
    step = d.add(
        "eval_suite", at, ["evaluator"], fields, name=name, wrong=["regulator"], cycle=cycle
    )
    if step is not None and secret is not None and not d.rarely(3):
        reveal(d, step, secret, signer="evaluator")
    if step is not None and public is not None and not d.rarely(2):
        reveal(d, step, public, signer="evaluator")


# -- the regulator: lifts, deregulations, postponements -----------------------


def threshold_schedule(d: Draft, cycle: int) -> None:
    """The lift into the next cycle: on its lift date (mostly), a day off, or skipping a
    level; logged the notice period before (±1 ms) or earlier, rarely later."""
    frontier = d.frontier[cycle]
    level = d.mostly(frontier + 1, frontier + 2, frontier)
    # Rarely the cycle's own lift date: for the first cycle, the date the initial level
    # becomes trainable, so a lift above it then skips a level (S11).
    target = d.mostly(
        lift(cycle + 1), day_ms(cycle + 1, 1, 2), day_ms(cycle + 1, 3, 1), lift(cycle)
    )
    notice = d.rules.notice_days * DAY
    at = d.when(
        lambda: d.later(target - notice - 200 * DAY, 150 * DAY),
        lambda: d.around(target - notice),
        lambda: d.later(target - notice, 20 * DAY),
    )
    cap = d.cap(level) if level in d.rules.caps else max(d.rules.caps.values()) * 3
    fields = {"level": level, "cap_flop": flop(cap), "effective_date": date_of(target)}
    step = d.add(
        "threshold_schedule",
        at,
        ["regulator"],
        fields,
        name=f"lift-{level}-{cycle + 1}",
        wrong=["evaluator"],
    )
    if step is not None and level == frontier + 1 and target == lift(cycle + 1):
        d.frontier[cycle + 1] = level
        if d.rarely(3):
            # The lift after next too, scheduled now: stranded (S11) if the lift below it
            # is then postponed or moved off its date by a calendar amendment.
            after = lift(cycle + 2)
            upper = level + 1
            cap = d.cap(upper) if upper in d.rules.caps else max(d.rules.caps.values()) * 3
            d.add(
                "threshold_schedule",
                d.later(at, 10 * DAY, MINUTE),
                ["regulator"],
                {"level": upper, "cap_flop": flop(cap), "effective_date": date_of(after)},
                name=f"lift-{upper}-{cycle + 2}-early",
                wrong=["evaluator"],
            )


def charter_amendment(d: Draft, cycle: int) -> None:
    """The board amends the charter: mostly the next cycle's calendar (its lift a day
    or two months later, or back on 01-01), from under a lift already scheduled or not,
    sometimes with the compute tolerance; logged the notice period before the new lift
    (±1 ms) or earlier; effective the notice period after it is logged."""
    notice = d.rules.notice_days * DAY
    month_day = d.pick("01-02", "03-01", "01-01")
    new_lift = day_ms(cycle + 1, int(month_day[:2]), int(month_day[3:]))
    at = d.when(
        lambda: d.later(new_lift - notice - 120 * DAY, 100 * DAY),
        lambda: d.around(new_lift - notice),
    )
    changes: dict[str, Any] = {}
    if not d.rarely(4):
        changes["calendar"] = {
            "lift": month_day,
            "submission_deadline": "06-30",
            # Rarely a decision date before the deadline: a calendar out of order (G6).
            "decision": "03-31" if d.rarely(10) else "12-31",
            "time_zone": "UTC",
        }
        changes["calendar_from_cycle"] = d.mostly(cycle + 1, cycle + 2, cycle)
    if changes == {} or d.rarely(3):
        changes["compute_tolerance"] = d.pick("0.1", "0")
    if d.rarely(4):
        changes["compute_window_days"] = d.pick(30, 0, 365)
    fields = {
        "changes": changes,
        "effective_date": date_of(at + notice + DAY),
        "reason": "the board amends the charter",
    }
    board = [GOVERNORS[0], d.pick(*GOVERNORS[1:])]
    d.add("charter_amendment", at, board, fields, name=f"amend-{cycle}", wrong=[GOVERNORS[0]])


def deregulation(d: Draft, cycle: int) -> None:
    """Deregulate up to frontier − lag on the next lift date (or another date), with
    notice, or too far, retroactive, or on a lift date that gets postponed."""
    frontier = d.frontier.get(cycle + 1, d.frontier[cycle])
    level = max(0, d.mostly(frontier - d.rules.lag, frontier - d.rules.lag + 1, 0))
    # Rarely the eve of the cycle's own lift: for the first cycle, the initial level is
    # not yet trainable then (the frontier is the level below it).
    target = d.mostly(
        lift(cycle + 1), day_ms(cycle + 1, 2, 1), day_ms(cycle, 9, 1), lift(cycle) - DAY
    )
    notice = d.rules.notice_days * DAY
    at = d.when(
        lambda: d.later(target - notice - 100 * DAY, 90 * DAY),
        lambda: d.around(target - notice),
        lambda: d.later(target, 3 * DAY),  # retroactive: on or after its date
        lambda: d.around(target + DAY),  # logged the day after its date (±1 ms)
    )
    fields = {
        "level": level,
        "effective_date": date_of(target),
        "reason": "the lift moved the frontier",
    }
    d.add(
        "deregulation",
        at,
        ["regulator"],
        fields,
        name=f"dereg-{level}-{date_of(target)}",
        wrong=["evaluator"],
    )


def postponement(d: Draft, cycle: int) -> None:
    """Postpone the next lift by the decision date (±1 ms), or earlier, or late; rarely
    backwards (to_cycle not after from_cycle)."""
    start, end = decision_day(cycle)
    at = d.when(
        lambda: d.around(end),
        lambda: d.later(start, DAY - MINUTE),
        lambda: d.later(start - 60 * DAY, 59 * DAY),
        lambda: d.later(end, 40 * DAY),
    )
    level = d.frontier[cycle] + 1
    to = d.mostly(cycle + 2, cycle + 3, cycle + 1)
    fields = {
        "level": level,
        "from_cycle": cycle + 1,
        "to_cycle": to,
        "reason": f"no level-{level - 1} model approved",
    }
    d.add(
        "threshold_postponement",
        at,
        ["regulator"],
        fields,
        name=f"postpone-{cycle + 1}",
        wrong=["evaluator"],
    )


def markers(d: Draft, cycle: int) -> None:
    """The log's markers: at their deadlines (±1 ms), later, or twice."""
    start, end = decision_day(cycle)
    deadlines = {
        "lift_date": lift(cycle),
        "submission_window_closed": window_closes(cycle),
        "decision_due": d.pick(start, end),
    }
    for marker, deadline in deadlines.items():
        for _ in range(d.mostly(1, 0, 2)):
            at = d.when(
                lambda t=deadline: d.around(t),
                lambda t=deadline: d.later(t, 5 * DAY),
            )
            fields = {"marker": marker, "cycle": cycle}
            d.add(
                "schedule_marker",
                at,
                ["sequencer"],
                fields,
                name=f"marker-{marker}-{cycle}",
                wrong=["regulator"],
            )


# -- a lab's run ----------------------------------------------------------------


@dataclass
class Run:
    """One run being drawn: its versions and what happened to them."""

    lab: str
    cycle: int
    level: int
    planned: int
    versions: list[Step] = field(default_factory=list)
    starts: list[Step] = field(default_factory=list)
    halts: list[Step] = field(default_factory=list)
    #: halts and completions: the run is over from the first (S16)
    ends: list[Step] = field(default_factory=list)
    submissions: list[Step] = field(default_factory=list)

    @property
    def latest(self) -> Step:
        return self.versions[-1]


def version_named(d: Draft, run: Run) -> Step:
    """The version a training event or submission names: the latest, rarely an older one."""
    return run.versions[0] if len(run.versions) > 1 and d.rarely(5) else run.latest


def lab_signer(d: Draft, lab: str) -> list[str]:
    return [lab]


def other_labs(d: Draft, lab: str) -> list[str]:
    return [x for x in d.labs if x != lab]


#: How long each drawn run plans to train.
PLANNED_DAYS = 150


def planned_flop(d: Draft, level: int) -> int:
    """Within the cap, exactly the cap, one FLOP above it, or well above."""
    cap = d.cap(level)
    return int(d.mostly(d.pick(cap * 8 // 10, cap // 2, cap), cap + 1, cap * 2, one_in=8))


def preregistration(
    d: Draft, run: Run, *, supersedes: Step | None = None, at: int | None = None
) -> Step | None:
    """A plan for the cycle: logged the lead time before its planned start (±1 ms) or
    earlier; sealed or public plan document."""
    lead = d.rules.lead_days * DAY
    if supersedes is None:
        planned_start = d.when(
            lambda: d.later(lift(run.cycle), 40 * DAY, DAY),
            lambda: d.around(lift(run.cycle)),
        )
        at = d.when(
            lambda: d.later(planned_start - lead - 90 * DAY, 89 * DAY),
            lambda: d.around(planned_start - lead),
        )
    else:
        planned_start = run.latest.info["planned_start"]
        assert at is not None
    n = len(run.versions)
    name = f"prereg-{run.lab}-{run.cycle}" + (f"-v{n + 1}" if n else "")
    doc = sealed(name, "training plan") if d.rarely(3) else None
    plan = (
        {"sealed": True, "sha256": doc.commitment}
        if doc
        else {"sealed": False, "sha256": digest(f"plan of {name}")}
    )
    fields: dict[str, Any] = {
        "org": run.lab,
        "run_id": f"{run.lab}-{run.cycle}",
        "model_name": f"{run.lab.title()} {run.cycle}",
        "cycle": run.cycle,
        "level": run.level,
        "planned_flop": flop(run.planned),
        "flop_method": "6 x parameters x training tokens",
        "flop_confidence": "0.9",
        "planned_params": "400000000000",
        "planned_start": rfc3339(planned_start),
        "planned_end": rfc3339(planned_start + PLANNED_DAYS * DAY),
        "hardware": {
            "chip_type": "accelerator-x",
            "chip_count": 20000,
            "site": "North campus",
            "country": "XS",
        },
        "energy_source": "hydro",
        "expected_behaviour": [{"eval": "bio-uplift", "forecast": "below threshold"}],
        "halting_criteria": ["loss spike above plan by 20%"],
        "plan": plan,
    }
    if supersedes is not None:
        fields["supersedes"] = d.ref(supersedes, at=at)
    step = d.add(
        "preregistration",
        at,
        lab_signer(d, run.lab),
        fields,
        name=name,
        wrong=other_labs(d, run.lab),
        planned_start=planned_start,
        lab=run.lab,
        cycle=run.cycle,
    )
    if step is not None:
        run.versions.append(step)
        if doc is not None:
            d.probes.add(at + d.rules.reveal_days * DAY)
            if not d.rarely(3):
                reveal(d, step, doc, signer=run.lab)
    return step


def amendment(d: Draft, run: Run, at: int) -> None:
    """A new version of the plan (of the latest version, rarely of the first again)."""
    old = run.versions[0] if d.rarely(4) else run.latest
    if d.maybe():
        run.planned = planned_flop(d, run.level)
    preregistration(d, run, supersedes=old, at=max(at, old.at))


def training_started(d: Draft, run: Run) -> Step | None:
    """The start: claimed at the planned start, the lead time after the plan (±1 ms),
    at the level's lift (±1 ms), or before the plan; reported around the claimed time
    (± the reporting tolerance)."""
    version = version_named(d, run)
    lead = d.rules.lead_days * DAY
    claimed = d.when(
        lambda: version.info["planned_start"],
        lambda: d.around(version.at + lead),
        lambda: d.around(lift(run.cycle)),
        lambda: version.at - d.pick(HOUR, 10 * DAY),
    )
    at = d.around(claimed, tolerance=d.rules.report_ms, spread=3 * DAY)
    at = max(at, version.at + d.pick(MINUTE, 0, 1))
    fields = {
        "preregistration": d.ref(version, at=at),
        "time": rfc3339(claimed),
        "cumulative_flop": "0",
    }
    step = d.add(
        "training_started",
        at,
        lab_signer(d, run.lab),
        fields,
        name=f"start-{run.lab}-{run.cycle}",
        wrong=other_labs(d, run.lab),
    )
    if step is not None:
        run.starts.append(step)
    return step


def reported_flop(d: Draft, run: Run) -> int:
    """Cumulative compute: within plan, at plan × (1 + tolerance) (±1), or above the cap."""
    allowed = d.rules.allowed(run.planned)
    return int(
        d.mostly(
            d.pick(run.planned * 9 // 10, run.planned // 3, allowed),
            allowed + 1,
            allowed - 1,
            d.cap(run.level) + 1,
        )
    )


def training_event(d: Draft, run: Run, kind: str, after: int) -> Step | None:
    """A halt or a completion, claimed around its logging (± the reporting tolerance)."""
    version = version_named(d, run)
    at = d.later(after, 150 * DAY, MINUTE)
    claimed = d.around(at, tolerance=d.rules.report_ms, spread=2 * DAY)
    fields: dict[str, Any] = {
        "preregistration": d.ref(version, at=at),
        "time": rfc3339(claimed),
        "cumulative_flop": flop(reported_flop(d, run)),
    }
    if kind == "training_halted":
        fields["halt_criterion"] = "loss spike above plan by 20%"
    name = f"{'halt' if kind == 'training_halted' else 'done'}-{run.lab}-{run.cycle}"
    step = d.add(kind, at, lab_signer(d, run.lab), fields, name=name, wrong=other_labs(d, run.lab))
    if step is not None:
        run.ends.append(step)
        if kind == "training_halted":
            run.halts.append(step)
    return step


# -- compute providers: attestations (S16) -------------------------------------


def attestation(
    d: Draft, org: str, period: tuple[int, int], amount: int, *, run: str | None, at: int
) -> Step | None:
    """A provider's attestation of *amount* FLOP delivered to *org* over [start, end)."""
    provider = d.pick(*PROVIDERS)
    start, end = period
    fields: dict[str, Any] = {
        "provider": provider,
        "organisation": org,
        "cluster": f"{provider.title()} cluster",
        "period_start": rfc3339(start),
        "period_end": rfc3339(end),
        "flop_delivered": flop(amount),
    }
    if run is not None:
        fields["run"] = run
    others = [p for p in PROVIDERS if p != provider]
    return d.add("compute_attestation", at, [provider], fields, name=f"attest-{org}", wrong=others)


def compute_of_run(d: Draft, run: Run) -> None:
    """Providers attest compute for a run: periods starting around its pre-registration
    (logged before the period or not), around its end (over by then or not) and around
    its planned end + the compute window (a run never reported over covers nothing
    after), amounts around its plan x (1 + tolerance) and the free cap, mostly naming
    the run."""
    first = run.versions[0]
    end_at = run.ends[0].at if run.ends else None
    overrun = run.latest.info["planned_start"] + PLANNED_DAYS * DAY + d.rules.window_ms
    for _ in range(d.pick(1, 2, 3)):
        start = d.when(
            lambda: d.later(first.at, 60 * DAY, MINUTE),
            lambda: d.around(first.at),
            lambda: d.around(end_at if end_at is not None else first.at + 100 * DAY),
            lambda: d.around(overrun),
        )
        end = start + d.pick(90 * DAY, 30 * DAY, 1)
        allowed = d.rules.allowed(run.planned)
        amount = d.pick(
            run.planned // 2, allowed, allowed + 1, run.planned // 3, d.cap(0), d.cap(0) + 1
        )
        at = d.later(end, 20 * DAY)
        named = d.mostly(run.latest, None, first, one_in=3)
        org = d.mostly(run.lab, *other_labs(d, run.lab), one_in=10)
        ref = None if named is None else d.ref(named, at=at)
        if attestation(d, org, (start, end), amount, run=ref, at=at) is None:
            return


def split_compute(d: Draft, cycle: int) -> None:
    """Compute for one organisation in one quarter split across attestations (each at
    or below the free cap, or not), from either provider, naming no run; or split across
    names the log does not register (shells of one lab, S16)."""
    org = d.pick(*d.labs)
    start = d.later(lift(cycle), 60 * DAY)
    for _ in range(d.pick(2, 3, 4)):
        org = d.mostly(org, *SHELLS, one_in=3)
        end = start + d.pick(90 * DAY, 45 * DAY)
        amount = d.pick(d.cap(0), d.cap(0) // 2, d.cap(1) // 3)
        at = d.later(end, 10 * DAY)
        if attestation(d, org, (start, end), amount, run=None, at=at) is None:
            return
        start = d.mostly(start, end, start + 30 * DAY)  # the next period: same, after, overlapping


MODELS = ("model-a", "model-b", "model-c")
#: Organisations no entry registers: compute attested to them is summed together (S16).
SHELLS = ("shell-a", "shell-b")


def submission(d: Draft, run: Run, after: int, *, remedies: Step | None = None) -> Step | None:
    """A model submitted on time, at the window's close (±1 ms), or late; claimed
    around its logging or back-dated."""
    close = window_closes(run.cycle)
    if remedies is None:
        at = d.when(
            lambda: d.later(max(after, close - 60 * DAY), 59 * DAY),
            lambda: d.around(close),
            lambda: d.later(max(after, close), 150 * DAY, HOUR),
        )
    else:
        at = d.later(remedies.at, 40 * DAY, MINUTE)
    at = max(at, after)
    claimed = d.when(
        lambda: at,
        lambda: d.around(at, tolerance=d.rules.report_ms),
        lambda: at - d.pick(10 * DAY, 60 * DAY),
    )
    model = d.pick(*MODELS)
    version = version_named(d, run)
    fields: dict[str, Any] = {
        "preregistration": d.ref(version, at=at),
        # Rarely weights named by lab alone: another cycle's run of the lab may submit
        # the same weights (S6 and S7 follow the weights, not the run).
        "model_digest": digest(d.mostly(f"{run.lab}-{run.cycle} {model}", f"{run.lab} {model}")),
        "final_flop": flop(reported_flop(d, run)),
        "submitted_at": rfc3339(claimed),
    }
    if remedies is not None:
        fields["remedies"] = d.ref(remedies, at=at)
    if d.rarely(3):
        fields["inference"] = inference(d)
    name = f"{'remedy' if remedies else 'submission'}-{run.lab}-{run.cycle}"
    step = d.add(
        "submission",
        at,
        lab_signer(d, run.lab),
        fields,
        name=name,
        wrong=other_labs(d, run.lab),
        cycle=run.cycle,
        lab=run.lab,
    )
    if step is not None:
        run.submissions.append(step)
        start = decision_day(run.cycle)[0]
        for base in (start, start + DAY, at):
            d.probes.add(max(base, at) + d.rules.late_limit_days * DAY)
    return step


def eval_result(d: Draft, sub: Step, cycle: int) -> Step | None:
    """An evaluation of a submission (rarely of another one), pass or fail, by a suite
    logged before it."""
    start = decision_day(cycle)[0]
    at = d.when(
        lambda: d.later(sub.at, max(start - sub.at, MINUTE), MINUTE),
        lambda: d.later(sub.at, 400 * DAY, MINUTE),
    )
    suites = d.of("eval_suite", before=at)
    if not suites:
        return None
    target = sub
    if d.rarely(10):
        others = d.of("submission", before=at)
        target = d.pick(sub, *others[-2:])
    outcome = d.mostly("pass", "fail")
    results = [{"category": "bio-uplift", "outcome": outcome}]
    if d.rarely(15):
        # A result that contradicts itself or assesses nothing (reading R27).
        results = d.pick([], [{"category": "bio-uplift", "outcome": "fail"}])
    fields = {
        "submission": d.ref(target, at=at),
        "suite": d.ref(d.pick(*suites[-3:]), at=at),
        "outcome": outcome,
        "results": results,
        "report": {"sealed": False, "sha256": digest(f"report on {sub.label}")},
    }
    return d.add(
        "eval_result",
        at,
        ["evaluator"],
        fields,
        name=f"result-{sub.label}",
        wrong=["regulator"],
        submission=target.label,
    )


def contest(d: Draft, run: Run, sub: Step) -> list[Step]:
    """A contest finding and its resolutions: within the reply limit (±1 ms), late, or twice."""
    at = d.later(sub.at, 150 * DAY, MINUTE)
    evidence = sealed(f"contest-{sub.label}", "evidence") if d.rarely(4) else None
    doc = (
        {"sealed": True, "sha256": evidence.commitment}
        if evidence
        else {"sealed": False, "sha256": digest(f"evidence on {sub.label}")}
    )
    fields = {
        "submission": d.ref(sub, at=at),
        "summary": "jailbreak reproduces uplift",
        "evidence": doc,
    }
    finding = d.add(
        "contest_finding",
        at,
        [CONTESTER],
        fields,
        name=f"contest-{sub.label}",
        wrong=[run.lab, "impostor"],
    )
    if finding is None:
        return []
    if evidence is not None and d.maybe():
        reveal(d, finding, evidence, signer=CONTESTER)
    reply = d.rules.reply_days * DAY
    d.probes.add(at + reply)
    out = []
    for _ in range(d.mostly(1, 0, 2)):
        when = d.when(
            lambda: d.later(at, reply, MINUTE),
            lambda: d.around(at + reply),
            lambda: d.later(at + reply, 90 * DAY),
        )
        outcome = d.pick("dismissed", "upheld", "upheld_in_part")
        fields = {
            "finding": d.ref(finding, at=when),
            "outcome": outcome,
            "remedied": d.maybe(),
            "reason": "the finding was examined",
        }
        step = d.add(
            "contest_resolution",
            when,
            ["regulator"],
            fields,
            name=f"resolution-{sub.label}",
            wrong=["evaluator"],
            outcome=outcome,
        )
        if step is not None:
            out.append(step)
    return out


def decision(d: Draft, run: Run, sub: Step, results: list[Step], resolutions: list[Step]) -> None:
    """A decision on the decision date (±1 ms around its start and end), before it, or
    when a late one is due (±1 ms); approved or rejected; citing the submission's
    results and resolutions, none, or another submission's; rarely twice."""
    start, end = decision_day(run.cycle)
    limit = d.rules.late_limit_days * DAY
    for _ in range(d.mostly(1, 0, 2, one_in=6)):
        at = d.when(
            lambda: d.later(start, DAY - MINUTE),
            lambda: d.around(start),
            lambda: d.around(end),
            lambda: d.around(max(end, sub.at) + limit),
            lambda: d.around(max(start, sub.at) + limit),
            lambda: d.later(sub.at, 120 * DAY, MINUTE),
        )
        at = max(at, sub.at)
        cited = [r for r in results if r.at < at and d.maybe()]
        if d.rarely(8):
            cited += d.of("eval_result", before=at)[-1:]
        answered = [r for r in resolutions if r.at < at and d.maybe()]
        if d.rarely(8):
            answered += d.of("contest_resolution", before=at)[-1:]
        target = sub
        if d.rarely(40):  # a decision that names something that is not a submission
            target = d.pick(run.latest, *results[:1])
        fields = {
            "submission": d.ref(target, at=at),
            "outcome": d.pick("approved", "rejected"),
            "eval_results": list(dict.fromkeys(d.ref(r, at=at) for r in cited)),
            "findings": list(dict.fromkeys(d.ref(r, at=at) for r in answered)),
            "reason": "decided on the evaluation",
        }
        d.add(
            "decision", at, ["regulator"], fields, name=f"decision-{sub.label}", wrong=["evaluator"]
        )


def reveal(d: Draft, commitment: Step, doc: Sealed, *, signer: str) -> None:
    """A reveal of a sealed document: matching, of other content, without the document
    (no blob), or of an entry that seals nothing; by the reveal deadline (±1 ms) or later."""
    deadline = commitment.at + d.rules.reveal_days * DAY
    at = d.when(
        lambda: d.later(commitment.at, max(deadline - commitment.at, MINUTE), MINUTE),
        lambda: d.around(deadline),
    )
    kind = d.mostly("match", "other content", "no document")
    content: str | None = doc.content
    if kind == "other content":
        content = doc.content + " (another version)"
    fields = {
        "commitment": d.ref(commitment, at=at),
        "salt": doc.salt,
        "content_sha256": digest(content),
    }
    if kind == "no document":
        content = None
    d.add(
        "reveal",
        at,
        [signer],
        fields,
        name=f"reveal-{commitment.label}",
        wrong=["impostor"],
        content=content,
    )


def reveal_of_public(d: Draft, lab: str) -> None:
    """A reveal naming a pre-registration whose plan was public (nothing to reveal)."""
    public = [
        s
        for s in d.of("preregistration", before=2**62, lab=lab)
        if "sha256" in s.entry.fields["plan"] and not s.entry.fields["plan"]["sealed"]
    ]
    if public:
        reveal(d, public[-1], sealed(public[-1].label, "training plan"), signer=lab)


def run_story(d: Draft, lab: str, cycle: int) -> None:
    """One lab's run in one cycle. Steps are skipped, repeated or put out of order."""
    frontier = d.frontier[cycle]
    level = d.mostly(frontier, frontier - 1, frontier + 1, 0, 9)
    level = max(level, 0)
    run = Run(lab, cycle, level, planned_flop(d, level))
    if preregistration(d, run) is None:
        return
    for _ in range(d.mostly(0, 1, 2)):
        amendment(d, run, d.later(run.latest.at, 30 * DAY, MINUTE))
    if not d.rarely(6):
        training_started(d, run)
        if d.rarely(8):
            training_started(d, run)
    after = max([run.latest.at, *[s.at for s in run.starts]])
    if run.starts and d.rarely(6):
        amendment(d, run, d.later(after, 20 * DAY, MINUTE))
    if d.rarely(6):
        training_event(d, run, "training_halted", after)
    if d.maybe():
        training_event(d, run, "training_completed", after)
    if d.maybe():
        compute_of_run(d, run)
    for _ in range(d.mostly(1, 0, 2)):
        sub = submission(d, run, after)
        if sub is None:
            return
        evaluate_and_decide(d, run, sub)


def evaluate_and_decide(d: Draft, run: Run, sub: Step) -> None:
    results = [r for r in (eval_result(d, sub, run.cycle) for _ in range(d.mostly(1, 0, 2))) if r]
    resolutions = contest(d, run, sub) if d.rarely(3) else []
    upheld = [r for r in resolutions if r.info["outcome"] != "dismissed"]
    if resolutions and (upheld or d.rarely(4)):
        remedy = submission(d, run, sub.at, remedies=d.pick(*(upheld or resolutions)))
        if remedy is not None:
            remedy_results = [
                r for r in (eval_result(d, remedy, run.cycle) for _ in range(d.pick(1, 0))) if r
            ]
            decision(d, run, remedy, remedy_results, [])
    decision(d, run, sub, results, resolutions)
    decided = [
        s
        for s in d.steps
        if s.type == "decision" and s.entry.fields["submission"] == f"@{sub.label}"
    ]
    if decided and d.rarely(3):
        for _ in range(d.pick(1, 2)):
            model_update(d, run, sub, d.pick(*decided))
    if decided and d.rarely(3):
        research_access(d, d.pick(*decided))


# -- after a decision: updates of the model (S15), researchers' access (S17) ----------

#: The charter's defaults (the generated charters leave them out): an update adding
#: more post-training compute, or raising the per-task inference ceiling by more, is
#: significant (S15); researchers' access opens within 30 days and lasts 365 (S17).
POSTTRAINING_THRESHOLD = 10**24
INFERENCE_THRESHOLD = 10**18
INFERENCE_BASE = 10**17


def inference(d: Draft) -> dict[str, Any]:
    """How a model is run: its inference ceiling around the base plus the threshold,
    post-training around the threshold, or none."""
    ceiling = d.pick(
        INFERENCE_BASE,
        INFERENCE_BASE + INFERENCE_THRESHOLD,
        INFERENCE_BASE + INFERENCE_THRESHOLD + 1,
    )
    post = d.pick([], [POSTTRAINING_THRESHOLD // 2], [POSTTRAINING_THRESHOLD + 1])
    # Rarely another purpose for the same FLOP: a step swapped, not added (M10).
    purpose = d.mostly("tool use", "persuasion")
    return {
        "scaffolding": ["code interpreter"],
        "max_inference_flop_per_task": flop(ceiling),
        "post_training": [{"method": "rl", "flop": flop(f), "description": purpose} for f in post],
    }


def model_update(d: Draft, run: Run, sub: Step, dec: Step) -> None:
    """A change to the model *dec* decided: post-training added around the threshold,
    mostly the same weights (rarely another model's), offered around its logging;
    rarely claiming to be evaluated as the submission it updates."""
    at = d.later(dec.at, 200 * DAY, MINUTE)
    added = d.pick(POSTTRAINING_THRESHOLD // 3, POSTTRAINING_THRESHOLD, POSTTRAINING_THRESHOLD + 1)
    # Mostly the same weights; else another model's, rarely one this lab submits (or
    # will submit) in this cycle or the next, whose decision may come after the update.
    cycle = d.pick(run.cycle, run.cycle + 1)
    model = d.mostly(
        sub.entry.fields["model_digest"],
        digest(f"{run.lab} {d.pick(*MODELS)}"),
        digest(f"{run.lab}-{cycle} {d.pick(*MODELS)}"),
    )
    offered = d.around(at, tolerance=d.rules.report_ms, spread=2 * DAY)
    fields: dict[str, Any] = {
        "preregistration": d.ref(version_named(d, run), at=at),
        "decision": d.ref(dec, at=at),
        "description": "an update of the approved model",
        "model_digest": model,
        "inference": inference(d),
        "added_posttraining_flop": flop(added),
        "offered_from": rfc3339(offered),
    }
    if d.rarely(5):
        fields["evaluated_as"] = d.ref(sub, at=at)
    name = f"update-{run.lab}-{run.cycle}"
    d.add(
        "model_update", at, lab_signer(d, run.lab), fields, name=name, wrong=other_labs(d, run.lab)
    )


def research_access(d: Draft, dec: Step) -> None:
    """Researchers' access to the model *dec* approved: opening on the limit's last day,
    the day after, or at once; lasting the minimum, a day less, or a day more."""
    opens = dec.at - dec.at % DAY + d.pick(30, 31, 0, 29) * DAY
    lasts = d.pick(365, 364, 366)
    at = d.later(dec.at, 20 * DAY, MINUTE)
    fields = {
        "decisions": [d.ref(dec, at=at)],
        "institutions": ["Institute for Alignment Studies (fictional)"],
        "access_from": date_of(opens),
        "access_until": date_of(opens + lasts * DAY),
    }
    d.add("research_access", at, ["regulator"], fields, name="access", wrong=["evaluator"])


# -- the regulator's staff (S19) ----------------------------------------------------

COOLING_OFF_DAYS = 365  # the charter's default


def staff_departure(d: Draft, cycle: int) -> None:
    """A staff member leaves the regulator for a lab; the board later grants a key
    holding that lab's role to someone of that name (spelt with other case and spaces,
    or another name), inside the cooling-off period, on its last day, or after, or the
    day before the departure is declared; rarely with an overseeing role beside the
    lab's on one key. Sometimes the officer held a staff key of their own, revoked
    around the departure or never (the cooling-off counts from the last time the log
    shows them in post), and sometimes the departure is dated long before."""
    lab = d.pick(*d.labs)
    leaves = lift(cycle) + d.pick(100, 200) * DAY
    board = [GOVERNORS[0], d.pick(*GOVERNORS[1:])]
    officer = "Evaluation officer 7"
    if d.rarely(3):
        staff = f"staff-{cycle}"
        fields = {
            "actor": staff,
            "holder": officer,
            "roles": [d.pick("evaluator", "regulator")],
            "reason": "the officer's own key",
        }
        d.add("key_grant", d.later(lift(cycle) - 200 * DAY, 90 * DAY), board, fields, name=staff)
        if d.mostly(True, False):
            revoked = leaves + d.pick(-1, 0, 1, 2, 3, 40) * DAY + d.pick(0, MINUTE)
            fields = {"actor": staff, "reason": "leaves the regulator"}
            d.add("key_revoke", revoked, board, fields, name=f"revoke-{staff}")
    fields = {
        "staff": officer,
        "kind": d.mostly("departure", "conflict_of_interest", "divestment"),
        "organisation": lab,
        "date": date_of(leaves - d.mostly(0, 400, 2) * DAY),
        "statement": "leaves the regulator",
    }
    declared = d.later(leaves - 30 * DAY, 60 * DAY)
    d.add(
        "staff_declaration",
        declared,
        ["regulator"],
        fields,
        name=f"staff-{cycle}",
        wrong=["evaluator"],
    )
    granted = d.mostly(
        leaves + d.pick(30, COOLING_OFF_DAYS - 1, COOLING_OFF_DAYS, COOLING_OFF_DAYS + 1) * DAY,
        declared - DAY,
    )
    roles = [f"lab:{lab}"] + (["evaluator"] if d.rarely(5) else [])
    grant = {
        "actor": f"officer-{cycle}",
        "holder": d.pick("evaluation  OFFICER 7", "Evaluation officer 7", "Evaluation officer 8"),
        "roles": roles,
        "reason": "a new compliance officer",
    }
    d.add("key_grant", granted, board, grant, name=f"grant-officer-{cycle}", wrong=[GOVERNORS[0]])


# -- the whole schedule ---------------------------------------------------------


def cycle_stories(d: Draft, cycle: int) -> None:
    d.frontier.setdefault(cycle, d.frontier.get(cycle - 1, 1))
    for _ in range(d.pick(1, 2, 0)):
        eval_suite(d, cycle)
    if d.maybe():
        threshold_schedule(d, cycle)
    d.frontier.setdefault(cycle + 1, d.frontier[cycle])
    if d.rarely(5):
        charter_amendment(d, cycle)
    if d.rarely(3):
        deregulation(d, cycle)
    if d.rarely(25):
        revocation(d, cycle)
    labs = d.draw(st.permutations(d.labs))
    for lab in labs[: d.pick(1, 2, 0, 3)]:
        run_story(d, lab, cycle)
    if d.rarely(8):
        reveal_of_public(d, d.pick(*d.labs))
    if d.rarely(4):
        split_compute(d, cycle)
    if d.rarely(5):
        staff_departure(d, cycle)
    if d.rarely(3):
        postponement(d, cycle)
    if d.maybe():
        markers(d, cycle)


@st.composite
def schedules(draw: Any, max_entries: int = MAX_ENTRIES) -> Schedule:
    """A random, plausible schedule over the cycles 2027-2029 (at most *max_entries*)."""
    rules = draw(charter_rules())
    labs = LABS[: draw(st.sampled_from([2, 3]))]
    d = Draft(draw, rules, labs)
    charter(d)
    grants(d)
    for cycle in CYCLES:
        cycle_stories(d, cycle)
    steps = sorted(d.steps, key=lambda s: (s.at, s.seq))
    # The charter is the log's first entry, whatever the stories drew.
    steps = [s for s in steps if s.type == "charter"] + [s for s in steps if s.type != "charter"]
    entries = tuple(s.entry for s in steps)
    last = max(e.at_ms for e in entries)
    now = last + int(draw(st.sampled_from([DAY, 1, 400 * DAY, 30 * DAY])))
    first = entries[0].at_ms
    probes = sorted(p for p in d.probes if first < p < last)
    return Schedule(
        title="a random schedule",
        origin=ORIGIN,
        now_ms=now,
        expect=(),
        entries=entries,
        second_now=draw(st.sampled_from(probes)) if probes else None,
    )


# -- writing a scenario as TOML -------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """A value on one line: strings, integers, booleans, arrays and inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def to_toml(scenario: Scenario, *, title: str | None = None, comments: list[str] = ()) -> str:  # type: ignore[assignment]
    """*scenario* in the format of tests/scenarios/ (``ledger.demo.scenario.load``
    reads it back to an equal scenario). *comments* go at the top, one per line."""
    lines = [f"# {c}" if c else "#" for c in comments]
    lines += [
        f"title = {toml_string(title if title is not None else scenario.title)}",
        f"origin = {toml_string(scenario.origin)}",
        f"now = {toml_string(rfc3339(scenario.now_ms))}",
        f"expect = {toml_value(list(scenario.expect))}",
    ]
    for e in scenario.entries:
        lines += [
            "",
            "[[entry]]",
            f"label = {toml_string(e.label)}",
            f"type = {toml_string(e.type)}",
            f"at = {toml_string(rfc3339(e.at_ms))}",
            f"by = {toml_value(list(e.by))}",
        ]
        if e.content is not None:
            lines.append(f"content = {toml_string(e.content)}")
        if e.fields:
            lines.append("[entry.fields]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in e.fields.items()]
    return "\n".join(lines) + "\n"
