"""``verify`` replays every envelope; verify, audit and monitor resume from a stored replay state.

The logs are written by the malicious operator of tests/adversary.py (real log
key, no admission) from readable scenarios, so each test controls exactly what
the log holds.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.demo.scenario import load
from tests.adversary import Operator, revoke_regulator, scenario_leaves
from verifier.cli import EXIT_OK, EXIT_VIOLATION, main
from verifier.client import statedir
from verifier.client.fetch import LogSource
from verifier.client.logcheck import check_log
from verifier.client.statedir import REPLAY, StateDir
from verifier.core.checkpoint import open_checkpoint
from verifier.core.leaf import canonical_json, encode_leaf, parse_leaf
from verifier.core.note import parse_vkey
from verifier.errors import SnapshotError
from verifier.policy import snapshot
from verifier.policy.audit import AuditState

SCENARIOS = Path(__file__).parent / "scenarios"
DEMO_SCENARIO = Path(__file__).parent.parent / "ledger" / "demo" / "scenario.toml"
BASE = SCENARIOS / "base.toml"


@pytest.fixture
def operator() -> Operator:
    return Operator(load(BASE).origin)


def _bad_signature(leaf: bytes) -> bytes:
    """The same leaf with one bit of its (only) signature flipped."""
    parsed = parse_leaf(leaf)
    env = parsed.envelope.to_json_obj()
    sig = bytearray(base64.b64decode(env["signatures"][0]["sig"]))
    sig[5] ^= 0x01
    env["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return encode_leaf(canonical_json(env), parsed.logged_at_ms)


def _verify(log: Path, vkey: str, *extra: str) -> int:
    return main(["verify", "--log", str(log), "--vkey", vkey, "--quiet", *extra])


# -- verify checks every envelope under the replayed key set --------------------


def test_verify_replays_the_honest_log(tmp_path: Path, operator: Operator, capsys) -> None:
    operator.publish(tmp_path / "log", scenario_leaves(load(BASE)))
    assert _verify(tmp_path / "log", operator.vkey) == EXIT_OK
    out = capsys.readouterr().out
    assert "entries replayed: every signature" in out and "NOT A GOVERNED LOG" not in out


def test_verify_catches_a_bad_envelope_signature(
    tmp_path: Path, operator: Operator, capsys
) -> None:
    leaves = scenario_leaves(load(BASE))
    leaves[5] = _bad_signature(leaves[5])
    operator.publish(tmp_path / "log", leaves)
    assert _verify(tmp_path / "log", operator.vkey) == EXIT_VIOLATION
    out = capsys.readouterr().out
    assert "L3" in out and "entries 5: " in out and "does not verify" in out


def test_verify_catches_a_revoked_key(tmp_path: Path, operator: Operator, capsys) -> None:
    operator.publish(tmp_path / "log", scenario_leaves(revoke_regulator(load(BASE))))
    assert _verify(tmp_path / "log", operator.vkey) == EXIT_VIOLATION
    assert "revoked at index" in capsys.readouterr().out


def test_verify_says_when_a_log_has_no_charter(tmp_path: Path, operator: Operator, capsys) -> None:
    leaves = scenario_leaves(load(BASE))[1:]  # no charter at index 0
    operator.publish(tmp_path / "log", leaves)
    assert _verify(tmp_path / "log", operator.vkey) == EXIT_OK
    assert "NOT A GOVERNED LOG" in capsys.readouterr().out


# -- stored replay state ----------------------------------------------------------


def _demo_leaves() -> tuple[list[bytes], dict[str, bytes], str]:
    s = load(DEMO_SCENARIO)
    return scenario_leaves(s), s.blobs(), s.origin


def _publish_with_blobs(op: Operator, out: Path, leaves: list[bytes], blobs: dict) -> None:
    op.publish(out, leaves)
    (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for digest, data in blobs.items():
        (out / "blobs" / "sha256" / digest).write_bytes(data)


def _audit_json(log: Path, vkey: str, at: str, capsys, *extra: str) -> tuple[int, dict, str]:
    """Run ``audit --json``; return the exit code, the report and what went to stderr."""
    argv = ["audit", "--log", str(log), "--vkey", vkey, "--json", "--at", at, *extra]
    code = main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_incremental_audit_equals_a_full_audit(tmp_path: Path, monkeypatch, capsys) -> None:
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    at = "2030-06-01T00:00:00Z"
    state = tmp_path / "state"
    _publish_with_blobs(op, tmp_path / "old", leaves[:30], blobs)
    _publish_with_blobs(op, tmp_path / "new", leaves, blobs)
    _audit_json(tmp_path / "old", op.vkey, at, capsys, "--state", str(state))
    assert (state / REPLAY).exists()

    fetched: list[str] = []
    real_fetch = LogSource.fetch

    def counting(self, path: str) -> bytes:
        fetched.append(path)
        return real_fetch(self, path)

    monkeypatch.setattr(LogSource, "fetch", counting)
    code, incremental, err = _audit_json(
        tmp_path / "new", op.vkey, at, capsys, "--state", str(state)
    )
    monkeypatch.undo()
    code_full, full, _ = _audit_json(tmp_path / "new", op.vkey, at, capsys)
    assert (code, incremental["findings"]) == (code_full, full["findings"])
    # Resumed from the stored state (the log is a single bundle here, so the
    # bundle read cannot tell; the messages can): consistency with size 30, no replay.
    assert [p for p in fetched if p.startswith("tile/entries/")] == [
        f"tile/entries/000.p/{len(leaves)}"
    ]
    assert "consistent with the last verified size 30" in err
    assert "replaying from the charter" not in err


def test_a_damaged_replay_state_costs_a_replay_not_a_wrong_answer(tmp_path: Path, capsys) -> None:
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    at = "2030-06-01T00:00:00Z"
    state = tmp_path / "state"
    _publish_with_blobs(op, tmp_path / "old", leaves[:30], blobs)
    _publish_with_blobs(op, tmp_path / "new", leaves, blobs)
    _audit_json(tmp_path / "old", op.vkey, at, capsys, "--state", str(state))
    doc = json.loads((state / REPLAY).read_text())
    doc["state"]["replay"]["origin"] = "someone-else.example/log"  # checksum no longer matches
    (state / REPLAY).write_text(json.dumps(doc))
    code, got, err = _audit_json(tmp_path / "new", op.vkey, at, capsys, "--state", str(state))
    assert "ignoring the stored replay state" in err and "checksum does not match" in err
    assert "replaying from the charter" in err
    code_full, full, _ = _audit_json(tmp_path / "new", op.vkey, at, capsys)
    assert (code, got["findings"]) == (code_full, full["findings"])


def test_a_replay_state_of_another_version_is_replayed(tmp_path: Path, capsys) -> None:
    """A state written by code whose state has another shape is never read into this one."""
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    at = "2030-06-01T00:00:00Z"
    state = tmp_path / "state"
    _publish_with_blobs(op, tmp_path / "old", leaves[:30], blobs)
    _publish_with_blobs(op, tmp_path / "new", leaves, blobs)
    _audit_json(tmp_path / "old", op.vkey, at, capsys, "--state", str(state))
    doc = json.loads((state / REPLAY).read_text())
    assert doc["schema"] == snapshot.schema_id(AuditState)
    doc["schema"] = "0" * 16  # as an older frontier-verify would have written it
    (state / REPLAY).write_text(json.dumps(doc))
    code, got, err = _audit_json(tmp_path / "new", op.vkey, at, capsys, "--state", str(state))
    assert "written by another version" in err and "replaying from the charter" in err
    code_full, full, _ = _audit_json(tmp_path / "new", op.vkey, at, capsys)
    assert (code, got["findings"]) == (code_full, full["findings"])


def test_a_replay_state_of_another_checkpoint_is_not_used(tmp_path: Path, capsys) -> None:
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    state = tmp_path / "state"
    _publish_with_blobs(op, tmp_path / "a", leaves[:20], blobs)
    _publish_with_blobs(op, tmp_path / "b", leaves[:30], blobs)
    assert _verify(tmp_path / "a", op.vkey, "--state", str(state)) == EXIT_OK
    stale = (state / REPLAY).read_bytes()
    assert _verify(tmp_path / "b", op.vkey, "--state", str(state)) == EXIT_OK
    (state / REPLAY).write_bytes(stale)  # as if the process died between the two renames
    capsys.readouterr()
    assert _verify(tmp_path / "b", op.vkey, "--state", str(state), "--full") == EXIT_OK
    src = LogSource(str(tmp_path / "b"))
    cp = open_checkpoint(src.fetch("checkpoint"), parse_vkey(op.vkey))
    assert StateDir(state).load_replay(cp) is not None  # rewritten for the new checkpoint
    (state / REPLAY).write_bytes(stale)
    assert StateDir(state).load_replay(cp) is None  # names another checkpoint: ignored


def test_a_replay_state_beyond_its_cap_is_not_read_whole(tmp_path: Path, monkeypatch) -> None:
    """A planted replay.json larger than any state of the log could be is refused as
    damaged (then replayed), not read into memory."""
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    state = tmp_path / "state"
    _publish_with_blobs(op, tmp_path / "a", leaves[:20], blobs)
    assert _verify(tmp_path / "a", op.vkey, "--state", str(state)) == EXIT_OK
    src = LogSource(str(tmp_path / "a"))
    cp = open_checkpoint(src.fetch("checkpoint"), parse_vkey(op.vkey))
    real = (state / REPLAY).stat().st_size
    assert StateDir(state).load_replay(cp) is not None
    monkeypatch.setattr(
        statedir, "REPLAY_BYTES_BASE", real - 1 - 20 * statedir.REPLAY_BYTES_PER_ENTRY
    )
    assert statedir.replay_cap(cp.size) == real - 1
    with pytest.raises(SnapshotError, match=r"replay state file .* \(damaged, or not written"):
        StateDir(state).load_replay(cp)
    monkeypatch.setattr(statedir, "REPLAY_BYTES_BASE", real - 20 * statedir.REPLAY_BYTES_PER_ENTRY)
    assert StateDir(state).load_replay(cp) is not None  # exactly at the cap: read


def _audited_demo_state(tmp_path: Path) -> AuditState:
    """The auditor's state after the whole demo log, published under *tmp_path*/log."""
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    _publish_with_blobs(op, tmp_path / "log", leaves, blobs)
    src = LogSource(str(tmp_path / "log"))
    cp = open_checkpoint(src.fetch("checkpoint"), parse_vkey(op.vkey))
    return check_log(cp, src.fetch, None, schedule=True, blobs=blobs).auditor.state


