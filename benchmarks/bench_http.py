"""Serving tiles over HTTP: ``frontier-ledger serve --read-only`` against nginx on the export.

    .venv/bin/python benchmarks/bench_http.py [--entries 100000] [--duration 10]
        [--threads 2] [--connections 32] [--loadgen wrk|python]

Both servers run on 127.0.0.1 on free ports and are stopped afterwards:

- ours: ``frontier-ledger serve --data DIR --port P --read-only`` (uvicorn, one
  worker: the service is single-process by design);
- nginx (Debian's package; installed with apt-get if missing and we are root)
  as a foreground process (``daemon off``) with a generated config in a
  temporary directory, ``worker_processes 1``, root at the directory written by
  ``frontier-ledger export --data DIR OUT``, ``default_type
  application/octet-stream``, no access log. No system service is touched.

Before timing, a sample of tiles (full, partial, level 1, entry bundles) is
fetched from both and must be byte-identical. The load is ``wrk`` (installed
with apt-get if missing) with a generated Lua script cycling over every full
level-0 tile, full level-1 tile and full entry bundle of the log, after a 2 s
warm-up; without wrk, a Python asyncio/httpx generator (far slower than both
servers, so its figures measure the generator more than the server).
The load generator shares the 2 cores with the server under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import OUT, cli, ensure_log, free_port, table, write_json

from verifier.core.tiles import ENTRIES, TILE_WIDTH, tile_path, tiles_for_size

SBIN = os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin"])


def which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=SBIN)


def ensure_tool(name: str, package: str) -> str | None:
    """Path of *name*; if missing, try ``apt-get install -y package`` (root only)."""
    found = which(name)
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        print(
            f"{name} is not installed and cannot be installed here "
            f"(needs root and apt-get: apt-get install -y {package})"
        )
        return None
    # RUNLEVEL=1: Debian's invoke-rc.d then does not start the packaged service.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}
    cmd = [apt, "install", "-y", "--no-install-recommends", package]
    print(f"{name} is missing: {' '.join(cmd)}", flush=True)
    ok = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode == 0
    if not ok:
        subprocess.run([apt, "update"], env=env, stdout=subprocess.DEVNULL, check=False)
        ok = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False).returncode == 0
    found = which(name)
    if not found:
        print(f"could not install {package}; continuing without {name}")
    return found


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        return bytes(r.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        try:
            get(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    open_file_cache max=2000 inactive=60s;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""

WRK_LUA = """\
local prefix = "{prefix}"
local paths = {{ {paths} }}
local i = 0
function init(args)
  i = math.random(#paths)
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", prefix .. paths[i])
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


def run_wrk(
    wrk: str,
    base: str,
    prefix: str,
    paths: Sequence[str],
    *,
    seconds: float,
    threads: int,
    connections: int,
    tmp: Path,
) -> dict[str, Any]:
    script = tmp / f"load-{abs(hash(base))}.lua"
    script.write_text(WRK_LUA.format(prefix=prefix, paths=", ".join(f'"{p}"' for p in paths)))
    cmd = [wrk, f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    secs = r["duration_us"] / 1e6
    errors = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": r["requests"],
        "seconds": secs,
        "rps": r["requests"] / secs,
        "mb_per_s": r["bytes"] / secs / 1e6,
        "errors": errors,
        "p50_ms": r["p50_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
    }


def run_python_load(
    base: str, prefix: str, paths: Sequence[str], seconds: float, connections: int
) -> dict[str, Any]:
    import httpx

    async def go() -> dict[str, Any]:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        counts = {"ok": 0, "err": 0, "bytes": 0}
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
            deadline = time.perf_counter() + seconds

            async def worker(start: int) -> None:
                i = start
                while time.perf_counter() < deadline:
                    r = await client.get(prefix + paths[i % len(paths)])
                    i += 1
                    if r.status_code == 200:
                        counts["ok"] += 1
                        counts["bytes"] += len(r.content)
                    else:
                        counts["err"] += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(worker(k * 97) for k in range(connections)))
            elapsed = time.perf_counter() - t0
        n = counts["ok"] + counts["err"]
        return {
            "requests": n,
            "seconds": elapsed,
            "rps": n / elapsed,
            "mb_per_s": counts["bytes"] / elapsed / 1e6,
            "errors": counts["err"],
        }

    return asyncio.run(go())


def tile_paths(size: int) -> tuple[list[str], list[str]]:
    """(full tiles and bundles to load, a sample including partials to compare)."""
    full = [
        t.path
        for level in (0, 1, ENTRIES)
        for t in tiles_for_size(size, level)
        if t.width == TILE_WIDTH
    ]
    partial = [
        t.path
        for level in (0, 1, 2, ENTRIES)
        for t in tiles_for_size(size, level)
        if t.width != TILE_WIDTH
    ]
    count0 = size // TILE_WIDTH
    sample = [
        tile_path(0, 0),
        tile_path(0, count0 // 2),
        tile_path(0, count0 - 1),
        tile_path(ENTRIES, 0),
        tile_path(ENTRIES, count0 - 1),
        *partial,
    ]
    if size >= TILE_WIDTH * TILE_WIDTH:
        sample.append(tile_path(1, 0))
    return full, sample


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--loadgen", choices=["wrk", "python"], default="wrk")
    args = ap.parse_args(argv)

    data = ensure_log(args.entries)
    export = OUT / "exports" / f"export-{args.entries}"
    # Export afresh: an export is incremental and would keep tiles of a rebuilt log.
    shutil.rmtree(export, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([cli(), "export", "--data", str(data), str(export)], check=True)
    print(f"  (export took {time.perf_counter() - t0:.1f} s)")

    nginx = ensure_tool("nginx", "nginx")
    wrk = ensure_tool("wrk", "wrk") if args.loadgen == "wrk" else None
    loadgen = "wrk" if wrk else "python (asyncio + httpx)"
    if args.loadgen == "wrk" and not wrk:
        print("wrk is unavailable: falling back to the Python load generator")

    full, sample = tile_paths(args.entries)
    results: dict[str, Any] = {
        "entries": args.entries,
        "loadgen": loadgen,
        "duration_s": args.duration,
        "threads": args.threads,
        "connections": args.connections,
        "paths": len(full),
        "servers": {},
    }
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp_s:
        tmp = Path(tmp_s)
        try:
            servers: dict[str, tuple[str, str]] = {}
            port = free_port()
            ours = subprocess.Popen(
                [cli(), "serve", "--data", str(data), "--port", str(port), "--read-only"],
                stdout=(tmp / "serve.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            procs.append(ours)
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + "/log/checkpoint", ours, "frontier-ledger serve")
            servers["frontier-ledger serve"] = (base, "/log/")
            if nginx:
                nport = free_port()
                conf = tmp / "nginx.conf"
                conf.write_text(NGINX_CONF.format(tmp=tmp, port=nport, root=export.resolve()))
                ng = subprocess.Popen(
                    [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp / "nginx.out").open("wb"),
                )
                procs.append(ng)
                nbase = f"http://127.0.0.1:{nport}"
                wait_ready(nbase + "/checkpoint", ng, "nginx")
                servers["nginx (static export)"] = (nbase, "/")
            else:
                print("nginx is unavailable: measuring frontier-ledger serve alone")

            # Identical bytes before timing.
            if len(servers) == 2:
                (b1, p1), (b2, p2) = servers.values()
                for path in sample:
                    a, b = get(b1 + p1 + path), get(b2 + p2 + path)
                    if a != b:
                        raise RuntimeError(f"{path}: servers disagree ({len(a)} vs {len(b)} B)")
                print(
                    f"checked {len(sample)} tiles byte-identical on both servers: "
                    f"{', '.join(sample)}"
                )
                results["identical_tiles_checked"] = sample

            for name, (b, prefix) in servers.items():
                print(
                    f"{name}: warm-up 2 s, then {args.duration:g} s with {loadgen}, "
                    f"{args.threads} threads, {args.connections} connections ...",
                    flush=True,
                )
                if wrk:
                    for seconds in (2, args.duration):  # warm-up, then the measured run
                        r = run_wrk(
                            wrk,
                            b,
                            prefix,
                            full,
                            seconds=seconds,
                            threads=args.threads,
                            connections=args.connections,
                            tmp=tmp,
                        )
                else:
                    run_python_load(b, prefix, full, 2, args.connections)
                    r = run_python_load(b, prefix, full, args.duration, args.connections)
                results["servers"][name] = r
                print(
                    f"  {r['rps']:,.0f} requests/s, {r['mb_per_s']:.0f} MB/s, {r['errors']} errors",
                    flush=True,
                )
        finally:
            for p in reversed(procs):
                stop(p)

    rows = [
        [
            name,
            f"{r['rps']:,.0f}",
            f"{r['mb_per_s']:.0f}",
            f"{r.get('p50_ms', 0):.2f}",
            f"{r.get('p99_ms', 0):.2f}",
            r["errors"],
        ]
        for name, r in results["servers"].items()
    ]
    print()
    print(table(rows, ["server", "requests/s", "MB/s", "p50 ms", "p99 ms", "errors"]))
    srv = results["servers"]
    if len(srv) == 2:
        ratio = srv["nginx (static export)"]["rps"] / srv["frontier-ledger serve"]["rps"]
        results["ratio_nginx_ours"] = ratio
        print(f"\nnginx / frontier-ledger serve = {ratio:.1f}x")
    write_json("http", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
