"""Differential audit on random schedules: the policy engine against the reference
auditor, and admission against audit.

Each schedule (tests/schedules.py) is appended through the ledger's admission
(:class:`ledger.write.admission.GovernedAdmission`, on an in-memory list of leaves,
with the sequencer's rule that ``logged_at`` never goes back); what admission
refuses is forced in anyway, as a dishonest operator could. Then:

(a) the engine's findings (``verifier.policy.audit``) equal the reference's
    (``tests/reference_rules.py``, written from the documents alone) as sets of
    (rule, severity, indices), at a time after the last entry and at a second time
    between the entries' deadlines (auditing the log as it stood then);
(b) admission is audit: an entry refused with a rule is flagged by the audit with a
    violation of that rule whose highest index is that entry (L3/L4 for signature,
    role and reference refusals), and an admitted entry has no refusable violation
    judged at it.

A disagreement is written to tests/scenarios/found/<hash>.toml (readable, with the
findings each side alone reported as comments) before the test fails. Every file
there is a regression case below: once triaged, the reading it settled is written in
docs/policy-notes.md (and the reference's header of readings), the side that was
wrong is fixed, and the file's ``expect`` lists the rules its audit raises. Nothing
is expected to fail: the random test fails on any disagreement.

Settings: FRONTIER_FUZZ_EXAMPLES (default 200) schedules, derandomized unless
FRONTIER_FUZZ_SEED is set; ``make fuzz-audit`` (part of ``make fuzz``) runs
FRONTIER_FUZZ=1, which keeps going after a disagreement and prints a summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from ledger.demo.scenario import Scenario, load
from ledger.write.admission import GovernedAdmission, Refusal
from tests.reference_rules import reference_audit
from tests.schedules import Schedule, rfc3339, schedules, to_toml
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.policy.audit import Auditor, AuditReport
from verifier.policy.findings import NOTICE, VIOLATION

FOUND = Path(__file__).parent / "scenarios" / "found"
EXAMPLES = int(os.environ.get("FRONTIER_FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("FRONTIER_FUZZ_SEED")
FUZZ = os.environ.get("FRONTIER_FUZZ") == "1"

Triple = tuple[str, str, tuple[int, ...]]
#: what kind of disagreement: ("engine-only" | "reference-only", rule, severity, entries
#: named) or ("admission", what, rule)
Kind = tuple[str, str, str, str, str]


# -- the write path, in memory ----------------------------------------------------


@dataclass
class Appended:
    """A scenario appended through admission, refused entries forced in."""

    scenario: Scenario
    leaves: list[bytes]
    refusals: list[Refusal | None]  # per index: why admission refused it (None: admitted)
    logged: list[int]


#: Admission logs an error for each forced entry it replays without effect; here that
#: is the point, and the audit reports it.
logging.getLogger("ledger.write.admission").setLevel(logging.CRITICAL)


def append(scenario: Scenario) -> Appended:
    leaves: list[bytes] = []
    refusals: list[Refusal | None] = []
    logged: list[int] = []
    blobs = scenario.blobs()
    admission = GovernedAdmission(scenario.origin, leaves=lambda: iter(list(leaves)), blobs=blobs)
    last = 0
    # Every entry is in the log (forced if refused), so labels are consecutive indices.
    for index, (claimed_at, env) in enumerate(scenario.envelopes()):
        at = max(claimed_at, last)  # the sequencer's clock never goes back
        result = admission.admit(env, index, at)
        leaves.append(encode_leaf(canonical_json(env), at))
        logged.append(at)
        last = at
        if isinstance(result, Refusal):
            refusals.append(result)
            admission.sync_to(len(leaves))  # the state replays the forced entry next
        else:
            refusals.append(None)
    return Appended(scenario, leaves, refusals, logged)


def engine_report(
    origin: str, leaves: list[bytes], now: int, blobs: dict[str, bytes]
) -> AuditReport:
    auditor = Auditor(origin, blobs)
    for leaf in leaves:
        auditor.feed(leaf)
    return auditor.report(now)


# -- comparing ------------------------------------------------------------------------


@dataclass
class Disagreement:
    """What one audit of a (prefix of a) schedule showed."""

    now: int
    size: int  # entries audited (a prefix when now is between entries)
    types: list[str]  # each entry's type
    engine_only: set[Triple] = field(default_factory=set)
    reference_only: set[Triple] = field(default_factory=set)
    admission: list[tuple[int, str, str]] = field(default_factory=list)  # (index, what, rule)
    messages: dict[Triple, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.engine_only or self.reference_only or self.admission)

    def kinds(self) -> set[Kind]:
        """Each disagreement as (side, rule, severity, entries named, type of the last
        one): one row of the evidence table, roughly; what "already known" compares."""
        out: set[Kind] = set()
        for side, found in (
            ("engine-only", self.engine_only),
            ("reference-only", self.reference_only),
        ):
            for rule, severity, indices in found:
                last = self.type_of(max(indices)) if indices else "-"
                named = str(len(indices)) if len(indices) < 3 else "3+"
                out.add((side, rule, severity, named, last))
        for index, what, rule in self.admission:
            out.add(("admission", what, rule, "1", self.type_of(index)))
        return out

    def type_of(self, index: int) -> str:
        kind = self.types[index]
        return "training event" if kind.startswith("training_") else kind


def compare(app: Appended, now: int, size: int) -> Disagreement:
    s = app.scenario
    leaves = app.leaves[:size]
    report = engine_report(s.origin, leaves, now, s.blobs())
    engine = {(f.rule, f.severity, f.indices) for f in report.findings}
    reference = reference_audit(s.origin, leaves, now, s.blobs())
    # A marker's kind is its name: an early window-closed marker is not an early decision_due.
    types = [
        f"{e.type}:{e.fields.get('marker')}" if e.type == "schedule_marker" else e.type
        for e in s.entries
    ]
    out = Disagreement(now, size, types, engine - reference, reference - engine)
    out.messages = {(f.rule, f.severity, f.indices): f.message for f in report.findings}
    if size == len(app.leaves):
        out.admission = admission_against_audit(app, report)
    return out


def admission_against_audit(app: Appended, report: AuditReport) -> list[tuple[int, str, str]]:
    judged: dict[int, list[tuple[str, bool]]] = {}
    for f in report.findings:
        if f.severity == VIOLATION and f.indices:
            judged.setdefault(max(f.indices), []).append((f.rule, f.refusable))
    out = []
    for index, refusal in enumerate(app.refusals):
        own = judged.get(index, [])
        rules = {rule for rule, _ in own}
        if refusal is None:
            out += [
                (index, "admitted, yet a refusable violation", r)
                for r, refusable in own
                if refusable
            ]
        elif refusal.rule is not None and refusal.rule not in rules:
            out.append((index, "refused, not flagged", refusal.rule))
        elif refusal.rule is None and not rules & {"L3", "L4"}:
            out.append((index, "refused, not flagged", f"L3/L4 ({refusal.code})"))
    return out


def check(scenario: Scenario, second_now: int | None = None) -> list[Disagreement]:
    """Disagreements at the scenario's now (whole log) and at *second_now* (the prefix
    logged by then)."""
    return audit(scenario, second_now)[1]


def audit(scenario: Scenario, second_now: int | None = None) -> tuple[Appended, list[Disagreement]]:
    app = append(scenario)
    out = [compare(app, scenario.now_ms, len(app.leaves))]
    if second_now is not None:
        size = sum(1 for t in app.logged if t <= second_now)
        out.append(compare(app, second_now, size))
    return app, [d for d in out if d]


def second_now(s: Scenario) -> int | None:
    return s.second_now if isinstance(s, Schedule) else None


def cut(s: Scenario, d: Disagreement) -> Scenario:
    """The schedule as audited when *d* showed: its first entries, judged at d.now."""
    return Scenario(s.title, s.origin, d.now, (), s.entries[: d.size])


# -- reducing and writing found scenarios ---------------------------------------------


def without(s: Scenario, drop: set[str]) -> Scenario | None:
    """*s* without the entries labelled *drop* and every entry that refers to one of them
    (transitively); None if that would remove the charter."""
    drop = set(drop)
    changed = True
    while changed:
        changed = False
        for e in s.entries:
            if e.label not in drop and _refers(e.fields, drop):
                drop.add(e.label)
                changed = True
    if s.entries[0].label in drop:
        return None
    return Scenario(
        s.title, s.origin, s.now_ms, s.expect, tuple(e for e in s.entries if e.label not in drop)
    )


def _refers(value: object, labels: set[str]) -> bool:
    if isinstance(value, str):
        return value.startswith("@") and value[1:] in labels
    if isinstance(value, list):
        return any(_refers(v, labels) for v in value)
    if isinstance(value, dict):
        return any(_refers(v, labels) for v in value.values())
    return False


def reduce(s: Scenario, kinds: set[Kind]) -> tuple[Scenario, Disagreement]:
    """Drop entries (halves, then quarters, … then one at a time) while the audit still
    shows one of *kinds*: what is left is what the disagreement needs."""

    def shows(candidate: Scenario) -> Disagreement | None:
        for d in check(candidate):
            if d.kinds() & kinds:
                return d
        return None

    found = shows(s)
    assert found is not None, "the disagreement does not reproduce"
    chunk = max(1, len(s.entries) // 2)
    while True:
        i = 1
        while i < len(s.entries):
            labels = {e.label for e in s.entries[i : i + chunk]}
            smaller = without(s, labels)
            d = shows(smaller) if smaller is not None else None
            if smaller is not None and d is not None:
                s, found = smaller, d
            else:
                i += chunk
        if chunk == 1:
            return s, found
        chunk = max(1, chunk // 2)


def describe(s: Scenario, d: Disagreement) -> tuple[str, list[str]]:
    """A title saying what disagreed, and comments naming each finding's entries."""

    def kind(f: Triple) -> str:
        return f"{f[0]} {f[1]} ({len(f[2])} entries)"

    def named(f: Triple) -> str:
        entries = ", ".join(f"{i} {s.entries[i].label}" for i in f[2] if i < len(s.entries))
        return f"{f[0]} {f[1]} [{entries}]"

    parts = [f"engine only {kind(f)}" for f in sorted(d.engine_only)]
    parts += [f"reference only {kind(f)}" for f in sorted(d.reference_only)]
    parts += [f"admission: entry {i} {what} {rule}" for i, what, rule in d.admission]
    title = "differential: " + "; ".join(parts)
    comments = [f"Found by tests/test_differential.py, audited at {rfc3339(d.now)}."]
    comments += ["", "Findings of the engine only:"]
    comments += [f"  {named(f)}: {d.messages.get(f, '')}" for f in sorted(d.engine_only)] or [
        "  none"
    ]
    comments += ["", "Findings of the reference only:"]
    comments += [f"  {named(f)}" for f in sorted(d.reference_only)] or ["  none"]
    comments += ["", "Admission against audit:"]
    comments += [
        f"  entry {i} ({s.entries[i].label}): {what} {rule}" for i, what, rule in d.admission
    ] or ["  agree"]
    return title, [*comments, ""]


