"""A simulation's calendar travels with its data: ``DATA/clock``.

``frontier-ledger demo`` leaves the simulated date its scenario ends on in
``DATA/clock``; ``serve`` and ``export-site`` on that directory take their time
from it without a flag, so a reader who serves the demo sees the simulated
calendar (2030), not today's. Only a log whose charter says ``simulation = true``
may carry one: a clock file beside a real log is refused, never used.
"""

from __future__ import annotations

from ledger.errors import DataDirError
from ledger.ops.clock import FileClock
from ledger.ops.datadir import DataDir
from ledger.storage.backends import open_store
from verifier.core.leaf import parse_leaf
from verifier.entries.codec import parse_payload
from verifier.entries.payloads import Charter
from verifier.errors import FormatError

CLOCK_NAME = "clock"


def data_clock(data: DataDir) -> FileClock | None:
    """The simulated clock of *data*, or None for a log that has none."""
    path = data.root / CLOCK_NAME
    if not path.exists():
        return None
    store = open_store(data, readonly=True)
    try:
        first = store.read_leaves(0, 1)
    finally:
        store.close()
    try:
        charter = parse_payload(parse_leaf(first[0]).envelope.payload).body if first else None
    except FormatError:
        charter = None
    if not isinstance(charter, Charter) or not charter.simulation:
        raise DataDirError(
            f"{path} is a simulated clock, but this log's charter is not a simulation: "
            "a real log runs on real time (remove the file)"
        )
    return FileClock(path)
