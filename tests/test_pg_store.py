"""The PostgreSQL backend against a real PostgreSQL server (tests/pgserver.py), no mocks.

- ``init --database`` creates the schema in an empty database, writes the key
  files into DATA, and refuses a database that already holds a log (or tables of
  the same names) and a URL that is not PostgreSQL's; nothing is left behind.
- The writer commits with ``synchronous_commit = on`` even when the database's
  default is off, and holds the log's advisory lock.
- Two writers on one database never fork the log: a second ``serve`` refuses to
  become the writer (a read-only one serves alongside); with the advisory lock
  bypassed, a writer that finds the head locked gets HeadMoved, retries, and the
  final log verifies with every checkpoint consistent and one root per size.
- PostgreSQL restarted (``pg_ctl restart -m fast``, then stopped and started)
  while clients append through a real server: every acknowledged entry is in the
  log, appends during the outage get 503 with Retry-After (problem+json naming the
  database), and the same server process recovers by itself (appends succeed,
  /readyz is 200 again); a store's readers reconnect too.
- A writer whose idle connection was cut reconnects (and re-takes the lock)
  without failing the next batch; a batch whose connection is cut inside its
  transaction fails with StoreError and leaves nothing behind; a reader whose
  pooled connections were all cut answers on a new one.
- The documented backup (``pg_dump --format=custom`` while the writer runs) and
  restore (``pg_restore --single-transaction`` into a new database) round trip.
- Every search gives the same entries, in the same order, as SQLite's on the
  same log (the demo), text search included.
- The CLI round trip (init, synth, export) and the public site with its SQLite
  snapshot download work with the log in PostgreSQL.
- Without PostgreSQL's binaries these tests skip, or fail when
  FRONTIER_REQUIRE_POSTGRES=1 (as ``make test`` sets).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from frontier_ledger import cli
from ledger.demo.build import build_demo
from ledger.demo.synth import synthetic_envelopes
from ledger.errors import HeadMoved, StoreError
from ledger.keys.log_keys import load_key
from ledger.ops.datadir import DataDir
from ledger.storage.backends import open_store
from ledger.storage.postgres import PgStore
from ledger.storage.protocol import EntryRow, SearchQuery
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import LogWriter, prepare
from tests import pgserver
from tests.pgserver import PgCluster, cluster_or_skip, second_writer_store
from tests.serverproc import REPO, ServerProcess, run_cli, run_module, serve_demo
from tests.test_crash import canonical, fetch_leaves
from tests.test_read_api import approvals_in_log, log_leaves
from verifier.core import merkle
from verifier.core.checkpoint import open_checkpoint
from verifier.core.leaf import parse_leaf
from verifier.core.merkle import leaf_hash, tree_root
from verifier.core.note import parse_vkey
from verifier.core.prover import Prover

ORIGIN = "pg.example/log"
JSON = {"content-type": "application/json"}
#: Bounded loops: attempts per append, polls while waiting for progress or recovery.
MAX_ATTEMPTS = 3000
RETRY_SLEEP_S = 0.02
POLLS = 600


def entries(n: int, start: int = 0) -> list[Any]:
    return [prepare(e) for e in synthetic_envelopes(ORIGIN, n, start)]


def new_log(root: Path, url: str, *, synthetic: bool = True) -> DataDir:
    data = DataDir.at(root, database=url)
    init_log(data, ORIGIN, synthetic=synthetic)
    return data


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


# -- init and open ---------------------------------------------------------------------


def test_init_creates_the_schema_in_the_database_and_the_keys_in_data(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d1 = tmp_path / "one"
    argv = ["init", "--data", str(d1), "--database", pg_url, "--origin", ORIGIN, "--synthetic"]
    assert cli.main(argv) == 0
    assert f"PostgreSQL database {pg_url}" in capsys.readouterr().out
    assert (d1 / "log.key").stat().st_mode & 0o777 == 0o600
    assert (d1 / "log.vkey").is_file()
    assert not (d1 / "ledger.sqlite").exists()
    with psycopg.connect(pg_url) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        types = dict(
            conn.execute(
                "SELECT table_name || '.' || column_name, data_type "
                "FROM information_schema.columns WHERE table_schema = 'public'"
            ).fetchall()
        )
    assert (meta["origin"], meta["profile"], meta["schema_version"]) == (ORIGIN, "synthetic", "2")
    assert types["entries.leaf"] == types["tiles.data"] == types["head.root"] == "bytea"
    assert types["entries.idx"] == types["checkpoints.size"] == "bigint"
    assert types["facets.tsv"] == "tsvector"
    assert "entries.tsv" not in types  # the search index is in tables of its own

    # A second init into another directory, same database: refused, nothing written.
    d2 = tmp_path / "two"
    argv[2] = str(d2)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds a frontier-ledger log (log 'pg.example/log')" in err
    assert not (d2 / "log.key").exists() and not (d2 / "log.vkey").exists()
    store = open_store(DataDir.at(d1, database=pg_url), readonly=True)
    assert store.head().size == 0
    store.close()


def test_init_refuses_foreign_tables_and_urls_that_are_not_postgresql(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tiles (x int)")
    argv = ["init", "--data", str(tmp_path / "d"), "--origin", ORIGIN]
    assert cli.main([*argv, "--database", pg_url]) == 2
    assert "already has tables named tiles; use an empty database" in capsys.readouterr().err
    assert not (tmp_path / "d" / "log.key").exists()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('meta')").fetchone() == (None,)

    assert cli.main([*argv, "--database", "mysql://ledger@db/ledger"]) == 2
    assert "--database takes a PostgreSQL URL" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_open_refuses_a_database_without_a_log_and_a_directory_without_keys(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreError, match="holds no frontier-ledger log"):
        PgStore.open(pg_url, tmp_path)
    new_log(tmp_path / "data", pg_url)
    # The log is in the database, but this directory has no key files: refused.
    empty = tmp_path / "empty"
    argv = ["synth", "--data", str(empty), "--database", pg_url, "--count", "1"]
    assert cli.main(argv) == 2
    assert "no log key files" in capsys.readouterr().err
    assert not empty.exists()


def test_writer_commits_durably_whatever_the_database_default(tmp_path: Path, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{db_name(pg_url)}" SET synchronous_commit = off')
    data = new_log(tmp_path / "data", pg_url)
    writer = open_writer(data)
    try:
        settings = writer.store.writer_settings()  # type: ignore[attr-defined]
        assert settings["synchronous_commit"] == "on"  # set explicitly by the writer
        assert settings["fsync"] == "on"
        assert settings["advisory_lock"] is True
        with psycopg.connect(pg_url) as other:  # what any other session gets
            assert other.execute("SHOW synchronous_commit").fetchone() == ("off",)
        assert writer.commit(entries(3))[2].tree_size == 3
    finally:
        writer.store.close()


# -- two writers on one database --------------------------------------------------------


class PausingSigner:
    """Signs like the log key, but the first signature waits until the test says go:
    the writer is then inside its transaction, head locked, about to publish."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.key_id = inner.key_id
        self.signing = threading.Event()
        self.go = threading.Event()

    def sign(self, message: bytes) -> bytes:
        if not self.go.is_set():
            self.signing.set()
            assert self.go.wait(30), "the test never released the signer"
        return bytes(self.inner.sign(message))