def write_found(s: Scenario, d: Disagreement) -> Path:
    """Write *s* as audited when *d* showed, as a readable scenario."""
    s = cut(s, d)
    title, comments = describe(s, d)
    text = to_toml(s, title=title, comments=comments)
    body = to_toml(s, title="")
    path = FOUND / f"{hashlib.sha256(body.encode()).hexdigest()[:10]}.toml"
    FOUND.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text)
    return path


def found_files() -> list[Path]:
    return sorted(FOUND.glob("*.toml"))


# -- the random test ------------------------------------------------------------------


def first_disagreement(s: Scenario) -> Disagreement | None:
    """The first audit of *s* that shows a disagreement, if any."""
    found = check(s, second_now(s))
    return found[0] if found else None


SETTINGS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}


def test_engine_equals_reference_and_admission_equals_audit() -> None:
    if FUZZ:
        fuzz()
        return
    last: list[tuple[Scenario, Disagreement]] = []

    @settings(max_examples=EXAMPLES, derandomize=SEED is None, **SETTINGS)
    @given(schedules())
    def differential(s: Schedule) -> None:
        d = first_disagreement(s)
        if d is not None:
            last[:] = [(s, d)]
            raise AssertionError(describe(cut(s, d), d)[0])

    if SEED is not None:
        differential = seed(int(SEED))(differential)
    try:
        differential()
    except AssertionError:
        if not last:
            raise
        # Hypothesis runs the shrunk example last.
        s, d = last[0]
        path = write_found(s, d)
        raise AssertionError(
            f"disagreement written to {path}: {describe(cut(s, d), d)[0]}"
        ) from None


