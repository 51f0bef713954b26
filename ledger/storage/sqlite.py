"""SQLite storage (the zero-set-up default) through sqlite-utils.

- Never auto-created: :meth:`SqliteStore.create` (``frontier-ledger init``) makes a
  new file; :meth:`SqliteStore.open` opens an existing one (``mode=rw``) and fails
  if it is missing, so a typo in ``--data`` cannot start an empty second log.
- WAL, ``synchronous=FULL`` (a commit is on disk before it returns: acknowledged
  means durable), STRICT tables.
- One writer connection; readers get their own read-only (``mode=ro``)
  connections, one per thread.
- The head is replaced by compare-and-swap inside a ``BEGIN IMMEDIATE``
  transaction, which also takes SQLite's write lock before the sequencer signs.
- No secondary index in the log's file: what finds entries by envelope hash,
  type, organisation, run or words is the search index, a second file written
  after each commit (:mod:`ledger.storage.sqlite_index`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from ledger.errors import HeadMoved, StoreError
from ledger.storage import sql, sqlite_index
from ledger.storage.protocol import (
    EntryRow,
    Head,
    SearchQuery,
    entry_from_columns,
    facet_columns,
)

#: 3: no secondary index in the log's file (the search index is its own file).
SCHEMA_VERSION = 3
#: The version a writer upgrades in place (it drops the indexes version 3 moved out).
UPGRADABLE_VERSION = 2
BUSY_TIMEOUT_MS = 10_000


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
    conn = sqlite3.connect(
        f"file:{path}?mode={mode}", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # synchronous is per connection: FULL makes every COMMIT wait for fsync of
    # the WAL, so a commit that returned survives power loss.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _create_schema(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key", not_null={"value"}, strict=True)
    db.table("entries").create(
        {
            "idx": int,
            "leaf": bytes,
            "leaf_hash": bytes,
            "envelope_hash": bytes,
            "logged_at_ms": int,
            "payload_type": str,
            "entry_type": str,
            "org": str,
            "run_id": str,
            "level": int,
            "cycle": int,
        },
        pk="idx",
        not_null={
            "leaf",
            "leaf_hash",
            "envelope_hash",
            "logged_at_ms",
            "payload_type",
            "entry_type",
        },
        strict=True,
    )
    # No secondary index: every row lands at the right edge of the table (keyed by
    # log index), so a commit costs the same on a large log as on a small one. The
    # search index (envelope hashes, facets, words) is derived, in its own file.
    db.table("tiles").create(
        {"level": int, "idx": int, "data": bytes},
        pk=("level", "idx"),
        not_null={"data"},
        strict=True,
    )
    db.table("checkpoints").create(
        {"size": int, "root": bytes, "note": bytes, "signed_at_ms": int},
        pk="size",
        not_null={"root", "note", "signed_at_ms"},
        strict=True,
    )
    # Witness cosignatures (C2SP tlog-cosignature) of published checkpoints, one
    # line per witness and size; a newer cosignature of the same size replaces it.
    db.table("cosignatures").create(
        {"size": int, "witness": str, "line": str, "timestamp": int},
        pk=("size", "witness"),
        not_null={"line", "timestamp"},
        strict=True,
    )
    # A single row (id = 1): the published head. Replaced only by compare-and-swap.
    db.execute(
        "CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, "
        "root BLOB NOT NULL, note BLOB NOT NULL, logged_at_ms INTEGER NOT NULL) STRICT"
    )


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn

    def head(self) -> Head:
        return _read_head(self.c)

    def find_envelopes(self, envelope_hashes: Sequence[bytes]) -> dict[bytes, int]:
        # The writer keeps the search index caught up with the head before it
        # commits (indexed_size), so the index knows every envelope in the log.
        return sqlite_index.find(self.c, envelope_hashes)

    def indexed_size(self) -> int:
        return sqlite_index.state(self.c)[0]

    def insert_entries(self, rows: Sequence[EntryRow]) -> None:
        self.c.executemany(
            "INSERT INTO entries (idx, leaf, leaf_hash, envelope_hash, logged_at_ms, payload_type, "
            "entry_type, org, run_id, level, cycle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        self.c.executemany(
            sql.UPSERT_TILES,
            [(lv, ix, data) for (lv, ix), data in tiles.items()],
        )

    def put_checkpoint(self, size: int, root: bytes, note: bytes, signed_at_ms: int) -> None:
        self.c.execute(
            sql.UPSERT_CHECKPOINT,
            (size, root, note, signed_at_ms),
        )
        stored = self.c.execute("SELECT root FROM checkpoints WHERE size = ?", (size,)).fetchone()
        if stored is None or stored[0] != root:
            # Never keep two roots for one size: that would be a fork.
            raise HeadMoved(f"a different root is already stored for tree size {size}")

    def swap_head(self, old: Head, new: Head) -> None:
        cur = self.c.execute(
            sql.SWAP_HEAD,
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

    def read_tile(self, level: int, index: int) -> bytes | None:
        return _read_tile(self.c, level, index)

    def read_leaf(self, index: int) -> EntryRow | None:
        return _read_entry(self.c, index)


def _read_head(c: sqlite3.Connection) -> Head:
    row = c.execute(sql.READ_HEAD).fetchone()
    if row is None:
        raise StoreError("database has no head row: it was not created by frontier-ledger init")
    return Head(row[0], row[1], row[2], row[3])


def _read_tile(c: sqlite3.Connection, level: int, index: int) -> bytes | None:
    row = c.execute(sql.READ_TILE, (level, index)).fetchone()
    return None if row is None else bytes(row[0])


def _read_entry(c: sqlite3.Connection, index: int) -> EntryRow | None:
    row = c.execute(sql.READ_ENTRY, (index,)).fetchone()
    return None if row is None else entry_from_columns(row)


class WalCheckpointer:
    """Copies the WAL into the database in the background, off the commit path.

    With SQLite's automatic checkpoint, the commit that crosses the WAL size
    threshold also copies scattered pages into the database and fsyncs it, which
    on a large log halves the append rate. The writer turns that off and this
    thread runs PASSIVE checkpoints (which never block the writer or readers)
    after writes. Durability does not depend on it: a commit is durable once the
    WAL is fsynced; checkpoints only keep the WAL short.
    """

    INTERVAL_S = 0.5

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = _connect(self.path, "rw")
        try:
            indexed = sqlite_index.attach(conn, self.path, readonly=False)
            while not self._stop.is_set():
                if self.dirty.wait(self.INTERVAL_S) and not self._stop.is_set():
                    self.dirty.clear()
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA main.wal_checkpoint(PASSIVE)")
                        if indexed:
                            conn.execute("PRAGMA ix.wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.dirty.set()
        self._thread.join(timeout=10)


class SqliteStore:
    """A log stored in one SQLite file."""

    def __init__(
        self, path: Path, writer: sqlite3.Connection | None, origin: str, profile: str = "governed"
    ) -> None:
        self.path = path
        #: The data directory (blobs and caches live there): the database's directory.
        self.data_root = path.parent
        self.origin = origin
        #: "governed": entries are admitted against the charter, keys and rules;
        #: "synthetic": shape checks only (benchmarks and tests, made by init --synthetic).
        self.profile = profile
        self._writer = writer
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._checkpointer: WalCheckpointer | None = None
        if writer is not None:
            writer.execute("PRAGMA wal_autocheckpoint = 0")
            writer.execute("PRAGMA journal_size_limit = 67108864")
            # The search index: created here if missing (it is derived from the log;
            # the writer fills it, see ledger.write.indexer).
            sqlite_index.attach(writer, path, readonly=False)
            writer.execute(f"PRAGMA {sqlite_index.SCHEMA}.journal_size_limit = 67108864")
            self._checkpointer = WalCheckpointer(path)

    # -- creation and opening -------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        origin: str,
        first_checkpoint: bytes,
        root: bytes,
        *,
        profile: str = "governed",
        created_at_ms: int | None = None,
    ) -> SqliteStore:
        """Create a new log database holding the signed checkpoint of the empty tree."""
        if path.exists():
            raise StoreError(f"{path} already exists; refusing to overwrite a log")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path, "rwc")
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            db = sqlite_utils.Database(conn)
            conn.execute("BEGIN IMMEDIATE")
            _create_schema(db)
            # The first logged_at can be no earlier than this (a simulation starts
            # its calendar here; a real log starts now).
            now = created_at_ms if created_at_ms is not None else int(time.time() * 1000)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("origin", origin),
                    ("profile", profile),
                    ("created_at_ms", str(now)),
                ],
            )
            conn.execute(
                "INSERT INTO checkpoints (size, root, note, signed_at_ms) VALUES (0, ?, ?, ?)",
                (root, first_checkpoint, now),
            )
            # logged_at_ms 0: no entry yet, so nothing bounds the first entry's time
            # (a simulation may start its calendar before the day the log was made).
            conn.execute(
                "INSERT INTO head (id, size, root, note, logged_at_ms) VALUES (1, 0, ?, ?, 0)",
                (root, first_checkpoint),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            path.unlink(missing_ok=True)
            raise
        return cls(path, conn, origin)

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> SqliteStore:
        """Open an existing log database; never creates one."""
        if not path.is_file():
            raise StoreError(
                f"no log database at {path}; create one with 'frontier-ledger init --data DIR'"
            )
        try:
            conn = _connect(path, "ro" if readonly else "rw")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            origin_row = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
            profile_row = conn.execute("SELECT value FROM meta WHERE key = 'profile'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a frontier-ledger database: {exc}") from None
        if row is None or origin_row is None:
            conn.close()
            raise StoreError(f"{path} is not a frontier-ledger database")
        version = int(row[0])
        if version == UPGRADABLE_VERSION and not readonly:
            _upgrade(conn)
        elif version != SCHEMA_VERSION:
            conn.close()
            how = (
                " (open it for writing once, e.g. with serve, to upgrade it)"
                if (version == UPGRADABLE_VERSION)
                else ""
            )
            raise StoreError(
                f"{path} has schema version {row[0]}; this build reads {SCHEMA_VERSION}{how}"
            )
        profile = profile_row[0] if profile_row else "governed"
        if readonly:
            store = cls(path, None, origin_row[0], profile)
            store._local.conn = conn
            store._local.indexed = sqlite_index.attach(conn, path, readonly=True)
            store._readers.append(conn)
            return store
        return cls(path, conn, origin_row[0], profile)

    # -- writing ----------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[_SqliteTx]:
        """One write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error."""
        if self._writer is None:
            raise StoreError("this store was opened read-only")
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"cannot start a write transaction: {exc}") from exc
            try:
                yield _SqliteTx(conn)
                # Crash point: until COMMIT returns, nothing of this batch exists on
                # disk and no caller has been answered. After it returns, the batch
                # is durable (synchronous=FULL) even if we die on the next line.
                conn.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.dirty.set()
            except sqlite3.Error as exc:
                _rollback(conn)
                raise StoreError(f"write failed and was rolled back: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise

    # -- reading ----------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, "ro")
            self._local.indexed = sqlite_index.attach(conn, self.path, readonly=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _searchable(self) -> sqlite3.Connection | None:
        """A reader connection with the search index attached (None without the index file:
        a read-only server before any writer built it)."""
        conn = self._reader()
        if not self._local.indexed:
            # The writer may have created it since this connection was opened.
            self._local.indexed = sqlite_index.attach(conn, self.path, readonly=True)
        return conn if self._local.indexed else None

    def head(self) -> Head:
        return _read_head(self._reader())

    def read_tile(self, level: int, index: int) -> bytes | None:
        return _read_tile(self._reader(), level, index)

    def read_leaves(self, start: int, end: int) -> list[bytes]:
        rows = self._reader().execute(sql.READ_LEAVES, (start, end))
        return [bytes(r[0]) for r in rows]

    def read_entry(self, index: int) -> EntryRow | None:
        return _read_entry(self._reader(), index)

    def read_entries(self, start: int, end: int) -> list[EntryRow]:
        """Entries ``start .. end-1`` with their facets (no search text), in index order."""
        rows = self._reader().execute(sql.READ_ENTRIES, (start, end))
        return [entry_from_columns(r) for r in rows]

    # -- the search index (derived; see sqlite_index) ----------------------------

    def index_state(self) -> tuple[int, bytes | None]:
        """(entries the search index covers, leaf hash of the last of them)."""
        with self._write_lock:
            return sqlite_index.state(self._writing_conn())

    def index_entries(self, rows: Sequence[EntryRow]) -> int:
        """Add committed *rows* to the search index (not durable: see sqlite_index);
        return the size it covers now."""
        with self._write_lock:
            try:
                return sqlite_index.write(self._writing_conn(), rows)
            except sqlite3.Error as exc:
                raise StoreError(f"could not update the search index: {exc}") from exc
            finally:
                if self._checkpointer is not None:
                    self._checkpointer.dirty.set()

    def check_index(self) -> tuple[int, list[str]]:
        """(entries the search index covers, how it disagrees with the log): O(entries)."""
        conn = _connect(self.path, "ro")
        try:
            if not sqlite_index.attach(conn, self.path, readonly=True):
                return 0, ["the index file is missing"]
            conn.execute("BEGIN")  # one snapshot of each file, while serve may write
            try:
                return sqlite_index.check(conn)
            finally:
                conn.execute("COMMIT")
        finally:
            conn.close()

    def clear_index(self) -> None:
        """Empty the search index (it no longer matches the log); the writer rebuilds it."""
        with self._write_lock:
            sqlite_index.clear(self._writing_conn())

    def _writing_conn(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreError("this store was opened read-only")
        return self._writer

    def read_checkpoint(self, size: int) -> bytes | None:
        row = self._reader().execute(sql.READ_CHECKPOINT, (size,)).fetchone()
        return None if row is None else bytes(row[0])

    def iter_leaves(self, start: int = 0) -> Iterator[bytes]:
        """Every leaf from *start* on, in index order (a dedicated read-only connection,
        streamed)."""
        conn = _connect(self.path, "ro")
        try:
            rows = conn.execute("SELECT leaf FROM entries WHERE idx >= ? ORDER BY idx", (start,))
            for (leaf,) in rows:
                yield bytes(leaf)
        finally:
            conn.close()

    def put_cosignature(self, size: int, witness: str, line: str, timestamp: int) -> None:
        """Store a verified cosignature (its own small transaction)."""
        with self.writing() as tx:
            tx.c.execute(
                sql.UPSERT_COSIGNATURE,
                (size, witness, line, timestamp),
            )

    def cosignatures(self, size: int) -> dict[str, tuple[str, int]]:
        """witness name -> (signature line, timestamp) for the checkpoint of *size*."""
        rows = self._reader().execute(
            sql.COSIGNATURES,
            (size,),
        )
        return {w: (line, ts) for w, line, ts in rows}

    def earliest_cosignature_after(self, index: int) -> int | None:
        """The earliest witness timestamp on a checkpoint that holds entry *index*."""
        row = self._reader().execute(sql.EARLIEST_COSIGNATURE_AFTER, (index,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def cosigned_sizes(self) -> list[int]:
        """Sizes that have any cosignature, newest first."""
        rows = self._reader().execute(sql.COSIGNED_SIZES)
        return [r[0] for r in rows]

    def last_cosigned_size(self, witness: str) -> int:
        row = self._reader().execute(sql.LAST_COSIGNED_SIZE, (witness,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def search(self, q: SearchQuery) -> list[EntryRow]:
        """Entries matching every given filter, by index, after ``q.after``.

        Filters and words are looked up in the search index, which covers the
        log's entries up to the writer's last commit (see README.md in this
        package); a list without them reads the log itself.
        """
        conn = self._reader()
        head = _read_head(conn).size  # only what a published checkpoint covers
        low, high = q.after, head  # idx > low and idx < high
        # logged_at never decreases along the log: a time range is an index range.
        if q.since_ms is not None:
            low = max(low, sqlite_index.first_logged_at(conn, q.since_ms, head) - 1)
        if q.until_ms is not None:
            high = min(high, sqlite_index.first_logged_at(conn, q.until_ms, head))
        query = sqlite_index.search_sql(q, low, high, indexed=self._searchable() is not None)
        if query is None:
            return []
        sql_text, args = query
        return [entry_from_columns(row) for row in conn.execute(sql_text, args)]

    def checkpoint_sizes(self) -> Iterator[int]:
        for (size,) in self._reader().execute(sql.CHECKPOINT_SIZES):
            yield size

    def conn_pragmas(self) -> dict[str, object]:
        """The durability settings in force on a connection (for tests and health checks)."""
        conn = self._writer or self._reader()
        return {
            "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
        }

    def probe_write(self) -> None:
        """One small durable write: does the database take writes again (after a fault)?

        Raises :class:`StoreError` while the file is read-only or the disk is full.
        """
        with self.writing() as tx:
            tx.c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe_ms', ?)",
                (str(int(time.time() * 1000)),),
            )

    def close(self) -> None:
        with self._readers_lock:
            for c in self._readers:
                c.close()
            self._readers.clear()
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._writer.close()
            self._writer = None


def _upgrade(conn: sqlite3.Connection) -> None:
    """Version 2 to 3: the secondary indexes and the full-text table leave the log's file
    (the writer builds the search index in its own file from the log)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for col in (
            "entry_type", "org", "run_id", "level", "cycle", "logged_at_ms", "envelope_hash",
            "payload_type",
        ):  # fmt: skip
            conn.execute(f"DROP INDEX IF EXISTS idx_entries_{col}")
        conn.execute("DROP TABLE IF EXISTS entries_fts")
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    # No transaction open (BEGIN failed) or the connection is gone: nothing to undo.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")
