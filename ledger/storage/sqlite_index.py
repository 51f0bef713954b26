"""The search index of a SQLite log: a second file beside the log, derived from it.

``DATA/ledger.sqlite`` holds what the log *is* (leaves, tiles, checkpoints, the
head), written durably in one transaction per group commit, with no secondary
index: every row it gets lands at the right edge of a B-tree keyed by log index
or tree size, so a commit onto 10^7 entries writes the same pages as onto 10^3.

``DATA/index.sqlite`` (this module) holds what is *derived* from the log, to find
entries by something other than their index:

- ``envelopes``: the first 8 bytes of each envelope's SHA-256 (a signed
  integer) and its log index, for idempotent resubmission. The key is random,
  so each insert dirties a page somewhere in the B-tree; keeping it small (16
  bytes a row) and out of the log's file keeps those pages out of the durable
  commit. A prefix match is confirmed against ``entries.envelope_hash``;
- ``facets``: entry type, organisation, run, level and cycle by log index, each
  filter column indexed (the optional ones only where set);
- ``entries_fts``: an FTS5 table of each payload's words, rowid = log index;
- ``state``: the size the index covers (entries ``0 .. size-1``) and the leaf
  hash of entry ``size-1``, which ties it to this log.

The writer adds a batch's rows right after the batch's durable commit, in a
transaction of this file alone with ``synchronous = NORMAL`` (no fsync: WAL
order keeps the file consistent, and what a crash or power cut loses is
indexed again). The rows and ``state.size`` change in the same transaction, so
the index is always exactly the log's first ``size`` entries. See
:mod:`ledger.write.indexer` for when it is caught up and rebuilt, and
README.md in this package for what a reader sees meanwhile.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ledger.storage import protocol
from ledger.storage.protocol import (
    ENTRY_COLUMNS,
    EntryRow,
    SearchQuery,
    envelope_prefix,
    facet_columns,
)

#: The schema name the index file is attached under, on every connection.
SCHEMA = "ix"
#: The index file's own schema version (independent of the log's).
INDEX_VERSION = 1

_DDL = (
    "CREATE TABLE ix.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT",
    "CREATE TABLE ix.state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "size INTEGER NOT NULL, last_leaf_hash BLOB) STRICT",
    "INSERT INTO ix.state (id, size, last_leaf_hash) VALUES (1, 0, NULL)",
    "CREATE TABLE ix.envelopes (prefix INTEGER NOT NULL, idx INTEGER NOT NULL, "
    "PRIMARY KEY (prefix, idx)) STRICT, WITHOUT ROWID",
    "CREATE TABLE ix.facets (idx INTEGER PRIMARY KEY, entry_type TEXT NOT NULL, org TEXT, "
    "run_id TEXT, level INTEGER, cycle INTEGER) STRICT",
    "CREATE INDEX ix.facets_entry_type ON facets (entry_type)",
    "CREATE INDEX ix.facets_org ON facets (org) WHERE org IS NOT NULL",
    "CREATE INDEX ix.facets_run_id ON facets (run_id) WHERE run_id IS NOT NULL",
    "CREATE INDEX ix.facets_level ON facets (level) WHERE level IS NOT NULL",
    "CREATE INDEX ix.facets_cycle ON facets (cycle) WHERE cycle IS NOT NULL",
    # Full-text search over each payload's words (a convenience: completeness
    # comes from the log itself, not from search).
    "CREATE VIRTUAL TABLE ix.entries_fts USING fts5(text, tokenize = 'unicode61')",
)


def index_path(db_path: Path) -> Path:
    """The index file of the log database at *db_path*."""
    return db_path.with_name("index.sqlite")


def files(db_path: Path) -> list[Path]:
    """The index file and its WAL and shared-memory files."""
    path = index_path(db_path)
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def attach(conn: sqlite3.Connection, db_path: Path, *, readonly: bool) -> bool:
    """Attach the index file as ``ix``; False if it is missing (a reader then does without).

    A writer creates it if missing (it is derived: the writer fills it from the log).
    """
    path = index_path(db_path)
    if readonly and not path.is_file():
        return False
    uri = f"file:{path}?mode={'ro' if readonly else 'rwc'}"
    conn.execute(f"ATTACH DATABASE '{_quote(uri)}' AS {SCHEMA}")
    if readonly:
        return True
    conn.execute(f"PRAGMA {SCHEMA}.journal_mode = WAL")
    # Derived data: consistent after a crash or power cut (WAL order), not durable;
    # what is lost is indexed again from the log.
    conn.execute(f"PRAGMA {SCHEMA}.synchronous = NORMAL")
    present = conn.execute(
        f"SELECT count(*) FROM {SCHEMA}.sqlite_master WHERE name = 'state'"  # noqa: S608
    ).fetchone()[0]
    if not present:
        _create(conn)
    return True


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk does that): nothing left to undo.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("ROLLBACK")


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO ix.meta (key, value) VALUES ('index_version', ?)", (str(INDEX_VERSION),)
        )
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def state(conn: sqlite3.Connection) -> tuple[int, bytes | None]:
    """(size the index covers, leaf hash of its last entry)."""
    size, last = conn.execute("SELECT size, last_leaf_hash FROM ix.state WHERE id = 1").fetchone()
    return int(size), None if last is None else bytes(last)


def find(conn: sqlite3.Connection, envelope_hashes: Sequence[bytes]) -> dict[bytes, int]:
    """Log indices of the envelopes among *envelope_hashes* that the index holds."""
    out: dict[bytes, int] = {}
    wanted = {envelope_prefix(h): h for h in dict.fromkeys(envelope_hashes)}
    prefixes = list(wanted)
    for i in range(0, len(prefixes), 500):  # stay under SQLite's parameter limit
        chunk = prefixes[i : i + 500]
        marks = ",".join("?" * len(chunk))
        # A prefix names candidates; the envelope hash in the log decides.
        rows = conn.execute(
            f"SELECT e.envelope_hash, e.idx FROM ix.envelopes x CROSS JOIN entries e "  # noqa: S608 - only placeholders
            f"ON e.idx = x.idx WHERE x.prefix IN ({marks})",
            chunk,
        )
        for stored, idx in rows:
            h = bytes(stored)
            if wanted.get(envelope_prefix(h)) == h:
                out[h] = idx
    return out


def write(conn: sqlite3.Connection, rows: Sequence[EntryRow]) -> int:
    """Index *rows* (consecutive log indices) in one transaction; return the new size.

    Rows the index already covers are skipped (idempotent); a row beyond its size
    would leave a gap, so the caller must index what comes before first.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        size, _ = state(conn)
        rows = [r for r in rows if r.index >= size]
        if not rows:
            _rollback(conn)
            return size
        if rows[0].index != size:
            raise ValueError(f"index rows start at {rows[0].index}; the index covers {size}")
        conn.executemany(
            "INSERT OR IGNORE INTO ix.envelopes (prefix, idx) VALUES (?, ?)",
            [(envelope_prefix(r.envelope_hash), r.index) for r in rows],
        )
        conn.executemany(
            "INSERT INTO ix.facets (idx, entry_type, org, run_id, level, cycle) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(r.index, *facet_columns(r)) for r in rows],
        )
        texts = [(r.index, r.facets.text) for r in rows if r.facets is not None and r.facets.text]
        if texts:
            conn.executemany("INSERT INTO ix.entries_fts (rowid, text) VALUES (?, ?)", texts)
        last = rows[-1]
        conn.execute(
            "UPDATE ix.state SET size = ?, last_leaf_hash = ? WHERE id = 1",
            (last.index + 1, last.leaf_hash),
        )
        # Crash point: before this COMMIT the index is as it was; after it, it covers
        # these rows too. Rows and size change together, so the index is always
        # exactly the log's entries 0 .. size-1.
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return last.index + 1


