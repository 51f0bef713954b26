"""The search index: derived from the log, written after each commit, repaired on start.

The durable commit writes no secondary index; envelope hashes (resubmissions),
facets and words go to the search index right after the commit and before the
callers are answered (ledger/write/indexer.py). What must hold, on both backends:

- an acknowledged entry is found by search, and its resubmission is recognised,
  at once;
- a crash between a commit and its index write (the write skipped, the process
  gone) loses nothing: the next writer catches the index up when it opens the log,
  and a resubmission of an entry the index had not seen yet still gets its original
  index (never a second one);
- a failed index write does not fail the commit; the index is caught up before the
  next commit;
- an index that is not a prefix of the log (a backup restored under it) is rebuilt;
- ``fsck`` says how far the index lags and exits 4 when it disagrees with the log;
  ``reindex`` rebuilds it;
- a version 2 SQLite database (indexes in the log's file) is upgraded by its writer.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from frontier_ledger import cli
from ledger.demo.build import build_demo
from ledger.demo.synth import synthetic_envelopes
from ledger.errors import StoreError
from ledger.ops.datadir import DataDir
from ledger.storage.backends import open_store
from ledger.storage.protocol import SearchQuery
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import LogWriter, Receipt, prepare

ORIGIN = "index.test/log"


@pytest.fixture
def data(tmp_path: Path, database: str | None) -> DataDir:
    d = DataDir.at(tmp_path / "data", database=database)
    init_log(d, ORIGIN, synthetic=True)
    return d


def entries(n: int, start: int = 0) -> list[Any]:
    return [prepare(e) for e in synthetic_envelopes(ORIGIN, n, start)]


def indices(writer: LogWriter, batch: list[Any]) -> list[tuple[int, bool]]:
    out = writer.commit(batch)
    assert all(isinstance(r, Receipt) for r in out)
    return [(r.index, r.duplicate) for r in out]  # type: ignore[union-attr]


def found(data: DataDir, **query: Any) -> list[int]:
    store = open_store(data, readonly=True)
    try:
        return [r.index for r in store.search(SearchQuery(limit=500, **query))]
    finally:
        store.close()


def test_an_acknowledged_entry_is_searchable_and_recognised_at_once(data: DataDir) -> None:
    writer = open_writer(data)
    try:
        batch = entries(5)
        assert indices(writer, batch) == [(i, False) for i in range(5)]
        assert writer.store.index_state()[0] == 5
        assert found(data, entry_type="synthetic") == [0, 1, 2, 3, 4]
        assert indices(writer, [batch[3], *entries(1, start=5)]) == [(3, True), (5, False)]
    finally:
        writer.store.close()


def test_a_crash_between_commit_and_index_write_is_repaired_when_the_log_opens(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = open_writer(data)
    first, second = entries(4), entries(3, start=4)
    indices(writer, first)
    # The process dies right after the second batch's COMMIT: no index write.
    writer.indexer.after_commit = lambda rows: None  # type: ignore[method-assign]
    assert indices(writer, second) == [(4, False), (5, False), (6, False)]
    writer.store.close()

    assert found(data, entry_type="synthetic") == [0, 1, 2, 3]  # not yet
    assert cli.main(fsck_argv(data)) == 0
    out = capsys.readouterr().out
    assert out.startswith("INTACT ") and "3 behind the log" in out

    again = open_writer(data)  # catches the index up before anything else
    try:
        assert again.store.index_state()[0] == 7
        assert found(data, entry_type="synthetic") == list(range(7))
        # The unacknowledged entries' clients retry: their original indices, no second copy.
        assert indices(again, [second[1], first[0], *entries(1, start=7)]) == [
            (5, True),
            (0, True),
            (7, False),
        ]
    finally:
        again.store.close()
    assert cli.main(fsck_argv(data)) == 0
    assert "covers all 8 entries" in capsys.readouterr().out


def test_a_failed_index_write_is_caught_up_before_the_next_commit(data: DataDir) -> None:
    writer = open_writer(data)
    try:
        real = writer.store.index_entries

        def fail(rows: Any) -> int:
            raise StoreError("the index file is on a full disk")

        writer.store.index_entries = fail  # type: ignore[method-assign]
        batch = entries(3)
        assert indices(writer, batch) == [(0, False), (1, False), (2, False)]  # acknowledged
        assert writer.indexer.behind
        assert writer.store.index_state()[0] == 0
        writer.store.index_entries = real  # type: ignore[method-assign]
        assert indices(writer, [batch[2], *entries(2, start=3)]) == [
            (2, True),
            (3, False),
            (4, False),
        ]
        assert not writer.indexer.behind
        assert found(data, entry_type="synthetic") == [0, 1, 2, 3, 4]
    finally:
        writer.store.close()


def test_an_idle_writer_catches_up_a_failed_index_write_by_itself(data: DataDir) -> None:
    writer = open_writer(data)
    try:
        real = writer.store.index_entries
        writer.store.index_entries = lambda rows: (_ for _ in ()).throw(  # type: ignore[method-assign]
            StoreError("busy")
        )
        indices(writer, entries(2))
        writer.store.index_entries = real  # type: ignore[method-assign]
        writer.probe()  # what the group committer runs while idle after a failure
        assert not writer.indexer.behind
        assert found(data, entry_type="synthetic") == [0, 1]
    finally:
        writer.store.close()


def test_an_index_that_is_not_a_prefix_of_the_log_is_rebuilt(data: DataDir) -> None:
    writer = open_writer(data)
    batch = entries(6)
    indices(writer, batch)
    writer.store.close()
    # The index now claims a last entry that is not this log's (a backup of another
    # state restored under it, a foreign file).
    _set_index_state(data, 6, b"\x01" * 32)
    again = open_writer(data)
    try:
        assert again.store.index_state()[0] == 6
        assert found(data, entry_type="synthetic") == list(range(6))
        assert indices(again, [batch[5]]) == [(5, True)]
    finally:
        again.store.close()


def test_a_restored_sqlite_backup_gets_its_index_rebuilt(tmp_path: Path) -> None:
    data = DataDir.at(tmp_path / "data")
    init_log(data, ORIGIN, synthetic=True)
    writer = open_writer(data)
    indices(writer, entries(4))
    writer.store.close()
    saved = tmp_path / "at-4.sqlite"
    conn = sqlite3.connect(data.db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copy(data.db_path, saved)
    writer = open_writer(data)
    indices(writer, entries(5, start=4))
    writer.store.close()
    # The log goes back to 4 entries; the index beside it still covers 9.
    for p in (data.db_path, Path(f"{data.db_path}-wal"), Path(f"{data.db_path}-shm")):
        p.unlink(missing_ok=True)
    shutil.copy(saved, data.db_path)
    again = open_writer(data)
    try:
        assert again.store.index_state()[0] == 4
        assert found(data, entry_type="synthetic") == [0, 1, 2, 3]
        assert indices(again, entries(1, start=100)) == [(4, False)]
    finally:
        again.store.close()


def test_fsck_names_an_index_that_disagrees_and_reindex_rebuilds_it(
    data: DataDir, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = open_writer(data)
    indices(writer, entries(10))
    writer.store.close()
    _edit_facet(data, 4, "not-synthetic")
    assert cli.main(fsck_argv(data)) == 4
    out = capsys.readouterr().out
    assert out.startswith("INTACT ") and "search index: does not match the log" in out
    assert "9 of them equal to the entry's" in out
    assert found(data, entry_type="synthetic") == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert cli.main(["reindex", *data_argv(data)]) == 0
    assert "Rebuilt the search index of 10 entries" in capsys.readouterr().out
    assert cli.main(fsck_argv(data)) == 0
    assert found(data, entry_type="synthetic") == list(range(10))


def test_a_version_2_sqlite_log_is_upgraded_by_its_writer(tmp_path: Path) -> None:
    """Version 2 kept eight secondary indexes and the full-text table in the log's file."""
    demo = build_demo(tmp_path / "demo").data
    want = found(demo, text="jailbreak")
    assert want
    shutil.rmtree(tmp_path / "demo" / "site-cache", ignore_errors=True)
    for p in (demo.root / "index.sqlite", *demo.root.glob("index.sqlite-*")):
        p.unlink()
    with sqlite3.connect(demo.db_path) as conn:
        for col in ("entry_type", "org", "run_id", "level", "cycle", "logged_at_ms"):
            conn.execute(f"CREATE INDEX idx_entries_{col} ON entries ({col})")
        conn.execute("CREATE UNIQUE INDEX idx_entries_envelope_hash ON entries (envelope_hash)")
        conn.execute("CREATE INDEX idx_entries_payload_type ON entries (payload_type)")
        conn.execute("CREATE VIRTUAL TABLE entries_fts USING fts5(text)")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="open it for writing once"):
        open_store(demo, readonly=True)
    writer = open_writer(demo)
    writer.store.close()
    with sqlite3.connect(demo.db_path) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert not {n for n in names if n.startswith(("idx_entries", "entries_fts"))}
    assert version == ("3",)
    assert found(demo, text="jailbreak") == want


