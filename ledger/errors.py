"""Every error the ledger raises, in one tree under :class:`LedgerError`.

The verifier's errors (:mod:`verifier.errors`, rooted at ``LedgerVerifyError``)
are the other tree: a malformed or unverifiable entry, key, note or proof. The
ledger's are about its own state and operation. The CLI catches both roots and
prints the message; the HTTP API maps them to problem+json answers
(``ledger.api.problems``). Where evidence helps the caller, it rides on the
exception (:class:`EntryRefused` carries the refusal with its rule;
:class:`LogDamaged` the first index that does not verify).

    LedgerError
    ├── DataDirError          the data directory is missing, incomplete or in use
    │   └── RotationError     a key operation does not fit the directory's state
    ├── ConfigError           a setting (file, environment, flag) is not usable
    ├── KeyFileError          a log key file is missing, unreadable, exposed or malformed
    ├── SigningKeyError       an entry-signing key file is, likewise
    ├── StoreError            the database refused or failed an operation
    │   ├── StateDamaged      a record of the stored admission state fails its checksum
    │   ├── HeadMoved         the checkpoint compare-and-swap lost to another writer
    │   ├── IndexBehind       the search index lags the log (the writer catches it up)
    │   └── BackupError       a backup could not be taken or is unfit to restore
    ├── LogDamaged            stored data does not verify against the signed log
    ├── MirrorAltered         a file in an export's mirror is not what the log holds
    ├── EntryRefused          admission refused an entry (nothing was written)
    ├── Overloaded            the write queue is full (retry later)
    ├── ReplayAborted         a replay was stopped (shutting down)
    ├── NotFound              no such tile, entry, checkpoint or proof (yet)
    ├── SubmitError           a server refused a submitted entry or was unreachable
    ├── ScenarioError         a simulation scenario is inconsistent
    └── DemoError             the demonstration's scenario was refused by the log
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.write.admission import Refusal


class LedgerError(Exception):
    """The root: every error the ledger raises on purpose."""


class DataDirError(LedgerError):
    """The data directory is missing, incomplete or in use by another writer."""


class RotationError(DataDirError):
    """A key operation cannot be done in the data directory's present state."""


class ConfigError(LedgerError, ValueError):
    """The configuration file, an environment variable or a value is not usable."""


class KeyFileError(LedgerError):
    """The log's key file is missing, unreadable, too widely readable or malformed."""


class SigningKeyError(LedgerError):
    """An entry-signing key file is missing, unreadable, not Ed25519, or readable by others."""


class StoreError(LedgerError):
    """The store refused or failed an operation (I/O error, full disk, read-only file,
    the database unreachable)."""


class StateDamaged(StoreError):
    """A record of the writer's stored admission state fails its checksum or cannot be
    read: the batch that read it fails, and the state is replayed from the log."""


class HeadMoved(StoreError):
    """Compare-and-swap on the head failed: another writer published first.

    The transaction is rolled back, so nothing was written and nothing signed is
    published; the caller reloads the head and tries again.
    """


class IndexBehind(StoreError):
    """The search index does not cover the whole log yet: the writer catches it up
    before it commits (resubmissions are found through the index)."""


class BackupError(StoreError):
    """A backup could not be taken, or is not fit to restore (nothing was changed)."""


class LogDamaged(LedgerError):
    """Stored data does not verify: a leaf, tile or checkpoint disagrees with the
    signed log. *index* is the first log index (or tree size) found bad, if known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class MirrorAltered(LedgerError):
    """A file already in an export's output directory differs from the bytes the log
    holds for it: it was changed outside ``export`` (edited, truncated, replaced).
    *path* is the first such file, relative to the output directory."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class EntryRefused(LedgerError):
    """Admission refused the entry; nothing was written. The refusal says why (code,
    rule id, HTTP status)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class Overloaded(LedgerError):
    """The queue is full: the caller should retry later (HTTP 503 with Retry-After)."""


class ReplayAborted(LedgerError):
    """A replay of the log was stopped (the server is shutting down)."""


class NotFound(LedgerError, LookupError):
    """The requested tile, entry, checkpoint or proof does not exist (yet)."""


class SubmitError(LedgerError):
    """The server refused the entry or could not be reached; the message says which."""


class ScenarioError(LedgerError, ValueError):
    """The scenario file is inconsistent (unknown label, actor or operation)."""


class DemoError(LedgerError):
    """An entry of the scenario was refused: the scenario is wrong, not the log."""
