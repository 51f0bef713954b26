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


def _synthetic_log(tmp_path: Path) -> tuple[DataDir, str]:
    data = DataDir.at(tmp_path / "data")
    vkey = init_log(data, ORIGIN, synthetic=True)
    return data, vkey


def _grow(data: DataDir, count: int, start: int) -> None:
    writer = open_writer(data)
    try:
        envs = synthetic_envelopes(ORIGIN, count, start)
        writer.commit([prepare(e) for e in envs], receipts=False)
    finally:
        writer.store.close()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _verify_mirror(mirror: Path, vkey: str) -> int:
    from verifier.cli import main as verify_main

    return verify_main(["verify", "--log", str(mirror), "--vkey", vkey, "--quiet"])


@pytest.mark.parametrize(
    ("path", "first_export"),
    [
        ("tile/entries/001.p/44", False),  # the partial bundle of the mirror's own size
        ("tile/0/001.p/44", False),  # its partial hash tile
        ("tile/entries/001.p/44", True),  # the same, the checkpoint deleted: a first export
        ("tile/entries/000", True),  # a full bundle, read only on a first export
        ("tile/entries/000.gz", True),  # its gzipped twin, compared by its content
        ("tile/1/000.p/1", True),
    ],
)
def test_export_refuses_a_mirror_changed_outside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, first_export: bool
) -> None:
    data, vkey = _synthetic_log(tmp_path)
    _grow(data, 300, 0)
    mirror = tmp_path / "mirror"
    assert run(capsys, "export", "--data", str(data.root), str(mirror))[0] == 0
    _flip(mirror / path, 20)
    if first_export:
        (mirror / "checkpoint").unlink()
    before = _snapshot(mirror)
    code, out, err = run(capsys, "export", "--data", str(data.root), str(mirror))
    assert code == 5, (out, err)
    assert f"MIRROR ALTERED: {mirror / path} is not the file the log holds for it" in err
    assert "changed outside export" in err and "--repair" in err
    assert _snapshot(mirror) == before  # nothing written, the checkpoint included
    # --repair rewrites what differs, and the mirror verifies again.
    code, out, err = run(capsys, "export", "--repair", "--data", str(data.root), str(mirror))
    assert code == 0, err
    assert f"repaired {mirror / path}" in err
    assert _verify_mirror(mirror, vkey) == 0
    code, out, _ = run(capsys, "export", "--data", str(data.root), str(mirror))
    assert code == 0 and " 0 files written" in out


def test_an_incremental_export_reads_what_is_new_and_the_edge_it_extends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, vkey = _synthetic_log(tmp_path)
    _grow(data, 300, 0)
    mirror = tmp_path / "mirror"
    assert run(capsys, "export", "--data", str(data.root), str(mirror))[0] == 0
    _grow(data, 300, 300)  # 600: bundle 1 becomes full, 002.p/88 is new
    pristine = _snapshot(mirror)

    # A file of the new range already there (left by hand, or by another log) is read.
    (mirror / "tile/0/002.p/88").parent.mkdir(parents=True)
    (mirror / "tile/0/002.p/88").write_bytes(bytes(88 * 32))
    code, _, err = run(capsys, "export", "--data", str(data.root), str(mirror))
    assert code == 5 and f"{mirror / 'tile/0/002.p/88'} is not the file" in err
    (mirror / "tile/0/002.p/88").unlink()

    # The mirror's partial tile that the new full tile extends is read too.
    _flip(mirror / "tile/entries/001.p/44", 7)
    code, _, err = run(capsys, "export", "--data", str(data.root), str(mirror))
    assert code == 5 and f"{mirror / 'tile/entries/001.p/44'} is not the file" in err
    (mirror / "tile/entries/001.p/44").write_bytes(pristine["tile/entries/001.p/44"])

    # A full tile of the mirror's earlier size is not read again (the cost bound);
    # frontier-verify verify of the mirror is what checks every file a reader fetches.
    _flip(mirror / "tile/0/000", 3)
    code, out, _ = run(capsys, "export", "--data", str(data.root), str(mirror))
    # Read: the mirror's three partial tiles at 300 (bundle 1, level 0, level 1).
    assert code == 0 and "(3 checked against the log)" in out, out
    assert (mirror / "tile/0/000").read_bytes() != pristine["tile/0/000"]
    assert _verify_mirror(mirror, vkey) == 3
    code, _, err = run(capsys, "export", "--repair", "--data", str(data.root), str(mirror))
    assert code == 0 and f"repaired {mirror / 'tile/0/000'}" in err
    assert _verify_mirror(mirror, vkey) == 0
