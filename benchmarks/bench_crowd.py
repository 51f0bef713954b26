"""Reads at a crowd: 200 readers across four URLs while 16 clients append, per URL p50/p99.

    .venv/bin/python benchmarks/bench_crowd.py [--seconds 30] [--readers 200]
        [--append-clients 16] [--prefill 10000] [--think-ms 0]
        [--baseline DIR] [--label NAME] [--py-spy]

One ``frontier-ledger serve`` on 127.0.0.1 (a synthetic log prefilled with
``--prefill`` entries; a fresh copy of the same log for every server), for
``--seconds``:

- appends: ``--append-clients`` closed-loop HTTP/1.1 clients posting pre-signed
  envelopes (the raw asyncio client of bench_e2e.py, in this process);
- reads: ``--readers`` keep-alive connections split evenly over four URLs —
  ``/healthz``, an entry page (``/entries/N``), the entry API
  (``/api/v1/entries/N``) and a full level-0 tile (``/log/tile/0/000``) — one
  ``wrk`` process per URL (1 thread, readers/4 connections, ``--latency``).
  With ``--think-ms 0`` (the default) every reader sends its next request as soon
  as the last is answered (a closed loop: the server is saturated, and by Little's
  law the mean latency is connections / throughput); with ``--think-ms T`` each
  reader waits a random 0..2T ms (mean T) between requests (wrk's ``delay()``),
  a crowd of people rather than a load generator.

``--baseline DIR`` also runs the same load against the code in DIR (another
checkout, e.g. a worktree of main; it runs with this venv, DIR first on the path),
in the same run: baseline, this tree, then the baseline again and this tree
again if ``--repeats 2``. ``--py-spy`` records the servers with py-spy (``--gil``
off, all threads, idle frames dropped) to ``bench-out/crowd-pyspy-<label>.txt``
and prints the hottest frames (the figures of such a run are perturbed).

Reported per server: p50/p99/max and requests/s per URL (wrk's), non-2xx answers,
socket errors, appends/s with p50/p99, and that the tree grew by exactly the 201
count.

Then (unless ``--no-nginx``) tiles from ``serve`` against the nginx mirror, on the
same files, in the same run: ``frontier-ledger export`` of the same log served by
Debian's nginx with ``docker/nginx/mirror.conf`` unchanged (tests/nginxproc.py: one
worker, access log off), beside ``serve --read-only`` on a copy of the log; the
two bodies checked byte-identical first; then ``wrk -t2 -c32`` (2 s warm-up, then
``--tile-seconds``) on a full level-0 tile and on a full entry bundle with
``Accept-Encoding: gzip`` (the export's ``.gz`` in place, as a mirror has it),
nginx and serve alternating, ``--tile-rounds`` times: requests/s of each and
serve / nginx per round. JSON to bench-out/crowd.json. wrk shares the two cores
with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from _common import ORIGIN, OUT, REPO, cli, free_port, percentile, table, write_json
from bench_e2e import BodyPool, build_synthetic, py_spy_binary, run_raw, summarize_collapsed
from bench_load import parse_wrk, signed_bodies
from bench_mirror import run_wrk as run_wrk_once

sys.path.insert(0, str(REPO))  # tests/nginxproc.py: the nginx the mirror's test runs

from tests.nginxproc import NginxMirror, NginxUnavailable, find_nginx

WORK = OUT / "crowd"

WRK_LUA = """\
local think = {think}
function delay()
  if think > 0 then return math.random(0, 2 * think) end
  return 0
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class Served:
    """``python -m frontier_ledger serve`` run from *code* (its directory first on the path)."""

    def __init__(
        self,
        label: str,
        code: Path,
        data: Path,
        *,
        read_only: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.label, self.code, self.data, self.read_only = label, code, data, read_only
        self.env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = WORK / f"server-{label}.log"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "frontier_ledger", "serve", "--data", str(self.data)]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        cmd += ["--read-only"] if self.read_only else []
        # A variant's SERVE_ARGS are more arguments for serve (e.g. "--workers 2"), not
        # an environment variable.
        settings = dict(self.env)
        cmd += settings.pop("SERVE_ARGS", "").split()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(self.code), **settings}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.code, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url("/log/checkpoint"), timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"{self.label} did not answer in 120 s")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=30) as r:
            return bytes(r.read())

    def tree_size(self) -> int:
        return int(self.get("/log/checkpoint").decode().split("\n")[1])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_wrk(  # noqa: PLR0917 - wrk's options, in wrk's order
    wrk: str, url: str, connections: int, seconds: float, think_ms: int, tmp: Path
) -> Any:
    script = tmp / f"crowd-{think_ms}.lua"
    if not script.exists():  # written once: the wrk processes start side by side
        script.write_text(WRK_LUA.format(think=think_ms))
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "30s", "--latency"]
    cmd += ["-s", str(script), url]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(text: str) -> dict[str, Any]:
    line = next((x for x in text.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:  # the Lua summary failed (seen rarely): wrk's own --latency text
        print(f"(wrk printed no Lua summary; reading its text)\n{text}", flush=True)
        w = parse_wrk(text)
        m = re.search(r"(\d+) requests in", text)
        return {
            "requests": int(m.group(1)) if m else 0,
            "rps": w["rps"] or 0.0,
            "p50_ms": w["p50_ms"],
            "p90_ms": None,
            "p99_ms": w["p99_ms"],
            "max_ms": w["p99_ms"],
            "socket_errors": 0 if not w["socket_errors"] else -1,
            "non_2xx": w["non_2xx"],
        }
    r = json.loads(line.removeprefix("WRKJSON "))
    secs = r["duration_us"] / 1e6
    non2xx = 0
    for x in text.splitlines():
        if "Non-2xx or 3xx responses:" in x:
            non2xx = int(x.split(":")[1])
    return {
        "requests": r["requests"],
        "rps": r["requests"] / secs,
        "p50_ms": r["p50_us"] / 1e3,
        "p90_ms": r["p90_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "max_ms": r["max_us"] / 1e3,
        "socket_errors": sum(r[k] for k in ("connect", "read", "write", "timeout")),
        "non_2xx": non2xx,
    }


def template_log(prefill: int) -> Path:
    """A synthetic log of *prefill* entries, built once (copied for every server)."""
    path = WORK / f"log-{prefill}"
    if (path / "ledger.sqlite").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"building a synthetic log of {prefill} entries in {path} …", flush=True)
    build_synthetic(path, ORIGIN)
    synth = [sys.executable, "-m", "frontier_ledger", "synth", "--data", str(path)]
    subprocess.run([*synth, "--count", str(prefill)], check=True, capture_output=True, cwd=REPO)
    return path


def one_server(  # noqa: PLR0917 - one call site, positional reads plainly there
    label: str,
    code: Path,
    env: dict[str, str],
    template: Path,
    bodies: list[bytes],
    args: argparse.Namespace,
    wrk: str,
) -> dict[str, Any]:
    data = WORK / f"data-{label}"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    shutil.rmtree(data / "site-cache", ignore_errors=True)
    server = Served(label, code, data, env=env)
    server.start()
    # --read-server: the readers go to a second process, serve --read-only on the same
    # data directory (the writer keeps the appends), as a proxy would route them.
    reads_at = server
    if args.read_server:
        reads_at = Served(label + "-reads", code, data, read_only=True, env=env)
        reads_at.start()
    index = args.prefill // 2
    urls = {
        "/healthz": "/healthz",
        "entry page": f"/entries/{index}",
        "entry API": f"/api/v1/entries/{index}",
        "tile": "/log/tile/0/000",
    }
    spy = None
    try:
        for path in urls.values():  # warm: the read side's replay, caches
            reads_at.get(path)
        size0 = server.tree_size()
        per_url = max(1, args.readers // len(urls))
        with tempfile.TemporaryDirectory(prefix="crowd-") as tmp_s:
            procs = {
                name: run_wrk(
                    wrk, reads_at.url(p), per_url, args.seconds, args.think_ms, Path(tmp_s)
                )
                for name, p in urls.items()
            }
            py_spy = py_spy_binary(None) if args.py_spy else None
            collapsed = OUT / f"crowd-pyspy-{label}.txt"
            if py_spy is not None:
                spy = subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.proc.pid), "--nonblocking"]  # type: ignore[union-attr]
                    + ["--threads", "--format", "raw", "-o", str(collapsed)]
                    + (["--gil"] if args.py_spy == "gil" else [])
                    + ["--duration", str(max(1, int(args.seconds) - 2))],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                )
            load = run_raw(
                server.port,
                BodyPool(bodies, reuse=False),
                args.append_clients,
                time.perf_counter() + args.seconds,
            )
            reads = {
                name: wrk_result(p.communicate(timeout=args.seconds + 120)[0])
                for name, p in procs.items()
            }
            if spy is not None:
                spy.wait(timeout=120)
        size1 = server.tree_size()
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        if reads_at is not server:
            reads_at.stop()
        server.stop()
    statuses = Counter(status for _, _, status in load.done)
    lat = [dt * 1000 for _, dt, status in load.done if status == 201]
    acked = statuses.get(201, 0)
    out: dict[str, Any] = {
        "label": label,
        "code": str(code),
        "reads": reads,
        "appends": {
            "acknowledged": acked,
            "per_s": acked / args.seconds,
            "p50_ms": percentile(lat, 50) if lat else None,
            "p99_ms": percentile(lat, 99) if lat else None,
            "statuses": dict(statuses),
            "transport_errors": dict(load.errors),
        },
        "tree_grew_by": size1 - size0,
    }
    if spy is not None and collapsed.exists():
        out["py_spy"] = str(collapsed)
        top = summarize_collapsed(collapsed, 30)
        out["py_spy_top"] = top
    return out