@dataclass
class Published:
    """Every checkpoint a writer was handed back, by size (one root per size, or a fork)."""

    roots: dict[int, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, note: bytes, vkey: Any) -> None:
        cp = open_checkpoint(note, vkey)
        with self.lock:
            assert self.roots.setdefault(cp.size, cp.root) == cp.root, f"fork at size {cp.size}"


def test_interleaved_writers_without_the_advisory_lock_never_fork(
    tmp_path: Path, pg_url: str
) -> None:
    data = new_log(tmp_path / "data", pg_url)
    vkey = parse_vkey(data.vkey_path.read_text().strip())
    key = load_key(data.key_path)
    pausing = PausingSigner(key)
    a = LogWriter(second_writer_store(data), pausing)  # type: ignore[arg-type]
    b = LogWriter(second_writer_store(data), key)
    published = Published()
    try:
        # A locks the head and stops just before signing; B, meanwhile, must not
        # publish anything: it gets HeadMoved at once and nothing of it is written.
        result: list[Any] = []
        t = threading.Thread(target=lambda: result.extend(a.commit(entries(5))))
        t.start()
        assert pausing.signing.wait(30)
        with pytest.raises(HeadMoved, match="head row is locked"):
            b.commit(entries(3, start=100))
        assert b.store.head().size == 0
        assert b.store.read_entry(0) is None
        pausing.go.set()
        t.join(30)
        assert [r.index for r in result] == [0, 1, 2, 3, 4]
        published.add(result[0].checkpoint, vkey)
        # B retries from the head A published.
        again = b.commit(entries(3, start=100))
        assert [r.index for r in again] == [5, 6, 7]
        published.add(again[0].checkpoint, vkey)

        # Then both commit as fast as they can, each retrying (bounded) what it loses.
        moved = [0, 0]
        failures: list[BaseException] = []

        def run(w: LogWriter, who: int) -> None:
            try:
                commit_many(w, who)
            except BaseException as exc:
                failures.append(exc)

        def commit_many(w: LogWriter, who: int) -> None:
            for k in range(40):
                batch = entries(4, start=10_000 * (who + 1) + 4 * k)
                for _ in range(500):
                    try:
                        receipts = w.commit(batch)
                        break
                    except HeadMoved:
                        moved[who] += 1
                else:
                    raise AssertionError("a writer never got through")
                for r in receipts:
                    published.add(r.checkpoint, vkey)

        threads = [threading.Thread(target=run, args=(w, i)) for i, w in enumerate((a, b))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert not any(th.is_alive() for th in threads)
        assert not failures, failures
    finally:
        pausing.go.set()
        a.store.close()
        b.store.close()

    size = 5 + 3 + 2 * 40 * 4
    assert_log_consistent(data, size, published)


def assert_log_consistent(data: DataDir, size: int, published: Published) -> None:
    """The head verifies; every stored checkpoint is consistent with it and matches every
    checkpoint a writer was given for its size; no envelope is logged twice."""
    vkey = parse_vkey(data.vkey_path.read_text().strip())
    store = open_store(data, readonly=True)
    try:
        head = open_checkpoint(store.head().checkpoint, vkey)
        assert head.size == size
        prover = Prover(store.read_tile)
        assert prover.root(size) == head.root
        leaves = store.read_leaves(0, size)
        assert tree_root([leaf_hash(x) for x in leaves]) == head.root
        assert len({parse_leaf(x).envelope.payload for x in leaves}) == size
        sizes = list(store.checkpoint_sizes())
        for s in sizes:
            note = store.read_checkpoint(s)
            assert note is not None
            cp = open_checkpoint(note, vkey)
            assert published.roots.get(s, cp.root) == cp.root, f"two roots for size {s}"
            merkle.verify_consistency(s, size, cp.root, head.root, prover.consistency(s, size))
        assert set(published.roots) <= set(sizes)
    finally:
        store.close()


def test_a_second_root_for_a_size_is_never_stored(tmp_path: Path, pg_url: str) -> None:
    data = new_log(tmp_path / "data", pg_url)
    writer = open_writer(data)
    try:
        receipts = writer.commit(entries(4))
        note = writer.store.read_checkpoint(4)
        with pytest.raises(HeadMoved, match="different root"), writer.store.writing() as tx:
            tx.insert_entries(
                [EntryRow(4, b"x", b"h" * 32, b"e" * 32, 1, "application/vnd.test.x.v1+json")]
            )
            tx.put_checkpoint(4, b"\x00" * 32, b"forged note", 1)
        assert writer.store.read_checkpoint(4) == note
        assert writer.store.read_entry(4) is None  # the whole transaction was rolled back
        assert writer.store.head().checkpoint == receipts[0].checkpoint
        assert writer.commit(entries(1, start=50))[0].index == 4
    finally:
        writer.store.close()


def test_a_second_server_refuses_to_become_the_writer(tmp_path: Path, pg_url: str) -> None:
    d1 = tmp_path / "one"
    new_log(d1, pg_url)
    d2 = tmp_path / "two"  # another machine's data directory: the same key, the same database
    d2.mkdir()
    for name in ("log.key", "log.vkey"):
        shutil.copy2(d1 / name, d2 / name)
    first = ServerProcess(d1, database=pg_url)
    second = ServerProcess(d2, database=pg_url)
    replica = ServerProcess(d2, database=pg_url, extra=["--read-only"])
    envs = iter(synthetic_envelopes(ORIGIN, 100))
    first.start()
    try:
        with httpx.Client(timeout=30) as http:
            r = http.post(first.url("/api/v1/entries"), content=canonical(next(envs)), headers=JSON)
            assert r.status_code == 201, r.text
            proc = second._spawn()
            try:
                assert proc.wait(60) != 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(30)
            log = second.log_path.read_text()
            assert f"another frontier-ledger process is the writer of log {ORIGIN!r}" in log
            assert f"PostgreSQL database {pg_url}" in log
            # The first keeps appending; a read-only server beside it serves the same log.
            r = http.post(first.url("/api/v1/entries"), content=canonical(next(envs)), headers=JSON)
            assert (r.status_code, r.json()["index"]) == (201, 1)
            replica.start()
            try:
                assert (
                    http.get(replica.url("/log/checkpoint")).content
                    == http.get(first.url("/log/checkpoint")).content
                )
                r = http.post(
                    replica.url("/api/v1/entries"), content=canonical(next(envs)), headers=JSON
                )
                assert r.status_code == 503
            finally:
                replica.stop()
            # Once the first has stopped (its session ended), the second may take over.
            first.stop()
            second.start()
            r = http.post(
                second.url("/api/v1/entries"), content=canonical(next(envs)), headers=JSON
            )
            assert (r.status_code, r.json()["index"]) == (201, 2)
    finally:
        first.stop()
        second.stop()


def terminate_sessions(url: str, where: str = "true") -> int:
    """pg_terminate_backend every frontier-ledger session on the database (as a restart
    or an idle timeout would); return how many."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = %s AND application_name = 'frontier-ledger' AND {where}",
            (db_name(url),),
        ).fetchall()
    return len(rows)


def test_writer_reconnects_when_its_idle_connection_was_cut(tmp_path: Path, pg_url: str) -> None:
    data = new_log(tmp_path / "data", pg_url)
    writer = open_writer(data)
    try:
        writer.commit(entries(3))
        assert terminate_sessions(pg_url) >= 1
        # Nothing of the next batch had been sent: it goes through on a new connection,
        # which takes the advisory lock again.
        assert [r.index for r in writer.commit(entries(2, start=10))] == [3, 4]
        assert writer.store.writer_settings()["advisory_lock"] is True  # type: ignore[attr-defined]
    finally:
        writer.store.close()


def test_readers_reconnect_when_every_pooled_connection_was_cut(
    tmp_path: Path, pg_url: str
) -> None:
    data = new_log(tmp_path / "data", pg_url)
    store = open_store(data, readonly=True)
    try:
        # Four reads at once leave four idle connections in the store's pool.
        threads = [
            threading.Thread(
                target=store._read, args=(lambda c: c.execute("SELECT pg_sleep(0.3)"),)
            )  # type: ignore[union-attr]
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(store._idle) == 4  # type: ignore[union-attr]
        assert terminate_sessions(pg_url) == 4  # as a restart would
        assert store.head().size == 0  # one read, answered on a new connection
        assert store.read_checkpoint(0) is not None
    finally:
        store.close()


def test_a_batch_cut_mid_transaction_is_not_acknowledged(tmp_path: Path, pg_url: str) -> None:
    data = new_log(tmp_path / "data", pg_url)
    pausing = PausingSigner(load_key(data.key_path))
    writer = LogWriter(open_store(data), pausing)  # type: ignore[arg-type]
    outcome: list[Any] = []

    def commit() -> None:
        try:
            outcome.append(writer.commit(entries(4)))
        except Exception as exc:
            outcome.append(exc)

    try:
        t = threading.Thread(target=commit)
        t.start()
        assert pausing.signing.wait(30)  # inside the transaction, head locked
        assert terminate_sessions(pg_url, "state = 'idle in transaction'") == 1
        pausing.go.set()
        t.join(30)
        (exc,) = outcome
        assert isinstance(exc, StoreError), exc
        assert "nothing was acknowledged" in str(exc) and "PostgreSQL database" in str(exc)
        reader = open_store(data, readonly=True)
        assert reader.head().size == 0 and reader.read_entry(0) is None
        reader.close()
        # The next batch reconnects, re-reads the head and is logged from index 0.
        assert [r.index for r in writer.commit(entries(2, start=50))] == [0, 1]
    finally:
        pausing.go.set()
        writer.store.close()


# -- PostgreSQL restarted under load ------------------------------------------------------


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own: it is restarted and stopped under the test's feet."""
    cluster = cluster_or_skip()
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Appends:
    server: ServerProcess
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)
    unavailable: list[httpx.Response] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def client(self, cid: int) -> None:
        envelopes = synthetic_envelopes(ORIGIN, 10**6, (cid + 1) * 10**6)
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                body = canonical(next(envelopes)).encode()
                for _ in range(MAX_ATTEMPTS):  # the same envelope until it is answered
                    if self.stop.is_set():
                        return
                    try:
                        r = http.post(
                            self.server.url("/api/v1/entries"), content=body, headers=JSON
                        )
                    except httpx.TransportError as exc:
                        with self.lock:
                            self.errors.append(f"client {cid}: the server went away: {exc}")
                        return
                    if r.status_code == 503:
                        with self.lock:
                            self.unavailable.append(r)
                        time.sleep(RETRY_SLEEP_S)
                        continue
                    with self.lock:
                        if r.status_code in (200, 201):
                            self.acks.append((body, r.json()))
                        else:
                            self.errors.append(f"client {cid}: HTTP {r.status_code}: {r.text}")
                    break

    def wait_for(self, more: int) -> None:
        target = len(self.acks) + more
        for _ in range(POLLS):
            if len(self.acks) >= target or self.errors:
                return
            time.sleep(0.05)


