"""Dependencies the routers take from the application state (overridable in tests)."""

from __future__ import annotations

from fastapi import Request

from ledger.read.reader import LogReader
from ledger.read.views import LogView
from ledger.write.sequencer import Committer


def reader_of(request: Request) -> LogReader:
    reader: LogReader = request.app.state.reader
    return reader


def view_of(request: Request) -> LogView:
    view: LogView = request.app.state.view
    return view


def committer_of(request: Request) -> Committer | None:
    committer: Committer | None = getattr(request.app.state, "committer", None)
    return committer
