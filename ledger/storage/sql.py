"""The SQL both backends run, written once with SQLite's ``?`` placeholders.

:func:`pg` turns a statement into psycopg's ``%s`` form. Statements that differ
by more than the placeholder stay in their backend's module; README.md in this
package lists them and why.
"""

from __future__ import annotations

from ledger.storage.protocol import ENTRY_COLUMNS


def pg(sql: str) -> str:
    """The statement with psycopg placeholders (none of these statements has a literal ``?``)."""
    return sql.replace("?", "%s")


READ_HEAD = "SELECT size, root, note, logged_at_ms FROM head WHERE id = 1"
READ_TILE = "SELECT data FROM tiles WHERE level = ? AND idx = ?"
READ_ENTRY = f"SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.idx = ?"  # noqa: S608 - a constant
READ_ENTRIES = (
    f"SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.idx >= ? AND e.idx < ? ORDER BY e.idx"  # noqa: S608
)
READ_LEAVES = "SELECT leaf FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
READ_CHECKPOINT = "SELECT note FROM checkpoints WHERE size = ?"
CHECKPOINT_SIZES = "SELECT size FROM checkpoints ORDER BY size"

# A tile is only ever replaced by a wider one: a partial tile grows into a full
# one, and a crash between writes can never shrink what a reader was served.
UPSERT_TILES = (
    "INSERT INTO tiles (level, idx, data) VALUES (?, ?, ?) "
    "ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data "
    "WHERE length(excluded.data) > length(tiles.data)"
)
# Re-signing a size keeps its root: a second root for one size would be a fork,
# so the update applies only when the roots agree (the caller checks which root
# is stored afterwards).
UPSERT_CHECKPOINT = (
    "INSERT INTO checkpoints (size, root, note, signed_at_ms) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (size) DO UPDATE "
    "SET note = excluded.note, signed_at_ms = excluded.signed_at_ms "
    "WHERE checkpoints.root = excluded.root"
)
# Compare-and-swap: the head moves only from the head this writer read.
SWAP_HEAD = (
    "UPDATE head SET size = ?, root = ?, note = ?, logged_at_ms = ? "
    "WHERE id = 1 AND size = ? AND root = ? AND note = ?"
)

UPSERT_COSIGNATURE = (
    "INSERT INTO cosignatures (size, witness, line, timestamp) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, "
    "timestamp = excluded.timestamp WHERE excluded.timestamp > cosignatures.timestamp"
)
COSIGNATURES = "SELECT witness, line, timestamp FROM cosignatures WHERE size = ? ORDER BY witness"
EARLIEST_COSIGNATURE_AFTER = "SELECT min(timestamp) FROM cosignatures WHERE size > ?"
COSIGNED_SIZES = "SELECT DISTINCT size FROM cosignatures ORDER BY size DESC"
LAST_COSIGNED_SIZE = "SELECT max(size) FROM cosignatures WHERE witness = ?"
