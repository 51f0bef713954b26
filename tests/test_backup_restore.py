"""Online backups and ``frontier-ledger restore`` against real witnesses.

A log with two witnesses (real ``frontier-verify witness serve`` processes) and a
2-of-2 policy. Backups are taken while a real server appends; then the server is
stopped and restores are tried:

- a backup older than what the witnesses cosigned is refused (the witnesses say
  their size; the replaced database's cosignatures say it; a checkpoint file says
  it) and nothing in the data directory changes;
- a backup that holds as many entries but forks from the cosigned checkpoint is
  refused;
- a backup of another log, a damaged file, a restore under a running server: refused;
- the newest backup is restored, the server starts on it, the witnesses cosign
  its next checkpoint (they accept the consistency proof), and ``frontier-verify``
  checks the restored log.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.recovery.backup import check_backup_file, list_backups
from ledger.write.open_log import open_writer
from ledger.write.sequencer import prepare
from tests.serverproc import ServerProcess, init_test_log, make_envelopes, run_module
from tests.witnessproc import two_witnesses
from verifier.core.note import parse_note, parse_vkey

ORIGIN = "restore.example/log"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("frontier_ledger", *args, timeout=120)


def append(server: ServerProcess, n: int, start: int) -> int:
    for env in make_envelopes(ORIGIN, n, start):
        r = httpx.post(server.url("/api/v1/entries"), json=env, timeout=30)
        assert r.status_code == 201, r.text
    return int(httpx.get(server.url("/log/checkpoint")).text.split("\n")[1])


def wait_cosigned(server: ServerProcess, size: int) -> bytes:
    deadline = time.monotonic() + 30
    while True:
        note = httpx.get(server.url("/log/checkpoint")).content
        if int(note.split(b"\n")[1]) == size and len(parse_note(note).signatures) == 3:
            return note
        assert time.monotonic() < deadline, f"not cosigned by both witnesses: {note!r}"
        time.sleep(0.1)


def digest_dir(root: Path) -> dict[str, str]:
    """What a restore could change under *root*, made comparable: "nothing changed".

    The database is compared by what it means — its head, every checkpoint and every
    leaf — not by its bytes: a server that stops checkpoints its WAL into the file, and
    a reader may leave SQLite's shared-memory index behind, without changing the log.
    Every other file (keys, vkeys, policy, blobs, kept databases) is compared by content.
    """
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == "ledger.lock" or p.name.endswith(("-shm", "-wal")):
            continue
        rel = str(p.relative_to(root))
        if p.name == "ledger.sqlite" and p.parent == root:
            out[rel] = _log_content(p)
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _log_content(db: Path) -> str:
    """The log in a SQLite database as one digest: head, checkpoints, leaves (read-only)."""
    from ledger.storage.sqlite import SqliteStore

    store = SqliteStore.open(db, readonly=True)
    try:
        h = hashlib.sha256()
        head = store.head()
        h.update(b"head %d %s %s" % (head.size, head.root.hex().encode(), head.checkpoint))
        for size in store.checkpoint_sizes():
            h.update(b"checkpoint %d " % size + (store.read_checkpoint(size) or b""))
        for leaf in store.iter_leaves():
            h.update(hashlib.sha256(leaf).digest())
        return h.hexdigest()
    finally:
        store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("restore")
    data, vkey = init_test_log(root / "data", ORIGIN)
    w1, w2 = two_witnesses(root, vkey, data.root)
    for w in (w1, w2):
        w.start()
    backups = root / "backups"
    server = ServerProcess(
        data.root,
        extra=[
            "--witness-interval",
            "0.2",
            "--backup-dir",
            str(root / "scheduled"),
            "--backup-interval",
            "1",
            "--backup-keep",
            "2",
        ],
    )
    server.start()
    try:
        # Backup 1 at size 5, taken while another client keeps appending.
        size = append(server, 5, 0)
        wait_cosigned(server, size)
        stop = threading.Event()
        busy_errors: list[str] = []

        def busy() -> None:
            n = 1000
            while not stop.is_set():
                r = httpx.post(
                    server.url("/api/v1/entries"), json=make_envelopes(ORIGIN, 1, n)[0], timeout=30
                )
                if r.status_code != 201:
                    busy_errors.append(r.text)
                n += 1

        out = cli("backup", "--data", str(data.root), str(backups / "one"))
        assert out.returncode == 0, out.stderr
        b1 = list_backups(backups / "one")[0]
        t = threading.Thread(target=busy)
        t.start()
        try:
            time.sleep(0.5)
            out = cli("backup", "--data", str(data.root), str(backups / "online"))
            assert out.returncode == 0, out.stderr
        finally:
            stop.set()
            t.join(timeout=60)
        assert not busy_errors
        size = append(server, 5, 100)
        cosigned = wait_cosigned(server, size)
        out = cli("backup", "--data", str(data.root), str(backups / "two"))
        assert out.returncode == 0, out.stderr
        b2 = list_backups(backups / "two")[0]
        metrics = httpx.get(server.url("/metrics")).text
        yield {
            "root": root,
            "data": data,
            "vkey": vkey,
            "server": server,
            "b1": b1,
            "b2": b2,
            "online": list_backups(backups / "online")[0],
            "cosigned": cosigned,
            "size": size,
            "metrics": metrics,
            "scheduled": root / "scheduled",
        }
    finally:
        server.stop()
        w1.stop()
        w2.stop()


def test_backups_are_whole_logs_named_by_size(world: dict) -> None:
    vkeys = [parse_vkey(world["vkey"])]
    assert check_backup_file(world["b1"], vkeys).size == 5
    assert check_backup_file(world["b2"], vkeys).size == world["size"]
    # Taken while appends were committing: still one consistent snapshot.
    online = check_backup_file(world["online"], vkeys)
    assert 5 <= online.size <= world["size"]
    assert world["b2"].name.endswith(f"-size{world['size']}.sqlite")
    # A backup is one self-contained file: no -wal or -shm beside it.
    assert sorted(p.name for p in world["b2"].parent.iterdir()) == [world["b2"].name]


def test_scheduled_backups_run_and_keep_the_newest(world: dict) -> None:
    names = [p.name for p in list_backups(world["scheduled"])]
    assert 1 <= len(names) <= 2, names  # --backup-keep 2, the job ran every second
    line = next(
        ln
        for ln in world["metrics"].splitlines()
        if ln.startswith("frontier_backup_last_success_timestamp_seconds ")
    )
    assert abs(float(line.split()[1]) - time.time()) < 600
    assert "frontier_backup_failures_total 0" in world["metrics"]


def test_restore_under_a_running_server_is_refused(world: dict) -> None:
    server = world["server"]
    if not server.running:
        server.start()
    before = digest_dir(world["data"].root)
    out = cli("restore", "--data", str(world["data"].root), str(world["b2"]))
    assert out.returncode == 2
    assert "another frontier-ledger process is writing" in out.stderr
    server.stop()
    assert digest_dir(world["data"].root) == before


def test_an_older_backup_is_refused_by_every_source(world: dict) -> None:
    data = world["data"].root
    world["server"].stop()
    before = digest_dir(data)
    size = world["size"]
    # The witnesses themselves (tlog-witness 409 with their size) and the stored
    # cosignatures of the database being replaced both know size `size`.
    out = cli("restore", "--data", str(data), str(world["b1"]))
    assert out.returncode == 2
    assert f"roll back {size - 5} entries" in out.stderr
    assert digest_dir(data) == before
    # Without asking the witnesses, with the database gone: the mirror's checkpoint.
    lost = world["root"] / "lost"
    lost.mkdir()
    for name in ("log.key", "log.vkey", "witnesses.policy"):
        shutil.copy(data / name, lost / name)
    cp = world["root"] / "cosigned.checkpoint"
    cp.write_bytes(world["cosigned"])
    out = cli("restore", "--data", str(lost), "--no-ask-witnesses", str(world["b1"]))
    assert out.returncode == 2 and "no witnessed checkpoint" in out.stderr
    out = cli(
        "restore",
        "--data",
        str(lost),
        "--no-ask-witnesses",
        "--checkpoint",
        str(cp),
        str(world["b1"]),
    )
    assert out.returncode == 2 and f"{cp} has a checkpoint of size {size}" in out.stderr
    assert not (lost / "ledger.sqlite").exists()
    # The witnesses alone are enough, too.
    out = cli("restore", "--data", str(lost), str(world["b1"]))
    assert out.returncode == 2 and "witness w" in out.stderr


def test_a_forked_backup_is_refused(world: dict, tmp_path: Path) -> None:
    # A copy of the log at size 5 that then went its own way (same key, other entries).
    fork = tmp_path / "fork"
    fork.mkdir()
    for name in ("log.key", "log.vkey"):
        shutil.copy(world["data"].root / name, fork / name)
    shutil.copy(world["b1"], fork / "ledger.sqlite")
    writer = open_writer(DataDir.at(fork))
    try:
        writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, world["size"] + 2 - 5)])
    finally:
        writer.store.close()
    out = cli("backup", "--data", str(fork), str(tmp_path / "fork-backups"))
    assert out.returncode == 0, out.stderr
    forked = list_backups(tmp_path / "fork-backups")[0]
    world["server"].stop()
    before = digest_dir(world["data"].root)
    out = cli("restore", "--data", str(world["data"].root), str(forked))
    assert out.returncode == 2
    assert "is not consistent with the checkpoint" in out.stderr and "fork" in out.stderr
    assert digest_dir(world["data"].root) == before


def test_another_log_or_a_damaged_file_is_refused(world: dict, tmp_path: Path) -> None:
    data = world["data"].root
    world["server"].stop()
    before = digest_dir(data)
    other, _ = init_test_log(tmp_path / "other", ORIGIN)
    out = cli("backup", "--data", str(other.root), str(tmp_path / "other-backups"))
    assert out.returncode == 0, out.stderr
    foreign = list_backups(tmp_path / "other-backups")[0]
    out = cli("restore", "--data", str(data), str(foreign))
    assert out.returncode == 2 and "is not validly signed by the log" in out.stderr
    damaged = tmp_path / world["b2"].name
    raw = bytearray(world["b2"].read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4096] = b"\xff" * 4096
    damaged.write_bytes(bytes(raw))
    out = cli("restore", "--data", str(data), str(damaged))
    assert out.returncode == 2, out.stdout
    assert "is damaged" in out.stderr or "is not a usable backup" in out.stderr, out.stderr
    assert digest_dir(data) == before


def test_the_newest_backup_restores_and_the_witnesses_accept_what_follows(world: dict) -> None:
    data = world["data"].root
    server = world["server"]
    server.stop()
    # Lose the database (and its WAL): the disaster a backup is for.
    (data / "ledger.sqlite").write_bytes(b"not a database any more")
    out = cli("restore", "--data", str(data), str(world["b2"]))
    assert out.returncode == 0, out.stderr
    assert f"Restored tree size {world['size']}" in out.stdout
    assert "consistent with witness w1" in out.stdout
    kept = [p for p in data.iterdir() if p.name.startswith("replaced-")]
    assert kept and (kept[0] / "ledger.sqlite").read_bytes() == b"not a database any more"
    server.start()
    size = append(server, 3, 500)
    assert size == world["size"] + 3
    # Both witnesses cosign the restored log's next checkpoint: to them it is the
    # same log, extended (they checked the consistency proof from their size).
    note = wait_cosigned(server, size)
    policy = world["root"] / "check.policy"
    policy.write_text((data / "witnesses.policy").read_text())
    out = run_module("verifier.cli", "verify", "--log", server.url("/log"), "--policy", str(policy))
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(note.split(b"\n")[1]) == size
