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
  timed until ``/readyz`` answers 200;
- **S16 on the resumed state** (in process, after the resumes): a compute
  attestation that names no run and that no run covers, checked by the rule (the
  organisation's runs under way, kept in memory, and the runs that ended after the
  period's start, read newest first), against a walk over every stored run (each
  run read from the state's database unless in memory): what one such attestation
  costs the single writer.

Each is the best of ``--runs`` starts; the time includes Python's and uvicorn's
start-up, measured alone as the floor: the same server on a synthetic log of one
entry. Logs are built once and kept in bench-out/logs/restart-<N>/.

    .venv/bin/python benchmarks/bench_restart.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
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
from verifier.entries.payloads import ComputeAttestation
from verifier.policy.calendar import DAY_MS, fmt_time
from verifier.policy.rules.compute import _not_under_way, check_compute_attestation

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


def s16_costs(root: Path, rounds: int = 5) -> dict[str, float | int]:
    """Seconds to check an uncovered run-less attestation on the resumed state: the
    rule, and the walk over every run it replaced (median of *rounds* each)."""
    data = DataDir.at(root)
    with WriterLock(data):
        writer = open_writer(data, admit=True)
        try:
            admission = writer.admission
            if admission is None:
                raise RuntimeError(f"{root} is not a governed log")
            _, engine = admission.state
            if admission.resumed_from is None:
                raise RuntimeError("the state was replayed, not resumed: measure a resume")
            st = engine.state
            org = min(st.live_runs) if st.live_runs else next(iter(st.runs.values())).org
            start = st.last_logged_ms - st.last_logged_ms % DAY_MS
            # One day of compute (a period must end after it starts, S16).
            day, next_day = fmt_time(start), fmt_time(start + DAY_MS)
            b = ComputeAttestation("bench-provider", org, "bench-cluster", day, next_day, "1e40")
            amount = 10**40
            rule, walk = [], []
            for _ in range(rounds):
                t = time.perf_counter()
                found = check_compute_attestation(st, 1 << 40, b, st.last_logged_ms)
                rule.append(time.perf_counter() - t)
                if [f.rule for f in found] != ["S16"]:
                    raise RuntimeError(f"expected one S16 violation, got {found}")
                # A walk over every run: the question asked of each stored record.
                t = time.perf_counter()
                covered = any(
                    _not_under_way(st, r, org, start) is None and r.planned_flop >= amount
                    for r in st.runs.values()
                )
                walk.append(time.perf_counter() - t)
                if covered:
                    raise RuntimeError("a run covers 1e40 FLOP: not the uncovered case")
            return {
                "runs": len(st.runs),
                "rule_s": statistics.median(rule),
                "walk_s": statistics.median(walk),
            }
        finally:
            if writer.admission is not None:
                writer.admission.close()  # nothing saved: the state stays as serve stored it
            writer.store.close()


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
        s16 = s16_costs(root)
        results.append(
            {
                "size": size,
                "replay_s": best_replay,
                "resume_s": best_resume,
                "state_bytes": state.stat().st_size,
                "floor_s": floor,
                "s16": s16,
            }
        )
        rows.append(
            [f"{size:,}", f"{best_replay:.1f}", f"{best_resume:.2f}", f"{floor:.2f}",
             f"{state.stat().st_size / 1e6:.1f} MB", f"{s16['runs']:,}",
             f"{s16['rule_s'] * 1e3:.2f}", f"{s16['walk_s']:.2f}"]
        )  # fmt: skip
    print(
        table(
            rows,
            ["entries", "replay (s)", "resume (s)", "floor (s)", "state file", "runs",
             "S16 rule (ms)", "walk over runs (s)"],
        )
    )  # fmt: skip
    write_json("restart", {"code": git_revision(), "results": results})


if __name__ == "__main__":
    main()
