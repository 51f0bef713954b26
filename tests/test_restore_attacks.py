"""``restore`` against doctored backups, rollbacks of the replaced database, and too few witnesses.

- A backup whose entries fork after a witnessed size, with its tiles and head
  root recomputed, its newer checkpoint rows deleted and the *genuine* signed
  checkpoint of the same size put in its head row, is refused before any source
  is consulted (the signed head must carry the rebuilt tree's size and root, and
  every stored checkpoint row must be signed and carry the tree's root at its
  size), and nothing is written: the log key never gets to sign the fork.
- A backup older than the data directory's own signed head is refused, even with
  ``--unwitnessed``, unless ``--allow-rollback`` (said loudly); an unreadable
  database being replaced is said and does not stop the restore.
- Asking the witnesses needs answers from the policy's quorum.
- Messages name what is wrong: the first missing entry, the damaged file.
- ``fsck`` accepts a freshly restored data directory; a restore run again does not
  set the same database aside twice, and one interrupted after setting the old
  database aside still checks against it.

Loopback only: one in-process witness, and a closed port for one that is down.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.cli.main import main as ledger_main
from ledger.demo.synth import synthetic_envelopes
from ledger.errors import BackupError
from ledger.ops.datadir import DataDir
from ledger.recovery.backup import backup_sqlite, check_backup_file, list_backups
from ledger.recovery.fsck import fsck
from ledger.recovery.restore import Sources, restore, restore_log
from ledger.write.open_log import open_writer
from ledger.write.sequencer import prepare
from tests.serverproc import init_test_log
from tests.test_witness import WITNESS, Clock
from verifier.core.cosignature import CosignatureSigner
from verifier.core.note import parse_vkey
from verifier.witness.protocol import Witness, parse_witness_config
from verifier.witness.server import FileStore, WitnessServer

ORIGIN = "restore.example/log"
W2 = CosignatureSigner.from_seed("witness.example/w2", bytes(range(9, 41)))


def grow(root: Path, n: int, start: int = 0) -> None:
    """*n* entries, one commit (and one signed checkpoint) each."""
    w = open_writer(DataDir.at(root))
    try:
        for i in range(n):
            w.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, 1, start + i)])
    finally:
        w.store.close()


def note_at(db: Path, size: int) -> bytes:
    c = sqlite3.connect(db)
    try:
        return bytes(
            c.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()[0]
        )
    finally:
        c.close()


def take_backup(root: Path, out: Path) -> Path:
    backup_sqlite(root / "ledger.sqlite", out)
    return list_backups(out)[-1]


def empty_target(world: dict, path: Path) -> DataDir:
    """A data directory with the log's keys and no database (a machine being rebuilt)."""
    path.mkdir()
    for name in ("log.key", "log.vkey"):
        shutil.copy(world["data"] / name, path / name)
    return DataDir.at(path)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file a restore could change (a reader may leave SQLite's -shm/-wal behind)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "ledger.lock" and not p.name.endswith(("-shm", "-wal"))
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A genuine log of 10 entries (backups at 5 and 10), and a fork of it from size 5
    signed with the same key (what someone holding a copy of the key could make)."""
    root = tmp_path_factory.mktemp("attacks")
    data, vkey = init_test_log(root / "data", ORIGIN)
    grow(data.root, 5)
    b5 = take_backup(data.root, root / "b5")
    shutil.copytree(data.root, root / "fork")
    grow(data.root, 5, 100)
    grow(root / "fork", 5, 900)
    db = data.root / "ledger.sqlite"
    (root / "cp5").write_bytes(note_at(db, 5))
    (root / "cp10").write_bytes(note_at(db, 10))
    b10 = take_backup(data.root, root / "b10")
    fork = take_backup(root / "fork", root / "forkbk")
    yield {
        "root": root,
        "data": data.root,
        "vkey": vkey,
        "b5": b5,
        "b10": b10,
        "fork": fork,
        "cp5": root / "cp5",
        "cp10": root / "cp10",
    }


def doctor(world: dict, tmp_path: Path, *statements: tuple[str, tuple[object, ...]]) -> Path:
    """A copy of the fork's backup with *statements* run on it."""
    out = tmp_path / "doctored"
    out.mkdir(exist_ok=True)
    bad = out / world["fork"].name
    shutil.copy(world["fork"], bad)
    c = sqlite3.connect(bad)
    for sql, params in statements:
        c.execute(sql, params)
    c.commit()
    c.close()
    return bad


# --- 1. a doctored backup never reaches the signer ---------------------------------------


def test_a_fork_wearing_the_genuine_signed_head_is_refused(world: dict, tmp_path: Path) -> None:
    genuine10 = world["cp10"].read_bytes()
    bad = doctor(
        world,
        tmp_path,
        ("DELETE FROM checkpoints WHERE size > 5", ()),
        ("DELETE FROM cosignatures", ()),
        ("UPDATE head SET note = ?", (genuine10,)),
    )
    with pytest.raises(BackupError, match="signed checkpoint is of size 10 root") as exc:
        check_backup_file(bad, [parse_vkey(world["vkey"])])
    assert str(bad) in str(exc.value)
    target = empty_target(world, tmp_path / "target")
    before = files_of(target.root)
    # The witnessed size 5 alone would not have caught it (the fork keeps entries 0..4).
    for cp in ("cp5", "cp10"):
        with pytest.raises(BackupError, match="head row"):
            restore(bad, target, Sources(checkpoints=[str(world[cp])]))
        assert files_of(target.root) == before
    assert not target.db_path.exists()  # nothing the writer could extend and sign


def test_deleted_or_swapped_checkpoint_rows_are_refused(world: dict, tmp_path: Path) -> None:
    vkeys = [parse_vkey(world["vkey"])]
    # The fork's own head, its newer checkpoints deleted: the head is not the newest row.
    bad = doctor(world, tmp_path, ("DELETE FROM checkpoints WHERE size > 5", ()))
    with pytest.raises(BackupError, match="is not the newest stored checkpoint"):
        check_backup_file(bad, vkeys)
    # A row of size 7 given the genuine log's signed checkpoint of size 7: not the tree's root.
    bad.unlink()
    bad = doctor(
        world,
        tmp_path,
        (
            "UPDATE checkpoints SET note = ? WHERE size = 7",
            (note_at(world["data"] / "ledger.sqlite", 7),),
        ),
    )
    with pytest.raises(BackupError, match="checkpoint of size 7 does not carry the root"):
        check_backup_file(bad, vkeys)
    # A row signed by another key.
    bad.unlink()
    other, _ = init_test_log(tmp_path / "other", ORIGIN)
    foreign = note_at(other.db_path, 0)
    bad = doctor(world, tmp_path, ("UPDATE checkpoints SET note = ? WHERE size = 0", (foreign,)))
    with pytest.raises(BackupError, match="checkpoint of size 0 is not validly signed"):
        check_backup_file(bad, vkeys)
    # A head row whose root column was edited.
    bad.unlink()
    bad = doctor(world, tmp_path, ("UPDATE head SET root = ?", (b"\x01" * 32,)))
    with pytest.raises(BackupError, match="head row"):
        check_backup_file(bad, vkeys)


def test_the_genuine_backups_still_pass(world: dict) -> None:
    vkeys = [parse_vkey(world["vkey"])]
    assert check_backup_file(world["b10"], vkeys).size == 10
    assert check_backup_file(world["fork"], vkeys).size == 10  # only witnesses tell a fork


# --- 6. what the messages name --------------------------------------------------------------


def test_messages_name_the_missing_entry_and_the_damaged_file(world: dict, tmp_path: Path) -> None:
    vkeys = [parse_vkey(world["vkey"])]
    bad = tmp_path / "del.sqlite"
    shutil.copy(world["b10"], bad)
    c = sqlite3.connect(bad)
    c.execute("DELETE FROM entries WHERE idx = 7")
    c.commit()
    c.close()
    with pytest.raises(BackupError, match="entry 7 is missing"):
        check_backup_file(bad, vkeys)
    bad = tmp_path / "nohead.sqlite"
    shutil.copy(world["b10"], bad)
    c = sqlite3.connect(bad)
    c.execute("DELETE FROM head")
    c.commit()
    c.close()
    with pytest.raises(BackupError) as exc:
        check_backup_file(bad, vkeys)
    assert f"{bad} is damaged" in str(exc.value) and "init" not in str(exc.value)


# --- 3. the replaced database's own signed head -------------------------------------------


def live_copy(world: dict, tmp_path: Path) -> DataDir:
    shutil.copytree(world["data"], tmp_path / "live")
    return DataDir.at(tmp_path / "live")


def test_an_older_backup_does_not_roll_back_the_signed_database(
    world: dict, tmp_path: Path
) -> None:
    data = live_copy(world, tmp_path)
    before = files_of(data.root)
    for sources in (Sources(unwitnessed=True), Sources(checkpoints=[str(world["cp5"])])):
        with pytest.raises(BackupError) as exc:
            restore(world["b5"], data, sources)
        msg = str(exc.value)
        assert "holds 5 entries" in msg and "of size 10" in msg and "--allow-rollback" in msg
        assert files_of(data.root) == before
    # A fork of the same size is refused too.
    with pytest.raises(BackupError, match="fork"):
        restore(world["fork"], data, Sources(unwitnessed=True))
    assert files_of(data.root) == before


def test_allow_rollback_restores_and_says_so(world: dict, tmp_path: Path) -> None:
    data = live_copy(world, tmp_path)
    lines = restore_log(data, world["b5"], Sources(unwitnessed=True, allow_rollback=True))
    text = "\n".join(lines)
    assert "Restored tree size 5" in text
    assert "WARNING:" in text and "(size 10) is given up" in text, text
    # Never over what a --checkpoint shows the world has seen.
    data2 = DataDir.at(shutil.copytree(world["data"], tmp_path / "live2"))
    with pytest.raises(BackupError, match="the world has seen"):
        restore(world["b5"], data2, Sources(checkpoints=[str(world["cp10"])], allow_rollback=True))


def test_an_unreadable_database_being_replaced_is_said_and_not_used(
    world: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = empty_target(world, tmp_path / "t")
    data.db_path.write_bytes(b"not a database at all" * 100)
    with caplog.at_level(logging.WARNING, logger="frontier_ledger.restore"):
        result = restore(world["b5"], data, Sources(unwitnessed=True))
    assert result.plan.head.size == 5
    assert "cannot be read" in caplog.text and str(data.db_path) in caplog.text


# --- 4. a quorum of witnesses must answer -------------------------------------------------


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()  # nothing listens there now: connection refused
    return port


def test_fewer_witnesses_than_the_quorum_answering_is_refused(world: dict, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "wstate")
    witness = Witness(WITNESS, parse_witness_config(f"log {world['vkey']}\n"), store, Clock())
    server = WitnessServer(witness, "127.0.0.1", 0).start()
    try:
        data = empty_target(world, tmp_path / "t")
        down = f"http://127.0.0.1:{closed_port()}"
        (data.root / "witnesses.policy").write_text(
            f"log {world['vkey']}\n"
            f"witness w1 {WITNESS.verifier.vkey} {server.url}\n"
            f"witness w2 {W2.verifier.vkey} {down}\n"
            "group both all w1 w2\nquorum both\n"
        )
        with pytest.raises(BackupError) as exc:
            restore(world["b10"], data, Sources(checkpoints=[str(world["cp10"])]))
        msg = str(exc.value)
        assert "only 1 of the policy's 2 witnesses answered (w1)" in msg, msg
        assert "w2 cannot be reached" in msg and "--allow-rollback" in msg
        assert not data.db_path.exists()
        lines = restore_log(
            data, world["b10"], Sources(checkpoints=[str(world["cp10"])], allow_rollback=True)
        )
        assert any("WARNING: only 1 of the policy's 2 witnesses" in ln for ln in lines), lines
        # A doctored backup is refused before any witness is asked.
        bad = doctor(
            world,
            tmp_path,
            ("DELETE FROM checkpoints WHERE size > 5", ()),
            ("UPDATE head SET note = ?", (world["cp10"].read_bytes(),)),
        )
        other = empty_target(world, tmp_path / "t2")
        shutil.copy(data.root / "witnesses.policy", other.root)
        with pytest.raises(BackupError, match="head row"):
            restore(bad, other, Sources(allow_rollback=True))
        assert not other.db_path.exists()
    finally:
        server.stop()
        store.close()


# --- 6, 7. fsck after a restore; a restore run again --------------------------------------


def test_fsck_accepts_a_fresh_restore(
    world: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = live_copy(world, tmp_path)
    restore(world["b10"], data, Sources(checkpoints=[str(world["cp10"])]))
    result = fsck(data)
    assert result.index_missing and not result.index_problems
    assert ledger_main(["fsck", "--data", str(data.root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("INTACT") and "search index: not built yet" in out


def test_a_restore_run_again_sets_nothing_aside_twice(world: dict, tmp_path: Path) -> None:
    data = live_copy(world, tmp_path)
    first = restore(world["b10"], data, Sources(checkpoints=[str(world["cp10"])]))
    assert first.replaced is not None
    again = restore_log(data, world["b10"], Sources(checkpoints=[str(world["cp10"])]))
    assert "nothing replaced" in again[0], again
    assert len(list(data.root.glob("replaced-*"))) == 1


def test_an_interrupted_restore_still_checks_the_database_it_set_aside(
    world: dict, tmp_path: Path
) -> None:
    data = live_copy(world, tmp_path)
    # What a kill between setting the old database aside and renaming the new one in leaves.
    aside = data.root / "replaced-20270101T000000Z"
    aside.mkdir()
    data.db_path.replace(aside / data.db_path.name)
    with pytest.raises(BackupError, match="holds 5 entries"):
        restore(world["b5"], data, Sources(unwitnessed=True))
    lines = restore_log(data, world["b10"], Sources(unwitnessed=True))
    assert any("an earlier restore set aside" in ln for ln in lines), lines
    assert not any(p.name != aside.name for p in data.root.glob("replaced-*"))
