"""Durable appends in process: LogWriter.commit with group commit, as the server does it.

    .venv/bin/python benchmarks/bench_append.py [--seconds S] [--sizes 1,16,256]
        [--repeats R] [--onto 1000000,10000000] [--profile] [--interleave N]

For each batch size, a fresh log is created (``init_log`` in a temporary
directory under bench-out/, on the same disk as the repository, so fsync is
real) and opened with ``open_writer``. Entries are signed
(``synthetic_envelopes``) and checked (``sequencer.prepare``) beforehand; only
``LogWriter.commit(batch, receipts=True)`` is timed: dedup lookup, leaf
encoding and hashing, tile update, checkpoint signing, SQLite writes, COMMIT
with ``synchronous=FULL`` (fsync of the WAL), and one receipt with an
inclusion proof per entry. The first few commits of each run are warm-up.

Each batch size runs ``--repeats`` times on fresh logs; the table shows the
run with the best throughput (and its latencies), the JSON has every run. An
extra row times batch 256 with ``receipts=False`` (the bulk-load path of
``frontier-ledger synth``) to show what the receipts cost. ``--profile``
runs batch 256 once more under cProfile and prints the top functions.

``--onto`` (default 10^6 and 10^7) also appends batches of 256 onto a copy of
the cached synthetic log of that many entries (bench-out/logs/, built with
``frontier-ledger synth`` if missing), in the same run: the copy is made once
per size and the ``--repeats`` runs follow each other on it (each adds a few
thousand entries to millions), then it is deleted. Every commit includes the
search index write that follows it (``ledger/write/indexer.py``).

``--interleave N`` measures only batch 256 on a new log against batch 256 onto a
copy of the cached log of N entries, the runs alternating (new, onto, onto,
new, ...; ``--repeats`` pairs), for a machine whose load swings: the ratio of
the medians is the figure.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ORIGIN, OUT, ensure_log, new_log, percentile, table, write_json

from ledger.demo.synth import synthetic_envelopes
from ledger.ops.datadir import DataDir
from ledger.storage import sqlite as sqlite_store
from ledger.write import sequencer
from ledger.write.open_log import open_writer
from ledger.write.sequencer import PreparedEntry, prepare

TARGET_LEAVES_PER_S = 20_000
WARMUP_BATCHES = 3


def make_entries(count: int) -> list[PreparedEntry]:
    return [prepare(e) for e in synthetic_envelopes(ORIGIN, count)]


def log_in(tmp: str, base: Path | None) -> DataDir:
    """A fresh empty log in *tmp*, or a copy of the log at *base*."""
    data = DataDir.at(f"{tmp}/log")
    if base is None:
        new_log(data)
    else:
        shutil.copytree(base, data.root)
    return data


def calibrate(batch: int) -> float:
    """Seconds for one commit of *batch* entries on a throwaway log (rough)."""
    entries = make_entries(batch * 8)
    with tempfile.TemporaryDirectory(prefix="append-tmp-", dir=OUT) as tmp:
        data = DataDir.at(f"{tmp}/log")
        new_log(data)
        writer = open_writer(data)
        try:
            writer.commit(entries[:batch])
            t0 = time.perf_counter()
            for i in range(1, 8):
                writer.commit(entries[i * batch : (i + 1) * batch])
            return (time.perf_counter() - t0) / 7
        finally:
            writer.store.close()


def run(
    entries: list[PreparedEntry],
    batch: int,
    *,
    receipts: bool = True,
    profiler: cProfile.Profile | None = None,
    base: Path | None = None,
) -> dict[str, Any]:
    if base is not None:
        return _run_on(base, entries, batch, receipts, profiler)
    with tempfile.TemporaryDirectory(prefix="append-tmp-", dir=OUT) as tmp:
        return _run_on(log_in(tmp, None).root, entries, batch, receipts, profiler)


def _run_on(
    root: Path,
    entries: list[PreparedEntry],
    batch: int,
    receipts: bool,
    profiler: cProfile.Profile | None,
) -> dict[str, Any]:
    nbatches = len(entries) // batch
    writer = open_writer(DataDir.at(root))
    start = writer.store.head().size
    try:
        pragmas = writer.store.conn_pragmas()
        lat: list[float] = []
        for b in range(nbatches):
            chunk = entries[b * batch : (b + 1) * batch]
            if profiler and b >= WARMUP_BATCHES:
                profiler.enable()
            t = time.perf_counter()
            out = writer.commit(chunk, receipts=receipts)
            dt = time.perf_counter() - t
            if profiler:
                profiler.disable()
            if len(out) != (len(chunk) if receipts else 0):
                raise RuntimeError("commit returned the wrong number of receipts")
            if b >= WARMUP_BATCHES:
                lat.append(dt)
        size = writer.store.head().size
    finally:
        writer.store.close()
    if size != start + nbatches * batch:
        raise RuntimeError(f"log has {size} entries, expected {start + nbatches * batch}")
    elapsed = sum(lat)
    timed = len(lat) * batch
    third = len(lat) // 3
    by_third = (
        [third * batch / sum(lat[i * third : (i + 1) * third]) for i in range(3)] if third else []
    )
    return {
        "batch": batch,
        "initial_size": start,
        "receipts": receipts,
        "batches": len(lat),
        "entries": timed,
        "elapsed_s": elapsed,
        "leaves_per_s": timed / elapsed,
        "p50_ms": percentile(lat, 50) * 1e3,
        "p99_ms": percentile(lat, 99) * 1e3,
        "max_ms": max(lat) * 1e3,
        "leaves_per_s_by_third": by_third,  # the log grows during the run
        "pragmas": pragmas,
    }


def best_run(
    entries: list[PreparedEntry],
    batch: int,
    repeats: int,
    *,
    receipts: bool = True,
    base: Path | None = None,
) -> dict[str, Any]:
    if base is None:
        runs = [run(entries, batch, receipts=receipts) for _ in range(repeats)]
    else:
        # On one copy of a large log the runs follow each other (fresh envelopes each
        # time: a resubmission would only return its receipt).
        n = len(entries) // repeats
        runs = [
            run(entries[k * n : (k + 1) * n], batch, receipts=receipts, base=base)
            for k in range(repeats)
        ]
    best = max(runs, key=lambda r: r["leaves_per_s"])
    return {
        **best,
        "repeats": repeats,
        "all_leaves_per_s": [r["leaves_per_s"] for r in runs],
        "median_leaves_per_s": statistics.median(r["leaves_per_s"] for r in runs),
    }


def interleaved(size: int, seconds: float, repeats: int) -> dict[str, Any]:
    """Batch 256 on a new log and onto a copy of the cached log of *size* entries, the
    runs alternating (new, onto, onto, new, ...), so that a machine whose load swings
    during the benchmark weighs on both alike. Fresh envelopes for every run."""
    base = ensure_log(size)
    per_commit = calibrate(256)
    nbatches = max(20, min(5000, int(seconds / per_commit))) + WARMUP_BATCHES
    per_run = nbatches * 256
    print(f"interleaved: {repeats} x 2 runs of {nbatches} commits of 256 ...", flush=True)
    entries = make_entries(2 * repeats * per_run)
    chunks = iter(entries[k * per_run : (k + 1) * per_run] for k in range(2 * repeats))
    new: list[dict[str, Any]] = []
    onto: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="append-tmp-", dir=OUT) as tmp:
        copy = log_in(tmp, base).root
        for k in range(repeats):
            order = ("new", "onto") if k % 2 == 0 else ("onto", "new")
            for which in order:
                if which == "new":
                    new.append(run(next(chunks), 256))
                else:
                    onto.append(run(next(chunks), 256, base=copy))
                last = (new if which == "new" else onto)[-1]
                print(f"  {which}: {last['leaves_per_s']:,.0f} leaves/s", flush=True)
    med_new = statistics.median(r["leaves_per_s"] for r in new)
    med_onto = statistics.median(r["leaves_per_s"] for r in onto)
    return {
        "size": size,
        "new_leaves_per_s": [r["leaves_per_s"] for r in new],
        "onto_leaves_per_s": [r["leaves_per_s"] for r in onto],
        "onto_initial_sizes": [r["initial_size"] for r in onto],
        "new_p50_p99_ms": [(r["p50_ms"], r["p99_ms"]) for r in new],
        "onto_p50_p99_ms": [(r["p50_ms"], r["p99_ms"]) for r in onto],
        "median_ratio": med_onto / med_new,
        "best_ratio": max(r["leaves_per_s"] for r in onto) / max(r["leaves_per_s"] for r in new),
    }


def profile(entries: list[PreparedEntry], batch: int) -> str:
    prof = cProfile.Profile()
    r = run(entries, batch, profiler=prof)
    buf = io.StringIO()
    buf.write(
        f"cProfile of {r['batches']} commits of {batch} (receipts=True), "
        f"{r['leaves_per_s']:,.0f} leaves/s under the profiler\n"
    )
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(15)
    st.sort_stats("cumulative").print_stats("ledger|verifier|sqlite", 20)
    return buf.getvalue()


class _TimedConnection:
    """Wraps the writer's sqlite3 connection to time COMMIT (the fsync with synchronous=FULL)."""

    def __init__(self, conn: Any, totals: collections.Counter[str]) -> None:
        self._conn = conn
        self._totals = totals
        self.paused = False

    def execute(self, sql: str, *args: Any) -> Any:
        if sql != "COMMIT" or self.paused:
            return self._conn.execute(sql, *args)
        t = time.perf_counter()
        try:
            return self._conn.execute(sql, *args)
        finally:
            self._totals["sqlite COMMIT (WAL write + fsync)"] += time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextlib.contextmanager
