"""Shared helpers for the benchmarks: paths, timing, cached logs, JSON output.

Benchmarks are not tests: they print figures and write ``bench-out/<name>.json``;
nothing here asserts on time.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import math
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench-out"
BIN = Path(sys.executable).parent
ORIGIN = "bench.frontier-ledger.invalid/log"


def cli() -> str:
    """The frontier-ledger console script of this interpreter's venv."""
    exe = BIN / "frontier-ledger"
    return str(exe) if exe.exists() else "frontier-ledger"


def best_of(fn: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    """Run *fn* *runs* times; return (best seconds, all seconds, last result)."""
    times: list[float] = []
    result: Any = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), times, result


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of *values*."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def git_revision() -> str:
    """Short commit of the code measured, with '+dirty' if ledger/ or verifier/ differ."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "ledger", "verifier"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "commit": git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    env = environment()
    path.write_text(json.dumps({"benchmark": name, **env, **data}, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(REPO)} (code at {env['commit']}, {env['date']})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_dir(count: int) -> Path:
    return OUT / "logs" / f"log-{count}"


def synth_batch(count: int) -> int:
    """Entries per commit when building a cached log.

    About 100 published checkpoints per log (so consistency proofs have old
    sizes to start from), never more than the CLI's 1024; 1000 rather than
    1024 so that old sizes are not aligned to large perfect subtrees.
    """
    return max(1, min(1000, count // 100))


def synthetic_profile() -> bool:
    """True if this build distinguishes synthetic logs (``init --synthetic``).

    Benchmarks append synthetic entries, which only a synthetic log accepts;
    such a log has no admission step (a governed log's server checks every
    entry against its charter, keys and rules, which is not measured here).
    """
    from ledger.write.open_log import init_log

    return "synthetic" in inspect.signature(init_log).parameters


def new_log(data: Any) -> None:
    """``init_log`` for a benchmark log (synthetic where the build has the notion)."""
    from ledger.write.open_log import init_log

    if synthetic_profile():
        init_log(data, ORIGIN, synthetic=True)
    else:
        init_log(data, ORIGIN)


def _schema(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        return [f"{t} {n} {sql}" for t, n, sql in rows]
    finally:
        conn.close()


def current_schema() -> list[str]:
    """The database schema this build of the ledger creates (from a throwaway log)."""
    from ledger.ops.datadir import DataDir

    with tempfile.TemporaryDirectory(prefix="schema-", dir=OUT) as tmp:
        data = DataDir.at(Path(tmp) / "log")
        new_log(data)
        return _schema(data.db_path)


def ensure_log(count: int) -> Path:
    """A log of *count* synthetic entries under bench-out/logs, built once and cached.

    Built with ``frontier-ledger init`` + ``frontier-ledger synth``; a marker
    file is written only after synth succeeded, so an interrupted build is redone.
    A cached log whose database schema differs from what this build creates
    (the store changed since it was built) is rebuilt.
    """
    from ledger.ops.datadir import DataDir

    root = log_dir(count)
    marker = root / "BUILT"
    OUT.mkdir(exist_ok=True)
    if marker.exists():
        if _schema(DataDir.at(root).db_path) == current_schema():
            return root
        print(f"cached log {root.relative_to(REPO)} has an older database schema: rebuilding")
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    print(f"building a log of {count:,} entries in {root.relative_to(REPO)} (cached) ...")
    t0 = time.perf_counter()
    subprocess.run(
        [cli(), "init", "--data", str(root), "--origin", ORIGIN]
        + (["--synthetic"] if synthetic_profile() else []),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [
            cli(),
            "synth",
            "--data",
            str(root),
            "--count",
            str(count),
            "--batch",
            str(synth_batch(count)),
            # sign in two processes while this one commits (the build is the same log)
            *(["--jobs", "2"] if count >= 10**5 and _synth_has_jobs() else []),
        ],
        check=True,
    )
    marker.write_text(f"{count} entries, built by code at {git_revision()}\n")
    print(f"  built in {time.perf_counter() - t0:.1f} s")
    return root


def _synth_has_jobs() -> bool:
    out = subprocess.run([cli(), "synth", "--help"], capture_output=True, text=True, check=False)
    return "--jobs" in out.stdout


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