TILE_LOADS = {
    "full tile": ("/log/tile/0/000", {}),
    "entry bundle, gzip": ("/log/tile/entries/000", {"Accept-Encoding": "gzip"}),
}
TILE_SERVERS = ("nginx mirror", "serve")


def tiles_vs_nginx(template: Path, args: argparse.Namespace, wrk: str) -> dict[str, Any]:
    """Full tiles and bundles: requests/s of serve and of nginx on the same files."""
    nginx = NginxMirror(find_nginx(), access_log=False)
    data = WORK / "data-tiles"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)
    server = Served("tiles", REPO, data, read_only=True)
    rounds: list[dict[str, dict[str, Any]]] = []
    try:
        export = [cli(), "export", "--data", str(data), str(nginx.root / "log")]
        subprocess.run(export, check=True, stdout=subprocess.DEVNULL)
        nginx.start()
        server.start()
        bases = {TILE_SERVERS[0]: nginx.base_url, TILE_SERVERS[1]: server.url("")}
        for path, headers in TILE_LOADS.values():
            bodies = set()
            for base in bases.values():
                req = urllib.request.Request(base + path, headers=headers)
                with urllib.request.urlopen(req, timeout=30) as r:
                    bodies.add(bytes(r.read()))
            if len(bodies) != 1:
                raise RuntimeError(f"{path}: nginx and serve answer different bytes")
        for rnd in range(args.tile_rounds):
            order = TILE_SERVERS if rnd % 2 == 0 else TILE_SERVERS[::-1]
            figures: dict[str, dict[str, Any]] = {load: {} for load in TILE_LOADS}
            for load, (path, headers) in TILE_LOADS.items():
                for name in order:
                    with tempfile.TemporaryDirectory(prefix="crowd-tiles-") as tmp:
                        for seconds in (2, args.tile_seconds):  # warm-up, then measured
                            r = run_wrk_once(
                                wrk,
                                bases[name],
                                path,
                                headers,
                                seconds=seconds,
                                threads=2,
                                connections=32,
                                tmp=Path(tmp),
                            )
                    figures[load][name] = r
                    print(
                        f"  round {rnd + 1}, {load} from {name}: {r['rps']:,.0f} req/s, "
                        f"p99 {r['p99_ms']:.1f} ms, {r['errors']} errors",
                        flush=True,
                    )
                nginx_rps = figures[load][TILE_SERVERS[0]]["rps"]
                figures[load]["serve_over_nginx"] = (
                    figures[load][TILE_SERVERS[1]]["rps"] / nginx_rps if nginx_rps else None
                )
            rounds.append(figures)
    finally:
        server.stop()
        nginx.close()
    return {"seconds": args.tile_seconds, "wrk": "-t2 -c32", "rounds": rounds}


