"""PostgreSQL's search index: the words and facets of each entry, kept beside the log.

Derived data (see README.md): written after each commit in its own transaction, not
durable (what a crash loses is indexed again from the log), checked row by row against
the entries by ``fsck``, and rebuilt when it does not match. Words are read as SQLite's
FTS5 search reads them, so both backends answer a search alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import psycopg

from ledger.errors import StoreError
from ledger.storage import protocol, sql
from ledger.storage.protocol import (
    ENTRY_COLUMNS,
    EntryRow,
    SearchQuery,
    envelope_prefix,
    facet_columns,
)
from ledger.storage.sql import pg


def search_words(text: str) -> list[str]:
    """The words of *text* as the full-text index sees them: letters and digits only,
    accents removed (as SQLite's unicode61 tokenizer does), so user input is never
    query syntax."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.findall(r"[^\W_]+", plain.casefold())


def search_tsquery(text: str) -> str:
    """A ``to_tsquery`` text that reads *text* as SQLite's search does: each
    whitespace-separated word (at most 16) a phrase of its letters and digits, all of
    them required, so "acme-2027" finds the words acme and 2027 side by side, not apart.
    Empty when *text* has no words. Only letters and digits reach the query, so user
    input is never query syntax."""
    phrases = [search_words(w) for w in text.translate(_NOT_IN_PHRASES).split()[:16]]
    return " & ".join("(" + " <-> ".join(p) + ")" for p in phrases if p)


#: As SQLite's search: a double quote or a NUL separates words.
_NOT_IN_PHRASES = str.maketrans({'"': " ", "\x00": " "})


def one_row(conn: psycopg.Connection[Any], query: str, args: Sequence[Any] = ()) -> Any:
    """The one row *query* returns (StoreError if none: the schema is not a log's)."""
    row = conn.execute(query, args).fetchone()
    if row is None:
        raise StoreError(f"the database has no row for: {query[:60]}")
    return row


def compare_index(conn: psycopg.Connection[Any]) -> tuple[int, list[str]]:
    """Every row of the search index compared with the entry it indexes (one snapshot)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _check_index_in(conn)


def _check_index_in(conn: psycopg.Connection[Any]) -> tuple[int, list[str]]:
    size, last = one_row(conn, "SELECT size, last_leaf_hash FROM index_state WHERE id = 1")
    head = one_row(conn, pg(sql.READ_HEAD))[0]
    row = conn.execute("SELECT leaf_hash FROM entries WHERE idx = %s", (size - 1,)).fetchone()
    if size > head or (size and (row is None or bytes(row[0]) != bytes(last))):
        return size, [f"it says it covers {size} entries, which are not this log's first ones"]
    problems: list[str] = []
    facets, same = one_row(
        conn,
        "SELECT count(*), count(e.idx) FROM facets f LEFT JOIN entries e ON e.idx = f.idx "
        "AND e.entry_type IS NOT DISTINCT FROM f.entry_type AND e.org IS NOT DISTINCT FROM f.org "
        "AND e.run_id IS NOT DISTINCT FROM f.run_id AND e.level IS NOT DISTINCT FROM f.level "
        "AND e.cycle IS NOT DISTINCT FROM f.cycle AND f.idx < %s",
        (size,),
    )
    if facets != size or same != size:
        problems.append(
            f"{facets} facet rows for {size} entries, {same} of them equal to the entry's"
        )
    envelopes, same = one_row(
        conn,
        "SELECT count(*), count(e.idx) FROM envelopes x LEFT JOIN entries e ON e.idx = x.idx "
        "AND x.prefix = ('x' || encode(substr(e.envelope_hash, 1, 8), 'hex'))::bit(64)::bigint "
        "AND x.idx < %s",
        (size,),
    )
    if envelopes != size or same != size:
        problems.append(
            f"{envelopes} envelope rows for {size} entries, {same} of them the entry's envelope"
        )
    return size, problems


def first_logged_at(conn: psycopg.Connection[Any], ms: int, size: int) -> int:
    """The first log index whose ``logged_at`` is at or after *ms* (*size* if none)."""

    def logged_at(index: int) -> int | None:
        row = conn.execute("SELECT logged_at_ms FROM entries WHERE idx = %s", (index,)).fetchone()
        return None if row is None else int(row[0])

    return protocol.first_logged_at(logged_at, ms, size)


def index_rows(conn: psycopg.Connection[Any], rows: Sequence[EntryRow]) -> int:
    """Add *rows* to the search index in one transaction that need not be durable
    (``synchronous_commit = off``: what a crash loses is indexed again from the log)."""
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = off")
        size = one_row(conn, "SELECT size FROM index_state WHERE id = 1 FOR UPDATE")[0]
        rows = [r for r in rows if r.index >= size]
        if not rows:
            return int(size)
        if rows[0].index != size:
            raise ValueError(f"index rows start at {rows[0].index}; the index covers {size}")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO envelopes (prefix, idx) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(envelope_prefix(r.envelope_hash), r.index) for r in rows],
            )
            cur.executemany(
                "INSERT INTO facets (idx, entry_type, org, run_id, level, cycle, tsv) VALUES "
                "(%s, %s, %s, %s, %s, %s, to_tsvector('simple'::regconfig, %s::text))",
                [(r.index, *facet_columns(r), _document(r)) for r in rows],
            )
        last = rows[-1]
        conn.execute(
            "UPDATE index_state SET size = %s, last_leaf_hash = %s WHERE id = 1",
            (last.index + 1, last.leaf_hash),
        )
        # Crash point: rows and size commit together, so the index is always exactly
        # the log's entries 0 .. size-1.
    return last.index + 1


def _document(r: EntryRow) -> str | None:
    if r.facets is None or not r.facets.text:
        return None
    return " ".join(search_words(r.facets.text)) or None


def search_sql(q: SearchQuery, low: int, high: int) -> tuple[str, list[str | int]] | None:
    """The SELECT (and its arguments) of entries ``low < idx < high`` matching *q*'s
    filters and words, or None when the text has no words (nothing matches)."""
    # Filters and words come from the search index (facets), which covers the log
    # up to the writer's last commit; a list without them reads the log itself.
    where: list[str] = []
    args: list[str | int] = []
    for col, val in q.facet_filters():
        where.append(f"f.{col} = %s")
        args.append(val)
    if q.text:  # as SQLite: an empty text is no filter; text without words matches nothing
        query = search_tsquery(q.text)
        if not query:
            return None
        where.append("f.tsv @@ to_tsquery('simple'::regconfig, %s::text)")
        args.append(query)
    key, source = "e.idx", "entries e"
    if where:
        key, source = "f.idx", "facets f JOIN entries e ON e.idx = f.idx"
    where[:0] = [f"{key} > %s", f"{key} < %s"]
    args[:0] = [low, high]
    sql_text = (
        f"SELECT {ENTRY_COLUMNS} FROM {source} WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {key} {'DESC' if q.newest_first else 'ASC'} LIMIT %s"
    )
    args.append(max(1, min(q.limit, 500)))
    return sql_text, args
