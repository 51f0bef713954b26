"""The writer's admission state in SQLite (ledger/storage/admission_db.py) admits exactly
as the state in memory does, across saves, restarts, crashes and damage.

Records are kept in memory two at a time here, so nearly every lookup, change and
iteration of the rules goes through the tables. Every scenario the differential
fuzzing found and random schedules are admitted both ways, entry by entry: the
verdicts must be equal, and so must the final states. On the stored side the
writer is restarted (a new admission resuming from the database), crashes (its
unsaved changes dropped: it resumes from the last save and replays the rest) and
meets a damaged record (the batch fails, the next one replays the whole log).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from ledger.demo.scenario import load
from ledger.errors import StateDamaged
from ledger.storage.admission_db import AdmissionDB, AdmissionState, StoredDict, StoredList, _Table
from ledger.write.admission import ADMISSION_STATE_FORMAT, GovernedAdmission, Refusal, Resume
from tests.schedules import Schedule, schedules
from tests.test_differential import found_files
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.policy import snapshot
from verifier.policy.spill import ANY_ORDER
from verifier.policy.state import Run


def _checkpoint(size: int) -> bytes:
    # The bytes a log would have signed at this size: the state is bound to them.
    return f"test checkpoint of size {size}\n".encode()


class Log:
    """Leaves in memory, with a checkpoint for every size (as a store holds them)."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []

    def from_(self, start: int) -> Iterator[bytes]:
        return iter(list(self.leaves[start:]))

    def checkpoint(self, size: int) -> bytes | None:
        return _checkpoint(size) if size <= len(self.leaves) else None


def largest_found() -> Schedule:
    """The found scenario with the most entries: runs, submissions, results, decisions."""
    return max((load(p) for p in found_files()), key=lambda s: len(s.envelopes()))  # type: ignore[return-value]


def stored_admission(
    origin: str, log: Log, path: Path, blobs: dict[str, bytes]
) -> GovernedAdmission:
    return GovernedAdmission(
        origin,
        leaves=lambda: log.from_(0),
        blobs=blobs,
        resume=Resume(AdmissionDB(path, ADMISSION_STATE_FORMAT, hot=2), log.from_, log.checkpoint),
    )


def encoded(admission: GovernedAdmission) -> str:
    replay, engine = admission.state
    state = AdmissionState(replay, engine.state, dict(admission._facets.items()))
    data = snapshot.encode(AdmissionState, state)
    # A dict keyed by another entry's index (decision -> its accesses) is filled in any
    # order; the stored one reads back by key. Its pairs are compared as a set.
    for name in ANY_ORDER:
        data["policy"][name] = sorted(data["policy"][name])
    return json.dumps(data, sort_keys=True)


def verdict(result: object) -> object:
    return (result.code, result.message) if isinstance(result, Refusal) else "admitted"


def admit_both(
    s: Schedule, path: Path, event: Callable[[int, GovernedAdmission, Log], GovernedAdmission]
) -> None:
    """Admit *s* in memory and stored; *event* may save, restart or crash the stored side
    after each entry (and returns the admission to go on with)."""
    blobs = s.blobs()
    plain_log, log = Log(), Log()
    plain = GovernedAdmission(s.origin, leaves=lambda: plain_log.from_(0), blobs=blobs)
    stored = stored_admission(s.origin, log, path, blobs)
    last = 0
    for index, (claimed_at, env) in enumerate(s.envelopes()):
        at = max(claimed_at, last)
        expected = plain.admit(env, index, at)
        got = stored.admit(env, index, at)
        assert verdict(got) == verdict(expected), index
        if not isinstance(expected, Refusal):  # as the sequencer does for what it logs
            assert not isinstance(got, Refusal)
            assert stored.facets(got) == plain.facets(expected)
        leaf = encode_leaf(canonical_json(env), at)
        plain_log.leaves.append(leaf)
        log.leaves.append(leaf)
        last = at
        if isinstance(expected, Refusal):  # forced in: both replay it next
            plain.sync_to(index + 1)
            stored.sync_to(index + 1)
        stored = event(index, stored, log)
    assert encoded(stored) == encoded(plain)
    stored.close()


def restarts(seed: int) -> Callable[[int, GovernedAdmission, Log], GovernedAdmission]:
    """Save now and then; restart after some saves; crash (no save) now and then."""
    rng = random.Random(seed)

    def event(index: int, adm: GovernedAdmission, log: Log) -> GovernedAdmission:
        size = index + 1
        roll = rng.random()
        if roll < 0.15 and adm.covers(size):
            adm.save(size, _checkpoint(size))
        if roll < 0.05 or roll > 0.95:
            # A restart (after a save) or a crash (unsaved changes dropped): a new
            # admission resumes from the database and replays what the log has beyond it.
            adm.close()
            adm = stored_admission(adm.origin, log, adm.resume.db.path, adm.blobs)  # type: ignore[union-attr, arg-type]
            adm.warm()
            assert adm.covers(size)
        return adm

    return event


