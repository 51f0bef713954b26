"""Schedule records kept mostly on disk, for ``frontier-verify audit --low-memory``.

The schedule state holds a record for every run, submission, result, contest,
sealed entry, model update and compute attestation of the log, because a later
entry may refer to any of them: the log sets no age after which a run can no
longer be halted, contested, updated or named by a provider. Dropping closed
records would change what a late entry is judged against, so none is dropped:
:class:`SpillDict` keeps the most recently used records in memory and the rest
in a private temporary SQLite database, each encoded with the typed JSON of
:mod:`verifier.policy.snapshot` (read back strictly; no pickle). The audit's
findings are the same; its memory stays flat as the log grows, for some time.

It behaves as the dict it replaces for what the rules do with one: keys are
entry indices inserted in increasing order (each record is keyed by its own
entry), so iterating in key order is iterating in insertion order; a record
read by key is the live object (in memory until :data:`HOT` others were used
after it, far more than any one entry touches, so a rule that changes a record
it looked up changes the stored one); iterating does not bring records back
into memory (the rules that iterate only read).
"""

from __future__ import annotations

import json
import sqlite3
import typing
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping, MutableSequence
from typing import Any, Generic, TypeVar

from verifier.policy import snapshot

V = TypeVar("V")

#: Records of each kind kept in memory.
HOT = 4096
#: Records read from disk at a time when iterating.
BATCH = 512
#: SQLite's page cache for the spilled records.
CACHE_KIB = 2048


class SpillDict(MutableMapping[int, V], Generic[V]):
    """entry index -> record; the :data:`HOT` most recently used in memory."""

    def __init__(
        self, db: sqlite3.Connection, name: str, hint: Any, hot: int = HOT, any_order: bool = False
    ) -> None:
        if name not in SPILLED and name not in ANY_ORDER:
            raise ValueError(f"spill: no table for {name!r}")
        self._db, self._table, self._hint, self._hot_max = db, f"spill_{name}", hint, hot
        # The table's name is one of SPILLED's (checked above), never data.
        t = self._table
        self._select = f"SELECT v FROM {t} WHERE k = ?"  # noqa: S608
        self._exists = f"SELECT 1 FROM {t} WHERE k = ?"  # noqa: S608
        self._delete = f"DELETE FROM {t} WHERE k = ?"  # noqa: S608
        self._insert = f"INSERT INTO {t} (k, v) VALUES (?, ?)"  # noqa: S608
        self._batch = f"SELECT k, v FROM {t} WHERE k > ? ORDER BY k LIMIT {BATCH}"  # noqa: S608
        self._hot: OrderedDict[int, V] = OrderedDict()
        self._cold = 0  # records only in the database
        self._last = -1  # the largest key ever inserted
        #: Keys may come in any order (iteration is then in key order, not insertion
        #: order: for a dict the rules only look up, never iterate).
        self._any_order = any_order
        db.execute(f"CREATE TABLE {self._table} (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")

    def _load(self, key: int) -> V | None:
        row = self._db.execute(self._select, (key,)).fetchone()
        if row is None:
            return None
        value: V = snapshot.decode(self._hint, json.loads(row[0]), "spilled record")
        return value

    def __getitem__(self, key: int) -> V:
        value = self._hot.get(key)
        if value is not None:
            self._hot.move_to_end(key)
            return value
        value = self._load(key)
        if value is None:
            raise KeyError(key)
        self._db.execute(self._delete, (key,))
        self._cold -= 1
        self._keep(key, value)
        return value

    def __setitem__(self, key: int, value: V) -> None:
        if key in self._hot:
            self._hot[key] = value
            self._hot.move_to_end(key)
            return
        if key <= self._last:
            # Replacing a spilled record (or inserting out of order, which the
            # rules never do: iteration order would no longer be insertion order).
            if self._load(key) is not None:
                self._db.execute(self._delete, (key,))
                self._cold -= 1
            elif not self._any_order:
                raise ValueError(f"{self._table}: key {key} inserted out of order")
        self._last = max(self._last, key)
        self._keep(key, value)

    def _keep(self, key: int, value: V) -> None:
        self._hot[key] = value
        while len(self._hot) > self._hot_max:
            old, record = self._hot.popitem(last=False)
            data = json.dumps(snapshot.encode(self._hint, record), separators=(",", ":"))
            self._db.execute(self._insert, (old, data))
            self._cold += 1

    def __delitem__(self, key: int) -> None:
        if key in self._hot:
            del self._hot[key]
            return
        if self._db.execute(self._delete, (key,)).rowcount != 1:
            raise KeyError(key)
        self._cold -= 1

    def __contains__(self, key: object) -> bool:
        if key in self._hot:
            return True
        row = self._db.execute(self._exists, (key,)).fetchone()
        return row is not None

    def __len__(self) -> int:
        return len(self._hot) + self._cold

    def __iter__(self) -> Iterator[int]:
        for key, _ in self._items():
            yield key

    def _items(self) -> Iterator[tuple[int, V]]:
        """Every (key, record) in key order (= insertion order), without promoting any.

        Read in batches by key range, so that the whole table is never in memory at
        once and a rule may look records up (and so move them) meanwhile."""
        hot = sorted(self._hot)
        i, after = 0, -1
        while True:
            rows = self._db.execute(self._batch, (after,)).fetchall()
            for k, data in rows:
                while i < len(hot) and hot[i] < k:
                    if hot[i] in self._hot:
                        yield hot[i], self._hot[hot[i]]
                    i += 1
                yield k, snapshot.decode(self._hint, json.loads(data), "spilled record")
            if len(rows) < BATCH:
                break
            after = rows[-1][0]
        for key in hot[i:]:
            if key in self._hot:
                yield key, self._hot[key]

    def items(self) -> Iterator[tuple[int, V]]:  # type: ignore[override]
        return self._items()

    def values(self) -> Iterator[V]:  # type: ignore[override]
        return (v for _, v in self._items())


