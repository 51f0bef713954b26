"""The SQLite snapshot at /downloads/ledger.sqlite: over a real server, and its cache.

The demo log served by ``frontier-ledger serve``: the download is an attachment,
opens with sqlite3, holds every entry exactly as logged, the same keys, findings
and checkpoint as the site's pages, and is built once per tree size. The cache is
also checked on a synthetic log that grows: one file per size, written
atomically, older ones pruned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from frontier_ledger import cli
from ledger.demo.build import DemoResult, build_demo
from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.storage.sqlite import SqliteStore
from public_site.sqlite_download import CACHE_DIR, build_snapshot, cached_snapshot
from tests.serverproc import ServerProcess
from verifier.core.leaf import parse_leaf


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, DemoResult]]:
    result = build_demo(tmp_path_factory.mktemp("snapshot-demo") / "data")
    root = result.data.root
    server = ServerProcess(root, extra=["--simulated-clock", str(root / "clock")])
    server.start()
    try:
        yield server, result
    finally:
        server.stop()


def download(server: ServerProcess, dest: Path) -> httpx.Response:
    r = httpx.get(server.url("/downloads/ledger.sqlite"), timeout=60)
    assert r.status_code == 200, r.text[:500]
    dest.write_bytes(r.content)
    return r


def twin(server: ServerProcess, path: str, **params: str) -> dict:
    r = httpx.get(server.url(path), params={**params, "format": "json"}, timeout=30)
    assert r.status_code == 200
    return r.json()


def test_download_is_an_attachment_that_opens_with_sqlite(demo, tmp_path: Path) -> None:
    server, result = demo
    r = download(server, tmp_path / "ledger.sqlite")
    size = result.entries + result.markers
    assert r.headers["content-type"] == "application/vnd.sqlite3"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert f'filename="ledger-{size}.sqlite"' in r.headers["content-disposition"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"entries", "keys", "findings", "checkpoint", "about", "entries_fts"} <= tables
    assert db.execute("SELECT count(*), min(idx), max(idx) FROM entries").fetchone() == (
        size,
        0,
        size - 1,
    )


def test_entries_are_the_logged_bytes_with_the_pages_facts(demo, tmp_path: Path) -> None:
    server, result = demo
    download(server, tmp_path / "s.sqlite")
    db = sqlite3.connect(tmp_path / "s.sqlite")
    db.row_factory = sqlite3.Row
    store = SqliteStore.open(result.data.db_path, readonly=True)
    try:
        for row in db.execute("SELECT * FROM entries ORDER BY idx"):
            logged = store.read_entry(row["idx"])
            assert logged is not None
            leaf = base64.b64decode(row["leaf"])
            assert leaf == logged.leaf
            assert base64.b64decode(row["leaf_hash"]) == hashlib.sha256(b"\0" + leaf).digest()
            assert row["type"] == parse_leaf(leaf).envelope.entry_type
            json.loads(row["signers"])
            if row["payload"] is not None:
                assert isinstance(json.loads(row["payload"]), dict)
    finally:
        store.close()
    # The same headline, organisation and signers as the entry list shows.
    listed = twin(server, "/entries")["entries"]
    for e in listed:
        row = db.execute(
            "SELECT headline, org, signers, logged_at FROM entries WHERE idx = ?", (e["index"],)
        ).fetchone()
        assert row["headline"] == e["headline"]
        assert row["org"] == e["org"]
        assert json.loads(row["signers"]) == e["signers"]
        assert row["logged_at"] == e["logged_at"]
    # A journalist's questions: every decision, and who signed each.
    decisions = db.execute("SELECT count(*) FROM entries WHERE type = 'decision'").fetchone()[0]
    assert decisions == len(twin(server, "/entries", type="decision")["entries"]) > 0
    runs = db.execute("SELECT count(DISTINCT run_id) FROM entries WHERE run_id IS NOT NULL")
    assert runs.fetchone()[0] > 0
    assert (
        db.execute("SELECT count(*) FROM signatures").fetchone()[0]
        >= db.execute("SELECT count(*) FROM entries").fetchone()[0]
    )
    # Full-text search (FTS5, found by Datasette by its name).
    hits = db.execute(
        "SELECT e.idx FROM entries_fts f JOIN entries e ON e.idx = f.rowid "
        "WHERE entries_fts MATCH 'fictional'"
    ).fetchall()
    assert hits


def test_keys_findings_and_checkpoint_match_the_site(demo, tmp_path: Path) -> None:
    server, result = demo
    download(server, tmp_path / "s.sqlite")
    db = sqlite3.connect(tmp_path / "s.sqlite")
    keys = twin(server, "/keys")["keys"]
    rows = db.execute("SELECT keyid, holder, roles, granted_at, revoked_at FROM keys").fetchall()
    assert {(k["keyid"], k["holder"], k["granted_at"], k["revoked_at"]) for k in keys} == {
        (r[0], r[1], r[3], r[4]) for r in rows
    }
    assert all(isinstance(json.loads(r[2]), list) for r in rows)
    compliance = twin(server, "/compliance")
    expected = sorted(
        (f["rule"], f["severity"], f["indices"], f["message"])
        for g in compliance["rules"]
        for f in g["findings"]
    )
    got = sorted(
        (rule, sev, json.loads(entries), msg)
        for rule, sev, entries, msg in db.execute(
            "SELECT rule, severity, entries, message FROM findings"
        )
    )
    assert got == expected
    assert db.execute("SELECT count(*) FROM rules").fetchone()[0] == len(compliance["all_rules"])
    checkpoint = httpx.get(server.url("/log/checkpoint"), timeout=30).text
    size, root, note = db.execute("SELECT size, root, note FROM checkpoint").fetchone()
    assert size == result.entries + result.markers
    assert note.split("\n\n")[0] == checkpoint.split("\n\n")[0]
    assert note.splitlines()[2] == root
    about = dict(db.execute("SELECT key, value FROM about"))
    assert "authoritative" in about["what"] and "frontier-verify" in about["what"]
    assert about["vkey"] == result.vkey
    assert about["tree_size"] == str(size)


def test_built_once_per_tree_size(demo, tmp_path: Path) -> None:
    server, result = demo
    first = download(server, tmp_path / "a.sqlite")
    cache = result.data.root / CACHE_DIR
    files = sorted(p.name for p in cache.iterdir())
    size = result.entries + result.markers
    assert files == [f"snapshot-{size}.sqlite"], files  # no temporary file left behind
    stat = (cache / files[0]).stat()
    second = download(server, tmp_path / "b.sqlite")
    assert second.content == first.content
    again = (cache / files[0]).stat()
    assert (again.st_ino, again.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


def test_cache_follows_a_growing_log(tmp_path: Path) -> None:
    data = tmp_path / "log"
    assert cli.main(["init", "--data", str(data), "--origin", "snap.test/log", "--synthetic"]) == 0
    cache = tmp_path / "cache"
    sizes = []
    for count in (5, 3, 4):
        assert cli.main(["synth", "--data", str(data), "--count", str(count)]) == 0
        store = SqliteStore.open(data / "ledger.sqlite", readonly=True)
        try:
            reader, view = LogReader(store), LogView(store)
            path = cached_snapshot(cache, reader, view)
            assert cached_snapshot(cache, reader, view) == path  # reused, not rebuilt
        finally:
            store.close()
        sizes.append(int(path.stem.split("-")[1]))
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == sizes[-1]
    assert sizes == [5, 8, 12]
    # The newest and the one before it (for downloads in flight); nothing half-written.
    assert sorted(p.name for p in cache.iterdir()) == [
        "snapshot-12.sqlite",
        "snapshot-8.sqlite",
    ]


def test_build_snapshot_replaces_a_file_atomically(tmp_path: Path) -> None:
    data = tmp_path / "log"
    assert cli.main(["init", "--data", str(data), "--origin", "snap.test/log", "--synthetic"]) == 0
    assert cli.main(["synth", "--data", str(data), "--count", "3"]) == 0
    out = tmp_path / "out" / "ledger.sqlite"
    out.parent.mkdir()
    out.write_bytes(b"an older file")
    store = SqliteStore.open(data / "ledger.sqlite", readonly=True)
    try:
        info = build_snapshot(LogReader(store), LogView(store), out, vkey="v")
    finally:
        store.close()
    assert (info.size, info.entries, info.keys) == (3, 3, 0)
    assert [p.name for p in out.parent.iterdir()] == ["ledger.sqlite"]
    with sqlite3.connect(out) as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == 3
        assert db.execute("SELECT value FROM about WHERE key = 'vkey'").fetchone()[0] == "v"
