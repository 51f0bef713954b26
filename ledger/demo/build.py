"""``frontier-ledger demo``: build the demonstration log on a simulated calendar.

The sequencer's clock is set to each entry's date before it is appended, so
``logged_at``, markers, lifts and decisions fall on their real dates. Before each
entry, every schedule marker whose deadline has passed is appended at the
deadline's instant — exactly what the server's marker job does as time passes.
Every entry goes through the same admission and policy preflight as over HTTP.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.demo import witnesses as demo_witnesses
from ledger.demo.scenario import Scenario, actor_key, load
from ledger.errors import DemoError
from ledger.keys.entry_signing import EntryKey
from ledger.ops.datadir import DataDir, WriterLock
from ledger.read.reader import LogReader
from ledger.storage.backends import check_no_log
from ledger.write.admission import Refusal
from ledger.write.markers import marker_envelope
from ledger.write.open_log import MARKER_KEY_NAME, init_log, open_writer
from ledger.write.sequencer import LogWriter, prepare
from ledger.write.witnessing import WitnessCollector
from verifier.core.leaf import format_logged_at
from verifier.core.trust_policy import parse_trust_policy
from verifier.policy.audit import Auditor, AuditReport
from verifier.policy.rules.reveals import due_markers

MARKER_ACTOR = "log-markers"


class SimulatedClock:
    """The sequencer's clock in a simulation; with *path*, also written to that file
    (DATA/clock), which the demo's witnesses and later the server read."""

    def __init__(self, ms: int, path: Path | None = None) -> None:
        self.path = path
        self.set(ms)

    def set(self, ms: int) -> None:
        self.ms = ms
        if self.path is not None:
            self.path.write_text(format_logged_at(ms) + "\n")

    def __call__(self) -> int:
        return self.ms


@dataclass(frozen=True)
class DemoResult:
    data: DataDir
    vkey: str
    entries: int
    markers: int
    report: AuditReport
    now_ms: int


def scenario_path() -> Path:
    return Path(str(resources.files("ledger.demo") / "scenario.toml"))


class _Build:
    """Appending a scenario to a new log on its calendar: markers as their deadlines
    pass, and (with witnesses) every checkpoint cosigned as it is made."""

    def __init__(self, root: Path, scenario: Scenario, writer: LogWriter, clock: SimulatedClock):
        self.root, self.scenario, self.writer, self.clock = root, scenario, writer, clock
        admission = writer.admission
        assert admission is not None
        self.admission = admission
        self.indices: dict[str, int] = {}
        self.markers = 0
        self.collector: WitnessCollector | None = None
        self.marker_key = EntryKey.load(root / MARKER_KEY_NAME)
        # Markers only if the scenario's board grants the marker key the log role.
        self.with_markers = any(
            e.type == "key_grant" and e.fields.get("actor") == MARKER_ACTOR
            for e in scenario.entries
        )

    def witnessed_by(self, policy: str) -> None:
        store: Any = self.writer.store  # a LedgerStore: it is the server's own store
        self.collector = WitnessCollector(
            parse_trust_policy(policy), LogReader(store), store, idle_cadence_s=0
        )

    def append(self, at_ms: int, envelope: dict[str, Any], what: str) -> int:
        self.clock.set(at_ms)
        (result,) = self.writer.commit([prepare(envelope)])
        if isinstance(result, Refusal):
            raise DemoError(f"{what} was refused: {result.message}")
        if self.collector is not None:
            expected = len(self.collector.witnesses())
            if self.collector.cosign_now() != expected:
                errors = [s.last_error for s in self.collector.status.values() if s.last_error]
                raise DemoError(f"a witness did not cosign the checkpoint after {what}: {errors}")
        return result.index

    def markers_until(self, ms: int) -> None:
        """Append the markers whose deadlines passed by *ms*, as the server's job would."""
        if not self.with_markers:
            return
        due = due_markers(self.admission.engine.state, ms)
        for when, marker, cycle in due:
            env = marker_envelope(self.scenario.origin, self.marker_key, marker, cycle)
            self.append(when, env, f"the {marker} marker of {cycle}")
        self.markers += len(due)

    def run(self) -> AuditReport:
        s = self.scenario
        for entry in s.entries:
            self.markers_until(entry.at_ms)
            env = s.envelope(entry, self.indices)
            self.indices[entry.label] = self.append(entry.at_ms, env, entry.label)
        self.markers_until(s.now_ms)
        # Revealed documents are blobs: keep them where the server serves them.
        blobs = self.root / "blobs" / "sha256"
        for digest, content in s.blobs().items():
            blobs.mkdir(parents=True, exist_ok=True)
            (blobs / digest).write_bytes(content)
        auditor = Auditor(s.origin, s.blobs())
        for leaf in self.writer.store.iter_leaves():
            auditor.feed(leaf)
        return auditor.report(s.now_ms)


