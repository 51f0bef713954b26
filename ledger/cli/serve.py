"""``frontier-ledger serve``: one process that sequences, signs and answers HTTP, or,
with ``--workers N``, the signing process with N HTTP worker processes in front of it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ledger.errors import ConfigError
from ledger.ops.clock import FileClock
from ledger.ops.datadir import DataDir


def _data(args: argparse.Namespace) -> DataDir:
    # As every command of ledger.cli.main opens its data directory.
    return DataDir.at(args.data, getattr(args, "key", None), getattr(args, "database", None))


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ledger.api.app import ServerOptions
    from ledger.api.rawtiles import protocol_for
    from ledger.demo.clock import data_clock
    from ledger.ops.logs import log_config

    data = _data(args)
    data.check_initialised()
    # A simulation's data directory carries its calendar (DATA/clock).
    clock = FileClock(Path(args.simulated_clock)) if args.simulated_clock else data_clock(data)
    if clock is not None:
        print(f"A SIMULATION: its clock is {clock.path} ({clock.path.read_text().strip()})")
    if args.require_witness_quorum and args.witness_idle_cadence >= args.max_checkpoint_age:
        raise ConfigError(
            f"witnesses.idle_cadence ({args.witness_idle_cadence:g} s) must be shorter than "
            f"witnesses.max_checkpoint_age ({args.max_checkpoint_age:g} s): an idle log would "
            "report itself not ready"
        )
    app = args.app_factory(
        ServerOptions(
            data,
            # An HTTP worker never writes: it appends through the writer (ledger.api.workers).
            read_only=args.read_only or bool(args.worker_fds),
            max_batch=args.max_batch,
            commit_linger_s=args.commit_linger,
            max_queue=args.max_queue,
            body_timeout_s=args.body_timeout,
            clock=clock,
            marker_interval_s=args.marker_interval,
            witness_policy=Path(args.witness_policy) if args.witness_policy else None,
            witness_interval_s=args.witness_interval,
            witness_idle_cadence_s=args.witness_idle_cadence,
            witness_timeout_s=args.witness_timeout,
            require_witness_quorum=args.require_witness_quorum,
            max_checkpoint_age_s=args.max_checkpoint_age,
            backup_dir=Path(args.backup_dir) if args.backup_dir else None,
            backup_interval_s=args.backup_interval,
            backup_keep=args.backup_keep,
        )
    )
    uvicorn_options: dict[str, Any] = {
        # h11, its own 400s as problem documents too, and full tiles from memory first.
        "http": protocol_for(app),
        "log_level": args.log_level,
        "log_config": log_config(args.log_format, args.log_level),
    }
    if args.worker_fds:
        return _serve_as_worker(app, args.worker_fds, uvicorn_options)
    base = f"http://{args.host}:{args.port}"
    print(f"Serving {data.root} on {base}", flush=True)
    print(f"  checkpoint: {base}/log/checkpoint", flush=True)
    print(f"  tiles:      {base}/log/tile/0/000  (C2SP tlog-tiles)", flush=True)
    print(f"  API docs:   {base}/docs", flush=True)
    if args.workers:
        return _serve_with_workers(app, args, uvicorn_options)
    # One process: it sequences, signs and answers HTTP.
    uvicorn.run(app, host=args.host, port=args.port, workers=1, **uvicorn_options)
    return 0


def _serve_with_workers(app: Any, args: argparse.Namespace, uvicorn_options: dict[str, Any]) -> int:
    """This process sequences and signs; ``--workers`` processes answer HTTP."""
    import asyncio
    import logging.config

    from ledger.api.workers import listen_socket, run_writer

    if args.read_only:
        raise ConfigError(
            "--workers puts HTTP workers in front of the writer; for reads alone, run "
            "several 'serve --read-only' (or the static mirror) instead"
        )
    logging.config.dictConfig(uvicorn_options["log_config"])
    listen = listen_socket(args.host, args.port)
    # The workers run this same command (same settings), as workers of this process.
    command = [sys.executable, *args.program, *args.argv]
    print(f"  {args.workers} HTTP workers; this process (pid {os.getpid()}) sequences", flush=True)
    asyncio.run(run_writer(app, listen, command, args.workers))
    return 0


def _serve_as_worker(app: Any, fds: str, uvicorn_options: dict[str, Any]) -> int:
    """An HTTP worker of a ``serve --workers`` process: read-only, appending through it."""
    import socket

    import uvicorn

    from ledger.api.workers import as_worker, die_with_parent, worker_fds

    listen_fd, link_fd, parent = worker_fds(fds)
    die_with_parent(parent)
    listen = socket.socket(fileno=listen_fd)
    link = socket.socket(fileno=link_fd)
    server = uvicorn.Server(uvicorn.Config(as_worker(app, link), **uvicorn_options))
    server.run(sockets=[listen])
    return 0
