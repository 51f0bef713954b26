"""Time for the sequencer, injectable so tests and the demo can run on a calendar."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ledger.errors import ConfigError

#: Returns UTC milliseconds since the Unix epoch.
Clock = Callable[[], int]


def system_clock() -> int:
    return time.time_ns() // 1_000_000


class FileClock:
    """A simulated clock: the time written in a file (RFC 3339 UTC), read at every call.

    For simulations and tests only (``serve --simulated-clock FILE``): the log's
    charter must say ``simulation = true``. The sequencer still never lets
    ``logged_at`` go backwards.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self()  # fail now, not at the first append, if the file is unreadable

    def __call__(self) -> int:
        from verifier.entries.fields import parse_time

        try:
            text = self.path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"simulated clock file {self.path}: {exc.strerror}") from None
        return parse_time(text, f"simulated clock file {self.path}")
