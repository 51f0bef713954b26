"""Replayed state kept between runs, bound to the checkpoint it is the state of.

The read side of the server replays the log into the state of the pages it shows
(``ledger.read.views``). Replaying a long log at every start is O(entries); this
keeps the state in a file instead, written with the checkpoint it belongs to (the
writer's admission state, larger and needed before the first append, is a database
read as rules need it: :mod:`ledger.storage.admission_db`):

    {"format": …, "schema": <digest of the state's shape>, "size": N,
     "checkpoint_sha256": <hex of the signed checkpoint of size N>,
     "state_sha256": <hex of the state's canonical JSON>, "state": …}

A file is used only if its format and schema are this code's, its checkpoint is
the one this store holds for size N, and its checksum matches; otherwise the
caller replays from the start and says why (:class:`StaleState`). The state is
typed JSON read back strictly (:mod:`verifier.policy.snapshot`): never pickle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.errors import FormatError
from verifier.files import atomic_write
from verifier.policy import snapshot


class StaleState(Exception):
    """The stored state cannot be used (missing, damaged, foreign, or of another version)."""


def _digest(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@dataclass(frozen=True)
class StateFile:
    path: Path
    format: str  # e.g. "frontier-ledger/view-state/v1"
    cls: type  # the dataclass the state is

    def save(self, state: Any, size: int, checkpoint: bytes) -> None:
        """Store *state*, the state after *size* entries whose signed checkpoint is
        *checkpoint* (atomically: a crash leaves the old file or the new one)."""
        body = snapshot.encode(self.cls, state)
        doc = {
            "format": self.format,
            "schema": snapshot.schema_id(self.cls),
            "size": size,
            "checkpoint_sha256": hashlib.sha256(checkpoint).hexdigest(),
            "state_sha256": _digest(body),
            "state": body,
        }
        atomic_write(self.path, json.dumps(doc, separators=(",", ":")).encode())

    def load(self, read_checkpoint: Callable[[int], bytes | None]) -> tuple[Any, int]:
        """(state, size) if the file is the state of a checkpoint this store holds;
        :class:`StaleState` saying why not otherwise."""
        try:
            doc = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            raise StaleState("there is none") from None
        except (OSError, ValueError) as exc:
            raise StaleState(f"it cannot be read: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != self.format:
            raise StaleState(f"it is not a {self.format} file")
        if doc.get("schema") != snapshot.schema_id(self.cls):
            raise StaleState("it was written by another version of the ledger")
        size = doc.get("size")
        if not isinstance(size, int) or size < 0:
            raise StaleState("it names no tree size")
        note = read_checkpoint(size)
        if note is None or hashlib.sha256(note).hexdigest() != doc.get("checkpoint_sha256"):
            raise StaleState(f"its checkpoint of size {size} is not one this log holds")
        if doc.get("state_sha256") != _digest(doc.get("state")):
            raise StaleState("its checksum does not match (damaged)")
        try:
            state = snapshot.decode(self.cls, doc["state"], "stored state")
        except FormatError as exc:
            raise StaleState(str(exc)) from None
        return state, size
