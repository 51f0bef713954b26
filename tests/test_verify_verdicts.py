"""``frontier-verify``'s verdicts on what a third party hands it: fork evidence, receipts,
cosignature lines, files too large or malformed. Each is run as users run it (a process
on real files, real signatures) and must name the right culprit: the log (LOG BROKEN,
INCONSISTENT, exit 3), the witnesses (NOT WITNESSED, exit 5), the receipt (RECEIPT
INVALID, exit 6) or the input (BAD INPUT, exit 2); never a traceback."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.read.mirror import export_log
from ledger.read.reader import LogReader
from ledger.storage.sqlite import SqliteStore
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import prepare
from tests.serverproc import run_module
from verifier.cli import EXIT_OK, EXIT_UNWITNESSED, main
from verifier.client.consistency import EVIDENCE_TYPE, MAX_EVIDENCE_SIZE
from verifier.client.fetch import LogSource
from verifier.client.monitor import Monitor
from verifier.core.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from verifier.core.cosignature import CosignatureSigner
from verifier.core.note import (
    MAX_NOTE_SIZE,
    Note,
    NoteSignature,
    parse_note,
    parse_skey,
    parse_vkey,
    sign_note,
)
from verifier.core.tlog_proof import MAX_RECEIPT_SIZE, RECEIPT_MEDIA_TYPE
from verifier.errors import FileTooLarge, QuorumError
from verifier.files import read_capped

ORIGIN = "verdicts.example/log"
A = CosignatureSigner.from_seed("witness.a.example/w", bytes([1]) * 32)
B = CosignatureSigner.from_seed("witness.b.example/w", bytes([2]) * 32)


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = run_module("verifier.cli", *args, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A log of 30 entries: receipts of the first 10 (at size 10), the checkpoints of
    sizes 10 and 30, its static mirror, and the log's signing key (to sign a fork)."""
    root = tmp_path_factory.mktemp("verdicts")
    data = DataDir.at(root / "data")
    vkey = init_log(data, ORIGIN, synthetic=True)
    writer = open_writer(data)
    receipts = writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, 10)])
    writer.commit([prepare(e) for e in synthetic_envelopes(ORIGIN, 20, 10)], receipts=False)
    writer.store.close()
    store = SqliteStore.open(data.db_path, readonly=True)
    (root / "cp10").write_bytes(store.read_checkpoint(10) or b"")
    (root / "cp30").write_bytes(store.read_checkpoint(30) or b"")
    export_log(LogReader(store), root / "out")
    store.close()
    signer = parse_skey((data.root / "log.key").read_text())
    return {"root": root, "vkey": vkey, "receipts": receipts, "signer": signer}


# -- compare --evidence -------------------------------------------------------------


def evidence(path: Path, a: bytes, b: bytes, proof: list[str]) -> Path:
    doc = {
        "media_type": EVIDENCE_TYPE,
        "checkpoint_a": a.decode(),
        "checkpoint_b": b.decode(),
        "consistency_proof": proof,
    }
    path.write_text(json.dumps(doc))
    return path


def test_evidence_of_an_honest_log_proves_no_fork(log: dict, tmp_path: Path) -> None:
    """The same checkpoint twice, or two consistent ones with their valid proof: the
    evidence proves nothing against the log (exit 0), and says so first."""
    root, vkey = log["root"], log["vkey"]
    cp10, cp30 = (root / "cp10").read_bytes(), (root / "cp30").read_bytes()
    same = verify_cli(
        "compare", "--evidence", str(evidence(tmp_path / "same.json", cp30, cp30, [])),
        "--vkey", vkey,
    )  # fmt: skip
    assert same.returncode == EXIT_OK, same.stderr
    assert first_line(same.stdout).startswith("NO FORK PROVEN: ")
    assert "same tree" in same.stdout and "LOG BROKEN" not in same.stdout + same.stderr
    live = verify_cli(
        "compare", str(root / "cp10"), str(root / "cp30"), "--log", str(root / "out"),
        "--vkey", vkey,
    )  # fmt: skip
    assert live.returncode == EXIT_OK and first_line(live.stdout).startswith("CONSISTENT")
    proof = [line.strip() for line in live.stdout.splitlines()[1:]]
    consistent = verify_cli(
        "compare", "--evidence", str(evidence(tmp_path / "ok.json", cp10, cp30, proof)),
        "--vkey", vkey,
    )  # fmt: skip
    assert consistent.returncode == EXIT_OK, consistent.stderr
    line = first_line(consistent.stdout)
    assert line.startswith("NO FORK PROVEN: ") and "the two checkpoints are consistent" in line


