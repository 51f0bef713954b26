"""The public site under load: entry pages, the entry list and searches, small log vs 10^5.

    .venv/bin/python benchmarks/bench_site.py [--entries 100000] [--small 1000]
        [--duration 10] [--warmup 2] [--threads 2] [--connections 16] [--probe-runs 5]
        [--logs demo synthetic governed-small governed] [--loadgen wrk|python] [--rebuild]

Each log is served by a real ``frontier-ledger serve --data DIR --port P --read-only``
(uvicorn, one process) on 127.0.0.1, started and stopped by this script:

- ``demo``: the demonstration log (``ledger.demo.build.build_demo``, 66 entries),
  built afresh in a temporary directory and served with its ``--simulated-clock``;
- ``synthetic``: ``--entries`` synthetic entries (``frontier-ledger init --synthetic``
  + ``frontier-ledger synth``, cached in ``bench-out/logs/log-N/`` like the other
  benchmarks). Its entries are all of type ``synthetic`` with no search text, so
  the searches below find nothing there: they measure the empty-result path only;
- ``governed-small`` and ``governed``: ``--small`` and ``--entries`` entries of a
  governed log from ``bench_admission``'s generator (charter, 50 labs, runs through
  decisions: about 1/6 decisions, 95 % of them "approved"), appended through
  admission (``open_writer(admit=True)``, hour-grouped commits on a simulated clock)
  so every entry has its search facets and full-text row, as on a real server.
  Built once (10^5: about 2 min) and cached in ``bench-out/logs/site-governed-N/``.
  The small one is the fair reference for the large one: same generator, and its
  pages show as many entries (the demo has only 5 decisions).

Pages under load, each on its own:

- ``entry``: ``/entries/I`` for up to 256 indices spread evenly over the log (every
  entry of the demo), cycled by the load generator: decode, signers, inclusion
  proof, referrers;
- ``list``: ``/entries``, the first page (50 entries);
- ``list, middle``: ``/entries?after=SIZE/2``, a page from the middle (keyset);
- ``search``: ``/entries?type=decision&q=approved``.

Before timing, the server's first request (``/entries/1``) is timed: it includes the
read side's replay of the whole log (``LogView.catch_up``). Then for each page one
``?format=json`` fetch says how many entries it lists, a 2 s warm-up, and the
measured run: ``wrk -t2 -c16 -d10s`` (a Lua script cycling over the page's paths,
reporting p50/p99 from wrk's latency histogram); without wrk a Python
asyncio/httpx load generator (no percentiles). wrk shares the 2 cores with the
server, and the load average before each run is recorded. Then the ``PROBES``
searches (a type filter with a word that no entry of that type has, ...) are timed
one request at a time (median and worst of ``--probe-runs``): on a large log some
are too slow for a load test.

Benchmarks, not tests: figures are printed and written to ``bench-out/site.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    OUT,
    REPO,
    _schema,
    cli,
    current_schema,
    ensure_log,
    free_port,
    git_revision,
    table,
    write_json,
)
from bench_http import ensure_tool, run_python_load, run_wrk, stop, wait_ready

SEARCH = "/entries?type=decision&q=approved"
#: Searches timed one request at a time (too slow on a large log for a load test):
#: a type with a word that many entries have but none of that type, and the like.
PROBES = [
    "/entries?type=decision&q=approved",
    "/entries?type=decision&q=training",
    "/entries?type=preregistration&q=approved",
    "/entries?q=training",
]
#: Bump when the governed log's generator or build changes: the cached log is rebuilt.
GOVERNED_BUILD = "site-governed/3 (bench_verify.governed_entries, admit=True, hour commits)"
ENTRY_SAMPLE = 256
FIRST_REQUEST_TIMEOUT_S = 600


@dataclass
class Target:
    name: str
    root: Path
    size: int
    serve_args: list[str] = field(default_factory=list)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def fetch(url: str, timeout: float = 60) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return bytes(r.read())


# -- the logs ---------------------------------------------------------------------


def demo_log(tmp: Path) -> Target:
    from ledger.demo.build import build_demo

    t0 = time.perf_counter()
    result = build_demo(tmp / "demo")
    root = result.data.root
    size = result.entries + result.markers
    print(f"demo log: {size} entries, built in {time.perf_counter() - t0:.1f} s")
    return Target("demo", root, size, ["--simulated-clock", str(root / "clock")])


def synthetic_log(entries: int) -> Target:
    root = ensure_log(entries)
    return Target(f"synthetic {entries:,}", root, entries)


def _governed_cached(root: Path, entries: int) -> bool:
    marker = root / "BUILT.json"
    if not marker.exists():
        return False
    meta = json.loads(marker.read_text())
    if meta.get("build") != GOVERNED_BUILD or meta.get("size") != entries:
        return False
    if _schema(root / "ledger.sqlite") != current_schema():
        print(f"cached log {root.relative_to(REPO)} has an older database schema: rebuilding")
        return False
    return True


def governed_log(entries: int, rebuild: bool) -> Target:
    """A governed log of *entries* entries appended through admission (cached)."""
    root = OUT / "logs" / f"site-governed-{entries}"
    if not rebuild and _governed_cached(root, entries):
        return Target(f"governed {entries:,}", root, entries)

    import bench_admission as ba
    from bench_verify import GROUP_MS, MAX_BATCH, governed_entries

    from ledger.demo.build import SimulatedClock
    from ledger.ops.datadir import DataDir, WriterLock
    from ledger.write.admission import Refusal
    from ledger.write.open_log import init_log, open_writer
    from ledger.write.sequencer import prepare

    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"building a governed log of {entries:,} entries through admission in "
        f"{root.relative_to(REPO)} (cached) ...",
        flush=True,
    )
    t0 = time.perf_counter()
    gen = governed_entries(entries, 50)
    first_ms, first_env = next(gen)
    data = DataDir.at(root)
    init_log(data, ba.ORIGIN, created_at_ms=first_ms)
    clock = SimulatedClock(first_ms)
    lock = WriterLock(data)
    lock.acquire()
    written = 0
    refused: list[str] = []
    try:
        writer = open_writer(data, admit=True, clock=clock)
        try:
            pending: list[tuple[int, dict[str, Any]]] = [(first_ms, first_env)]
            report_at = 10_000

            def flush() -> None:
                nonlocal written, report_at
                clock.ms = pending[-1][0]
                results = writer.commit([prepare(env) for _, env in pending], receipts=False)
                refused.extend(r.message for r in results if isinstance(r, Refusal))
                written += len(pending)
                pending.clear()
                if written >= report_at:
                    print(f"  {written:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
                    report_at += 10_000

            for ms, env in gen:
                if pending and (
                    ms // GROUP_MS != pending[-1][0] // GROUP_MS or len(pending) >= MAX_BATCH
                ):
                    flush()
                pending.append((ms, env))
            flush()
        finally:
            writer.store.close()
    finally:
        lock.release()
    if refused:
        raise RuntimeError(f"{len(refused)} entries refused, first: {refused[0]}")
    build_s = time.perf_counter() - t0
    (root / "BUILT.json").write_text(
        json.dumps(
            {"build": GOVERNED_BUILD, "size": entries, "build_s": build_s, "code": git_revision()}
        )
        + "\n"
    )
    print(f"  built in {build_s:.0f} s")
    return Target(f"governed {entries:,}", root, entries)


# -- serving and loading ----------------------------------------------------------


def pages(size: int) -> list[tuple[str, list[str]]]:
    step = max(1, size // ENTRY_SAMPLE)
    entries = [f"/entries/{i}" for i in range(0, size, step)][:ENTRY_SAMPLE]
    return [
        ("entry", entries),
        ("list", ["/entries"]),
        ("list, middle", [f"/entries?after={size // 2}"]),
        ("search", [SEARCH]),
    ]


def listed(base: str, path: str) -> int | None:
    """How many entries a list page shows (from its JSON twin); None for other pages."""
    if not path.startswith("/entries?") and path != "/entries":
        return None
    sep = "&" if "?" in path else "?"
    return len(json.loads(fetch(base + path + sep + "format=json"))["entries"])


@dataclass
class Load:
    wrk: str | None
    seconds: float
    warmup: float
    threads: int
    connections: int

    def run(self, base: str, paths: list[str], tmp: Path) -> dict[str, Any]:
        r: dict[str, Any] = {}
        for seconds in (self.warmup, self.seconds):  # warm-up, then the measured run
            before = loadavg()
            if self.wrk:
                r = run_wrk(
                    self.wrk,
                    base,
                    "",
                    paths,
                    seconds=seconds,
                    threads=self.threads,
                    connections=self.connections,
                    tmp=tmp,
                )
            else:
                r = run_python_load(base, "", paths, seconds, self.connections)
            r["loadavg_before"] = before
        return r


@contextlib.contextmanager
def serve(target: Target, tmp: Path) -> Iterator[tuple[str, float]]:
    """Start ``frontier-ledger serve`` on *target*; yield (base URL, first request s)."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    proc = subprocess.Popen(
        [
            cli(),
            "serve",
            "--data",
            str(target.root),
            "--port",
            str(port),
            "--read-only",
            *target.serve_args,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/log/checkpoint", proc, "frontier-ledger serve", timeout=120)
        t0 = time.perf_counter()
        fetch(base + "/entries/1", timeout=FIRST_REQUEST_TIMEOUT_S)
        yield base, time.perf_counter() - t0
    finally:
        stop(proc)
        if proc.returncode not in (0, -15):
            print(f"  server exited {proc.returncode}; log tail:\n{log.read_text()[-2000:]}")


def probe(base: str, path: str, runs: int) -> dict[str, Any]:
    """One request at a time: median and worst of *runs* (after one unmeasured request)."""
    fetch(base + path, timeout=FIRST_REQUEST_TIMEOUT_S)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fetch(base + path, timeout=FIRST_REQUEST_TIMEOUT_S)
        times.append(time.perf_counter() - t0)
    return {
        "rows": listed(base, path),
        "median_ms": statistics.median(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "runs": runs,
    }


def measure(target: Target, load: Load, tmp: Path, probe_runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {"size": target.size, "pages": {}, "probes": {}}
    with serve(target, tmp) as (base, first_s):
        out["first_request_s"] = first_s
        print(
            f"{target.name}: first request (replays the log) {first_s:.2f} s; "
            f"load average {' '.join(map(str, loadavg()))}",
            flush=True,
        )
        for name, paths in pages(target.size):
            rows = listed(base, paths[0])
            html = len(fetch(base + paths[0]))
            r = load.run(base, paths, tmp)
            r.update({"paths": len(paths), "example": paths[0], "rows": rows, "html_bytes": html})
            out["pages"][name] = r
            p99 = f", p99 {r['p99_ms']:.1f} ms" if "p99_ms" in r else ""
            print(
                f"  {name:13} {paths[0]:38} {r['rps']:7,.0f} req/s{p99}, "
                f"{r['errors']} errors (load avg before: {r['loadavg_before'][0]})",
                flush=True,
            )
        for path in PROBES:
            r = probe(base, path, probe_runs)
            out["probes"][path] = r
            print(
                f"  one at a time {path:38} median {r['median_ms']:8.1f} ms, "
                f"worst {r['max_ms']:8.1f} ms, {r['rows']} entries shown",
                flush=True,
            )
    return out


def ratios_against(results: dict[str, Any], ref: str, logs: list[str]) -> dict[str, Any]:
    """Per page: requests/s of *ref* / of each log (slowdown), p99 of the log / of *ref*."""
    base = results["logs"][ref]
    out: dict[str, Any] = {}
    print(f"\nAgainst {ref} (requests/s and p99 as multiples of {ref}'s; 1.0 = no slowdown)")
    for log in logs:
        r = results["logs"][log]
        out[log] = {}
        for page, p in r["pages"].items():
            d = base["pages"][page]
            ratio = {"rps_slowdown": d["rps"] / p["rps"]}
            if "p99_ms" in p and d.get("p99_ms"):
                ratio["p99_ratio"] = p["p99_ms"] / d["p99_ms"]
            out[log][page] = ratio
            p99 = f", p99 x{ratio['p99_ratio']:.2f}" if "p99_ratio" in ratio else ""
            rows = f"{d['rows']} -> {p['rows']} entries shown" if p["rows"] is not None else ""
            print(f"  {log:18} {page:13} requests/s x{1 / ratio['rps_slowdown']:.2f}{p99}  {rows}")
        for path, p in r["probes"].items():
            d = base["probes"][path]
            out[log][path] = {"median_ratio": p["median_ms"] / d["median_ms"]}
            print(
                f"  {log:18} one at a time {path}: x{p['median_ms'] / d['median_ms']:.1f} "
                f"({d['median_ms']:.1f} -> {p['median_ms']:.1f} ms)"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=1000, help="size of the small governed log")
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--probe-runs", type=int, default=5)
    kinds = ["demo", "synthetic", "governed-small", "governed"]
    ap.add_argument("--logs", nargs="+", choices=kinds, default=kinds)
    ap.add_argument("--loadgen", choices=["wrk", "python"], default="wrk")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached governed logs")
    args = ap.parse_args(argv)

    wrk = ensure_tool("wrk", "wrk") if args.loadgen == "wrk" else None
    if args.loadgen == "wrk" and not wrk:
        print("wrk is unavailable: falling back to the Python load generator (no p99)")
    load = Load(wrk, args.duration, args.warmup, args.threads, args.connections)
    results: dict[str, Any] = {
        "loadgen": "wrk" if wrk else "python (asyncio + httpx)",
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "threads": args.threads,
        "connections": args.connections,
        "search": SEARCH,
        "probes": PROBES,
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "logs": {},
    }
    print(f"load average at start: {' '.join(map(str, results['loadavg_start']))}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp_s:
        tmp = Path(tmp_s)
        targets = []
        for kind in args.logs:
            if kind == "demo":
                targets.append(demo_log(tmp))
            elif kind == "synthetic":
                targets.append(synthetic_log(args.entries))
            elif kind == "governed-small":
                targets.append(governed_log(args.small, args.rebuild))
            else:
                targets.append(governed_log(args.entries, args.rebuild))
        for target in targets:
            results["logs"][target.name] = measure(target, load, tmp, args.probe_runs)
    results["loadavg_end"] = loadavg()

    rows = []
    for log, r in results["logs"].items():
        for page, p in r["pages"].items():
            rows.append(
                [
                    log,
                    page,
                    "" if p["rows"] is None else p["rows"],
                    f"{p['rps']:,.0f}",
                    f"{p['p50_ms']:.1f}" if "p50_ms" in p else "-",
                    f"{p['p99_ms']:.1f}" if "p99_ms" in p else "-",
                    p["errors"],
                    p["loadavg_before"][0],
                ]
            )
    print()
    print(
        table(
            rows,
            ["log", "page", "entries shown", "requests/s", "p50 ms", "p99 ms", "errors", "load"],
        )
    )
    names = list(results["logs"])
    if "demo" in names:
        results["vs_demo"] = ratios_against(results, "demo", [n for n in names if n != "demo"])
    small, large = f"governed {args.small:,}", f"governed {args.entries:,}"
    if small in names and large in names:
        # Same generator, same number of entries shown: only the log's size differs.
        results["vs_small_governed"] = ratios_against(results, small, [large])
    print(
        f"\nload average at start {' '.join(map(str, results['loadavg_start']))}, "
        f"at end {' '.join(map(str, results['loadavg_end']))} ({os.cpu_count()} cores; "
        "wrk and the server share them)"
    )
    write_json("site", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
