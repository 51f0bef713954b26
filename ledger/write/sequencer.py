"""The sequencer: admission of well-formed envelopes, then durable group commit.

Life of an entry (numbered as in the tests and the operator guide):

1. :func:`prepare` checks the envelope's shape and size (the verifier's parser)
   and computes its hash; bad input is refused here, before any queue.
2. :class:`GroupCommitter` queues it; a single task takes everything queued
   (up to ``max_batch``) as one batch while the previous batch commits.
3. :meth:`LogWriter.commit` opens one write transaction (taking the database's
   write lock), re-reads the head, writes the batch's leaves, the tiles they
   change and the newly signed checkpoint, and swaps the head by
   compare-and-swap. The checkpoint is signed only while the lock is held and
   the head is known, so a second process on the same data can never sign a
   checkpoint that forks the log.
4. Only after COMMIT returns are the callers answered, each with a receipt:
   index, leaf hash, ``logged_at``, the signed checkpoint and an inclusion proof.

A resubmitted envelope (same bytes after canonical JSON) gets the receipt of the
entry already in the log; it is never logged twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ledger.errors import (
    EntryRefused,
    HeadMoved,
    IndexBehind,
    KeyFileError,
    Overloaded,
    StoreError,
)
from ledger.ops import metrics
from ledger.ops.clock import Clock, system_clock
from ledger.storage.protocol import EntryRow, Head, LogStore, WriteTransaction
from ledger.write.admission import SAVE_EVERY, GovernedAdmission, Refusal
from ledger.write.indexer import SearchIndexer
from ledger.write.tree import TreeEdge, leaf_hashes
from verifier.core.checkpoint import Checkpoint
from verifier.core.encoding import b64encode
from verifier.core.leaf import (
    MAX_LEAF_SIZE,
    Envelope,
    canonical_json,
    check_envelope,
    encode_leaf,
    format_logged_at,
)
from verifier.core.note import NoteSigner, sign_note
from verifier.core.prover import Prover
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof
from verifier.errors import FormatError

#: Bytes a leaf adds around its envelope: {"envelope":…,"logged_at":"…","v":1}.
_LEAF_OVERHEAD = len(encode_leaf("{}", 0)) - len("{}")


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedEntry:
    """An envelope that passed the shape and size checks, ready to be sequenced.

    An admission worker (:mod:`ledger.write.precheck`) may have done the stateless
    part of admission already: ``verified`` means every signature verified under
    the key its key id names (a key id is the SHA-256 of its key, so that holds
    whatever the log's key set; whether the key is granted, unrevoked and holds
    the role is still checked in sequence), ``text`` is the payload's words.
    """

    envelope: Envelope
    envelope_json: str
    envelope_hash: bytes
    payload_type: str
    verified: bool = False
    text: str | None = None


def prepare(envelope: Any) -> PreparedEntry:
    """Check a decoded DSSE envelope and return it ready for the queue.

    Raises :class:`verifier.errors.FormatError` with a message naming the fault.
    """
    parsed = check_envelope(envelope)
    canonical = canonical_json(envelope)
    size = len(canonical.encode()) + _LEAF_OVERHEAD
    if size > MAX_LEAF_SIZE:
        raise FormatError(
            f"entry would make a {size}-byte leaf; the limit is {MAX_LEAF_SIZE} bytes "
            "(store large documents as blobs and reference their digest)"
        )
    return PreparedEntry(
        parsed,
        canonical,
        hashlib.sha256(canonical.encode()).digest(),
        parsed.payload_type,
    )


@dataclass(frozen=True)
class Receipt:
    """What a caller gets once its entry is durable."""

    index: int
    leaf: bytes
    leaf_hash: bytes
    logged_at_ms: int
    tree_size: int
    checkpoint: bytes
    inclusion_proof: tuple[bytes, ...]
    duplicate: bool = False
    #: For a submission to a governed log: where it stands on the schedule (on time or
    #: late, decided when), as JSON (:class:`verifier.policy.status.SubmissionSchedule`).
    schedule: dict[str, Any] | None = None

    def tlog_proof(self) -> str:
        return TlogProof(self.index, self.inclusion_proof, self.checkpoint).to_text()

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "leaf_hash": b64encode(self.leaf_hash),
            "logged_at": format_logged_at(self.logged_at_ms),
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint.decode(),
            "inclusion_proof": [b64encode(h) for h in self.inclusion_proof],
            "duplicate": self.duplicate,
            "receipt": {
                "media_type": RECEIPT_MEDIA_TYPE,
                "leaf": b64encode(self.leaf),
                "tlog_proof": self.tlog_proof(),
            },
        }


class Committer(Protocol):
    """What the API appends through: :class:`GroupCommitter` in the writer's own process,
    ``ledger.api.workers.RemoteCommitter`` in an HTTP worker."""

    async def submit(self, entry: PreparedEntry) -> Receipt: ...


class _Overlay:
    """Tiles changed by the current batch, falling back to the transaction's reads."""

    def __init__(self, changed: Mapping[tuple[int, int], bytes], tx: WriteTransaction) -> None:
        self.changed = changed
        self.tx = tx

    def __call__(self, level: int, index: int) -> bytes | None:
        data = self.changed.get((level, index))
        return data if data is not None else self.tx.read_tile(level, index)