def fsck_argv(data: DataDir) -> list[str]:
    return ["fsck", *data_argv(data)]


def data_argv(data: DataDir) -> list[str]:
    argv = ["--data", str(data.root)]
    return [*argv, "--database", data.database] if data.database else argv


def _set_index_state(data: DataDir, size: int, last: bytes) -> None:
    if data.database:
        with psycopg.connect(data.database, autocommit=True) as conn:
            conn.execute(
                "UPDATE index_state SET size = %s, last_leaf_hash = %s WHERE id = 1", (size, last)
            )
    else:
        with sqlite3.connect(data.root / "index.sqlite") as conn:
            conn.execute("UPDATE state SET size = ?, last_leaf_hash = ? WHERE id = 1", (size, last))


def _edit_facet(data: DataDir, index: int, entry_type: str) -> None:
    if data.database:
        with psycopg.connect(data.database, autocommit=True) as conn:
            conn.execute("UPDATE facets SET entry_type = %s WHERE idx = %s", (entry_type, index))
    else:
        with sqlite3.connect(data.root / "index.sqlite") as conn:
            conn.execute("UPDATE facets SET entry_type = ? WHERE idx = ?", (entry_type, index))


def test_a_version_1_postgresql_log_is_upgraded_by_its_writer(tmp_path: Path, pg_url: str) -> None:
    """Version 1 kept the secondary indexes and a tsvector column on ``entries``."""
    demo = build_demo(tmp_path / "demo", database=pg_url).data
    want = found(demo, text="jailbreak")
    assert want
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE index_state, envelopes, facets")
        conn.execute("ALTER TABLE entries ADD COLUMN tsv TSVECTOR")
        conn.execute("CREATE UNIQUE INDEX entries_envelope_hash ON entries (envelope_hash)")
        conn.execute("CREATE INDEX entries_entry_type ON entries (entry_type)")
        conn.execute("CREATE INDEX entries_tsv ON entries USING GIN (tsv)")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="open it for writing once"):
        open_store(demo, readonly=True)
    writer = open_writer(demo)
    writer.store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        indexes = {n for (n,) in conn.execute("SELECT indexname FROM pg_indexes")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert not {n for n in indexes if n.startswith("entries_") and n != "entries_pkey"}
    assert version == ("2",)
    assert found(demo, text="jailbreak") == want
