"""The storage interface of the log: narrow, so a PostgreSQL backend can follow.

What is stored (ARCHITECTURE.md, "Bytes are authoritative"):

- entries: the leaf bytes exactly as the sequencer wrote them, with a few
  columns beside them (leaf hash, envelope hash for idempotent resubmission,
  ``logged_at``, payload type, search facets), keyed by log index alone;
- tiles: one row per (level, index) holding the widest version of the tile;
  a narrower partial tile is a prefix of it;
- checkpoints: every signed checkpoint, by tree size;
- head: the latest checkpoint, replaced only by compare-and-swap;
- the search index, derived from the entries and written after each commit
  (envelope hashes, facets, words), covering the log's first ``index_state()[0]``
  entries: see README.md in this package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Head:
    """The latest published state: what the current signed checkpoint says."""

    size: int
    root: bytes
    checkpoint: bytes  # the signed note, exactly as served
    logged_at_ms: int  # logged_at of the last entry (or of init): never decreases


@dataclass(frozen=True)
class EntryFacets:
    """What search filters on, taken from an admitted payload (never from the leaf again)."""

    entry_type: str
    org: str | None = None
    run_id: str | None = None
    level: int | None = None
    cycle: int | None = None
    text: str = ""


@dataclass(frozen=True)
class EntryRow:
    index: int
    leaf: bytes
    leaf_hash: bytes
    envelope_hash: bytes
    logged_at_ms: int
    payload_type: str
    facets: EntryFacets | None = None


@dataclass(frozen=True)
class SearchQuery:
    entry_type: str | None = None
    org: str | None = None
    run_id: str | None = None
    level: int | None = None
    cycle: int | None = None
    text: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    after: int = -1  # return entries with index > after (keyset pagination)
    limit: int = 50
    newest_first: bool = False  # highest indices first (feeds, "newest" lists)

    def facet_filters(self) -> list[tuple[str, str | int]]:
        """(column, value) of each facet this query filters on, as every backend names them."""
        given = (
            ("entry_type", self.entry_type),
            ("org", self.org),
            ("run_id", self.run_id),
            ("level", self.level),
            ("cycle", self.cycle),
        )
        return [(col, val) for col, val in given if val is not None]


def first_logged_at(logged_at: Callable[[int], int | None], ms: int, size: int) -> int:
    """The first log index whose ``logged_at`` is at or after *ms* (*size* if none):
    a binary search, since ``logged_at`` never decreases along the log. *logged_at*
    reads one entry's time (None if the backend has no such entry)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        at = logged_at(mid)
        if at is not None and at >= ms:
            hi = mid
        else:
            lo = mid + 1
    return lo


#: The columns of an EntryRow with its search facets, for ``SELECT … FROM entries e``:
#: the same in every SQL backend, read back by :func:`entry_from_columns`.
ENTRY_COLUMNS = (
    "e.idx, e.leaf, e.leaf_hash, e.envelope_hash, e.logged_at_ms, e.payload_type, "
    "e.entry_type, e.org, e.run_id, e.level, e.cycle"
)


def entry_from_columns(r: Sequence[Any]) -> EntryRow:
    """An EntryRow from the values of :data:`ENTRY_COLUMNS`."""
    facets = EntryFacets(r[6], r[7], r[8], r[9], r[10]) if r[6] is not None else None
    return EntryRow(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]), r[4], r[5], facets)


def facet_columns(r: EntryRow) -> tuple[str, str | None, str | None, int | None, int | None]:
    """The search columns stored for *r*: entry_type, org, run_id, level, cycle."""
    f = r.facets
    if f is None:
        # Shape-only (synthetic) entries: the type is the payloadType's.
        return (
            r.payload_type.split(".")[-2] if "." in r.payload_type else "unknown",
            None,
            None,
            None,
            None,
        )
    return f.entry_type, f.org, f.run_id, f.level, f.cycle


def envelope_prefix(envelope_hash: bytes) -> int:
    """The key the search index files an envelope hash under: its first 8 bytes, as a
    signed 64-bit integer (a match is confirmed against ``entries.envelope_hash``)."""
    return int.from_bytes(envelope_hash[:8], "big", signed=True)


class WriteTransaction(Protocol):
    def head(self) -> Head: ...

    def find_envelopes(self, envelope_hashes: Sequence[bytes]) -> dict[bytes, int]:
        """Indices of the envelopes the search index holds (the caller keeps it caught up)."""
        ...

    def indexed_size(self) -> int:
        """How many entries the search index covers, as this transaction sees it."""
        ...

    def insert_entries(self, rows: Sequence[EntryRow]) -> None: ...

    def put_tiles(self, tiles: Mapping[tuple[int, int], bytes]) -> None: ...

    def put_checkpoint(self, size: int, root: bytes, note: bytes, signed_at_ms: int) -> None: ...

    def swap_head(self, old: Head, new: Head) -> None: ...

    def read_tile(self, level: int, index: int) -> bytes | None: ...

    def read_leaf(self, index: int) -> EntryRow | None: ...


class LogStore(Protocol):
    """What the sequencer and the read API need from a database."""

    origin: str
    profile: str  # "governed" or "synthetic"

    def writing(self) -> AbstractContextManager[WriteTransaction]: ...

    def head(self) -> Head: ...

    def read_tile(self, level: int, index: int) -> bytes | None: ...

    def read_leaves(self, start: int, end: int) -> list[bytes]: ...

    def iter_leaves(self, start: int = 0) -> Iterator[bytes]: ...

    def read_entry(self, index: int) -> EntryRow | None: ...

    def read_entries(self, start: int, end: int) -> list[EntryRow]: ...

    def read_checkpoint(self, size: int) -> bytes | None: ...

    def index_state(self) -> tuple[int, bytes | None]:
        """(entries ``0 .. n-1`` the search index covers, leaf hash of entry ``n-1``)."""
        ...

    def index_entries(self, rows: Sequence[EntryRow]) -> int:
        """Add committed *rows* (consecutive, from the index's size on; rows it has are
        skipped) to the search index, in a transaction of its own that need not be
        durable; return the size it covers now."""
        ...

    def clear_index(self) -> None:
        """Empty the search index, to rebuild it from entry 0."""
        ...

    def check_index(self) -> tuple[int, list[str]]:
        """(entries the search index covers, each way it disagrees with the log)."""
        ...

    def checkpoint_sizes(self) -> Iterator[int]: ...

    def probe_write(self) -> None:
        """One small durable write that adds no entry: does the store take writes?"""
        ...

    def close(self) -> None: ...


class LedgerStore(LogStore, Protocol):
    """Everything the service, the site and the witnessing read and write: what each
    backend (:mod:`ledger.storage.sqlite`, :mod:`ledger.storage.postgres`) offers.

    ``data_root`` is the data directory: revealed documents (blobs) and the site's
    caches live there whichever database holds the log.
    """

    data_root: Path

    def search(self, q: SearchQuery) -> list[EntryRow]: ...

    def put_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None: ...

    def cosignatures(self, size: int) -> dict[str, tuple[str, int]]: ...

    def earliest_cosignature_after(self, index: int) -> int | None: ...

    def cosigned_sizes(self) -> list[int]: ...

    def last_cosigned_size(self, witness: str) -> int: ...
