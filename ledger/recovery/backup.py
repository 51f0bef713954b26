"""Online backups of a SQLite log, and restoring one without rolling the log back.

A backup is one self-contained SQLite file, ``ledger-<UTC time>-size<N>.sqlite``,
taken from a read-only connection with SQLite's online backup API while the
server keeps appending (WAL readers never block the writer), plus the revealed
documents under ``blobs/sha256/`` beside it. The signing keys are never in a
backup: they live outside the database and are backed up offline.

Restoring is where a backup can do harm: a backup older than what the witnesses
have cosigned would roll the log back, and the next append would reuse indices
the world has already seen with other entries (a fork every witness refuses and
every monitor reports). :func:`restore_backup` therefore refuses a backup unless
it holds at least every entry of the latest cosigned checkpoint it can find, and
is consistent with it (RFC 9162 §2.1.4 consistency proof from the backup's own
tiles).
"""

from __future__ import annotations

import asyncio
import filecmp
import hashlib
import logging
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ledger.errors import BackupError, LogDamaged, StoreError
from ledger.ops import metrics
from ledger.storage import sqlite_index
from ledger.storage.protocol import Head, LedgerStore
from ledger.storage.sqlite import SqliteStore
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.merkle import verify_consistency
from verifier.core.note import NoteVerifier
from verifier.core.prover import Prover
from verifier.errors import LedgerVerifyError
from verifier.files import fsync_dir, fsync_file, temp_name

log = logging.getLogger("frontier_ledger.backup")

BACKUP_RE = re.compile(r"^ledger-(\d{8}T\d{6}Z)-size(\d+)\.sqlite$")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int  # tree size of the backed-up head
    bytes: int
    blobs_copied: int
    removed: tuple[Path, ...]  # older backups deleted by the retention rule
    seconds: float


def backup_name(size: int, now: float) -> str:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"ledger-{stamp}-size{size}.sqlite"