class LogWriter:
    """Synchronous core of the sequencer: one batch, one transaction, one checkpoint."""

    def __init__(
        self,
        store: LogStore,
        signer: NoteSigner,
        clock: Clock = system_clock,
        admission: GovernedAdmission | None = None,
        *,
        extra_signers: Sequence[NoteSigner] = (),
    ) -> None:
        for key in (signer, *extra_signers):
            if key.name != store.origin:
                raise KeyFileError(
                    f"log key name {key.name!r} is not the log's origin {store.origin!r}"
                )
        self.store = store
        self.signer = signer
        #: Keys that sign every checkpoint too: the next key during a key rotation's
        #: overlap, the ML-DSA-44 key (see :mod:`ledger.keys.log_keys`).
        self.extra_signers = tuple(extra_signers)
        self.clock = clock
        self.admission = admission
        #: The search index, written after each commit (envelope hashes among it).
        self.indexer = SearchIndexer(store)
        self._head: Head | None = None
        self._edge: TreeEdge | None = None
        #: Roots of perfect subtrees of the committed tree, by (height, index), that
        #: receipts' proofs needed: the next batch's proofs need most of them again
        #: (the siblings left of the right edge). Only ever from committed batches,
        #: so each is a subtree of the log as it stays (append-only).
        self._nodes: dict[tuple[int, int], bytes] = {}

    def _sync(self, tx: WriteTransaction) -> tuple[Head, TreeEdge]:
        head = tx.head()
        if self._head != head or self._edge is None:
            # First batch, or another writer moved the log: rebuild the edge from
            # the stored tiles (O(levels) reads) and check it against the head.
            edge = TreeEdge.from_tiles(head.size, tx.read_tile)
            if edge.root() != head.root:
                raise StoreError("stored tiles do not hash to the published root")
            self._head, self._edge = head, edge
            self._nodes = {}
            if self.admission is not None:
                # The log moved under us (or nothing was replayed yet): replay it
                # again. A state the server replayed at start for this size is kept.
                self.admission.sync_to(head.size)
        assert self._edge is not None
        return head, self._edge

    def admission_state_due(self) -> bool:
        """SAVE_EVERY entries were committed since the admission state was last stored."""
        a, head = self.admission, self._head
        if a is None or a.resume is None or head is None:
            return False
        return head.size - a.saved_size >= SAVE_EVERY

    def save_admission(self) -> bool:
        """Store the admission state for the last committed checkpoint (a restart then
        replays only what came after it); False if there was nothing new to store."""
        if self.admission is None:
            return False
        # The head this writer last committed, or (nothing appended since the start:
        # the replay at start is worth keeping too) the one stored.
        head = self._head or self.store.head()
        return self.admission.save(head.size, head.checkpoint)

    def probe(self) -> None:
        """A small write: does the store take writes again? (No entry, no checkpoint.)
        Then the search index is caught up if an index write had failed."""
        self.store.probe_write()
        if self.indexer.behind:
            self.indexer.catch_up()

    def open_index(self) -> int:
        """Check the search index against the log and catch it up (a crash may have come
        between a commit and its index write); return the size it covers."""
        return self.indexer.open()

    def sign_checkpoint(self, size: int, root: bytes) -> bytes:
        """The signed note of the checkpoint: one signature line per log key.

        C2SP signed-note lets a verifier ignore lines by keys it does not know, so
        a verifier that knows only the old key, only the new one, or only the
        Ed25519 one, verifies the same note.
        """
        text = Checkpoint(self.store.origin, size, root).to_text()
        return sign_note(text, [self.signer, *self.extra_signers])

    def resign_head(self) -> Head:
        """Sign the published checkpoint again, same size and root, with the current keys.

        After a key is added or retired, so that the checkpoint served at once
        carries exactly the current keys' signatures. The same size and root:
        nothing a witness or verifier saw becomes inconsistent, and witnesses'
        cosignatures (over the unchanged note text) stay valid.
        """
        with self.store.writing() as tx:
            head = tx.head()
            note = self.sign_checkpoint(head.size, head.root)
            new = Head(head.size, head.root, note, head.logged_at_ms)
            tx.put_checkpoint(head.size, head.root, note, self.clock())
            # Crash point: both in one transaction; the head moves only by compare-and-swap.
            tx.swap_head(head, new)
        self._head = None  # the next batch re-reads the head
        return new

    def commit(
        self, batch: Sequence[PreparedEntry], *, receipts: bool = True
    ) -> list[Receipt | Refusal]:
        """Sequence *batch* durably and return one result per entry, in order.

        Each result is a :class:`Receipt`, or a :class:`Refusal` for an entry that
        admission refused (nothing of it was written). ``receipts=False`` (bulk
        loading) skips building inclusion proofs and returns an empty list.
        """
        if not batch:
            return []
        try:
            try:
                out, rows = self._commit(batch, receipts)
            except IndexBehind:
                # Nothing was admitted or written: catch the index up, then commit.
                self.indexer.open()
                try:
                    out, rows = self._commit(batch, receipts)
                except IndexBehind as exc:
                    # Caught up, and behind again: another writer is appending (its
                    # index write follows its commit). As for a lost swap: retry.
                    raise HeadMoved(f"{exc}: another writer is appending to this log") from None
        except BaseException:
            if self.admission is not None:
                self.admission.reset()  # entries admitted in memory were not written
            raise
        # Committed and durable. Crash point: until the index write below, a search or
        # a resubmission through the index does not see this batch; the caller has not
        # answered anyone yet, and a restart catches the index up before it commits.
        self.indexer.after_commit(rows)
        return out

    def _commit(
        self, batch: Sequence[PreparedEntry], receipts: bool
    ) -> tuple[list[Receipt | Refusal], list[EntryRow]]:
        computed: Mapping[tuple[int, int], bytes] = {}
        with self.store.writing() as tx:
            head, edge = self._sync(tx)
            if tx.indexed_size() != head.size:
                # Resubmissions are found through the index: it must cover the log.
                raise IndexBehind(f"the search index lags the log of {head.size} entries")
            known = tx.find_envelopes([p.envelope_hash for p in batch])
            # logged_at never decreases, even if the system clock steps back.
            now = max(self.clock(), head.logged_at_ms)
            rows: list[EntryRow] = []
            index_of: dict[bytes, int] = dict(known)
            refused: dict[bytes, Refusal] = {}
            for p in batch:
                if p.envelope_hash in index_of or p.envelope_hash in refused:
                    continue  # already logged (earlier, or earlier in this batch)
                index = head.size + len(rows)
                facets = None
                if self.admission is not None:
                    verdict = self.admission.admit(p.envelope, index, now, verified=p.verified)
                    if isinstance(verdict, Refusal):
                        refused[p.envelope_hash] = verdict
                        continue
                    facets = self.admission.facets(verdict, p.text)
                leaf = encode_leaf(p.envelope_json, now)
                index_of[p.envelope_hash] = index
                rows.append(
                    EntryRow(index, leaf, b"", p.envelope_hash, now, p.payload_type, facets)
                )
            if rows:
                hashes = leaf_hashes([r.leaf for r in rows])
                rows = [
                    EntryRow(
                        r.index,
                        r.leaf,
                        h,
                        r.envelope_hash,
                        r.logged_at_ms,
                        r.payload_type,
                        r.facets,
                    )
                    for r, h in zip(rows, hashes, strict=True)
                ]
                new_edge = edge.copy()
                changed = new_edge.append(hashes)
                root = new_edge.root()
                note = self.sign_checkpoint(new_edge.size, root)
                new_head = Head(new_edge.size, root, note, now)
                tx.insert_entries(rows)
                tx.put_tiles(changed)
                tx.put_checkpoint(new_head.size, root, note, now)
                tx.swap_head(head, new_head)
            else:
                new_edge, changed, new_head = edge, {}, head
            out: list[Receipt | Refusal] = []
            if receipts:
                out, computed = self._receipts(
                    batch,
                    index_of=index_of,
                    refused=refused,
                    new_rows={r.index: r for r in rows},
                    head=new_head,
                    tiles=_Overlay(changed, tx),
                )
        # Committed. Adopt the new state only now: if the commit had failed, the
        # next batch would start again from the stored head.
        self._head, self._edge = new_head, new_edge
        self._keep_nodes(computed)
        return out, rows

    def _keep_nodes(self, computed: Mapping[tuple[int, int], bytes]) -> None:
        """Keep the subtree roots a committed batch's proofs computed, for the next batch.

        Crash point: only ever called once the batch is durable, with what its own
        proofs computed (a value, not writer state): a batch that fails to commit
        leaves nothing of its tree behind (its indices then go to other entries)."""
        if len(self._nodes) + len(computed) > MAX_KEPT_NODES:
            self._nodes = {}  # the next batch hashes its proofs' nodes again, once
        self._nodes.update(computed)

    def _receipts(
        self,
        batch: Sequence[PreparedEntry],
        *,
        index_of: Mapping[bytes, int],
        refused: Mapping[bytes, Refusal],
        new_rows: Mapping[int, EntryRow],
        head: Head,
        tiles: _Overlay,
    ) -> tuple[list[Receipt | Refusal], Mapping[tuple[int, int], bytes]]:
        """The batch's receipts, and the subtree roots their proofs computed."""
        prover = Prover(tiles, self._nodes)
        fresh: dict[int, list[bytes]] = {}
        if new_rows:
            first = min(new_rows)
            batch_proofs = prover.inclusion_batch(first, len(new_rows), head.size)
            fresh = {first + k: p for k, p in enumerate(batch_proofs)}
        out: list[Receipt | Refusal] = []
        answered: set[int] = set()
        for p in batch:
            if p.envelope_hash in refused:
                out.append(refused[p.envelope_hash])
                continue
            index = index_of[p.envelope_hash]
            row = new_rows.get(index)
            # A resubmission, or the second copy of an envelope within this batch.
            duplicate = row is None or index in answered
            answered.add(index)
            proof = fresh.get(index)
            if proof is None:
                proof = prover.inclusion(index, head.size)
            if row is None:
                row = tiles.tx.read_leaf(index)
                if row is None:  # pragma: no cover - the unique index guarantees it
                    raise StoreError(f"entry {index} vanished")
            out.append(
                Receipt(
                    index,
                    row.leaf,
                    row.leaf_hash,
                    row.logged_at_ms,
                    head.size,
                    head.checkpoint,
                    tuple(proof),
                    duplicate,
                )
            )
        return out, prover.computed