def test_snapshot_round_trip_and_strictness(tmp_path: Path) -> None:
    state = _audited_demo_state(tmp_path)
    assert state.policy is not None and state.policy.runs and state.replay.registry is not None
    data = json.loads(json.dumps(snapshot.encode(AuditState, state)))
    again = snapshot.decode(AuditState, data)
    assert snapshot.encode(AuditState, again) == data
    assert again.replay.entry_type(0) == "charter"
    assert again.replay.registry.keys == state.replay.registry.keys
    assert again.policy.runs == state.policy.runs

    def broken(edit) -> str:
        bad = json.loads(json.dumps(data))
        edit(bad)
        with pytest.raises(SnapshotError) as info:
            snapshot.decode(AuditState, bad)
        return str(info.value)

    assert "expected an integer" in broken(lambda d: d.__setitem__("last_ms", True))
    assert "expected a string" in broken(lambda d: d["replay"].__setitem__("origin", 7))
    assert "fields differ" in broken(lambda d: d.__setitem__("extra", 1))
    assert "not valid base64" in broken(lambda d: d["replay"].__setitem__("_types", "%%"))
    assert "differ in length" in broken(
        lambda d: d["replay"].__setitem__("_types", base64.b64encode(b"\x01").decode())
    )


def _json_paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _json_paths(v, (*path, i))


