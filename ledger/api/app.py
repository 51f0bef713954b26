"""The log's HTTP API: wiring only (routers, error handlers, lifespan; FastAPI "Bigger
Applications").

:func:`create_api` serves the log (tlog-tiles paths, the JSON API, health) and keeps
what the routers read in ``app.state``. It knows nothing of the public site: the
composition (``frontier_ledger.app``) mounts the site's routers on the app it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.api import openapi, problems, routes_api, routes_health, routes_log
from ledger.api.fastpath import FastPath, LivenessCache
from ledger.errors import DataDirError, ReplayAborted, StoreError
from ledger.keys.log_keys import MLDSA_VKEY
from ledger.ops.clock import Clock, system_clock
from ledger.ops.datadir import DataDir, WriterLock
from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.recovery.backup import BackupJob
from ledger.storage.backends import open_store, sqlite_file
from ledger.write.markers import MarkerJob, add_interval_job, load_marker_key, new_scheduler
from ledger.write.open_log import open_writer
from ledger.write.sequencer import GroupCommitter, LogWriter
from ledger.write.witnessing import POLICY_NAME, WitnessCollector
from verifier.core.trust_policy import parse_trust_policy

log = logging.getLogger("frontier_ledger.app")


@dataclass(frozen=True)
class ServerOptions:
    data: DataDir
    read_only: bool = False
    max_batch: int = 256
    #: group commit: how long to wait for more appends while they arrive concurrently
    commit_linger_s: float = 0.001
    max_queue: int = 4096
    #: how long an append's (capped) request body may take to arrive; then 408
    body_timeout_s: float = 10.0
    clock: Clock | None = None  # a simulated clock (simulations and tests only)
    marker_interval_s: float = 60.0
    #: tlog-policy naming the witnesses (default: DATA/witnesses.policy if present)
    witness_policy: Path | None = None
    witness_interval_s: float = 1.0
    witness_idle_cadence_s: float = 300.0
    witness_timeout_s: float = 10.0
    #: publish only checkpoints whose cosignatures meet the policy's quorum
    require_witness_quorum: bool = False
    #: with the quorum required: not ready once the newest cosignature is older
    max_checkpoint_age_s: float = 900.0
    #: scheduled online backups of a SQLite log (None: none)
    backup_dir: Path | None = None
    backup_interval_s: float = 3600.0
    backup_keep: int = 48


def _witness_collector(
    options: ServerOptions, reader: LogReader, writer: LogWriter | None
) -> WitnessCollector | None:
    policy_path = options.witness_policy or options.data.root / POLICY_NAME
    if not policy_path.exists():
        if options.require_witness_quorum:
            raise DataDirError(f"--require-witness-quorum needs a witness policy ({policy_path})")
        return None
    return WitnessCollector(
        parse_trust_policy(policy_path.read_text()),
        reader,
        writer.store if writer is not None else None,  # type: ignore[arg-type]
        idle_cadence_s=options.witness_idle_cadence_s,
        timeout_s=options.witness_timeout_s,
    )


def _schedule(
    app: FastAPI, options: ServerOptions, writer: LogWriter, committer: GroupCommitter
) -> AsyncIOScheduler:
    """The jobs that must run in exactly one process: markers and witnessing."""
    scheduler = new_scheduler()
    key = load_marker_key(options.data.root)
    admission = writer.admission
    if key is not None and admission is not None:
        app.state.markers = MarkerJob(
            writer.store.origin,
            lambda: admission.engine.state,
            committer,
            key,
            writer.clock,
            lock=admission.locked(),
        )
        add_interval_job(scheduler, app.state.markers.tick, options.marker_interval_s, "markers")
    if app.state.witnesses is not None:
        add_interval_job(
            scheduler, app.state.witnesses.tick, options.witness_interval_s, "witnesses"
        )
    if app.state.backups is not None:
        add_interval_job(scheduler, app.state.backups.tick, options.backup_interval_s, "backups")
    return scheduler


def _set_state(
    app: FastAPI, options: ServerOptions, writer: LogWriter | None, committer: GroupCommitter | None
) -> None:
    """What the routers read (app.state.reader and .view are set before)."""
    app.state.vkey, app.state.mldsa_vkey = _published_keys(options.data)
    app.state.committer = committer
    app.state.read_only = options.read_only
    app.state.body_timeout_s = options.body_timeout_s
    app.state.clock = options.clock or system_clock
    app.state.require_quorum = options.require_witness_quorum
    app.state.max_checkpoint_age_s = options.max_checkpoint_age_s
    app.state.backups = _backup_job(options)
    app.state.witness_policy_path = options.witness_policy or options.data.root / POLICY_NAME
    app.state.witnesses = _witness_collector(options, app.state.reader, writer)


def _warm_up(writer: LogWriter | None) -> asyncio.Task[None] | None:
    """Replay a governed log for admission now, off the event loop, so that the first
    append after a restart does not wait for it (/readyz says "replaying" meanwhile)."""
    if writer is None or writer.admission is None:
        return None
    admission = writer.admission

    def warm() -> None:
        t0 = time.monotonic()
        try:
            admission.warm()
        except ReplayAborted:
            return
        except Exception:  # the first batch retries the replay and reports its failure
            log.exception("replaying the log for admission failed")
            return
        start = admission.resumed_from or 0
        log.info(
            "admission ready in %.1f s: %s, then %d entries replayed",
            time.monotonic() - t0,
            f"resumed at size {start}" if admission.resumed_from is not None else "no stored state",
            admission.replayed - start,
        )

    return asyncio.get_running_loop().create_task(asyncio.to_thread(warm), name="admission-warm")


async def _stop_warm_up(writer: LogWriter | None, task: asyncio.Task[None] | None) -> None:
    if writer is None or writer.admission is None or task is None:
        return
    writer.admission.abort()  # a replay under way stops at the next entry
    with contextlib.suppress(Exception):
        await task


def _save_admission(writer: LogWriter) -> None:
    """At a clean stop, the admission state of the last checkpoint: the next start
    resumes from it instead of replaying the log (a cache: a failure only costs that)."""
    try:
        if writer.save_admission():
            log.info("stored the admission state at size %d", writer.admission.saved_size)  # type: ignore[union-attr]
    except (OSError, sqlite3.Error) as exc:
        log.warning("could not store the admission state: %s", exc)


def _published_keys(data: DataDir) -> tuple[str, str | None]:
    """The log's vkey, and its ML-DSA-44 vkey if it has one, as the site shows them."""
    mldsa = data.root / MLDSA_VKEY
    return (
        data.vkey_path.read_text().strip(),
        mldsa.read_text().strip() if mldsa.exists() else None,
    )


