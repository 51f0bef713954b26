"""``frontier-ledger restore``: restore only a backup that keeps what the world has seen.

The checkpoints a restored log must not roll back come from three places, each
optional, all checked:

1. ``--checkpoint`` files or URLs: the latest checkpoint the mirror serves, a
   monitor's stored checkpoint, a receipt's checkpoint. Each must be signed by
   the log's key and, when a witness policy is known, carry its quorum.
2. The database being replaced, if it can still be read: the newest checkpoint
   its stored cosignatures show the witnesses signed; and its own newest
   checkpoint signed by the log's key (its head, or a newer checkpoint row). The
   latter may never have been published: ``--allow-rollback`` lets the operator
   give it up, loudly.
3. The witnesses themselves (C2SP tlog-witness): an ``add-checkpoint`` request
   with old size 0 is answered ``409 Conflict`` with the size the witness last
   cosigned for this log, and changes nothing on the witness. Only the size is
   learnt this way; the witness will itself refuse a forked log later. At least
   the policy's quorum must answer (``--allow-rollback`` goes on with fewer).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import BackupError, DataDirError, StoreError
from ledger.ops.datadir import DataDir, WriterLock
from ledger.read.receipts import cosigned_note
from ledger.recovery.backup import (
    ReadableLog,
    RestorePlan,
    Witnessed,
    check_backup_file,
    check_consistency,
    check_store,
    copy_blobs,
    holds_backup,
    install_backup,
    open_log_checkpoint,
)
from ledger.storage.backends import open_store, sqlite_path
from ledger.storage.protocol import Head
from ledger.storage.sqlite import SqliteStore
from ledger.write.witnessing import POLICY_NAME
from verifier.core.note import NoteVerifier, parse_vkey
from verifier.core.trust_policy import TrustPolicy, open_trusted_checkpoint, parse_trust_policy
from verifier.errors import LedgerVerifyError
from verifier.witness.protocol import format_add_checkpoint

log = logging.getLogger("frontier_ledger.restore")

MAX_CHECKPOINT_BYTES = 64 * 1024
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RestoreResult:
    plan: RestorePlan
    replaced: Path | None  # where the replaced database was moved
    already: bool = False  # the data directory already held this backup's database


def _read_source(src: str) -> bytes:
    if src.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(src, timeout=TIMEOUT_S) as resp:  # noqa: S310 - operator's URL
                return bytes(resp.read(MAX_CHECKPOINT_BYTES + 1))[: MAX_CHECKPOINT_BYTES + 1]
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise BackupError(f"cannot fetch the checkpoint {src}: {exc}") from None
    try:
        return Path(src).read_bytes()[: MAX_CHECKPOINT_BYTES + 1]
    except OSError as exc:
        raise BackupError(f"cannot read the checkpoint {src}: {exc}") from None


def from_checkpoints(
    sources: Sequence[str], vkeys: Sequence[NoteVerifier], policy: TrustPolicy | None
) -> list[Witnessed]:
    out = []
    for src in sources:
        data = _read_source(src)
        if len(data) > MAX_CHECKPOINT_BYTES:
            raise BackupError(f"{src} is larger than a checkpoint can be")
        cp = open_log_checkpoint(data, vkeys, f"the checkpoint from {src}")
        if policy is not None:
            try:
                open_trusted_checkpoint(data, policy)
            except LedgerVerifyError as exc:
                # Still signed by the log: the backup must not roll it back either;
                # say that it is not witnessed, and check it all the same.
                log.warning("the checkpoint from %s is not witnessed: %s", src, exc)
        out.append(Witnessed(src, cp.size, cp.root))
    return out


def from_database(
    db_path: Path, vkeys: Sequence[NoteVerifier], policy: TrustPolicy | None
) -> list[Witnessed]:
    """What the database being replaced says the restored log must keep: its own newest
    checkpoint signed by the log's key (overridable: it may never have been published)
    and the newest checkpoint it shows cosigned by the policy's quorum."""
    if not db_path.is_file():
        return []
    try:
        store = SqliteStore.open(db_path, readonly=True)
    except StoreError as exc:
        log.warning(
            "the database being replaced (%s) cannot be read (%s): its signed head cannot be "
            "checked; going on without it",
            db_path,
            exc,
        )
        return []
    try:
        out = _newest_signed(store, db_path, vkeys)
        if policy is not None:
            out += _newest_cosigned(store, policy)
        return out
    finally:
        store.close()