def list_backups(out_dir: Path) -> list[Path]:
    """Backups in *out_dir*, oldest first (the names sort by time)."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if BACKUP_RE.match(p.name))


def copy_blobs(src: Path, dst: Path) -> int:
    """Copy content-addressed documents missing from *dst*; each is digest-checked."""
    if not src.is_dir():
        return 0
    copied = 0
    for p in sorted(src.iterdir()):
        name = p.name
        if len(name) != 64 or (dst / name).exists():
            continue
        data = p.read_bytes()
        if hashlib.sha256(data).hexdigest() != name:
            log.warning("skipping blob %s: its content does not match its name", p)
            continue
        dst.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(dst / name, "partial")
        tmp.write_bytes(data)
        fsync_file(tmp)
        tmp.replace(dst / name)
        copied += 1
    if copied:
        fsync_dir(dst)
    return copied


def backup_sqlite(
    db_path: Path,
    out_dir: Path,
    *,
    blobs_dir: Path | None = None,
    keep: int | None = None,
    now: Callable[[], float] = time.time,
) -> BackupResult:
    """Take an online backup of the log at *db_path* into *out_dir*.

    The copy is one consistent snapshot (a single ``backup`` step on a read
    transaction), checked with ``PRAGMA integrity_check`` and by re-hashing its
    tiles to its head's root before it gets its final name. A failure leaves no
    file with a backup's name behind.
    """
    t0 = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(out_dir / "backup", "partial")
    tmp.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {db_path} to back it up: {exc}") from None
    try:
        dst = sqlite3.connect(tmp)
        try:
            # pages=-1: the whole database in one step, so the copy is one snapshot
            # even while the server commits (a stepped copy restarts on every commit).
            src.backup(dst, pages=-1)
            # A backup is one self-contained file: no -wal beside it.
            dst.execute("PRAGMA journal_mode = DELETE")
            ok = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise BackupError(f"the backup copy failed SQLite's integrity check: {ok}")
        finally:
            dst.close()
        fsync_file(tmp)
        head = check_backup_file(tmp)
        final = out_dir / backup_name(head.size, now())
        # Crash point: until this rename the backup has no backup's name; after it
        # (and the directory fsync) it is complete and durable.
        tmp.replace(final)
        fsync_dir(out_dir)
    except (sqlite3.Error, OSError, StoreError) as exc:
        raise BackupError(f"backup of {db_path} failed: {exc}") from None
    finally:
        src.close()
        tmp.unlink(missing_ok=True)
    blobs = copy_blobs(blobs_dir, out_dir / "blobs" / "sha256") if blobs_dir else 0
    removed: list[Path] = []
    if keep is not None and keep > 0:
        for old in list_backups(out_dir)[:-keep]:
            if old != final:
                old.unlink(missing_ok=True)
                removed.append(old)
    return BackupResult(
        final, head.size, final.stat().st_size, blobs, tuple(removed), time.monotonic() - t0
    )


def check_backup_file(
    path: Path,
    vkeys: Sequence[NoteVerifier] = (),
    witnesses: Mapping[str, NoteVerifier] | None = None,
) -> Head:
    """Check that a backup is a whole, undamaged log, and return its head.

    SQLite's ``integrity_check``, then :func:`check_store`: every leaf hashed again
    and the tree rebuilt from them, every stored tile and checkpoint compared with
    it, the head's row and its signed note with the tree. O(entries), which is what
    a restore can afford: damage anywhere (a leaf, a tile, a checkpoint, the head)
    is found before the backup is trusted. With *vkeys*, every checkpoint must be
    signed by one of them (this log's).
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
        store = SqliteStore.open(path, readonly=True)
    except (sqlite3.Error, StoreError) as exc:
        raise BackupError(f"{path} is not a usable backup: {exc}") from None
    if ok != "ok":
        store.close()
        raise BackupError(f"{path} is damaged (SQLite integrity check: {ok})")
    try:
        return check_store(store, str(path), vkeys, witnesses)
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is not a usable backup: {exc}") from None
    finally:
        store.close()


class ReadableLog(Protocol):
    """What the rollback checks read from a log, whichever backend holds it."""

    def head(self) -> Head: ...

    def read_tile(self, level: int, index: int) -> bytes | None: ...


def check_store(
    store: LedgerStore,
    label: str,
    vkeys: Sequence[NoteVerifier] = (),
    witnesses: Mapping[str, NoteVerifier] | None = None,
) -> Head:
    """The whole log in *store* must be one this log's fsck calls intact; its head is returned.

    Every leaf present and hashed again, the tree rebuilt: each stored tile must hold
    what the leaves give; every stored checkpoint row must carry the rebuilt root at
    its size, and the head must be the newest of them, its row's size and root those
    of its signed note (:class:`ledger.recovery.fsck.LogCheck`, the same pass as
    ``fsck``). With *vkeys*, every checkpoint (the head's included) must be signed by
    one of them; with *witnesses* (name -> key), every stored cosignature by one of
    them must verify. The search index is not looked at (it is rebuilt from the log).
    A backup whose head was given another signed note of its size, or whose newer
    checkpoints were deleted, is refused here.
    """
    from ledger.recovery.fsck import LogCheck

    try:
        store.head()
    except StoreError:
        # Every log has one from init on: without it the file was damaged or edited.
        raise BackupError(
            f"{label} is damaged: it has no head row (the log's current signed checkpoint)"
        ) from None
    check = LogCheck(store, vkeys, parse_leaves=False)
    try:
        check.run(dict(witnesses or {}), index=False)
    except LogDamaged as exc:
        raise BackupError(f"{label}: {exc}") from None
    except LedgerVerifyError as exc:  # a witness policy key or note that cannot be parsed
        raise BackupError(f"{label}: {exc}") from None
    return check.head


def open_log_checkpoint(
    data: bytes, vkeys: Sequence[NoteVerifier], what: str, others: Iterable[NoteVerifier] = ()
) -> SignedCheckpoint:
    errors = []
    for key in vkeys:
        try:
            return open_checkpoint(data, key, other_keys=others)
        except LedgerVerifyError as exc:
            errors.append(str(exc))
    raise BackupError(f"{what} is not signed by this log's key: {'; '.join(errors)}")


@dataclass(frozen=True)
class Witnessed:
    """A checkpoint the backup must not roll back: where it came from, and its size/root."""

    source: str
    size: int
    root: bytes | None  # None: only the size is known (a witness's answer)
    #: a checkpoint only this data directory shows (--allow-rollback may give it up)
    overridable: bool = False


@dataclass
class RestorePlan:
    backup: Path
    head: Head
    witnessed: list[Witnessed] = field(default_factory=list)
    #: what the operator let through (--allow-rollback), said loudly when done
    warnings: list[str] = field(default_factory=list)


def check_consistency(
    store: ReadableLog, head: Head, what: str, witnessed: Sequence[Witnessed]
) -> None:
    """Refuse *store* (at *head*) if it would roll back or fork any *witnessed* checkpoint.

    An empty *witnessed* checks nothing: the caller decides whether that may be
    (restore's ``--unwitnessed``)."""
    prover = Prover(store.read_tile)
    for w in witnessed:
        if w.size > head.size:
            if w.overridable:
                raise BackupError(
                    f"{what} holds {head.size} entries but {w.source} is of size {w.size}: "
                    f"restoring it would roll back {w.size - head.size} entries the log has "
                    "signed (find a newer backup; if they were never published and you accept "
                    "losing them, give --allow-rollback)"
                )
            raise BackupError(
                f"{what} holds {head.size} entries but {w.source} has a checkpoint "
                f"of size {w.size}: restoring it would roll back {w.size - head.size} "
                "entries the world has seen (find a newer backup or a mirror)"
            )
        if w.root is None:
            continue
        proof = prover.consistency(w.size, head.size) if 0 < w.size < head.size else []
        try:
            verify_consistency(w.size, head.size, w.root, head.root, proof)
        except LedgerVerifyError as exc:
            hint = " (--allow-rollback gives it up)" if w.overridable else ""
            raise BackupError(
                f"{what} is not consistent with the checkpoint of size {w.size} "
                f"from {w.source}: {exc}; restoring it would fork the log{hint}"
            ) from None


def holds_backup(db_path: Path, backup: Path) -> bool:
    """Whether *db_path* is already byte for byte *backup* (no WAL pending beside it): a
    restore run again, e.g. after it was interrupted once it had installed the file."""
    wal = Path(f"{db_path}-wal")
    if not db_path.is_file() or (wal.exists() and wal.stat().st_size > 0):
        return False
    return filecmp.cmp(db_path, backup, shallow=False)


def install_backup(
    plan: RestorePlan, db_path: Path, blobs_dir: Path, now: float, reuse: Path | None = None
) -> Path | None:
    """Put the checked backup in place of *db_path*; the replaced files are kept aside.

    Returns the directory the replaced database went to (None if there was none).
    *reuse*: the ``replaced-*`` directory of an interrupted restore, where what it
    had not yet set aside goes too. The caller holds the data directory's writer lock.
    """
    root = db_path.parent
    aside: Path | None = None
    # The search index belongs to the replaced database too: the writer rebuilds it
    # from the restored log when it starts (ledger.write.indexer).
    olds = [
        p
        for p in (
            db_path,
            Path(f"{db_path}-wal"),
            Path(f"{db_path}-shm"),
            *sqlite_index.files(db_path),
        )
        if p.exists()
    ]
    cache = root / "site-cache"
    if olds or cache.exists():
        if reuse is not None and not any((reuse / p.name).exists() for p in olds):
            aside = reuse
        else:
            stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
            aside = root / f"replaced-{stamp}"
            aside.mkdir()
        for p in olds:
            p.replace(aside / p.name)
        if cache.exists() and not (aside / cache.name).exists():
            # The read side's replay state belongs to the replaced database.
            cache.replace(aside / cache.name)
        fsync_dir(root)
    tmp = root / f".{db_path.name}.restoring"
    shutil.copyfile(plan.backup, tmp)
    fsync_file(tmp)
    # Crash point: before this rename the data directory holds no database (the
    # old one is in replaced-*/, the restore can simply be run again); after it,
    # the restored log is in place.
    tmp.replace(db_path)
    fsync_dir(root)
    copy_blobs(plan.backup.parent / "blobs" / "sha256", blobs_dir)
    return aside


class BackupJob:
    """The server's periodic online backup (an APScheduler interval job)."""

    def __init__(self, db_path: Path, out_dir: Path, blobs_dir: Path, keep: int) -> None:
        self.db_path = db_path
        self.out_dir = out_dir
        self.blobs_dir = blobs_dir
        self.keep = keep
        self.last: BackupResult | None = None
        self.last_error: str | None = None
        self.last_success: float | None = None  # wall time, for /metrics

    async def tick(self) -> BackupResult | None:
        try:
            result = await asyncio.to_thread(
                backup_sqlite, self.db_path, self.out_dir, blobs_dir=self.blobs_dir, keep=self.keep
            )
        except BackupError as exc:
            metrics.BACKUP_FAILURES.inc()
            self.last_error = str(exc)
            log.error("backup failed: %s", exc)
            return None
        self.last, self.last_error = result, None
        self.last_success = time.time()
        log.info(
            "backup of tree size %d written to %s (%d bytes, %.1f s)",
            result.size,
            result.path,
            result.bytes,
            result.seconds,
        )
        return result
