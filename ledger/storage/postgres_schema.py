"""The PostgreSQL database of a log: how to reach it, its schema, creating and checking it.

The schema mirrors SQLite's (:mod:`ledger.storage.sqlite`) with PostgreSQL's types:
``BYTEA`` for bytes (leaves, hashes, tiles, signed notes) and ``BIGINT`` for every
index and size, so nothing is ever re-encoded. A ``meta`` table holds the schema
version, the origin and the profile; :func:`read_meta` refuses any other version.
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg

from ledger.errors import StoreError
from ledger.ops.datadir import redact_url

#: 2: no secondary index on ``entries``; the search index is in tables of its own.
SCHEMA_VERSION = 2
#: The version a writer upgrades in place (:func:`upgrade`).
UPGRADABLE_VERSION = 1
CONNECT_TIMEOUT_S = 5
#: The tables of a log: init refuses a database holding any of them.
TABLES = (
    "meta",
    "entries",
    "tiles",
    "checkpoints",
    "cosignatures",
    "head",
    "index_state",
    "envelopes",
    "facets",
)

# The search index (envelope hashes, facets, words): derived from ``entries`` and
# written after each commit, in a transaction of its own (see README.md).
INDEX_DDL = """
CREATE TABLE index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    last_leaf_hash BYTEA
);
INSERT INTO index_state (id, size, last_leaf_hash) VALUES (1, 0, NULL);
-- the first 8 bytes of each envelope's SHA-256, confirmed against entries.envelope_hash
CREATE TABLE envelopes (prefix BIGINT NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (prefix, idx));
CREATE TABLE facets (
    idx BIGINT PRIMARY KEY,
    entry_type TEXT NOT NULL,
    org TEXT,
    run_id TEXT,
    level BIGINT,
    cycle BIGINT,
    -- the payload's words (a convenience: completeness comes from the log itself)
    tsv TSVECTOR
);
CREATE INDEX facets_entry_type ON facets (entry_type);
CREATE INDEX facets_org ON facets (org) WHERE org IS NOT NULL;
CREATE INDEX facets_run_id ON facets (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX facets_level ON facets (level) WHERE level IS NOT NULL;
CREATE INDEX facets_cycle ON facets (cycle) WHERE cycle IS NOT NULL;
CREATE INDEX facets_tsv ON facets USING GIN (tsv);
"""

DDL = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- No secondary index: every row lands at the right edge of the primary key, so a
-- commit costs the same on a large log as on a small one.
CREATE TABLE entries (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    leaf BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    envelope_hash BYTEA NOT NULL,
    logged_at_ms BIGINT NOT NULL,
    payload_type TEXT NOT NULL,
    entry_type TEXT NOT NULL,
    org TEXT,
    run_id TEXT,
    level BIGINT,
    cycle BIGINT
);
CREATE TABLE tiles (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note BYTEA NOT NULL,
    signed_at_ms BIGINT NOT NULL
);
CREATE TABLE cosignatures (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);
-- A single row (id = 1): the published head. Replaced only by compare-and-swap.
CREATE TABLE head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note BYTEA NOT NULL,
    logged_at_ms BIGINT NOT NULL
);
"""
    + INDEX_DDL
)

#: Version 1's secondary indexes and full-text column on ``entries`` (dropped by upgrade).
_V1_DROP = """
DROP INDEX IF EXISTS entries_envelope_hash, entries_entry_type, entries_org, entries_run_id,
    entries_level, entries_cycle, entries_logged_at_ms, entries_payload_type, entries_tsv;
ALTER TABLE entries DROP COLUMN IF EXISTS tsv;
"""


def upgrade(conn: psycopg.Connection[Any], label: str) -> None:
    """Version 1 to 2, in one transaction: the secondary indexes leave ``entries`` and the
    search index gets its tables (empty: the writer builds it from the log)."""
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = on")
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version' FOR UPDATE"
        ).fetchone()
        if row is None or row[0] != str(UPGRADABLE_VERSION):
            return  # another process upgraded it meanwhile
        conn.execute(_V1_DROP)
        conn.execute(INDEX_DDL)
        conn.execute(
            "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )


def label_of(url: str) -> str:
    """The database, for messages: its URL without the password."""
    return f"PostgreSQL database {redact_url(url)}"


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="frontier-ledger",
            # Notice a dead peer (a cut network) within about a minute, not hours.
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to {label_of(url)}: {exc}") from exc


def close_quietly(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):  # already gone: nothing to release
        conn.close()


def refuse_existing(conn: psycopg.Connection[Any], label: str) -> None:
    """StoreError if the database already holds a log, or tables a log would need."""
    present = [
        t for t in TABLES if conn.execute("SELECT to_regclass(%s)", (t,)).fetchone() != (None,)
    ]
    if "meta" in present:
        row = None
        with contextlib.suppress(psycopg.Error):
            row = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        what = f" (log {row[0]!r})" if row else ""
        raise StoreError(f"{label} already holds a frontier-ledger log{what}; refusing to touch it")
    if present:
        raise StoreError(
            f"{label} already has tables named {', '.join(present)}; use an empty database"
        )


def create_schema(
    conn: psycopg.Connection[Any],
    label: str,
    *,
    origin: str,
    profile: str,
    first_checkpoint: bytes,
    root: bytes,
    now_ms: int,
) -> None:
    """Create the log's tables holding the checkpoint of the empty tree, in one transaction.

    DDL is transactional in PostgreSQL: a failed or interrupted init leaves the
    database as it was.
    """
    with conn.transaction():
        conn.execute("SET LOCAL synchronous_commit = on")
        refuse_existing(conn, label)
        conn.execute(DDL)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO meta (key, value) VALUES (%s, %s)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("origin", origin),
                    ("profile", profile),
                    ("created_at_ms", str(now_ms)),
                ],
            )
        conn.execute(
            "INSERT INTO checkpoints (size, root, note, signed_at_ms) VALUES (0, %s, %s, %s)",
            (root, first_checkpoint, now_ms),
        )
        # logged_at_ms 0: no entry yet, so nothing bounds the first entry's time.
        conn.execute(
            "INSERT INTO head (id, size, root, note, logged_at_ms) VALUES (1, 0, %s, %s, 0)",
            (root, first_checkpoint),
        )


def read_meta(url: str, *, upgradable: bool = False) -> dict[str, str]:
    """The log's meta table; StoreError if the database holds no log of this schema version
    (with *upgradable*, version :data:`UPGRADABLE_VERSION` is accepted too)."""
    label = label_of(url)
    conn = connect(url)
    try:
        if conn.execute("SELECT to_regclass('meta')").fetchone() == (None,):
            raise StoreError(
                f"{label} holds no frontier-ledger log; create one with "
                "'frontier-ledger init --data DIR --database URL'"
            )
        meta: dict[str, str] = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except psycopg.Error as exc:
        raise StoreError(f"{label} is not a frontier-ledger database: {exc}") from exc
    finally:
        close_quietly(conn)
    if "origin" not in meta or "schema_version" not in meta:
        raise StoreError(f"{label} is not a frontier-ledger database")
    version = meta["schema_version"]
    if version != str(SCHEMA_VERSION) and not (upgradable and version == str(UPGRADABLE_VERSION)):
        how = (
            " (open it for writing once, e.g. with serve, to upgrade it)"
            if version == str(UPGRADABLE_VERSION)
            else ""
        )
        raise StoreError(
            f"{label} has schema version {version}; this build reads {SCHEMA_VERSION}{how}"
        )
    return meta