def fuzz() -> None:
    """Run EXAMPLES schedules without stopping at a disagreement: each schedule that shows
    a kind not seen before is reduced and written at once; a summary ends the run."""
    tally = {"schedules": 0, "entries": 0, "refused": 0, "recorded": 0}
    written: list[tuple[Path, str]] = []
    seen: set[Kind] = set()

    @settings(max_examples=EXAMPLES, derandomize=False, phases=[Phase.generate], **SETTINGS)
    @given(schedules())
    def differential(s: Schedule) -> None:
        app, found = audit(s, second_now(s))
        tally["schedules"] += 1
        tally["entries"] += len(s.entries)
        tally["refused"] += sum(r is not None for r in app.refusals)
        fresh_here = False
        for d in found:
            fresh = d.kinds() - seen
            if fresh:
                seen.update(fresh)
                small, shown = reduce(cut(s, d), fresh)
                seen.update(shown.kinds())
                path, title = write_found(small, shown), describe(cut(small, shown), shown)[0]
                written.append((path, title))
                print(f"\n  new: {path.name}: {title}", flush=True)
                fresh_here = True
        tally["recorded"] += bool(found) and not fresh_here
        if tally["schedules"] % 500 == 0:
            print(f"\n  ... {tally['schedules']} schedules, {len(written)} new", flush=True)

    if SEED is not None:
        differential = seed(int(SEED))(differential)
    differential()
    lines = [
        "",
        "differential fuzzing: engine against reference, admission against audit",
        f"  schedules run:      {tally['schedules']}",
        f"  entries appended:   {tally['entries']} ({tally['refused']} refused by admission, "
        "forced in)",
        # Nothing is known in advance (every found scenario agrees): "already written"
        # means a kind this run wrote a scenario for earlier.
        f"  schedules showing only disagreements already written in this run: {tally['recorded']}",
    ]
    lines += [f"    {path}: {title}" for path, title in written]
    lines.append(f"  new disagreements found: {len(written)}")
    print("\n".join(lines))
    assert not written, f"{len(written)} new disagreements written to {FOUND}"