@pytest.mark.parametrize("path", found_files(), ids=lambda p: p.stem)
def test_found_scenarios_admit_the_same_stored(path: Path, tmp_path: Path) -> None:
    admit_both(load(path), tmp_path / "state.sqlite", restarts(len(path.stem)))


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(schedules())
def test_random_schedules_admit_the_same_stored(tmp_path_factory, s: Schedule) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("state") / "state.sqlite"
    admit_both(s, path, restarts(len(s.envelopes())))


def test_a_resumed_admission_reads_records_only_when_asked(tmp_path: Path) -> None:
    """O(1): a restart reads the header, not the records; they come when a rule asks."""
    s = largest_found()
    seen: list[int] = []

    def save_at_end(index: int, adm: GovernedAdmission, log: Log) -> GovernedAdmission:
        seen.append(index)
        if index + 1 == len(s.envelopes()):
            adm.warm()  # (a refused last entry, forced in, is replayed first)
            assert adm.save(index + 1, _checkpoint(index + 1))
        return adm

    admit_both(s, tmp_path / "state.sqlite", save_at_end)
    log = Log()
    log.leaves = [b""] * len(seen)  # the checkpoint only; nothing is replayed
    adm = stored_admission(s.origin, log, tmp_path / "state.sqlite", s.blobs())
    adm.warm()
    assert adm.resumed_from == len(seen) and adm.replayed == len(seen)
    st = adm.engine.state
    assert isinstance(st.runs, StoredDict) and st.runs._hot == {} and len(st.runs) > 0
    adm.close()


def _bad_checksums(path: Path) -> None:
    """Every stored record: whichever a rule reads next fails its checksum."""
    db = sqlite3.connect(path)
    with db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'rec_%'"):
            db.execute(f"UPDATE {table} SET c = 'damaged'")
    db.close()


