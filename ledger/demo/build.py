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

from ledger.demo.scenario import Scenario, actor_key, load
from ledger.errors import DemoError
from ledger.keys.entry_signing import EntryKey
from ledger.ops.datadir import DataDir, WriterLock
from ledger.storage.backends import check_no_log
from ledger.write.admission import Refusal
from ledger.write.markers import marker_envelope
from ledger.write.open_log import MARKER_KEY_NAME, init_log, open_writer
from ledger.write.sequencer import LogWriter, prepare
from verifier.core.leaf import format_logged_at
from verifier.policy.audit import Auditor, AuditReport
from verifier.policy.rules.reveals import due_markers

MARKER_ACTOR = "log-markers"


class SimulatedClock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

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


def _append(
    writer: LogWriter, clock: SimulatedClock, at_ms: int, envelope: dict[str, Any], what: str
) -> int:
    clock.ms = at_ms
    (result,) = writer.commit([prepare(envelope)])
    if isinstance(result, Refusal):
        raise DemoError(f"{what} was refused: {result.message}")
    return result.index


def build_demo(
    root: Path, scenario: Scenario | None = None, *, database: str | None = None
) -> DemoResult:
    """Create DATA anew at *root* and append the scenario on its calendar.

    With *database* (a PostgreSQL URL) the log goes into that database, which
    must be empty: the directory is replaced, a database is never emptied.
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
    marker_key = EntryKey.load(root / MARKER_KEY_NAME)
    # Markers only if the scenario's board grants the marker key the log role.
    with_markers = any(
        e.type == "key_grant" and e.fields.get("actor") == MARKER_ACTOR for e in scenario.entries
    )
    clock = SimulatedClock(scenario.entries[0].at_ms)
    indices: dict[str, int] = {}
    markers = 0
    with WriterLock(data):
        writer = open_writer(data, admit=True, clock=clock)
        try:
            admission = writer.admission
            assert admission is not None

            def markers_until(ms: int) -> int:
                """Append the markers whose deadlines passed by *ms*, as the server's job would."""
                if not with_markers:
                    return 0
                due = due_markers(admission.engine.state, ms)
                for when, marker, cycle in due:
                    env = marker_envelope(scenario.origin, marker_key, marker, cycle)
                    _append(writer, clock, when, env, f"the {marker} marker of {cycle}")
                return len(due)

            for entry in scenario.entries:
                markers += markers_until(entry.at_ms)
                env = scenario.envelope(entry, indices)
                indices[entry.label] = _append(writer, clock, entry.at_ms, env, entry.label)
            markers += markers_until(scenario.now_ms)
            # Revealed documents are blobs: keep them where the server serves them.
            blobs = root / "blobs" / "sha256"
            for digest, content in scenario.blobs().items():
                blobs.mkdir(parents=True, exist_ok=True)
                (blobs / digest).write_bytes(content)
            auditor = Auditor(scenario.origin, scenario.blobs())
            for leaf in writer.store.iter_leaves():
                auditor.feed(leaf)
            report = auditor.report(scenario.now_ms)
        finally:
            writer.store.close()
    # The simulated clock the demo server runs on: it carries on from the scenario's end.
    (root / "clock").write_text(format_logged_at(scenario.now_ms) + "\n")
    return DemoResult(data, vkey, len(indices), markers, report, scenario.now_ms)