# -- the scenario file format -----------------------------------------------------------


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(s=schedules())
def test_written_scenarios_load_back_identically(
    s: Schedule, tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = tmp_path_factory.mktemp("toml") / "s.toml"
    text = to_toml(s, comments=["a comment", ""])
    path.write_text(text)
    doc = tomllib.loads(text)
    assert [e["label"] for e in doc["entry"]] == [e.label for e in s.entries]
    back = load(path)
    assert (back.title, back.origin, back.now_ms, back.expect) == (
        s.title,
        s.origin,
        s.now_ms,
        s.expect,
    )
    assert back.entries == s.entries


def test_toml_strings_escape_what_toml_requires() -> None:
    tricky = 'quote " backslash \\ tab \t newline \n del \x7f bell \x07 é ☃ 𝄞'
    text = to_toml(Scenario(tricky, "o", 0, (), ()), comments=[])
    assert tomllib.loads(text)["title"] == tricky


# -- found scenarios as regression cases ------------------------------------------------


def raised_rules(app: Appended) -> list[str]:
    """The rules the engine's audit of *app* raises (notices aside), as ``expect`` lists
    them (tests/test_scenarios.py)."""
    s = app.scenario
    report = engine_report(s.origin, app.leaves, s.now_ms, s.blobs())
    return sorted({f.rule for f in report.findings if f.severity != NOTICE})


@pytest.mark.parametrize("path", found_files(), ids=lambda p: p.stem)
def test_found_scenario_agrees(path: Path) -> None:
    """Engine and reference agree on the scenario, and its audit raises the rules its
    ``expect`` lists: the reading it settled stays settled on both sides."""
    s = load(path)
    app, found = audit(s)
    assert not found, "; ".join(describe(s, d)[0] for d in found)
    assert raised_rules(app) == sorted(set(s.expect))
