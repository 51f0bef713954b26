"""``/healthz`` and ``/readyz``: thin; the checks are in :mod:`ledger.api.health`."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from ledger.api.health import checkpoint_age, liveness, readiness
from ledger.api.openapi import Liveness, Readiness
from ledger.ops import metrics
from ledger.write.sequencer import GroupCommitter

router = APIRouter(tags=["operations"])
_RETRY = {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}}


def _answers(model: type, no: str) -> dict[int | str, dict[str, Any]]:
    """200 and 503 both answer the same report (not a problem document: its checks)."""
    return {200: {"model": model}, 503: {"model": model, "description": no, "headers": _RETRY}}


def _json(body: object, status: int) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = "5"
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.get(
    "/healthz",
    summary="Liveness: the process answers and can read its store",
    responses=_answers(Liveness, "the store cannot be read"),
)
def healthz(request: Request) -> Response:
    check = liveness(request.app.state.reader)
    return _json({"ok": check.ok, "detail": check.detail}, 200 if check.ok else 503)


@router.get(
    "/readyz",
    summary="Readiness: store, writer, and the latest checkpoint served with its witness quorum",
    responses=_answers(Readiness, "not ready: the failed check says why"),
)
def readyz(request: Request) -> Response:
    state = request.app.state
    committer = state.committer
    result = readiness(
        state.reader,
        writer_running=None if state.read_only else committer is not None and committer.running,
        writer_error=None if committer is None else committer.last_error,
        replaying=_replaying(committer),
        witnesses=state.witnesses,
        require_quorum=state.require_quorum,
        max_checkpoint_age_s=state.max_checkpoint_age_s,
    )
    return _json(result.to_json(), 200 if result.ready else 503)


def _replaying(committer: GroupCommitter | None) -> int | None:
    """Entries replayed so far, while the writer replays the log for admission."""
    admission = committer.writer.admission if committer is not None else None
    return admission.replayed if admission is not None and admission.replaying else None


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format 0.0.4)",
    response_class=PlainTextResponse,
)
def prometheus(request: Request) -> Response:
    state = request.app.state
    gauges = [
        metrics.Gauge(
            "frontier_tree_size",
            "Entries in the latest checkpoint.",
            lambda: {"": float(state.reader.head().size)},
            None,
        ),
        metrics.Gauge(
            "frontier_seconds_since_last_append",
            "Seconds since this process last made an entry durable (absent before the first).",
            lambda: (
                {}
                if state.committer is None or state.committer.last_append is None
                else {"": round(time.time() - state.committer.last_append, 3)}
            ),
            None,
        ),
        metrics.Gauge(
            "frontier_sequencer_queue",
            "Entries waiting for the next group commit.",
            lambda: {} if state.committer is None else {"": float(state.committer.queued)},
            None,
        ),
    ]
    gauges.append(
        metrics.Gauge(
            "frontier_checkpoint_age_seconds",
            "Seconds since the latest checkpoint's newest cosignature (or, without "
            "witnesses, since its last entry).",
            lambda: (
                {}
                if (age := checkpoint_age(state.reader, state.witnesses)) is None
                else {"": round(age, 3)}
            ),
            None,
        )
    )
    if state.witnesses is not None:
        head = state.reader.head().size
        gauges.append(
            metrics.Gauge(
                "frontier_witness_cosigned",
                "1 if the witness cosigned the latest checkpoint, else 0.",
                lambda: {w: float(s.last_size == head) for w, s in state.witnesses.status.items()},
                "witness",
            )
        )
    backups = state.backups
    if backups is not None:
        gauges.append(
            metrics.Gauge(
                "frontier_backup_last_success_timestamp_seconds",
                "Unix time of the last scheduled backup that was written and checked.",
                lambda: {} if backups.last_success is None else {"": backups.last_success},
                None,
            )
        )
    return Response(
        metrics.exposition(gauges),
        media_type="text/plain; version=0.0.4; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )
