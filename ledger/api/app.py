"""Application wiring only: routers, error handlers, lifespan (FastAPI "Bigger Applications")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.api import problems, routes_api, routes_log
from ledger.clock import Clock, system_clock
from ledger.datadir import DataDir, WriterLock
from ledger.markers import MarkerJob, load_marker_key, start_scheduler
from ledger.sequencer import GroupCommitter
from ledger.service import LogReader, open_writer
from ledger.sqlite_store import SqliteStore
from ledger.views import LogView


@dataclass(frozen=True)
class ServerOptions:
    data: DataDir
    read_only: bool = False
    max_batch: int = 256
    max_queue: int = 4096
    clock: Clock | None = None  # a simulated clock (simulations and tests only)
    marker_interval_s: float = 60.0


def create_app(options: ServerOptions) -> FastAPI:
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
                writer, max_batch=options.max_batch, max_queue=options.max_queue
            )
            committer.start()
        store = SqliteStore.open(options.data.db_path, readonly=True)
        app.state.reader = LogReader(store)
        app.state.view = LogView(store, options.data.root / "blobs" / "sha256")
        app.state.committer = committer
        app.state.clock = options.clock or system_clock
        scheduler = None
        key = load_marker_key(options.data.root) if committer is not None else None
        if committer is not None and key is not None and app.state.view.governed:
            assert writer is not None
            admission = writer.admission
            if admission is not None:
                app.state.markers = MarkerJob(
                    store.origin,
                    lambda: admission.engine.state,
                    committer,
                    key,
                    writer.clock,
                )
                scheduler = start_scheduler(app.state.markers, options.marker_interval_s)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if committer is not None:
                await committer.stop()
            if writer is not None:
                writer.store.close()
            store.close()
            if lock is not None:
                lock.release()

    app = FastAPI(
        title="Frontier Ledger",
        summary="A public, append-only, verifiable ledger of the frontier-AI training schedule.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.add_exception_handler(problems.Problem, problems.handle_problem)
    app.add_exception_handler(StarletteHTTPException, problems.handle_http)
    app.add_exception_handler(RequestValidationError, problems.handle_validation)
    app.add_exception_handler(Exception, problems.handle_unexpected)
    app.include_router(routes_log.router)
    app.include_router(routes_api.router)
    return app