def test_evidence_of_a_real_fork_gives_the_fork_verdict(log: dict, tmp_path: Path) -> None:
    """The log's key signs a second root for size 30: compare A B and compare --evidence
    agree: INCONSISTENT, exit 3."""
    root, vkey = log["root"], log["vkey"]
    other = Checkpoint(ORIGIN, 30, hashlib.sha256(b"another history").digest()).to_text()
    (tmp_path / "forged").write_bytes(sign_note(other, [log["signer"]]))
    out = tmp_path / "fork.json"
    live = verify_cli(
        "compare", str(root / "cp30"), str(tmp_path / "forged"), "--vkey", vkey,
        "--out", str(out),
    )  # fmt: skip
    assert live.returncode == 3 and first_line(live.stderr).startswith("INCONSISTENT: fork")
    again = verify_cli("compare", "--evidence", str(out), "--vkey", vkey)
    assert again.returncode == 3
    assert first_line(again.stderr).startswith("INCONSISTENT: proven fork")


@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("not-json", "{not json", "not valid JSON"),
        ("deep", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ("a-list", "[1, 2]", "not a fork evidence file"),
        ("no-checkpoint-a", json.dumps({"media_type": EVIDENCE_TYPE}), "'checkpoint_a'"),
        ("proof-is-5", None, "'consistency_proof' must be a list"),
        ("proof-is-a-dict", None, "'consistency_proof' must be a list"),
        ("proof-hash-short", None, "'consistency_proof'"),
        ("checkpoint-not-a-note", None, "'checkpoint_b' is not a checkpoint"),
    ],
)
def test_malformed_evidence_is_bad_input(
    log: dict, tmp_path: Path, name: str, text: str | None, said: str
) -> None:
    cp10, cp30 = (log["root"] / "cp10").read_text(), (log["root"] / "cp30").read_text()
    fields: dict[str, object] = {"media_type": EVIDENCE_TYPE, "checkpoint_a": cp10}
    fields |= {
        "proof-is-5": {"checkpoint_b": cp30, "consistency_proof": 5},
        "proof-is-a-dict": {"checkpoint_b": cp30, "consistency_proof": {"a": 1}},
        "proof-hash-short": {"checkpoint_b": cp30, "consistency_proof": ["AAAA"]},
        "checkpoint-not-a-note": {"checkpoint_b": "hello\n", "consistency_proof": []},
    }.get(name, {})
    path = tmp_path / f"{name}.json"
    path.write_text(text if text is not None else json.dumps(fields))
    proc = verify_cli("compare", "--evidence", str(path), "--vkey", log["vkey"])
    assert proc.returncode == 2, proc.stderr
    line = first_line(proc.stderr)
    assert line.startswith("frontier-verify: BAD INPUT: evidence") and said in line


# -- files larger than their caps ------------------------------------------------------


def test_read_capped_reads_at_most_one_byte_over_the_cap(tmp_path: Path) -> None:
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * 100)
    assert read_capped(exact, 100, "file") == b"x" * 100
    (tmp_path / "over").write_bytes(b"x" * 101)
    with pytest.raises(FileTooLarge) as caught:
        read_capped(tmp_path / "over", 100, "receipt")
    assert caught.value.cap == 100 and caught.value.path == str(tmp_path / "over")
    with pytest.raises(FileTooLarge):  # a device without end: never read whole
        read_capped("/dev/zero", 100, "receipt")


def test_oversized_inputs_are_refused_before_they_are_read(log: dict, tmp_path: Path) -> None:
    root, vkey = log["root"], log["vkey"]

    def big(name: str, cap: int) -> str:
        path = tmp_path / name
        path.write_bytes(b" " * (cap + 1))
        return str(path)

    receipt = big("receipt.json", MAX_RECEIPT_SIZE)
    checkpoint = big("checkpoint", MAX_NOTE_SIZE)
    evidence = big("evidence.json", MAX_EVIDENCE_SIZE)
    policy = big("policy", 64 * 1024)
    cases = [
        (["proof", receipt, "--vkey", vkey], receipt, MAX_RECEIPT_SIZE),
        (["proof", "/dev/zero", "--vkey", vkey], "/dev/zero", MAX_RECEIPT_SIZE),
        (["compare", checkpoint, str(root / "cp30"), "--vkey", vkey], checkpoint, MAX_NOTE_SIZE),
        (["compare", "--evidence", evidence, "--vkey", vkey], evidence, MAX_EVIDENCE_SIZE),
        (["compare", "--evidence", "/dev/zero", "--vkey", vkey], "/dev/zero", MAX_EVIDENCE_SIZE),
        (["verify", "--log", str(root / "out"), "--policy", policy], policy, 64 * 1024),
    ]
    for argv, path, cap in cases:
        proc = verify_cli(*argv)
        line = first_line(proc.stderr)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert line.startswith("frontier-verify: BAD INPUT: ") and path in line
        assert f"larger than {cap} bytes" in line


