"""frontier-ledger fsck, and export refusing what does not verify: the operator's own
tools notice a store edited after signing, as a foreign verifier would."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from frontier_ledger import cli
from ledger.demo.build import build_demo
from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import prepare

ORIGIN = "fsck.test/log"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def edit_leaf(db: Path, index: int, old: bytes, new: bytes) -> None:
    """What an operator with the database can do: change a leaf and its stored hash."""
    with sqlite3.connect(db) as conn:
        (leaf,) = conn.execute("SELECT leaf FROM entries WHERE idx = ?", (index,)).fetchone()
        edited = bytes(leaf).replace(old, new, 1)
        assert edited != leaf
        conn.execute(
            "UPDATE entries SET leaf = ?, leaf_hash = ? WHERE idx = ?",
            (edited, hashlib.sha256(b"\x00" + edited).digest(), index),
        )


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return build_demo(tmp_path / "demo").data.root


def test_an_intact_demo_passes(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fsck", "--data", str(demo))
    assert code == 0
    assert out.startswith("INTACT demo.frontier-ledger.invalid/log: tree size ")
    assert "into the root of all" in out


def test_an_edited_leaf_is_named_and_export_refuses_it(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_leaf(demo / "ledger.sqlite", 17, b'"logged_at":"20', b'"logged_at":"19')
    code, out, _ = run(capsys, "fsck", "--data", str(demo))
    assert code == 3
    assert out.startswith("DAMAGED ") and "entry 17:" in out and "first bad index: 17" in out
    mirror = tmp_path / "mirror"
    code, _, err = run(capsys, "export", "--data", str(demo), str(mirror))
    assert code == 3 and "refusing to export" in err and "fsck" in err
    assert not mirror.exists() or not any(mirror.rglob("*"))  # nothing published
    # The operator's audit judges the signed log, so it refuses the edited store too.
    code, _, err = run(capsys, "audit", "--data", str(demo))
    assert code == 3 and "DAMAGED" in err and "entry 17" in err


def test_a_tampered_checkpoint_is_named(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(demo / "ledger.sqlite") as conn:
        (note,) = conn.execute("SELECT note FROM checkpoints WHERE size = 10").fetchone()
        forged = bytes(note).replace(b"\n10\n", b"\n11\n", 1)  # a size that is not its tree's
        conn.execute("UPDATE checkpoints SET note = ? WHERE size = 10", (forged,))
    code, out, _ = run(capsys, "fsck", "--data", str(demo))
    assert code == 3 and "checkpoint of size 10" in out and "not validly signed" in out


def test_export_checks_only_what_is_new_and_refuses_a_new_bad_leaf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = DataDir.at(tmp_path / "data")
    init_log(data, ORIGIN, synthetic=True)

    def grow(count: int, start: int) -> None:
        writer = open_writer(data)
        try:
            for env in synthetic_envelopes(ORIGIN, count, start):
                writer.commit([prepare(env)], receipts=False)
        finally:
            writer.store.close()

    grow(300, 0)
    mirror = tmp_path / "mirror"
    assert run(capsys, "export", "--data", str(data.root), str(mirror))[0] == 0
    grow(40, 300)
    edit_leaf(data.db_path, 320, b'"v":1', b'"v": 1')
    code, _, err = run(capsys, "export", "--data", str(data.root), str(mirror))
    assert code == 3 and "refusing to export" in err
    # The mirror still holds the size it had, every file of it as written.
    assert (mirror / "checkpoint").read_text().split("\n")[1] == "300"
    assert not (mirror / "tile" / "entries" / "001.p" / "84").exists()
    code, out, _ = run(capsys, "fsck", "--data", str(data.root))
    assert code == 3 and "first bad index: 320" in out