def _newest_signed(
    store: SqliteStore, db_path: Path, vkeys: Sequence[NoteVerifier]
) -> list[Witnessed]:
    """The replaced database's newest checkpoint signed by the log: its head, or a newer
    checkpoint row (a crash between the two writes)."""
    notes: list[tuple[str, bytes]] = []
    try:
        notes.append(("signed head", store.head().checkpoint))
    except Exception as exc:  # noqa: BLE001 - a damaged database is why we restore
        log.warning("the head of the database being replaced cannot be read (%s)", exc)
    try:
        sizes = sorted(store.checkpoint_sizes(), reverse=True)
        for size in sizes:
            note = store.read_checkpoint(size)
            if note is None:
                continue
            try:
                open_log_checkpoint(note, vkeys, "")
            except BackupError:
                continue
            notes.append((f"newest signed checkpoint row (size {size})", note))
            break
    except Exception as exc:  # noqa: BLE001 - a damaged database is why we restore
        log.warning("the checkpoints of the database being replaced cannot be read (%s)", exc)
    best: Witnessed | None = None
    for what, note in notes:
        try:
            cp = open_log_checkpoint(note, vkeys, "")
        except BackupError as exc:
            log.warning("the %s of the database being replaced is not usable: %s", what, exc)
            continue
        if best is None or cp.size > best.size:
            best = Witnessed(
                f"the database being replaced ({db_path}, its {what})",
                cp.size,
                cp.root,
                overridable=True,
            )
    if best is None:
        log.warning(
            "the database being replaced (%s) holds no checkpoint signed by this log's key; "
            "going on without it",
            db_path,
        )
        return []
    return [best]


def _newest_cosigned(store: SqliteStore, policy: TrustPolicy) -> list[Witnessed]:
    """The newest checkpoint that the database being replaced shows cosigned by a quorum."""
    try:
        for size in sorted(store.cosigned_sizes(), reverse=True):
            cosigs = store.cosignatures(size)
            note = store.read_checkpoint(size)
            if note is None or not policy.quorum_met(set(cosigs)):
                continue
            data = cosigned_note(note, [line for line, _ in cosigs.values()])
            try:
                tc = open_trusted_checkpoint(data, policy)
            except LedgerVerifyError as exc:
                log.warning("stored cosignatures of size %d do not verify: %s", size, exc)
                continue
            cp = tc.checkpoint
            return [Witnessed(f"the replaced database's cosigned size {size}", cp.size, cp.root)]
    except Exception as exc:  # noqa: BLE001 - a damaged database is why we restore
        log.warning("the cosignatures of the database being replaced cannot be read (%s)", exc)
    return []


@dataclass
class WitnessAnswers:
    """What the policy's witnesses said to the probe: sizes, and who answered or not."""

    witnessed: list[Witnessed] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> why


