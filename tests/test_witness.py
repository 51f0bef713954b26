"""C2SP tlog-witness: add-checkpoint over real HTTP on 127.0.0.1, against real logs.

Logs are built with the project's tree code (TreeEdge + Prover, checkpoints signed
with verifier.core.note.sign_note) or with the ledger itself (init_log/open_writer and
synthetic envelopes). Every status code of the spec, the split-view refusal, the
rollback refusal, racing requests, restarts, and cosignatures checked with both
this verifier and tlog-scales.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tlog_scales.signing import Vkey, VkeySet
from tlog_scales.tlog import Checkpoint as ScalesCheckpoint

from ledger.write.tree import TreeEdge, leaf_hashes
from tests.serverproc import terminate
from verifier.core.checkpoint import Checkpoint, open_checkpoint
from verifier.core.cosignature import CosignatureSigner, CosignatureVerifier, parse_witness_vkey
from verifier.core.encoding import b64encode
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.note import Ed25519Signer, parse_note, parse_vkey, sign_note, verify_note
from verifier.core.prover import Prover
from verifier.core.trust_policy import open_trusted_checkpoint, parse_trust_policy
from verifier.errors import FormatError, WitnessStoreError
from verifier.witness.protocol import (
    MAX_REQUEST_SIZE,
    LogState,
    MemoryStore,
    Witness,
    format_add_checkpoint,
    parse_add_checkpoint,
    parse_witness_config,
    parse_witness_skey,
    witness_skey,
)
from verifier.witness.server import FileStore, WitnessServer

REPO = Path(__file__).resolve().parent.parent
ORIGIN = "ledger.example/log"
LOG_KEY = Ed25519Signer.from_seed(ORIGIN, bytes(range(32)))
OTHER_LOG = Ed25519Signer.from_seed("other.example/log", bytes(range(5, 37)))
WITNESS = CosignatureSigner.from_seed("witness.example/w1", bytes(range(7, 39)))
T0 = 1_800_000_000
SIZE_TYPE = "text/x.tlog.size"


# --- logs ----------------------------------------------------------------------------------


class MemLog:
    """A log in memory: tiles from TreeEdge, proofs from Prover, checkpoints signed by *key*."""

    def __init__(self, key: Ed25519Signer = LOG_KEY, tag: str = "main") -> None:
        self.key = key
        self.tag = tag
        self.edge = TreeEdge()
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]

    def grow(self, n: int) -> MemLog:
        leaves = [f"{self.tag}-{self.edge.size + i}".encode() for i in range(n)]
        for h in leaf_hashes(leaves):  # one at a time, so every size has its root
            self.tiles.update(self.edge.append([h]))
            self.roots.append(self.edge.root())
        return self

    @property
    def size(self) -> int:
        return self.edge.size

    def checkpoint(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        text = Checkpoint(self.key.name, size, self.roots[size]).to_text()
        return sign_note(text, [self.key])

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.size if new is None else new
        return Prover(lambda level, index: self.tiles.get((level, index))).consistency(old, new)

    def request(self, old: int, new: int | None = None) -> bytes:
        new = self.size if new is None else new
        return format_add_checkpoint(old, self.proof(old, new), self.checkpoint(new))


def policy_text(*keys: Ed25519Signer) -> str:
    lines = [f"log {k.verifier.vkey} https://{k.name}" for k in keys]
    return "# logs this witness accepts\n" + "\n".join(lines) + "\nquorum none\n"


# --- a witness on a real socket ------------------------------------------------------------


@dataclass
class Clock:
    now: float = T0
    delay: float = 0.0  # sleeps inside the store's critical section, to widen races
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> float:
        with self.lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return self.now


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str | None
    headers: dict[str, str]


class Running:
    """A FileStore + WitnessServer on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self, state: Path, clock: Clock, prefix: str = "", policy: str = "") -> None:
        self.store = FileStore(state)
        config = parse_witness_config(policy or policy_text(LOG_KEY, OTHER_LOG))
        self.witness = Witness(WITNESS, config, self.store, clock)
        self.server = WitnessServer(self.witness, "127.0.0.1", 0, prefix).start()
        self.host, self.port = self.server.address
        self.prefix = prefix

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def post(self, body: bytes, path: str = "/add-checkpoint") -> Reply:
        c = self.conn()
        try:
            return send(c, "POST", self.prefix + path, body)
        finally:
            c.close()

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


