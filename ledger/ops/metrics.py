"""Prometheus metrics in the text exposition format (version 0.0.4), without a client library.

Few metrics, each updated at one place in the code; the exposition is a few
lines of text, so writing it here costs less than a dependency. Names follow
Prometheus conventions: ``_total`` for counters, base units (seconds).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


class Counter:
    def __init__(self, name: str, help_text: str, label: str | None = None) -> None:
        self.name, self.help, self.label = name, help_text, label
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, label: str = "") -> None:
        with self._lock:
            self._values[label] = self._values.get(label, 0.0) + amount

    def value(self, label: str = "") -> float:
        return self._values.get(label, 0.0)

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        values = dict(self._values) or ({"": 0.0} if self.label is None else {})
        for label, v in sorted(values.items()):
            pairs = [(self.label, label)] if self.label else []
            out.append(f"{self.name}{_labels(pairs)} {_num(v)}")
        return out


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        self.name, self.help, self.buckets = name, help_text, buckets
        self._counts = [0] * (len(buckets) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            self._counts[bisect_left(self.buckets, value)] += 1
            self._sum += value

    @property
    def count(self) -> int:
        return sum(self._counts)

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        running = 0
        for bound, n in zip((*self.buckets, float("inf")), self._counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else _num(bound)
            out.append(f'{self.name}_bucket{{le="{le}"}} {running}')
        out += [f"{self.name}_sum {_num(self._sum)}", f"{self.name}_count {running}"]
        return out


class Gauge:
    """A value read when scraped (a callback returning label -> value)."""

    def __init__(
        self, name: str, help_text: str, read: Callable[[], dict[str, float]], label: str | None
    ) -> None:
        self.name, self.help, self.read, self.label = name, help_text, read, label

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        for label, v in sorted(self.read().items()):
            pairs = [(self.label, label)] if self.label else []
            out.append(f"{self.name}{_labels(pairs)} {_num(v)}")
        return out


#: The process's metrics (one ledger per process).
APPENDS = Counter("frontier_appends_total", "Entries appended and acknowledged as durable.")
REFUSALS = Counter(
    "frontier_admission_refusals_total", "Entries refused at admission, by reason.", "reason"
)
COMMIT_FAILURES = Counter(
    "frontier_commit_failures_total", "Batches whose commit failed (nothing of them is durable)."
)
PRECHECKED = Counter(
    "frontier_entries_prechecked_total",
    "Entries whose signatures an HTTP worker verified before they were sequenced.",
)
BATCH_SIZE = Histogram(
    "frontier_batch_size", "Entries per group commit.", (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
COMMIT_SECONDS = Histogram(
    "frontier_commit_seconds",
    "Time to make a batch durable and sign its checkpoint.",
    (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
WITNESS_SECONDS = Histogram(
    "frontier_witness_cosign_seconds",
    "Time for a witness to answer add-checkpoint.",
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WITNESS_FAILURES = Counter(
    "frontier_witness_failures_total", "Failed cosignature requests, by witness.", "witness"
)

BACKUP_FAILURES = Counter(
    "frontier_backup_failures_total", "Scheduled online backups that failed (none was written)."
)
#: Answered before h11 and the app (ledger/api/rawtiles.py): how much of the tile
#: traffic a server's memory takes, and that the fast path is in use.
TILES_FROM_MEMORY = Counter(
    "frontier_tiles_from_memory_total",
    "Full tiles and entry bundles answered from memory before the HTTP framework.",
)


def exposition(gauges: Iterable[Gauge]) -> str:
    lines: list[str] = []
    for m in (APPENDS, REFUSALS, COMMIT_FAILURES, PRECHECKED, BATCH_SIZE, COMMIT_SECONDS):
        lines += m.render()
    for m in (WITNESS_SECONDS, WITNESS_FAILURES, BACKUP_FAILURES, TILES_FROM_MEMORY):
        lines += m.render()
    for g in gauges:
        lines += g.render()
    return "\n".join(lines) + "\n"