def _bad_pages(path: Path) -> None:
    """The root pages of the runs' and submissions' tables overwritten: not SQLite's
    any more ("database disk image is malformed"), the header's pages intact."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    roots = dict(db.execute("SELECT name, rootpage FROM sqlite_master WHERE name LIKE 'rec_%'"))
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with path.open("r+b") as f:
        for name in ("rec_subs", "rec_runs"):
            f.seek((roots[name] - 1) * page_size)
            f.write(b"\x07" * page_size)


@pytest.mark.parametrize("damage", [_bad_checksums, _bad_pages], ids=["checksums", "pages"])
def test_a_damaged_record_fails_its_batch_then_the_log_is_replayed(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    s = largest_found()
    path = tmp_path / "state.sqlite"
    envelopes = s.envelopes()
    half = len(envelopes) // 2
    blobs = s.blobs()
    log = Log()
    adm = stored_admission(s.origin, log, path, blobs)
    plain = GovernedAdmission(s.origin, leaves=lambda: iter(list(log.leaves)), blobs=blobs)
    last = 0
    results: list[object] = []
    damaged = False
    for index, (claimed_at, env) in enumerate(envelopes):
        at = max(claimed_at, last)
        last = at
        results.append(verdict(plain.admit(env, index, at)))
        if index == half:
            assert adm.save(index, _checkpoint(index))
            adm.close()
            damage(path)
            adm = stored_admission(s.origin, log, path, blobs)
        try:
            got = adm.admit(env, index, at)
        except StateDamaged:
            # The batch fails (nothing written); the sequencer retries it after a replay.
            got = adm.admit(env, index, at)
            assert adm.resumed_from is None  # replayed from the charter, not resumed
            damaged = True
        assert verdict(got) == results[-1], index
        if not isinstance(got, Refusal):
            adm.facets(got)
        log.leaves.append(encode_leaf(canonical_json(env), at))
        if isinstance(got, Refusal):
            plain.sync_to(index + 1)
            adm.sync_to(index + 1)
    assert damaged
    adm.close()


# -- the containers --------------------------------------------------------------------


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE rec_t (k INTEGER PRIMARY KEY, v TEXT NOT NULL, c TEXT NOT NULL)")
    return db


def test_a_stored_dict_is_a_dict_under_random_use() -> None:
    rng = random.Random(7)
    db = _db()
    hint = list[int]
    d: StoredDict[list[int]] = StoredDict(
        _Table(db, "t", hint), count=0, last=-1, any_order=True, hot=3
    )
    ref: dict[int, list[int]] = {}
    next_key = 0
    for _ in range(3000):
        op = rng.random()
        if op < 0.3:
            d[next_key] = [next_key]
            ref[next_key] = [next_key]
            next_key += rng.randint(1, 3)
        elif op < 0.55 and ref:
            k = rng.choice(list(ref))
            d[k].append(op.hex().__len__())  # changed in place, as rules change records
            ref[k].append(op.hex().__len__())
        elif op < 0.65 and ref:
            k = rng.choice(list(ref))
            d[k] = [k, -1]
            ref[k] = [k, -1]
        elif op < 0.7 and ref:
            k = rng.choice(list(ref))
            del d[k]
            del ref[k]
        elif op < 0.75:
            d.flush()
        elif op < 0.8:
            assert list(d.items()) == sorted(ref.items())
        else:
            k = rng.randint(-1, next_key + 1)
            assert (k in d) == (k in ref)
            assert d.get(k) == ref.get(k)
        assert len(d) == len(ref)
    assert dict(d.items()) == ref


def test_iterating_sees_a_record_written_out_meanwhile() -> None:
    """A rule may look records up while it iterates; a record it pushes out of memory
    is newer than the row the iteration read before: the iteration must see the new."""
    db = _db()
    d: StoredDict[list[int]] = StoredDict(
        _Table(db, "t", list[int]), count=0, last=-1, any_order=False, hot=2
    )
    for i in range(4):
        d[i] = [i]
    d.flush()  # as a save: the table holds 0..3, memory 2 and 3
    d[3].append(99)  # changed in memory only
    seen = {}
    for k, v in d.items():
        seen[k] = list(v)
        if k == 0:
            d[0], d[1]  # read back into memory: 2 and 3 are written out
    assert seen == {0: [0], 1: [1], 2: [2], 3: [3, 99]}


def test_a_failed_write_out_keeps_the_record_in_memory() -> None:
    db = _db()
    d: StoredDict[list[int]] = StoredDict(
        _Table(db, "t", list[int]), count=0, last=-1, any_order=False, hot=1
    )
    d[1] = [1]
    db.execute("PRAGMA query_only = ON")  # writes fail, as on a full disk
    with pytest.raises(sqlite3.OperationalError):
        d[2] = [2]  # would push record 1 out
    db.execute("PRAGMA query_only = OFF")
    assert d[1] == [1] and d[2] == [2] and len(d) == 2


def test_a_stored_list_is_an_append_only_list() -> None:
    db = _db()
    lst: StoredList[tuple[int, int]] = StoredList(_Table(db, "t", tuple[int, int]), count=0, hot=2)
    ref = []
    for i in range(23):
        lst.append((i, -i))
        ref.append((i, -i))
        assert [lst[j] for j in range(len(ref))] == ref and list(lst) == ref
        assert lst[-1] == ref[-1]
        if i % 5 == 0:
            lst.flush()
    with pytest.raises(IndexError):
        lst[23]
    with pytest.raises(TypeError):
        lst[0] = (0, 0)
    # Read back from the table alone (a restart): the same list.
    lst.flush()
    again: StoredList[tuple[int, int]] = StoredList(
        _Table(db, "t", tuple[int, int]), count=23, hot=2
    )
    assert list(again) == ref and again[7] == ref[7]


def test_a_stored_record_that_fails_its_checksum_is_refused() -> None:
    db = _db()
    hint = Run
    d: StoredDict[Run] = StoredDict(_Table(db, "t", hint), count=0, last=-1, any_order=False, hot=1)
    d[1] = Run(1, "org", "run-1", 1, 0, 10**25, 1, 1, 1)
    d[2] = Run(2, "org", "run-2", 1, 0, 10**25, 2, 2, 1)  # pushes record 1 to the table
    db.execute("UPDATE rec_t SET v = replace(v, 'run-1', 'run-9')")
    with pytest.raises(StateDamaged, match="t record 1 fails its checksum"):
        d[1]


def test_a_closed_admission_is_not_rebuilt(tmp_path: Path) -> None:
    """At shutdown the server closes the stored state; a job still running then (a
    marker tick) must not open it again."""
    from ledger.errors import ReplayAborted

    s = largest_found()
    log = Log()
    adm = stored_admission(s.origin, log, tmp_path / "state.sqlite", s.blobs())
    adm.warm()
    adm.close()
    with pytest.raises(ReplayAborted):
        adm.engine  # noqa: B018 - the property rebuilds
    assert not adm.ready
