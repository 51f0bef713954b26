"""Schedule markers: the log records when each deadline of the charter's calendar passes.

An APScheduler job in the server (``AsyncIOScheduler``, one process only: the
writer lock holds it there) looks every ``interval`` seconds for deadlines that
have passed — lift date, close of the submission window, decision date — and
appends a ``schedule_marker`` entry for each, signed by the log's marker key
(granted the ``log`` role by the board). Cycle boundaries thereby become
positions in the log: "submitted before the window closed" is an index
comparison, not a matter of whose clock to trust.

``misfire_grace_time=None`` and ``coalesce=True``: a tick missed while the
server was down or busy runs once when it can — markers are idempotent (a
marker already logged is not due), so running late is harmless and running
twice is impossible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ledger.errors import EntryRefused
from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope
from ledger.write.open_log import MARKER_KEY_NAME
from ledger.write.sequencer import GroupCommitter, prepare
from verifier.core.leaf import canonical_json
from verifier.policy.rules.reveals import due_markers
from verifier.policy.state import PolicyState

log = logging.getLogger("frontier_ledger.markers")


def marker_envelope(origin: str, key: EntryKey, marker: str, cycle: int) -> dict[str, Any]:
    payload = {"type": "schedule_marker", "v": 1, "log": origin, "marker": marker, "cycle": cycle}
    return sign_envelope(
        canonical_json(payload).encode(), payload_type_for("schedule_marker"), [key]
    )


class MarkerJob:
    def __init__(
        self,
        origin: str,
        policy_state: Callable[[], PolicyState],
        committer: GroupCommitter,
        key: EntryKey,
        clock: Any,
        *,
        lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        self.origin = origin
        self.policy_state = policy_state
        self.committer = committer
        self.key = key
        self.clock = clock
        #: held while reading the writer's state (its thread may be admitting entries)
        self.lock = lock
        self.appended = 0
        self.last_error: str | None = None

    async def tick(self) -> int:
        """Append every marker that is due now; return how many were appended."""
        now = self.clock()

        # The writer's own admission state knows every marker already logged; read
        # it off the event loop (a first read after a restart replays the log).
        def due() -> list[Any]:
            with self.lock if self.lock is not None else contextlib.nullcontext():
                return list(due_markers(self.policy_state(), now))

        due_now = await asyncio.to_thread(due)
        count = 0
        for _, marker, cycle in due_now:
            env = marker_envelope(self.origin, self.key, marker, cycle)
            try:
                await self.committer.submit(prepare(env))
            except EntryRefused as exc:
                # Most likely the marker key has not been granted the log role yet.
                self.last_error = str(exc)
                log.warning("schedule marker %s %s refused: %s", marker, cycle, exc)
                break
            count += 1
        self.appended += count
        return count


def new_scheduler() -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    return scheduler


def add_interval_job(
    scheduler: AsyncIOScheduler, func: Callable[[], Awaitable[Any]], seconds: float, job_id: str
) -> None:
    """An idempotent periodic job: one instance at a time, missed runs coalesced into one
    run as soon as possible (``misfire_grace_time=None``), never a backlog."""
    scheduler.add_job(
        func,
        "interval",
        seconds=seconds,
        id=job_id,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )


def load_marker_key(data_root: Path) -> EntryKey | None:
    path = data_root / MARKER_KEY_NAME
    return EntryKey.load(path) if path.exists() else None
