"""``frontier-verify monitor``: watch a log, incrementally, and report as JSON lines.

Each round: fetch and verify the checkpoint (and the witness quorum, with a
policy); refuse a rollback or fork against the last checkpoint seen; fetch only
the new entries, each proven included in the signed tree; replay them through
the admission checks and the schedule's rules; print one JSON line per new
entry and per new finding; and raise an alert when the checkpoint has not moved
— or not been cosigned — for longer than the limit (a frozen log is an event).
A checkpoint that lacks the witness quorum is an ``unwitnessed`` event and the next
round tries again; rounds without a witnessed checkpoint count towards the limit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.client.consistency import ForkEvidence, check_consistent
from verifier.client.logcheck import check_log
from verifier.client.tilelog import Fetch
from verifier.core.checkpoint import SignedCheckpoint
from verifier.entries.payloads import LogKeyChange
from verifier.errors import InconsistencyError, QuorumError
from verifier.policy.audit import Auditor, AuditState

Emit = Callable[[dict[str, Any]], None]


def print_json_line(event: dict[str, Any]) -> None:
    print(json.dumps(event, sort_keys=True), flush=True)


@dataclass
class Monitor:
    fetch: Fetch
    open_checkpoint: Callable[[bytes], tuple[SignedCheckpoint, dict[str, int]]]
    max_age_s: float
    emit: Emit = print_json_line
    clock: Callable[[], float] = time.time
    last: SignedCheckpoint | None = None
    auditor: Auditor | None = None
    reported: set[tuple[str, tuple[int, ...], str]] = field(default_factory=set)
    changed_at: float | None = None
    #: When the last accepted checkpoint was fresh: its newest cosignature, else when it
    #: last changed. An unwitnessed round's ``stale`` alert counts from it.
    fresh_at: float | None = None
    #: The first round's time (an unwitnessed first round counts from it).
    started_at: float | None = None
    #: Processes checking signatures when a round has many entries (the first one).
    jobs: int = 1
    #: Revealed documents (S14), e.g. :class:`verifier.client.fetch.RemoteBlobs`.
    blobs: Mapping[str, bytes] | None = None
    #: Called after each round's entries were checked, with the checkpoint and the
    #: log key changes admitted among them (possibly none); returns events to emit.
    #: The CLI uses it to follow a log key rotation (verifier.client.logkeys).
    on_checked: (
        Callable[[SignedCheckpoint, list[tuple[int, LogKeyChange]]], list[dict[str, Any]]] | None
    ) = None

    def resume(self, state: AuditState) -> None:
        """Continue from a stored replay state at :attr:`last` (findings in it are not re-sent)."""
        if self.last is None or state.size != self.last.size:
            raise ValueError("the replay state must be at the last checkpoint")
        self.auditor = Auditor(self.last.origin, self.blobs, state=state)
        self.reported.update((f.rule, f.indices, f.severity) for f in state.findings)

    def round(self) -> None:
        """One round; raises InconsistencyError (after emitting it) on a rollback or fork.

        A checkpoint without the witness quorum (or with a known witness's cosignature
        that does not verify) is an ``unwitnessed`` event, not the end: nothing of it is
        trusted, the last witnessed checkpoint stays, and the next round tries again.
        ``stale`` fires once no fresh witnessed checkpoint was seen for the limit.
        """
        now = self.clock()
        if self.started_at is None:
            self.started_at = now
        try:
            cp, cosigned = self.open_checkpoint(self.fetch("checkpoint"))
        except QuorumError as exc:
            self.emit({"event": "unwitnessed", "message": str(exc)})
            fresh = self.fresh_at if self.fresh_at is not None else self.started_at
            last = self.last.size if self.last is not None else 0
            self._alert_if_stale(now, last, fresh, "witnessed")
            return
        if self.last is not None:
            try:
                check_consistent(self.last, cp, self.fetch)
            except InconsistencyError as exc:
                evidence = json.loads(ForkEvidence.of(exc).to_json())
                self.emit({"event": "inconsistency", "message": str(exc), "evidence": evidence})
                raise
        old_size = self.last.size if self.last is not None else 0
        if self.auditor is None and self.last is not None:
            # Resumed without a stored replay state: rebuild it, silently, up to
            # the last checkpoint (those entries were reported before).
            self.auditor = check_log(
                self.last, self.fetch, None, schedule=True, blobs=self.blobs, jobs=self.jobs
            ).auditor
            self.reported.update((f.rule, f.indices, f.severity) for f in self.auditor.findings)
        result = check_log(
            cp,
            self.fetch,
            self.auditor.state if self.auditor is not None else None,
            schedule=True,
            blobs=self.blobs,
            jobs=self.jobs,
            collect_entries=True,
        )
        self.auditor = result.auditor
        for index, entry_type, logged_at in result.entries:
            event = {"event": "entry", "index": index, "type": entry_type, "logged_at": logged_at}
            self.emit(event)
        if self.on_checked is not None:
            for event in self.on_checked(cp, result.key_changes):
                self.emit(event)
        report = self.auditor.report(int(now * 1000))
        for f in report.findings:
            key = (f.rule, f.indices, f.severity)
            if key not in self.reported:
                self.reported.add(key)
                self.emit({"event": "finding", **f.to_json()})
        if self.last is None or cp.size != self.last.size or self.changed_at is None:
            self.changed_at = now
        self.fresh_at = max(cosigned.values()) if cosigned else self.changed_at
        self._alert_if_stale(now, cp.size, self.fresh_at, "cosigned" if cosigned else "changed")
        self.emit({"event": "checkpoint", "size": cp.size, "new_entries": cp.size - old_size})
        self.last = cp

    def _alert_if_stale(self, now: float, size: int, fresh: float, what: str) -> None:
        """Emit ``stale`` if the checkpoint was last *what* (at *fresh*) over the limit ago."""
        age = now - fresh
        if age > self.max_age_s:
            self.emit(
                {
                    "event": "stale",
                    "size": size,
                    "age_s": round(age),
                    "message": f"the checkpoint was last {what} {round(age)} s ago "
                    f"(limit {round(self.max_age_s)} s): the log may be frozen",
                }
            )
