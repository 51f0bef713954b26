"""The sequencer and its store: durability, group commit, compare-and-swap, no fork.

Every test that takes the ``data`` fixture runs twice: with SQLite and with a real
PostgreSQL server (tests/pgserver.py), a fresh database per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import sqlite3
from pathlib import Path

import psycopg
import pytest

from ledger.demo.synth import synthetic_envelopes
from ledger.errors import DataDirError, HeadMoved, KeyFileError, Overloaded, StoreError
from ledger.keys.log_keys import load_key
from ledger.ops.datadir import DataDir, WriterLock
from ledger.read.reader import LogReader
from ledger.storage.backends import open_store
from ledger.storage.protocol import Head
from ledger.storage.sqlite import SqliteStore
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import GroupCommitter, LogWriter, Receipt, prepare
from tests.pgserver import second_writer_store
from verifier.core import merkle
from verifier.core.checkpoint import open_checkpoint
from verifier.core.leaf import parse_leaf
from verifier.core.note import parse_vkey
from verifier.core.prover import Prover
from verifier.core.tlog_proof import parse_tlog_proof, verify_tlog_proof
from verifier.errors import FormatError

ORIGIN = "test.example/log"
#: Bounded retries of a commit that lost the head's compare-and-swap to the other writer.
HEAD_MOVED_RETRIES = 200


@pytest.fixture
def data(tmp_path: Path, database: str | None) -> DataDir:
    d = DataDir.at(tmp_path / "data", database=database)
    init_log(d, ORIGIN)
    return d


def vkey(data: DataDir):
    return parse_vkey(data.vkey_path.read_text().strip())


def entries(n: int, start: int = 0):
    return [prepare(e) for e in synthetic_envelopes(ORIGIN, n, start)]


def test_init_creates_key_vkey_and_empty_checkpoint(data: DataDir) -> None:
    assert data.key_path.stat().st_mode & 0o777 == 0o600
    store = open_store(data, readonly=True)
    cp = open_checkpoint(store.head().checkpoint, vkey(data))
    assert (cp.size, cp.root, cp.origin) == (0, merkle.EMPTY_ROOT, ORIGIN)
    if isinstance(store, SqliteStore):
        assert store.conn_pragmas() == {"journal_mode": "wal", "synchronous": 2}
    store.close()


def test_init_refuses_existing(data: DataDir) -> None:
    with pytest.raises((DataDirError, StoreError), match="already"):
        init_log(data, ORIGIN)
    assert open_store(data, readonly=True).head().size == 0


def test_open_never_creates(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "ledger.sqlite"
    with pytest.raises(StoreError, match="frontier-ledger init"):
        SqliteStore.open(missing)
    assert not missing.exists() and not missing.parent.exists()


def test_tables_are_strict(data: DataDir) -> None:
    if data.database:
        with psycopg.connect(data.database) as pg, pytest.raises(psycopg.errors.DataError):
            pg.execute("INSERT INTO tiles (level, idx, data) VALUES ('zero', 0, '\\x00')")
        return
    conn = sqlite3.connect(data.db_path)
    conn.execute("PRAGMA journal_mode")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO tiles (level, idx, data) VALUES ('zero', 0, x'00')")
    conn.close()


def test_key_file_must_be_private(data: DataDir) -> None:
    os.chmod(data.key_path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key(data.key_path)


def test_batch_receipts_verify(data: DataDir) -> None:
    writer = open_writer(data)
    receipts = writer.commit(entries(300))
    assert [r.index for r in receipts] == list(range(300))
    key = vkey(data)
    for r in receipts:
        assert r.tree_size == 300
        proof = parse_tlog_proof(r.tlog_proof())
        verified = verify_tlog_proof(r.leaf, proof, key)
        assert verified.checkpoint.size == 300
        assert parse_leaf(r.leaf).logged_at_ms == r.logged_at_ms
    writer.store.close()


def test_receipts_verify_batch_after_batch_and_after_a_failed_commit(data: DataDir) -> None:
    """The writer keeps the subtree roots its receipts' proofs computed from one batch to
    the next, but only those of batches that committed: a batch that fails at COMMIT,
    after its proofs were built, leaves none behind (its indices are then reused by
    other entries, whose proofs would not verify against a root of the old ones)."""
    writer = open_writer(data)
    key = vkey(data)
    real = writer.store.writing

    @contextlib.contextmanager
    def failing_at_commit():
        with real() as tx:
            yield tx
            raise OSError("disk full at COMMIT")

    sizes = [1, 3, 250, 7, 1, 40, 300, 2, 129, 5, 1, 600]
    start = 0
    for n, size in enumerate(sizes):
        if n in (3, 8):
            writer.store.writing = failing_at_commit  # type: ignore[method-assign]
            with pytest.raises(OSError, match="COMMIT"):
                writer.commit(entries(size, start=10_000 + start))
            writer.store.writing = real  # type: ignore[method-assign]
        receipts = writer.commit(entries(size, start=start))
        start += size
        assert [r.index for r in receipts] == list(range(start - size, start))
        for r in receipts:
            verified = verify_tlog_proof(r.leaf, parse_tlog_proof(r.tlog_proof()), key)
            assert verified.checkpoint.size == start
    writer.store.close()


def test_resubmission_returns_the_original_receipt(data: DataDir) -> None:
    writer = open_writer(data)
    batch = entries(5)
    first = writer.commit(batch)
    # Again, and twice within one batch: no new entries.
    again = writer.commit([batch[2], batch[2], *entries(1, start=100)])
    assert [r.index for r in again] == [2, 2, 5]
    assert again[0].duplicate and again[0].leaf == first[2].leaf
    assert not again[2].duplicate
    assert writer.store.head().size == 6
    writer.store.close()


def test_logged_at_never_decreases(data: DataDir) -> None:
    times = iter([5_000_000, 4_000_000, 6_000_000])
    writer = LogWriter(open_store(data), load_key(data.key_path), clock=lambda: next(times))
    stamps = [writer.commit(entries(2, start=k * 10))[0].logged_at_ms for k in range(3)]
    assert stamps[1] >= stamps[0]
    assert stamps == sorted(stamps)
    writer.store.close()


class ExplodingSigner:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.key_id = inner.key_id

    def sign(self, message: bytes) -> bytes:
        raise OSError("HSM unreachable")


def test_failed_commit_changes_nothing(data: DataDir) -> None:
    good = open_writer(data)
    good.commit(entries(10))
    before = good.store.head()
    bad = LogWriter(second_writer_store(data), ExplodingSigner(load_key(data.key_path)))
    with pytest.raises(OSError, match="HSM"):
        bad.commit(entries(5, start=50))
    bad.store.close()
    assert good.store.head() == before
    assert good.store.read_entry(10) is None
    # The good writer carries on from the same state.
    assert good.commit(entries(1, start=99))[0].index == 10
    good.store.close()


def test_compare_and_swap_refuses_a_stale_head(data: DataDir) -> None:
    writer = open_writer(data)
    writer.commit(entries(3))
    stale = Head(0, merkle.EMPTY_ROOT, b"stale", 0)
    with pytest.raises(HeadMoved), writer.store.writing() as tx:
        tx.swap_head(stale, tx.head())
    assert writer.store.head().size == 3
    writer.store.close()


def test_second_writer_catches_up_instead_of_forking(data: DataDir) -> None:
    a = open_writer(data)
    b = LogWriter(second_writer_store(data), load_key(data.key_path))
    a.commit(entries(7))
    b.commit(entries(1, start=7))  # b has a stale view; it must re-read the head
    b.commit(entries(300, start=8))
    a.commit(entries(4, start=400))
    assert_checkpoints_consistent(data, expected_size=7 + 1 + 300 + 4)
    a.store.close()
    b.store.close()


def commit_retrying(writer: LogWriter, batch: list) -> int:
    """Commit *batch*, retrying (bounded) while the other writer holds or moved the head;
    return how many attempts lost the compare-and-swap."""
    for attempt in range(HEAD_MOVED_RETRIES):
        try:
            writer.commit(batch)
            return attempt
        except HeadMoved:
            continue
    raise AssertionError(f"still HeadMoved after {HEAD_MOVED_RETRIES} attempts")


def _append_in_process(root: str, key: str, database: str | None, start: int, count: int) -> None:
    data = DataDir.at(root, key, database)
    writer = LogWriter(second_writer_store(data), load_key(data.key_path))
    for k in range(count // 10):
        commit_retrying(writer, entries(10, start=start + k * 10))
    writer.store.close()


def test_two_processes_on_one_database_never_fork(data: DataDir) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_append_in_process,
            args=(str(data.root), str(data.key_path), data.database, s, 200),
        )
        for s in (0, 10_000)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert_checkpoints_consistent(data, expected_size=400)


def assert_checkpoints_consistent(data: DataDir, expected_size: int) -> None:
    store = open_store(data, readonly=True)
    key = vkey(data)
    head = open_checkpoint(store.head().checkpoint, key)
    assert head.size == expected_size
    prover = Prover(store.read_tile)
    assert prover.root(head.size) == head.root
    sizes = list(store.checkpoint_sizes())
    assert len(sizes) > 2
    for size in sizes:
        cp = open_checkpoint(store.read_checkpoint(size), key)
        proof = prover.consistency(size, head.size)
        merkle.verify_consistency(size, head.size, cp.root, head.root, proof)
    leaves = store.read_leaves(0, head.size)
    assert len({parse_leaf(x).envelope.payload for x in leaves}) == head.size
    store.close()


def test_group_commit_batches_concurrent_appends(data: DataDir) -> None:
    writer = open_writer(data)

    async def run() -> tuple[list[int], int]:
        committer = GroupCommitter(writer, max_batch=64)
        committer.start()
        receipts = await asyncio.gather(*(committer.submit(e) for e in entries(500)))
        await committer.stop()
        return [r.index for r in receipts], committer.batches

    indices, batches = asyncio.run(run())
    assert sorted(indices) == list(range(500))
    assert batches < 500 / 8, f"{batches} batches for 500 concurrent appends"
    writer.store.close()


def test_group_commit_lingers_only_while_appends_come_concurrently(data: DataDir) -> None:
    """The wait before a commit is for concurrent appends: an append that comes alone
    (recent batches of one) is committed at once; while recent batches held several, a
    commit waits when fewer than that are queued, and not once as many are there."""
    writer = open_writer(data)

    async def run() -> None:
        committer = GroupCommitter(writer, max_batch=64, linger=0.01)
        assert not committer._should_linger()  # nothing seen yet: an append alone
        committer.start()
        # Appends one after another: batches of one, never a wait.
        for e in entries(5, start=100):
            await committer.submit(e)
            assert not committer._should_linger()
        # Concurrent appends: batches of several, so the next commit may wait ...
        receipts = await asyncio.gather(*(committer.submit(e) for e in entries(200, start=200)))
        assert len({r.index for r in receipts}) == 200
        assert committer._concurrency > 1.5
        assert committer._should_linger()  # ... while the queue holds fewer than that
        # After a pause (longer than LINGER_IDLE_S) an append counts as alone again.
        await asyncio.sleep(0.2)
        await committer.submit(entries(1, start=900)[0])
        assert committer._concurrency == 1.0
        assert not committer._should_linger()
        committer._concurrency = 8.0  # as after the burst, for what follows
        await committer.stop()
        for e in entries(64, start=1000):
            committer.enqueue(e)
        assert not committer._should_linger()  # as many as recent batches: no wait
        # A committer that never waits (commit_linger = 0).
        assert not GroupCommitter(writer, linger=0.0)._should_linger()

    asyncio.run(run())
    assert writer.store.head().size == 206  # the 64 queued after the stop: never committed
    writer.store.close()


def test_stop_answers_the_appends_it_did_not_log(data: DataDir) -> None:
    """An append the committer holds while it waits for others, and those still queued,
    are told they were not logged when it stops, rather than left waiting."""
    writer = open_writer(data)

    async def run() -> list[BaseException | Receipt]:
        committer = GroupCommitter(writer, linger=0.05)
        committer._concurrency = 8.0  # as after concurrent appends: the next commit waits
        committer.start()
        held = committer.enqueue(entries(1)[0])
        await asyncio.sleep(0.01)  # the committer took it and waits for more
        queued = [committer.enqueue(e) for e in entries(3, start=10)]
        await committer.stop()
        # Bounded: an append left unanswered fails the test instead of hanging it.
        return await asyncio.wait_for(asyncio.gather(held, *queued, return_exceptions=True), 10)

    outcomes = asyncio.run(run())
    assert all(isinstance(o, StoreError) and "not logged" in str(o) for o in outcomes), outcomes
    assert writer.store.head().size == 0
    writer.store.close()


def test_oversized_leaf_is_refused_before_the_queue() -> None:
    env = next(synthetic_envelopes(ORIGIN, 1))
    env["payload"] = "A" * 70_000
    with pytest.raises(FormatError, match="65535"):
        prepare(env)


def test_writer_lock_is_exclusive(data: DataDir) -> None:
    with WriterLock(data), pytest.raises(DataDirError, match="another frontier-ledger"):
        WriterLock(data).acquire()
    # Released: can be taken again.
    with WriterLock(data):
        pass


def test_reader_serves_partial_tiles_of_earlier_sizes(data: DataDir) -> None:
    writer = open_writer(data)
    writer.commit(entries(20))
    writer.commit(entries(280, start=20))
    reader = LogReader(open_store(data, readonly=True))
    full = reader.tile("tile/0/000").data
    assert reader.tile("tile/0/000.p/20").data == full[: 20 * 32]
    assert reader.tile("tile/0/001.p/44").data
    writer.store.close()
    reader.store.close()


def test_same_envelope_twice_in_one_batch(data: DataDir) -> None:
    writer = open_writer(data)
    p = entries(1)[0]
    first, second = writer.commit([p, p])
    assert (first.index, first.duplicate) == (0, False)
    assert (second.index, second.duplicate) == (0, True)
    assert writer.store.head().size == 1
    writer.store.close()


class FailingWriter:
    """A writer whose first commit fails with an unexpected error."""

    def __init__(self, inner: LogWriter) -> None:
        self.inner = inner
        self.calls = 0

    def commit(self, batch, *, receipts: bool = True):
        self.calls += 1
        if self.calls == 1:
            raise LookupError("tile missing")
        return self.inner.commit(batch, receipts=receipts)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)  # everything else is the real writer's


def test_group_committer_survives_an_unexpected_failure(data: DataDir) -> None:
    writer = open_writer(data)

    async def run() -> tuple[str, int]:
        committer = GroupCommitter(FailingWriter(writer))  # type: ignore[arg-type]
        committer.start()
        batch = entries(2)
        with pytest.raises(StoreError, match="tile missing"):
            await committer.submit(batch[0])
        receipt = await asyncio.wait_for(committer.submit(batch[1]), 10)
        await committer.stop()
        return str(committer.last_error), receipt.index

    last_error, index = asyncio.run(run())
    assert index == 0 and last_error == "None"
    writer.store.close()


def test_full_queue_pushes_back(data: DataDir) -> None:
    """Beyond max_queue waiting entries the committer answers Overloaded (HTTP 503)."""
    writer = open_writer(data)

    async def run() -> tuple[int, int]:
        committer = GroupCommitter(writer, max_batch=4, max_queue=8)
        # Not started: nothing drains the queue, so the ninth waiting entry is refused.
        pending = [asyncio.ensure_future(committer.submit(e)) for e in entries(12)]
        await asyncio.sleep(0)
        refused = sum(1 for p in pending if p.done() and isinstance(p.exception(), Overloaded))
        committer.start()
        done = await asyncio.gather(*pending, return_exceptions=True)
        await committer.stop()
        return refused, sum(1 for d in done if not isinstance(d, BaseException))

    refused, logged = asyncio.run(run())
    assert (refused, logged) == (4, 8)
    assert writer.store.head().size == 8
    writer.store.close()
