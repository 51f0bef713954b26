"""The adversarial suite: a malicious operator, and what the verifier catches.

Each test plays one attack with the real log key (tests/adversary.py writes any
leaves as a signed tlog-tiles log, skipping the sequencer's checks) and runs
the standalone verifier on the result, expecting the right error or finding.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
from pathlib import Path

import pytest

from ledger.demo.scenario import ScenarioEntry, load
from ledger.write.tree import TreeEdge, leaf_hashes
from tests.adversary import Operator, revoke_regulator, scenario_leaves, with_entry
from verifier.cli import EXIT_LOG_BROKEN, EXIT_OK, EXIT_UNWITNESSED, EXIT_VIOLATION, main
from verifier.core.checkpoint import Checkpoint
from verifier.core.cosignature import CosignatureSigner
from verifier.core.note import sign_note
from verifier.core.prover import Prover
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof

SCENARIOS = Path(__file__).parent / "scenarios"
BASE = SCENARIOS / "base.toml"


@pytest.fixture
def operator() -> Operator:
    return Operator(load(BASE).origin)


def audit(log: Path, vkey: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict]]:
    """Run frontier-verify audit; the error text stays readable as ``capsys.err`` below."""
    argv = ["audit", "--log", str(log), "--vkey", vkey, "--json", "--quiet"]
    code = main([*argv, "--at", "2028-01-02T00:00:00Z"])
    captured = capsys.readouterr()
    audit.err = captured.err  # type: ignore[attr-defined]
    return code, json.loads(captured.out)["findings"] if captured.out.strip() else []


def published(tmp_path: Path, operator: Operator, scenario: Path | str = BASE, edit=None) -> Path:
    s = load(SCENARIOS / scenario if isinstance(scenario, str) else scenario)
    if edit is not None:
        s = edit(s)
    out = tmp_path / "log"
    operator.publish(out, scenario_leaves(s))
    return out


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_the_honest_baseline_audits_clean(tmp_path: Path, operator: Operator, capsys) -> None:
    code, findings = audit(published(tmp_path, operator), operator.vkey, capsys)
    assert (code, findings) == (EXIT_OK, [])


def test_flipped_byte_in_an_entry(tmp_path: Path, operator: Operator, capsys) -> None:
    log = published(tmp_path, operator)
    flip(log / "tile/entries/000.p/12", 200)
    code, _ = audit(log, operator.vkey, capsys)
    assert code == EXIT_LOG_BROKEN and "does not hash to" in audit.err  # type: ignore[attr-defined]


def test_flipped_byte_in_a_tile(tmp_path: Path, operator: Operator, capsys) -> None:
    log = published(tmp_path, operator)
    flip(log / "tile/0/000.p/12", 40)
    assert audit(log, operator.vkey, capsys)[0] == EXIT_LOG_BROKEN


def test_flipped_byte_in_the_checkpoint(tmp_path: Path, operator: Operator, capsys) -> None:
    log = published(tmp_path, operator)
    note = (log / "checkpoint").read_bytes()
    (log / "checkpoint").write_bytes(note.replace(b"\n12\n", b"\n11\n"))
    assert audit(log, operator.vkey, capsys)[0] == EXIT_LOG_BROKEN
    assert "signature" in audit.err  # type: ignore[attr-defined]


def test_resigned_history_split_view(tmp_path: Path, operator: Operator, capsys) -> None:
    """Two verifiers are shown two histories under one key: compare proves the fork."""
    honest = published(tmp_path / "a", operator)
    evil = published(tmp_path / "b", operator, "s8_early_decision.toml")
    a, b = tmp_path / "a.cp", tmp_path / "b.cp"
    shutil.copy(honest / "checkpoint", a)
    shutil.copy(evil / "checkpoint", b)
    out = tmp_path / "fork.json"
    argv = [
        "compare",
        str(a),
        str(b),
        "--log",
        str(evil),
        "--vkey",
        operator.vkey,
        "--out",
        str(out),
    ]
    assert main(argv) == EXIT_LOG_BROKEN
    capsys.readouterr()
    assert main(["compare", "--evidence", str(out), "--vkey", operator.vkey]) == EXIT_LOG_BROKEN
    assert capsys.readouterr().err.startswith("INCONSISTENT: proven fork")
    # The witness refusing to cosign the second view is tests/test_witness.py::test_split_view*.


def test_rollback(tmp_path: Path, operator: Operator, capsys) -> None:
    s = load(BASE)
    leaves = scenario_leaves(s)
    state = tmp_path / "state"
    full = tmp_path / "full"
    operator.publish(full, leaves)
    assert (
        main(
            [
                "verify",
                "--log",
                str(full),
                "--vkey",
                operator.vkey,
                "--state",
                str(state),
                "--quiet",
            ]
        )
        == EXIT_OK
    )
    short = tmp_path / "short"
    operator.publish(short, leaves[:-3])
    code = main(
        ["verify", "--log", str(short), "--vkey", operator.vkey, "--state", str(state), "--quiet"]
    )
    assert code == EXIT_LOG_BROKEN and "rollback" in capsys.readouterr().err


def test_logged_at_going_backwards(tmp_path: Path, operator: Operator, capsys) -> None:
    code, findings = audit(
        published(tmp_path, operator, "l2_logged_at_backwards.toml"), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION and [f["rule"] for f in findings] == ["L2"]


def test_entry_signed_by_a_revoked_key(tmp_path: Path, operator: Operator, capsys) -> None:
    code, findings = audit(
        published(tmp_path, operator, BASE, revoke_regulator), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION
    assert {f["rule"] for f in findings if f["severity"] == "violation"} >= {"L3"}
    assert any("revoked" in f["message"] for f in findings)
    # verify, too: its first line is the verdict, not an "OK" before the violations.
    log = published(tmp_path / "again", operator, BASE, revoke_regulator)
    assert main(["verify", "--log", str(log), "--vkey", operator.vkey, "--quiet"]) == EXIT_VIOLATION
    out = capsys.readouterr().out
    assert out.startswith("VIOLATIONS ") and "the tree is intact" in out.splitlines()[0]
    assert "OK" not in out.splitlines()[0]


def test_key_grant_without_board_quorum(tmp_path: Path, operator: Operator, capsys) -> None:
    def lone_governor(s):
        grant = ScenarioEntry(
            "grant-rogue",
            "key_grant",
            s.entries[3].at_ms,
            ("governor-a",),
            {"actor": "rogue", "roles": ["regulator"], "reason": "appointed by one governor"},
        )
        return with_entry(s, "grant-evaluator", grant)

    code, findings = audit(
        published(tmp_path, operator, BASE, lone_governor), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION
    assert [(f["rule"], f["indices"]) for f in findings] == [("L3", [4])]
    assert "needs 2 signatures" in findings[0]["message"]


def test_approval_without_a_preregistration(tmp_path: Path, operator: Operator, capsys) -> None:
    def approve_something_else(s):
        entries = list(s.entries)
        i = next(k for k, e in enumerate(entries) if e.label == "decision-acme")
        fields = copy.deepcopy(entries[i].fields)
        fields["submission"] = "@org-acme"  # not a submission of any pre-registered run
        entries[i] = ScenarioEntry(
            entries[i].label, "decision", entries[i].at_ms, entries[i].by, fields
        )
        return type(s)(s.title, s.origin, s.now_ms, s.expect, tuple(entries))

    code, findings = audit(
        published(tmp_path, operator, BASE, approve_something_else), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION
    assert "L4" in {f["rule"] for f in findings}  # the chain decision -> submission is broken


def test_early_on_time_decision(tmp_path: Path, operator: Operator, capsys) -> None:
    code, findings = audit(
        published(tmp_path, operator, "s8_early_decision.toml"), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION and [f["rule"] for f in findings] == ["S8"]


def test_late_decision_out_of_order(tmp_path: Path, operator: Operator, capsys) -> None:
    code, findings = audit(
        published(tmp_path, operator, "s9_late_out_of_order.toml"), operator.vkey, capsys
    )
    assert code == EXIT_VIOLATION and {f["rule"] for f in findings} == {"S9"}


def test_lift_without_approval_at_the_level_below(
    tmp_path: Path, operator: Operator, capsys
) -> None:
    log = published(tmp_path, operator, "s11_lift_without_approval.toml")
    code, findings = audit(log, operator.vkey, capsys)
    assert code == EXIT_VIOLATION and [f["rule"] for f in findings] == ["S11"]


def test_receipt_whose_checkpoint_lacks_the_witness_quorum(tmp_path: Path, capsys) -> None:
    """The operator makes a receipt for a claimed approval; it cannot forge a witness's
    cosignature, so a verifier whose policy needs that witness refuses the receipt."""
    op = Operator("adversary.example/log")
    leaves = [b'{"claimed":"approval"}', b"other"]
    edge = TreeEdge()
    tiles = edge.append(leaf_hashes(leaves))
    note = sign_note(Checkpoint(op.origin, 2, edge.root()).to_text(), [op.key])
    proof = Prover(lambda lv, ix: tiles.get((lv, ix))).inclusion(0, 2)
    witness = CosignatureSigner.from_seed("gov.example/witness", bytes(range(5, 37)))
    policy = tmp_path / "policy"
    policy.write_text(f"log {op.vkey}\nwitness w {witness.verifier.vkey}\nquorum w\n")
    receipt = tmp_path / "receipt.json"
    receipt.write_text(
        json.dumps(
            {
                "media_type": RECEIPT_MEDIA_TYPE,
                "leaf": base64.b64encode(leaves[0]).decode(),
                "tlog_proof": TlogProof(0, tuple(proof), note).to_text(),
            }
        )
    )
    assert main(["proof", str(receipt), "--policy", str(policy)]) == EXIT_UNWITNESSED
    assert "lacks the witness quorum" in capsys.readouterr().err


def test_audit_evidence_can_be_checked_by_a_third_party(
    tmp_path: Path, operator: Operator, capsys
) -> None:
    log = published(tmp_path, operator, "s8_early_decision.toml")
    evidence = tmp_path / "evidence"
    argv = [
        "audit",
        "--log",
        str(log),
        "--vkey",
        operator.vkey,
        "--quiet",
        "--evidence",
        str(evidence),
    ]
    assert main([*argv, "--at", "2028-01-02T00:00:00Z"]) == EXIT_VIOLATION
    (path,) = sorted(evidence.glob("*-S8.json"))
    doc = json.loads(path.read_text())
    assert doc["finding"]["rule"] == "S8"
    assert [e["index"] for e in doc["entries"]] == doc["finding"]["indices"]
    capsys.readouterr()
    for entry in doc["entries"]:  # offline, with nothing but the log's key
        receipt = tmp_path / f"r{entry['index']}.json"
        receipt.write_text(json.dumps(entry["receipt"]))
        assert main(["proof", str(receipt), "--vkey", operator.vkey, "--show-payload"]) == EXIT_OK
    out = capsys.readouterr().out
    assert '"type":"decision"' in out.replace(" ", "") and '"type":"submission"' in out.replace(
        " ", ""
    )