def send(
    c: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str] | None = None,
) -> Reply:
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return Reply(r.status, data, r.getheader("Content-Type"), dict(r.getheaders()))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def witness(tmp_path: Path, clock: Clock) -> Iterator[Running]:
    w = Running(tmp_path / "state", clock)
    try:
        yield w
    finally:
        w.stop()


def cosigned(checkpoint: bytes, reply: Reply) -> bytes:
    """The client side: "concatenate [the response] to the checkpoint"."""
    return checkpoint + reply.body


def assert_cosignature(checkpoint: bytes, reply: Reply, timestamp: int) -> None:
    assert reply.status == 200, reply.body
    assert reply.content_type == "text/plain; charset=utf-8"
    line = reply.body.decode()
    assert line.startswith(f"\u2014 {WITNESS.name} ") and line.endswith("\n")
    assert line.count("\n") == 1
    note = cosigned(checkpoint, reply)
    # This verifier: the log key and the witness's cosignature/v1 key.
    v = parse_witness_vkey(WITNESS.verifier.vkey)
    verified = verify_note(note, [LOG_KEY.verifier, v])
    assert verified.signed_by(v) and verified.signed_by(LOG_KEY.verifier)
    sig = parse_note(note).signatures[-1]
    assert CosignatureVerifier.timestamp(sig.signature) == timestamp
    # tlog-scales, an independent implementation.
    cp = ScalesCheckpoint.from_text(note.decode())
    valid = VkeySet(Vkey.from_string(WITNESS.verifier.vkey)).verify(cp.signatures, cp)
    assert {vk.name for vk, _ in valid} == {WITNESS.name}
    cp.verify(Vkey.from_string(LOG_KEY.verifier.vkey))


# --- 200 -----------------------------------------------------------------------------------


def test_first_checkpoint_then_growth_is_cosigned(witness: Running, clock: Clock) -> None:
    log = MemLog().grow(13)
    r = witness.post(log.request(0))
    assert_cosignature(log.checkpoint(), r, T0)
    assert witness.store.get(ORIGIN).size == 13  # type: ignore[union-attr]

    # Every step: sizes that are and are not powers of two, within and across tiles.
    old = 13
    for n in (3, 16, 1, 240, 300):
        log.grow(n)
        clock.now += 1
        r = witness.post(log.request(old))
        assert_cosignature(log.checkpoint(), r, int(clock.now))
        old = log.size

    # A verifier with a tlog-policy requiring this witness accepts the cosigned checkpoint.
    policy = parse_trust_policy(
        f"log {LOG_KEY.verifier.vkey}\nwitness w1 {WITNESS.verifier.vkey}\nquorum w1\n"
    )
    trusted = open_trusted_checkpoint(cosigned(log.checkpoint(), r), policy)
    assert trusted.cosigned == {"w1": int(clock.now)} and trusted.checkpoint.size == old


def test_same_checkpoint_again_and_foreign_signatures_are_fine(witness: Running) -> None:
    log = MemLog().grow(5)
    assert witness.post(log.request(0)).status == 200
    # Same size, same root, empty proof: consistent; cosigned again.
    assert witness.post(log.request(5)).status == 200
    # Signatures by keys the witness does not know are ignored (signed-note).
    stranger = Ed25519Signer.from_seed("stranger.example", bytes(32))
    other_wit = CosignatureSigner.from_seed("witness.example/w2", bytes(range(9, 41)))
    text = parse_note(log.checkpoint()).text
    note = sign_note(text, [stranger, LOG_KEY], [other_wit.cosign(text, T0)])
    r = witness.post(format_add_checkpoint(5, [], note))
    assert_cosignature(note, r, T0)


def test_a_log_from_the_ledger_itself(tmp_path: Path, witness: Running) -> None:
    from ledger.demo.synth import synthetic_envelopes
    from ledger.ops.datadir import DataDir
    from ledger.read.reader import LogReader
    from ledger.write.open_log import init_log, open_writer
    from ledger.write.sequencer import prepare

    origin = "gov.example/ledger"
    data = DataDir.at(tmp_path / "ledger")
    vkey = init_log(data, origin, synthetic=True)
    writer = open_writer(data)
    try:
        reader = LogReader(writer.store)
        policy = f"log {vkey}\nquorum none\n"
        w = Running(tmp_path / "state2", Clock(), policy=policy)
        try:
            empty = reader.checkpoint()
            assert w.post(format_add_checkpoint(0, [], empty)).status == 200
            old = 0
            for batch in (7, 30, 1):
                writer.commit([prepare(e) for e in synthetic_envelopes(origin, batch, start=old)])
                cp = reader.checkpoint()
                size, proof = reader.consistency(old)
                r = w.post(format_add_checkpoint(old, proof, cp))
                assert r.status == 200, r.body
                note = cosigned(cp, r)
                opened = open_checkpoint(note, parse_vkey(vkey), other_keys=[WITNESS.verifier])
                assert opened.note.signed_by(WITNESS.verifier) and opened.size == size
                old = size
        finally:
            w.stop()
    finally:
        writer.store.close()


