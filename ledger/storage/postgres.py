"""PostgreSQL storage behind the same narrow interface as :mod:`ledger.storage.sqlite`.

For operators who want the log in a database server (replication, managed
backups, point-in-time recovery). What holds here, and why:

- Never auto-created: :meth:`PgStore.create` (``frontier-ledger init --database
  URL``) makes the schema in an *empty* database and refuses one that already
  holds a log; :meth:`PgStore.open` fails if the schema is missing or of another
  version. BYTEA for bytes, BIGINT for integers.
- Acknowledged means durable: the writer connection sets ``synchronous_commit =
  on`` itself (a database or role default of ``off`` would otherwise let COMMIT
  return before the WAL is flushed). One transaction per group commit.
- Compare-and-swap on the head: every write transaction starts by locking the
  head row (``SELECT … FOR UPDATE NOWAIT``), before the sequencer signs; the head
  is replaced only if size, root and note still match, else :class:`HeadMoved`
  and the transaction is rolled back. NOWAIT: a second writer that finds the
  head locked gets HeadMoved at once instead of queueing behind the first.
- Single writer across machines: the writer connection holds a session-level
  advisory lock keyed by the log's origin (:func:`writer_lock_key`). It is
  released by PostgreSQL when that session ends, so a crashed writer never leaves
  it behind. A second writer fails with a message naming the log and database.
- Resilience: a broken connection (PostgreSQL restarted, network cut) fails the
  operation in flight with :class:`StoreError` -- a batch whose COMMIT did not
  return is never acknowledged -- and the next operation connects again (the
  writer re-taking its advisory lock). Readers retry a read once on a fresh
  connection when a pooled one turns out to be dead.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors

from ledger.errors import HeadMoved, StoreError
from ledger.storage import sql
from ledger.storage.postgres_index import (
    compare_index,
    first_logged_at,
    index_rows,
    one_row,
    search_sql,
)
from ledger.storage.postgres_schema import (
    UPGRADABLE_VERSION,
    close_quietly,
    connect,
    create_schema,
    label_of,
    read_meta,
    refuse_existing,
    upgrade,
)
from ledger.storage.protocol import (
    EntryRow,
    Head,
    SearchQuery,
    entry_from_columns,
    envelope_prefix,
    facet_columns,
)
from ledger.storage.sql import pg

#: A writer that was SIGKILLed a moment ago still holds the advisory lock until
#: PostgreSQL notices its socket closed (milliseconds); a restarted writer waits
#: this long for it before giving up.
WRITER_LOCK_GRACE_S = 2.0
#: Idle reader connections kept for reuse (the rest are closed when returned).
MAX_IDLE_READERS = 8
#: Leaves per query when streaming the whole log.
LEAF_PAGE = 2000
T = TypeVar("T")


def writer_lock_key(origin: str) -> int:
    """The advisory-lock key of a log's writer: a signed 64-bit number from its origin."""
    digest = hashlib.sha256(b"frontier-ledger writer\n" + origin.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _dead(conn: psycopg.Connection[Any]) -> bool:
    return bool(conn.closed or conn.broken)


def _rollback(conn: psycopg.Connection[Any]) -> None:
    # Nothing open, or the connection is gone (the server rolls back for us).
    if not _dead(conn):
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def _read_head(conn: psycopg.Connection[Any], lock: str = "") -> Head:
    row = conn.execute(f"{sql.READ_HEAD} {lock}").fetchone()
    if row is None:
        raise StoreError("database has no head row: it was not created by frontier-ledger init")
    return Head(row[0], bytes(row[1]), bytes(row[2]), row[3])


def _read_tile(conn: psycopg.Connection[Any], level: int, index: int) -> bytes | None:
    row = conn.execute(pg(sql.READ_TILE), (level, index)).fetchone()
    return None if row is None else bytes(row[0])


def _read_entry(conn: psycopg.Connection[Any], index: int) -> EntryRow | None:
    row = conn.execute(pg(sql.READ_ENTRY), (index,)).fetchone()
    return None if row is None else entry_from_columns(row)


class _PgTx:
    """One write transaction on the writer connection; the head row is locked."""

    def __init__(self, conn: psycopg.Connection[Any], head: Head) -> None:
        self.c = conn
        self._head = head

    def head(self) -> Head:
        return self._head

    def find_envelopes(self, envelope_hashes: Sequence[bytes]) -> dict[bytes, int]:
        # Through the search index, which the writer keeps caught up with the head
        # before it commits (indexed_size); a prefix names candidates, the log decides.
        wanted = {envelope_prefix(h): h for h in dict.fromkeys(envelope_hashes)}
        if not wanted:
            return {}
        rows = self.c.execute(
            "SELECT e.envelope_hash, e.idx FROM envelopes x JOIN entries e ON e.idx = x.idx "
            "WHERE x.prefix = ANY(%s)",
            (list(wanted),),
        ).fetchall()
        found = ((bytes(h), idx) for h, idx in rows)
        return {h: idx for h, idx in found if wanted.get(envelope_prefix(h)) == h}

    def indexed_size(self) -> int:
        return int(one_row(self.c, "SELECT size FROM index_state WHERE id = 1")[0])

    def insert_entries(self, rows: Sequence[EntryRow]) -> None:
        with self.c.cursor() as cur:
            cur.executemany(
                "INSERT INTO entries (idx, leaf, leaf_hash, envelope_hash, logged_at_ms, "
                "payload_type, entry_type, org, run_id, level, cycle) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        r.index,
                        r.leaf,
                        r.leaf_hash,
                        r.envelope_hash,
                        r.logged_at_ms,
                        r.payload_type,
                        *facet_columns(r),
                    )
                    for r in rows
                ],
            )

    def put_tiles(self, tiles: Mapping[tuple[int, int], bytes]) -> None:
        with self.c.cursor() as cur:
            cur.executemany(
                pg(sql.UPSERT_TILES),
                [(lv, ix, data) for (lv, ix), data in tiles.items()],
            )

    def put_checkpoint(self, size: int, root: bytes, note: bytes, signed_at_ms: int) -> None:
        stored = self.c.execute(
            pg(sql.UPSERT_CHECKPOINT) + " RETURNING root",
            (size, root, note, signed_at_ms),
        ).fetchone()
        if stored is None or bytes(stored[0]) != root:
            # Never keep two roots for one size: that would be a fork.
            raise HeadMoved(f"a different root is already stored for tree size {size}")

    def swap_head(self, old: Head, new: Head) -> None:
        cur = self.c.execute(
            pg(sql.SWAP_HEAD),
            (
                new.size,
                new.root,
                new.checkpoint,
                new.logged_at_ms,
                old.size,
                old.root,
                old.checkpoint,
            ),
        )
        if cur.rowcount != 1:
            raise HeadMoved("the published checkpoint changed under this writer")
        self._head = new

    def read_tile(self, level: int, index: int) -> bytes | None:
        return _read_tile(self.c, level, index)

    def read_leaf(self, index: int) -> EntryRow | None:
        return _read_entry(self.c, index)