def writer_locks_held(url: str) -> int:
    """Advisory locks held by frontier-ledger sessions on the database (the writer's)."""
    with psycopg.connect(url) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND a.application_name = 'frontier-ledger' AND a.datname = %s",
            (db_name(url),),
        ).fetchone()
    return int(row[0]) if row else 0


def assert_unavailable(r: httpx.Response, url: str) -> None:
    """A 503 a client can act on: Retry-After, problem+json, naming the database."""
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"].isdigit()
    assert r.headers["content-type"].startswith("application/problem+json")
    detail = r.json()["detail"]
    assert f"PostgreSQL database {url}" in detail, detail


def test_postgresql_restart_loses_nothing_acknowledged_and_recovers(
    tmp_path: Path, own_cluster: PgCluster
) -> None:
    url = own_cluster.new_database()
    data = new_log(tmp_path / "data", url)
    vkey = parse_vkey(data.vkey_path.read_text().strip())
    server = ServerProcess(data.root, database=url)
    server.start()
    pid = server.proc.pid if server.proc else None
    appends = Appends(server)
    clients = [threading.Thread(target=appends.client, args=(i,)) for i in range(2)]
    reader = open_store(data, readonly=True)  # a store's readers reconnect by themselves
    http = httpx.Client(timeout=30)
    try:
        for t in clients:
            t.start()
        appends.wait_for(30)
        before_restart = reader.head().size
        own_cluster.restart("fast")  # every session is ended, mid-append
        appends.wait_for(30)
        appends.stop.set()
        for t in clients:
            t.join(60)
        assert not any(t.is_alive() for t in clients)
        assert not appends.errors, appends.errors[:3]
        assert reader.head().size >= before_restart + 30  # the same store, reconnected
        for r in appends.unavailable:
            assert_unavailable(r, url)

        # A deliberate outage: appends and reads answer 503, naming the database.
        own_cluster.stop_server()
        body = canonical(next(iter(synthetic_envelopes(ORIGIN, 1, 5 * 10**6))))
        assert_unavailable(
            http.post(server.url("/api/v1/entries"), content=body, headers=JSON), url
        )
        assert_unavailable(
            http.post(server.url("/api/v1/entries"), content=body, headers=JSON), url
        )
        assert http.get(server.url("/readyz")).status_code == 503
        assert http.get(server.url("/log/checkpoint")).status_code == 503
        with pytest.raises(StoreError, match="PostgreSQL database"):
            reader.head()

        # Back: the same server process recovers by itself.
        own_cluster.start_server()
        for _ in range(POLLS):
            if http.get(server.url("/readyz")).status_code == 200:
                break
            time.sleep(0.05)
        assert http.get(server.url("/readyz")).status_code == 200
        # Ready before any append: the writer's probe reconnected and re-took the lock.
        assert writer_locks_held(url) == 1
        r = http.post(server.url("/api/v1/entries"), content=body, headers=JSON)
        assert r.status_code == 201, r.text
        acks = [*appends.acks, (body.encode(), r.json())]
        assert server.running and server.starts == 1 and server.proc and server.proc.pid == pid

        # Every acknowledged entry is in the log, at its index, as acknowledged.
        final = open_checkpoint(http.get(server.url("/log/checkpoint")).content, vkey)
        leaves = fetch_leaves(http, server, final.size)
        assert tree_root([leaf_hash(x) for x in leaves]) == final.root
        logged = [canonical(parse_leaf(x).envelope.to_json_obj()) for x in leaves]
        assert len(set(logged)) == final.size, "an envelope is logged twice"
        for sent, receipt in acks:
            index = receipt["index"]
            assert logged[index] == sent.decode()
            open_checkpoint(receipt["checkpoint"].encode(), vkey)
        assert len(acks) >= 61
        print(
            f"\nrestart test: {len(acks)} acknowledged, {len(appends.unavailable)} answered 503 "
            f"during the restart, final size {final.size}"
        )
    finally:
        appends.stop.set()
        http.close()
        reader.close()
        server.stop()