#: Subtree roots a writer keeps between batches for receipts' proofs (~250 bytes each).
MAX_KEPT_NODES = 1 << 14
#: Seconds between write probes while the last commit failed and nobody appends.
PROBE_INTERVAL_S = 2.0
#: Smoothed batch size from which the group commit waits for more (see GroupCommitter).
LINGER_FROM = 1.5
#: Seconds without an append after which the next ones count as coming alone again.
LINGER_IDLE_S = 0.05


def _not_logged(fut: asyncio.Future[Receipt]) -> None:
    if not fut.done():
        fut.set_exception(StoreError("entry not logged: the server is stopping"))


class GroupCommitter:
    """Batches concurrent appends; each batch is one durable transaction.

    Exactly one instance may run per database: the server holds a process lock
    on the data directory, and the head compare-and-swap guards the rest.
    """

    def __init__(
        self,
        writer: LogWriter,
        *,
        max_batch: int = 256,
        max_queue: int = 4096,
        linger: float = 0.0,
    ) -> None:
        self.writer = writer
        self.max_batch = max_batch
        #: Seconds to wait for more appends before a commit while they arrive concurrently.
        self.linger = linger
        #: Recent batch sizes, smoothed: above one, appends are arriving concurrently.
        self._concurrency = 1.0
        self._queue: asyncio.Queue[tuple[PreparedEntry, asyncio.Future[Receipt]]] = asyncio.Queue(
            maxsize=max_queue
        )
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.last_error: str | None = None
        #: Wall time of the last entry made durable (None: none since the start).
        self.last_append: float | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    @property
    def running(self) -> bool:
        """The sequencing task is alive (not stopped, not ended by an error)."""
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Appends still queued were not logged: say so rather than leave them waiting.
        while not self._queue.empty():
            _not_logged(self._queue.get_nowait()[1])

    async def submit(self, entry: PreparedEntry) -> Receipt:
        return await self.enqueue(entry)

    def enqueue(self, entry: PreparedEntry) -> asyncio.Future[Receipt]:
        """Queue *entry*; the future gets its receipt once it is durable (or the refusal,
        or the store's error). :class:`Overloaded` if the queue is full."""
        fut: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((entry, fut))
        except asyncio.QueueFull:
            raise Overloaded("the sequencer queue is full") from None
        return fut

    async def _probe(self) -> None:
        try:
            await asyncio.to_thread(self.writer.probe)
        except Exception as exc:  # noqa: BLE001 - still failing: say why, try again later
            self.last_error = str(exc)
            return
        self.last_error = None

    async def _next(self) -> tuple[PreparedEntry, asyncio.Future[Receipt]] | None:
        """The next queued entry; None after a write probe (no entry came in time)."""
        if self.last_error is None and not self.writer.indexer.behind:
            return await self._queue.get()
        # The last commit failed (disk full, read-only file, database gone), or the
        # last search index write did. With nobody appending, probe the store now and
        # then so that /readyz turns green by itself once the fault clears (and
        # search finds what was acknowledged).
        try:
            return await asyncio.wait_for(self._queue.get(), PROBE_INTERVAL_S)
        except TimeoutError:
            await self._probe()
            return None

    async def _gather(
        self, first: tuple[PreparedEntry, asyncio.Future[Receipt]], *, idle: bool
    ) -> list[tuple[PreparedEntry, asyncio.Future[Receipt]]]:
        """The next batch: *first*, then what is queued (after a short wait while
        appends come concurrently), without the appends whose callers gave up."""
        if idle:
            self._concurrency = 1.0  # after a pause the appends that follow may come alone
        if self._should_linger():
            # Group commit: each commit has ~2 ms of work whatever its size (the
            # fsync, the checkpoint signature, the search index transaction, the
            # proofs' shared nodes), so under concurrent appends a short wait for
            # the others makes fewer, larger commits: more appends per second for
            # the same CPU. An append after a pause is committed at once.
            try:
                await asyncio.sleep(self.linger)
            except asyncio.CancelledError:
                _not_logged(first[1])  # stopped while it waited: it was not logged
                raise
        items = [first]
        while len(items) < self.max_batch and not self._queue.empty():
            items.append(self._queue.get_nowait())
        self._concurrency = 0.75 * self._concurrency + 0.25 * len(items)
        return [(e, f) for e, f in items if not f.cancelled()]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            waiting = loop.time()
            first = await self._next()
            if first is None:
                continue
            live = await self._gather(first, idle=loop.time() - waiting > LINGER_IDLE_S)
            if not live:
                continue
            t0 = time.perf_counter()
            try:
                receipts = await asyncio.to_thread(self._commit, [e for e, _ in live])
            except Exception as exc:  # noqa: BLE001 - the sequencer must outlive any one batch
                metrics.COMMIT_FAILURES.inc()
                # Nothing of this batch is durable (the transaction rolled back);
                # every caller hears so, and the next batch starts from the stored head.
                self.last_error = str(exc)
                for _, f in live:
                    if not f.done():
                        f.set_exception(StoreError(f"entry not logged: {exc}"))
                continue
            self.last_error = None
            self.batches += 1
            metrics.COMMIT_SECONDS.observe(time.perf_counter() - t0)
            metrics.BATCH_SIZE.observe(len(live))
            for (_, f), r in zip(live, receipts, strict=True):
                if isinstance(r, Refusal):
                    metrics.REFUSALS.inc(label=r.code)
                elif not r.duplicate:
                    metrics.APPENDS.inc()
                    self.last_append = time.time()
                if f.done():
                    continue
                if isinstance(r, Refusal):
                    f.set_exception(EntryRefused(r))
                else:
                    f.set_result(r)
            await self._save_admission()

    def _should_linger(self) -> bool:
        """Wait before this commit? Only while recent batches held several appends (they
        come concurrently) and fewer than that are queued now."""
        return (
            self.linger > 0
            and self._concurrency >= LINGER_FROM
            and self._queue.qsize() + 1 < min(self._concurrency, self.max_batch)
        )

    def _commit(self, batch: list[PreparedEntry]) -> list[Receipt | Refusal]:
        out = self.writer.commit(batch)
        admission = self.writer.admission
        if admission is None:
            return out
        for i, (p, r) in enumerate(zip(batch, out, strict=True)):
            if isinstance(r, Receipt) and p.payload_type.endswith(".submission.v1+json"):
                # A lab learns at once whether it was on time, and when it will be decided.
                schedule = admission.submission_schedule(r.index)
                if schedule is not None:
                    out[i] = replace(r, schedule=schedule.to_json())
        return out

    async def _save_admission(self) -> None:
        """Every SAVE_EVERY entries, store the admission state between two batches, so a
        restart (even after a crash) replays at most that many entries."""
        if not self.writer.admission_state_due():
            return
        try:
            await asyncio.to_thread(self.writer.save_admission)
        except (OSError, sqlite3.Error) as exc:  # a cache: appends go on without it
            log.warning("could not store the admission state: %s", exc)