#: The actors whose keys the demo hands out for rehearsals (docs/appending.md).
REHEARSAL_ACTORS = ("acme", "evaluator", "regulator", "stratus")
SIMULATION_KEYS = "simulation-keys"


def _simulation_keys(root: Path, scenario: Scenario) -> None:
    """The keys of a lab, an evaluator, the regulator and a compute provider, whose
    grants the scenario logs, so that anyone can rehearse appending against the demo.
    They are derived from public names: anyone can compute them, so they mean nothing
    outside it."""
    granted = {e.fields.get("actor") for e in scenario.entries if e.type == "key_grant"}
    out = root / SIMULATION_KEYS
    out.mkdir(exist_ok=True)
    for name in REHEARSAL_ACTORS:
        if name in granted:
            actor_key(name).write(out / f"{name}.key")
    (out / "README.txt").write_text(
        "SIMULATION KEYS - for rehearsing against this demonstration only.\n\n"
        "Each key is derived from a public name (ledger/demo/scenario.py, actor_key), so\n"
        "anyone can compute it: it proves nothing and must never sign for a real log.\n"
        "The demo's board granted them in the log: acme.key signs for the lab Acme\n"
        "(lab:acme), evaluator.key for the regulator's evaluation unit (evaluator),\n"
        "regulator.key for the regulator's decisions (regulator), stratus.key for the\n"
        "compute provider Stratus Cloud (compute:stratus).\n"
        "docs/appending.md rehearses a cycle with them.\n"
    )


def build_demo(
    root: Path,
    scenario: Scenario | None = None,
    *,
    database: str | None = None,
    witnessed: bool = False,
) -> DemoResult:
    """Create DATA anew at *root* and append the scenario on its calendar.

    With *database* (a PostgreSQL URL) the log goes into that database, which
    must be empty: the directory is replaced, a database is never emptied. With
    *witnessed*, two witness processes (:mod:`ledger.demo.witnesses`) cosign every
    checkpoint as it is made, on the simulated calendar.
    """
    scenario = scenario or load(scenario_path())
    data = DataDir.at(root, database=database)
    if database:
        check_no_log(data)  # before the directory is deleted
    if root.exists():
        shutil.rmtree(root)
    vkey = init_log(data, scenario.origin, created_at_ms=scenario.entries[0].at_ms)
    # A simulation: the marker key is the scenario's "log-markers" actor, whom
    # the scenario's board grants the log role.
    (root / MARKER_KEY_NAME).unlink()
    actor_key(MARKER_ACTOR).write(root / MARKER_KEY_NAME)
    clock = SimulatedClock(scenario.entries[0].at_ms, root / "clock")
    running = None
    if witnessed:
        demo_witnesses.create(root, vkey)
        running = demo_witnesses.Running(root)
    try:
        with WriterLock(data):
            writer = open_writer(data, admit=True, clock=clock)
            try:
                build = _Build(root, scenario, writer, clock)
                if running is not None:
                    build.witnessed_by(demo_witnesses.write_policy(root, vkey, running.urls))
                report = build.run()
            finally:
                writer.store.close()
    finally:
        if running is not None:
            running.stop()
    if witnessed:
        # Published without addresses: `frontier-ledger demo --serve` starts the
        # witnesses again and writes where they listen.
        demo_witnesses.write_policy(root, vkey, {})
    _simulation_keys(root, scenario)
    # The simulated clock the demo server runs on: it carries on from the scenario's end.
    clock.set(scenario.now_ms)
    return DemoResult(data, vkey, len(build.indices), build.markers, report, scenario.now_ms)
