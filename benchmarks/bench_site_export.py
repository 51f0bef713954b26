"""The static mirror: ``frontier-ledger export-site`` on synthetic logs of 10^4 and 10^5 entries.

    .venv/bin/python benchmarks/bench_site_export.py [--entries 10000,100000] [--grow 1000]
        [--jobs J]

For each size, a synthetic log (``frontier-ledger init --synthetic`` +
``frontier-ledger synth``) is built once and cached in
``bench-out/logs/site-export-N/`` (its own directory: the export caches the
SQLite snapshot under ``DATA/site-cache/``). Then, each as the real command in a
child process (wall time, peak RSS of the child):

1. **cold**: into an empty directory (every page, twin, API document and
   tile written; the snapshot built, as the first download would);
2. **again**: the same command on the same log (nothing new: every page is
   rendered and compared, only README.txt and the checkpoint are rewritten);
3. **grown**: after ``synth --count G`` on a copy of the log (new entries, and a
   new proof on every old entry page, so every entry page is rewritten).

All three with ``--jobs J`` (default: the number of CPUs). Separately,
``build_snapshot`` alone (in process). entries/s is the log's size over the wall
time; each entry is three requests (page, JSON twin, API JSON) and three files.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ORIGIN, OUT, cli, git_revision, table, write_json

NAME = "site-export"


def ensure_log(count: int) -> Path:
    """A synthetic log of *count* entries, built once (a marker file says it is complete)."""
    root = OUT / "logs" / f"{NAME}-{count}"
    marker = root / "BUILT"
    if marker.exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"building a synthetic log of {count:,} entries in {root} (cached) ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [cli(), "init", "--data", str(root), "--origin", ORIGIN, "--synthetic"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    batch = str(max(1, min(1000, count // 100)))
    subprocess.run(
        [cli(), "synth", "--data", str(root), "--count", str(count), "--batch", batch],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    marker.write_text(f"{count} entries, built by code at {git_revision()}\n")
    print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    return root


def du(path: Path) -> tuple[int, int]:
    """(files, bytes) under *path*."""
    files = size = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            files += 1
            size += os.stat(os.path.join(dirpath, n)).st_size
    return files, size


def run_export(data: Path, out: Path, jobs: int) -> dict[str, Any]:
    """One ``export-site`` in a child process: wall seconds, peak RSS, what it printed."""
    cmd = [cli(), "export-site", "--data", str(data), str(out), "--jobs", str(jobs)]
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f)
        # wait4, not wait: the child's own peak RSS (its workers' too, which it reaped).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        stdout, stderr = out_f.read(), err_f.read()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    m = re.search(r"(\d+) pages .*?; (\d+) files written \((\d+) bytes\), (\d+) unchanged", stdout)
    pages, written, bytes_written, unchanged = (int(g) for g in m.groups()) if m else (0, 0, 0, 0)
    return {
        "command": " ".join(cmd),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "pages": pages,
        "written": written,
        "bytes_written": bytes_written,
        "unchanged": unchanged,
        "stdout": stdout.strip(),
    }


def time_snapshot(data: Path) -> float:
    from ledger.read.reader import LogReader
    from ledger.read.views import LogView
    from ledger.storage.sqlite import SqliteStore
    from public_site.sqlite_download import build_snapshot

    store = SqliteStore.open(data / "ledger.sqlite", readonly=True)
    try:
        view = LogView(store)
        view.catch_up()  # the server has done this before the first download
        out = OUT / NAME / "snapshot-timing.sqlite"
        t0 = time.perf_counter()
        build_snapshot(LogReader(store), view, out)
        seconds = time.perf_counter() - t0
        out.unlink()
        return seconds
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", default="10000,100000", help="log sizes, comma-separated")
    ap.add_argument("--grow", type=int, default=1000, help="entries appended for the grown run")
    ap.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="export-site --jobs (default: CPUs)"
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.entries.split(",")]
    results: dict[str, Any] = {"jobs": args.jobs, "runs": {}}
    rows = []
    for n in sizes:
        data = ensure_log(n)
        work = OUT / NAME / f"out-{n}"
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        shutil.rmtree(data / "site-cache", ignore_errors=True)  # the cold run builds it
        runs: dict[str, Any] = {}
        print(f"\n== {n:,} entries ==", flush=True)
        runs["cold"] = run_export(data, work / "mirror", args.jobs)
        runs["cold"]["files"], runs["cold"]["out_bytes"] = du(work / "mirror")
        runs["again"] = run_export(data, work / "mirror", args.jobs)
        grown = work / "grown-log"
        shutil.copytree(data, grown, ignore=shutil.ignore_patterns("site-cache", "BUILT"))
        subprocess.run(
            [cli(), "synth", "--data", str(grown), "--count", str(args.grow)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        runs["grown"] = run_export(grown, work / "mirror", args.jobs)
        runs["snapshot_build_s"] = round(time_snapshot(data), 2)
        for name in ("cold", "again", "grown"):
            r = runs[name]
            size = n + (args.grow if name == "grown" else 0)
            r["entries_per_s"] = round(size / r["seconds"], 1)
            print(
                f"  {name:5}  {r['seconds']:8.1f} s  {r['entries_per_s']:8,.0f} entries/s  "
                f"{r['written']:7} written  {r['unchanged']:7} unchanged  "
                f"peak RSS {r['peak_rss_mb']} MB",
                flush=True,
            )
            rows.append(
                [
                    f"{n:,}",
                    name,
                    f"{r['seconds']:.1f}",
                    f"{r['entries_per_s']:,.0f}",
                    r["written"],
                    r["unchanged"],
                    r["peak_rss_mb"],
                ]
            )
        print(
            f"  snapshot build alone: {runs['snapshot_build_s']:.1f} s; mirror: "
            f"{runs['cold']['files']:,} files, {runs['cold']['out_bytes'] / 1e6:,.0f} MB"
        )
        results["runs"][str(n)] = runs
        shutil.rmtree(work)  # 1.6 GB at 10^5
    print()
    print(
        table(
            rows,
            ["entries", "run", "seconds", "entries/s", "written", "unchanged", "peak RSS MB"],
        )
    )
    write_json(NAME, results)


if __name__ == "__main__":
    main()