def _timing(targets: list[tuple[Any, str, str]], totals: collections.Counter[str]) -> Any:
    """Temporarily wrap functions so their wall time adds up in *totals*."""
    saved = [(obj, name, obj.__dict__[name]) for obj, name, _ in targets]

    def wrap(fn: Any, key: str) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                totals[key] += time.perf_counter() - t

        return timed

    try:
        for obj, name, key in targets:
            setattr(obj, name, wrap(getattr(obj, name), key))
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)


def breakdown(
    entries: list[PreparedEntry], batch: int, root: Path | None = None
) -> dict[str, float]:
    """Wall time per leaf of each step of LogWriter.commit, without a profiler.

    Wraps the functions commit calls (module globals and methods) with timers;
    the overhead is a few function calls per step. Internal names: if they
    change, this prints that the breakdown is unavailable.
    """
    totals: collections.Counter[str] = collections.Counter()
    targets = [
        (sequencer, "encode_leaf", "encode_leaf"),
        (sequencer, "leaf_hashes", "leaf_hashes"),
        (sequencer.TreeEdge, "append", "TreeEdge.append (tiles)"),
        (sequencer.TreeEdge, "root", "TreeEdge.root"),
        (sequencer.LogWriter, "sign_checkpoint", "sign_checkpoint (Ed25519)"),
        (sequencer.LogWriter, "_receipts", "receipts (one inclusion proof each)"),
        (sqlite_store._SqliteTx, "find_envelopes", "sqlite find_envelopes (dedup)"),
        (sqlite_store._SqliteTx, "insert_entries", "sqlite insert_entries"),
        (sqlite_store._SqliteTx, "put_tiles", "sqlite put_tiles"),
        (sqlite_store._SqliteTx, "put_checkpoint", "sqlite put_checkpoint"),
    ]
    nbatches = len(entries) // batch
    with tempfile.TemporaryDirectory(prefix="append-tmp-", dir=OUT) as tmp:
        writer = open_writer(DataDir.at(root) if root is not None else log_in(tmp, None))
        store = writer.store
        conn = store._writer
        timed_conn = _TimedConnection(conn, totals)
        store._writer = timed_conn  # type: ignore[assignment]
        index = writer.indexer.after_commit

        def after_commit(rows: Any) -> None:
            # The index's own COMMIT (no fsync) is part of this step, not of the log's.
            timed_conn.paused = True
            t = time.perf_counter()
            try:
                index(rows)
            finally:
                totals["search index write (after COMMIT)"] += time.perf_counter() - t
                timed_conn.paused = False

        writer.indexer.after_commit = after_commit  # type: ignore[method-assign]
        try:
            with _timing(targets, totals):
                for b in range(WARMUP_BATCHES):
                    writer.commit(entries[b * batch : (b + 1) * batch])
                totals.clear()
                t0 = time.perf_counter()
                for b in range(WARMUP_BATCHES, nbatches):
                    writer.commit(entries[b * batch : (b + 1) * batch])
                elapsed = time.perf_counter() - t0
        finally:
            store._writer = conn
            store.close()
    n = (nbatches - WARMUP_BATCHES) * batch
    out = {k: v / n * 1e6 for k, v in totals.most_common()}
    out["rest of commit()"] = (elapsed - sum(totals.values())) / n * 1e6
    out["total"] = elapsed / n * 1e6
    return out


