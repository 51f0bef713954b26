"""Time for the sequencer, injectable so tests and the demo can run on a calendar."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Returns UTC milliseconds since the Unix epoch.
Clock = Callable[[], int]


def system_clock() -> int:
    return time.time_ns() // 1_000_000
