"""Append a scenario through the ledger's real write path, and force in what it refuses.

Every entry goes through the sequencer with the governed admission (signatures,
roles, references, the schedule's rules), on a simulated clock set to the
entry's date — as ``POST /api/v1/entries`` would at that instant. With
``force=True`` an entry that admission refuses is then appended anyway by a
second writer without admission, with the log's key: what a dishonest operator
could do. The audit of the result is what a foreign verifier would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.demo.build import SimulatedClock
from ledger.demo.scenario import Scenario
from ledger.ops.datadir import DataDir
from ledger.write.admission import Refusal
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import LogWriter, prepare
from verifier.policy.audit import Auditor, AuditReport


@dataclass(frozen=True)
class Outcome:
    label: str
    index: int | None  # where it is in the log (None: refused and not forced)
    refusal: Refusal | None  # why admission refused it (None: admitted)


@dataclass(frozen=True)
class WritePath:
    outcomes: list[Outcome]
    report: AuditReport
    leaves: list[bytes]

    def refused(self) -> dict[str, Refusal]:
        return {o.label: o.refusal for o in self.outcomes if o.refusal is not None}

    def index_of(self, label: str) -> int:
        (index,) = [o.index for o in self.outcomes if o.label == label]
        assert index is not None, f"{label} is not in the log"
        return index


def append_scenario(root: Path, scenario: Scenario, *, force: bool = False) -> WritePath:
    data = DataDir.at(root)
    init_log(data, scenario.origin, created_at_ms=scenario.entries[0].at_ms)
    # Revealed documents are where the server keeps them, so admission can check them.
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for digest, content in scenario.blobs().items():
        (blobs / digest).write_bytes(content)
    clock = SimulatedClock(scenario.entries[0].at_ms)
    writer = open_writer(data, admit=True, clock=clock)
    admission = writer.admission
    assert admission is not None
    # The operator's own writer: same store, same log key, no admission.
    forced = LogWriter(writer.store, writer.signer, clock, extra_signers=writer.extra_signers)
    outcomes: list[Outcome] = []
    indices: dict[str, int] = {}
    try:
        for entry in scenario.entries:
            clock.ms = entry.at_ms
            env = scenario.envelope(entry, indices)
            (result,) = writer.commit([prepare(env)])
            if isinstance(result, Refusal):
                index = None
                if force:
                    (receipt,) = forced.commit([prepare(env)])
                    assert not isinstance(receipt, Refusal)
                    index = receipt.index
                    admission.sync_to(index + 1)  # the admission state replays it next
                outcomes.append(Outcome(entry.label, index, result))
            else:
                index = result.index
                outcomes.append(Outcome(entry.label, index, None))
            if index is not None:
                indices[entry.label] = index
        leaves = list(writer.store.iter_leaves())
    finally:
        writer.store.close()
    auditor = Auditor(scenario.origin, scenario.blobs())
    for leaf in leaves:
        auditor.feed(leaf)
    return WritePath(outcomes, auditor.report(scenario.now_ms), leaves)
