"""What a log's size costs: fsck and verify time, and disk bytes per entry.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100000,1000000,10000000]
        [--verify-sizes 100000,1000000,10000000]

For each cached synthetic log (``frontier-ledger init --synthetic`` + ``synth``,
under bench-out/logs/, as the proof and append benchmarks use):

- **disk**: the bytes of ``ledger.sqlite`` and of the search index
  ``index.sqlite`` (their WAL files checkpointed away first), per table and index
  (SQLite's ``dbstat``), against the mean leaf length: bytes on disk per entry,
  and that over the leaf's own bytes;
- **fsck**: wall time of ``frontier-ledger fsck --data LOG`` (every leaf read,
  parsed and re-hashed into every tile and checkpoint root; the search index
  compared with the log row by row);
- **verify** (``--verify-sizes``): ``frontier-ledger export`` of the log to a
  temporary directory, then wall time of ``frontier-verify verify --log DIR
  --vkey V`` (one process per core: the defaults); the export is deleted after.

Times are µs per entry too: "linear" means they stay flat as the log grows.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import BIN, OUT, cli, ensure_log, table, write_json


def _checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _tables(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        return {name: int(size) for name, size in rows}
    except sqlite3.OperationalError:  # a SQLite built without dbstat
        return {}
    finally:
        conn.close()


def disk(root: Path) -> dict[str, Any]:
    db, index = root / "ledger.sqlite", root / "index.sqlite"
    for p in (db, index):
        _checkpoint(p)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        leaf = float(conn.execute("SELECT avg(length(leaf)) FROM entries").fetchone()[0])
        # The entries it holds (a build resumed after an interruption may hold a few more
        # than asked for): every per-entry figure divides by this.
        count = int(conn.execute("SELECT max(idx) + 1 FROM entries").fetchone()[0])
    finally:
        conn.close()
    log_bytes, index_bytes = db.stat().st_size, index.stat().st_size
    return {
        "entries": count,
        "mean_leaf_bytes": leaf,
        "log_file_bytes": log_bytes,
        "index_file_bytes": index_bytes,
        "log_bytes_per_entry": log_bytes / count,
        "index_bytes_per_entry": index_bytes / count,
        "bytes_per_entry": (log_bytes + index_bytes) / count,
        "over_leaf": (log_bytes + index_bytes) / count / leaf,
        "log_tables": _tables(db),
        "index_tables": _tables(index),
    }


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def verify(root: Path) -> dict[str, Any]:
    vkey = (root / "log.vkey").read_text().strip()
    with tempfile.TemporaryDirectory(prefix="scale-export-", dir=OUT) as tmp:
        export_s = timed([cli(), "export", "--data", str(root), tmp])
        verify_s = timed([str(BIN / "frontier-verify"), "verify", "--log", tmp, "--vkey", vkey])
    return {"export_s": export_s, "verify_s": verify_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000,10000000")
    ap.add_argument("--verify-sizes", default="100000,1000000,10000000")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    verify_sizes = {int(s) for s in args.verify_sizes.split(",") if s}
    res = []
    for count in sizes:
        root = ensure_log(count)
        print(f"log of {count:,} entries ({root.relative_to(OUT.parent)}) ...", flush=True)
        r: dict[str, Any] = disk(root)
        r["fsck_s"] = timed([cli(), "fsck", "--data", str(root)])
        print(f"  fsck {r['fsck_s']:.1f} s; {r['bytes_per_entry']:.0f} bytes/entry", flush=True)
        if count in verify_sizes:
            r |= verify(root)
            print(f"  export {r['export_s']:.1f} s, verify {r['verify_s']:.1f} s", flush=True)
        res.append(r)

    rows = [
        [
            f"{r['entries']:,}",
            f"{r['fsck_s']:.1f}",
            f"{r['fsck_s'] / r['entries'] * 1e6:.1f}",
            f"{r['verify_s']:.1f}" if "verify_s" in r else "",
            f"{r['verify_s'] / r['entries'] * 1e6:.1f}" if "verify_s" in r else "",
            f"{r['mean_leaf_bytes']:.0f}",
            f"{r['log_bytes_per_entry']:.0f}",
            f"{r['index_bytes_per_entry']:.0f}",
            f"{r['over_leaf']:.2f}",
        ]
        for r in res
    ]
    print()
    header = ["entries", "fsck s", "fsck µs/entry", "verify s", "verify µs/entry"]
    header += ["leaf bytes", "log bytes/entry", "index bytes/entry", "disk / leaf"]
    print(table(rows, header))
    write_json("scale", {"sizes": res})
    return 0


if __name__ == "__main__":
    for stale in OUT.glob("scale-export-*"):
        shutil.rmtree(stale, ignore_errors=True)
    sys.exit(main())