class SpillList(MutableSequence[V], Generic[V]):
    """An append-only list whose last :data:`HOT` items are in memory, the rest on disk.

    For ``PolicyState.approvals``, which the rules append to in log order, search by
    position (a binary search on decision index) and read in order at the end.
    Items are never changed in place (they are tuples).
    """

    def __init__(self, db: sqlite3.Connection, name: str, hint: Any, hot: int = HOT) -> None:
        if name not in LISTS:
            raise ValueError(f"spill: no table for {name!r}")
        self._db, self._hint, self._hot_max = db, hint, hot
        t = f"spill_{name}"  # one of LISTS (checked above), never data
        self._select = f"SELECT v FROM {t} WHERE k = ?"  # noqa: S608
        self._insert = f"INSERT INTO {t} (k, v) VALUES (?, ?)"  # noqa: S608
        self._batch = f"SELECT k, v FROM {t} WHERE k >= ? ORDER BY k LIMIT {BATCH}"  # noqa: S608
        db.execute(f"CREATE TABLE {t} (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        self._cold = 0  # items 0 .. _cold-1 are on disk
        self._hot: list[V] = []  # items _cold .. in memory

    def __len__(self) -> int:
        return self._cold + len(self._hot)

    def _decode(self, data: str) -> V:
        value: V = snapshot.decode(self._hint, json.loads(data), "spilled record")
        return value

    @typing.overload
    def __getitem__(self, i: int) -> V: ...
    @typing.overload
    def __getitem__(self, i: slice) -> MutableSequence[V]: ...
    def __getitem__(self, i: int | slice) -> V | MutableSequence[V]:
        if isinstance(i, slice):
            raise TypeError("spill: a spilled list is not sliced")
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        if i >= self._cold:
            return self._hot[i - self._cold]
        (data,) = self._db.execute(self._select, (i,)).fetchone()
        return self._decode(data)

    def append(self, value: V) -> None:
        self._hot.append(value)
        if len(self._hot) > self._hot_max:
            old = self._hot.pop(0)
            data = json.dumps(snapshot.encode(self._hint, old), separators=(",", ":"))
            self._db.execute(self._insert, (self._cold, data))
            self._cold += 1

    def __iter__(self) -> Iterator[V]:
        at = 0
        while at < self._cold:
            rows = self._db.execute(self._batch, (at,)).fetchall()
            for _, data in rows:
                yield self._decode(data)
            at = rows[-1][0] + 1
        yield from list(self._hot)

    # Append-only: what a list could also do is not needed by the rules.
    def __setitem__(self, i: Any, value: Any) -> None:
        raise TypeError("spill: a spilled list is append-only")

    def __delitem__(self, i: Any) -> None:
        raise TypeError("spill: a spilled list is append-only")

    def insert(self, index: int, value: V) -> None:
        raise TypeError("spill: a spilled list is append-only")


#: The PolicyState fields kept on disk: every one a dict keyed by its entries' own index.
SPILLED = ("runs", "subs", "results", "contests", "sealed", "updates", "attestations", "decided")
#: ...a dict keyed by another entry's index, in any order (decision -> its accesses).
ANY_ORDER = ("access",)
#: ...a list appended to in log order.
LISTS = ("approvals", "run_ends")


def spill(state: Any, hot: int = HOT) -> sqlite3.Connection:
    """Replace the :data:`SPILLED` and :data:`ANY_ORDER` dicts of an empty
    :class:`PolicyState` with :class:`SpillDict`, and its :data:`LISTS` with
    :class:`SpillList` (in a private temporary database, deleted when closed)."""
    hints = typing.get_type_hints(type(state))
    db = sqlite3.connect("", isolation_level=None)  # "": a temporary file of its own
    # Nothing here outlives the process: no journal, no sync; a small page cache, so
    # that what is spilled is on disk (in the OS's cache), not in this process.
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA temp_store = FILE")
    for name in (*SPILLED, *ANY_ORDER, *LISTS):
        if getattr(state, name):
            raise ValueError(f"spill: {name} is not empty")
    for name in (*SPILLED, *ANY_ORDER):
        _, value_hint = typing.get_args(hints[name])
        setattr(state, name, SpillDict(db, name, value_hint, hot, any_order=name in ANY_ORDER))
    for name in LISTS:
        (item_hint,) = typing.get_args(hints[name])
        setattr(state, name, SpillList(db, name, item_hint, hot))
    return db


def low_memory_audit(origin: str, hot: int = HOT) -> Any:
    """A fresh :class:`verifier.policy.audit.AuditState` whose schedule records spill."""
    from verifier.entries.replay import LogReplay
    from verifier.policy.audit import AuditState
    from verifier.policy.state import PolicyState

    state = AuditState(LogReplay(origin), PolicyState())
    spill(state.policy, hot)
    return state
