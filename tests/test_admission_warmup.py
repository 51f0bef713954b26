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


def governed_log(root: Path, grants: int) -> DataDir:
    data = DataDir.at(root)
    init_log(data, ORIGIN)
    board = [Actor(f"Governor {c}") for c in "ABC"]
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
