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

SCHEMA_VERSION = 1
CONNECT_TIMEOUT_S = 5
#: The tables of a log: init refuses a database holding any of them.
TABLES = ("meta", "entries", "tiles", "checkpoints", "cosignatures", "head")

DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
    cycle BIGINT,
    -- the payload's words (a convenience: completeness comes from the log itself)
    tsv TSVECTOR
);
CREATE UNIQUE INDEX entries_envelope_hash ON entries (envelope_hash);
CREATE INDEX entries_entry_type ON entries (entry_type);
CREATE INDEX entries_org ON entries (org);
CREATE INDEX entries_run_id ON entries (run_id);
CREATE INDEX entries_level ON entries (level);
CREATE INDEX entries_cycle ON entries (cycle);
CREATE INDEX entries_logged_at_ms ON entries (logged_at_ms);
CREATE INDEX entries_payload_type ON entries (payload_type);
CREATE INDEX entries_tsv ON entries USING GIN (tsv);
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


def read_meta(url: str) -> dict[str, str]:
    """The log's meta table; StoreError if the database holds no log of this schema version."""
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
    if meta["schema_version"] != str(SCHEMA_VERSION):
        raise StoreError(
            f"{label} has schema version {meta['schema_version']}; "
            f"this build reads {SCHEMA_VERSION}"
        )
    return meta