def ask_witnesses(policy: TrustPolicy, probe_checkpoint: bytes) -> WitnessAnswers:
    """Ask each witness (tlog-witness) for the size it last cosigned for this log."""
    out = WitnessAnswers()
    body = format_add_checkpoint(0, [], probe_checkpoint)
    for w in policy.witnesses.values():
        if not w.url:
            out.failed[w.name] = "the policy gives no URL for it"
            continue
        url = w.url.rstrip("/") + "/add-checkpoint"
        req = urllib.request.Request(  # noqa: S310 - the operator's configured witness URL
            url, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310
                # 200: the witness had no record of this log and has now cosigned
                # the backup's own checkpoint; nothing newer was seen by it.
                log.info("witness %s had no checkpoint of this log (%d)", w.name, resp.status)
                out.answered.append(w.name)
                continue
        except urllib.error.HTTPError as exc:
            reply = exc.read(64).strip()
            if exc.code == 409 and reply.isdigit():
                out.witnessed.append(Witnessed(f"witness {w.name}", int(reply), None))
                out.answered.append(w.name)
                continue
            out.failed[w.name] = f"answered {exc.code} {reply!r}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            out.failed[w.name] = f"cannot be reached: {exc}"
        log.warning("witness %s: %s", w.name, out.failed[w.name])
    return out


def from_witnesses(
    policy: TrustPolicy | None,
    probe_checkpoint: bytes,
    *,
    allow_rollback: bool = False,
    warnings: list[str] | None = None,
) -> list[Witnessed]:
    """The sizes the witnesses last cosigned; at least the policy's quorum must answer
    (else :class:`BackupError`, unless *allow_rollback*: then it is said in *warnings*)."""
    if policy is None:
        return []
    answers = ask_witnesses(policy, probe_checkpoint)
    if not policy.quorum_met(set(answers.answered)):
        failed = "; ".join(f"{name} {why}" for name, why in answers.failed.items())
        msg = (
            f"only {len(answers.answered)} of the policy's {len(policy.witnesses)} witnesses "
            f"answered ({', '.join(answers.answered) or 'none'}), fewer than its quorum "
            f"({failed})"
        )
        if not allow_rollback:
            raise BackupError(
                f"{msg}: without a quorum's answer a newer checkpoint may have been cosigned; "
                "retry when they can be reached, or give --allow-rollback to restore anyway"
            )
        log.warning("--allow-rollback: %s; restoring anyway", msg)
        if warnings is not None:
            warnings.append(f"{msg}; restored anyway (--allow-rollback)")
    return answers.witnessed


def load_policy(data: DataDir, policy_path: Path | None) -> TrustPolicy | None:
    path = policy_path or data.root / POLICY_NAME
    if not path.exists():
        if policy_path is not None:
            raise BackupError(f"no witness policy at {path}")
        return None
    try:
        return parse_trust_policy(path.read_text())
    except (LedgerVerifyError, OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"the witness policy {path} cannot be used: {exc}") from None


def load_vkeys(data: DataDir, extra: Sequence[str]) -> list[NoteVerifier]:
    texts = list(extra)
    if data.vkey_path.exists():
        texts.append(data.vkey_path.read_text().strip())
    if not texts:
        raise BackupError(
            f"no log vkey at {data.vkey_path}: restore the key files first (they are "
            "not in a backup), or give the log's vkey with --vkey"
        )
    try:
        return [parse_vkey(t) for t in texts]
    except LedgerVerifyError as exc:
        raise BackupError(f"the log vkey is not usable: {exc}") from None


@dataclass(frozen=True)
class Sources:
    """Where to look for the checkpoints a restored log must keep (the CLI's options)."""

    checkpoints: Sequence[str] = ()  # --checkpoint files or URLs
    policy_path: Path | None = None  # default: DATA/witnesses.policy if present
    vkeys: Sequence[str] = ()  # the log's vkeys besides DATA/log.vkey
    ask_witnesses: bool = True
    unwitnessed: bool = False  # go on when no witnessed checkpoint is found at all
    #: give up the replaced database's own signed checkpoints, and go on when fewer
    #: witnesses than the quorum answer (never a witness's or a --checkpoint's size)
    allow_rollback: bool = False


@dataclass(frozen=True)
class Checked:
    """The checkpoints a restored log was checked against, and what was given up."""

    witnessed: list[Witnessed]
    warnings: list[str]  # what --allow-rollback let through, for the operator


def _check_witnessed(
    store: ReadableLog,
    head: Head,
    what: str,
    *,
    sources: Sources,
    keys: Sequence[NoteVerifier],
    policy: TrustPolicy | None,
    replaced_db: Path | None = None,
) -> Checked:
    """Collect the checkpoints *store* must keep and refuse it if it rolls back or forks one."""
    warnings: list[str] = []
    witnessed = from_checkpoints(sources.checkpoints, keys, policy)
    if replaced_db is not None:
        witnessed += from_database(replaced_db, keys, policy)
    if sources.ask_witnesses:
        witnessed += from_witnesses(
            policy, head.checkpoint, allow_rollback=sources.allow_rollback, warnings=warnings
        )
    if sources.allow_rollback:
        for w in [w for w in witnessed if w.overridable and not _keeps(store, head, w)]:
            msg = (
                f"{w.source} (size {w.size}) is given up: {what} holds {head.size} entries"
                + ("" if w.size > head.size else " and is not consistent with it")
                + " (--allow-rollback)"
            )
            log.warning("%s", msg)
            warnings.append(msg)
            witnessed.remove(w)
    check_consistency(store, head, what, witnessed)
    # The replaced database's own signed head is not a witness: it is checked, but
    # does not stand in for one.
    if not any(not w.overridable for w in witnessed):
        if not sources.unwitnessed:
            raise BackupError(
                f"no witnessed checkpoint to check {what} against: give the latest "
                "cosigned checkpoint with --checkpoint (a file or the mirror's URL), or a "
                "witness policy whose witnesses can be asked; --unwitnessed skips this "
                "check at the risk of rolling the log back"
            )
        log.warning("checking %s without any witnessed checkpoint to check it against", what)
        witnessed.append(Witnessed("nothing (--unwitnessed)", 0, None))
    return Checked(witnessed, warnings)


def _keeps(store: ReadableLog, head: Head, w: Witnessed) -> bool:
    """Whether *store* (at *head*) neither rolls back nor forks *w*."""
    try:
        check_consistency(store, head, "", [w])
    except BackupError:
        return False
    return True


def _witness_keys(policy: TrustPolicy | None) -> dict[str, NoteVerifier]:
    return {w.name: w.key for w in policy.witnesses.values()} if policy is not None else {}


def _replaced_database(data: DataDir, warnings: list[str]) -> Path:
    """The database a restore replaces: DATA's, or, when there is none, the one an
    interrupted restore had already set aside (its signed head still counts)."""
    if data.db_path.exists():
        return data.db_path
    aside = sorted(
        p / data.db_path.name
        for p in data.root.glob("replaced-*")
        if (p / data.db_path.name).is_file()
    )
    if aside:
        msg = (
            f"no database in {data.root}, but {aside[-1].parent} holds the one an earlier "
            "restore set aside (interrupted?): checked against it"
        )
        log.warning("%s", msg)
        warnings.append(msg)
        return aside[-1]
    return data.db_path


def restore(backup: Path, data: DataDir, sources: Sources = Sources()) -> RestoreResult:
    """Check *backup* against every witnessed checkpoint found, then install it in *data*.

    Raises :class:`BackupError` (nothing changed) when the backup is unusable, or
    when it would roll back or fork a checkpoint someone has seen, or the replaced
    database's own signed head (unless ``sources.allow_rollback``).
    """
    if not backup.is_file():
        raise BackupError(f"no backup file at {backup}")
    keys = load_vkeys(data, sources.vkeys)
    policy = load_policy(data, sources.policy_path)
    data.root.mkdir(parents=True, exist_ok=True)
    # A running server holds this lock: never restore under a live sequencer.
    with WriterLock(data).holding(require_db=False):
        head = check_backup_file(backup, keys, _witness_keys(policy))  # O(entries): once
        warnings: list[str] = []
        replaced_db = _replaced_database(data, warnings)
        store = SqliteStore.open(backup, readonly=True)
        try:
            checked = _check_witnessed(
                store,
                head,
                "the backup",
                sources=sources,
                keys=keys,
                policy=policy,
                replaced_db=replaced_db,
            )
        finally:
            store.close()
        plan = RestorePlan(backup, head, checked.witnessed, [*warnings, *checked.warnings])
        blobs = data.root / "blobs" / "sha256"
        if holds_backup(data.db_path, backup):
            # Run again (e.g. after an interruption): nothing to set aside again.
            copy_blobs(backup.parent / "blobs" / "sha256", blobs)
            return RestoreResult(plan, None, already=True)
        reuse = replaced_db.parent if replaced_db != data.db_path else None
        replaced = install_backup(plan, data.db_path, blobs, time.time(), reuse)
    return RestoreResult(plan, replaced)


@dataclass(frozen=True)
class DatabaseCheck:
    head: Head
    witnessed: list[Witnessed]
    warnings: list[str]


def check_database(data: DataDir, sources: Sources = Sources()) -> DatabaseCheck:
    """The PostgreSQL side of restore: check a database that ``pg_restore`` loaded.

    The same checks as for a SQLite backup — every leaf re-hashed into the tree,
    every checkpoint signed by this log's key and carrying the tree's root, no
    rollback or fork of any witnessed checkpoint found — on the database named by
    ``data.database``, before anyone serves it. It changes nothing;
    :class:`BackupError` says why not to serve it.
    """
    keys = load_vkeys(data, sources.vkeys)
    policy = load_policy(data, sources.policy_path)
    label = f"the database {data.store_label}"
    try:
        store = open_store(data, readonly=True)
    except StoreError as exc:
        raise BackupError(f"{label} cannot be opened: {exc}") from None
    try:
        head = check_store(store, label, keys, _witness_keys(policy))
        checked = _check_witnessed(store, head, label, sources=sources, keys=keys, policy=policy)
    finally:
        store.close()
    return DatabaseCheck(head, checked.witnessed, checked.warnings)


def _warning_lines(warnings: Sequence[str]) -> list[str]:
    return [f"  WARNING: {w}" for w in warnings]


def restore_log(data: DataDir, backup: Path | None, sources: Sources) -> list[str]:
    """Restore *data*'s log, refusing a rollback or fork of any witnessed checkpoint;
    returns what was done, line by line, for the operator.

    SQLite: *backup* is a backup file, checked and then moved into place.
    PostgreSQL: pg_restore has already loaded the dump into the database; it is
    checked before anyone serves it, and *backup* must not be given.
    """
    if sqlite_path(data) is None:  # PostgreSQL: pg_restore loaded it already
        if backup is not None:
            raise DataDirError(
                "with --database, restore checks the database pg_restore loaded: give no "
                "backup file (see docs/operator.md, Backups and restore)"
            )
        checked = check_database(data, sources)
        return [
            f"The database {data.store_label} holds tree size {checked.head.size}",
            *_warning_lines(checked.warnings),
            *(f"  consistent with {w.source} (size {w.size})" for w in checked.witnessed),
            "  safe to serve: start the server with this --database",
        ]
    if backup is None:
        raise DataDirError("give the backup file to restore")
    result = restore(backup, data, sources)
    plan = result.plan
    done = (
        f"{data.db_path} already is {plan.backup} (tree size {plan.head.size}): nothing replaced"
        if result.already
        else f"Restored tree size {plan.head.size} from {plan.backup} into {data.db_path}"
    )
    return [
        done,
        *_warning_lines(plan.warnings),
        *(f"  consistent with {w.source} (size {w.size})" for w in plan.witnessed),
        *(
            [f"  the replaced database was kept in {result.replaced}"]
            if result.replaced is not None
            else []
        ),
        "  start the server again; it serves and extends the restored log",
    ]