class PgStore:
    """A log stored in a PostgreSQL database (the data directory keeps keys and blobs)."""

    def __init__(
        self,
        url: str,
        data_root: Path,
        origin: str,
        profile: str = "governed",
        *,
        readonly: bool = False,
        exclusive: bool = True,
    ) -> None:
        self.url = url
        #: The database, for messages: its URL without the password.
        self.label = label_of(url)
        #: The data directory: blobs and the site's caches live there.
        self.data_root = data_root
        self.origin = origin
        #: "governed" or "synthetic", as for SqliteStore.
        self.profile = profile
        self.readonly = readonly
        #: Take the writer's advisory lock (off only in tests of the head's compare-and-swap).
        self.exclusive = exclusive
        self.lock_key = writer_lock_key(origin)
        self._writer: psycopg.Connection[Any] | None = None
        self._write_lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._idle_lock = threading.Lock()
        self._closed = False

    # -- creation and opening -------------------------------------------------

    @classmethod
    def check_empty(cls, url: str) -> None:
        """StoreError unless the database is reachable and holds none of the log's tables."""
        conn = connect(url)
        try:
            refuse_existing(conn, label_of(url))
        finally:
            close_quietly(conn)

    @classmethod
    def create(
        cls,
        url: str,
        data_root: Path,
        origin: str,
        first_checkpoint: bytes,
        root: bytes,
        *,
        profile: str = "governed",
        created_at_ms: int | None = None,
    ) -> PgStore:
        """Create the schema in an empty database, with the signed checkpoint of the empty tree."""
        label = label_of(url)
        conn = connect(url)
        try:
            create_schema(
                conn,
                label,
                origin=origin,
                profile=profile,
                first_checkpoint=first_checkpoint,
                root=root,
                now_ms=created_at_ms if created_at_ms is not None else int(time.time() * 1000),
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot create the log in {label}: {exc}") from exc
        finally:
            close_quietly(conn)
        return cls.open(url, data_root)

    @classmethod
    def open(
        cls, url: str, data_root: Path, *, readonly: bool = False, exclusive: bool = True
    ) -> PgStore:
        """Open the log in an existing database; never creates one.

        A writer (``readonly=False``) connects at once and takes the log's
        advisory lock, so a second writer fails here, before serving anything.
        """
        meta = read_meta(url, upgradable=not readonly)
        if meta["schema_version"] == str(UPGRADABLE_VERSION):
            conn = connect(url)
            try:
                upgrade(conn, label_of(url))
            except psycopg.Error as exc:
                raise StoreError(f"cannot upgrade the log in {label_of(url)}: {exc}") from exc
            finally:
                close_quietly(conn)
        store = cls(
            url,
            data_root,
            meta["origin"],
            meta.get("profile", "governed"),
            readonly=readonly,
            exclusive=exclusive,
        )
        if not readonly:
            with store._write_lock:
                store._writer_conn()
        return store

    # -- connections --------------------------------------------------------------

    def _writer_conn(self) -> psycopg.Connection[Any]:
        """The writer connection, (re)connected with durable commits and the advisory lock."""
        if self._closed:
            raise StoreError("this store was closed")
        conn = self._writer
        if conn is not None and not _dead(conn):
            return conn
        self._drop_writer()
        conn = connect(self.url)
        try:
            # Explicit, whatever the server, database or role default: a COMMIT
            # returns only once its WAL record is flushed to disk.
            conn.execute("SET synchronous_commit = on")
            if self.exclusive:
                self._take_writer_lock(conn)
        except psycopg.Error as exc:
            close_quietly(conn)
            raise StoreError(f"cannot set up the writer connection to {self.label}: {exc}") from exc
        except BaseException:
            close_quietly(conn)
            raise
        self._writer = conn
        return conn

    def _take_writer_lock(self, conn: psycopg.Connection[Any]) -> None:
        deadline = time.monotonic() + WRITER_LOCK_GRACE_S
        while True:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
            if row is not None and row[0]:
                return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another frontier-ledger process is the writer of log {self.origin!r} in "
                    f"{self.label} (it holds advisory lock {self.lock_key}); only one "
                    "sequencer may run per log"
                )
            time.sleep(0.05)

    def _drop_writer(self) -> None:
        conn, self._writer = self._writer, None
        if conn is not None:
            close_quietly(conn)  # ends the session: PostgreSQL releases the advisory lock

    def _take_reader(self) -> tuple[psycopg.Connection[Any], bool]:
        """A reader connection and whether it is new (a reused one may have died idle)."""
        with self._idle_lock:
            if self._closed:
                raise StoreError("this store was closed")
            if self._idle:
                return self._idle.pop(), False
        conn = connect(self.url)
        try:
            # Readers never write: refuse it at the database too.
            conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            close_quietly(conn)
            raise StoreError(f"cannot read from {self.label}: {exc}") from exc
        return conn, True

    def _drop_idle(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            close_quietly(conn)

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        with self._idle_lock:
            if not self._closed and not _dead(conn) and len(self._idle) < MAX_IDLE_READERS:
                self._idle.append(conn)
                return
        close_quietly(conn)

    def _read(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run *query* on a reader connection (autocommit: one statement, one snapshot)."""
        for attempt in range(2):
            conn, fresh = self._take_reader()
            try:
                result = query(conn)
            except psycopg.Error as exc:
                if not _dead(conn):
                    self._give_back(conn)
                    raise StoreError(f"reading from {self.label} failed: {exc}") from exc
                close_quietly(conn)
                if fresh or attempt:
                    raise StoreError(f"lost the connection to {self.label}: {exc}") from exc
                # A pooled connection died while idle (PostgreSQL restarted?): so did
                # the others of its age. Drop them all and try once on a new one.
                self._drop_idle()
                continue
            self._give_back(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writing ----------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_PgTx]:
        """One write transaction with the head row locked; rolled back on any error."""
        if self.readonly:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            conn, head = self._begin()
            try:
                yield _PgTx(conn, head)
                # Crash point: until COMMIT returns nothing of the batch exists and no
                # caller has been answered; after it returns the batch is durable
                # (synchronous_commit = on) even if we die on the next line.
                tag = conn.execute("COMMIT").statusmessage
                if tag != "COMMIT":  # PostgreSQL answers ROLLBACK to COMMIT of a failed one
                    raise StoreError(f"the write to {self.label} was rolled back ({tag})")
            except psycopg.Error as exc:
                _rollback(conn)
                if _dead(conn):
                    # The connection broke (PostgreSQL restarted?): whether a COMMIT in
                    # flight landed is unknown, so nothing is acknowledged; the next
                    # write connects again and re-reads the head.
                    self._drop_writer()
                    raise StoreError(
                        f"lost the connection to {self.label}; nothing was acknowledged: {exc}"
                    ) from exc
                raise StoreError(
                    f"write to {self.label} failed and was rolled back: {exc}"
                ) from exc
            except BaseException:
                _rollback(conn)
                raise

    def _begin(self) -> tuple[psycopg.Connection[Any], Head]:
        """BEGIN on the writer connection and lock the head row (before anything is signed)."""
        for attempt in range(2):
            conn = self._writer_conn()
            try:
                conn.execute("BEGIN")
                return conn, _read_head(conn, "FOR UPDATE NOWAIT")
            except pgerrors.LockNotAvailable:
                _rollback(conn)
                raise HeadMoved(
                    "another writer is publishing a checkpoint of this log right now "
                    "(the head row is locked); nothing was written"
                ) from None
            except psycopg.Error as exc:
                _rollback(conn)
                if not _dead(conn):
                    raise StoreError(
                        f"cannot start a write transaction on {self.label}: {exc}"
                    ) from exc
                self._drop_writer()
                if attempt:
                    raise StoreError(f"lost the connection to {self.label}: {exc}") from exc
                # The connection died while idle (a restart, an idle timeout): nothing
                # of this batch was sent yet, so connecting again once is safe.
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading ----------------------------------------------------------------

    def head(self) -> Head:
        return self._read(_read_head)

    def read_tile(self, level: int, index: int) -> bytes | None:
        return self._read(lambda c: _read_tile(c, level, index))

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        rows = self._read(lambda c: c.execute(pg(sql.READ_LEAVES), (start, end)).fetchall())
        return [bytes(r[0]) for r in rows]

    def read_entry(self, index: int) -> EntryRow | None:
        return self._read(lambda c: _read_entry(c, index))

    def read_entries(self, start: int, end: int) -> list[EntryRow]:
        """Entries ``start .. end-1`` with their facets (no search text), in index order."""
        rows = self._read(lambda c: c.execute(pg(sql.READ_ENTRIES), (start, end)).fetchall())
        return [entry_from_columns(r) for r in rows]

    # -- the search index (derived; see README.md) ------------------------------

    def index_state(self) -> tuple[int, bytes | None]:
        """(entries the search index covers, leaf hash of the last of them)."""
        row = self._read(
            lambda c: one_row(c, "SELECT size, last_leaf_hash FROM index_state WHERE id = 1")
        )
        return int(row[0]), None if row[1] is None else bytes(row[1])

    def index_entries(self, rows: Sequence[EntryRow]) -> int:
        """Add committed *rows* to the search index (its own transaction, not durable);
        return the size it covers now."""
        if self.readonly:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            conn = self._writer_conn()
            try:
                return index_rows(conn, rows)
            except psycopg.Error as exc:
                if _dead(conn):
                    self._drop_writer()
                raise StoreError(
                    f"could not update the search index in {self.label}: {exc}"
                ) from exc

    def check_index(self) -> tuple[int, list[str]]:
        """(entries the search index covers, how it disagrees with the log): O(entries)."""
        return self._read(compare_index)

    def clear_index(self) -> None:
        """Empty the search index (it no longer matches the log); the writer rebuilds it."""
        if self.readonly:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            conn = self._writer_conn()
            with conn.transaction():
                conn.execute("TRUNCATE envelopes, facets")
                conn.execute("UPDATE index_state SET size = 0, last_leaf_hash = NULL WHERE id = 1")

    def read_checkpoint(self, size: int) -> bytes | None:
        row = self._read(lambda c: c.execute(pg(sql.READ_CHECKPOINT), (size,)).fetchone())
        return None if row is None else bytes(row[0])

    def iter_leaves(self, start: int = 0) -> Iterator[bytes]:
        """Every leaf from *start* on, in index order, a page at a time (each page its
        own short read)."""
        after = start - 1
        while True:
            rows = self._read(
                lambda c, after=after: c.execute(  # type: ignore[misc]
                    "SELECT idx, leaf FROM entries WHERE idx > %s ORDER BY idx LIMIT %s",
                    (after, LEAF_PAGE),
                ).fetchall()
            )
            if not rows:
                return
            for _, leaf in rows:
                yield bytes(leaf)
            after = rows[-1][0]

    def put_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        """Store a verified cosignature (its own small transaction)."""
        with self.writing() as tx:
            tx.c.execute(
                pg(sql.UPSERT_COSIGNATURE),
                (size, witness, line, timestamp),
            )

    def cosignatures(self, size: int) -> dict[str, tuple[str, int]]:
        """witness name -> (signature line, timestamp) for the checkpoint of *size*."""
        rows = self._read(lambda c: c.execute(pg(sql.COSIGNATURES), (size,)).fetchall())
        return {w: (line, ts) for w, line, ts in rows}

    def earliest_cosignature_after(self, index: int) -> int | None:
        """The earliest witness timestamp on a checkpoint that holds entry *index*."""
        row = self._read(
            lambda c: c.execute(pg(sql.EARLIEST_COSIGNATURE_AFTER), (index,)).fetchone()
        )
        return None if row is None or row[0] is None else int(row[0])

    def cosigned_sizes(self) -> list[int]:
        """Sizes that have any cosignature, newest first."""
        rows = self._read(lambda c: c.execute(sql.COSIGNED_SIZES).fetchall())
        return [r[0] for r in rows]

    def last_cosigned_size(self, witness: str) -> int:
        row = self._read(lambda c: c.execute(pg(sql.LAST_COSIGNED_SIZE), (witness,)).fetchone())
        return int(row[0]) if row and row[0] is not None else 0

    def search(self, q: SearchQuery) -> list[EntryRow]:
        """Entries matching every given filter, by index, after ``q.after``.

        Text matches every word (letters and digits; case and accents ignored),
        as SQLite's FTS5 search does; text with no words matches nothing.
        """
        if any("\x00" in v for v in (q.entry_type, q.org, q.run_id) if v is not None):
            # PostgreSQL text cannot hold a NUL (psycopg refuses to send one), so no
            # stored value equals such a filter: nothing matches, as in SQLite.
            return []
        head = self.head().size  # only what a published checkpoint covers
        low, high = q.after, head  # idx > low and idx < high
        # logged_at never decreases along the log: a time range is an index range.
        if q.since_ms is not None:
            since = q.since_ms
            low = max(low, self._read(lambda c: first_logged_at(c, since, head)) - 1)
        if q.until_ms is not None:
            until = q.until_ms
            high = min(high, self._read(lambda c: first_logged_at(c, until, head)))
        query = search_sql(q, low, high)
        if query is None:
            return []
        sql_text, args = query
        rows = self._read(lambda c: c.execute(sql_text, args).fetchall())
        return [entry_from_columns(r) for r in rows]

    def checkpoint_sizes(self) -> Iterator[int]:
        rows = self._read(lambda c: c.execute(sql.CHECKPOINT_SIZES).fetchall())
        for (size,) in rows:
            yield size

    def probe_write(self) -> None:
        """One small durable write: does the database take writes again (after a fault)?

        Connects the writer again if needed (re-taking the advisory lock), so
        /readyz turns green only once appends can really be made durable.
        """
        with self.writing() as tx:
            tx.c.execute(
                "INSERT INTO meta (key, value) VALUES ('write_probe_ms', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (str(int(time.time() * 1000)),),
            )

    def writer_settings(self) -> dict[str, object]:
        """The durability settings in force on the writer connection (tests, health checks)."""
        with self._write_lock:
            conn = self._writer_conn()
            out: dict[str, object] = {}
            for name in ("synchronous_commit", "fsync", "transaction_isolation"):
                row = conn.execute(f"SHOW {name}").fetchone()
                out[name] = None if row is None else row[0]
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND pid = pg_backend_pid() AND granted"
            ).fetchone()
            out["advisory_lock"] = bool(row and row[0])
            return out

    def close(self) -> None:
        with self._idle_lock:
            self._closed = True
        self._drop_idle()
        with self._write_lock:
            self._drop_writer()