# --- 404, 403 ------------------------------------------------------------------------------


def test_unknown_origin_is_404(witness: Running) -> None:
    unknown = Ed25519Signer.from_seed("unknown.example/log", bytes(range(1, 33)))
    r = witness.post(MemLog(unknown).grow(3).request(0))
    assert r.status == 404


def test_signature_missing_or_invalid_is_403(witness: Running) -> None:
    log = MemLog().grow(4)
    # Same origin, another key: its signature is ignored, so none verifies.
    impostor = Ed25519Signer.from_seed(ORIGIN, bytes(range(2, 34)))
    r = witness.post(MemLog(impostor).grow(4).request(0))
    assert r.status == 403
    # The known key's signature, altered: a known key whose signature fails.
    note = parse_note(log.checkpoint())
    sig = note.signatures[0]
    bad = type(sig)(sig.name, sig.key_id, bytes(64))
    tampered = type(note)(note.text, (bad,)).to_bytes()
    assert witness.post(format_add_checkpoint(0, [], tampered)).status == 403
    # A log's key is not accepted for another log's origin.
    text = Checkpoint(ORIGIN, 4, log.roots[4]).to_text()
    assert witness.post(format_add_checkpoint(0, [], sign_note(text, [OTHER_LOG]))).status == 403
    assert witness.store.get(ORIGIN) is None


# --- 400, 411, 413 -------------------------------------------------------------------------


def test_old_size_larger_than_checkpoint_is_400(witness: Running) -> None:
    log = MemLog().grow(4)
    r = witness.post(format_add_checkpoint(5, [], log.checkpoint()))
    assert r.status == 400


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.replace(b"old 0\n", b"old 00\n"),
        lambda b: b.replace(b"old 0\n", b"old +0\n"),
        lambda b: b.replace(b"old 0\n", b"old  0\n"),
        lambda b: b.replace(b"old 0\n", b"Old 0\n"),
        lambda b: b.replace(b"old 0\n", b"old 0\r\n"),
        lambda b: b.replace(b"old 0\n", b"old 18446744073709551616\n"),
        lambda b: b.replace(b"old 0\n\n", b"old 0\n"),  # no empty line
        lambda b: b.replace(b"old 0\n", b"old 0\n" + b64encode(bytes(31)).encode() + b"\n"),
        lambda b: b.replace(b"old 0\n", b"old 0\nAAAA\n"),
        lambda b: b.replace(b"old 0\n", b"old 0\n" + b64encode(bytes(32)).encode()[:-1] + b"\n"),
        lambda b: b.replace(b"old 0\n", b"old 0\n" + (b64encode(bytes(32)) + "\n").encode() * 64),
        lambda b: b[:-1],  # the note's last signature line has no newline
        lambda b: b"",
    ],
)
def test_malformed_bodies_are_400(witness: Running, mutate: Callable[[bytes], bytes]) -> None:
    body = mutate(MemLog().grow(3).request(0))
    assert witness.post(body).status == 400
    assert witness.store.get(ORIGIN) is None


def test_parser_accepts_the_spec_example_shape() -> None:
    hashes = [bytes([i]) * 32 for i in range(4)]
    note = MemLog().grow(9).checkpoint()
    req = parse_add_checkpoint(format_add_checkpoint(20852014, hashes, note))
    assert (req.old_size, req.proof, req.checkpoint) == (20852014, tuple(hashes), note)
    sixty_three = format_add_checkpoint(1, [bytes(32)] * 63, note)
    assert len(parse_add_checkpoint(sixty_three).proof) == 63
    with pytest.raises(FormatError, match="63"):
        parse_add_checkpoint(format_add_checkpoint(1, [bytes(32)] * 64, note))


