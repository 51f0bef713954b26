"""Durable appends at batch 256: ours (LogWriter.commit) beside Tessera's POSIX driver, same run.

    .venv/bin/python benchmarks/bench_tessera.py [--seconds S] [--repeats R]

A peer on the same machine and the same disk: transparency-dev's Tessera (Go,
``github.com/transparency-dev/tessera``, the version pinned in
``benchmarks/tessera/go.mod``), used as a library by ``benchmarks/tessera/main.go``
(``tessera-bench``), which appends entries to a fresh POSIX log in lockstep
batches of 256 and waits for every ``Add`` future before the next batch.

1. Build ``tessera-bench`` into ``bench-out/tessera/bin/<version>-<hash>/`` with
   the installed Go (``GOTOOLCHAIN=local``; the module asks for Go 1.24), the
   module and build caches under ``bench-out/tessera/`` (nothing outside the
   repository changes), ``-mod=readonly`` (go.sum is the pin). Skipped when that
   binary exists; ``<hash>`` covers main.go, go.mod and go.sum.
2. Sign and ``prepare`` the entries once (``bench_append.make_entries``), enough
   for about ``--seconds`` of our commits; write the leaves that our sequencer
   makes of them (``encode_leaf``: ~467 bytes) one per line for Tessera, so both
   sides log entries of the same bytes and count.
3. ``--repeats`` times, alternating which goes first: ours, one fresh-log run of
   ``bench_append.run(entries, 256)`` (the code path of bench_append.py's batch
   256 row: ``commit(batch, receipts=True)``, SQLite WAL, ``synchronous=FULL``);
   Tessera, one fresh-log run of ``tessera-bench -runs 1`` on the same entries'
   leaves, in ``bench-out/tessera-work/`` (the same disk). Both skip the first
   three batches.
   Each run's CPU time (user + system, every thread: ``time.process_time`` for
   ours, the finished child's rusage for Tessera) per entry is recorded too: on
   this shared 2-core VM it moves much less with the load than entries/s. It
   covers the whole run (log creation, warm-up, Tessera's start and its wait
   for the checkpoint), divided by every entry appended.
4. Check that Tessera's published checkpoint has the RFC 9162 root of those
   leaves (computed here with ``ledger.write.tree``): it logged exactly them.

Durability, the two sides: ours acknowledges after COMMIT, one ``fdatasync`` of
the SQLite WAL, with the batch's leaves, tiles and signed checkpoint in that
transaction. Tessera's future resolves after the batch's entry bundle, tiles and
``.state/treeState`` are each written to an ``O_SYNC`` temporary file, renamed
and the directory fsynced; its signed checkpoint follows from another goroutine
at most every 100 ms (``WithCheckpointInterval``, the driver's minimum): the
"published" figure adds that wait for the last entry.

Writes ``bench-out/tessera.json`` and prints ours/Tessera (best of each).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import OUT, REPO, table, write_json
from bench_append import WARMUP_BATCHES, calibrate, make_entries
from bench_append import run as ours_run

from ledger.write.tree import TreeEdge, leaf_hashes
from verifier.core.leaf import encode_leaf

BATCH = 256
SRC = REPO / "benchmarks" / "tessera"
BUILD = OUT / "tessera"
WORK = OUT / "tessera-work"
#: An upper bound on one Tessera run (a bounded wait, not a measurement).
RUN_TIMEOUT_S = 600

OURS_DURABILITY = (
    "SQLite WAL, synchronous=FULL (wal_autocheckpoint=0, WAL checkpoints on a background "
    "thread): one transaction per batch with its leaves, tiles and the signed checkpoint; "
    "acknowledged (receipts returned) after COMMIT, i.e. after one fdatasync of the WAL"
)


def tessera_version() -> str:
    """The Tessera version that benchmarks/tessera/go.mod requires."""
    for line in (SRC / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "github.com/transparency-dev/tessera":
            return parts[1]
        if parts[:2] == ["require", "github.com/transparency-dev/tessera"]:
            return parts[2]
    raise SystemExit(
        "benchmarks/tessera/go.mod does not require github.com/transparency-dev/tessera"
    )


def source_hash() -> str:
    h = hashlib.sha256()
    for name in ("main.go", "go.mod", "go.sum"):
        h.update(name.encode() + b"\0" + (SRC / name).read_bytes() + b"\0")
    return h.hexdigest()[:12]


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOPATH=str(BUILD / "gopath"),
        GOMODCACHE=str(BUILD / "gopath" / "pkg" / "mod"),
        GOCACHE=str(BUILD / "gocache"),
        # go.sum is the pin: fail rather than change it; the module cache stays deletable.
        GOFLAGS="-mod=readonly -modcacherw",
        # go.mod asks for Go 1.24: build with the installed Go, download no toolchain.
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
    )
    return env


def build() -> tuple[Path, dict[str, Any]]:
    """tessera-bench for the pinned version, built once (returns the binary and build facts)."""
    version = tessera_version()
    binary = BUILD / "bin" / f"{version}-{source_hash()}" / "tessera-bench"
    info: dict[str, Any] = {"tessera_version": version, "binary": str(binary.relative_to(REPO))}
    if binary.exists():
        info["built"] = False
        return binary, info
    go = shutil.which("go")
    if go is None:
        raise BuildError("go is not installed (Tessera is a Go module)", info)
    info["go"] = subprocess.run(
        [go, "version"], check=False, capture_output=True, text=True
    ).stdout.strip()
    print(f"building tessera-bench against Tessera {version} with {info['go']} ...", flush=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_name(f".tessera-bench.{os.getpid()}")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [go, "build", "-trimpath", "-o", str(tmp), "."],
        cwd=SRC,
        env=go_env(),
        check=False,
        capture_output=True,
        text=True,
    )
    info["build_s"] = time.perf_counter() - t0
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        info["stderr"] = proc.stderr[-4000:]
        raise BuildError(f"go build failed (exit {proc.returncode})", info)
    tmp.rename(binary)
    info["built"] = True
    print(f"  built in {info['build_s']:.0f} s: {info['binary']}", flush=True)
    return binary, info


class BuildError(Exception):
    def __init__(self, message: str, info: dict[str, Any]) -> None:
        super().__init__(message)
        self.info = info


def write_leaves(entries: list[Any], path: Path) -> list[bytes]:
    """The leaves our sequencer makes of *entries* (logged_at = now), one per line."""
    now = int(time.time() * 1000)
    leaves = [encode_leaf(p.envelope_json, now) for p in entries]
    if any(b"\n" in leaf for leaf in leaves):
        raise RuntimeError("a leaf contains a newline; the leaves file is line-based")
    path.write_bytes(b"".join(leaf + b"\n" for leaf in leaves))
    return leaves


def children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (tessera-bench runs)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def tessera_run(binary: Path, leaves_file: Path, count: int) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            str(binary),
            "-leaves",
            str(leaves_file),
            "-n",
            str(count),
            "-batch",
            str(BATCH),
            "-runs",
            "1",
            "-warmup",
            str(WARMUP_BATCHES),
            "-checkpoint-interval",
            "100ms",
            "-dir",
            str(WORK),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tessera-bench failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="target time of one run of ours")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each, alternating order")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)

    results: dict[str, Any] = {"batch": BATCH, "warmup_batches": WARMUP_BATCHES}
    try:
        binary, info = build()
    except BuildError as exc:
        results["build"] = {**exc.info, "error": str(exc)}
        print(f"Tessera could not be built: {exc}\n{exc.info.get('stderr', '')}", file=sys.stderr)
        write_json("tessera", results)
        return 1
    results["build"] = info

    per_commit = calibrate(BATCH)
    nbatches = max(40, min(2000, int(args.seconds / per_commit))) + WARMUP_BATCHES
    count = nbatches * BATCH
    print(
        f"~{per_commit * 1e3:.1f} ms per commit of {BATCH} (ours) -> {nbatches} batches, "
        f"signing {count:,} entries (untimed) ...",
        flush=True,
    )
    entries = make_entries(count)
    WORK.mkdir(parents=True, exist_ok=True)
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="leaves-", dir=WORK) as tmp:
        leaves_file = Path(tmp) / "leaves.txt"
        leaves = write_leaves(entries, leaves_file)
        edge = TreeEdge()
        edge.append(leaf_hashes(leaves))
        expected_root = base64.b64encode(edge.root()).decode()
        mean_bytes = sum(map(len, leaves)) / len(leaves)
        print(f"{count:,} leaves of {mean_bytes:.0f} bytes on average", flush=True)
        for i in range(args.repeats):
            order = ("ours", "tessera") if i % 2 == 0 else ("tessera", "ours")
            for side in order:
                if side == "ours":
                    c0 = time.process_time()
                    r = ours_run(entries, BATCH)
                    r["cpu_us_per_entry"] = (time.process_time() - c0) / count * 1e6
                    ours.append(r)
                    rate, cpu_us = r["leaves_per_s"], r["cpu_us_per_entry"]
                else:
                    c0 = children_cpu()
                    t = tessera_run(binary, leaves_file, count)
                    run = t["runs"][0]
                    run["cpu_us_per_entry"] = (children_cpu() - c0) / count * 1e6
                    if run["tree_size"] != count or run["root"] != expected_root:
                        raise RuntimeError(
                            f"Tessera's checkpoint ({run['tree_size']}, {run['root']}) is not the "
                            f"RFC 9162 tree of the {count} leaves ({expected_root})"
                        )
                    theirs.append(t)
                    rate, cpu_us = run["entries_per_s"], run["cpu_us_per_entry"]
                print(
                    f"  repeat {i + 1}, {side}: {rate:,.0f} entries/s, "
                    f"{cpu_us:.1f} µs of CPU per entry",
                    flush=True,
                )

    best_ours = max(ours, key=lambda r: r["leaves_per_s"])
    t_runs = [t["runs"][0] for t in theirs]
    best_t = max(t_runs, key=lambda r: r["entries_per_s"])
    meta = theirs[0]
    ratio = best_ours["leaves_per_s"] / best_t["entries_per_s"]
    med_ours = statistics.median(r["leaves_per_s"] for r in ours)
    med_t = statistics.median(r["entries_per_s"] for r in t_runs)
    results.update(
        {
            "entries_per_run": count,
            "timed_entries_per_run": best_ours["entries"],
            "leaf_bytes_mean": mean_bytes,
            "root_checked": expected_root,
            "ours": {
                "durability": OURS_DURABILITY,
                "pragmas": best_ours["pragmas"],
                "runs": ours,
                "all_entries_per_s": [r["leaves_per_s"] for r in ours],
                "best_entries_per_s": best_ours["leaves_per_s"],
                "median_entries_per_s": med_ours,
                "median_cpu_us_per_entry": statistics.median(r["cpu_us_per_entry"] for r in ours),
            },
            "tessera": {
                "module": meta["tessera_module"],
                "version": meta["tessera_version"],
                "go": meta["go_version"],
                "durability": meta["durability"],
                "batch_max_age": meta["batch_max_age"],
                "checkpoint_interval": meta["checkpoint_interval"],
                "runs": t_runs,
                "all_entries_per_s": [r["entries_per_s"] for r in t_runs],
                "best_entries_per_s": best_t["entries_per_s"],
                "median_entries_per_s": med_t,
                "median_cpu_us_per_entry": statistics.median(r["cpu_us_per_entry"] for r in t_runs),
            },
            "ratio_ours_tessera_best": ratio,
            "ratio_ours_tessera_median": med_ours / med_t,
        }
    )

    print(f"\nours: {OURS_DURABILITY}; pragmas {best_ours['pragmas']} (2 = FULL)")
    print(f"Tessera {meta['tessera_version']} (POSIX driver, {meta['go_version']}):")
    for key, text in meta["durability"].items():
        print(f"  {key}: {text}")
    print(
        f"  WithBatching({BATCH}, {meta['batch_max_age']}), "
        f"WithCheckpointInterval({meta['checkpoint_interval']}), no antispam\n"
    )
    rows = [
        [
            "ours: LogWriter.commit(256, receipts=True)",
            f"{best_ours['leaves_per_s']:,.0f}",
            f"{med_ours:,.0f}",
            f"{best_ours['p50_ms']:.2f}",
            f"{best_ours['p99_ms']:.2f}",
            f"{results['ours']['median_cpu_us_per_entry']:.1f}",
            "in the commit",
        ],
        [
            f"Tessera {meta['tessera_version']} POSIX: Add x256, await futures",
            f"{best_t['entries_per_s']:,.0f}",
            f"{med_t:,.0f}",
            f"{best_t['p50_ms']:.2f}",
            f"{best_t['p99_ms']:.2f}",
            f"{results['tessera']['median_cpu_us_per_entry']:.1f}",
            f"+{best_t['publish_lag_ms']:.0f} ms",
        ],
    ]
    header = ["side", "best entries/s", "median", "p50 ms/batch", "p99 ms/batch", "CPU µs/entry"]
    header.append("checkpoint")
    print(table(rows, header))
    print(
        f"\nours/Tessera = {ratio:.2f} (best of {args.repeats} each; medians: "
        f"{med_ours / med_t:.2f}), {count:,} entries per run of {mean_bytes:.0f} bytes, "
        f"batch {BATCH}, same disk, alternating order"
    )
    write_json("tessera", results)
    return 0


if __name__ == "__main__":
    for stale in OUT.glob("append-tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(main())