def show_tiles(result: dict[str, Any]) -> None:
    rows = []
    for i, figures in enumerate(result["rounds"], 1):
        for load, f in figures.items():
            rows.append(
                [
                    i,
                    load,
                    f"{f[TILE_SERVERS[0]]['rps']:,.0f}",
                    f"{f[TILE_SERVERS[1]]['rps']:,.0f}",
                    f"{f['serve_over_nginx']:.0%}" if f["serve_over_nginx"] else "-",
                    f"{f[TILE_SERVERS[1]]['p99_ms']:.1f}",
                ]
            )
    print("\ntiles: serve against the nginx mirror, same files, same run")
    print(table(rows, ["round", "load", "nginx req/s", "serve req/s", "serve/nginx", "serve p99"]))


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    label, _, assignments = text.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return label, env


def show(result: dict[str, Any]) -> None:
    rows = []
    for name, r in result["reads"].items():
        rows.append(
            [
                name,
                f"{r['rps']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                r["non_2xx"],
                r["socket_errors"],
            ]
        )
    a = result["appends"]
    rows.append(
        [
            "appends (POST)",
            f"{a['per_s']:,.0f}",
            f"{a['p50_ms']:.1f}" if a["p50_ms"] is not None else "-",
            f"{a['p99_ms']:.1f}" if a["p99_ms"] is not None else "-",
            "",
            sum(n for s, n in a["statuses"].items() if s not in (200, 201)),
            sum(a["transport_errors"].values()),
        ]
    )
    print(f"\n{result['label']} ({result['code']})")
    print(table(rows, ["url", "req/s", "p50 ms", "p99 ms", "max ms", "non-2xx", "sock err"]))
    grew, acked = result["tree_grew_by"], a["acknowledged"]
    print(f"tree grew by {grew}; 201 answers: {acked} ({'equal' if grew == acked else 'DIFFER'})")
    for f, incl, leaf in result.get("py_spy_top", [])[:20]:
        print(f"  {incl:5.1f}% incl {leaf:5.1f}% self  {f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--append-clients", type=int, default=16)
    ap.add_argument("--prefill", type=int, default=10_000)
    ap.add_argument("--think-ms", type=int, default=0)
    ap.add_argument("--baseline", type=Path, help="another checkout to measure in the same run")
    ap.add_argument("--label", default="this tree")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE[,NAME=VALUE]",
        help="also run this tree with these environment variables (e.g. the server's "
        "XFL_ROUTE_THREADS; SERVE_ARGS='--workers 2' adds arguments to serve), in the "
        "same run; repeatable",
    )
    ap.add_argument("--no-nginx", action="store_true", help="skip tiles against nginx")
    ap.add_argument("--tile-seconds", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--tile-rounds", type=int, default=2)
    ap.add_argument("--no-crowd", action="store_true", help="only tiles against nginx")
    ap.add_argument(
        "--read-server",
        action="store_true",
        help="send the reads to a second process (serve --read-only, same data) beside "
        "the writer, which takes the appends",
    )
    ap.add_argument(
        "--py-spy",
        nargs="?",
        const="cpu",
        choices=["cpu", "gil"],
        help="record the servers with py-spy: samples on a CPU (default) or, with 'gil', "
        "only of the thread holding the GIL",
    )
    args = ap.parse_args(argv)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("bench_crowd: wrk not found (apt-get install wrk)")
        return 2
    WORK.mkdir(parents=True, exist_ok=True)
    template = template_log(args.prefill)
    bodies = signed_bodies(int(args.seconds * 2000) + 10_000)
    servers: list[tuple[str, Path, dict[str, str]]] = []
    variants = [(args.label, {})] + [parse_variant(v) for v in args.variant]
    for rep in range(args.repeats):
        suffix = f" #{rep + 1}" if args.repeats > 1 else ""
        if args.baseline is not None:
            servers.append((f"baseline{suffix}", args.baseline.resolve(), {}))
        servers += [(f"{label}{suffix}", REPO, env) for label, env in variants]
    results = []
    for label, code, env in [] if args.no_crowd else servers:
        print(
            f"{label}: {args.readers} readers (think {args.think_ms} ms) + "
            f"{args.append_clients} appenders for {args.seconds:g} s …",
            flush=True,
        )
        # Every server appends the same bodies to its own fresh copy of the log.
        name = label.replace(" ", "-").replace("#", "")
        r = one_server(name, code, env, template, bodies, args, wrk)
        r["env"] = env
        r["label"] = label
        results.append(r)
        show(r)
    tiles = None
    if not args.no_nginx:
        try:
            tiles = tiles_vs_nginx(template, args, wrk)
        except NginxUnavailable as exc:
            print(f"tiles against nginx skipped: {exc}")
        else:
            show_tiles(tiles)
    summary = {
        "tiles_vs_nginx": tiles,
        "seconds": args.seconds,
        "readers": args.readers,
        "append_clients": args.append_clients,
        "prefill": args.prefill,
        "think_ms": args.think_ms,
        "runs": results,
    }
    path = write_json("crowd" if args.think_ms == 0 else f"crowd-think{args.think_ms}", summary)
    print(f"\nwrote {path}")
    ok = all(
        r["tree_grew_by"] == r["appends"]["acknowledged"]
        and all(x["non_2xx"] == 0 for x in r["reads"].values())
        for r in results
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
