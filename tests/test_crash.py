"""Crash loop: a real server process is SIGKILLed again and again under concurrent appends.

Several client threads append synthetic envelopes over HTTP while the server is
killed (SIGKILL, no clean shutdown) and restarted at least 20 times (10 times with
the log in PostgreSQL: each restart there also re-takes the writer's advisory
lock the killed process's session held). The same again with two HTTP workers in
front of the writer (``serve --workers 2``, half as many cycles): each cycle
SIGKILLs either the writer (its workers die with it) or one worker (the writer
starts another, appends go on through the other). Clients retry
on connection errors and 503 with bounded loops. Afterwards, against the restarted
server:

- every acknowledged entry (201/200) is in the log at its index, with its leaf hash
  and the envelope the client sent; no index was ever given to two envelopes, and
  no envelope is logged twice;
- every checkpoint ever served (polled from /log/checkpoint, or in a receipt)
  verifies under the log's vkey, sizes never went backwards, and each is consistent
  with the final checkpoint (consistency proof from the API, verified offline);
- every receipt's tlog-proof verifies offline against its leaf;
- re-submitting an acknowledged envelope returns its original index (200, duplicate).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.demo.synth import synthetic_envelopes
from tests.serverproc import ServerProcess, init_test_log
from verifier.core.checkpoint import open_checkpoint
from verifier.core.encoding import b64decode_strict
from verifier.core.leaf import parse_leaf
from verifier.core.merkle import EMPTY_ROOT, leaf_hash, tree_root, verify_consistency
from verifier.core.note import parse_vkey
from verifier.core.tiles import ENTRIES, parse_entry_bundle, tiles_for_size
from verifier.core.tlog_proof import parse_tlog_proof, verify_tlog_proof

ORIGIN = "crash.example/log"
CLIENTS = 4
#: SIGKILLs per backend (PostgreSQL's run is shorter: the same checks, fewer cycles).
KILLS = {"sqlite": 24, "postgresql": 10}
SEED = 20270104
#: Bounded retries per request: far more than a restart needs (about a second).
MAX_ATTEMPTS = 2000
RETRY_SLEEP_S = 0.02
#: Bounded wait, per crash cycle, for the restarted server to acknowledge an append.
PROGRESS_POLLS = 400
JSON_HEADERS = {"content-type": "application/json"}


def canonical(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Ack:
    client: int
    envelope: dict[str, Any]
    status: int
    body: dict[str, Any]


@dataclass
class Shared:
    server: ServerProcess
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acks: list[Ack] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    served: list[bytes] = field(default_factory=list)  # every /log/checkpoint body, in order
    transport_errors: int = 0
    unavailable: int = 0  # 503 answers


def post_until_answered(
    http: httpx.Client, shared: Shared, envelope: dict[str, Any], who: str
) -> httpx.Response | None:
    """POST *envelope* until the server answers something other than 503 (or stop)."""
    body = canonical(envelope).encode()
    for _ in range(MAX_ATTEMPTS):
        if shared.stop.is_set():
            return None
        try:
            r = http.post(shared.server.url("/api/v1/entries"), content=body, headers=JSON_HEADERS)
        except httpx.TransportError:
            with shared.lock:
                shared.transport_errors += 1
            time.sleep(RETRY_SLEEP_S)
            continue
        if r.status_code == 503:
            with shared.lock:
                shared.unavailable += 1
            time.sleep(RETRY_SLEEP_S)
            continue
        return r
    with shared.lock:
        shared.errors.append(f"{who}: no answer after {MAX_ATTEMPTS} attempts")
    return None


def client_thread(cid: int, shared: Shared, rng: random.Random) -> None:
    envelopes: Iterator[dict[str, Any]] = synthetic_envelopes(ORIGIN, 10**6, cid * 10**6)
    mine: list[Ack] = []
    with httpx.Client(timeout=30.0) as http:
        while not shared.stop.is_set():
            # Now and then resubmit one of our acknowledged envelopes: same index, 200.
            resubmit = mine and rng.random() < 0.1
            envelope = rng.choice(mine).envelope if resubmit else next(envelopes)
            r = post_until_answered(http, shared, envelope, f"client {cid}")
            if r is None:
                return
            if r.status_code not in (200, 201):
                with shared.lock:
                    shared.errors.append(f"client {cid}: HTTP {r.status_code}: {r.text[:300]}")
                return
            ack = Ack(cid, envelope, r.status_code, r.json())
            mine.append(ack)
            with shared.lock:
                shared.acks.append(ack)


def poller_thread(shared: Shared, done: threading.Event) -> None:
    with httpx.Client(timeout=30.0) as http:
        while not done.is_set():
            try:
                r = http.get(shared.server.url("/log/checkpoint"))
            except httpx.TransportError:
                time.sleep(RETRY_SLEEP_S)
                continue
            if r.status_code == 200:
                with shared.lock:
                    shared.served.append(r.content)
            else:
                with shared.lock:
                    shared.errors.append(f"poller: HTTP {r.status_code}: {r.text[:300]}")
            time.sleep(0.01)


def fetch_leaves(http: httpx.Client, server: ServerProcess, size: int) -> list[bytes]:
    leaves: list[bytes] = []
    for tile in tiles_for_size(size, ENTRIES):
        r = http.get(server.url("/log/" + tile.path))
        assert r.status_code == 200, (tile.path, r.status_code, r.text)
        leaves.extend(parse_entry_bundle(r.content, tile.width))
    return leaves


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "http-workers"])
def test_crash_loop_loses_nothing_acknowledged(
    tmp_path: Path, backend: str, database: str | None, workers: int
) -> None:
    data, vkey_text = init_test_log(tmp_path / "data", ORIGIN, database=database)
    vkey = parse_vkey(vkey_text)
    rng = random.Random(SEED)
    extra = ["--workers", str(workers)] if workers else []
    server = ServerProcess(data.root, database=database, extra=extra)
    server.start()
    shared = Shared(server)
    poll_done = threading.Event()
    clients = [
        threading.Thread(target=client_thread, args=(i, shared, random.Random(SEED + i)))
        for i in range(CLIENTS)
    ]
    poller = threading.Thread(target=poller_thread, args=(shared, poll_done))
    kills = 0
    progress: list[int] = []
    try:
        for t in [*clients, poller]:
            t.start()
        cycles = KILLS[backend] // 2 if workers else KILLS[backend]
        for _ in range(cycles):
            # Let the restarted server acknowledge something, then crash it at a
            # random moment (often in the middle of a group commit).
            before = len(shared.acks)
            for _ in range(PROGRESS_POLLS):
                if len(shared.acks) > before or shared.errors:
                    break
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 0.4))
            progress.append(len(shared.acks) - before)
            children = server.children()
            if children and rng.random() < 0.5:
                # One HTTP worker crashes (mid-request, as likely as not); the writer
                # starts another, and the other worker goes on appending meanwhile.
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1
                continue
            server.kill()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.1))
            server.start()
        # After the last restart: one more round of appends, then stop the clients.
        before = len(shared.acks)
        for _ in range(PROGRESS_POLLS):
            if len(shared.acks) >= before + 20 or shared.errors:
                break
            time.sleep(0.05)
        shared.stop.set()
        for t in clients:
            t.join(timeout=120)
        poll_done.set()
        poller.join(timeout=60)
        assert not any(t.is_alive() for t in [*clients, poller]), "a test thread hung"
        assert not shared.errors, shared.errors[:5]
        assert all(p > 0 for p in progress), f"a restart acknowledged nothing: {progress}"

        _check_final_state(server, shared, vkey, kills)
        assert kills >= cycles

        # A graceful stop (SIGTERM) exits by itself and releases the writer lock:
        # the next start serves the same checkpoint.
        last = httpx.get(server.url("/log/checkpoint"), timeout=30).content
        assert server.stop() in (0, -signal.SIGTERM)
        server.start()
        assert httpx.get(server.url("/log/checkpoint"), timeout=30).content == last
    finally:
        shared.stop.set()
        poll_done.set()
        server.stop()


def _check_final_state(server: ServerProcess, shared: Shared, vkey: Any, kills: int) -> None:
    http = httpx.Client(timeout=30.0)
    with http:
        final = open_checkpoint(http.get(server.url("/log/checkpoint")).content, vkey)
        size = final.size

        # -- the log itself: bundles hash to the signed root; no envelope twice ----
        leaves = fetch_leaves(http, server, size)
        assert len(leaves) == size
        assert tree_root([leaf_hash(x) for x in leaves]) == final.root
        logged = [canonical(parse_leaf(x).envelope.to_json_obj()) for x in leaves]
        assert len(set(logged)) == size, "an envelope is logged at two indices"

        # -- every acknowledged entry is at its index, with its leaf hash ----------
        by_index: dict[int, str] = {}
        for ack in shared.acks:
            index = ack.body["index"]
            sent = canonical(ack.envelope)
            assert by_index.setdefault(index, sent) == sent, f"index {index} has two envelopes"
            assert 0 <= index < size, f"acknowledged index {index} is beyond the final size"
            leaf = b64decode_strict(ack.body["receipt"]["leaf"], what="receipt leaf")
            assert leaves[index] == leaf
            assert b64decode_strict(ack.body["leaf_hash"], what="leaf hash") == leaf_hash(leaf)
            assert logged[index] == sent
            assert ack.body["duplicate"] == (ack.status == 200)
            # The receipt's offline proof verifies against its own leaf.
            proof = parse_tlog_proof(ack.body["receipt"]["tlog_proof"])
            assert proof.index == index
            verified = verify_tlog_proof(leaf, proof, vkey)
            assert verified.checkpoint.size == ack.body["tree_size"] > index
            assert proof.checkpoint == ack.body["checkpoint"].encode()
        # Each acknowledged index, read through the JSON API after the last crash.
        for index in sorted(by_index):
            r = http.get(server.url(f"/api/v1/entries/{index}"))
            assert r.status_code == 200, r.text
            assert b64decode_strict(r.json()["leaf_hash"], what="leaf hash") == leaf_hash(
                leaves[index]
            )

        # -- every checkpoint ever served: signed, monotonic, consistent -----------
        sizes_in_order = [open_checkpoint(n, vkey).size for n in shared.served]
        assert sizes_in_order == sorted(sizes_in_order), "a served checkpoint went backwards"
        notes = set(shared.served) | {a.body["checkpoint"].encode() for a in shared.acks}
        roots: dict[int, bytes] = {}
        for note in notes:
            cp = open_checkpoint(note, vkey)
            assert roots.setdefault(cp.size, cp.root) == cp.root, f"fork at size {cp.size}"
        assert roots.get(size, final.root) == final.root
        for old_size, old_root in sorted(roots.items()):
            r = http.get(
                server.url("/api/v1/proofs/consistency"),
                params={"old_size": old_size, "new_size": size},
            )
            assert r.status_code == 200, r.text
            proof_hashes = [b64decode_strict(h, what="proof") for h in r.json()["proof"]]
            if old_size == 0:
                assert old_root == EMPTY_ROOT
            verify_consistency(old_size, size, old_root, final.root, proof_hashes)

        # -- resubmitting acknowledged envelopes returns their original index ------
        first_ack: dict[int, Ack] = {}
        for ack in shared.acks:
            first_ack.setdefault(ack.body["index"], ack)
        for index, ack in sorted(first_ack.items()):
            r = http.post(
                server.url("/api/v1/entries"),
                content=canonical(ack.envelope).encode(),
                headers=JSON_HEADERS,
            )
            assert r.status_code == 200, r.text
            assert (r.json()["index"], r.json()["duplicate"]) == (index, True)
        after = open_checkpoint(http.get(server.url("/log/checkpoint")).content, vkey)
        assert (after.size, after.root) == (size, final.root), "a resubmission grew the log"

    print(
        f"\ncrash test: kills={kills} restarts={server.starts - 1} "
        f"acknowledged_entries={len(by_index)} receipts={len(shared.acks)} "
        f"checkpoints_checked={len(roots)} (distinct notes {len(notes)}, "
        f"polled {len(shared.served)}) final_size={size} "
        f"client_retries(connection errors={shared.transport_errors}, 503={shared.unavailable})"
    )
    assert len(by_index) >= kills