def test_the_compiled_snapshot_decoder_is_as_strict_as_the_annotated_walk(tmp_path: Path) -> None:
    """snapshot.decode runs a decoder compiled per type and falls back to the annotated
    walk only to name the place of an error: for the same data the two must accept the
    same values and refuse the same edits (a fast path that let one through would load
    a damaged state)."""
    state = _audited_demo_state(tmp_path)
    data = json.loads(json.dumps(snapshot.encode(AuditState, state)))
    fast = snapshot._compiled(AuditState)
    assert fast(data) == snapshot._decode(AuditState, data)
    paths = list(_json_paths(data))[1:]
    assert len(paths) > 500
    compared = refused = 0
    for n, path in enumerate(paths[:: max(1, len(paths) // 800)]):
        for wrong in (True, 7, "x", None, [], {}, [1, 2], "%%"):
            bad = json.loads(json.dumps(data))
            node = bad
            for key in path[:-1]:
                node = node[key]
            if node[path[-1]] == wrong and type(node[path[-1]]) is type(wrong):
                continue
            node[path[-1]] = wrong
            try:
                slow = snapshot._decode(AuditState, bad, "state")
            except SnapshotError as exc:
                refused += 1
                with pytest.raises((SnapshotError, TypeError, ValueError, AttributeError)):
                    fast(bad)
                with pytest.raises(SnapshotError) as info:
                    snapshot.decode(AuditState, bad, "state")
                assert str(info.value) == str(exc), (n, path, wrong)
                continue
            assert fast(bad) == slow, (path, wrong)
            compared += 1
    assert refused > 500 and compared > 0


def test_the_compiled_snapshot_encoder_writes_what_the_annotated_walk_writes(
    tmp_path: Path,
) -> None:
    """snapshot.encode runs an encoder compiled per type; the walk is its definition:
    the two must give the same data for a whole audited state (every kind of field:
    optional, fixed and variable tuples, frozensets, dicts, arrays, bytes, dataclasses)."""
    from ledger.storage.admission_db import AdmissionState
    from verifier.policy.state import PolicyState

    state = _audited_demo_state(tmp_path)
    assert state.policy is not None and state.policy.runs and state.policy.approvals
    walked = snapshot._encode(AuditState, state)
    assert snapshot.encode(AuditState, state) == walked
    assert json.dumps(snapshot.encode(AuditState, state)) == json.dumps(walked)
    assert snapshot.encode(PolicyState, state.policy) == snapshot._encode(PolicyState, state.policy)
    admission = AdmissionState(state.replay, state.policy, {3: ("org", None, 1, 2026)})
    assert snapshot.encode(AdmissionState, admission) == snapshot._encode(AdmissionState, admission)
    # and what it writes reads back to an equal state
    assert snapshot.decode(AuditState, walked).policy == state.policy


# -- signatures on two processes ---------------------------------------------------


def test_parallel_signatures_give_the_in_line_answer(tmp_path: Path) -> None:
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    for name, log_leaves in (
        ("clean", leaves),
        ("bad", [*leaves[:12], _bad_signature(leaves[12]), *leaves[13:]]),
    ):
        _publish_with_blobs(op, tmp_path / name, log_leaves, blobs)
        src = LogSource(str(tmp_path / name))
        cp = open_checkpoint(src.fetch("checkpoint"), parse_vkey(op.vkey))
        inline = check_log(cp, src.fetch, None, schedule=True, blobs=blobs)
        pooled = check_log(
            cp, src.fetch, None, schedule=True, blobs=blobs, jobs=2, min_parallel=0, chunk=4
        )
        assert pooled.auditor.findings == inline.auditor.findings
        assert snapshot.encode(AuditState, pooled.auditor.state) == snapshot.encode(
            AuditState, inline.auditor.state
        )
        if name == "clean":
            assert (pooled.parallel_jobs, pooled.rechecked_in_line) == (2, False)
            assert inline.auditor.findings == []
        else:
            assert pooled.rechecked_in_line
            assert [(f.rule, f.indices) for f in inline.auditor.findings][:1] == [("L3", (12,))]


# -- monitor resumes -----------------------------------------------------------------


def test_monitor_resumes_from_its_state(tmp_path: Path, capsys) -> None:
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    state = tmp_path / "state"
    log = tmp_path / "log"
    argv = ["monitor", "--log", str(log), "--vkey", op.vkey, "--state", str(state)]
    argv += ["--rounds", "1", "--interval", "0", "--max-age", "1e12"]
    _publish_with_blobs(op, log, leaves[:30], blobs)
    assert main(argv) == EXIT_OK
    first = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["index"] for e in first if e["event"] == "entry"] == list(range(30))
    _publish_with_blobs(op, log, leaves, blobs)
    assert main(argv) == EXIT_OK
    second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["index"] for e in second if e["event"] == "entry"] == list(range(30, len(leaves)))
    # No finding is invented by resuming mid-log (the demo breaks no rule).
    assert [e for e in first + second if e["event"] == "finding"] == []


def test_the_verdict_comes_first_and_what_it_rests_on_follows(tmp_path: Path, capsys) -> None:
    """A resumed verify or audit prints its verdict on the first line, then the grounds."""
    leaves, blobs, origin = _demo_leaves()
    op = Operator(origin)
    _publish_with_blobs(op, tmp_path / "old", leaves[:30], blobs)
    _publish_with_blobs(op, tmp_path / "new", leaves, blobs)
    # The demo's schedule, judged in 2030, has deadlines its first 30 entries miss.
    verdicts = {"verify": ("VERIFIED ",), "audit": ("NO VIOLATIONS ", "VIOLATIONS ")}
    for command, first in verdicts.items():
        state = str(tmp_path / f"state-{command}")
        argv = [command, "--vkey", op.vkey, "--state", state]
        extra = ["--at", "2030-06-01T00:00:00Z"] if command == "audit" else []
        assert main([*argv, "--log", str(tmp_path / "old"), *extra]) in (EXIT_OK, EXIT_VIOLATION)
        capsys.readouterr()
        assert main([*argv, "--log", str(tmp_path / "new"), *extra]) in (EXIT_OK, EXIT_VIOLATION)
        got = capsys.readouterr()
        lines = got.out.splitlines()
        assert lines[0].startswith(first), (command, lines)
        assert lines[1].startswith("   checkpoint signed by "), (command, lines)
        assert lines[2] == "   consistent with the last verified size 30", (command, lines)
        assert "consistent with" not in got.err
