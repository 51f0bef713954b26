"""The data directory: where a log lives on disk, and the lock that keeps it single-writer.

::

    DATA/
      ledger.sqlite      the log (entries, tiles, checkpoints); WAL files beside it
      log.key            PRIVATE+KEY+… signer key, mode 0600 (never in the database)
      log.vkey           the public verifier key, for anyone
      ledger.lock        held (flock) by the one process that may sign
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "ledger.sqlite"
KEY_NAME = "log.key"
VKEY_NAME = "log.vkey"
LOCK_NAME = "ledger.lock"


class DataDirError(RuntimeError):
    """The data directory is missing, incomplete or in use by another writer."""


@dataclass(frozen=True)
class DataDir:
    root: Path
    key_path: Path

    @classmethod
    def at(cls, root: Path | str, key_path: Path | str | None = None) -> DataDir:
        root = Path(root)
        return cls(root, Path(key_path) if key_path else root / KEY_NAME)

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
        self.path = data.lock_path
        self._fd: int | None = None

    def acquire(self) -> None:
        # Never create anything in a directory that holds no log.
        if not (self.path.parent / DB_NAME).is_file():
            raise DataDirError(
                f"no log database at {self.path.parent / DB_NAME}; "
                "create one with 'frontier-ledger init --data DIR'"
            )
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

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
