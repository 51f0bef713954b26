"""Liveness and readiness of a running ledger, for load balancers and operators.

Liveness (``/healthz``): the process answers and can read its store. Readiness
(``/readyz``): it should receive traffic — the store is readable, the writer is
running (unless read-only), and the checkpoint it serves is the latest one, with
the witness quorum when the operator required it. Each check says in words what
is wrong, so an operator reading the 503 knows where to look.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ledger.read.reader import LogReader
from ledger.write.witnessing import WitnessCollector


@dataclass
class Check:
    ok: bool
    detail: str


@dataclass
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": {k: {"ok": c.ok, "detail": c.detail} for k, c in self.checks.items()},
        }


def liveness(reader: LogReader) -> Check:
    try:
        head = reader.head()
    except Exception as exc:  # noqa: BLE001 - any failure to read is the answer
        return Check(False, f"cannot read the store: {exc}")
    return Check(True, f"tree size {head.size}")


def checkpoint_age(reader: LogReader, witnesses: WitnessCollector | None) -> float | None:
    """Seconds since the latest checkpoint was last vouched for by someone.

    With witnesses: since its newest cosignature (witnesses re-cosign an unchanged
    checkpoint at the idle cadence, so this stays small while they are healthy).
    Without: since its last entry was logged. None before anything was logged.
    """
    head = reader.head()
    if witnesses is not None:
        stamps = [ts for _, ts in reader.store.cosignatures(head.size).values()]
        return time.time() - max(stamps) if stamps else None
    return time.time() - head.logged_at_ms / 1000 if head.size else None


def readiness(
    reader: LogReader,
    *,
    writer_running: bool | None,
    writer_error: str | None = None,
    replaying: int | None = None,
    witnesses: WitnessCollector | None,
    require_quorum: bool,
    max_checkpoint_age_s: float | None = None,
) -> Readiness:
    """*writer_running* is None for a read-only server (nothing to check)."""
    out = Readiness()
    store = liveness(reader)
    out.checks["store"] = store
    if not store.ok:
        return out
    if writer_running is not None:
        if not writer_running:
            out.checks["writer"] = Check(
                False, "the writer is not running: appends cannot be made durable"
            )
        elif replaying is not None:
            out.checks["writer"] = Check(
                False,
                f"replaying the log before admitting new entries ({replaying:,} of "
                f"{reader.head().size:,} entries); appends wait until it is done",
            )
        elif writer_error is not None:
            out.checks["writer"] = Check(
                False,
                f"the last commit failed, appends are refused until the store takes writes "
                f"again (checked every few seconds): {writer_error}",
            )
        else:
            out.checks["writer"] = Check(True, "sequencing and signing")
    head = reader.head()
    if witnesses is None:
        out.checks["checkpoint"] = Check(True, f"serving the latest checkpoint, size {head.size}")
        return out
    cosigned = set(reader.store.cosignatures(head.size))
    met = witnesses.policy.quorum_met(cosigned)
    names = ", ".join(sorted(cosigned)) or "none"
    ages = [
        time.monotonic() - s.last_ok for s in witnesses.status.values() if s.last_ok is not None
    ]
    seen = f"; last witness reply {min(ages):.0f} s ago" if ages else ""
    quorum = Check(
        met,
        f"the checkpoint of size {head.size} is cosigned by {names}"
        + ("" if met else ", short of the policy's quorum")
        + seen,
    )
    if require_quorum:
        out.checks["witness_quorum"] = quorum
        age = checkpoint_age(reader, witnesses)
        stale = (
            met
            and max_checkpoint_age_s is not None
            and age is not None
            and age > max_checkpoint_age_s
        )
        if not met:
            detail = f"the latest checkpoint (size {head.size}) is held back until its quorum"
        elif stale:
            detail = (
                f"the latest checkpoint (size {head.size}) was last cosigned {age:.0f} s ago, "
                f"more than {max_checkpoint_age_s:.0f} s: the witnesses stopped answering"
            )
        else:
            detail = f"serving the latest checkpoint, size {head.size}"
        out.checks["checkpoint"] = Check(met and not stale, detail)
    else:
        # Reported, not required: a missing cosignature does not stop reads or appends.
        out.checks["witness_quorum"] = Check(True, quorum.detail)
        out.checks["checkpoint"] = Check(True, f"serving the latest checkpoint, size {head.size}")
    return out
