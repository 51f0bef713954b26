"""``frontier-verify log`` on a good exported log, and on logs a malicious operator altered."""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    from ledger.demo.build import build_demo

    root = tmp_path_factory.mktemp("demo")
    result = build_demo(root / "data")
    store = SqliteStore.open(result.data.db_path, readonly=True)
    export_log(LogReader(store), root / "out")
    store.close()
    policy = root / "trust.policy"
    policy.write_text(f"log {result.vkey}\nquorum none\n")
    return root / "out", result.vkey, policy


def test_audit_of_the_demo_is_clean(demo_export, capsys: pytest.CaptureFixture[str]) -> None:
    out, _, policy = demo_export
    code = main(
        ["audit", "--log", str(out), "--policy", str(policy), "--at", "2030-01-02T00:00:00Z"]
    )
    assert code == EXIT_OK
    assert "No findings" in capsys.readouterr().out


def test_audit_reports_violations_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger.demo.build import build_demo
    from ledger.scenario import load

    scenario = load(Path(__file__).parent / "scenarios" / "s3_overrun_without_halt.toml")
    result = build_demo(tmp_path / "data", scenario)
    store = SqliteStore.open(result.data.db_path, readonly=True)
    export_log(LogReader(store), tmp_path / "out")
    store.close()
    code = main(
        ["audit", "--log", str(tmp_path / "out"), "--vkey", result.vkey, "--json", "--quiet"]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["rule"] for f in report["findings"]] == ["S3"]


def test_policy_quorum_refused(
    demo_export, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from verifier.cosignature import CosignatureSigner

    out, vkey, _ = demo_export
    witness = CosignatureSigner.from_seed("witness.example/w", bytes(range(32)))
    policy = tmp_path / "strict.policy"
    policy.write_text(f"log {vkey}\nwitness w {witness.verifier.vkey}\nquorum w\n")
    assert main(["log", "--log", str(out), "--policy", str(policy), "--quiet"]) == EXIT_LOG_BROKEN
    assert "lacks the witness quorum" in capsys.readouterr().err
