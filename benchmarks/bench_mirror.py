"""Verifying the log from the nginx mirror against verifying it from ``frontier-ledger serve``.

    .venv/bin/python benchmarks/bench_mirror.py [--entries 10000,100000] [--runs 3]
        [--duration 10] [--threads 2] [--connections 32]

For each size, the synthetic log cached in ``bench-out/logs/log-N/`` (``init
--synthetic`` + ``synth``, shared with the other benchmarks) is served two ways
at once, on 127.0.0.1:

- **nginx**: ``frontier-ledger export --data DIR ROOT/log`` (timed, into an
  empty directory), served by Debian's nginx with the project's one mirror
  config, ``docker/nginx/mirror.conf``, unchanged (tests/nginxproc.py: one
  worker, foreground, access log off; gzip for entry bundles as configured);
- **serve**: ``frontier-ledger serve --read-only --data DIR`` (uvicorn, one
  process).

The checkpoint and a sample of tiles are first checked byte-identical on both.
Then:

1. ``frontier-verify verify --log URL --vkey V`` (the installed command, its
   defaults: signature checks on two processes) against each, interleaved,
   ``--runs`` times each: wall time of the command, median and best. The log is
   synthetic, so verify checks the tree, every tile and the leaf shapes, and no
   entry signature (no charter): what is timed is fetching and hashing.
2. ``wrk`` against each, after a 2 s warm-up: one full level-0 tile
   (``/log/tile/0/000``, 8,192 bytes) requested over and over; and one full
   entry bundle (``/log/tile/entries/000``) with ``Accept-Encoding: gzip``, as
   verifiers ask for it (nginx compresses it on every request; the server
   keeps the gzipped bytes of full bundles in memory) — for nginx with the
   export's ``000.gz`` set aside, so nginx compresses on every request; then, on
   nginx only, the same with ``000.gz`` back (``gzip_static`` in the config
   sends the file export wrote). wrk shares the two cores with the server under
   test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import REPO, cli, ensure_log, free_port, table, write_json
from bench_http import ensure_tool, stop, wait_ready

sys.path.insert(0, str(REPO))  # tests/nginxproc.py: the nginx the mirror's test runs

from tests.nginxproc import MIRROR_CONF, NginxMirror, NginxUnavailable, find_nginx
from verifier.core.tiles import ENTRIES, TILE_WIDTH, tiles_for_size

NAME = "mirror"
SERVERS = ("nginx mirror", "frontier-ledger serve")

WRK_LUA = """\
local path = "{path}"
local headers = {{ {headers} }}
function request()
  return wrk.format("GET", path, headers)
end
function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def verify_cli() -> str:
    exe = Path(sys.executable).parent / "frontier-verify"
    return str(exe) if exe.exists() else "frontier-verify"