def test_size_and_length_limits(witness: Running) -> None:
    c = witness.conn()
    try:
        r = send(c, "POST", "/add-checkpoint", b"x" * (MAX_REQUEST_SIZE + 1))
        assert r.status == 413 and r.headers.get("Connection") == "close"
    finally:
        c.close()
    # No Content-Length (chunked): refused rather than read without a bound.
    c = witness.conn()
    try:
        c.putrequest("POST", "/add-checkpoint")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        c.send(b"5\r\nold 0\r\n0\r\n\r\n")
        assert c.getresponse().status == 411
    finally:
        c.close()


def test_methods_paths_prefix_and_keep_alive(tmp_path: Path, clock: Clock) -> None:
    w = Running(tmp_path / "state", clock, prefix="/witness")
    try:
        log = MemLog().grow(2)
        c = w.conn()
        try:
            r = send(c, "GET", "/witness/add-checkpoint", None)
            assert r.status == 405 and r.headers.get("Allow") == "POST"
        finally:
            c.close()
        assert w.post(log.request(0), path="/../add-checkpoint").status == 404
        c = w.conn()
        try:
            assert send(c, "POST", "/add-checkpoint", log.request(0)).status == 404
        finally:
            c.close()
        # Keep-alive: several requests on one connection.
        c = w.conn()
        try:
            assert send(c, "POST", "/witness/add-checkpoint", log.request(0)).status == 200
            log.grow(3)
            assert send(c, "POST", "/witness/add-checkpoint", log.request(2)).status == 200
            assert send(c, "POST", "/witness/add-checkpoint", log.request(2)).status == 409
            assert send(c, "POST", "/witness/add-checkpoint", log.request(5)).status == 200
        finally:
            c.close()
    finally:
        w.stop()


# --- 409: stale old size and rollback ------------------------------------------------------


def test_wrong_old_size_is_409_with_the_witnessed_size(witness: Running) -> None:
    log = MemLog().grow(10)
    assert witness.post(log.request(0)).status == 200
    log.grow(10)
    for old in (0, 5, 11, 19):
        r = witness.post(log.request(old))
        assert (r.status, r.body, r.content_type) == (409, b"10\n", SIZE_TYPE)
    # A client learns the size from the 409 and retries: cosigned.
    assert witness.post(log.request(int(r.body))).status == 200


def test_rollback_is_refused_with_the_witnessed_size(witness: Running) -> None:
    log = MemLog().grow(20)
    assert witness.post(log.request(0)).status == 200
    # The operator shows an older, genuinely signed checkpoint (size 12).
    older = log.checkpoint(12)
    for old in (0, 12):
        r = witness.post(format_add_checkpoint(old, log.proof(old, 12), older))
        assert (r.status, r.body, r.content_type) == (409, b"20\n", SIZE_TYPE)
    # Claiming the witnessed size as "old" for a smaller checkpoint is a bad request.
    assert witness.post(format_add_checkpoint(20, [], older)).status == 400
    assert witness.store.get(ORIGIN).size == 20  # type: ignore[union-attr]


# --- split views ---------------------------------------------------------------------------


def test_split_view_same_size_is_refused_and_kept_as_evidence(
    witness: Running, tmp_path: Path
) -> None:
    honest = MemLog(tag="honest").grow(10)
    fork = MemLog(tag="fork").grow(10)  # same key, same size, other entries
    assert witness.post(honest.request(0)).status == 200
    r = witness.post(fork.request(10))
    # tlog-witness: "If the old size matches the checkpoint size, the witness MUST
    # check that the root hashes are also identical. If they don't match, the
    # witness MUST respond with a "409 Conflict" HTTP status code."
    assert (r.status, r.body, r.content_type) == (409, b"10\n", SIZE_TYPE)
    # The refused checkpoint and the cosigned one are evidence anyone can re-check.
    files = sorted((tmp_path / "state" / "evidence").glob("fork-*.json"))
    assert len(files) == 1
    doc = json.loads(files[0].read_text())
    a = open_checkpoint(doc["cosigned_checkpoint"].encode(), LOG_KEY.verifier)
    b = open_checkpoint(doc["submitted_checkpoint"].encode(), LOG_KEY.verifier)
    assert a.size == b.size == 10 and a.root != b.root
    assert a.raw == honest.checkpoint() and b.raw == fork.checkpoint()
    # Sending the fork again keeps one file; the witness still holds the honest view.
    assert witness.post(fork.request(10)).status == 409
    assert len(list((tmp_path / "state" / "evidence").glob("*.json"))) == 1
    assert witness.store.get(ORIGIN).root == honest.roots[10]  # type: ignore[union-attr]


