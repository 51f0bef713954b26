"""Two witnesses and the ledger on loopback: cosigned checkpoints, a 2-of-2 policy.

The ledger calls both witnesses (real `frontier-verify witness serve` processes)
after each checkpoint; /log/checkpoint carries both cosignatures and a verifier
with a 2-of-2 policy accepts it, from the server and from the static export
alike. With one witness stopped, new checkpoints carry one cosignature and the
same verifier refuses them, saying why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.serverproc import (
    ServerProcess,
    init_test_log,
    make_envelopes,
    run_cli,
)
from tests.witnessproc import two_witnesses
from verifier.cli import EXIT_OK, EXIT_UNWITNESSED, main
from verifier.core.note import parse_note

ORIGIN = "witnessed.example/log"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("witnessed")
    data, vkey = init_test_log(root / "data", ORIGIN)
    w1, w2 = two_witnesses(root, vkey, data.root)
    for w in (w1, w2):
        w.start()
    server = ServerProcess(data.root, extra=["--witness-interval", "0.2"])
    server.start()
    strict = root / "strict.policy"
    strict.write_text((data.root / "witnesses.policy").read_text())
    try:
        yield {
            "root": root,
            "data": data,
            "vkey": vkey,
            "w1": w1,
            "w2": w2,
            "server": server,
            "strict": strict,
        }
    finally:
        server.stop()
        w1.stop()
        w2.stop()


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
        assert time.monotonic() < deadline, f"cosigners seen: {signers}"
        time.sleep(0.1)


def test_checkpoints_carry_both_cosignatures_and_a_2_of_2_policy_accepts(
    setup: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    server, strict = setup["server"], setup["strict"]
    size = append(server, 20, 0)
    wait_for_cosigners(server, size, {"gov-a.example/witness", "gov-b.example/witness"})
    capsys.readouterr()
    assert (
        main(["verify", "--log", server.url("/log"), "--policy", str(strict), "--quiet"]) == EXIT_OK
    )
    # The verdict first, then what it rests on: the log's signature, the witnesses'.
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("VERIFIED "), lines
    assert lines[1].startswith("   checkpoint signed by "), lines
    assert lines[2].startswith("   cosigned by ") and lines[2].count("T") >= 2, lines
    out = setup["root"] / "mirror"
    run_cli("export", "--data", str(setup["data"].root), str(out))
    assert main(["verify", "--log", str(out), "--policy", str(strict), "--quiet"]) == EXIT_OK
    # Receipts carry the cosigned checkpoint.
    receipt = httpx.get(server.url("/api/v1/entries/3/receipt")).json()
    assert "gov-b.example/witness" in receipt["tlog_proof"]
    # The public site names the witnesses that cosigned the latest checkpoint, and
    # an entry page says when a witness first saw a tree holding that entry.
    home = httpx.get(server.url("/"), params={"format": "json"}).json()["checkpoint"]
    assert {w["witness"] for w in home["cosigned_by"]} == {
        "gov-a.example/witness",
        "gov-b.example/witness",
    }
    assert "gov-a.example/witness" in httpx.get(server.url("/")).text
    entry = httpx.get(server.url("/entries/3"), params={"format": "json"}).json()
    assert entry["earliest_witness_time"] is not None
    assert set(entry["proof"]["cosigned_by"]) == {"gov-a.example/witness", "gov-b.example/witness"}


def test_with_one_witness_down_the_2_of_2_policy_refuses(
    setup: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    server, strict = setup["server"], setup["strict"]
    setup["w2"].stop()
    size = append(server, 5, 1000)
    wait_for_cosigners(server, size, {"gov-a.example/witness"})
    code = main(["verify", "--log", server.url("/log"), "--policy", str(strict), "--quiet"])
    assert code == EXIT_UNWITNESSED
    err = capsys.readouterr().err
    assert "lacks the witness quorum 'both'" in err and "cosigned by: w1" in err
    assert err.startswith("frontier-verify: NOT WITNESSED") and "LOG BROKEN" not in err
    # Readiness reports the missing cosignature; without --require-witness-quorum it
    # does not stop the server being ready, with it the server is not ready (503).
    body = httpx.get(server.url("/readyz"), timeout=30).json()
    assert body["ready"] is True
    assert "short of the policy's quorum" in body["checks"]["witness_quorum"]["detail"]
    gated = ServerProcess(setup["data"].root, extra=["--read-only", "--require-witness-quorum"])
    gated.start()
    try:
        r = httpx.get(gated.url("/readyz"), timeout=30)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        checks = r.json()["checks"]
        assert checks["witness_quorum"]["ok"] is False
        assert "held back until its quorum" in checks["checkpoint"]["detail"]
    finally:
        gated.stop()
    any_policy = setup["root"] / "any.policy"
    any_policy.write_text(
        strict.read_text().replace("group both all w1 w2", "group both any w1 w2")
    )
    assert (
        main(["verify", "--log", server.url("/log"), "--policy", str(any_policy), "--quiet"])
        == EXIT_OK
    )


def test_quorum_gated_publishing(setup: dict) -> None:
    """With --require-witness-quorum only a checkpoint both witnesses cosigned is published."""
    from ledger.read.reader import LogReader
    from ledger.storage.sqlite import SqliteStore
    from ledger.write.witnessing import WitnessCollector
    from verifier.core.trust_policy import parse_trust_policy

    store = SqliteStore.open(setup["data"].db_path, readonly=True)
    try:
        collector = WitnessCollector(
            parse_trust_policy(setup["strict"].read_text()), LogReader(store)
        )
        head = store.head().size
        gated = collector.published(require_quorum=True)
        latest = collector.published(require_quorum=False)
    finally:
        store.close()
    # w2 is down since the previous test: the head has one cosignature, so the gated
    # checkpoint is the older one both witnessed.
    assert int(latest.split(b"\n")[1]) == head
    assert int(gated.split(b"\n")[1]) < head
    assert {s.name for s in parse_note(gated).signatures} >= {
        "gov-a.example/witness",
        "gov-b.example/witness",
    }


def test_receipts_are_made_against_the_newest_checkpoint_the_quorum_cosigned(
    setup: dict, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """w2 is still down: the latest checkpoint lacks the 2-of-2 quorum. A receipt for an
    entry that an older, fully cosigned checkpoint holds is made against that one, so the
    2-of-2 policy accepts it; a receipt for a newer entry is made against the latest
    checkpoint, and the policy refuses it, saying so. The entry page checks the same
    checkpoint (one function chooses it: ledger/read/receipts.py)."""
    import json

    from verifier.core.tlog_proof import parse_tlog_proof

    server, strict = setup["server"], setup["strict"]
    head = int(httpx.get(server.url("/log/checkpoint"), timeout=30).text.split("\n")[1])

    def receipt(index: int) -> tuple[int, object]:
        body = httpx.get(server.url(f"/api/v1/entries/{index}/receipt"), timeout=30).json()
        path = tmp_path / f"{index}.receipt.json"
        path.write_text(json.dumps(body))
        note = parse_tlog_proof(body["tlog_proof"]).checkpoint
        return int(note.split(b"\n")[1]), path

    size, old = receipt(3)
    assert 3 < size < head
    assert main(["proof", str(old), "--policy", str(strict)]) == EXIT_OK
    assert "witnessed by w1, w2" in capsys.readouterr().out
    page = httpx.get(server.url("/entries/3"), params={"format": "json"}, timeout=30).json()
    assert page["proof"]["tree_size"] == size
    size, new = receipt(head - 1)
    assert size == head
    assert main(["proof", str(new), "--policy", str(strict)]) == EXIT_UNWITNESSED
    assert "lacks the witness quorum" in capsys.readouterr().err
    assert main(["proof", str(new), "--vkey", setup["vkey"]]) == EXIT_OK
