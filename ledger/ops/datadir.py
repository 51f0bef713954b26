"""The data directory: where a log lives on disk, and the lock that keeps it single-writer.

::

    DATA/
      ledger.sqlite      the log (entries, tiles, checkpoints); WAL files beside it
      index.sqlite       its search index, derived from it (ledger.storage.sqlite_index)
      log.key            PRIVATE+KEY+… signer key, mode 0600 (never in the database)
      log.vkey           the public verifier key, for anyone
      ledger.lock        held (flock) by the one process that may sign

With ``--database postgresql://…`` the log (entries, tiles, checkpoints) lives in
that PostgreSQL database instead of ``ledger.sqlite``; the key files, blobs,
caches and the lock file stay in DATA.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ledger.errors import DataDirError

DB_NAME = "ledger.sqlite"
KEY_NAME = "log.key"
VKEY_NAME = "log.vkey"
LOCK_NAME = "ledger.lock"


#: URL schemes ``--database`` accepts (libpq's, for PostgreSQL).
DATABASE_SCHEMES = ("postgresql", "postgres")


def check_database_url(url: str) -> str:
    """*url* if it names a PostgreSQL database (``postgresql://…``), else DataDirError."""
    if urlsplit(url).scheme not in DATABASE_SCHEMES:
        raise DataDirError(
            "--database takes a PostgreSQL URL, e.g. postgresql://ledger@db.example.org/ledger"
        )
    return url


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


@dataclass(frozen=True)
class DataDir:
    root: Path
    key_path: Path
    #: A PostgreSQL URL: the log lives in that database instead of DATA/ledger.sqlite.
    database: str | None = None

    @classmethod
    def at(
        cls, root: Path | str, key_path: Path | str | None = None, database: str | None = None
    ) -> DataDir:
        root = Path(root)
        return cls(
            root,
            Path(key_path) if key_path else root / KEY_NAME,
            check_database_url(database) if database else None,
        )

    @property
    def store_label(self) -> str:
        """Where the log is stored, for messages (a database URL without its password)."""
        if self.database:
            return f"PostgreSQL database {redact_url(self.database)}"
        return str(self.db_path)

    def check_initialised(self) -> None:
        """DataDirError unless ``init`` set this directory up (never creates anything).

        With SQLite the database file says so; with PostgreSQL the verifier key
        ``init`` wrote beside the signer key (the database itself is checked on open).
        """
        marker = self.vkey_path if self.database else self.db_path
        if not marker.is_file():
            what = "log key files" if self.database else "log database"
            how = " --database URL" if self.database else ""
            raise DataDirError(
                f"no {what} at {marker}; create the log with 'frontier-ledger init --data DIR{how}'"
            )

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def vkey_path(self) -> Path:
        return self.root / VKEY_NAME

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME


class WriterLock:
    """An exclusive, non-blocking flock on ``DATA/ledger.lock``.

    The sequencer and the scheduler must run in exactly one process; a second
    ``serve`` or ``synth`` on the same directory fails fast with a clear message.
    The kernel drops the lock if the process dies, so a crash never leaves it stale.
    """

    def __init__(self, data: DataDir) -> None:
        self.data = data
        self.path = data.lock_path
        self._fd: int | None = None

    def acquire(self, *, require_db: bool = True) -> None:
        # Never create anything in a directory that holds no log (restore, which
        # puts a log there, is the one caller that passes require_db=False).
        if require_db:
            self.data.check_initialised()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirError(
                f"another frontier-ledger process is writing to {self.path.parent} "
                "(only one sequencer may run per log)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def holding(self, *, require_db: bool = True) -> Iterator[WriterLock]:
        self.acquire(require_db=require_db)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
