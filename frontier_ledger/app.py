"""The served app: the ledger's API with the public site mounted beside it."""

from __future__ import annotations

from fastapi import FastAPI

from ledger.api.app import ServerOptions, create_api
from ledger.ops.clock import Clock
from ledger.ops.datadir import DataDir
from public_site import routes as site_routes
from public_site import routes_compute, routes_downloads, routes_register


def create_app(options: ServerOptions) -> FastAPI:
    """What ``frontier-ledger serve`` runs: the log, its API and the public site, one store."""
    app = create_api(options)
    # The public site for journalists and the public reads app.state.reader and
    # app.state.view, which the API's lifespan opens.
    app.include_router(site_routes.router)
    app.include_router(routes_register.router)
    app.include_router(routes_compute.router)
    app.include_router(routes_downloads.router)
    app.mount("/static", site_routes.static, name="static")
    return app


def read_only_app(data: DataDir, clock: Clock | None) -> FastAPI:
    """The app ``export-site`` crawls: read-only, so a running server is not disturbed.

    Module-level so that it pickles by name into the export's worker processes.
    """
    return create_app(ServerOptions(data, read_only=True, clock=clock))