def test_a_policy_file_that_does_not_parse_is_bad_input(log: dict, tmp_path: Path) -> None:
    """The reader's own policy file is wrong: BAD INPUT (exit 2), not LOG BROKEN."""
    policy = tmp_path / "policy"
    policy.write_text("log not-a-key\nquorum 1\n")
    proc = verify_cli("verify", "--log", str(log["root"] / "out"), "--policy", str(policy))
    line = first_line(proc.stderr)
    assert proc.returncode == 2, proc.stderr
    assert line.startswith(f"frontier-verify: BAD INPUT: policy file {policy}: "), line


# -- cosignature lines that do not verify ----------------------------------------------


def witnessed_mirror(log: dict, tmp_path: Path, name: str, damage: str) -> tuple[Path, Path]:
    """A copy of the mirror whose checkpoint carries the log's signature and both
    witnesses' cosignatures, one of them damaged as *damage* says."""
    policy = tmp_path / "policy"
    policy.write_text(
        f"log {log['vkey']}\nwitness a {A.verifier.vkey}\nwitness b {B.verifier.vkey}\n"
        "group both 2 a b\nquorum both\n"
    )
    mirror = tmp_path / name
    shutil.copytree(log["root"] / "out", mirror)
    note = parse_note((mirror / "checkpoint").read_bytes())
    log_sig = note.signatures[0]
    sa, sb = A.cosign(note.text, 1_900_000_000), B.cosign(note.text, 1_900_000_000)

    def broken(s: NoteSignature) -> NoteSignature:
        return NoteSignature(s.name, s.key_id, s.signature[:8] + bytes(64))

    sigs = {
        "none": [log_sig, sa, sb],
        "b-zeroed": [log_sig, sa, broken(sb)],
        "b-garbage": [log_sig, sa, NoteSignature(sb.name, sb.key_id, b"\0" * 72)],
        "b-short": [log_sig, sa, NoteSignature(sb.name, sb.key_id, b"\0" * 10)],
        "log-zeroed": [broken(log_sig), sa, sb],
        "b-first-then-log": [broken(sb), sa, broken(log_sig)],
    }[damage]
    (mirror / "checkpoint").write_bytes(Note(note.text, tuple(sigs)).to_bytes())
    return mirror, policy


@pytest.mark.parametrize("damage", ["b-zeroed", "b-garbage", "b-short"])
def test_a_bad_cosignature_is_not_witnessed_not_log_broken(
    log: dict, tmp_path: Path, damage: str
) -> None:
    mirror, policy = witnessed_mirror(log, tmp_path, "m", damage)
    proc = verify_cli("verify", "--log", str(mirror), "--policy", str(policy), "--quiet")
    line = first_line(proc.stderr)
    assert proc.returncode == EXIT_UNWITNESSED, proc.stderr
    assert line.startswith("frontier-verify: NOT WITNESSED: ")
    assert "cosignature by witness b, witness.b.example/w" in line and "does not verify" in line
    assert "the log's own signature" in line and "LOG BROKEN" not in proc.stderr


@pytest.mark.parametrize("damage", ["log-zeroed", "b-first-then-log"])
def test_a_bad_log_signature_is_log_broken(log: dict, tmp_path: Path, damage: str) -> None:
    mirror, policy = witnessed_mirror(log, tmp_path, "m", damage)
    proc = verify_cli("verify", "--log", str(mirror), "--policy", str(policy), "--quiet")
    assert proc.returncode == 3
    assert (
        first_line(proc.stderr)
        == f"frontier-verify: LOG BROKEN: signature by {ORIGIN} does not verify"
    )


# -- monitor: a round without the quorum is an event ------------------------------------