def clear(conn: sqlite3.Connection) -> None:
    """Empty the index (it no longer matches the log): it is then rebuilt from entry 0."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table in ("envelopes", "facets", "entries_fts"):
            conn.execute(f"DELETE FROM ix.{table}")  # noqa: S608 - fixed names
        conn.execute("UPDATE ix.state SET size = 0, last_leaf_hash = NULL WHERE id = 1")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def check(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    """(size the index covers, what in it disagrees with the log): every row is compared
    with the entry it indexes. O(entries), for ``frontier-ledger fsck``."""
    conn.create_function("envelope_prefix", 1, envelope_prefix, deterministic=True)
    size, last = state(conn)
    problems: list[str] = []
    head = conn.execute("SELECT size FROM head WHERE id = 1").fetchone()[0]
    row = conn.execute("SELECT leaf_hash FROM entries WHERE idx = ?", (size - 1,)).fetchone()
    if size > head or (size and (row is None or bytes(row[0]) != last)):
        problems.append(f"it says it covers {size} entries, which are not this log's first ones")
        return size, problems
    facets, same = conn.execute(
        "SELECT count(*), count(e.idx) FROM ix.facets f LEFT JOIN entries e ON e.idx = f.idx "
        "AND e.entry_type IS f.entry_type AND e.org IS f.org AND e.run_id IS f.run_id "
        "AND e.level IS f.level AND e.cycle IS f.cycle AND f.idx < ?",
        (size,),
    ).fetchone()
    if facets != size or same != size:
        problems.append(
            f"{facets} facet rows for {size} entries, {same} of them equal to the entry's"
        )
    envelopes, same = conn.execute(
        "SELECT count(*), count(e.idx) FROM ix.envelopes x LEFT JOIN entries e "
        "ON e.idx = x.idx AND x.prefix = envelope_prefix(e.envelope_hash) AND x.idx < ?",
        (size,),
    ).fetchone()
    if envelopes != size or same != size:
        problems.append(
            f"{envelopes} envelope rows for {size} entries, {same} of them the entry's envelope"
        )
    beyond = conn.execute(
        "SELECT count(*) FROM ix.entries_fts WHERE rowid >= ?", (size,)
    ).fetchone()[0]
    if beyond:
        problems.append(f"{beyond} full-text rows for entries it does not cover")
    return size, problems


def first_logged_at(conn: sqlite3.Connection, ms: int, size: int) -> int:
    """The first log index whose ``logged_at`` is at or after *ms* (*size* if none)."""

    def logged_at(index: int) -> int | None:
        row = conn.execute("SELECT logged_at_ms FROM entries WHERE idx = ?", (index,)).fetchone()
        return None if row is None else int(row[0])

    return protocol.first_logged_at(logged_at, ms, size)


def fts_query(text: str) -> str:
    """Words as FTS5 phrase tokens, so user text can never be FTS5 syntax.

    A double quote would end the phrase, and a NUL ends the query string inside SQLite
    (an "unterminated string" error): both separate words, as any punctuation does.
    """
    words = [w for w in text.translate(_NOT_IN_PHRASES).split() if w][:16]
    return " ".join(f'"{w}"' for w in words) or '""'


_NOT_IN_PHRASES = str.maketrans({'"': " ", "\x00": " "})


def search_sql(
    q: SearchQuery, low: int, high: int, *, indexed: bool
) -> tuple[str, list[str | int]] | None:
    """The SELECT (and its arguments) of entries ``low < idx < high`` matching *q*'s
    filters and words, on a reader with the index file attached as ``ix`` when
    *indexed*; None when nothing can match (words, and no index file)."""
    filters = q.facet_filters()
    facets = "e"  # without the index file, filter on the log's own columns (a scan)
    if filters or q.text:
        if indexed:
            facets = "f"
        elif q.text:
            return None  # no index file: no words to match (the writer rebuilds it)
    # The walk starts from the full-text index when there are words, else from the
    # facets' indexes, in index order; CROSS JOIN fixes the join order.
    if q.text:
        key = "t.rowid"
        source = "ix.entries_fts t CROSS JOIN entries e ON e.idx = t.rowid"
        if filters:
            source = (
                "ix.entries_fts t CROSS JOIN ix.facets f ON f.idx = t.rowid "
                "CROSS JOIN entries e ON e.idx = t.rowid"
            )
    elif facets == "f":
        key = "f.idx"
        source = "ix.facets f CROSS JOIN entries e ON e.idx = f.idx"
    else:
        key = "e.idx"
        source = "entries e"
    where: list[str] = [f"{key} > ?", f"{key} < ?"]
    args: list[str | int] = [low, high]
    for col, val in filters:
        where.append(f"{facets}.{col} = ?")
        args.append(val)
    if q.text:
        where.append("t.text MATCH ?")
        args.append(fts_query(q.text))
    sql_text = (
        f"SELECT {ENTRY_COLUMNS} FROM {source} WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {key} {'DESC' if q.newest_first else 'ASC'} LIMIT ?"
    )
    args.append(max(1, min(q.limit, 500)))
    return sql_text, args
