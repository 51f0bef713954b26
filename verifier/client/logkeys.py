"""The log keys a verifier trusts, and how a logged key change moves them (key rotation).

Trust starts from the keys the auditor was given out of band (``--vkey``,
``--mldsa-vkey``, the ``log`` lines of ``--policy``). A log changes its key with
a ``log_key_change`` entry, signed by the board's quorum (POLICY.md "Actors":
key management needs the board), during an overlap in which it signs every
checkpoint with both the old and the new key. C2SP signed-note lets that work
for everyone: a verifier ignores signature lines by keys it does not know.

A verifier with a state directory follows the rotation on its own:

1. **Learn.** A key change is accepted only from an entry the replay admitted
   (board quorum, valid keys named by the origin) in a tree whose checkpoint
   verified under a key the verifier already trusted. Its new keys are trusted
   from then on, and stored in ``STATE/log-keys.json``.
2. **Retire.** The key it replaces (named by its key hash and the origin) is
   retired once the rotation has visibly finished: a checkpoint verified after
   the change carries no valid signature by it, or the verifier's clock is past
   the change's ``overlap_end``. A retired key is not trusted again by this
   state, even if given on the command line, and a checkpoint signed only by it
   is refused (:class:`verifier.errors.RetiredKeyError`). A change that names an
   ML-DSA-44 key retires the log's other ML-DSA-44 keys at the same moment.

A verifier that misses the whole overlap (its last run was before it, its next
one after) cannot verify the new checkpoint under any key it trusts: it fails
with the unknown key's name, and its operator must obtain the new vkey out of
band. That is the price of never trusting a key the log alone vouches for.

Pure, except :func:`load` and :func:`save` (the state file).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from verifier.core.checkpoint import SignedCheckpoint
from verifier.core.mldsa import MLDSA44Verifier, parse_mldsa_vkey
from verifier.core.note import Ed25519Verifier, NoteVerifier, parse_vkey
from verifier.entries.fields import parse_time
from verifier.entries.payloads import LogKeyChange
from verifier.errors import FileTooLarge, FormatError
from verifier.files import atomic_write, read_capped

LOG_KEYS = "log-keys.json"
FORMAT = "frontier-verify/log-keys/v1"
#: A state file is small: a few changes over decades. Refuse anything larger.
MAX_LOG_KEYS_SIZE = 1024 * 1024
MAX_CHANGES = 1000

LogKey = Ed25519Verifier | MLDSA44Verifier


@dataclass(frozen=True)
class KeyChange:
    """An accepted ``log_key_change`` entry, as the state remembers it."""

    index: int
    new_vkey: str
    old_key_hash: str
    overlap_end: str
    reason: str
    new_mldsa_vkey: str | None = None
    #: The rotation has finished: the old key is retired.
    finished: bool = False

    @classmethod
    def of(cls, index: int, body: LogKeyChange) -> KeyChange:
        return cls(
            index,
            body.new_vkey,
            body.old_key_hash,
            body.overlap_end,
            body.reason,
            body.new_mldsa_vkey,
        )

    @property
    def new_key(self) -> Ed25519Verifier:
        return parse_vkey(self.new_vkey)

    @property
    def new_mldsa_key(self) -> MLDSA44Verifier | None:
        return None if self.new_mldsa_vkey is None else parse_mldsa_vkey(self.new_mldsa_vkey)

    @property
    def overlap_end_s(self) -> int:
        return parse_time(self.overlap_end, "overlap_end") // 1000


def _ident(key: NoteVerifier) -> tuple[str, bytes]:
    return key.name, key.key_id


def _unique(keys: Iterable[LogKey]) -> list[LogKey]:
    out: dict[tuple[str, bytes], LogKey] = {}
    for k in keys:
        out.setdefault(_ident(k), k)
    return list(out.values())


@dataclass(frozen=True)
class LogKeys:
    """The keys given out of band, and the key changes this verifier accepted."""

    given: tuple[LogKey, ...]
    changes: tuple[KeyChange, ...] = field(default=())

    # -- what is trusted ----------------------------------------------------------

    def learned(self) -> list[LogKey]:
        """The keys accepted from key changes, in log order."""
        out: list[LogKey] = []
        for c in self.changes:
            out.append(c.new_key)
            pq = c.new_mldsa_key
            if pq is not None:
                out.append(pq)
        return out

    def known(self) -> list[LogKey]:
        """Every key given or learned, retired or not (to re-open a stored checkpoint)."""
        return _unique([*self.given, *self.learned()])

    def retired(self) -> list[LogKey]:
        """Keys that a finished key change retired."""
        out: list[LogKey] = []
        keys = self.known()
        for n, c in enumerate(self.changes):
            if not c.finished:
                continue
            new = c.new_key
            out += [
                k
                for k in keys
                if isinstance(k, Ed25519Verifier)
                and k.name == new.name
                and k.key_id.hex() == c.old_key_hash
            ]
            pq = c.new_mldsa_key
            if pq is not None:
                # The ML-DSA-44 keys in force before this change.
                later = {_ident(k) for d in self.changes[n:] for k in _pq(d)}
                out += [
                    k for k in keys if isinstance(k, MLDSA44Verifier) and _ident(k) not in later
                ]
        return _unique(out)

    def trusted(self) -> list[LogKey]:
        """Given and learned keys, less the retired ones."""
        gone = {_ident(k) for k in self.retired()}
        return [k for k in self.known() if _ident(k) not in gone]

    def trusted_mldsa(self) -> list[MLDSA44Verifier]:
        return [k for k in self.trusted() if isinstance(k, MLDSA44Verifier)]

    # -- how it moves -------------------------------------------------------------

    def learn(self, seen: Iterable[KeyChange]) -> LogKeys:
        """Add key changes seen in a verified tree (those already known are kept as they are)."""
        have = {c.index for c in self.changes}
        new = [c for c in seen if c.index not in have]
        if not new:
            return self
        return replace(self, changes=tuple(sorted((*self.changes, *new), key=lambda c: c.index)))

    def finish(self, checkpoint: SignedCheckpoint, now_s: int) -> LogKeys:
        """Mark the rotations that *checkpoint* (verified) or the clock shows finished."""
        keys = self.known()
        out: list[KeyChange] = []
        for c in self.changes:
            if not c.finished and c.index < checkpoint.size:
                old = [
                    k
                    for k in keys
                    if isinstance(k, Ed25519Verifier)
                    and k.name == checkpoint.origin
                    and k.key_id.hex() == c.old_key_hash
                ]
                unsigned = bool(old) and not any(checkpoint.note.signed_by(k) for k in old)
                if unsigned or now_s >= c.overlap_end_s:
                    out.append(replace(c, finished=True))
                    continue
            out.append(c)
        return replace(self, changes=tuple(out))


def _pq(c: KeyChange) -> list[MLDSA44Verifier]:
    k = c.new_mldsa_key
    return [] if k is None else [k]


# -- the state file ------------------------------------------------------------------


def load(state_dir: Path, origin: str) -> tuple[KeyChange, ...]:
    """The key changes stored in *state_dir* for the log *origin* (none if no file).

    Raises :class:`FormatError` if the file is damaged: the caller then trusts
    only the keys it was given, which can only make verification fail, never pass.
    """
    path = state_dir / LOG_KEYS
    if not path.exists():
        return ()
    try:
        raw = read_capped(path, MAX_LOG_KEYS_SIZE, "log keys file")
    except FileTooLarge as exc:
        raise FormatError(str(exc)) from None
    try:
        doc = json.loads(raw)
    except ValueError:
        raise FormatError(f"{path}: not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FormatError(f"{path}: not a {FORMAT} file")
    if doc.get("origin") != origin:
        raise FormatError(f"{path}: holds the keys of {str(doc.get('origin'))[:80]!r}")
    items = doc.get("changes")
    if not isinstance(items, list) or len(items) > MAX_CHANGES:
        raise FormatError(f"{path}: 'changes' must be a list of at most {MAX_CHANGES}")
    return tuple(_change(item, f"{path}: change {n}", origin) for n, item in enumerate(items))


_FIELDS = frozenset(
    ("index", "new_vkey", "old_key_hash", "overlap_end", "reason", "new_mldsa_vkey", "finished")
)


def _change(item: object, what: str, origin: str) -> KeyChange:
    if not isinstance(item, dict) or set(item) != _FIELDS:
        raise FormatError(f"{what}: unexpected fields")
    index, finished = item["index"], item["finished"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise FormatError(f"{what}: index must be a non-negative integer")
    if not isinstance(finished, bool):
        raise FormatError(f"{what}: finished must be true or false")
    strings = ("new_vkey", "old_key_hash", "overlap_end", "reason")
    if not all(isinstance(item[k], str) for k in strings):
        raise FormatError(f"{what}: {', '.join(strings)} must be strings")
    pq = item["new_mldsa_vkey"]
    if pq is not None and not isinstance(pq, str):
        raise FormatError(f"{what}: new_mldsa_vkey must be a string or null")
    change = KeyChange(
        index,
        item["new_vkey"],
        item["old_key_hash"],
        item["overlap_end"],
        item["reason"],
        pq,
        finished,
    )
    # Parse everything now: a damaged file fails here, not in the middle of a run.
    keys: Sequence[NoteVerifier] = [change.new_key, *_pq(change)]
    if any(k.name != origin for k in keys):
        raise FormatError(f"{what}: a key is not named by the origin {origin!r}")
    if len(change.old_key_hash) != 8 or any(
        c not in "0123456789abcdef" for c in change.old_key_hash
    ):
        raise FormatError(f"{what}: old_key_hash must be 8 lower-case hex digits")
    if change.overlap_end_s < 0:  # parsing the time raises FormatError if it is bad
        raise FormatError(f"{what}: overlap_end is before 1970")
    return change


def save(state_dir: Path, origin: str, changes: Sequence[KeyChange]) -> None:
    """Store the accepted key changes atomically (temp file, fsync, rename)."""
    doc = {
        "format": FORMAT,
        "origin": origin,
        "changes": [
            {
                "index": c.index,
                "new_vkey": c.new_vkey,
                "old_key_hash": c.old_key_hash,
                "overlap_end": c.overlap_end,
                "reason": c.reason,
                "new_mldsa_vkey": c.new_mldsa_vkey,
                "finished": c.finished,
            }
            for c in changes
        ],
    }
    atomic_write(state_dir / LOG_KEYS, (json.dumps(doc, indent=1) + "\n").encode())
