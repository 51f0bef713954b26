"""The search index kept up with the log: written after each commit, repaired on start.

The durable group commit writes only what the log *is* (leaves, tiles, the
signed checkpoint, the head). What finds an entry by something other than its
index -- its envelope hash (resubmissions), type, organisation, run, level,
cycle, words -- is the search index, derived from the committed rows
(:meth:`ledger.storage.protocol.LogStore.index_entries`):

1. after a batch's COMMIT, and before its callers are answered, the writer adds
   the batch's rows to the index, in a transaction of the index alone that need
   not be durable: so an acknowledged entry is searchable, and a resubmission of
   it is found, as soon as its receipt is out;
2. a crash (or a failed index write) between the two leaves the index behind the
   log. It is always a prefix of the log (rows and its size change together), so
   catching up means indexing the entries after it, from the stored rows (the
   words again from the leaf bytes). The writer does it when it opens the log,
   before every commit whose transaction finds the index behind the head
   (:class:`ledger.errors.IndexBehind`; a resubmission is only recognised
   through a caught-up index), and while idle after a failed index write;
3. an index that is not a prefix of this log (a backup restored under it, a
   foreign file) is emptied and rebuilt from entry 0.

``frontier-ledger fsck`` checks the index against the log and says how far
behind it is.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ledger.errors import StoreError
from ledger.storage.protocol import EntryFacets, EntryRow, LogStore
from verifier.core.leaf import parse_leaf
from verifier.entries.codec import Payload, parse_payload, payload_to_json
from verifier.errors import FormatError

log = logging.getLogger(__name__)

#: Entries read and indexed per transaction while catching up.
CATCH_UP_CHUNK = 4096
#: Characters of a payload's words kept for full-text search.
MAX_TEXT = 20_000

_HEXISH = re.compile(r"[0-9a-f]{64}|[A-Za-z0-9+/]{43}=")


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [] if _HEXISH.fullmatch(value) else [value]
    if isinstance(value, dict):
        return [w for v in value.values() for w in _words(v)]
    if isinstance(value, list):
        return [w for v in value for w in _words(v)]
    return []


def payload_text(payload: Payload) -> str:
    """The words full-text search finds a payload by: its strings, hashes and keys left out."""
    return " ".join(_words(payload_to_json(payload)))[:MAX_TEXT]


def leaf_text(leaf: bytes) -> str:
    """:func:`payload_text` of a stored leaf ("" if it does not parse: such an entry was
    never admitted, and admission gives it no words either)."""
    try:
        envelope = parse_leaf(leaf).envelope
        return payload_text(parse_payload(envelope.payload, expected_type=envelope.entry_type))
    except FormatError:
        return ""


class SearchIndexer:
    """Keeps a store's search index a prefix of its log, caught up after every commit."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        #: Payload words are indexed for governed logs (synthetic entries have none).
        self.words = store.profile == "governed"
        #: The last index write failed: the index lags until the next catch-up.
        self.behind = False

    def open(self) -> int:
        """Check the index against the log, rebuild it if it is not a prefix of it, and
        catch it up to the head; return the size it covers."""
        size, last = self.store.index_state()
        head = self.store.head().size
        if size > head or (size and not self._matches(size, last)):
            log.warning(
                "the search index (%d entries) is not a prefix of this log (%d entries): "
                "a backup restored, or another log's file; rebuilding it",
                size,
                head,
            )
            self.store.clear_index()
        return self.catch_up(head)

    def _matches(self, size: int, last: bytes | None) -> bool:
        row = self.store.read_entry(size - 1)
        return row is not None and row.leaf_hash == last

    def catch_up(self, head: int | None = None) -> int:
        """Index every entry of the log the index lacks (up to *head*, default the
        stored head); return the size it covers."""
        size, _ = self.store.index_state()
        target = self.store.head().size if head is None else head
        if size >= target:
            self.behind = False
            return size
        t0 = time.monotonic()
        start = size
        while size < target:
            rows = self.store.read_entries(size, min(size + CATCH_UP_CHUNK, target))
            if not rows:
                break
            size = self.store.index_entries([self._with_text(r) for r in rows])
        self.behind = False
        log.log(
            logging.WARNING if size - start > CATCH_UP_CHUNK else logging.INFO,
            "indexed entries %d..%d of the log for search in %.1f s",
            start,
            size - 1,
            time.monotonic() - t0,
        )
        return size

    def _with_text(self, row: EntryRow) -> EntryRow:
        if not self.words:
            return row
        facets = row.facets or EntryFacets("unknown")
        return replace(row, facets=replace(facets, text=leaf_text(row.leaf)))

    def after_commit(self, rows: Sequence[EntryRow]) -> None:
        """Index a batch just committed. A failure is logged, not raised: the entries are
        durable and acknowledged; the index catches up before the next commit."""
        if not rows:
            return
        try:
            self.store.index_entries(rows)
        except (StoreError, ValueError) as exc:  # the commit stands; the next one repairs
            self.behind = True
            log.warning(
                "could not add entries %d..%d to the search index (caught up later): %s",
                rows[0].index,
                rows[-1].index,
                exc,
            )
