"""Admission for a governed log: the verifier's checks, applied in sequencing order.

The sequencer calls :meth:`GovernedAdmission.admit` for each new entry of a
batch, in index order, so an entry may rely on one earlier in the same batch
(a key granted, then used). The state is updated as entries are admitted; if
the batch's transaction then fails, :meth:`reset` drops the state and it is
rebuilt from the store before the next batch — the store is the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from verifier.entries.registry import AdmissionError
from verifier.entries.replay import CheckedEntry, LogReplay
from verifier.errors import FormatError
from verifier.leaf import parse_leaf

#: Problem slug and HTTP status for each kind of refusal.
STATUS = {
    "bad-signature": 403,
    "unknown-key": 403,
    "revoked-key": 403,
    "wrong-role": 403,
    "quorum-not-met": 403,
    "wrong-log": 422,
    "schema": 422,
    "bad-reference": 422,
    "policy-violation": 409,
}


@dataclass(frozen=True)
class Refusal:
    """Why an entry was not logged. Nothing was written for it."""

    code: str
    message: str
    rule: str | None = None

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 422)


class GovernedAdmission:
    """Keeps the replayed state of the log and admits new entries against it."""

    def __init__(self, origin: str, leaves: Callable[[], Iterator[bytes]]) -> None:
        self.origin = origin
        self._leaves = leaves
        self._replay: LogReplay | None = None

    @property
    def replay(self) -> LogReplay:
        if self._replay is None:
            self._replay = self._rebuild()
        return self._replay

    def _rebuild(self) -> LogReplay:
        replay = LogReplay(self.origin)
        for index, leaf in enumerate(self._leaves()):
            # Entries already in the log were admitted when they were appended;
            # replaying them re-checks everything, so a tampered store shows up here.
            replay.admit(parse_leaf(leaf).envelope, index)
        return replay

    def admit(self, envelope: Any, index: int) -> CheckedEntry | Refusal:
        replay = self.replay
        try:
            return replay.admit(envelope, index)
        except AdmissionError as exc:
            return Refusal(exc.code, str(exc))
        except FormatError as exc:
            return Refusal("schema", str(exc))

    def reset(self) -> None:
        self._replay = None