def get(url: str, **headers: str) -> tuple[bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as r:
        return bytes(r.read()), dict(r.headers)


def time_verify(log_url: str, vkey: str) -> float:
    cmd = [verify_cli(), "verify", "--log", log_url, "--vkey", vkey, "--quiet"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return seconds


def run_wrk(
    wrk: str,
    url: str,
    path: str,
    headers: dict[str, str],
    *,
    seconds: float,
    threads: int,
    connections: int,
    tmp: Path,
) -> dict[str, Any]:
    script = tmp / "load.lua"
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    script.write_text(WRK_LUA.format(path=path, headers=lua_headers))
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    secs = r["duration_us"] / 1e6
    return {
        "requests": r["requests"],
        "rps": r["requests"] / secs,
        "mb_per_s": r["bytes"] / secs / 1e6,
        "errors": sum(r[k] for k in ("connect", "read", "write", "status", "timeout")),
        "p50_ms": r["p50_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
    }


def report(name: str, load: str, r: dict[str, Any]) -> None:
    print(
        f"  wrk {load} from {name}: {r['rps']:,.0f} requests/s, {r['mb_per_s']:.0f} MB/s, "
        f"p99 {r['p99_ms']:.1f} ms, {r['errors']} errors",
        flush=True,
    )


def sample_paths(size: int) -> list[str]:
    """The checkpoint, the first and last full tiles and bundles, every partial one."""
    paths = ["checkpoint"]
    for level in (0, 1, 2, ENTRIES):
        tiles = tiles_for_size(size, level)
        full = [t.path for t in tiles if t.width == TILE_WIDTH]
        paths += full[:1] + full[-1:] + [t.path for t in tiles if t.width != TILE_WIDTH]
    return list(dict.fromkeys(paths))


def measure(n: int, args: argparse.Namespace, nginx_bin: str, wrk: str | None) -> dict[str, Any]:
    data = ensure_log(n)
    vkey = (data / "log.vkey").read_text().strip()
    result: dict[str, Any] = {"entries": n, "servers": {}}
    nginx = NginxMirror(nginx_bin, access_log=False)
    serve: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        subprocess.run(
            [cli(), "export", "--data", str(data), str(nginx.root / "log")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result["export_s"] = round(time.perf_counter() - t0, 2)
        nginx.start()
        port = free_port()
        serve = subprocess.Popen(
            [cli(), "serve", "--data", str(data), "--port", str(port), "--read-only"],
            stdout=(nginx.dir / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        bases = {SERVERS[0]: nginx.base_url, SERVERS[1]: f"http://127.0.0.1:{port}"}
        wait_ready(bases[SERVERS[1]] + "/log/checkpoint", serve, "frontier-ledger serve", 60)

        sample = sample_paths(n)
        for path in sample:
            a, _ = get(f"{bases[SERVERS[0]]}/log/{path}")
            b, _ = get(f"{bases[SERVERS[1]]}/log/{path}")
            if a != b:
                raise RuntimeError(f"/log/{path}: the servers disagree ({len(a)} vs {len(b)} B)")
        result["identical_paths_checked"] = sample
        print(f"  {len(sample)} paths byte-identical on both servers", flush=True)

        times: dict[str, list[float]] = {name: [] for name in SERVERS}
        for run in range(args.runs):
            order = SERVERS if run % 2 == 0 else SERVERS[::-1]  # interleaved, alternating
            for name in order:
                times[name].append(time_verify(bases[name] + "/log", vkey))
                print(f"  verify from {name}: {times[name][-1]:.2f} s", flush=True)
        for name in SERVERS:
            result["servers"][name] = {
                "verify_s": [round(t, 3) for t in times[name]],
                "verify_median_s": round(statistics.median(times[name]), 3),
                "verify_best_s": round(min(times[name]), 3),
            }

        if wrk:
            # export writes 000.gz beside each full bundle; set it aside first so the
            # first nginx figure is gzip on the fly, as a mirror without it would be.
            bundle = nginx.root / "log" / "tile" / "entries" / "000"
            stored_gz = bundle.with_name("000.gz")
            aside = bundle.with_name("000.gz.aside")
            stored_gz.replace(aside)
            loads = {
                "tile": ("/log/tile/0/000", {}),
                "bundle_gzip": ("/log/tile/entries/000", {"Accept-Encoding": "gzip"}),
            }
            for name in SERVERS:
                for load, (path, headers) in loads.items():
                    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
                        for seconds in (2, args.duration):  # warm-up, then the measured run
                            r = run_wrk(
                                wrk,
                                bases[name],
                                path,
                                headers,
                                seconds=seconds,
                                threads=args.threads,
                                connections=args.connections,
                                tmp=Path(tmp),
                            )
                    result["servers"][name][load] = r
                    report(name, load, r)
            # nginx again, with export's precompressed bundle back in place (gzip_static).
            aside.replace(stored_gz)
            assert gzip.decompress(stored_gz.read_bytes()) == bundle.read_bytes()
            with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp:
                for seconds in (2, args.duration):
                    r = run_wrk(
                        wrk,
                        bases[SERVERS[0]],
                        "/log/tile/entries/000",
                        {"Accept-Encoding": "gzip"},
                        seconds=seconds,
                        threads=args.threads,
                        connections=args.connections,
                        tmp=Path(tmp),
                    )
            result["servers"][SERVERS[0]]["bundle_gzip_static"] = r
            report(SERVERS[0], "bundle_gzip_static", r)
    finally:
        if serve is not None:
            stop(serve)
        nginx.close()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", default="10000,100000", help="log sizes, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="verify runs per server (median)")
    ap.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args(argv)
    # As bench_http.py: Debian's packages, installed with apt-get if missing and we are root.
    ensure_tool("nginx", "nginx")
    try:
        nginx_bin = find_nginx()
    except NginxUnavailable as exc:
        print(f"bench_mirror: {exc}; nothing to compare")
        return 1
    wrk = ensure_tool("wrk", "wrk")
    if wrk is None:
        print("wrk is unavailable: measuring verify only")
    nginx_version = subprocess.run(
        [nginx_bin, "-v"], capture_output=True, text=True, check=False
    ).stderr.strip()
    results: dict[str, Any] = {
        "nginx": nginx_version,
        "nginx_conf": str(MIRROR_CONF.relative_to(REPO)),
        "runs": args.runs,
        "wrk": {
            "duration_s": args.duration,
            "threads": args.threads,
            "connections": args.connections,
        }
        if wrk
        else None,
        "sizes": {},
    }
    rows = []
    for n in (int(s) for s in args.entries.split(",")):
        print(f"\n== {n:,} entries ==", flush=True)
        load_before = os.getloadavg()[0]
        r = measure(n, args, nginx_bin, wrk)
        r["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        results["sizes"][str(n)] = r
        for name in SERVERS:
            s = r["servers"][name]
            tile, bundle = s.get("tile"), s.get("bundle_gzip")
            static = s.get("bundle_gzip_static")
            rows.append(
                [
                    f"{n:,}",
                    name,
                    f"{s['verify_median_s']:.2f}",
                    f"{s['verify_best_s']:.2f}",
                    f"{tile['rps']:,.0f}" if tile else "-",
                    f"{tile['p99_ms']:.1f}" if tile else "-",
                    f"{bundle['rps']:,.0f}" if bundle else "-",
                    f"{bundle['mb_per_s']:.0f}" if bundle else "-",
                    f"{static['rps']:,.0f}" if static else "-",
                ]
            )
        mirror, live = (r["servers"][name]["verify_median_s"] for name in SERVERS)
        r["verify_ratio_serve_over_nginx"] = round(live / mirror, 2)
    print()
    print(
        table(
            rows,
            [
                "entries",
                "server",
                "verify median s",
                "best s",
                "tile req/s",
                "tile p99 ms",
                "bundle gzip req/s",
                "bundle MB/s",
                "precompressed req/s",
            ],
        )
    )
    write_json(NAME, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
