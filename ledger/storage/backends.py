"""Which database holds a log: the one place that chooses between SQLite and PostgreSQL.

SQLite (``DATA/ledger.sqlite``) is the zero-set-up default; ``--database
postgresql://…`` (:attr:`DataDir.database`) puts the log in PostgreSQL instead.
Either way the key files, blobs and caches stay in the data directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import DataDirError
from ledger.ops.datadir import DataDir
from ledger.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from ledger.storage.postgres import PgStore


def check_no_log(data: DataDir) -> None:
    """DataDirError/StoreError if *data* already holds a log (``init`` refuses to touch it)."""
    if data.database:
        from ledger.storage.postgres import PgStore

        PgStore.check_empty(data.database)
    elif data.db_path.exists():
        raise DataDirError(f"{data.db_path} already exists; a log is already initialised there")


def create_store(
    data: DataDir,
    origin: str,
    note: bytes,
    root: bytes,
    *,
    profile: str = "governed",
    created_at_ms: int | None = None,
) -> SqliteStore | PgStore:
    """Create the log's database holding the signed checkpoint *note* of the empty tree."""
    if data.database:
        from ledger.storage.postgres import PgStore

        return PgStore.create(
            data.database,
            data.root,
            origin,
            note,
            root,
            profile=profile,
            created_at_ms=created_at_ms,
        )
    return SqliteStore.create(
        data.db_path, origin, note, root, profile=profile, created_at_ms=created_at_ms
    )


def open_store(data: DataDir, readonly: bool = False) -> SqliteStore | PgStore:
    """Open the existing log of *data* (never creates one).

    A writer (``readonly=False``) on PostgreSQL takes the log's advisory lock at once.
    """
    if data.database:
        from ledger.storage.postgres import PgStore

        return PgStore.open(data.database, data.root, readonly=readonly)
    return SqliteStore.open(data.db_path, readonly=readonly)


def sqlite_path(data: DataDir) -> Path | None:
    """The database file of a SQLite log; None when the log lives in PostgreSQL."""
    return None if data.database else data.db_path


def sqlite_file(data: DataDir, operation: str) -> Path:
    """The database file of a SQLite log, for *operation*s that work on the file itself
    (online backups). A PostgreSQL log is backed up with pg_dump instead."""
    if data.database:
        raise DataDirError(
            f"{operation} is for SQLite logs; back up PostgreSQL with pg_dump "
            "(docs/operator.md, Backups)"
        )
    return data.db_path
