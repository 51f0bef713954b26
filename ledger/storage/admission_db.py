"""The writer's admission state in SQLite, read as rules need it: restarts in O(1).

The writer replays the log into admission state (:mod:`ledger.write.admission`):
the key registry, the charter, and a record for every run, submission, result,
approval… of the schedule. Reading such a state whole at every start is
O(entries) (as one JSON file: 166 MB at 10^6 entries, 13 s to read back on a
quiet machine, 43 s on a busy one); this database is opened instead, and a
record is read when a rule first asks for it:

- ``rec_<kind>``: one table per large map or list of
  :class:`verifier.policy.state.PolicyState` (the kinds :mod:`verifier.policy.spill`
  names) and the search facets: ``(k INTEGER PRIMARY KEY, v TEXT, c TEXT)``, *v*
  the record's typed JSON (:mod:`verifier.policy.snapshot`, read back strictly;
  never pickle), *c* its checksum, checked each time the record is read;
- ``chunks``: the replay's per-entry arrays (nine bytes an entry: type,
  organisation, signer set) in chunks of :data:`CHUNK` entries, each with its
  checksum; read whole at start (9 MB at 10^6 entries, at disk speed);
- ``meta``: the format, the shape of the state (:func:`snapshot.schema_id`), the
  tree size and the SHA-256 of the signed checkpoint it is the state of, the rest
  of the state (charter, keys, calendar, caps: small) as typed JSON with its
  checksum, and how many records each table holds.

Between two saves the records rules touched are in memory (the :data:`HOT` most
recently used of each kind), and those pushed out are written to their table
inside one open transaction. A save writes the ones in memory and the header and
commits: the database holds the state of one checkpoint the log published, a
crash rolls it back to the last save, and the writer replays only what came after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sqlite3
import sys
import typing
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping, MutableSequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from ledger.errors import StateDamaged
from ledger.storage.state_file import StaleState
from verifier.entries.replay import LogReplay
from verifier.errors import FormatError
from verifier.policy import snapshot
from verifier.policy.spill import ANY_ORDER, LISTS, SPILLED
from verifier.policy.state import PolicyState

V = TypeVar("V")

#: Records of each kind kept in memory. A run's entries (plan, start, submission,
#: result, decision) come thousands of entries apart: with 4,096 a replay of 10^5
#: governed entries took 42 s (records written out and read back), with 16,384 24 s,
#: as fast as a replay in memory; a save then writes them in 1.4 s.
HOT = 16384
#: Entries per chunk of the replay's per-entry arrays.
CHUNK = 1 << 16
#: Records read from disk at a time when a rule iterates over a kind.
BATCH = 512
#: The facets admission keeps for search (entry index -> org, run id, level, cycle).
FACETS = "facets"
Facets = tuple[str | None, str | None, int | None, int | None]
#: How the per-entry arrays are laid out: a file from another machine is replayed.
ARRAYS = f"I{array('I').itemsize}-{sys.byteorder}"


class NothingSaved(StaleState):
    """The database was made for a replay that ended before its first save: no damage."""


def _check(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclasses.dataclass
class AdmissionState:
    """Everything admission knows after replaying entries ``0 .. size-1``."""

    replay: LogReplay
    policy: PolicyState
    facets: dict[int, Facets]


class _Table:
    """One ``rec_<kind>`` table: records read back strictly, each checked against its checksum."""

    def __init__(self, db: sqlite3.Connection, name: str, hint: Any) -> None:
        self.db, self.name, self.hint = db, name, hint
        t = f"rec_{name}"  # a name from SPILLED/ANY_ORDER/LISTS or FACETS, never data
        self.select = f"SELECT v, c FROM {t} WHERE k = ?"  # noqa: S608
        self.exists = f"SELECT 1 FROM {t} WHERE k = ?"  # noqa: S608
        self.delete = f"DELETE FROM {t} WHERE k = ?"  # noqa: S608
        self.write_sql = f"INSERT OR REPLACE INTO {t} (k, v, c) VALUES (?, ?, ?)"  # noqa: S608
        self.batch = f"SELECT k, v, c FROM {t} WHERE k > ? ORDER BY k LIMIT {BATCH}"  # noqa: S608

    def decode(self, key: int, data: str, check: str) -> Any:  # the record's type: hint
        if _check(data) != check:
            raise StateDamaged(f"admission state: {self.name} record {key} fails its checksum")
        try:
            return snapshot.decode(self.hint, json.loads(data), f"{self.name} record {key}")
        except (ValueError, FormatError) as exc:
            raise StateDamaged(f"admission state: {self.name} record {key}: {exc}") from None

    def run(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        """Execute on the table. A damaged file (a page that is not SQLite's: "database
        disk image is malformed") is damage, replayed from the log like a bad checksum;
        an operational error (a full disk, a lock) is not: it fails the batch, the state
        is dropped and resumed from the last save."""
        try:
            return self.db.execute(sql, params)
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise StateDamaged(f"admission state: the {self.name} table: {exc}") from None

    def load(self, key: int) -> Any | None:
        row = self.run(self.select, (key,)).fetchone()
        if row is None:
            return None
        return self.decode(key, row[0], row[1])

    def has(self, key: int) -> bool:
        return self.run(self.exists, (key,)).fetchone() is not None

    def write(self, key: int, value: Any) -> None:
        data = json.dumps(snapshot.encode(self.hint, value), separators=(",", ":"))
        self.run(self.write_sql, (key, data, _check(data)))

    def rows_after(self, after: int) -> list[tuple[int, str, str]]:
        rows: list[tuple[int, str, str]] = self.run(self.batch, (after,)).fetchall()
        return rows


class StoredDict(MutableMapping[int, V], Generic[V]):
    """entry index -> record, kept in a table; the :data:`HOT` most recently used in memory.

    It behaves as the dict it replaces for what the rules do with one (as
    :class:`verifier.policy.spill.SpillDict`): keys are entry indices inserted in
    increasing order (except for *any_order* kinds, which are only looked up), a
    record read by key is the live object while in memory (far longer than one
    entry's rules hold it), iterating reads in key order without keeping records.
    Unlike a spilled dict, the table keeps a record read back into memory: at a save
    every record in memory is written again, so the table then holds the state.
    """

    def __init__(
        self, table: _Table, *, count: int, last: int, any_order: bool, hot: int = HOT
    ) -> None:
        self._t, self._len, self._last, self._any_order, self._hot_max = (
            table, count, last, any_order, hot,
        )  # fmt: skip
        self._hot: OrderedDict[int, V] = OrderedDict()
        self._evicted = 0  # records written out of memory (an iteration re-reads after one)

    @property
    def counts(self) -> list[int]:
        return [self._len, self._last]

    def __getitem__(self, key: int) -> V:
        value = self._hot.get(key)
        if value is not None:
            self._hot.move_to_end(key)
            return value
        loaded: V | None = self._t.load(key)
        if loaded is None:
            raise KeyError(key)
        self._keep(key, loaded)
        return loaded

    def __setitem__(self, key: int, value: V) -> None:
        if key in self._hot:
            self._hot[key] = value
            self._hot.move_to_end(key)
            return
        if key > self._last:
            self._last = key
            self._len += 1
        elif not self._t.has(key):
            if not self._any_order:
                raise ValueError(f"{self._t.name}: key {key} inserted out of order")
            self._len += 1
        self._keep(key, value)

    def _keep(self, key: int, value: V) -> None:
        self._hot[key] = value
        while len(self._hot) > self._hot_max:
            old, record = next(iter(self._hot.items()))
            # Written before it leaves memory: a failed write loses nothing. In the
            # open transaction: a crash undoes it, with everything since the last save.
            self._t.write(old, record)
            del self._hot[old]
            self._evicted += 1

    def __delitem__(self, key: int) -> None:
        in_hot = self._hot.pop(key, None) is not None
        stored = self._t.run(self._t.delete, (key,)).rowcount == 1
        if not (in_hot or stored):
            raise KeyError(key)
        self._len -= 1

    def __contains__(self, key: object) -> bool:
        if key in self._hot:
            return True
        return isinstance(key, int) and self._t.has(key)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        for key, _ in self._items():
            yield key

    def _items(self) -> Iterator[tuple[int, V]]:
        """Every (key, record) in key order, without keeping what is read in memory.

        The table and the records in memory may both hold a key (the one in memory
        is newer); a rule may look records up meanwhile, moving them in or out."""
        hot = sorted(self._hot)
        i, after = 0, -1
        while True:
            rows = self._t.rows_after(after)
            evicted = self._evicted
            for k, data, check in rows:
                while i < len(hot) and hot[i] < k:
                    yield from self._hot_item(hot[i])
                    i += 1
                if i < len(hot) and hot[i] == k:
                    i += 1
                value = self._hot.get(k)
                if value is None and self._evicted != evicted:
                    # Records were written out since this batch was read: the row
                    # read then may be older than the table's now.
                    yield from self._hot_item(k)
                    continue
                yield k, (value if value is not None else self._t.decode(k, data, check))
            if len(rows) < BATCH:
                break
            after = rows[-1][0]
        for key in hot[i:]:
            yield from self._hot_item(key)

    def _hot_item(self, key: int) -> Iterator[tuple[int, V]]:
        value = self._hot.get(key)
        if value is None:  # written out since the iteration began
            value = self._t.load(key)
        if value is not None:
            yield key, value

    def items(self) -> Iterator[tuple[int, V]]:  # type: ignore[override]
        return self._items()

    def values(self) -> Iterator[V]:  # type: ignore[override]
        return (v for _, v in self._items())

    def flush(self) -> None:
        """Write every record in memory to the table (a save; rules may have changed them)."""
        for key, value in self._hot.items():
            self._t.write(key, value)


class StoredList(MutableSequence[V], Generic[V]):
    """An append-only list kept in a table; its last items in memory.

    For ``PolicyState.approvals``: appended in log order, searched by position,
    read in order. Items are tuples, never changed in place.
    """

    def __init__(self, table: _Table, *, count: int, hot: int = HOT) -> None:
        self._t, self._len, self._hot_max = table, count, hot
        self._hot: list[V] = []  # items _len - len(_hot) .. _len - 1

    @property
    def counts(self) -> list[int]:
        return [self._len, self._len - 1]

    def __len__(self) -> int:
        return self._len

    @typing.overload
    def __getitem__(self, i: int) -> V: ...
    @typing.overload
    def __getitem__(self, i: slice) -> MutableSequence[V]: ...
    def __getitem__(self, i: int | slice) -> V | MutableSequence[V]:
        if isinstance(i, slice):
            raise TypeError("a stored list is not sliced")
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(i)
        first_hot = self._len - len(self._hot)
        if i >= first_hot:
            return self._hot[i - first_hot]
        value: V | None = self._t.load(i)
        if value is None:
            raise StateDamaged(f"admission state: {self._t.name} item {i} is missing")
        return value

    def append(self, value: V) -> None:
        self._hot.append(value)
        self._len += 1
        if len(self._hot) > 2 * self._hot_max:
            # Written out in bulk: a list's pop(0) per append would move the rest each time.
            first = self._len - len(self._hot)
            for n, item in enumerate(self._hot[: self._hot_max]):
                self._t.write(first + n, item)
            del self._hot[: self._hot_max]

    def __iter__(self) -> Iterator[V]:
        """The items there are when iteration starts, in order (items are never
        changed, so a row read in a batch is never stale)."""
        n, first_hot = self._len, self._len - len(self._hot)
        after = -1
        while after + 1 < first_hot:
            rows = self._t.rows_after(after)
            if not rows:
                raise StateDamaged(f"admission state: {self._t.name} item {after + 1} is missing")
            for k, data, check in rows:
                if k >= first_hot:
                    break
                yield self._t.decode(k, data, check)
            after = rows[-1][0]
        for i in range(max(first_hot, 0), n):
            yield self[i]  # in memory, or written out by appends since

    def flush(self) -> None:
        first = self._len - len(self._hot)
        for n, item in enumerate(self._hot):
            self._t.write(first + n, item)

    # Append-only: what a list could also do is not needed by the rules.
    def __setitem__(self, i: Any, value: Any) -> None:
        raise TypeError("a stored list is append-only")

    def __delitem__(self, i: Any) -> None:
        raise TypeError("a stored list is append-only")

    def insert(self, index: int, value: V) -> None:
        raise TypeError("a stored list is append-only")


_DICTS = (*SPILLED, *ANY_ORDER)
_KINDS = (*_DICTS, *LISTS, FACETS)


class AdmissionDB:
    """DATA/admission-state.sqlite: the admission state of one checkpoint, read lazily.

    Used by one writer (it holds the data directory's writer lock), from whichever
    thread holds the admission's lock: one connection, shared.
    """

    def __init__(self, path: Path, format: str, hot: int = HOT) -> None:
        self.path = path
        self.format = format
        #: records of each kind kept in memory (tests use a handful, to exercise the tables)
        self.hot = hot
        self._db: sqlite3.Connection | None = None
        self._bound: dict[str, StoredDict[Any] | StoredList[Any]] = {}
        self._saved_size = 0

    # -- opening and closing ---------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            # A cache of what the log holds: a crash may lose the last save (then the
            # one before it, or a replay, serves), never leave half of one.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        """Close, dropping what was not saved (the file keeps the last save)."""
        if self._db is not None:
            db, self._db = self._db, None
            # A connection that fails even this (a disk gone) is dropped all the same:
            # SQLite rolls an unfinished transaction back when the file is next opened.
            with contextlib.suppress(sqlite3.Error):
                if db.in_transaction:
                    db.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                db.close()
        self._bound = {}

    def rollback(self) -> None:
        """Forget every change since the last save (the state in memory is being
        dropped: a batch failed). The objects :meth:`load` returned are then stale."""
        self.close()

    def discard(self) -> None:
        """Delete the stored state (it is damaged or of another log)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def exists(self) -> bool:
        return self.path.exists()

    # -- a state to fill -------------------------------------------------------

    def fresh(self, replay: LogReplay, policy: PolicyState) -> AdmissionState:
        """An empty state bound to a new database (the old one deleted), for a replay
        from the charter; nothing is committed until the first :meth:`save`."""
        self.discard()
        db = self._db = self._connect()
        db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE chunks (n INTEGER PRIMARY KEY, data BLOB NOT NULL, c TEXT NOT NULL)"
        )
        for kind in _KINDS:
            db.execute(
                f"CREATE TABLE rec_{kind} (k INTEGER PRIMARY KEY, v TEXT NOT NULL, c TEXT NOT NULL)"
            )
        for name in _KINDS:
            if name != FACETS and getattr(policy, name):
                raise ValueError(f"admission state: {name} is not empty")
        self._saved_size = 0
        facets = self._bind(policy, {kind: [0, -1] for kind in _KINDS})
        db.execute("BEGIN")
        return AdmissionState(replay, policy, facets)

    def _bind(self, policy: PolicyState, counts: dict[str, list[int]]) -> Any:
        assert self._db is not None
        hints = typing.get_type_hints(PolicyState)
        self._bound = {}
        for name in _DICTS:
            _, value_hint = typing.get_args(hints[name])
            d: StoredDict[Any] = StoredDict(
                _Table(self._db, name, value_hint),
                count=counts[name][0],
                last=counts[name][1],
                any_order=name in ANY_ORDER,
                hot=self.hot,
            )
            setattr(policy, name, d)
            self._bound[name] = d
        for name in LISTS:
            (item_hint,) = typing.get_args(hints[name])
            lst: StoredList[Any] = StoredList(
                _Table(self._db, name, item_hint), count=counts[name][0], hot=self.hot
            )
            setattr(policy, name, lst)
            self._bound[name] = lst
        facets: StoredDict[Facets] = StoredDict(
            _Table(self._db, FACETS, Facets),
            count=counts[FACETS][0],
            last=counts[FACETS][1],
            any_order=False,
            hot=self.hot,
        )
        self._bound[FACETS] = facets
        return facets

    # -- reading the stored state ----------------------------------------------

    def load(
        self, origin: str, read_checkpoint: Callable[[int], bytes | None]
    ) -> tuple[AdmissionState, int]:
        """(state, size) if the database is the state of a checkpoint this log holds;
        :class:`StaleState` saying why not otherwise. Reads the header, the small rest
        of the state and the per-entry arrays; records are read when asked for."""
        self.close()
        if not self.path.exists():
            raise StaleState("there is none")
        try:
            self._db = self._connect()
            state, size = self._read(origin, read_checkpoint)
            self._db.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StaleState(f"it cannot be read: {exc}") from None
        except StaleState:
            self.close()
            raise
        self._saved_size = size
        return state, size

    def _read(
        self, origin: str, read_checkpoint: Callable[[int], bytes | None]
    ) -> tuple[AdmissionState, int]:
        assert self._db is not None
        meta = dict(self._db.execute("SELECT k, v FROM meta").fetchall())
        if not meta:
            # Made for a replay that was stopped (or crashed) before its first save.
            raise NothingSaved("no state was saved in it yet")
        if meta.get("format") != self.format:
            raise StaleState(f"it is not a {self.format} database")
        if meta.get("schema") != snapshot.schema_id(AdmissionState) or meta.get("arrays") != ARRAYS:
            raise StaleState("it was written by another version of the ledger")
        size = int(meta.get("size", "-1"))
        note = read_checkpoint(size) if size >= 0 else None
        if note is None or hashlib.sha256(note).hexdigest() != meta.get("checkpoint_sha256"):
            raise StaleState(f"its checkpoint of size {size} is not one this log holds")
        rest = meta.get("rest", "")
        if _check(rest) != meta.get("rest_sha256"):
            raise StaleState("its checksum does not match (damaged)")
        try:
            counts = json.loads(meta["counts"])
            state: AdmissionState = snapshot.decode(
                AdmissionState, json.loads(rest), "stored state"
            )
        except (KeyError, ValueError, FormatError) as exc:
            raise StaleState(str(exc)) from None
        if not isinstance(counts, dict) or set(counts) != set(_KINDS):
            raise StaleState("its record counts are not this version's")
        replay = state.replay
        if replay.origin != origin:
            raise StaleState("it is not a state of this log")
        self._read_arrays(replay, size)
        facets = self._bind(state.policy, counts)
        return AdmissionState(replay, state.policy, facets), size

    def _read_arrays(self, replay: LogReplay, size: int) -> None:
        assert self._db is not None
        types, orgs, signers = bytearray(), array("I"), array("I")
        for n, (chunk, data, check) in enumerate(
            self._db.execute("SELECT n, data, c FROM chunks ORDER BY n")
        ):
            if chunk != n or _check(data) != check:
                raise StaleState(f"its per-entry arrays are damaged (chunk {n})")
            count = len(data) // 9
            if len(data) != 9 * count:
                raise StaleState(f"its per-entry arrays are damaged (chunk {n})")
            types += data[:count]
            orgs.frombytes(data[count : 5 * count])
            signers.frombytes(data[5 * count :])
        if len(types) != size:
            raise StaleState(f"its per-entry arrays hold {len(types)} entries, not {size}")
        replay._types, replay._entry_org, replay._entry_signers = types, orgs, signers

    # -- saving ----------------------------------------------------------------

    def save(self, replay: LogReplay, policy: PolicyState, size: int, checkpoint: bytes) -> None:
        """Commit the state (*replay*, *policy*, the facets bound with them) after *size*
        entries, whose signed checkpoint is *checkpoint*: the records in memory, the new
        per-entry arrays, the rest, the header.

        Crash point: until the COMMIT the file holds the last save; after it, this one."""
        db = self._db
        if db is None or not self._bound:
            raise StaleState("no state is open to save")
        for stored in self._bound.values():
            stored.flush()
        for n in range(self._saved_size // CHUNK, -(-size // CHUNK)):
            lo, hi = n * CHUNK, min(size, (n + 1) * CHUNK)
            data = (
                bytes(replay._types[lo:hi])
                + replay._entry_org[lo:hi].tobytes()
                + replay._entry_signers[lo:hi].tobytes()
            )
            db.execute(
                "INSERT OR REPLACE INTO chunks (n, data, c) VALUES (?, ?, ?)",
                (n, data, _check(data)),
            )
        rest = json.dumps(
            snapshot.encode(AdmissionState, self._rest(replay, policy)), separators=(",", ":")
        )
        meta = {
            "format": self.format,
            "schema": snapshot.schema_id(AdmissionState),
            "arrays": ARRAYS,
            "size": str(size),
            "checkpoint_sha256": hashlib.sha256(checkpoint).hexdigest(),
            "rest": rest,
            "rest_sha256": _check(rest),
            "counts": json.dumps({k: v.counts for k, v in self._bound.items()}),
        }
        db.executemany("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", meta.items())
        db.execute("COMMIT")  # durable as far as synchronous=NORMAL goes: a cache
        db.execute("BEGIN")
        self._saved_size = size

    @staticmethod
    def _rest(replay: LogReplay, policy: PolicyState) -> AdmissionState:
        """The state without what the tables hold (records, per-entry arrays)."""
        empty: dict[str, Any] = {name: {} for name in _DICTS} | {name: [] for name in LISTS}
        return AdmissionState(
            dataclasses.replace(
                replay, _types=bytearray(), _entry_org=array("I"), _entry_signers=array("I")
            ),
            dataclasses.replace(policy, **empty),
            {},
        )