def print_breakdown(title: str, parts: dict[str, float]) -> None:
    total = parts["total"]
    print(f"\n{title} ({1e6 / total:,.0f} leaves/s in that run):")
    for key, us in parts.items():
        if key != "total":
            print(f"  {key:40s} {us:6.1f} µs/leaf  {us / total * 100:5.1f}%")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="target time per run")
    ap.add_argument("--sizes", default="1,16,256")
    ap.add_argument("--repeats", type=int, default=3, help="fresh-log runs per batch size")
    ap.add_argument(
        "--onto",
        default="1000000,10000000",
        help="also append batches of 256 onto a copy of the cached log of each of these "
        "sizes (built with frontier-ledger synth if missing; 0 to skip)",
    )
    ap.add_argument("--profile", action="store_true", help="cProfile batch 256 afterwards")
    ap.add_argument(
        "--interleave",
        type=int,
        metavar="N",
        help="only compare batch 256 on a new log and onto the cached log of N entries, "
        "runs alternating (--repeats pairs); writes bench-out/append_interleaved.json",
    )
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    if args.interleave:
        r = interleaved(args.interleave, args.seconds, args.repeats)
        print(
            f"onto {args.interleave:,} / new log: median {r['median_ratio']:.2f}, "
            f"best {r['best_ratio']:.2f} (target ≥ 0.8)"
        )
        write_json("append_interleaved", r)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]

    results: dict[str, Any] = {
        "target_leaves_per_s_at_256": TARGET_LEAVES_PER_S,
        "warmup_batches": WARMUP_BATCHES,
        "runs": [],
    }
    onto = [int(n) for n in str(args.onto).split(",") if int(n)] if 256 in sizes else []
    bases = {n: ensure_log(n) for n in onto}
    plan: list[tuple[int, bool, Path | None]] = [(b, True, None) for b in sizes]
    if 256 in sizes:
        plan.append((256, False, None))
        plan += [(256, True, bases[n]) for n in onto]
    cache: dict[int, list[PreparedEntry]] = {}
    cache_extra: dict[str, list[PreparedEntry]] = {}
    onto_parts: dict[int, dict[str, float]] = {}
    for batch, receipts, base in plan:
        if batch not in cache:
            per_commit = calibrate(batch)
            nbatches = max(20, min(5000, int(args.seconds / per_commit))) + WARMUP_BATCHES
            print(
                f"batch {batch}: ~{per_commit * 1e3:.1f} ms/commit -> {nbatches} commits "
                f"of {batch} per run, signing {nbatches * batch:,} entries (untimed) ...",
                flush=True,
            )
            cache[batch] = make_entries(nbatches * batch)
        entries = cache[batch]
        if base is None:
            r = best_run(entries, batch, args.repeats, receipts=receipts)
        else:
            if "onto" not in cache_extra:
                # The runs on one copy each need entries of their own, as many as a fresh
                # run, and the breakdown after them half as many again.
                more = make_entries(len(entries) * (args.repeats - 1) + len(entries) // 2)
                cache_extra["onto"] = entries + more
            entries = cache_extra["onto"]
            n = len(cache[batch]) * args.repeats
            print(f"batch {batch} onto a copy of {base.relative_to(OUT.parent)} ...", flush=True)
            with tempfile.TemporaryDirectory(prefix="append-tmp-", dir=OUT) as tmp:
                t0 = time.perf_counter()
                copy = log_in(tmp, base).root
                print(f"  copied in {time.perf_counter() - t0:.0f} s", flush=True)
                r = best_run(entries[:n], batch, args.repeats, receipts=receipts, base=copy)
                try:
                    onto_parts[r["initial_size"]] = breakdown(entries[n:], batch, copy)
                except (AttributeError, KeyError) as exc:
                    print(f"(breakdown unavailable: internals changed: {exc})")
        results["runs"].append(r)
        runs = ", ".join(f"{x:,.0f}" for x in r["all_leaves_per_s"])
        thirds = " / ".join(f"{x:,.0f}" for x in r["leaves_per_s_by_third"])
        print(
            f"  receipts={receipts}: best {r['leaves_per_s']:,.0f} leaves/s (runs: {runs}), "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms; best run by thirds: {thirds}",
            flush=True,
        )
    print(f"\nSQLite pragmas on the writer: {results['runs'][0]['pragmas']} (2 = FULL)\n")
    rows = [
        [
            r["batch"],
            "yes" if r["receipts"] else "no (bulk)",
            f"{r['initial_size']:,}",
            f"{r['entries']:,}",
            f"{r['leaves_per_s']:,.0f}",
            f"{r['median_leaves_per_s']:,.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        ]
        for r in results["runs"]
    ]
    header = ["batch", "receipts", "log before", "entries/run", "best leaves/s", "median"]
    print(table(rows, [*header, "p50 ms", "p99 ms"]))
    at256 = next(
        (
            r
            for r in results["runs"]
            if r["batch"] == 256 and r["receipts"] and not r["initial_size"]
        ),
        None,
    )
    if at256:
        ok = at256["leaves_per_s"] >= TARGET_LEAVES_PER_S
        print(
            f"\nbatch 256 on a new log: best {at256['leaves_per_s']:,.0f} leaves/s, median "
            f"{at256['median_leaves_per_s']:,.0f} "
            f"({'meets' if ok else 'MISSES'} the target ≥ {TARGET_LEAVES_PER_S:,})"
        )
        try:
            parts = {"new log": breakdown(cache[256], 256)}
            parts |= {f"onto {n:,}": p for n, p in sorted(onto_parts.items())}
        except (AttributeError, KeyError) as exc:
            print(f"\n(breakdown unavailable: internals changed: {exc})")
        else:
            results["breakdown_256_us_per_leaf"] = parts
            for name, p in parts.items():
                print_breakdown(f"where the time goes at batch 256, {name} (timers per step)", p)
        if args.profile:
            text = profile(cache[256], 256)
            print("\n" + text)
            (OUT / "append-profile.txt").write_text(text)
    write_json("append", results)
    return 0


if __name__ == "__main__":
    # Leftovers of an interrupted run (TemporaryDirectory cleans up normal exits).
    for stale in OUT.glob("append-tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    sys.exit(main())
