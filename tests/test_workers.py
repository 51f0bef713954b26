"""HTTP workers in front of the one writer (``serve --workers N``), piece by piece.

- :func:`ledger.write.precheck.precheck` marks an entry ``verified`` only if every
  signature verifies under the key its key id names; a key whose id is not its
  hash is never used; anything else is left for the writer to check in full.
- The link: an entry sent through :class:`ledger.api.workers.RemoteCommitter` to a
  writer's :class:`GroupCommitter` comes back as the same receipt a local append
  gets; a refusal comes back with its code and rule; a full queue as Overloaded;
  a writer gone as StoreError, with nothing acknowledged.
- Over HTTP with two workers: appends, resubmissions, forwarded /readyz and
  /metrics; a worker killed is replaced, and appends go on.

The governed flow (every refusal) and the crash loop run with workers too
(tests/test_governed_flow.py, tests/test_crash.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from ledger.api.workers import RemoteCommitter, _WriterLink
from ledger.demo.synth import synthetic_envelopes
from ledger.errors import EntryRefused, Overloaded, StoreError
from ledger.ops.datadir import DataDir
from ledger.write.admission import Refusal
from ledger.write.open_log import init_log, open_writer
from ledger.write.precheck import KeyTable, precheck
from ledger.write.sequencer import GroupCommitter, Receipt, prepare
from tests.serverproc import ServerProcess, init_test_log
from verifier.core.merkle import verify_inclusion
from verifier.entries.registry import keyid_of

ORIGIN = "workers.test/log"


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def test_precheck_marks_only_entries_whose_every_signature_verifies() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    entry = prepare(next(synthetic_envelopes(ORIGIN, 1, 0, key)))
    table = KeyTable()
    assert not precheck(entry, table).verified  # no keys yet: the writer checks
    table.update({keyid_of(raw(other)): raw(other)})
    assert not precheck(entry, table).verified  # its key is not in the table
    # A key filed under an id that is not its hash is never used.
    table.update({keyid_of(raw(key)): raw(other)})
    assert len(table) == 1 and not precheck(entry, table).verified
    table.update({keyid_of(raw(key)): raw(key)})
    assert precheck(entry, table).verified
    # One bad signature (another key's, under this key id): left for the writer.
    bad = entry.envelope.signatures[0]
    forged = replace(
        entry,
        envelope=replace(
            entry.envelope,
            signatures=(replace(bad, sig=other.sign(b"something else")),),
        ),
    )
    assert not precheck(forged, table).verified


def _link(tmp_path: Path, max_queue: int = 4096) -> tuple[Any, GroupCommitter]:
    data = DataDir.at(tmp_path / "data")
    init_log(data, ORIGIN, synthetic=True)
    writer = open_writer(data)
    return writer, GroupCommitter(writer, max_queue=max_queue)


def test_an_append_through_the_link_gets_the_receipt_a_local_one_gets(tmp_path: Path) -> None:
    writer, committer = _link(tmp_path)
    envelopes = list(synthetic_envelopes(ORIGIN, 4))

    async def run() -> tuple[list[Receipt], Receipt, Receipt]:
        committer.start()
        ours, theirs = socket.socketpair()
        link = _WriterLink(FastAPI(), committer, ours)
        await link.start()
        remote = RemoteCommitter(theirs)
        await remote.start()
        try:
            got = [await remote.submit(prepare(e)) for e in envelopes[:3]]
            again = await remote.submit(prepare(envelopes[1]))
            local = await committer.submit(prepare(envelopes[3]))
            return got, again, local
        finally:
            await remote.stop()
            link.close()
            await committer.stop()

    try:
        got, again, local = asyncio.run(run())
    finally:
        writer.store.close()
    assert [r.index for r in got] == [0, 1, 2]
    assert (again.index, again.duplicate, again.leaf) == (1, True, got[1].leaf)
    assert local.index == 3
    for r in got:
        verify_inclusion(r.leaf_hash, r.index, r.tree_size, list(r.inclusion_proof), _root(r))


def _root(r: Receipt) -> bytes:
    import base64

    return base64.b64decode(r.checkpoint.decode().split("\n")[2])


def test_refusals_overload_and_a_lost_writer_come_through_the_link(tmp_path: Path) -> None:
    writer, committer = _link(tmp_path, max_queue=1)

    async def run() -> None:
        ours, theirs = socket.socketpair()
        link = _WriterLink(FastAPI(), committer, ours)
        await link.start()
        remote = RemoteCommitter(theirs)
        await remote.start()
        # A refusal, as the writer's committer would give it.
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.set_exception(EntryRefused(Refusal("policy-violation", "S10: no", rule="S10")))
        committer.enqueue = lambda entry: fut  # type: ignore[method-assign]
        with pytest.raises(EntryRefused) as refused:
            await remote.submit(prepare(next(synthetic_envelopes(ORIGIN, 1))))
        assert refused.value.refusal == Refusal("policy-violation", "S10: no", rule="S10")

        def full(entry: Any) -> Any:
            raise Overloaded("full")

        committer.enqueue = full  # type: ignore[method-assign]
        with pytest.raises(Overloaded):
            await remote.submit(prepare(next(synthetic_envelopes(ORIGIN, 1))))
        # The writer goes away: the request in flight and the next ones fail.
        never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        committer.enqueue = lambda entry: never  # type: ignore[method-assign]
        pending = asyncio.ensure_future(
            remote.submit(prepare(next(synthetic_envelopes(ORIGIN, 1))))
        )
        await asyncio.sleep(0.05)
        link.close()
        with pytest.raises(StoreError, match="lost the writer"):
            await pending
        with pytest.raises(StoreError, match="not answering"):
            await remote.submit(prepare(next(synthetic_envelopes(ORIGIN, 1))))
        await remote.stop()

    try:
        asyncio.run(run())
    finally:
        writer.store.close()


def _post(server: ServerProcess, env: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.url("/api/v1/entries"),
        content=json.dumps(env),
        headers={"content-type": "application/json"},
        timeout=30,
    )


def test_a_server_with_workers_appends_forwards_and_replaces_a_dead_worker(
    tmp_path: Path,
) -> None:
    data, _ = init_test_log(tmp_path / "data", ORIGIN)
    server = ServerProcess(data.root, extra=["--workers", "2"])
    server.start()
    try:
        workers = server.children()
        assert len(workers) == 2
        envs = list(synthetic_envelopes(ORIGIN, 6))
        answers = [_post(server, e) for e in envs[:3]]
        assert [r.status_code for r in answers] == [201, 201, 201]
        assert [r.json()["index"] for r in answers] == [0, 1, 2]
        again = _post(server, envs[1])
        assert (again.status_code, again.json()["index"], again.json()["duplicate"]) == (
            200,
            1,
            True,
        )
        ready = httpx.get(server.url("/readyz"), timeout=30)
        assert ready.status_code == 200
        assert ready.json()["checks"]["writer"]["detail"] == "sequencing and signing"
        assert "frontier_appends_total 3" in httpx.get(server.url("/metrics"), timeout=30).text

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = server.children()
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        assert len(server.children()) == 2 and workers[0] not in server.children()
        answers = [_post(server, e) for e in envs[3:]]
        assert [r.json()["index"] for r in answers] == [3, 4, 5]
        assert "frontier_appends_total 6" in httpx.get(server.url("/metrics"), timeout=30).text
        found = httpx.get(server.url("/api/v1/entries?type=synthetic"), timeout=30).json()
        assert [e["index"] for e in found["entries"]] == list(range(6))
    finally:
        children = server.children()
        assert server.stop() == 0
        assert not [p for p in children if Path(f"/proc/{p}").exists()]
