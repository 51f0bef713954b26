"""Restart to ready: how long a governed log's server takes to admit again after a stop.

The writer replays the log for admission at start (``/readyz`` says "replaying"
meanwhile) unless it finds the admission state it stored when it last stopped,
bound to a checkpoint of this log (ledger/storage/admission_db.py: a database whose
records are read as rules need them); then it replays only what came after. Both are
measured in the same run, on the same governed log (bench_verify's generator: real
charter, keys, runs, decisions):

- **replay**: ``DATA/admission-state.sqlite`` removed, ``serve`` started, timed until
  ``/readyz`` answers 200 (as before O(1) restarts);
- **resume**: ``serve`` stopped cleanly (it stores the state), started again,
  timed until ``/readyz`` answers 200.

Each is the best of ``--runs`` starts; the time includes Python's and uvicorn's
start-up, measured alone as the floor: the same server on a synthetic log of one
entry. Logs are built once and kept in bench-out/logs/restart-<N>/.

    .venv/bin/python benchmarks/bench_restart.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import bench_admission as ba
from _common import OUT, REPO, free_port, git_revision, table, write_json
from bench_verify import GENERATOR, governed_entries

from ledger.demo.build import SimulatedClock
from ledger.ops.datadir import DataDir, WriterLock
from ledger.storage.admission_db import AdmissionDB
from ledger.write.admission import ADMISSION_STATE_FORMAT
from ledger.write.open_log import ADMISSION_STATE_NAME, init_log, open_writer
from ledger.write.sequencer import prepare

LOGS = OUT / "logs"
BATCH = 1000


def build(size: int, labs: int) -> Path:
    root = LOGS / f"restart-{size}"
    built = f"{size} {GENERATOR}\n"
    if (root / "BUILT").exists() and (root / "BUILT").read_text() == built:
        return root
    if root.exists():
        shutil.rmtree(root)
    print(f"building a governed log of {size:,} entries in {root}", flush=True)
    t0 = time.perf_counter()
    gen = governed_entries(size, labs)
    first_ms, first_env = next(gen)
    data = DataDir.at(root)
    init_log(data, ba.ORIGIN, created_at_ms=first_ms)
    clock = SimulatedClock(first_ms)
    with WriterLock(data):
        # Built without admission (as bench_verify does): the server admits at start.
        writer = open_writer(data, admit=False, clock=clock)
        try:
            batch = [(first_ms, first_env)]
            for ms, env in gen:
                batch.append((ms, env))
                if len(batch) >= BATCH:
                    clock.ms = batch[-1][0]
                    writer.commit([prepare(e) for _, e in batch], receipts=False)
                    batch = []
            if batch:
                clock.ms = batch[-1][0]
                writer.commit([prepare(e) for _, e in batch], receipts=False)
        finally:
            writer.store.close()
    (root / "clock").unlink(missing_ok=True)
    (root / "BUILT").write_text(built)
    print(f"  built in {time.perf_counter() - t0:.0f} s", flush=True)
    return root


def ready_after_start(root: Path) -> float:
    """Seconds from `serve` spawned to /readyz answering 200; the server is then stopped
    with SIGTERM (a clean stop: it stores its admission state)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "frontier_ledger", "serve", "--data", str(root), "--port",
         str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(120)


def floor_root() -> Path:
    root = LOGS / "restart-floor"
    if not (root / "ledger.sqlite").exists():
        if root.exists():
            shutil.rmtree(root)
        init_log(DataDir.at(root), "restart-floor.example/log", synthetic=True)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--labs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    floor = min(ready_after_start(floor_root()) for _ in range(args.runs))
    rows, results = [], []
    for size in args.sizes:
        root = build(size, args.labs)
        state = root / ADMISSION_STATE_NAME
        replay = []
        for _ in range(args.runs):
            AdmissionDB(state, ADMISSION_STATE_FORMAT).discard()
            replay.append(ready_after_start(root))  # stores the state as it stops
        resume = [ready_after_start(root) for _ in range(args.runs)]
        best_replay, best_resume = min(replay), min(resume)
        results.append(
            {
                "size": size,
                "replay_s": best_replay,
                "resume_s": best_resume,
                "state_bytes": state.stat().st_size,
                "floor_s": floor,
            }
        )
        rows.append(
            [f"{size:,}", f"{best_replay:.1f}", f"{best_resume:.2f}", f"{floor:.2f}",
             f"{state.stat().st_size / 1e6:.1f} MB"]
        )  # fmt: skip
    print(table(rows, ["entries", "replay (s)", "resume (s)", "floor (s)", "state file"]))
    write_json("restart", {"code": git_revision(), "results": results})


if __name__ == "__main__":
    main()
