"""``frontier-verify log`` on a good exported log, and on logs a malicious operator altered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger.datadir import DataDir
from ledger.export import export_log
from ledger.sequencer import prepare
from ledger.service import LogReader, init_log, open_writer
from ledger.sqlite_store import SqliteStore
from ledger.synth import synthetic_envelopes
from verifier.cli import EXIT_FETCH, EXIT_LOG_BROKEN, EXIT_OK, main

ORIGIN = "verify.example/log"
SIZE = 700


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("log")
    data = DataDir.at(root / "data")
    vkey = init_log(data, ORIGIN)
    writer = open_writer(data)
    writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, SIZE)], receipts=False)
    writer.store.close()
    store = SqliteStore.open(data.db_path, readonly=True)
    export_log(LogReader(store), root / "out")
    store.close()
    return root / "out", vkey


def copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    return dst


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_good_log_verifies(exported: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    out, vkey = exported
    assert main(["log", "--log", str(out), "--vkey", vkey, "--quiet"]) == EXIT_OK
    assert f"tree size {SIZE}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("path", "offset"),
    [
        ("tile/0/000", 100),  # a leaf hash
        ("tile/0/002.p/188", 5),  # the partial level-0 tile
        ("tile/1/000.p/2", 40),  # a level-1 hash
        ("tile/entries/001", 300),  # a byte inside an entry
    ],
)
def test_flipped_byte_is_caught(
    exported: tuple[Path, str],
    tmp_path: Path,
    path: str,
    offset: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, vkey = exported
    log = copy(out, tmp_path)
    flip_byte(log / path, offset)
    assert main(["log", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_LOG_BROKEN
    assert "LOG BROKEN" in capsys.readouterr().err


def test_flipped_checkpoint_is_caught(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, vkey = exported
    log = copy(out, tmp_path)
    text = (log / "checkpoint").read_bytes()
    (log / "checkpoint").write_bytes(text.replace(b"\n700\n", b"\n701\n"))
    assert main(["log", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_LOG_BROKEN


def test_wrong_key_and_missing_tile(exported: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = exported
    other = init_log(DataDir.at(tmp_path / "other"), ORIGIN)
    assert main(["log", "--log", str(out), "--vkey", other, "--quiet"]) == EXIT_LOG_BROKEN
    log = copy(out, tmp_path)
    (log / "tile/0/001").unlink()
    _, vkey = exported
    assert main(["log", "--log", str(log), "--vkey", vkey, "--quiet"]) == EXIT_FETCH