# -- the CLI and the site on PostgreSQL ------------------------------------------------------


def test_cli_round_trip_synth_export_verify(tmp_path: Path, pg_url: str) -> None:
    data = new_log(tmp_path / "data", pg_url)
    db = ["--database", pg_url]
    run_cli("synth", "--data", str(data.root), *db, "--count", "700", "--batch", "256")
    out = tmp_path / "mirror"
    assert "tree size 700" in run_cli("export", "--data", str(data.root), *db, str(out))
    vkey = data.vkey_path.read_text().strip()
    verify = subprocess.run(
        [sys.executable, "-m", "verifier.cli", "verify", "--log", str(out), "--vkey", vkey],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert not (data.root / "ledger.sqlite").exists()


def test_pg_dump_and_pg_restore_as_documented(tmp_path: Path, pg_cluster: PgCluster) -> None:
    """docs/operator.md's backup and restore: pg_dump --format=custom while the writer is
    open, pg_restore --single-transaction into a new database, which then serves and
    extends the log as it was at the dump."""
    url = pg_cluster.new_database()
    data = new_log(tmp_path / "data", url)
    writer = open_writer(data)
    dump = tmp_path / "ledger.dump"
    try:
        writer.commit(entries(300))
        tool = pg_cluster.bindir
        subprocess.run([tool / "pg_dump", "--format=custom", f"--file={dump}", url], check=True)
        writer.commit(entries(5, start=1000))  # after the dump: not in it
        original = writer.store.read_leaves(0, 300)
    finally:
        writer.store.close()
    restored = pg_cluster.new_database()
    subprocess.run(
        [
            tool / "pg_restore",
            f"--dbname={restored}",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            dump,
        ],
        check=True,
    )
    again = open_writer(DataDir.at(data.root, database=restored))
    try:
        assert again.store.head().size == 300
        assert again.store.read_leaves(0, 300) == original
        assert len(again.store.search(SearchQuery(limit=500))) == 300  # type: ignore[attr-defined]
        assert again.commit(entries(1, start=5000))[0].index == 300
    finally:
        again.store.close()
        pg_cluster.drop_database(url)
        pg_cluster.drop_database(restored)


SEARCHES = [
    SearchQuery(),
    SearchQuery(limit=7, after=20),
    SearchQuery(newest_first=True, limit=10),
    SearchQuery(entry_type="decision"),
    SearchQuery(org="borealis"),
    SearchQuery(run_id="acme-2027"),
    SearchQuery(level=2),
    SearchQuery(cycle=2028, newest_first=True),
    SearchQuery(since_ms=1_830_000_000_000, until_ms=1_850_000_000_000),
    SearchQuery(text="jailbreak"),
    SearchQuery(text="JAILBREAK!"),
    SearchQuery(text="Multi-turn JAILBREAK"),  # both words, any case, punctuation ignored
    SearchQuery(text="jailbreak nowhere-to-be-found"),
    SearchQuery(text="jail"),  # whole words only
    SearchQuery(text="Bio-Uplift"),
    SearchQuery(text="acme-2027"),
    SearchQuery(text="--"),
    SearchQuery(text=""),
    SearchQuery(text='"; DROP TABLE entries; --'),
    SearchQuery(text="jailbreak", entry_type="eval_result"),
    SearchQuery(text="the", newest_first=True, limit=3),
]


def test_search_answers_as_with_sqlite(tmp_path: Path, pg_url: str) -> None:
    """The same governed log (the demo) in both backends: every search gives the same
    entries, in the same order (the full-text index is PostgreSQL's own)."""
    in_sqlite = build_demo(tmp_path / "sqlite").data
    in_pg = build_demo(tmp_path / "pg", database=pg_url).data
    a, b = open_store(in_sqlite, readonly=True), open_store(in_pg, readonly=True)
    try:
        assert a.read_leaves(0, 10**6) == b.read_leaves(0, 10**6)  # the same log
        found = 0
        for q in SEARCHES:
            want = [(r.index, r.facets) for r in a.search(q)]
            assert [(r.index, r.facets) for r in b.search(q)] == want, q
            found += bool(want)
        assert found >= len(SEARCHES) - 5  # the queries do find things
    finally:
        a.close()
        b.close()


def test_site_and_sqlite_download_of_a_postgresql_log(
    tmp_path_factory: pytest.TempPathFactory, pg_url: str, tmp_path: Path
) -> None:
    fixture = serve_demo(tmp_path_factory, "pg-demo", database=pg_url)
    server, result = next(fixture)
    try:
        with httpx.Client(timeout=60) as http:
            size = open_checkpoint(
                http.get(server.url("/log/checkpoint")).content, parse_vkey(result.vkey)
            ).size
            assert http.get(server.url("/")).status_code == 200
            page = http.get(server.url("/entries"), params={"q": "jailbreak"})
            assert page.status_code == 200 and "/entries/" in page.text
            # The register, read from PostgreSQL: exactly the approvals in the log's own
            # entry bundles, each with its lab's registered name (found by a search).
            register = http.get(server.url("/register"), params={"format": "json"}).json()
            models = register["models"]
            got = {m["decision"]: (m["lab"], m["level"], m["cycle"]) for m in models}
            assert got == approvals_in_log(log_leaves(server)) and got
            assert all(m["lab_name"] not in ("", m["lab"]) for m in models)
            r = http.get(server.url("/downloads/ledger.sqlite"))
            assert r.status_code == 200, r.text[:300]
            assert r.headers["content-type"] == "application/vnd.sqlite3"
        snapshot = tmp_path / "ledger.sqlite"
        snapshot.write_bytes(r.content)
        conn = sqlite3.connect(snapshot)
        try:
            assert conn.execute("SELECT count(*) FROM entries").fetchone() == (size,)
            assert conn.execute("SELECT size FROM checkpoint").fetchone() == (size,)
            hits = conn.execute(
                "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'jailbreak'"
            ).fetchone()
            assert hits[0] > 0
        finally:
            conn.close()
        # Cached in the data directory, as with SQLite.
        assert list((result.data.root / "site-cache").glob(f"snapshot-{size}.sqlite"))
    finally:
        fixture.close()


# -- the test cluster itself ------------------------------------------------------------------


def test_missing_postgresql_skips_or_fails_as_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgserver, "BIN_GLOB", "/nonexistent/*/bin")
    monkeypatch.delenv(pgserver.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="make postgres"):
        pgserver.cluster_or_skip()
    monkeypatch.setenv(pgserver.REQUIRE_ENV, "1")  # make test: a missing server is a failure
    with pytest.raises(pytest.fail.Exception, match="FRONTIER_REQUIRE_POSTGRES=1 but PostgreSQL"):
        pgserver.cluster_or_skip()


