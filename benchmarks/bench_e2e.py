"""End-to-end appends over HTTP: 16 concurrent clients against ``frontier-ledger serve``.

    .venv/bin/python benchmarks/bench_e2e.py [--duration 15] [--warmup 2] [--clients 16]
        [--entries 50000] [--client raw|httpx] [--marker-interval S] [--py-spy [PATH]]
        [--workers N] [--only floor governed governed-workers synthetic synthetic-workers]

Five servers, each alone on 127.0.0.1 (a free port), one after the other, each
loaded the same way and stopped (by pid) before the next starts:

- ``floor``: a minimal FastAPI app on uvicorn, one worker (this script started
  with ``--floor-server``), whose ``POST /api/v1/entries`` only parses the JSON
  body (``orjson.loads``) and answers a small JSON object with 201. It is the
  same stack (uvicorn, h11, asyncio, FastAPI) without anything of the ledger:
  the most our server could do.
- ``governed``: ``python -m frontier_ledger serve --simulated-clock FILE`` on a governed
  log built with ``ledger.demo.build.build_demo`` from ``tests/scenarios/base.toml``
  cut at the clock (charter, grants of the regulator, a lab and the evaluator,
  an organisation, a suite); FILE holds 2026-10-10T00:00:00Z, after the grants.
  Every request is an ``organisation`` entry with its own ``org_id``, signed by the
  scenario's regulator key (``ledger.demo.scenario.actor_key``): each goes through
  admission (signature, schema, role, policy preflight) and is logged.
- ``synthetic``: the same server on a log made with ``init_log(..., synthetic=True)``
  (no charter, no admission), loaded with the same request bodies.
- ``governed-workers``, ``synthetic-workers``: the same two with ``serve --workers
  N`` (``--workers``, default 2): N HTTP worker processes parse, check signatures
  and answer, the server's own process sequences and signs. Each governed server
  starts from a copy of the same log.

Server CPU is the server process's plus its workers'.

The bodies are signed before anything is timed. The load: ``--clients``
connections (HTTP/1.1 keep-alive), each sending one request at a time (closed
loop). ``--client raw`` (default) is a small asyncio HTTP/1.1 client in this
process, cheap enough that the 2 cores go mostly to the server under test;
``--client httpx`` uses one thread with an ``httpx.Client`` per client (it needs
more CPU per request than the floor server, so it measures itself as much).
Requests completed in the ``--duration`` window after ``--warmup`` count:
requests/s, p50/p99/max latency, responses by status. Afterwards the log's
tree size must have grown by the number of 201 answers.

The governed server's schedule-marker job ticks every 60 s by default, after a
default run's window; ``--marker-interval S`` makes it tick during the run (each
tick replays the entries appended since the last one into the read-side audit).

``--py-spy`` attaches py-spy (``py-spy record --pid``, non-blocking) to the
governed and synthetic servers during their windows, writes the collapsed
stacks to ``bench-out/e2e-pyspy-<server>.txt`` and prints where the samples
fall; the figures of such a run are perturbed by the sampling.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from _common import OUT, REPO, free_port, percentile, table, write_json
from fastapi import FastAPI, Request
from starlette.responses import Response

CLOCK = "2026-10-10T00:00:00Z"
#: The servers measured, in this order: the floor, then the log as one process and with
#: HTTP workers in front of its writer (serve --workers), governed and synthetic.
SERVERS = ("floor", "governed", "governed-workers", "synthetic", "synthetic-workers")
BASE_SCENARIO = REPO / "tests" / "scenarios" / "base.toml"
WORK = OUT / "e2e-work"
PATH = "/api/v1/entries"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


# -- the floor server -------------------------------------------------------------


def floor_app() -> Any:
    # Request and Response are module-level names: FastAPI resolves the (string)
    # annotations of the endpoint in this module's globals.
    app = FastAPI()
    counter = itertools.count()

    @app.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.post(PATH)
    async def append(request: Request) -> Response:
        obj = orjson.loads(await request.body())
        return Response(
            orjson.dumps({"index": next(counter), "fields": len(obj)}),
            status_code=201,
            media_type="application/json",
        )

    return app


def run_floor_server(port: int) -> int:
    import uvicorn

    uvicorn.run(floor_app(), host="127.0.0.1", port=port, workers=1, log_level="warning")
    return 0


# -- processes --------------------------------------------------------------------


class Server:
    """A child process serving HTTP on 127.0.0.1:port; ended by its pid only."""

    def __init__(self, name: str, cmd: list[str], port: int, ready_path: str) -> None:
        self.name = name
        self.cmd = cmd
        self.port = port
        self.ready_path = ready_path
        self.log_path = WORK / f"server-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} server did not answer in {START_TIMEOUT_S} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)

    def cpu_seconds(self) -> float:
        """User + system CPU time so far of the process and its live children (its HTTP
        workers, with ``--workers``), from Linux /proc."""
        return sum(_cpu(pid) for pid in [self.pid, *_children(self.pid)])


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ledger_server(name: str, data: Path, extra: Sequence[str] = ()) -> Server:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "frontier_ledger",
        "serve",
        "--data",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    return Server(name, cmd, port, "/log/checkpoint")


def floor_server() -> Server:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--floor-server", "--port", str(port)]
    return Server("floor", cmd, port, "/health")


def tree_size(server: Server) -> int:
    with urllib.request.urlopen(server.url("/log/checkpoint"), timeout=10) as r:
        return int(r.read().decode().split("\n")[1])


# -- logs and entries -------------------------------------------------------------


def build_governed(root: Path, clock_file: Path) -> tuple[str, int]:
    """A governed log from base.toml, cut at CLOCK; returns (origin, size)."""
    from ledger.demo.build import build_demo
    from ledger.demo.scenario import Scenario, load
    from verifier.entries.fields import parse_time

    base = load(BASE_SCENARIO)
    cut = parse_time(CLOCK, "clock")
    entries = tuple(e for e in base.entries if e.at_ms < cut)
    scenario = Scenario(
        title="bench e2e: charter and grants of base.toml",
        origin=base.origin,
        now_ms=cut,
        expect=(),
        entries=entries,
    )
    result = build_demo(root, scenario)
    clock_file.write_text(CLOCK + "\n")
    labels = ", ".join(e.label for e in entries)
    print(f"governed log: {result.entries} entries ({labels}), clock file at {CLOCK}")
    return scenario.origin, result.entries + result.markers


def build_synthetic(root: Path, origin: str) -> None:
    from ledger.ops.datadir import DataDir
    from ledger.write.open_log import init_log

    if root.exists():
        shutil.rmtree(root)
    init_log(DataDir.at(root), origin, synthetic=True)


def organisation_bodies(origin: str, count: int) -> list[bytes]:
    """*count* request bodies: organisation entries, distinct org_ids, signed by the regulator."""
    from ledger.demo.scenario import actor_key
    from ledger.keys.entry_signing import payload_type_for, sign_envelope
    from verifier.core.leaf import canonical_json

    key = actor_key("regulator")
    ptype = payload_type_for("organisation")
    out = []
    for i in range(count):
        payload = {
            "type": "organisation",
            "v": 1,
            "log": origin,
            "org_id": f"bench-org-{i:06d}",
            "legal_name": f"Benchmark Organisation {i} (fictional)",
            "jurisdiction": "Simulated Republic",
            "kind": "lab",
        }
        env = sign_envelope(canonical_json(payload).encode(), ptype, [key])
        out.append(json.dumps(env).encode())
    return out


# -- load ---------------------------------------------------------------------------


@dataclass
class Load:
    """What the clients saw: (t_end, latency s, status) per completed request."""

    done: list[tuple[float, float, int]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False


class BodyPool:
    """Hands out request bodies in order; *reuse* cycles (the floor), else runs out."""

    def __init__(self, bodies: list[bytes], reuse: bool) -> None:
        self.bodies = bodies
        self.reuse = reuse
        self._next = itertools.count()
        self._lock = threading.Lock()

    def take(self) -> bytes | None:
        with self._lock:
            i = next(self._next)
        if i >= len(self.bodies):
            if not self.reuse:
                return None
            i %= len(self.bodies)
        return self.bodies[i]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return (status, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection") == "close"


async def _raw_client(port: int, pool: BodyPool, end: float, load: Load) -> None:
    prefix = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        while time.perf_counter() < end:
            body = pool.take()
            if body is None:
                load.exhausted = True
                return
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            t0 = time.perf_counter()
            try:
                writer.write(prefix + b"%d\r\n\r\n" % len(body) + body)
                status, close = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                load.errors[type(exc).__name__] += 1
                writer.close()
                conn = None
                continue
            t1 = time.perf_counter()
            load.done.append((t1, t1 - t0, status))
            if close:
                writer.close()
                conn = None
    finally:
        if conn is not None:
            conn[1].close()


def run_raw(port: int, pool: BodyPool, clients: int, end: float) -> Load:
    load = Load()

    async def main() -> None:
        await asyncio.gather(*(_raw_client(port, pool, end, load) for _ in range(clients)))

    asyncio.run(main())
    return load


def run_httpx(port: int, pool: BodyPool, clients: int, end: float) -> Load:
    import httpx

    load = Load()
    lock = threading.Lock()
    url = f"http://127.0.0.1:{port}{PATH}"

    def client() -> None:
        with httpx.Client(timeout=30.0) as c:
            while time.perf_counter() < end:
                body = pool.take()
                if body is None:
                    load.exhausted = True
                    return
                t0 = time.perf_counter()
                try:
                    r = c.post(url, content=body, headers={"content-type": "application/json"})
                except httpx.HTTPError as exc:
                    with lock:
                        load.errors[type(exc).__name__] += 1
                    continue
                t1 = time.perf_counter()
                with lock:
                    load.done.append((t1, t1 - t0, r.status_code))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return load


# -- profiling ----------------------------------------------------------------------


def py_spy_binary(explicit: str | None) -> str | None:
    for cand in (explicit, shutil.which("py-spy"), str(Path(sys.executable).parent / "py-spy")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def summarize_collapsed(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(function, % of samples on the stack, % of samples as the leaf), by inclusive share."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        for f in set(frames):
            inclusive[f] += count
        leaf[frames[-1]] += count
    if not total:
        return []
    return [(f, 100 * c / total, 100 * leaf[f] / total) for f, c in inclusive.most_common(top)]


# -- one run ------------------------------------------------------------------------


def measure(
    server: Server,
    bodies: list[bytes],
    *,
    reuse: bool,
    clients: int,
    warmup: float,
    duration: float,
    client_kind: str,
    py_spy: tuple[str, Path] | None = None,
) -> dict[str, Any]:
    size0 = tree_size(server) if server.ready_path == "/log/checkpoint" else None
    pool = BodyPool(bodies, reuse)
    start = time.perf_counter()
    warm_end = start + warmup
    end = warm_end + duration
    spy: subprocess.Popen[bytes] | None = None
    cpu: dict[str, float] = {}

    def window_watch() -> None:
        nonlocal spy
        time.sleep(max(0.0, warm_end - time.perf_counter()))
        cpu["server0"], cpu["client0"] = server.cpu_seconds(), time.process_time()
        cpu["writer0"] = _cpu(server.pid)
        if py_spy is not None:
            exe, out = py_spy
            spy = subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(server.pid),
                    "--subprocesses",  # the HTTP workers too, with --workers
                    "--duration",
                    str(int(duration)),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-o",
                    str(out),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        time.sleep(max(0.0, end - time.perf_counter()))
        cpu["server1"], cpu["client1"] = server.cpu_seconds(), time.process_time()
        cpu["writer1"] = _cpu(server.pid)

    watcher = threading.Thread(target=window_watch)
    watcher.start()
    runner = run_raw if client_kind == "raw" else run_httpx
    load = runner(server.port, pool, clients, end)
    watcher.join()
    if spy is not None:
        spy.wait(timeout=60)

    eff_end = end
    if load.exhausted:
        eff_end = min(end, max((t for t, _, _ in load.done), default=end))
    window = [(lat, st) for t, lat, st in load.done if warm_end <= t <= eff_end]
    lat_ms = [lat * 1000 for lat, _ in window]
    statuses = Counter(str(st) for _, st in window)
    ok = statuses.get("201", 0)
    seconds = max(eff_end - warm_end, 1e-9)
    out: dict[str, Any] = {
        "requests": len(window),
        "seconds": seconds,
        "requests_per_s": len(window) / seconds,
        "created_per_s": ok / seconds,
        "p50_ms": percentile(lat_ms, 50),
        "p99_ms": percentile(lat_ms, 99),
        "max_ms": max(lat_ms, default=float("nan")),
        "statuses": dict(statuses),
        "transport_errors": dict(load.errors),
        "pool_exhausted": load.exhausted,
        "server_cpu_s": cpu.get("server1", 0) - cpu.get("server0", 0),
        # the server's own process alone (with --workers: the writer, without HTTP)
        "writer_cpu_s": cpu.get("writer1", 0) - cpu.get("writer0", 0),
        "client_cpu_s": cpu.get("client1", 0) - cpu.get("client0", 0),
    }
    out["server_cpu_pct"] = 100 * out["server_cpu_s"] / seconds
    out["writer_cpu_pct"] = 100 * out["writer_cpu_s"] / seconds
    if window:
        out["server_cpu_us_per_request"] = 1e6 * out["server_cpu_s"] / len(window)
        out["writer_cpu_us_per_request"] = 1e6 * out["writer_cpu_s"] / len(window)
    out["client_cpu_pct"] = 100 * out["client_cpu_s"] / seconds
    if size0 is not None:
        all_created = sum(1 for _, _, st in load.done if st == 201)
        grew = tree_size(server) - size0
        out["tree_grew"] = grew
        out["created_total"] = all_created
        out["tree_matches_201s"] = grew == all_created
    return out


# -- main ---------------------------------------------------------------------------


def batches_since(data: Path, size0: int) -> int:
    """Checkpoints stored after tree size *size0*: one per committed batch."""
    import sqlite3

    from ledger.ops.datadir import DataDir

    db = DataDir.at(data).db_path
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(
            conn.execute("SELECT count(*) FROM checkpoints WHERE size > ?", (size0,)).fetchone()[0]
        )
    finally:
        conn.close()


def one_server(
    name: str,
    args: argparse.Namespace,
    *,
    bodies: list[bytes],
    origin: str,
    clock_file: Path,
    spy_exe: str | None,
) -> tuple[dict[str, Any], list[tuple[str, float, float]]]:
    """Start the server *name*, load it, stop it; return its figures and profile."""
    data = WORK / name
    workers = ["--workers", str(args.workers)] if name.endswith("-workers") else []
    if name == "floor":
        server = floor_server()
    elif name.startswith("governed"):
        # Every governed server starts from the same log (charter and grants).
        if data.exists():
            shutil.rmtree(data)
        shutil.copytree(WORK / "governed-initial", data)
        extra = ["--simulated-clock", str(clock_file), *workers]
        if args.marker_interval is not None:
            extra += ["--marker-interval", str(args.marker_interval)]
        server = ledger_server(name, data, extra)
    else:
        build_synthetic(data, origin)
        server = ledger_server(name, data, workers)
    spy = (spy_exe, OUT / f"e2e-pyspy-{name}.txt") if spy_exe and name != "floor" else None
    loadavg = os.getloadavg()
    try:
        server.start()
        print(f"\n{name}: pid {server.pid}, port {server.port} ...", flush=True)
        size0 = tree_size(server) if name != "floor" else 0
        r = measure(
            server,
            bodies,
            reuse=name == "floor",
            clients=args.clients,
            warmup=args.warmup,
            duration=args.duration,
            client_kind=args.client,
            py_spy=spy,
        )
    finally:
        server.stop()
    r["loadavg_before"] = loadavg
    note = ""
    if name != "floor":
        batches = batches_since(data, size0)
        r["batches"] = batches
        r["mean_batch"] = r["tree_grew"] / batches if batches else 0.0
        note = (
            f"; tree grew by {r['tree_grew']:,} (= the 201s: {r['tree_matches_201s']}) "
            f"in {batches:,} batches of {r['mean_batch']:.1f}"
        )
    print(
        f"  {r['requests_per_s']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, "
        f"p99 {r['p99_ms']:.1f} ms, statuses {r['statuses']}{note}"
    )
    if r["pool_exhausted"]:
        print(f"  NOTE: the {len(bodies):,} bodies ran out; raise --entries")
    profile: list[tuple[str, float, float]] = []
    if spy is not None and spy[1].exists():
        profile = summarize_collapsed(spy[1])
        r["profiled_with_py_spy"] = True
    return r, profile


def report(
    results: dict[str, dict[str, Any]], profiles: dict[str, list[tuple[str, float, float]]]
) -> dict[str, Any]:
    """Print the table; return the summary figures."""
    rows = []
    floor = results.get("floor")
    for name, r in results.items():
        pct = ""
        if floor and name != "floor":
            pct = f"{100 * r['created_per_s'] / floor['created_per_s']:.0f}%"
        errors = {k: v for k, v in r["statuses"].items() if k != "201"} | r["transport_errors"]
        rows.append(
            [
                name,
                f"{r['requests_per_s']:,.0f}",
                f"{r['created_per_s']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                pct,
                f"{r['server_cpu_pct']:.0f}%",
                f"{r.get('server_cpu_us_per_request', float('nan')):,.0f}",
                f"{r.get('writer_cpu_us_per_request', float('nan')):,.0f}",
                f"{r['client_cpu_pct']:.0f}%",
                json.dumps(errors) if errors else "none",
            ]
        )
    header = ["server", "req/s", "201/s", "p50 ms", "p99 ms", "max ms", "% of floor"]
    header += ["server CPU", "µs CPU/req", "of which own process", "client CPU", "errors"]
    print()
    print(table(rows, header))
    summary: dict[str, Any] = {}
    print()
    for name in ("governed", "governed-workers"):
        if floor and name in results:
            pct = 100 * results[name]["created_per_s"] / floor["created_per_s"]
            key = name.replace("-", "_")
            summary[f"{key}_pct_of_floor"] = pct
            summary["target_pct_of_floor"] = 50
            summary[f"{key}_target_met"] = pct >= 50
            verdict = "met" if pct >= 50 else "NOT met"
            print(f"{name} appends: {pct:.0f}% of the floor (target ≥ 50%: {verdict})")
    for suffix in ("", "-workers"):
        g, s = results.get("governed" + suffix), results.get("synthetic" + suffix)
        if g and s and g["created_per_s"] and s["created_per_s"]:
            per = 1e6 / g["created_per_s"] - 1e6 / s["created_per_s"]
            summary[f"admission_cost_us_per_entry{suffix.replace('-', '_')}"] = per
            print(
                f"cost of admission{suffix and ' (' + suffix[1:] + ')'}: "
                f"{s['created_per_s']:,.0f} -> {g['created_per_s']:,.0f} "
                f"entries/s, {per:,.0f} µs more per entry"
            )
    for name, profile in profiles.items():
        print(f"\npy-spy, {name} server (inclusive % of samples, leaf %):")
        print(
            table(
                [[f, f"{i:.1f}", f"{s:.1f}"] for f, i, s in profile],
                ["function", "incl %", "leaf %"],
            )
        )
        summary.setdefault("py_spy_top", {})[name] = [
            {"function": f, "inclusive_pct": i, "leaf_pct": s} for f, i, s in profile
        ]
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds per server")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--entries", type=int, default=50_000, help="distinct bodies signed beforehand")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw")
    ap.add_argument(
        "--marker-interval",
        type=float,
        help="the governed server's --marker-interval (default: the server's, 60 s: "
        "longer than a run, so its marker job never runs while measured)",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        choices=SERVERS,
        default=list(SERVERS),
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=2,
        help="HTTP workers of the *-workers servers (serve --workers N; default 2)",
    )
    ap.add_argument(
        "--py-spy",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="profile the ledger servers with py-spy (on PATH, in the venv, or at PATH)",
    )
    args = ap.parse_args(argv)
    if args.floor_server:
        return run_floor_server(args.port)

    spy_exe = None
    if args.py_spy is not None:
        spy_exe = py_spy_binary(args.py_spy or None)
        if spy_exe is None:
            print("py-spy not found (pip install py-spy): profiling skipped")

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    clock_file = WORK / "clock"
    origin, governed_size = build_governed(WORK / "governed-initial", clock_file)
    t0 = time.perf_counter()
    bodies = organisation_bodies(origin, args.entries)
    print(
        f"signed {len(bodies):,} organisation entries in {time.perf_counter() - t0:.1f} s "
        f"({len(bodies[0])} bytes each)"
    )
    print(
        f"load: {args.clients} clients ({args.client}), {args.warmup:g} s warm-up, "
        f"{args.duration:g} s measured, per server"
    )

    results: dict[str, dict[str, Any]] = {}
    profiles: dict[str, list[tuple[str, float, float]]] = {}
    for name in args.only:
        results[name], profile = one_server(
            name, args, bodies=bodies, origin=origin, clock_file=clock_file, spy_exe=spy_exe
        )
        if profile:
            profiles[name] = profile
    summary = report(results, profiles)

    write_json(
        "e2e",
        {
            "clients": args.clients,
            "client": args.client,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "entries_signed": len(bodies),
            "body_bytes": len(bodies[0]),
            "clock": CLOCK,
            "marker_interval_s": args.marker_interval,
            "governed_initial_size": governed_size,
            "results": results,
            **summary,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
