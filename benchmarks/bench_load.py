"""Load and soak: appends and reads at the same time against one ``frontier-ledger serve``.

    .venv/bin/python benchmarks/bench_load.py [--seconds 240] [--append-clients 16]
        [--prefill 10000] [--max-queue 4096] [--database postgresql://…]

One server on 127.0.0.1 (a synthetic log prefilled with ``--prefill`` entries so
reads hit real tiles and pages), for ``--seconds`` (at most 300):

- appends: ``--append-clients`` closed-loop HTTP/1.1 clients posting pre-signed
  envelopes (the raw asyncio client of bench_e2e.py, so the cores go to the
  server);
- reads, at the same time, by wrk (Debian's): a full level-0 tile
  (``/log/tile/0/000``), an entry with its receipt (``/api/v1/entries/N``) and a
  site page (``/entries/N``), one wrk process each (1 thread, 4 connections);
- the server's resident memory (VmRSS, /proc) sampled every 2 s.

Reported: append throughput and p50/p99, read throughput and p99 per URL,
responses by status (503 with Retry-After is the expected pushback when the
sequencer queue is full; anything else is an error), the tree size against the
201 count (nothing acknowledged is missing), and the RSS curve: first and last
fifth of the run and the least-squares slope in MiB per minute (after a 20 s
warm-up). JSON to bench-out/load.json, the curve to bench-out/load-rss.csv.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import ORIGIN, OUT, percentile, table, write_json
from bench_e2e import BodyPool, Server, build_synthetic, ledger_server, run_raw, tree_size

WARMUP_S = 20.0
SAMPLE_S = 2.0


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, t0: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.t0 = pid, t0
        self.samples: list[tuple[float, float]] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            v = rss_mib(self.pid)
            if v is not None:
                self.samples.append((time.perf_counter() - self.t0, v))
            self.stop_event.wait(SAMPLE_S)


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    xs = [t for t, _ in samples]
    ys = [v for _, v in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def parse_wrk(text: str) -> dict[str, Any]:
    def ms(value: str) -> float:
        n = float(re.match(r"[\d.]+", value).group())  # type: ignore[union-attr]
        return n * {"us": 0.001, "ms": 1.0, "s": 1000.0}[re.sub(r"[\d.]", "", value)]

    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    for p in ("50", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", text, re.M)
        out[f"p{p}_ms"] = ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", text)
    out["socket_errors"] = m.group(0) if m else ""
    return out


def signed_bodies(count: int) -> list[bytes]:
    import orjson

    from ledger.demo.synth import synthetic_envelopes

    return [orjson.dumps(e) for e in synthetic_envelopes(ORIGIN, count, start=10_000_000)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--append-clients", type=int, default=16)
    ap.add_argument("--prefill", type=int, default=10_000)
    ap.add_argument("--max-queue", type=int, default=4096)
    ap.add_argument(
        "--database", help="an empty PostgreSQL database to keep the log in (default: SQLite)"
    )
    ap.add_argument(
        "--postgresql",
        action="store_true",
        help="keep the log in a throwaway PostgreSQL cluster (Debian's, as the tests run it)",
    )
    ap.add_argument(
        "--no-reads",
        action="store_true",
        help="appends only (to tell memory per entry from per request)",
    )
    args = ap.parse_args(argv)
    seconds = min(args.seconds, 300.0)
    wrk = None if args.no_reads else shutil.which("wrk")
    if wrk is None and not args.no_reads:
        print("bench_load: wrk not found (apt-get install wrk); reads are not loaded")
    work = OUT / "load"
    data = work / "data"
    print(f"building a synthetic log with {args.prefill} entries in {data} …", flush=True)
    databases = None
    if args.postgresql:
        from bench_backends import Databases

        databases = Databases(None)  # a throwaway Debian PostgreSQL cluster on loopback
        args.database = databases.new()
    db = ["--database", args.database] if args.database else []
    if args.database:
        shutil.rmtree(data, ignore_errors=True)
        init_cmd = [sys.executable, "-m", "frontier_ledger", "init", "--data", str(data), *db]
        init_cmd += ["--origin", ORIGIN, "--synthetic"]
        subprocess.run(
            init_cmd,
            check=True,
            capture_output=True,
        )
    else:
        build_synthetic(data, ORIGIN)
    if args.prefill:
        synth = [sys.executable, "-m", "frontier_ledger", "synth", "--data", str(data), *db]
        subprocess.run(
            [*synth, "--count", str(args.prefill)],
            check=True,
            capture_output=True,
        )
    # Enough bodies for the fastest append rate seen here, so clients never run dry.
    bodies = signed_bodies(int(seconds * 1500) + 10_000)
    extra = ["--max-queue", str(args.max_queue), *db]
    server: Server = ledger_server("load", data, extra)
    server.start()
    size0 = tree_size(server)
    t0 = time.perf_counter()
    sampler = RssSampler(server.pid, t0)
    sampler.start()
    index = args.prefill // 2
    urls = {
        "tile": "/log/tile/0/000",
        "entry_api": f"/api/v1/entries/{index}",
        "entry_page": f"/entries/{index}",
    }
    wrks: dict[str, subprocess.Popen[str]] = {}
    if wrk is not None:
        for name, path in urls.items():
            wrks[name] = subprocess.Popen(
                [wrk, "-t1", "-c4", f"-d{int(seconds)}s", "--latency", server.url(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
    try:
        load = run_raw(
            server.port,
            BodyPool(bodies, reuse=False),
            args.append_clients,
            time.perf_counter() + seconds,
        )
        reads = {
            name: parse_wrk(p.communicate(timeout=seconds + 60)[0]) for name, p in wrks.items()
        }
        size1 = tree_size(server)
    finally:
        sampler.stop_event.set()
        sampler.join(timeout=5)
        for p in wrks.values():
            if p.poll() is None:
                p.kill()
        server.stop()
        if databases is not None:
            databases.close()
    statuses = Counter(status for _, _, status in load.done)
    lat = [dt * 1000 for _, dt, status in load.done if status == 201]
    span = max(t for t, _, _ in load.done) - min(t for t, _, _ in load.done) if load.done else 0
    acked = statuses.get(201, 0)
    errors = sum(n for s, n in statuses.items() if s not in (201, 503)) + sum(load.errors.values())
    curve = [(t, v) for t, v in sampler.samples if t >= WARMUP_S]
    fifth = max(1, len(curve) // 5)
    first = statistics.median(v for _, v in curve[:fifth]) if curve else float("nan")
    last = statistics.median(v for _, v in curve[-fifth:]) if curve else float("nan")
    result = {
        "seconds": seconds,
        "append_clients": args.append_clients,
        "backend": "postgresql" if args.database else "sqlite",
        "appends": {
            "acknowledged": acked,
            "per_s": acked / span if span else 0,
            "p50_ms": percentile(lat, 50) if lat else None,
            "p99_ms": percentile(lat, 99) if lat else None,
            "statuses": dict(statuses),
            "transport_errors": dict(load.errors),
        },
        "reads": reads,
        "tree_grew_by": size1 - size0,
        "errors": errors,
        "rss_mib": {
            "first_fifth": first,
            "last_fifth": last,
            "max": max((v for _, v in sampler.samples), default=float("nan")),
            "slope_mib_per_min": slope_mib_per_min(curve),
        },
        "rss_curve": sampler.samples,
    }
    OUT.mkdir(exist_ok=True)
    name = (
        "load"
        + ("-postgresql" if args.database else "")
        + ("-appends-only" if args.no_reads else "")
        + ("-reads-only" if args.append_clients == 0 else "")
    )
    csv = OUT / f"{name}-rss.csv"
    csv.write_text("seconds,rss_mib\n" + "".join(f"{t:.1f},{v:.1f}\n" for t, v in sampler.samples))
    path = write_json(name, result)
    a = result["appends"]
    rows = [
        [
            "appends (POST)",
            f"{a['per_s']:.0f}/s",
            f"{a['p50_ms']:.1f}" if a["p50_ms"] is not None else "-",
            f"{a['p99_ms']:.1f}" if a["p99_ms"] is not None else "-",
        ],
        *[
            [
                f"reads {name} (wrk)",
                f"{r['rps']:.0f}/s" if r["rps"] else "-",
                f"{r['p50_ms']:.1f}" if r["p50_ms"] else "-",
                f"{r['p99_ms']:.1f}" if r["p99_ms"] else "-",
            ]
            for name, r in reads.items()
        ],
    ]
    print(table(rows, ["load", "throughput", "p50 ms", "p99 ms"]))
    print(f"append statuses: {dict(statuses)}; transport errors: {dict(load.errors)}")
    print(f"read non-2xx: { {n: r['non_2xx'] for n, r in reads.items()} }")
    print(f"tree grew by {size1 - size0}; 201 answers: {acked} (must be equal)")
    rss = result["rss_mib"]
    print(
        f"server RSS: {rss['first_fifth']:.1f} MiB (first fifth) -> {rss['last_fifth']:.1f} MiB "
        f"(last fifth), max {rss['max']:.1f}, slope {rss['slope_mib_per_min']:+.2f} MiB/min"
    )
    print(f"wrote {path} and {csv}")
    ok = errors == 0 and size1 - size0 == acked and all(r["non_2xx"] == 0 for r in reads.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