def _restore_check(data: DataDir, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(
        "frontier_ledger",
        *("restore", "--data", str(data.root), "--database", url, "--no-ask-witnesses", *args),
        timeout=120,
    )


def test_restore_checks_a_pg_restored_database_before_it_is_served(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """'restore --database' on what pg_restore loaded: refused if it would roll back a
    checkpoint someone holds, or if it is damaged; accepted when it keeps them all."""
    url = pg_cluster.new_database()
    data = new_log(tmp_path / "data", url)
    writer = open_writer(data)
    dump = tmp_path / "ledger.dump"
    tool = pg_cluster.bindir
    try:
        writer.commit(entries(300))
        at_dump = writer.store.head().checkpoint
        subprocess.run([tool / "pg_dump", "--format=custom", f"--file={dump}", url], check=True)
        writer.commit(entries(5, start=1000))  # acknowledged after the dump
        later = writer.store.head().checkpoint
    finally:
        writer.store.close()
    restored = pg_cluster.new_database()
    subprocess.run(
        [tool / "pg_restore", f"--dbname={restored}", "--no-owner", "--single-transaction", dump],
        check=True,
    )
    (tmp_path / "later.checkpoint").write_bytes(later)
    (tmp_path / "at-dump.checkpoint").write_bytes(at_dump)
    try:
        out = _restore_check(data, restored, "--checkpoint", str(tmp_path / "later.checkpoint"))
        assert out.returncode == 2 and "would roll back 5 entries" in out.stderr, out.stderr
        out = _restore_check(data, restored)
        assert out.returncode == 2 and "no witnessed checkpoint" in out.stderr, out.stderr
        out = _restore_check(data, restored, "--checkpoint", str(tmp_path / "at-dump.checkpoint"))
        assert out.returncode == 0, out.stderr
        assert "holds tree size 300" in out.stdout and "safe to serve" in out.stdout
        # A damaged leaf in the restored database is found by re-hashing every entry.
        with psycopg.connect(restored, autocommit=True) as conn:
            conn.execute("UPDATE entries SET leaf = leaf || '\\x20'::bytea WHERE idx = 7")
        out = _restore_check(data, restored, "--checkpoint", str(tmp_path / "at-dump.checkpoint"))
        assert out.returncode == 2 and "entry 7: its stored leaf" in out.stderr, out.stderr
    finally:
        pg_cluster.drop_database(restored)
        pg_cluster.drop_database(url)
