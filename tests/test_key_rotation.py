"""Rotating the log key without breaking a verifier, end to end.

A governed log served by a real ``frontier-ledger serve`` process; the operator
runs the real ``frontier-ledger key`` commands (rotate-start, change-entry,
rotate-finish) with the server stopped, as docs/operator.md says; auditors run
the real ``frontier-verify`` command. A verifier that trusted the old key and
keeps a state directory passes at every step and moves to the new key on its
own; a fresh one with the new key passes after the rotation; one with only the
old key and no state fails, naming the key it does not know. A key change not
signed by the board's quorum is refused by admission, and flagged by
``frontier-verify verify`` when a malicious operator writes it into a log.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.ops.datadir import DataDir
from ledger.write.open_log import init_log
from tests.adversary import Operator
from tests.governed import Actor, charter_body, envelope, grant_body
from tests.payload_examples import EXAMPLES
from tests.serverproc import ServerProcess, run_module
from verifier.client import logkeys
from verifier.core.checkpoint import open_checkpoint
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.core.note import Ed25519Signer, parse_note, parse_skey, parse_vkey, sign_note
from verifier.errors import FormatError, RetiredKeyError, UnknownKeyError

ORIGIN = "rotation.example/log"


def run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(module, *args)


def ok(module: str, *args: str) -> str:
    proc = run(module, *args)
    assert proc.returncode == 0, f"{module} {args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def verify(log: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run("verifier.cli", "verify", "--log", log, "--quiet", *args)


def monitor(log: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """One round of ``frontier-verify monitor``: exit code, JSON events, stderr."""
    proc = run("verifier.cli", "monitor", "--log", log, "--rounds", "1", "--interval", "0", *args)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = DataDir.at(root / "data")
        self.old_vkey = init_log(self.data, ORIGIN)
        self.board = [Actor(f"gov-{c}") for c in "abc"]
        self.regulator = Actor("regulator")
        for a in (*self.board, self.regulator):
            a.key.write(root / f"{a.name}.key")
        self.server = ServerProcess(self.data.root)

    @property
    def log(self) -> str:
        return self.server.url("/log")

    def post(self, env: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.server.url("/api/v1/entries"), json=env, timeout=30)

    def append(self, entry_type: str, body: dict[str, Any], *signers: Actor) -> int:
        r = self.post(envelope(ORIGIN, entry_type, body, *signers))
        assert r.status_code == 201, r.text
        return int(r.json()["index"])

    def checkpoint(self) -> bytes:
        return httpx.get(self.server.url("/log/checkpoint"), timeout=30).content

    def key_ids(self) -> list[str]:
        return [s.key_id.hex() for s in parse_note(self.checkpoint()).signatures]

    def restart_with(self, *key_command: str) -> str:
        """Stop the server, run a ``frontier-ledger key`` command, start it again."""
        self.server.stop()
        try:
            return ok("frontier_ledger", "key", *key_command, "--data", str(self.data.root))
        finally:
            self.server.start()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("rotation"))
    w.server.start()
    try:
        w.append("charter", charter_body(w.board, 2), *w.board[:2])
        w.append("key_grant", grant_body(w.regulator, "regulator"), *w.board[:2])
        yield w
    finally:
        w.server.stop()


def test_rotation_end_to_end(world: World, tmp_path: Path) -> None:
    w = world
    old = parse_vkey(w.old_vkey)
    state = tmp_path / "state"
    following = ["--vkey", w.old_vkey, "--state", str(state)]

    # Before: the verifier that will follow the rotation trusts the old key only.
    first = verify(w.log, *following)
    assert first.returncode == 0, first.stderr
    # A monitor (another government's, running all along) follows it too.
    watching = ["--vkey", w.old_vkey, "--state", str(tmp_path / "monitor")]
    code, _, err = monitor(w.log, *watching)
    assert code == 0, err
    assert w.key_ids() == [old.key_id.hex()]

    # (a) The next key: same origin, so the same key name, and a new key hash.
    out = w.restart_with("rotate-start")
    new_vkey = out.strip().splitlines()[-1]
    new = parse_vkey(new_vkey)
    assert new.name == old.name == ORIGIN and new.key_id != old.key_id
    assert (w.data.root / "log.next.key").stat().st_mode & 0o777 == 0o600
    assert (w.data.root / "log.next.vkey").read_text().strip() == new_vkey

    # (b) The overlap: every checkpoint is signed by both keys, the published one at once.
    assert w.key_ids() == [old.key_id.hex(), new.key_id.hex()]
    w.append("organisation", EXAMPLES["organisation"], w.regulator)
    assert w.key_ids() == [old.key_id.hex(), new.key_id.hex()]
    for vkey in (w.old_vkey, new_vkey):  # a verifier that knows either key verifies
        assert verify(w.log, "--vkey", vkey).returncode == 0
    proc = verify(w.log, *following)
    assert proc.returncode == 0, proc.stderr

    # No key change entry yet: finishing is refused (verifiers could not follow).
    w.server.stop()
    try:
        refused = run("frontier_ledger", "key", "rotate-finish", "--data", str(w.data.root))
        assert refused.returncode == 2 and "no log_key_change entry" in refused.stderr
    finally:
        w.server.start()

    # (c) A key change the board's quorum did not sign is refused by admission.
    before = parse_note(w.checkpoint()).text
    forged = {
        "new_vkey": Ed25519Signer.from_seed(ORIGIN, bytes(range(50, 82))).verifier.vkey,
        "old_key_hash": old.key_id.hex(),
        "overlap_end": "2030-01-01T00:00:00Z",
        "reason": "forged",
    }
    r = w.post(envelope(ORIGIN, "log_key_change", forged, w.board[0]))
    assert r.status_code == 403 and r.json()["code"] == "quorum-not-met", r.text
    r = w.post(envelope(ORIGIN, "log_key_change", forged, w.regulator))
    assert r.status_code == 403 and r.json()["code"] == "wrong-role", r.text
    assert parse_note(w.checkpoint()).text == before

    # The board's key change, drafted from the key files and signed by two governors.
    # The overlap ends in 45 s of wall time (rotate-finish reads the real clock): enough
    # for the steps below to check the early refusal on a loaded machine.
    overlap_end = time.time() + 45
    envelope_path = w.root / "key-change.json"
    ok(
        "frontier_ledger", "key", "change-entry", "--data", str(w.data.root),
        "--overlap-end", rfc3339(overlap_end), "--reason", "scheduled rotation",
        "--sign-key", str(w.root / "gov-a.key"), "--sign-key", str(w.root / "gov-c.key"),
        "--out", str(envelope_path),
    )  # fmt: skip
    payload = json.loads(envelope_path.read_text())
    receipt = w.root / "key-change.receipt.json"
    submitted = run(
        "frontier_ledger", "submit", str(envelope_path), "--url", w.server.base_url,
        "--receipt", str(receipt),
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    change_index = int(submitted.stderr.split("index ")[1].split(",")[0])
    assert payload["payloadType"].endswith("log_key_change.v1+json")
    assert len(payload["signatures"]) == 2

    # Finishing before the announced end of the overlap is refused.
    w.server.stop()
    try:
        early = run("frontier_ledger", "key", "rotate-finish", "--data", str(w.data.root))
        assert time.time() < overlap_end, "the test machine is too slow for this check"
        assert early.returncode == 2 and "finish after it" in early.stderr, early.stderr
    finally:
        w.server.start()

    # The following verifier sees the change under the old key and trusts the new key.
    learned = verify(w.log, *following)
    assert learned.returncode == 0, learned.stderr
    assert f"log key change at entry {change_index}" in learned.stdout
    assert new_vkey in learned.stdout
    stored = logkeys.load(state, ORIGIN)
    assert [c.new_vkey for c in stored] == [new_vkey]
    assert not stored[0].finished or time.time() >= int(overlap_end)  # only the clock ends it
    assert stored[0].old_key_hash == old.key_id.hex()
    # The receipt of the key change verifies offline, under either key.
    for vkey in (w.old_vkey, new_vkey):
        ok("verifier.cli", "proof", str(receipt), "--vkey", vkey)
    code, events, err = monitor(w.log, *watching)
    assert code == 0, err
    changes = [e for e in events if e["event"] == "key_change"]
    assert [(c["index"], c["new_vkey"], c["followed"]) for c in changes] == [
        (change_index, new_vkey, True)
    ]
    # A verifier without state and with the old key still passes during the overlap.
    assert verify(w.log, "--vkey", w.old_vkey).returncode == 0

    # (d) After the overlap: the next key is the log key, the old one is archived.
    time.sleep(max(0.0, overlap_end - time.time() + 1))
    finished = w.restart_with("rotate-finish")
    assert finished.strip().splitlines()[-1] == new_vkey
    archived = w.data.root / "retired-keys" / f"log-{old.key_id.hex()}.key"
    assert archived.stat().st_mode & 0o777 == 0o600
    assert parse_skey(archived.read_text()).verifier == old
    assert (w.data.root / "log.vkey").read_text().strip() == new_vkey
    assert not (w.data.root / "log.next.key").exists()
    assert w.key_ids() == [new.key_id.hex()]

    # The following verifier, still started with the old vkey, passes under the new key
    # and retires the old one (the published checkpoint no longer carries it).
    proc = verify(w.log, *following)
    assert proc.returncode == 0, proc.stderr
    assert f"{ORIGIN}+{new.key_id.hex()} (Ed25519)" in proc.stdout
    assert "is retired" in proc.stdout + learned.stdout
    assert logkeys.load(state, ORIGIN)[0].finished
    w.append("key_grant", grant_body(Actor("evaluator"), "evaluator"), *w.board[1:])
    proc = verify(w.log, *following)
    assert proc.returncode == 0, proc.stderr

    # The monitor, still started with the old vkey, passes under the new key alone and
    # retires the old one, as the verifier did.
    code, events, err = monitor(w.log, *watching)
    assert code == 0, err
    assert any(e["event"] == "checkpoint" for e in events)
    code, events2, err = monitor(w.log, *watching)
    assert code == 0, err
    assert any(e["event"] == "key_retired" for e in events + events2), events + events2
    # A monitor that never saw the key change, with only the old vkey, refuses the log.
    code, _, err = monitor(w.log, "--vkey", w.old_vkey)
    assert code == 3 and "unknown key" in err, err
    # A fresh verifier with only the new vkey, published out of band, passes.
    assert verify(w.log, "--vkey", new_vkey).returncode == 0
    # A fresh verifier with only the old vkey and no state fails, naming the new key.
    stale = verify(w.log, "--vkey", w.old_vkey)
    assert stale.returncode == 3
    assert f"{ORIGIN}+{new.key_id.hex()}" in stale.stderr and "unknown key" in stale.stderr

    # Whoever holds the archived old key cannot sign for the log any more: a checkpoint
    # signed by it alone is refused by the verifier that followed the rotation.
    mirror = tmp_path / "mirror"
    ok("frontier_ledger", "export", "--data", str(w.data.root), str(mirror))
    text = parse_note((mirror / "checkpoint").read_bytes()).text
    (mirror / "checkpoint").write_bytes(sign_note(text, [parse_skey(archived.read_text())]))
    retired = verify(str(mirror), *following)
    assert retired.returncode == 3 and "retired" in retired.stderr, retired.stderr

    # The public site renders the new entry type, and lists the change on its keys page.
    keys = httpx.get(w.server.url("/keys?format=json"), timeout=30).json()
    assert keys["vkey"] == new_vkey
    assert [c["index"] for c in keys["log_key_changes"]] == [change_index]
    page = httpx.get(w.server.url("/keys"), timeout=30)
    assert page.status_code == 200 and "Changes of the log" in page.text
    assert old.key_id.hex() in page.text
    entry = httpx.get(w.server.url(f"/entries/{change_index}"), timeout=30)
    assert entry.status_code == 200 and "change of the log's key" in html.unescape(entry.text)
    listed = httpx.get(w.server.url("/entries?type=log_key_change&format=json"), timeout=30)
    assert [e["index"] for e in listed.json()["entries"]] == [change_index]


# -- a malicious operator writes a forged key change into the log ------------------------


def leaves(*envelopes: dict[str, Any]) -> list[bytes]:
    at = 1_800_000_000_000
    return [encode_leaf(canonical_json(env), at + i) for i, env in enumerate(envelopes)]


def test_a_forged_key_change_in_the_log_is_flagged_and_not_followed(tmp_path: Path) -> None:
    op = Operator(ORIGIN)
    board = [Actor(f"gov-{c}") for c in "abc"]
    attacker = Ed25519Signer.from_seed(ORIGIN, bytes(range(60, 92)))
    change = {
        "new_vkey": attacker.verifier.vkey,
        "old_key_hash": parse_vkey(op.vkey).key_id.hex(),
        "overlap_end": "2027-01-01T00:00:00Z",
        "reason": "the operator alone",
    }
    misnamed = {
        **change,
        "new_vkey": Ed25519Signer.from_seed("other.example/log", bytes(32)).verifier.vkey,
    }
    log = tmp_path / "log"
    op.publish(
        log,
        leaves(
            envelope(ORIGIN, "charter", charter_body(board, 2), *board[:2]),
            envelope(ORIGIN, "log_key_change", change, board[0]),  # one governor of two
            envelope(ORIGIN, "log_key_change", misnamed, *board[:2]),  # quorum, wrong name
        ),
    )
    state = tmp_path / "state"
    proc = verify(str(log), "--vkey", op.vkey, "--state", str(state))
    assert proc.returncode == 1, proc.stderr
    assert "entry 1 should not have been admitted" in proc.stdout
    assert "log_key_change needs 2 signatures by board keys" in proc.stdout
    assert "entry 2 should not have been admitted" in proc.stdout
    assert "not named by this log's origin" in proc.stdout
    assert "log key change at entry" not in proc.stdout
    assert logkeys.load(state, ORIGIN) == ()  # nothing learnt from the forgeries
    # The operator now signs with the attacker's key: the verifier does not follow.
    note = (log / "checkpoint").read_bytes()
    (log / "checkpoint").write_bytes(sign_note(parse_note(note).text, [attacker]))
    proc = verify(str(log), "--vkey", op.vkey, "--state", str(state))
    assert proc.returncode == 3 and attacker.key_id.hex() in proc.stderr


# -- the verifier's key state, unit by unit ----------------------------------------------


def test_log_keys_learn_retire_and_refuse(tmp_path: Path) -> None:
    a = Ed25519Signer.from_seed(ORIGIN, bytes(range(32)))
    b = Ed25519Signer.from_seed(ORIGIN, bytes(range(1, 33)))
    far = "2999-01-01T00:00:00Z"
    change = logkeys.KeyChange(5, b.verifier.vkey, a.key_id.hex(), far, "r")
    keys = logkeys.LogKeys((a.verifier,)).learn([change])
    assert keys.trusted() == [a.verifier, b.verifier] and keys.retired() == []
    text = "rotation.example/log\n9\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    both = open_checkpoint(sign_note(text, [a, b]), keys.trusted())
    assert not keys.finish(both, 0).changes[0].finished  # the old key still signs
    only_b = open_checkpoint(sign_note(text, [b]), keys.trusted())
    done = keys.finish(only_b, 0)
    assert done.changes[0].finished and done.retired() == [a.verifier]
    assert done.trusted() == [b.verifier]
    with pytest.raises(RetiredKeyError, match="retired"):
        open_checkpoint(sign_note(text, [a]), done.trusted(), retired=done.retired())
    # The clock ends the overlap too, even while the old key still signs.
    late = logkeys.LogKeys((a.verifier,)).learn([change]).finish(both, 2**40)
    assert late.changes[0].finished
    # Not before the change is in the verified tree.
    early = open_checkpoint(sign_note(text.replace("\n9\n", "\n5\n"), [b]), keys.trusted())
    assert not keys.finish(early, 0).changes[0].finished
    # The state file: round trip, and damage is refused (the caller then trusts less).
    logkeys.save(tmp_path, ORIGIN, done.changes)
    assert logkeys.load(tmp_path, ORIGIN) == done.changes
    path = tmp_path / logkeys.LOG_KEYS
    good = path.read_text()
    for bad in (
        good.replace(b.verifier.vkey, a.verifier.vkey[:-2] + "AA"),
        good.replace('"finished": true', '"finished": 1'),
        good.replace(ORIGIN, "other.example/log", 1),
        "[]",
    ):
        path.write_text(bad)
        with pytest.raises(FormatError):
            logkeys.load(tmp_path, ORIGIN)
    with pytest.raises(UnknownKeyError, match=b.key_id.hex()):
        open_checkpoint(sign_note(text, [b]), [a.verifier])


def test_ml_dsa_keys_follow_a_rotation_too() -> None:
    from verifier.core.mldsa import MLDSA44Signer

    a = Ed25519Signer.from_seed(ORIGIN, bytes(range(32)))
    b = Ed25519Signer.from_seed(ORIGIN, bytes(range(1, 33)))
    pq_a = MLDSA44Signer.from_seed(ORIGIN, bytes(range(2, 34)))
    pq_b = MLDSA44Signer.from_seed(ORIGIN, bytes(range(3, 35)))
    change = logkeys.KeyChange(
        1, b.verifier.vkey, a.key_id.hex(), "2999-01-01T00:00:00Z", "r", pq_b.verifier.vkey
    )
    keys = logkeys.LogKeys((a.verifier, pq_a.verifier)).learn([change])
    assert keys.trusted_mldsa() == [pq_a.verifier, pq_b.verifier]
    text = "rotation.example/log\n9\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    cp = open_checkpoint(sign_note(text, [b, pq_b]), keys.trusted())
    done = keys.finish(cp, 0)
    assert done.trusted() == [b.verifier, pq_b.verifier]
    assert set(done.retired()) == {a.verifier, pq_a.verifier}


def test_rotating_a_log_with_an_ml_dsa_key(tmp_path: Path) -> None:
    """The key commands on a synthetic log (no board): both key types rotate together."""
    data = str(tmp_path / "data")
    ok("frontier_ledger", "init", "--data", data, "--origin", ORIGIN, "--synthetic", "--mldsa")
    old, old_pq = (tmp_path / "data" / n for n in ("log.vkey", "log-mldsa.vkey"))
    old_vkey, old_pq_vkey = old.read_text().strip(), old_pq.read_text().strip()
    ok("frontier_ledger", "key", "rotate-start", "--data", data, "--mldsa")
    shown = json.loads(ok("frontier_ledger", "key", "show", "--data", data, "--json"))
    new_vkey, new_pq_vkey = shown["next_vkey"], shown["next_mldsa_vkey"]
    ok("frontier_ledger", "synth", "--data", data, "--count", "3")
    draft = json.loads(
        ok("frontier_ledger", "key", "change-entry", "--data", data, "--overlap-end",
           "2027-01-01T00:00:00Z", "--reason", "with the post-quantum key")
    )  # fmt: skip
    assert draft["new_vkey"] == new_vkey and draft["new_mldsa_vkey"] == new_pq_vkey
    assert draft["old_key_hash"] == old_vkey.split("+")[1]
    mirror = str(tmp_path / "mirror")
    ok("frontier_ledger", "export", "--data", data, mirror)
    assert len(parse_note((tmp_path / "mirror" / "checkpoint").read_bytes()).signatures) == 4
    for ed, pq in ((old_vkey, old_pq_vkey), (new_vkey, new_pq_vkey)):
        assert verify(mirror, "--vkey", ed, "--mldsa-vkey", pq).returncode == 0
    ok("frontier_ledger", "key", "rotate-finish", "--data", data)
    assert (
        tmp_path / "data" / "retired-keys" / f"log-mldsa-{old_pq_vkey.split('+')[1]}.key"
    ).exists()
    assert old_pq.read_text().strip() == new_pq_vkey
    ok("frontier_ledger", "export", "--data", data, mirror)
    assert len(parse_note((tmp_path / "mirror" / "checkpoint").read_bytes()).signatures) == 2
    assert verify(mirror, "--vkey", new_vkey, "--mldsa-vkey", new_pq_vkey).returncode == 0
    stale = verify(mirror, "--vkey", new_vkey, "--mldsa-vkey", old_pq_vkey)
    assert stale.returncode == 3 and "required key" in stale.stderr
