"""``frontier-ledger fsck``: check that the stored log is the log that was signed.

The operator's own tools must notice what a foreign verifier would: a leaf edited
in the database (its stored hash updated too) no longer hashes into the tiles and
the signed roots. fsck reads everything the store holds, in one pass, and trusts
none of it:

1. every leaf is read back and re-hashed (RFC 9162 leaf hash), and must parse as
   a leaf (FORMATS.md "Leaf");
2. the hashes are built into tiles exactly as the sequencer built them
   (:class:`ledger.write.tree.TreeEdge`), and every stored tile must equal the
   tile rebuilt from the leaves — a full tile as soon as it is complete, the
   rightmost partial tiles at the end;
3. every stored checkpoint must be signed by one of the log's keys
   (:func:`ledger.keys.log_keys.known_verifiers`) and carry the root rebuilt from
   the leaves at its size; the head must be the newest of them. Since every root
   is recomputed from one sequence of leaves, successive checkpoints are
   consistent by construction: any two of them are an RFC 9162 prefix pair;
4. every stored witness cosignature must verify over its checkpoint, under the
   key the witness policy (DATA/witnesses.policy) names, if there is one;
5. the search index (derived from the log, written after each commit: see
   ``ledger/storage/README.md``) is compared row by row with the entries it
   covers. It is not the log: one that lags (a crash between a commit and its
   index write) or disagrees is reported, not counted as damage; the writer
   catches up a lagging index when it starts, and ``frontier-ledger reindex``
   rebuilds one that disagrees. A SQLite log whose index file is missing (as
   after ``restore``, which sets the replaced log's index aside) has an index
   that lags by every entry: reported, and built by the writer when it starts.

The first problem stops the check, with the first bad log index when there is one
(:class:`ledger.errors.LogDamaged`). Nothing is written: the store is opened
read-only.

:class:`LogCheck` is also what ``restore`` runs on a backup before it installs it
(:func:`ledger.recovery.backup.check_store`): a backup is accepted only if it is a
log this one would call intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import LogDamaged
from ledger.keys.log_keys import KeyFiles, known_verifiers
from ledger.ops.datadir import DataDir
from ledger.read.receipts import cosigned_note
from ledger.storage import sqlite_index
from ledger.storage.backends import open_store, sqlite_path
from ledger.storage.protocol import LedgerStore
from ledger.write.tree import TreeEdge, leaf_hashes
from ledger.write.witnessing import POLICY_NAME
from verifier.core.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from verifier.core.leaf import parse_leaf
from verifier.core.note import NoteVerifier, parse_note
from verifier.core.tiles import TILE_WIDTH
from verifier.core.trust_policy import parse_trust_policy
from verifier.errors import FormatError, LedgerVerifyError

#: Called with (entries checked, tree size) now and then, for a progress line.
Progress = Callable[[int, int], None]

#: Leaves read per query (bounded memory on either backend).
READ_CHUNK = 8192


@dataclass
class FsckResult:
    origin: str
    size: int
    tiles: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    keys: list[str] = field(default_factory=list)
    #: entries the search index covers, and how it disagrees with the log (if it does)
    indexed: int = 0
    index_problems: list[str] = field(default_factory=list)
    #: SQLite: no index file yet (after a restore); the writer builds it when it starts
    index_missing: bool = False


def fsck(data: DataDir, progress: Progress | None = None) -> FsckResult:
    """Check the log of *data*; raise :class:`LogDamaged` at the first problem."""
    store = open_store(data, readonly=True)
    try:
        keys = known_verifiers(KeyFiles(data.key_path, data.vkey_path))
        if not keys:
            raise LogDamaged(f"no vkey in {data.root}: the checkpoints cannot be verified")
        db_path = sqlite_path(data)
        missing = db_path is not None and not sqlite_index.index_path(db_path).exists()
        result = LogCheck(store, keys, progress).run(
            _policy_keys(data.root / POLICY_NAME), index=not missing
        )
        result.index_missing = missing
        return result
    finally:
        store.close()


def _policy_keys(path: Path) -> dict[str, NoteVerifier]:
    """The witnesses' keys, by name, from the log's witness policy (none without one)."""
    if not path.exists():
        return {}
    policy = parse_trust_policy(path.read_text())
    return {w.name: w.key for w in policy.witnesses.values()}


class LogCheck:
    """One pass over a stored log; :meth:`run` raises :class:`LogDamaged` at the first problem.

    *keys*: the log's vkeys; every checkpoint must be signed by one of them. With none
    (a backup being taken, where only the structure is checked), the checkpoints are
    parsed without their signatures being verified. *parse_leaves*: each leaf must
    also parse as a leaf (fsck); a restore only needs the leaves to hash into the
    signed roots.
    """

    def __init__(
        self,
        store: LedgerStore,
        keys: Sequence[NoteVerifier],
        progress: Progress | None = None,
        *,
        parse_leaves: bool = True,
    ) -> None:
        self.store = store
        self.keys = list(keys)
        self.progress = progress
        self.parse_leaves = parse_leaves
        self.head = store.head()
        self.result = FsckResult(store.origin, self.head.size, keys=[k.name for k in keys])
        self.edge = TreeEdge()

    def run(self, witnesses: dict[str, NoteVerifier], *, index: bool = True) -> FsckResult:
        """Check everything; with *index*, also compare the search index with the log."""
        head_cp = self._open(self.head.checkpoint, "the head's checkpoint", self.head.size)
        if head_cp.size != self.head.size or head_cp.root != self.head.root:
            raise LogDamaged(
                f"the head row says size {self.head.size} root {self.head.root.hex()[:16]}..., "
                f"but its signed checkpoint is of size {head_cp.size} root "
                f"{head_cp.root.hex()[:16]}...: the head row was edited, or given another "
                "signed checkpoint",
                min(head_cp.size, self.head.size),
            )
        sizes = sorted(self.store.checkpoint_sizes())
        if not sizes or sizes[-1] != self.head.size:
            raise LogDamaged(
                f"the head (size {self.head.size}) is not the newest stored checkpoint "
                f"(sizes up to {sizes[-1] if sizes else 'none'})"
            )
        pending = iter(sizes)
        next_size = next(pending, None)
        # Size 0 has a checkpoint too (init signs the empty tree).
        while next_size == 0:
            self._checkpoint(0)
            next_size = next(pending, None)
        batch: list[bytes] = []
        for at, leaf in enumerate(self._leaves()):
            if self.parse_leaves:
                try:
                    parse_leaf(leaf)
                except FormatError as exc:
                    raise LogDamaged(f"entry {at} is not a valid leaf: {exc}", at) from None
            batch.append(leaf)
            count = at + 1
            # Build tiles up to a tile boundary or a checkpoint size, whichever is first.
            if count % TILE_WIDTH == 0 or count == next_size:
                self._append(batch, count - len(batch))
                batch = []
            while next_size is not None and next_size == count:
                self._checkpoint(count)
                next_size = next(pending, None)
            if self.progress is not None and count % 65_536 == 0:
                self.progress(count, self.head.size)
        if batch:
            self._append(batch, self.edge.size)
        if self.edge.size != self.head.size:
            raise LogDamaged(
                f"the store holds {self.edge.size} entries, but its head checkpoint says "
                f"{self.head.size}",
                min(self.edge.size, self.head.size),
            )
        self._final_tiles()
        self._cosignatures(witnesses)
        if index:
            self.result.indexed, self.result.index_problems = self.store.check_index()
        return self.result

    def _leaves(self) -> Iterator[bytes]:
        """The leaves 0 .. head size - 1, in order: a missing one, or one beyond the
        head, is damage (named by its index)."""
        size = self.head.size
        for start in range(0, size, READ_CHUNK):
            end = min(size, start + READ_CHUNK)
            leaves = self.store.read_leaves(start, end)
            if len(leaves) != end - start:
                missing = next(
                    (i for i in range(start, end) if self.store.read_entry(i) is None), start
                )
                raise LogDamaged(
                    f"entry {missing} is missing from the store (its head checkpoint says "
                    f"{size} entries)",
                    missing,
                )
            yield from leaves
        if self.store.read_leaves(size, size + 1):
            raise LogDamaged(
                f"the store holds entries from index {size} on, beyond its head checkpoint "
                f"(size {size})",
                size,
            )

    def _open(self, note: bytes, what: str, size: int) -> Checkpoint:
        """The checkpoint in *note*, signed by one of the log's keys (parsed only without keys)."""
        try:
            if not self.keys:
                return parse_checkpoint(parse_note(note).text)
            return open_checkpoint(note, self.keys).checkpoint
        except LedgerVerifyError as exc:
            raise LogDamaged(f"{what} is not validly signed by the log: {exc}", size) from None

    def _append(self, leaves: list[bytes], first: int) -> None:
        changed = self.edge.append(leaf_hashes(leaves))
        for (level, index), data in changed.items():
            if len(data) == TILE_WIDTH * 32:  # full: final now, and must be stored as is
                self._compare(level, index, data)

    def _final_tiles(self, *, prefix: bool = False) -> None:
        """The rightmost partial tile of each level, as the head's size publishes it
        (with *prefix*: at a smaller size, whose stored tiles may be wider)."""
        size = self.edge.size
        for level, hashes in enumerate(self.edge.edge):
            if hashes:
                index = (size >> (8 * level)) // TILE_WIDTH
                self._compare(level, index, b"".join(hashes), prefix=prefix)

    def _compare(self, level: int, index: int, rebuilt: bytes, *, prefix: bool = False) -> None:
        stored = self.store.read_tile(level, index)
        self.result.tiles += 1
        if stored == rebuilt or (
            prefix and stored is not None and stored[: len(rebuilt)] == rebuilt
        ):
            return
        if stored is None:
            raise LogDamaged(f"tile {level}/{index} is missing from the store")
        for i in range(0, min(len(stored), len(rebuilt)), 32):
            if stored[i : i + 32] != rebuilt[i : i + 32]:
                first = (index * TILE_WIDTH + i // 32) * TILE_WIDTH**level
                if level == 0:
                    raise LogDamaged(
                        f"entry {first}: its stored leaf does not hash to the leaf hash in "
                        f"tile 0/{index} (the leaf was changed after it was signed into the tree)",
                        first,
                    )
                raise LogDamaged(
                    f"tile {level}/{index} hash {i // 32} differs from the tiles below it "
                    f"(entries from {first} on)",
                    first,
                )
        raise LogDamaged(
            f"tile {level}/{index} holds {len(stored) // 32} hashes; the leaves give "
            f"{len(rebuilt) // 32}"
        )

    def _checkpoint(self, size: int) -> None:
        note = self.store.read_checkpoint(size)
        if note is None:  # pragma: no cover - listed by checkpoint_sizes
            raise LogDamaged(f"the checkpoint of size {size} is listed but missing")
        cp = self._open(note, f"the stored checkpoint of size {size}", size)
        root = self.edge.root()
        if cp.size != size or cp.root != root:
            # Name the leaf if a stored tile shows which one changed (a tile is
            # stored at its widest: compare the rebuilt prefix only).
            self._final_tiles(prefix=True)
            raise LogDamaged(
                f"the stored checkpoint of size {size} does not carry the root of the stored "
                f"leaves (entries 0..{size - 1}): a leaf was changed, or the checkpoint forks",
                size,
            )
        if size == self.head.size and (note != self.head.checkpoint or self.head.root != root):
            raise LogDamaged(f"the head is not the stored checkpoint of size {size}", size)
        self.result.checkpoints += 1

    def _cosignatures(self, witnesses: dict[str, NoteVerifier]) -> None:
        """Every stored cosignature by a witness the policy names verifies over its checkpoint."""
        if not witnesses:
            return
        for size in self.store.cosigned_sizes():
            note = self.store.read_checkpoint(size)
            if note is None:
                raise LogDamaged(
                    f"cosignatures are stored for size {size}, which has no checkpoint"
                )
            for name, (line, _) in self.store.cosignatures(size).items():
                key = witnesses.get(name)
                if key is None:
                    continue  # a witness the policy no longer names
                try:
                    open_checkpoint(cosigned_note(note, [line]), self.keys, other_keys=[key])
                except LedgerVerifyError as exc:
                    raise LogDamaged(
                        f"the stored cosignature of witness {name} on the checkpoint of size "
                        f"{size} does not verify: {exc}",
                        size,
                    ) from None
                self.result.cosignatures += 1
