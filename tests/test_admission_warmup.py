"""The writer's admission state: replayed once at start (off the event loop), kept for
the first batch, never replayed twice at once.

A restart of a long governed log used to make the first append wait for a replay of
the whole log; the server now replays it at start while /readyz says so, and the
first batch keeps that state. A replay from another thread (the warm-up, the marker
job) and the sequencer's admission share one lock, so no two replays run at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ledger.ops.datadir import DataDir
from ledger.write.admission import GovernedAdmission, Refusal
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import prepare
from tests.governed import Actor, charter_body, envelope, grant_body

ORIGIN = "warm.example/log"


#: The board of every log these tests make (its keys must not change between calls).
BOARD = [Actor(f"Governor {c}") for c in "ABC"]


def governed_log(root: Path, grants: int) -> DataDir:
    data = DataDir.at(root)
    init_log(data, ORIGIN)
    board = BOARD
    writer = open_writer(data, admit=True)
    try:
        batch = [envelope(ORIGIN, "charter", charter_body(board, 2), *board[:2])]
        batch += [
            envelope(ORIGIN, "key_grant", grant_body(Actor(f"Office {n}"), "evaluator"), *board[:2])
            for n in range(grants)
        ]
        results = writer.commit([prepare(e) for e in batch])
        assert not [r for r in results if isinstance(r, Refusal)], results
    finally:
        writer.store.close()
    return data


def stranger_entry() -> dict:
    """Well formed, signed by a key the log never granted: admission refuses it."""
    return envelope(ORIGIN, "key_grant", grant_body(Actor("Nobody"), "evaluator"), Actor("Nobody"))


def test_a_warmed_up_state_is_kept_by_the_first_batch(tmp_path: Path) -> None:
    data = governed_log(tmp_path / "data", 40)
    writer = open_writer(data, admit=True)
    try:
        admission = writer.admission
        assert isinstance(admission, GovernedAdmission)
        assert not admission.ready and admission.rebuilds == 0
        admission.warm()  # what the server does at start, on a worker thread
        assert admission.ready and admission.replayed == 41 and admission.covers(41)
        state = admission.state
        [result] = writer.commit([prepare(stranger_entry())])
        assert isinstance(result, Refusal) and result.code == "unknown-key"
        # The first batch used the warmed-up state: no second replay of the log.
        assert admission.rebuilds == 1 and admission.state is state
    finally:
        writer.store.close()


def test_without_warm_up_the_first_batch_replays(tmp_path: Path) -> None:
    data = governed_log(tmp_path / "data", 5)
    writer = open_writer(data, admit=True)
    try:
        admission = writer.admission
        assert admission is not None
        [result] = writer.commit([prepare(stranger_entry())])
        assert isinstance(result, Refusal)
        assert admission.rebuilds == 1 and admission.replayed == 6
    finally:
        writer.store.close()


def test_a_state_of_another_size_is_replayed_again(tmp_path: Path) -> None:
    """If the head is not the size the state was built for (another writer appended
    meanwhile), the first batch replays the log again instead of trusting it."""
    data = governed_log(tmp_path / "data", 5)
    writer = open_writer(data, admit=True)
    try:
        admission = writer.admission
        assert admission is not None
        admission.warm()
        assert admission.covers(6) and not admission.covers(5)
        admission._size = 5  # as if the state were one entry behind the head
        writer.commit([prepare(stranger_entry())])
        assert admission.rebuilds == 2 and admission.covers(6)
    finally:
        writer.store.close()


def test_concurrent_warm_up_and_admission_replay_once(tmp_path: Path) -> None:
    data = governed_log(tmp_path / "data", 200)
    writer = open_writer(data, admit=True)
    try:
        admission = writer.admission
        assert admission is not None
        warm = threading.Thread(target=admission.warm)
        warm.start()
        results = writer.commit([prepare(stranger_entry()) for _ in range(3)])
        warm.join(timeout=120)
        assert all(isinstance(r, Refusal) for r in results)
        assert admission.rebuilds == 1, admission.rebuilds
    finally:
        writer.store.close()


def test_a_replay_stops_when_the_server_stops(tmp_path: Path) -> None:
    data = governed_log(tmp_path / "data", 5)
    writer = open_writer(data, admit=True)
    try:
        admission = writer.admission
        assert admission is not None
        admission.abort()
        try:
            admission.warm()
        except Exception as exc:
            assert type(exc).__name__ == "ReplayAborted"
        else:
            raise AssertionError("the replay did not stop")
        assert not admission.ready
    finally:
        writer.store.close()


def _state(admission: GovernedAdmission) -> str:
    """The admission state, canonically encoded: equal states encode equally."""
    import json

    from ledger.storage.admission_db import AdmissionState
    from verifier.policy import snapshot

    replay, engine = admission.state
    encoded = snapshot.encode(
        AdmissionState, AdmissionState(replay, engine.state, admission._facets)
    )
    return json.dumps(encoded, sort_keys=True)


def grow(data: DataDir, count: int, start: int) -> None:
    board = BOARD
    writer = open_writer(data, admit=True)
    try:
        batch = [
            envelope(ORIGIN, "key_grant", grant_body(Actor(f"Office {n}"), "evaluator"), *board[:2])
            for n in range(start, start + count)
        ]
        results = writer.commit([prepare(e) for e in batch])
        assert not [r for r in results if isinstance(r, Refusal)], results
        writer.save_admission()  # as the server does when it stops
    finally:
        writer.admission.close()  # type: ignore[union-attr]
        writer.store.close()


def test_a_restart_resumes_from_the_stored_state(tmp_path: Path, caplog) -> None:
    """O(1) restarts: the state stored with a checkpoint, only newer entries replayed."""
    data = governed_log(tmp_path / "data", 30)
    grow(data, 10, 30)  # stores the state at size 41
    assert stored_meta(data)["size"] == "41"
    # Entries appended after the state was stored (as after a crash): replayed on top.
    board = BOARD
    writer = open_writer(data, admit=True)
    try:
        writer.admission.resume = None  # type: ignore[union-attr]  # this writer stores nothing
        more = [
            envelope(ORIGIN, "key_grant", grant_body(Actor(f"Late {n}"), "evaluator"), *board[:2])
            for n in range(5)
        ]
        assert not [r for r in writer.commit([prepare(e) for e in more]) if isinstance(r, Refusal)]
    finally:
        writer.store.close()
    resumed = open_writer(data, admit=True)
    full = open_writer(data, admit=True)
    try:
        assert full.admission is not None and resumed.admission is not None
        full.admission.resume = None  # replays from the charter
        resumed.admission.warm()
        assert resumed.admission.resumed_from == 41 and resumed.admission.covers(46)
        assert _state(resumed.admission) == _state(full.admission)
        # and it admits and refuses as a full replay does
        [r] = resumed.commit([prepare(stranger_entry())])
        assert isinstance(r, Refusal) and r.code == "unknown-key"
    finally:
        resumed.store.close()
        full.store.close()


def stored_meta(data: DataDir) -> dict[str, str]:
    """The header of the stored admission state (DATA/admission-state.sqlite)."""
    import sqlite3

    db = sqlite3.connect(data.root / "admission-state.sqlite")
    try:
        return dict(db.execute("SELECT k, v FROM meta").fetchall())
    finally:
        db.close()


def _edit(path: Path, sql: str) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    with db:
        db.execute(sql)
    db.close()


def test_a_damaged_or_foreign_state_is_replayed_loudly(tmp_path: Path, caplog) -> None:
    import logging
    import shutil

    data = governed_log(tmp_path / "data", 12)
    grow(data, 3, 12)
    stored = data.root / "admission-state.sqlite"
    good = tmp_path / "good.sqlite"
    shutil.copyfile(stored, good)
    for damage, why in (
        ("UPDATE meta SET v = '15' WHERE k = 'size'", "checkpoint of size 15"),
        (
            'UPDATE meta SET v = replace(v, \'"replay":{\', \'"replay":{"x":0,\') '
            "WHERE k = 'rest'",
            "checksum",
        ),
        ("UPDATE chunks SET data = zeroblob(length(data))", "per-entry arrays are damaged"),
        ("DELETE FROM meta", "no state was saved in it yet"),
        (None, "cannot be read"),
        # kept by an earlier version (a JSON file, read whole): another format
        (
            "UPDATE meta SET v = 'frontier-ledger/admission-state/v2' WHERE k = 'format'",
            "not a frontier",
        ),
    ):
        for suffix in ("-wal", "-shm"):
            Path(f"{stored}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(good, stored)
        if damage is None:
            stored.write_bytes(b"{not a database" * 100)
        else:
            _edit(stored, damage)
        writer = open_writer(data, admit=True)
        try:
            with caplog.at_level(logging.INFO, logger="ledger.write.admission"):
                caplog.clear()
                writer.admission.warm()  # type: ignore[union-attr]
            assert writer.admission.resumed_from is None  # type: ignore[union-attr]
            assert writer.admission.covers(16)  # type: ignore[union-attr]
            # A warning names the damage; a state never saved (a replay stopped before
            # its first save) is no damage: said at INFO.
            level = logging.INFO if "no state was saved" in why else logging.WARNING
            said = [r for r in caplog.records if "replaying the whole log" in r.getMessage()]
            assert any(why in r.getMessage() and r.levelno == level for r in said), caplog.text
        finally:
            writer.admission.close()  # type: ignore[union-attr]
            writer.store.close()


def test_the_server_stores_the_state_when_it_stops_and_resumes_from_it(tmp_path: Path) -> None:
    import time

    import httpx

    from tests.serverproc import ServerProcess

    data = governed_log(tmp_path / "data", 20)
    server = ServerProcess(data.root, extra=["--log-level", "info"])
    server.start()
    try:
        grant = envelope(
            ORIGIN, "key_grant", grant_body(Actor("Office late"), "evaluator"), *BOARD[:2]
        )
        r = httpx.post(server.url("/api/v1/entries"), json=grant, timeout=30)
        assert r.status_code == 201, r.text
    finally:
        server.stop()
    stored = stored_meta(data)
    assert stored["size"] == "22" and stored["format"] == "frontier-ledger/admission-state/v3"
    server.start()
    try:
        # /readyz turns green once the writer's state is there: resumed, not replayed.
        deadline = time.monotonic() + 60
        while httpx.get(server.url("/readyz"), timeout=10).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "admission resumes from its stored state at size 22" in log


def test_the_sequencer_stores_the_state_every_so_many_entries(tmp_path: Path, monkeypatch) -> None:
    """Between batches, never inside one: a crash then replays at most that many entries."""
    import asyncio

    from ledger.write import sequencer

    monkeypatch.setattr(sequencer, "SAVE_EVERY", 5)
    data = governed_log(tmp_path / "data", 3)
    writer = open_writer(data, admit=True)

    async def run() -> None:
        committer = sequencer.GroupCommitter(writer, max_batch=1)
        committer.start()
        for n in range(12):
            grant = grant_body(Actor(f"Office {n}"), "evaluator")
            await committer.submit(prepare(envelope(ORIGIN, "key_grant", grant, *BOARD[:2])))
        await committer.stop()

    try:
        asyncio.run(run())
    finally:
        writer.store.close()
    # 4 entries, then 12 more one by one: stored at 5, 10 and 15 (every 5), not at 16.
    assert stored_meta(data)["size"] == "15"