def test_split_view_larger_fork_fails_the_proof_422(witness: Running, tmp_path: Path) -> None:
    honest = MemLog(tag="honest").grow(10)
    assert witness.post(honest.request(0)).status == 200
    fork = MemLog(tag="fork").grow(25)
    # The fork's own proof from 10 to 25 leads from the fork's size-10 root, not ours.
    r = witness.post(fork.request(10))
    assert r.status == 422
    evidence = list((tmp_path / "state" / "evidence").glob("bad-proof-*.json"))
    assert len(evidence) == 1
    # The honest log can still move on.
    honest.grow(15)
    assert witness.post(honest.request(10)).status == 200


def test_bad_consistency_proofs_are_422(witness: Running) -> None:
    log = MemLog().grow(37)
    assert witness.post(log.request(0)).status == 200
    log.grow(100)
    proof = log.proof(37)
    cp = log.checkpoint()
    flipped = [*proof[:-1], bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
    for bad in (flipped, proof[:-1], [*proof, bytes(32)], [], list(reversed(proof))):
        r = witness.post(format_add_checkpoint(37, bad, cp))
        assert r.status == 422, bad
    # Old size 0: "The proof MUST be empty if the old size is zero."
    other = MemLog(OTHER_LOG).grow(3)
    assert witness.post(format_add_checkpoint(0, [bytes(32)], other.checkpoint())).status == 422
    # Equal sizes: the proof must be empty too.
    assert witness.post(format_add_checkpoint(37, [], log.checkpoint(37))).status == 200
    assert witness.post(format_add_checkpoint(37, [bytes(32)], log.checkpoint(37))).status == 422
    assert witness.store.get(ORIGIN).size == 37  # type: ignore[union-attr]
    assert witness.post(format_add_checkpoint(37, proof, cp)).status == 200


# --- atomicity, persistence ----------------------------------------------------------------


def test_racing_requests_from_one_old_size_cosign_exactly_one(
    witness: Running, clock: Clock
) -> None:
    log = MemLog().grow(10)
    assert witness.post(log.request(0)).status == 200
    log.grow(8)
    bodies = [log.request(10, n) for n in range(11, 19)]  # eight different new sizes
    clock.delay = 0.05  # the decision sleeps under the lock: a lost update would show
    barrier = threading.Barrier(len(bodies))
    replies: list[Reply] = []
    guard = threading.Lock()

    def run(body: bytes) -> None:
        barrier.wait(timeout=10)
        r = witness.post(body)
        with guard:
            replies.append(r)

    threads = [threading.Thread(target=run, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(replies) == len(bodies)
    ok = [r for r in replies if r.status == 200]
    assert len(ok) == 1
    won = witness.store.get(ORIGIN)
    assert won is not None and 11 <= won.size <= 18
    for r in replies:
        if r.status != 200:
            assert (r.status, r.body, r.content_type) == (409, f"{won.size}\n".encode(), SIZE_TYPE)
    # The cosignature that was returned is for the checkpoint the witness stored.
    assert_cosignature(won.checkpoint, ok[0], T0)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    log = MemLog().grow(50)
    w = Running(tmp_path / "state", Clock(T0 + 100))
    try:
        assert w.post(log.request(0)).status == 200
    finally:
        w.stop()
    # Restarted, with a clock that stepped back: size kept, timestamps never go back.
    w = Running(tmp_path / "state", Clock(T0))
    try:
        r = w.post(log.request(0))
        assert (r.status, r.body) == (409, b"50\n")
        log.grow(1)
        r = w.post(log.request(50))
        assert_cosignature(log.checkpoint(), r, T0 + 100)
    finally:
        w.stop()
    state = json.loads(next((tmp_path / "state" / "logs").glob("*.json")).read_text())
    assert (state["origin"], state["size"], state["timestamp"]) == (ORIGIN, 51, T0 + 100)


def test_one_process_per_state_and_corrupt_state_refuses_to_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = FileStore(state)
    try:
        with pytest.raises(WitnessStoreError, match="another witness"):
            FileStore(state)
        log = MemLog().grow(3)
        store.update(ORIGIN, lambda _: LogState(3, log.roots[3], log.checkpoint(), T0))
    finally:
        store.close()
    path = next((state / "logs").glob("*.json"))
    doc = json.loads(path.read_text())
    doc["size"] = 2  # no longer the checkpoint's size
    path.write_text(json.dumps(doc))
    with pytest.raises(WitnessStoreError, match="corrupt"):
        FileStore(state)
    path.write_text("{")
    with pytest.raises(WitnessStoreError, match="corrupt"):
        FileStore(state)


def test_a_failed_write_answers_500_and_stops(
    witness: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verifier.witness.server as ws

    log = MemLog().grow(3)

    def disk_full(path: Path, data: bytes, mode: int = 0o644) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ws, "atomic_write", disk_full)
    assert witness.post(log.request(0)).status == 500
    monkeypatch.undo()
    # Until a restart, nothing more is decided from a possibly stale memory.
    assert witness.post(log.request(0)).status == 500
    assert witness.store.get(ORIGIN) is None


# --- keys, configuration -------------------------------------------------------------------


def test_witness_keys_and_go_compatible_plain_keys() -> None:
    skey = witness_skey(WITNESS)
    assert skey.startswith(f"PRIVATE+KEY+{WITNESS.name}+{WITNESS.key_id.hex()}+B")  # 0x04
    loaded = parse_witness_skey(skey)
    assert loaded.verifier.vkey == WITNESS.verifier.vkey
    # A plain Ed25519 note key (type 0x01), as Go's NewSignerForCosignatureV1 accepts.
    plain = Ed25519Signer.from_seed(WITNESS.name, bytes(range(7, 39)))
    assert parse_witness_skey(plain.skey).key_id == WITNESS.key_id
    with pytest.raises(FormatError, match="key ID"):
        parse_witness_skey(skey.replace(WITNESS.key_id.hex(), "00000000"))


def test_config_reads_every_log_line() -> None:
    rotated = Ed25519Signer.from_seed(ORIGIN, bytes(range(3, 35)))
    text = policy_text(LOG_KEY, rotated, OTHER_LOG) + f"witness w1 {WITNESS.verifier.vkey}\n"
    config = parse_witness_config(text.replace(" ", "\t", 1))
    assert {o: len(k) for o, k in config.logs.items()} == {ORIGIN: 2, "other.example/log": 1}
    for bad, msg in [
        (policy_text(LOG_KEY, LOG_KEY), "listed twice"),
        ("quorum none\n", "no 'log' line"),
        (policy_text(LOG_KEY) + "trust everyone\n", "unknown keyword"),
        (f"log {WITNESS.verifier.vkey}\n", "unsupported key type"),
        (policy_text(LOG_KEY) + "\x0b\n", "control character"),
    ]:
        with pytest.raises(FormatError, match=msg):
            parse_witness_config(bad)


def test_memory_store_gives_the_same_answers() -> None:
    config = parse_witness_config(policy_text(LOG_KEY))
    w = Witness(WITNESS, config, MemoryStore(), Clock())
    log = MemLog().grow(6)
    assert w.add_checkpoint(log.request(0)).status == 200
    fork = MemLog(tag="fork").grow(6)
    resp = w.add_checkpoint(fork.request(6))
    assert resp.status == 409 and resp.evidence is not None
    exc = resp.evidence.as_inconsistency()
    assert exc.old_checkpoint == log.checkpoint() and exc.new_checkpoint == fork.checkpoint()


# --- the command line ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_keygen_and_serve(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "verifier.cli", "witness"]
    key = tmp_path / "witness.key"
    out = subprocess.run(
        [*cli, "keygen", "--out", str(key), "--name", "gov.example/witness"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    vkey = parse_witness_vkey(out.stdout.strip())
    assert os.stat(key).st_mode & 0o777 == 0o600
    again = subprocess.run(
        [*cli, "keygen", "--out", str(key), "--name", "x"],
        capture_output=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert again.returncode == 2  # never overwrites a key

    policy = tmp_path / "policy"
    policy.write_text(policy_text(LOG_KEY))
    port = _free_port()
    serve = [*cli, "serve", "--key", str(key), "--policy", str(policy), "--port", str(port)]
    proc = subprocess.Popen(
        [*serve, "--state", str(tmp_path / "state")],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # bounded: until it listens, it exits, or 30 s pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "witness did not start"
                time.sleep(0.05)
        log = MemLog().grow(9)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            r = send(c, "POST", "/add-checkpoint", log.request(0))
        finally:
            c.close()
        assert r.status == 200
        verified = verify_note(log.checkpoint() + r.body, [LOG_KEY.verifier, vkey])
        assert verified.signed_by(vkey)
        ts = CosignatureVerifier.timestamp(
            parse_note(log.checkpoint() + r.body).signatures[1].signature
        )
        assert abs(ts - time.time()) < 120
    finally:
        terminate(proc, timeout=15)
    assert proc.returncode == 0