def _backup_job(options: ServerOptions) -> BackupJob | None:
    if options.backup_dir is None or options.read_only:
        return None
    return BackupJob(
        sqlite_file(options.data, "scheduled backups (--backup-dir)"),
        options.backup_dir,
        options.data.root / "blobs" / "sha256",
        options.backup_keep,
    )


#: Worker threads for the ``def`` routes (AnyIO's default is 40). Pages and API reads
#: are Python work under one GIL: more threads do not serve them faster, they only
#: make the event loop wait longer for the GIL after each socket write (with 40,
#: /healthz's p99 was 2-8x higher at a crowd; benchmarks/README.md, "Reads at a crowd").
ROUTE_THREADS = int(os.environ.get("XFL_ROUTE_THREADS", "4"))


def _fewer_route_threads() -> Callable[[], None]:
    """:data:`ROUTE_THREADS` for this server's run; returns what puts AnyIO's limit
    back (tests run many apps in one process)."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens = limiter.total_tokens
    limiter.total_tokens = ROUTE_THREADS

    def restore() -> None:
        limiter.total_tokens = tokens

    return restore


def create_api(options: ServerOptions) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock: WriterLock | None = None
        writer = None
        committer = None
        if not options.read_only:
            lock = WriterLock(options.data)
            lock.acquire()
            writer = open_writer(options.data, admit=True, clock=options.clock)
            committer = GroupCommitter(
                writer,
                max_batch=options.max_batch,
                max_queue=options.max_queue,
                linger=options.commit_linger_s,
            )
            committer.start()
        store = open_store(options.data, readonly=True)
        app.state.reader = LogReader(store)
        # The read side's replay is kept between runs (a cache: DATA/site-cache/),
        # so a restart of a long log does not make the first page wait for a replay.
        app.state.view = LogView(
            store,
            options.data.root / "blobs" / "sha256",
            cache=options.data.root / "site-cache" / "view-state.json",
        )
        _set_state(app, options, writer, committer)
        app.state.liveness = LivenessCache(app.state.reader)
        restore_threads = _fewer_route_threads()
        scheduler = None
        warmup = _warm_up(writer)
        if writer is not None and committer is not None:
            scheduler = _schedule(app, options, writer, committer)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            await _stop_warm_up(writer, warmup)
            if committer is not None:
                await committer.stop()
            if writer is not None:
                _save_admission(writer)
                if writer.admission is not None:
                    writer.admission.close()
                writer.store.close()
            app.state.view.save()
            store.close()
            if lock is not None:
                lock.release()
            restore_threads()

    app = FastAPI(
        title="Frontier Ledger",
        summary="A public, append-only, verifiable ledger of the frontier-AI training schedule.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_exception_handler(problems.Problem, problems.handle_problem)
    app.add_exception_handler(StarletteHTTPException, problems.handle_http)
    app.add_exception_handler(RequestValidationError, problems.handle_validation)
    # The database is unreachable (PostgreSQL restarting): 503, retry shortly.
    app.add_exception_handler(StoreError, problems.handle_store)
    app.add_exception_handler(Exception, problems.handle_unexpected)
    # Full tiles from memory, the checkpoint and /healthz, before the framework.
    app.add_middleware(FastPath)
    app.include_router(routes_log.router)
    app.include_router(routes_api.router)
    app.include_router(routes_health.router)
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    return app
