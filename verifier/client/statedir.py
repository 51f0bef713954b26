"""A verifier's state directory: the last verified checkpoint and the state replayed to it.

Files (each replaced atomically: temp file, fsync, rename, fsync of the directory):

- ``checkpoint``: the last signed checkpoint this verifier accepted, as served.
  The next run refuses a checkpoint that does not extend it (rollback, fork).
- ``replay.json``: the replay state at exactly that checkpoint (key registry,
  entry types, schedule state, findings so far), so the next run checks only
  the new entries. It names the checkpoint it belongs to; one that does not
  match ``checkpoint`` (a crash between the two renames, a copy from elsewhere)
  is ignored and the log is replayed from its charter instead.
- ``log-keys.json``: the log key changes this verifier accepted (a key rotation,
  :mod:`verifier.client.logkeys`), written before the two files above.

Crash point: ``replay.json`` is written before ``checkpoint``. A crash between
the two leaves a replay state that matches no checkpoint — ignored, so the
worst case is a slower next run, never a state that claims more than was checked.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from verifier.core.checkpoint import SignedCheckpoint
from verifier.core.note import MAX_NOTE_SIZE
from verifier.errors import FileTooLarge, FormatError, SnapshotError
from verifier.files import atomic_write, read_capped
from verifier.policy import snapshot
from verifier.policy.audit import AuditState

CHECKPOINT = "checkpoint"
REPLAY = "replay.json"
FORMAT = "frontier-verify/replay-state/v1"


#: The replay state's size per entry is bounded (a byte or a few per entry for the
#: replay, the schedule's records of runs, submissions and results: about 85 bytes per
#: entry on a governed log of 10^5 entries); this cap is far above it, and only stops a
#: damaged or planted file from being read whole.
REPLAY_BYTES_PER_ENTRY = 2048
REPLAY_BYTES_BASE = 64 << 20


def replay_cap(size: int) -> int:
    """The most bytes a replay state of a log of *size* entries may hold."""
    return REPLAY_BYTES_BASE + REPLAY_BYTES_PER_ENTRY * size


@dataclass(frozen=True)
class StateDir:
    path: Path

    def checkpoint_bytes(self) -> bytes | None:
        p = self.path / CHECKPOINT
        return read_capped(p, MAX_NOTE_SIZE, "state checkpoint file") if p.exists() else None

    def load_replay(self, checkpoint: SignedCheckpoint) -> AuditState | None:
        """The replay state stored for exactly *checkpoint*, or None if there is none.

        Raises :class:`verifier.errors.SnapshotError` if the file is damaged.
        """
        p = self.path / REPLAY
        if not p.exists():
            return None
        try:
            raw = read_capped(p, replay_cap(checkpoint.size), "replay state file")
        except FileTooLarge as exc:
            raise SnapshotError(f"{exc} (damaged, or not written by frontier-verify)") from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise SnapshotError(f"{p}: not valid JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise SnapshotError(f"{p}: not a {FORMAT} file")
        if doc.get("checkpoint_sha256") != hashlib.sha256(checkpoint.raw).hexdigest():
            return None  # state of another checkpoint: replay instead
        if doc.get("schema") != snapshot.schema_id(AuditState):
            raise SnapshotError(
                f"{p}: written by another version of frontier-verify (its state has another shape)"
            )
        body = doc.get("state")
        if (
            doc.get("state_sha256")
            != hashlib.sha256(
                json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
            ).hexdigest()
        ):
            raise SnapshotError(f"{p}: checksum does not match (damaged)")
        try:
            state: AuditState = snapshot.decode(AuditState, body, "replay state")
        except FormatError as exc:
            raise SnapshotError(f"{p}: {exc}") from None
        if state.size != checkpoint.size or state.replay.origin != checkpoint.origin:
            raise SnapshotError(
                f"{p}: holds {state.size} entries of {state.replay.origin!r}, "
                f"not the checkpoint's {checkpoint.size}"
            )
        return state

    def save(self, checkpoint: SignedCheckpoint, state: AuditState | None) -> None:
        """Store *checkpoint* (and the replay state at it): only after everything passed."""
        if state is not None:
            if state.size != checkpoint.size:
                raise ValueError(f"state has {state.size} entries, checkpoint {checkpoint.size}")
            body = snapshot.encode(AuditState, state)
            doc = {
                "format": FORMAT,
                "schema": snapshot.schema_id(AuditState),
                "checkpoint_sha256": hashlib.sha256(checkpoint.raw).hexdigest(),
                "state_sha256": hashlib.sha256(
                    json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
                ).hexdigest(),
                "state": body,
            }
            # Crash point: replay state first, checkpoint second (see the module doc).
            atomic_write(self.path / REPLAY, json.dumps(doc, separators=(",", ":")).encode())
        atomic_write(self.path / CHECKPOINT, checkpoint.raw)
