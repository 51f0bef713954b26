"""Appends through the HTTP API with the log in SQLite and in PostgreSQL: same load, same run.

    .venv/bin/python benchmarks/bench_backends.py [--entries 4000] [--warmup 300]
        [--clients 16] [--repeats 2] [--database URL]

For each backend, in turn (the order alternates between repeats), a fresh
synthetic log (``init_log(..., synthetic=True)``: no admission step, so the
storage is what differs) is served by ``python -m frontier_ledger serve`` on
127.0.0.1 (a free port, one uvicorn worker, stopped by pid afterwards):

- ``sqlite``: ``DATA/ledger.sqlite``, WAL, ``synchronous=FULL``;
- ``postgresql``: ``--database URL``: a fresh database in a throwaway cluster of
  Debian's PostgreSQL (``tests/pgserver.py``: initdb into a temporary directory on
  the same disk, default settings, so ``fsync = on``; the writer sets
  ``synchronous_commit = on``), or, with ``--database``, a new database created
  next to the one named (the URL's role must be allowed to create databases).

The load: ``--clients`` keep-alive HTTP/1.1 connections (``bench_e2e.py``'s raw
asyncio client, in this process), each posting one pre-signed synthetic DSSE
envelope at a time, until ``--entries`` envelopes (after ``--warmup`` more, not
counted) have been posted. Throughput is the counted entries over the wall time
from the first counted request to the last answer; latency is per request
(p50, p99, max). Every answer must be 201 and the tree size must have grown by
exactly the number posted. The server's group commit forms the batches (its
``/metrics`` say how many): concurrent appends share one transaction and one
fsync (SQLite) or one WAL flush (PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from _common import OUT, REPO, percentile, table, write_json
from bench_e2e import BodyPool, Server, ledger_server, run_raw, tree_size

sys.path.insert(0, str(REPO))  # tests/pgserver.py: the throwaway cluster of the tests

ORIGIN = "bench.frontier-ledger.invalid/backends"
WORK = OUT / "backends-work"
#: An upper bound on one run's load phase (a bounded loop, not a measurement).
LOAD_TIMEOUT_S = 600.0


def signed_bodies(count: int) -> list[bytes]:
    from ledger.demo.synth import synthetic_envelopes

    return [json.dumps(e).encode() for e in synthetic_envelopes(ORIGIN, count)]


def batches(server: Server) -> int:
    """Group commits made so far (``frontier_batch_size_count`` in /metrics)."""
    with urllib.request.urlopen(server.url("/metrics"), timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("frontier_batch_size_count"):
                return int(float(line.split()[-1]))
    return 0


class Databases:
    """Fresh PostgreSQL databases: in a throwaway cluster, or beside ``--database``."""

    def __init__(self, url: str | None) -> None:
        self.cluster: Any = None
        if url is None:
            from tests.pgserver import start_cluster

            self.cluster = start_cluster()
            url = self.cluster.url()
        self.admin_url = url
        self._n = 0

    def new(self) -> str:
        import psycopg

        self._n += 1
        name = f"bench_backends_{int(time.time())}_{self._n}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def drop(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()


def one_run(
    backend: str, bodies: list[bytes], warmup: int, clients: int, dbs: Databases
) -> dict[str, Any]:
    from ledger.ops.datadir import DataDir
    from ledger.write.open_log import init_log

    url = dbs.new() if backend == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix=f"{backend}-", dir=WORK) as tmp:
        data = Path(tmp) / "data"
        init_log(DataDir.at(data, database=url), ORIGIN, synthetic=True)
        server = ledger_server(backend, data, ["--database", url] if url else [])
        server.log_path = WORK / f"server-{backend}.log"
        server.start()
        try:
            if warmup:
                run_raw(server.port, BodyPool(bodies[:warmup], False), clients, _deadline())
            size0 = tree_size(server)
            batches0 = batches(server)
            t0 = time.perf_counter()
            load = run_raw(server.port, BodyPool(bodies[warmup:], False), clients, _deadline())
            wall = max(t for t, _, _ in load.done) - t0 if load.done else float("nan")
            grown = tree_size(server) - size0
            commits = batches(server) - batches0
        finally:
            server.stop()
            if url is not None:
                dbs.drop(url)
    statuses = Counter(status for _, _, status in load.done)
    lat = [dt for _, dt, _ in load.done]
    posted = len(bodies) - warmup
    if statuses != Counter({201: posted}) or grown != posted or load.errors:
        raise RuntimeError(
            f"{backend}: answers {dict(statuses)}, errors {dict(load.errors)}, "
            f"tree grew by {grown}; expected {posted} x 201"
        )
    return {
        "backend": backend,
        "entries": posted,
        "clients": clients,
        "seconds": wall,
        "entries_per_s": posted / wall,
        "p50_ms": percentile(lat, 50) * 1e3,
        "p99_ms": percentile(lat, 99) * 1e3,
        "max_ms": max(lat) * 1e3,
        "batches": commits,
        "mean_batch": posted / commits if commits else float("nan"),
    }


def _deadline() -> float:
    return time.perf_counter() + LOAD_TIMEOUT_S


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=4000, help="counted appends per run")
    ap.add_argument("--warmup", type=int, default=300, help="uncounted appends first")
    ap.add_argument("--clients", type=int, default=16, help="concurrent connections")
    ap.add_argument("--repeats", type=int, default=2, help="runs per backend (order alternates)")
    ap.add_argument(
        "--database",
        metavar="URL",
        help="an existing PostgreSQL server to use (fresh databases are created beside this "
        "one); default: a throwaway cluster of /usr/lib/postgresql/*/bin",
    )
    args = ap.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"signing {args.warmup + args.entries:,} synthetic envelopes (untimed) ...", flush=True)
    bodies = signed_bodies(args.warmup + args.entries)
    try:
        dbs = Databases(args.database)
    except Exception as exc:  # PostgreSQL missing: say so, measure nothing
        print(f"cannot run PostgreSQL here ({exc}); install it with 'make postgres'")
        return 1
    runs: list[dict[str, Any]] = []
    try:
        for rep in range(args.repeats):
            order = ("sqlite", "postgresql") if rep % 2 == 0 else ("postgresql", "sqlite")
            for backend in order:
                r = one_run(backend, bodies, args.warmup, args.clients, dbs)
                runs.append(r)
                print(
                    f"  run {rep + 1} {backend:10s} {r['entries_per_s']:8,.0f} entries/s  "
                    f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                    f"({r['batches']} commits, {r['mean_batch']:.1f} entries each)",
                    flush=True,
                )
    finally:
        dbs.close()
    summary = {}
    rows = []
    for backend in ("sqlite", "postgresql"):
        mine = [r for r in runs if r["backend"] == backend]
        best = max(mine, key=lambda r: r["entries_per_s"])
        summary[backend] = {
            "best": best,
            "median_entries_per_s": statistics.median(r["entries_per_s"] for r in mine),
            "median_p99_ms": statistics.median(r["p99_ms"] for r in mine),
        }
        rows.append(
            [
                backend,
                f"{args.entries:,}",
                args.clients,
                f"{best['entries_per_s']:,.0f}",
                f"{summary[backend]['median_entries_per_s']:,.0f}",
                f"{best['p50_ms']:.1f}",
                f"{best['p99_ms']:.1f}",
                f"{summary[backend]['median_p99_ms']:.1f}",
                f"{best['mean_batch']:.1f}",
            ]
        )
    header = ["backend", "entries", "clients", "best entries/s", "median", "p50 ms"]
    print()
    print(table(rows, [*header, "p99 ms", "median p99", "entries/commit"]))
    write_json(
        "backends",
        {
            "entries": args.entries,
            "warmup": args.warmup,
            "clients": args.clients,
            "repeats": args.repeats,
            "runs": runs,
            "summary": summary,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
