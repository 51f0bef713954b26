"""Interop with litewitness (filippo.io/torchwood), a witness the public witness network runs.

A country need not run our Python witness: any c2sp.org/tlog-witness witness will
do. Here litewitness, built from its pinned release by tests/interop/litewitness.sh,
holds its key in an ssh-agent and the ledger's origin and log vkey in its database
(witnessctl). A real ledger (`frontier-ledger serve`) names it in DATA/witnesses.policy
beside our own witness, and:

(a) its witness client gets litewitness's cosignatures over add-checkpoint; the
    checkpoint at /log/checkpoint carries them and the stored one verifies;
(b) `frontier-verify verify --policy` with a quorum of litewitness accepts the log,
    and refuses a copy whose cosignature was stripped as NOT WITNESSED (exit 5);
(c) litewitness refuses a fork signed with the log's own key, by direct requests
    and from our witness client, which stores no cosignature for it;
(d) our Python witness and litewitness together satisfy a 2-of-2 policy;
(e) a checkpoint that also carries the log's ML-DSA-44 signature is cosigned.

Skipped only when Go (or OpenSSH's client) is missing; with FRONTIER_REQUIRE_INTEROP=1
(`make interop`, `make test`) that is a failure too. A failed build always fails.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.keys.log_keys import load_key
from ledger.ops.clock import system_clock
from ledger.read.reader import LogReader
from ledger.storage.backends import open_store
from ledger.write.sequencer import LogWriter, prepare
from ledger.write.tree import TreeEdge, leaf_hashes
from ledger.write.witnessing import WitnessCollector
from tests.litewitnessproc import (
    InteropUnavailable,
    LiteWitness,
    SshAgent,
    litewitness_bin,
)
from tests.serverproc import ServerProcess, init_test_log, make_envelopes, run_cli
from tests.witnessproc import WitnessProcess
from verifier.cli import EXIT_OK, EXIT_UNWITNESSED, main
from verifier.core.checkpoint import Checkpoint, parse_checkpoint
from verifier.core.encoding import b64encode
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.mldsa import MLDSA44Signer
from verifier.core.note import Ed25519Signer, NoteSigner, parse_note, sign_note
from verifier.core.prover import Prover
from verifier.core.trust_policy import parse_trust_policy
from verifier.witness.protocol import format_add_checkpoint

ORIGIN = "interop.example/log"
LITE = "witness.gov-c.example"
OURS = "witness.gov-a.example"
REQUIRE = os.environ.get("FRONTIER_REQUIRE_INTEROP") == "1"
#: The first run builds litewitness with Go (minutes); `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    try:
        bin_dir = litewitness_bin()
        agent = SshAgent()
    except InteropUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"FRONTIER_REQUIRE_INTEROP=1: {exc}")
        pytest.skip(str(exc))
    started: list[Any] = []
    try:
        root = tmp_path_factory.mktemp("litewitness")
        data, vkey = init_test_log(root / "data", ORIGIN)
        lite = LiteWitness(bin_dir, root / "lite", LITE, agent)
        ours = WitnessProcess(root / "ours", OURS, vkey)
        lite.add_log(ORIGIN, vkey)
        lite.start()
        started.append(lite)
        ours.start()
        started.append(ours)
        (data.root / "witnesses.policy").write_text(
            f"log {vkey}\n"
            f"witness lite {lite.vkey} {lite.url}\n"
            f"witness ours {ours.vkey} http://127.0.0.1:{ours.port}\n"
            "group both all lite ours\nquorum both\n"
        )
        server = ServerProcess(data.root, extra=["--witness-interval", "0.2"])
        server.start()
        started.append(server)
        yield {
            "root": root,
            "data": data,
            "vkey": vkey,
            "lite": lite,
            "ours": ours,
            "server": server,
        }
    finally:
        for proc in reversed(started):
            proc.stop()
        agent.stop()


def append(server: ServerProcess, n: int, start: int) -> int:
    for env in make_envelopes(ORIGIN, n, start):
        r = httpx.post(server.url("/api/v1/entries"), json=env, timeout=30)
        assert r.status_code == 201, r.text
    return int(httpx.get(server.url("/log/checkpoint")).text.split("\n")[1])


def wait_for_cosigners(server: ServerProcess, size: int, names: set[str]) -> bytes:
    deadline = time.monotonic() + 30
    while True:
        note = httpx.get(server.url("/log/checkpoint")).content
        signers = {s.name for s in parse_note(note).signatures}
        if int(note.split(b"\n")[1]) == size and names <= signers:
            return note
        assert time.monotonic() < deadline, f"size {size}: cosigners seen {signers}"
        time.sleep(0.1)


def write_policy(path: Path, vkey: str, *witnesses: tuple[str, str], quorum: str) -> Path:
    lines = [f"log {vkey}", *(f"witness {n} {k}" for n, k in witnesses)]
    if len(witnesses) > 1:
        lines.append(f"group all-of-them all {' '.join(n for n, _ in witnesses)}")
    path.write_text("\n".join([*lines, f"quorum {quorum}"]) + "\n")
    return path


def test_a_litewitness_cosigns_the_ledgers_checkpoints(net: dict[str, Any]) -> None:
    server, lite, data = net["server"], net["lite"], net["data"]
    # The vkey we derive from the ssh public key is the one litewitness says it has.
    assert lite.logged_vkey() == lite.vkey
    assert lite.vkey in httpx.get(lite.url + "/").text
    size = append(server, 12, 0)
    note = wait_for_cosigners(server, size, {LITE})
    text = parse_note(note).text
    (line,) = [ln for ln in note.decode().splitlines() if ln.startswith(f"— {LITE} ")]
    # The stored cosignature is that line, and it verifies with litewitness's key.
    store = open_store(data, readonly=True)
    try:
        stored_line, timestamp = store.cosignatures(size)["lite"]
    finally:
        store.close()
    assert stored_line.rstrip("\n") == line
    (sig,) = [s for s in parse_note(note).signatures if s.name == LITE]
    assert sig.key_id == lite.verifier.key_id
    lite.verifier.verify(text.encode(), sig.signature)
    assert lite.verifier.timestamp(sig.signature) == timestamp
    assert abs(timestamp - time.time()) < 300
    # litewitness recorded the tree it cosigned.
    cp = parse_checkpoint(text)
    state = lite.logs()[ORIGIN]
    assert (state["size"], state["root_hash"]) == (size, b64encode(cp.root))
    assert state["keys"] == [net["vkey"]]


def test_b_a_policy_with_a_quorum_of_litewitness(
    net: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    server, lite, root = net["server"], net["lite"], net["root"]
    size = append(server, 3, 100)
    wait_for_cosigners(server, size, {LITE})
    policy = write_policy(root / "lite.policy", net["vkey"], ("lite", lite.vkey), quorum="lite")
    args = ["--policy", str(policy), "--quiet"]
    assert main(["verify", "--log", server.url("/log"), *args]) == EXIT_OK
    # A copy of the log (the static export) verifies; with litewitness's line stripped
    # from its checkpoint, the log's own signature is still good but the quorum is not.
    copy = root / "copy"
    run_cli("export", "--data", str(net["data"].root), str(copy))
    assert main(["verify", "--log", str(copy), *args]) == EXIT_OK
    checkpoint = (copy / "checkpoint").read_text()
    assert f"— {LITE} " in checkpoint
    stripped = "".join(
        ln for ln in checkpoint.splitlines(keepends=True) if not ln.startswith(f"— {LITE} ")
    )
    (copy / "checkpoint").write_text(stripped)
    capsys.readouterr()
    assert main(["verify", "--log", str(copy), *args]) == EXIT_UNWITNESSED
    err = capsys.readouterr().err
    assert err.startswith("frontier-verify: NOT WITNESSED") and "LOG BROKEN" not in err
    assert "lite" in err


class ForkedTree:
    """Another tree for the ledger's origin, its checkpoints signed with the log's key:
    what a dishonest operator could show one witness."""

    def __init__(
        self,
        signer: NoteSigner,
        size: int,
        *,
        origin: str = ORIGIN,
        extra: Sequence[NoteSigner] = (),
    ) -> None:
        self.signers = [signer, *extra]
        self.origin = origin
        self.edge = TreeEdge()
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.roots = [EMPTY_ROOT]
        for h in leaf_hashes([f"fork-{i}".encode() for i in range(size)]):
            self.tiles.update(self.edge.append([h]))
            self.roots.append(self.edge.root())

    def checkpoint(self, size: int) -> bytes:
        return sign_note(Checkpoint(self.origin, size, self.roots[size]).to_text(), self.signers)

    def proof(self, old: int, new: int) -> list[bytes]:
        return Prover(lambda level, index: self.tiles.get((level, index))).consistency(old, new)


def test_c_litewitness_refuses_a_fork_and_no_cosignature_is_stored(net: dict[str, Any]) -> None:
    server, lite, data = net["server"], net["lite"], net["data"]
    size = append(server, 4, 200)
    wait_for_cosigners(server, size, {LITE})
    honest = lite.logs()[ORIGIN]
    assert honest["size"] == size
    signer = load_key(data.key_path)
    fork = ForkedTree(signer, size + 5)
    add = lite.url + "/add-checkpoint"

    # Another root for the size litewitness holds. tlog-witness: "If the old size
    # matches the checkpoint size ... [and] the root hashes ... don't match, the
    # witness MUST respond with a 409"; litewitness v0.6.1 runs the (empty) proof
    # check for it and answers 422. Either way: refused, nothing cosigned.
    r = httpx.post(add, content=format_add_checkpoint(size, [], fork.checkpoint(size)))
    assert r.status_code in (409, 422), (r.status_code, r.text)
    assert "—" not in r.text
    # A bigger tree whose proof leads from the fork's root at that size, not the
    # honest one: the consistency proof fails, 422.
    body = format_add_checkpoint(size, fork.proof(size, size + 5), fork.checkpoint(size + 5))
    r = httpx.post(add, content=body)
    assert r.status_code == 422 and "—" not in r.text, (r.status_code, r.text)
    # The wrong old size: 409 with the size it holds, as text/x.tlog.size.
    body = format_add_checkpoint(
        size - 1, fork.proof(size - 1, size + 5), fork.checkpoint(size + 5)
    )
    r = httpx.post(add, content=body)
    assert r.status_code == 409 and r.text == f"{size}\n"
    assert r.headers["content-type"] == "text/x.tlog.size"
    # An origin it does not know: tlog-witness says 404; litewitness v0.6.1 answers
    # 403 "unknown log" (v0.10.0 answers 404). Refused either way.
    other = Ed25519Signer.from_seed("unknown.example/log", bytes(32))
    stranger = sign_note(Checkpoint(other.name, 1, fork.roots[1]).to_text(), [other])
    r = httpx.post(add, content=format_add_checkpoint(0, [], stranger))
    assert r.status_code in (403, 404) and "—" not in r.text, (r.status_code, r.text)
    assert lite.logs()[ORIGIN] == honest

    # Our witness client, pointed at a forked ledger signed with the same key (same
    # size, then larger), asks litewitness and stores nothing.
    fork_data, _ = init_test_log(net["root"] / "fork", ORIGIN)
    store = open_store(fork_data)
    try:
        writer = LogWriter(store, signer, system_clock)
        policy = parse_trust_policy(
            f"log {net['vkey']}\nwitness lite {lite.vkey} {lite.url}\nquorum lite\n"
        )
        collector = WitnessCollector(policy, LogReader(store), store)
        for grow_to in (size, size + 3):
            envs = make_envelopes(ORIGIN, grow_to - store.head().size, 10_000 + grow_to)
            writer.commit([prepare(e) for e in envs])
            assert store.head().size == grow_to
            assert asyncio.run(collector.tick()) == 0
            assert "lite" not in store.cosignatures(grow_to)
            error = collector.status["lite"].last_error or ""
            # 422 from v0.6.1 for both (a 409 for the same size would end the same way:
            # the client retries once with the size it names, then gives up).
            assert " answered 422" in error or "keeps reporting another size" in error, error
        assert store.last_cosigned_size("lite") == 0
    finally:
        store.close()
    assert lite.logs()[ORIGIN] == honest
    # The honest log goes on being cosigned.
    grown = append(server, 2, 300)
    wait_for_cosigners(server, grown, {LITE})


def test_d_our_witness_and_litewitness_in_a_2_of_2_policy(net: dict[str, Any]) -> None:
    server, lite, ours, root = net["server"], net["lite"], net["ours"], net["root"]
    size = append(server, 5, 400)
    note = wait_for_cosigners(server, size, {LITE, OURS})
    signers = [s.name for s in parse_note(note).signatures]
    assert signers.count(LITE) == 1 and signers.count(OURS) == 1
    both = write_policy(
        root / "both.policy",
        net["vkey"],
        ("lite", lite.vkey),
        ("ours", ours.vkey),
        quorum="all-of-them",
    )
    assert (
        main(["verify", "--log", server.url("/log"), "--policy", str(both), "--quiet"]) == EXIT_OK
    )
    # DATA/witnesses.policy asks for both, and the server says the quorum is met.
    ready = httpx.get(server.url("/readyz"), timeout=30).json()["checks"]["witness_quorum"]
    assert ready["ok"] is True, ready


def test_e_a_checkpoint_also_signed_with_ml_dsa_44_is_cosigned(net: dict[str, Any]) -> None:
    """A log that signs with ML-DSA-44 too (docs/verifier.md, "Post-quantum signatures")
    keeps litewitness: it ignores the signature line of a key it does not know (signed-note)
    and cosigns on the Ed25519 one. The body stays far below its 10 KiB request limit."""
    lite = net["lite"]
    origin = "interop.example/pq-log"
    ed = Ed25519Signer.from_seed(origin, bytes(range(40, 72)))
    pq = MLDSA44Signer.from_seed(origin, bytes(range(50, 82)))
    lite.add_log(origin, ed.verifier.vkey)  # witnessctl, while litewitness runs
    tree = ForkedTree(ed, 9, origin=origin, extra=[pq])
    old = 0
    for size in (4, 9):
        body = format_add_checkpoint(
            old, tree.proof(old, size) if old else [], tree.checkpoint(size)
        )
        assert len(body) < 10 * 1024
        r = httpx.post(lite.url + "/add-checkpoint", content=body)
        assert r.status_code == 200, (r.status_code, r.text)
        (sig,) = parse_note(tree.checkpoint(size) + r.content).signatures[2:]
        assert sig.name == LITE
        lite.verifier.verify(parse_note(tree.checkpoint(size)).text.encode(), sig.signature)
        old = size
    assert lite.logs()[origin]["size"] == 9