def test_monitor_reports_an_unwitnessed_round_and_keeps_going(
    log: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Witnessed, then one cosignature stripped, then witnessed again: the monitor runs
    its three rounds (exit 0) and reports the middle one as ``unwitnessed``."""
    good, policy = witnessed_mirror(log, tmp_path, "good", "none")
    note = parse_note((good / "checkpoint").read_bytes())
    stripped = Note(note.text, note.signatures[:2]).to_bytes()  # the log's and a's only
    served = [stripped, note.to_bytes()]

    def next_round(_seconds: float) -> None:
        if served:
            (good / "checkpoint").write_bytes(served.pop(0))

    monkeypatch.setattr("verifier.cli.monitor.time.sleep", next_round)
    argv = ["monitor", "--log", str(good), "--policy", str(policy), "--rounds", "3"]
    assert main([*argv, "--state", str(tmp_path / "state"), "--interval", "0"]) == EXIT_OK
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = [e["event"] for e in events if e["event"] not in ("entry", "finding")]
    assert kinds == ["checkpoint", "unwitnessed", "checkpoint"]
    unwitnessed = next(e for e in events if e["event"] == "unwitnessed")
    assert "lacks the witness quorum 'both'" in unwitnessed["message"]
    assert b"\n30\n" in (tmp_path / "state" / "checkpoint").read_bytes()


def test_monitor_alerts_when_no_witnessed_checkpoint_for_max_age(log: dict) -> None:
    """``--max-age`` bounds how long unwitnessed rounds are tolerated: past it, ``stale``."""
    vkey = parse_vkey(log["vkey"])
    witnessed = [True]
    now = [1_000_000.0]

    def opener(data: bytes) -> tuple[SignedCheckpoint, dict[str, int]]:
        if not witnessed[0]:
            raise QuorumError("checkpoint of size 30 lacks the witness quorum 'w'")
        return open_checkpoint(data, vkey), {"w": int(now[0])}

    events: list[dict] = []
    monitor = Monitor(
        LogSource(str(log["root"] / "out")).fetch,
        opener,
        max_age_s=600,
        emit=events.append,
        clock=lambda: now[0],
    )
    monitor.round()
    witnessed[0] = False
    events.clear()
    now[0] += 300
    monitor.round()
    assert [e["event"] for e in events] == ["unwitnessed"]
    events.clear()
    now[0] += 400  # 700 s since the last witnessed checkpoint: over the limit
    monitor.round()
    assert [e["event"] for e in events] == ["unwitnessed", "stale"]
    assert events[1]["size"] == 30 and "last witnessed 700 s ago" in events[1]["message"]


# -- receipts ------------------------------------------------------------------------


def write_receipt(path: Path, leaf: bytes, tlog_proof: str) -> Path:
    doc = {
        "media_type": RECEIPT_MEDIA_TYPE,
        "leaf": base64.b64encode(leaf).decode(),
        "tlog_proof": tlog_proof,
    }
    path.write_text(json.dumps(doc))
    return path


def test_a_forged_receipt_is_receipt_invalid_not_log_broken(log: dict, tmp_path: Path) -> None:
    r3, r4 = log["receipts"][3], log["receipts"][4]
    honest = verify_cli(
        "proof", str(write_receipt(tmp_path / "r3.json", r3.leaf, r3.tlog_proof())),
        "--vkey", log["vkey"],
    )  # fmt: skip
    assert honest.returncode == EXIT_OK and first_line(honest.stdout).startswith("VERIFIED")
    # Entry 3's proof with entry 4's bytes: the receipt claims what the log never said.
    forged = write_receipt(tmp_path / "forged.json", r4.leaf, r3.tlog_proof())
    cp = r3.checkpoint.decode()
    note = parse_note(r3.checkpoint)
    bad_sig = Note(
        note.text, (NoteSignature(note.signatures[0].name, note.signatures[0].key_id, bytes(68)),)
    ).to_bytes()
    resigned = write_receipt(
        tmp_path / "badsig.json", r3.leaf, r3.tlog_proof().replace(cp, bad_sig.decode())
    )
    cases = {
        forged: "inclusion proof does not lead from its leaf to the root",
        resigned: "does not verify",
        write_receipt(tmp_path / "notb64.json", b"", "x"): "tlog",
    }
    (tmp_path / "broken.json").write_text("{")
    cases[tmp_path / "broken.json"] = "not valid JSON"
    (tmp_path / "ints.json").write_text(
        json.dumps({"media_type": RECEIPT_MEDIA_TYPE, "leaf": 5, "tlog_proof": 7})
    )
    cases[tmp_path / "ints.json"] = "must be strings"
    for path, said in cases.items():
        proc = verify_cli("proof", str(path), "--vkey", log["vkey"])
        line = first_line(proc.stderr)
        assert proc.returncode == 6, (path, proc.stderr)
        assert line.startswith(f"frontier-verify: RECEIPT INVALID: {path}: ") and said in line
        assert "LOG BROKEN" not in proc.stderr
