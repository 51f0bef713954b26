"""The standalone verifier on a governed log: verify and audit vs a floor, memory, cores.

    .venv/bin/python benchmarks/bench_verify.py [--size 100000] [--small 10000] [--new 1000]
        [--labs 50] [--runs 3] [--no-profile] [--rebuild]

Logs (built once, cached in ``bench-out/verify-logs/``; each is a static tlog-tiles
export plus the log's vkey): governed logs of ``--size`` (10^5), ``--small`` (10^4)
and ``--new`` (10^3) entries, and the ``--size`` log extended by ``--new`` entries.
Their entries come from ``bench_admission``'s generator (charter of
``tests/scenarios/base.toml`` signed by two governors, board-quorum key grants,
organisations, an evaluation suite, then runs of pre-registration, training
started/completed, submission, evaluation result and decision on the charter's
calendar, then pending pre-registrations), really signed with the deterministic
actor keys of ``ledger.demo.scenario.actor_key``. They are appended with
``LogWriter.commit`` (``admit=False``: no admission at build time) on a simulated
clock: entries whose dates fall within the same hour are one commit whose
``logged_at`` is the last of those dates, so every ``logged_at`` is at most an hour
after its entry's date. The audit below must find no violation: it checks the build.

1. ``frontier-verify audit --log DIR --vkey VKEY --quiet --at T`` on the 10^5 log, as a
   subprocess (wall time, best of ``--runs``), and the same in-process
   (``verifier.cli.main``), against a floor measured in the same run (audit and floor
   interleaved round by round, so a busy moment of the shared machine hits both): the same
   Ed25519 verifications (cryptography's ``Ed25519PublicKey.verify``, same keys,
   same PAE messages, keys loaded beforehand) plus the RFC 9162 tree hashing
   (``hashlib``: a leaf hash per entry, a node hash per pair) in bare loops, over
   leaves already in memory. ``--at`` is the last entry's time, so the report does not
   depend on the wall clock. Where the rest goes: each stage of ``Auditor.feed``
   timed on its own over the same leaves (tile check, ``parse_leaf``,
   ``LogReplay.admit``, of which signatures, payload schema and the reference walk,
   ``PolicyEngine.apply``, report), and a
   cProfile listing of the in-process audit (``--no-profile`` skips it). For
   reference, ``frontier-verify verify`` (tiles and leaf shapes, no signatures).
2. Peak RSS (``ru_maxrss`` of each child, from ``os.wait4`` in a small launcher
   process: see ``LAUNCHER``) of the audit at 10^3,
   10^4 and 10^5 entries (and of ``verify``), and what the auditor's state holds
   after 10^5 entries (a deep ``sys.getsizeof`` of each of its structures).
3. ``verify --state S`` when the 10^5 log grew by 10^3 entries (S holds the checkpoint
   at 10^5; a fresh copy per run) against ``verify --state EMPTY`` of a fresh
   10^3-entry log: subprocess and in-process, best of ``--runs``; and the in-process
   parts of each (consistency proof, new leaves with their inclusion proofs, parsing).
4. 10^5 Ed25519 verifications (the log's own (key, signature, PAE) triples, repeated
   to the count) in one process, and on a ``multiprocessing`` pool of 2: triples
   sent to the workers in chunks, or inherited by fork (nothing sent); the pool's
   start-up is timed apart; the three are interleaved round by round.

Benchmarks, not tests: figures are printed and written to ``bench-out/verify.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import gc
import hashlib
import io
import json
import multiprocessing
import os
import pstats
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_admission as ba
from _common import BIN, OUT, REPO, git_revision, table, write_json
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.demo.build import SimulatedClock
from ledger.ops.datadir import DataDir, WriterLock
from ledger.read.mirror import export_log
from ledger.read.reader import LogReader
from ledger.storage.sqlite import SqliteStore
from ledger.write.open_log import init_log, open_writer
from ledger.write.sequencer import prepare
from verifier.cli import main as verify_main
from verifier.client import sigpool
from verifier.client.fetch import LogSource, RemoteBlobs
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.leaf import format_logged_at, pae, parse_leaf
from verifier.core.note import parse_vkey
from verifier.core.tiles import ENTRIES, parse_entry_bundle, tiles_for_size
from verifier.entries.replay import LogReplay
from verifier.policy.audit import Auditor
from verifier.policy.engine import PolicyEngine
from verifier.policy.report import report_text

LOGS = OUT / "verify-logs"
#: Bump when the generator or the build changes: cached logs are then rebuilt.
GENERATOR = "verify-logs/3 (bench_admission generator with research access, hour-grouped commits)"
GROUP_MS = 3_600_000
MAX_BATCH = 256
POOL_CHUNK = 1000


def fmt_s(s: float) -> str:
    return f"{s:.2f}" if s < 100 else f"{s:.0f}"


# -- the logs ---------------------------------------------------------------------


def governed_entries(
    size: int, n_labs: int, extra: int = 0
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(date ms, envelope) of a governed log of *size* entries, then *extra* more.

    The first *size* entries are bench_admission's ``build_state(size)`` entries
    (same order, same dates); the *extra* ones continue its tail of pending
    pre-registrations, a minute apart.
    """
    labs = [f"lab-{i:03d}" for i in range(n_labs)]
    runs_total = ba.runs_for(size, n_labs)
    if runs_total < 1:
        raise SystemExit(f"size {size} is too small for {n_labs} labs")
    charter, governors = ba.charter_body()
    yield ba.at(2026, 10, 1, 9), ba.signed("charter", charter, governors[0], governors[1])
    index = 1
    t = ba.at(2026, 10, 1, 10)
    pairs = [
        (governors[0], governors[1]),
        (governors[0], governors[2]),
        (governors[1], governors[2]),
    ]
    actors = [("regulator", "regulator"), ("evaluator", "evaluator")]
    actors += [(lab, f"lab:{lab}") for lab in labs]
    for i, (actor, role) in enumerate(actors):
        yield t + i * 1000, ba.signed("key_grant", ba.grant(actor, role), *pairs[i % 3])
        index += 1
    t = ba.at(2026, 10, 2, 9)
    for i, lab in enumerate(labs):
        body = {
            "org_id": lab,
            "legal_name": f"Laboratory {i} (fictional)",
            "jurisdiction": "Simulated Republic",
            "kind": "lab",
        }
        yield t + i * 1000, ba.signed("organisation", body, "regulator")
        index += 1
    suite_body = {
        "suite_id": "core",
        "version": "2027.1",
        "levels": [1],
        "public": {"sealed": False, "sha256": "1" * 64},
    }
    suite = index
    yield ba.at(2026, 10, 3, 9), ba.signed("eval_suite", suite_body, "evaluator")
    index += 1
    steps, next_cycle = ba.bulk_steps(runs_total, labs)
    for ms, _, kind, run in steps:
        assert run is not None
        yield ms, ba.bulk_envelope(kind, run, ms, index, suite)
        index += 1
    t = ba.at(next_cycle, 1, 5)
    i = 0
    while index < size + extra:
        lab = labs[i % len(labs)]
        body = ba.prereg_body(
            lab, f"{lab}-{next_cycle}-p{i:04d}", next_cycle, ba.at(next_cycle, 3, 1)
        )
        yield t + i * 60_000, ba.signed("preregistration", body, lab)
        index += 1
        i += 1


@dataclass(frozen=True)
class LogInfo:
    name: str
    root: Path
    size: int

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def vkey(self) -> Path:
        return self.root / "vkey"

    @property
    def marker(self) -> Path:
        return self.root / "BUILT.json"

    def meta(self) -> dict[str, Any]:
        return dict(json.loads(self.marker.read_text()))

    def checkpoint(self) -> SignedCheckpoint:
        key = parse_vkey(self.vkey.read_text().strip())
        return open_checkpoint((self.export / "checkpoint").read_bytes(), key)


def log_info(size: int, extra: int = 0) -> LogInfo:
    # No '+' in the name: frontier-verify reads a --vkey value containing '+' as the key itself.
    name = f"log-{size}" + (f"-plus-{extra}" if extra else "")
    return LogInfo(name, LOGS / name, size + extra)


def _cached(info: LogInfo, labs: int) -> bool:
    if not info.marker.exists():
        return False
    meta = info.meta()
    return bool(
        meta.get("generator") == GENERATOR
        and meta.get("labs") == labs
        and meta.get("size") == info.size
    )


def build_logs(size: int, labs: int, extra: int, rebuild: bool) -> list[LogInfo]:
    """The log of *size* entries and, with *extra*, that log grown by *extra* entries."""
    wanted = [log_info(size)] + ([log_info(size, extra)] if extra else [])
    if not rebuild and all(_cached(w, labs) for w in wanted):
        return wanted
    for w in wanted:
        if w.root.exists():
            shutil.rmtree(w.root)
    work = LOGS / f".build-{size}"
    if work.exists():
        shutil.rmtree(work)
    LOGS.mkdir(parents=True, exist_ok=True)
    print(f"building a governed log of {size:,} entries" + (f" (+{extra:,})" if extra else ""))
    t0 = time.perf_counter()
    gen = governed_entries(size, labs, extra)
    first_ms, first_env = next(gen)
    data = DataDir.at(work)
    vkey = init_log(data, ba.ORIGIN, created_at_ms=first_ms)
    clock = SimulatedClock(first_ms)
    types: Counter[str] = Counter()
    commits = 0
    written = 0
    sign_s = 0.0
    lock = WriterLock(data)
    lock.acquire()
    try:
        writer = open_writer(data, admit=False, clock=clock)
        try:
            pending: list[tuple[int, dict[str, Any]]] = [(first_ms, first_env)]

            def flush() -> None:
                nonlocal commits, written
                if not pending:
                    return
                clock.ms = pending[-1][0]
                writer.commit([prepare(env) for _, env in pending], receipts=False)
                for _, env in pending:
                    types[env["payloadType"].split(".")[2]] += 1
                written += len(pending)
                commits += 1
                pending.clear()

            def export_at(info: LogInfo) -> None:
                flush()
                reader = LogReader(SqliteStore.open(data.db_path, readonly=True))
                try:
                    stats = export_log(reader, info.export)
                finally:
                    reader.store.close()
                assert stats.size == info.size, (stats.size, info.size)
                info.vkey.write_text(vkey + "\n")
                info.marker.write_text(
                    json.dumps(
                        {
                            "generator": GENERATOR,
                            "origin": ba.ORIGIN,
                            "size": info.size,
                            "labs": labs,
                            "types": dict(types),
                            "commits": commits,
                            "last_logged_at": format_logged_at(clock.ms),
                            "last_logged_ms": clock.ms,
                            "build_s": time.perf_counter() - t0,
                            "sign_s": sign_s,
                            "code": git_revision(),
                        },
                        indent=2,
                    )
                    + "\n"
                )
                print(
                    f"  {info.name}: {info.size:,} entries in {commits:,} commits, exported "
                    f"({time.perf_counter() - t0:.0f} s so far)"
                )

            targets = [(w.size, w) for w in wanted]
            while True:
                ts = time.perf_counter()
                item = next(gen, None)
                sign_s += time.perf_counter() - ts
                if item is None:
                    break
                ms, env = item
                if pending and (
                    ms // GROUP_MS != pending[-1][0] // GROUP_MS or len(pending) >= MAX_BATCH
                ):
                    flush()
                pending.append((ms, env))
                if targets and written + len(pending) == targets[0][0]:
                    export_at(targets.pop(0)[1])  # a commit never straddles a target size
            assert not targets and not pending, (targets, len(pending))
        finally:
            writer.store.close()
    finally:
        lock.release()
    shutil.rmtree(work)
    return wanted


# -- running frontier-verify ----------------------------------------------------


@dataclass
class ChildRun:
    wall_s: float
    cpu_s: float
    maxrss_kib: int
    rc: int
    first_line: str


#: Forks and execs the command, and reports the child's rusage from wait4. The command must
#: not be forked from this benchmark: Linux records the pre-exec memory's high-water mark
#: in ru_maxrss, so a child of a process holding 10^5 leaves would report that process's
#: RSS. This launcher (python -S) is a few MB, below any frontier-verify run.
LAUNCHER = """
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(out, "w") as f:
    json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
               "maxrss_kib": ru.ru_maxrss, "rc": os.waitstatus_to_exitcode(status)}, f)
"""


#: Where the children keep their bytecode. An installed verifier (``pip install``) has
#: its modules compiled; a checkout run with PYTHONDONTWRITEBYTECODE (as CI shells and
#: this machine's are) compiles every module again at each start, ~0.15 s, which at
#: 10^4 entries is a tenth of a run. The children get bytecode kept here instead.
PYCACHE = OUT / "pycache"


def child_env() -> dict[str, str]:
    """The environment of a timed ``frontier-verify``: bytecode written and read."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def compile_verifier() -> None:
    """Compile the verifier (and, by one start, what it imports) before any timed run."""
    env = child_env()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "verifier")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    exe = BIN / "frontier-verify"
    cmd = [str(exe if exe.exists() else shutil.which("frontier-verify")), "--help"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


def run_child(args: Sequence[str]) -> ChildRun:
    """Run ``frontier-verify ARGS``; wall time, CPU time and peak RSS of that child alone."""
    exe = BIN / "frontier-verify"
    cmd = [str(exe if exe.exists() else shutil.which("frontier-verify")), *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "rusage.json"
        subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, str(result), *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=child_env(),
            check=True,
        )
        got = json.loads(result.read_text())
        out.seek(0)
        text = out.read().decode(errors="replace")
    first = " | ".join(text.splitlines()[:2])
    if got["rc"] not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {got['rc']}:\n{text[:2000]}")
    return ChildRun(got["wall_s"], got["cpu_s"], got["maxrss_kib"], got["rc"], first)


def summarize(got: Sequence[ChildRun]) -> dict[str, Any]:
    best = min(got, key=lambda r: r.wall_s)
    return {
        "best_s": best.wall_s,
        "all_s": [r.wall_s for r in got],
        "cpu_s": best.cpu_s,
        "maxrss_kib": max(r.maxrss_kib for r in got),
        "rc": best.rc,
        "output": best.first_line,
    }


def best_child(
    args: Sequence[str], runs: int, before: Callable[[], None] | None = None
) -> dict[str, Any]:
    got: list[ChildRun] = []
    for _ in range(runs):
        if before is not None:
            before()
        got.append(run_child(args))
    return summarize(got)


def in_process(
    argv: Sequence[str], runs: int, before: Callable[[], None] | None = None
) -> dict[str, Any]:
    """``verifier.cli.main(argv)`` in this process (modules already imported), best of *runs*."""
    times: list[float] = []
    rc = -1
    text = ""
    for _ in range(runs):
        if before is not None:
            before()
        gc.collect()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            t0 = time.perf_counter()
            rc = verify_main(list(argv))
            times.append(time.perf_counter() - t0)
        text = buf.getvalue()
    return {
        "best_s": min(times),
        "all_s": times,
        "rc": rc,
        "output": " | ".join(text.splitlines()[:2]),
    }


# -- the floor and the stages -----------------------------------------------------


def read_leaves(info: LogInfo) -> list[bytes]:
    source = LogSource(str(info.export))
    leaves: list[bytes] = []
    for bundle in tiles_for_size(info.size, ENTRIES):
        leaves.extend(parse_entry_bundle(source.fetch(bundle.path), bundle.width))
    return leaves


Triple = tuple[bytes, bytes, bytes]  # (raw public key, signature, message)


def actor_keys(n_labs: int) -> dict[str, bytes]:
    """keyid -> raw public key of every actor the generator signs with."""
    _, governors = ba.charter_body()
    names = [*governors, "regulator", "evaluator", *(f"lab-{i:03d}" for i in range(n_labs))]
    return {ba.KEYS(n).keyid: ba.KEYS(n).public_bytes for n in names}


def signature_triples(leaves: Sequence[bytes], keys: dict[str, bytes]) -> list[Triple]:
    """Every envelope signature with its key and its PAE message, in log order."""
    out: list[Triple] = []
    for leaf in leaves:
        env = parse_leaf(leaf).envelope
        message = pae(env.payload_type, env.payload)
        out.extend((keys[s.keyid], s.sig, message) for s in env.signatures)
    return out


def floor_signatures(triples: Sequence[tuple[Ed25519PublicKey, bytes, bytes]]) -> None:
    for key, sig, message in triples:
        key.verify(sig, message)


def floor_tree(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 root: a leaf hash per leaf, then pairs level by level (odd node promoted)."""
    sha = hashlib.sha256
    level = [sha(b"\x00" + x).digest() for x in leaves]
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """One run of *fn*; objects alive before it are frozen (a collection does not rescan them)."""
    gc.collect()
    gc.freeze()
    try:
        t0 = time.perf_counter()
        result = fn()
        return time.perf_counter() - t0, result
    finally:
        gc.unfreeze()


def stages(info: LogInfo, leaves: list[bytes], now_ms: int) -> dict[str, Any]:
    """Each part of ``cmd_audit`` timed alone over the same leaves (one run each)."""
    from verifier.client.tilelog import verify_tile_log
    from verifier.entries.codec import parse_payload, references

    cp = info.checkpoint()
    source = LogSource(str(info.export))
    out: dict[str, float] = {}
    out["tiles: fetch bundles + tiles, leaf/node hashes (verify_tile_log)"], _ = _timed(
        lambda: verify_tile_log(cp, source.fetch)
    )
    s, parsed = _timed(lambda: [parse_leaf(x) for x in leaves])
    out["parse_leaf (leaf JSON, DSSE shape, base64, logged_at)"] = s
    replay = LogReplay(ba.ORIGIN)
    s, checked = _timed(lambda: [replay.admit(p.envelope, i) for i, p in enumerate(parsed)])
    out["LogReplay.admit (signatures + schema + roles + refs)"] = s
    registry = replay.registry
    assert registry is not None
    out["  of which KeyRegistry.verify_signers (Ed25519)"], _ = _timed(
        lambda: [registry.verify_signers(p.envelope) for p in parsed]
    )
    out["  of which parse_payload (payload JSON + schema)"], _ = _timed(
        lambda: [
            parse_payload(p.envelope.payload, expected_type=p.envelope.entry_type) for p in parsed
        ]
    )
    out["  of which codec.references (L4 reference walk)"], _ = _timed(
        lambda: [references(c.payload.body) for c in checked]
    )
    engine = PolicyEngine(RemoteBlobs(source))
    out["PolicyEngine.apply (schedule rules S1-S14)"], _ = _timed(
        lambda: [
            engine.apply(c.index, c.payload, p.logged_at_ms)
            for c, p in zip(checked, parsed, strict=True)
        ]
    )
    checked.clear()  # free the payloads before the whole-feed run
    auditor = Auditor(cp.origin, RemoteBlobs(source))
    feed_s, _ = _timed(lambda: [auditor.feed(x) for x in leaves])
    s, text = _timed(lambda: report_text(auditor.report(now_ms)))
    out["report + report_text"] = s
    report = auditor.report(now_ms)
    findings = Counter(f"{f.rule} {f.severity}" for f in report.findings)
    return {
        "seconds": out,
        "auditor_feed_s": feed_s,
        "findings": dict(findings),
        "report_first_line": text.splitlines()[0],
        "parsed": parsed,
        "replay": replay,
        "auditor": auditor,
    }


def incremental_parts(big: LogInfo, grown: LogInfo, fresh: LogInfo) -> dict[str, float]:
    """In-process parts of ``verify --state`` (+new on big) and of ``verify`` (fresh log)."""
    from verifier.client.consistency import check_consistent
    from verifier.client.tilelog import fetch_new_leaves, verify_tile_log

    old, new = big.checkpoint(), grown.checkpoint()
    source = LogSource(str(grown.export))
    out: dict[str, float] = {}
    out["incremental: check_consistent (proof from tiles)"], _ = _timed(
        lambda: check_consistent(old, new, source.fetch)
    )
    s, leaves = _timed(lambda: fetch_new_leaves(new, source.fetch, old.size))
    out["incremental: fetch_new_leaves (bundles + an inclusion proof per leaf)"] = s
    out["incremental: parse_leaf of the new leaves"], _ = _timed(
        lambda: [parse_leaf(x) for x in leaves]
    )
    fcp = fresh.checkpoint()
    fsource = LogSource(str(fresh.export))
    out["fresh: verify_tile_log + parse_leaf"], _ = _timed(
        lambda: verify_tile_log(fcp, fsource.fetch, lambda _, xs: [parse_leaf(x) for x in xs])
    )
    return out


# -- what the auditor holds -------------------------------------------------------


def deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of *obj* and everything it references not already in *seen* (getsizeof)."""
    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, type) or (callable(o) and not hasattr(o, "__dict__")):
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif isinstance(o, str | bytes | bytearray | int | float | bool) or o is None:
            continue
        else:
            if hasattr(o, "__dict__"):
                stack.append(vars(o))
            for name in getattr(type(o), "__slots__", ()):
                if hasattr(o, name):
                    stack.append(getattr(o, name))
    return total


def auditor_sizes(auditor: Auditor) -> dict[str, int]:
    """Deep size of each structure of the auditor's state (shared objects counted once)."""
    seen: set[int] = set()
    out: dict[str, int] = {}
    replay = auditor.replay
    for f in dataclasses.fields(replay):
        out[f"replay.{f.name}"] = deep_size(getattr(replay, f.name), seen)
    state = auditor.engine.state
    for f in dataclasses.fields(state):
        out[f"policy.{f.name}"] = deep_size(getattr(state, f.name), seen)
    out["findings"] = deep_size(auditor.findings, seen)
    return out


# -- signatures on two cores -------------------------------------------------------

#: The triples the pool's workers inherit (fork).
_SHARED: dict[str, list[Triple]] = {}
_KEY_CACHE: dict[bytes, Ed25519PublicKey] = {}


def _key(raw: bytes) -> Ed25519PublicKey:
    key = _KEY_CACHE.get(raw)
    if key is None:
        key = _KEY_CACHE[raw] = Ed25519PublicKey.from_public_bytes(raw)
    return key


def _verify_chunk(chunk: Sequence[Triple]) -> int:
    for raw, sig, message in chunk:
        _key(raw).verify(sig, message)
    return len(chunk)


def _verify_range(bounds: tuple[int, int]) -> int:
    return _verify_chunk(_SHARED["triples"][bounds[0] : bounds[1]])


def parallel_signatures(triples: list[Triple], count: int, runs: int) -> dict[str, Any]:
    work = _SHARED["triples"] = (triples * (count // len(triples) + 1))[:count]
    chunks = [work[i : i + POOL_CHUNK] for i in range(0, count, POOL_CHUNK)]
    ranges = [(i, min(i + POOL_CHUNK, count)) for i in range(0, count, POOL_CHUNK)]
    _verify_chunk(work[:100])  # load the keys
    ctx = multiprocessing.get_context("fork")  # workers inherit _SHARED
    t0 = time.perf_counter()
    pool = ctx.Pool(2)
    pool.map(_verify_range, [(0, 100), (100, 200)])  # started, keys loaded
    startup = time.perf_counter() - t0
    single: list[float] = []
    sent: list[float] = []
    inherited: list[float] = []
    n1 = n2 = 0
    try:
        for _ in range(runs):  # interleaved, so a busy moment does not land on one only
            single.append(_timed(lambda: _verify_chunk(work))[0])
            t, n1 = _timed(lambda: sum(pool.map(_verify_chunk, chunks)))
            sent.append(t)
            t, n2 = _timed(lambda: sum(pool.map(_verify_range, ranges)))
            inherited.append(t)
    finally:
        pool.close()
        pool.join()
    assert n1 == n2 == count
    return {
        "count": count,
        "chunk": POOL_CHUNK,
        "single_s": min(single),
        "pool2_sent_s": min(sent),
        "pool2_inherited_s": min(inherited),
        "all_s": {"single": single, "pool2_sent": sent, "pool2_inherited": inherited},
        "pool_startup_s": startup,
        "speedup_sent": min(single) / min(sent),
        "speedup_inherited": min(single) / min(inherited),
        "us_per_verify_single": min(single) / count * 1e6,
        "load_average": os.getloadavg()[0],
    }


# -- profile ------------------------------------------------------------------------


def _label(file: str, line: int, func: str) -> str:
    if file == "~":
        return func  # a built-in: "<method 'verify' of ... objects>"
    for prefix, short in (
        (str(REPO) + "/", ""),
        (sysconfig.get_paths()["purelib"] + "/", "<site>/"),
        (sysconfig.get_paths()["stdlib"] + "/", "<stdlib>/"),
    ):
        if file.startswith(prefix):
            file = short + file[len(prefix) :]
            break
    return f"{file}:{line}({func})"


def profile_audit(argv: Sequence[str], path: Path, top: int = 18) -> dict[str, Any]:
    prof = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        prof.enable()
        verify_main(list(argv))
        prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    path.write_text(buf.getvalue())
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())

    def rows(column: int) -> list[dict[str, Any]]:
        ordered = sorted(raw.items(), key=lambda kv: kv[1][column], reverse=True)
        return [
            {
                "function": _label(file, line, func),
                "calls": ncalls,
                "tottime_s": tottime,
                "cumtime_s": cumtime,
                "share_own": tottime / total if total else 0.0,
                "share_cumulative": cumtime / total if total else 0.0,
            }
            for (file, line, func), (_, ncalls, tottime, cumtime, _) in ordered[:top]
        ]

    return {"total_s": total, "by_own_time": rows(2), "by_cumulative_time": rows(3)}


# -- main ---------------------------------------------------------------------------


def quick(args: argparse.Namespace) -> int:
    """``--quick``: only ``verify --jobs 1`` against the floor, interleaved (wall and CPU
    time: on a loaded machine CPU time is the steadier), and the peak RSS of ``audit
    --jobs 1`` and ``audit --low-memory --jobs 1`` at each size of ``--memory-sizes``."""
    (big,) = build_logs(args.size, args.labs, 0, args.rebuild)
    leaves = read_leaves(big)
    loaded = [
        (_key(raw), sig, msg) for raw, sig, msg in signature_triples(leaves, actor_keys(args.labs))
    ]
    cmd = ["verify", "--log", str(big.export), "--vkey", str(big.vkey), "--quiet", "--jobs", "1"]
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    rounds: list[dict[str, float]] = []
    print(f"verify --jobs 1 of {big.size:,} entries against the floor, interleaved:", flush=True)
    for r in range(max(1, args.runs)):
        child = run_child(cmd)
        cpu0 = time.process_time()
        sig_s = _timed(lambda: floor_signatures(loaded))[0]
        tree_s = _timed(lambda: floor_tree(leaves))[0]
        floor_cpu = time.process_time() - cpu0
        floor_s = sig_s + tree_s
        ratios.append(child.wall_s / floor_s)
        cpu_ratios.append(child.cpu_s / floor_cpu)
        rounds.append(
            {
                "verify_s": child.wall_s,
                "verify_cpu_s": child.cpu_s,
                "floor_s": floor_s,
                "floor_cpu_s": floor_cpu,
                "ratio": ratios[-1],
                "cpu_ratio": cpu_ratios[-1],
            }
        )
        print(
            f"  round {r + 1}: verify {child.wall_s:.2f} s (CPU {child.cpu_s:.2f}), floor "
            f"{floor_s:.2f} s (CPU {floor_cpu:.2f}; Ed25519 {sig_s:.2f} + tree {tree_s:.2f}) "
            f"= {ratios[-1]:.2f}x wall, {cpu_ratios[-1]:.2f}x CPU "
            f"(load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    memory: dict[str, Any] = {}
    for size in (int(x) for x in args.memory_sizes.split(",") if x):
        (info,) = build_logs(size, args.labs, 0, args.rebuild)
        at = format_logged_at(int(info.meta()["last_logged_ms"]))
        base = ["audit", "--log", str(info.export), "--vkey", str(info.vkey), "--quiet"]
        base += ["--at", at, "--jobs", "1"]
        for label, extra in (("audit", []), ("audit --low-memory", ["--low-memory"])):
            got = run_child([*base, *extra])
            memory[f"{label} {size}"] = {
                "maxrss_kib": got.maxrss_kib,
                "wall_s": got.wall_s,
                "first_line": got.first_line,
                "rc": got.rc,
            }
            print(
                f"  {label} of {size:,}: peak RSS {got.maxrss_kib / 1024:.0f} MiB, "
                f"{got.wall_s:.1f} s",
                flush=True,
            )
    best = min(ratios)
    print(
        f"verify --jobs 1 / floor: best {best:.2f}, rounds {', '.join(f'{x:.2f}' for x in ratios)}"
    )
    write_json(
        "verify-quick", {"size": big.size, "rounds": rounds, "best_ratio": best, "memory": memory}
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--size", type=int, default=100_000, help="the large log (default 10^5)")
    ap.add_argument("--small", type=int, default=10_000, help="second size for memory (10^4)")
    ap.add_argument("--new", type=int, default=1000, help="entries added for the incremental run")
    ap.add_argument("--labs", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3, help="runs per timing (best is kept)")
    ap.add_argument("--no-profile", action="store_true", help="skip the cProfile audit run")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached logs")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="only verify --jobs 1 against the floor and audit's peak RSS per --memory-sizes",
    )
    ap.add_argument("--memory-sizes", default="10000,100000", help="for --quick, comma-separated")
    args = ap.parse_args(argv)
    compile_verifier()
    if args.quick:
        return quick(args)
    runs = max(1, args.runs)

    load_start = os.getloadavg()[0]
    t_build = time.perf_counter()
    big, grown = build_logs(args.size, args.labs, args.new, args.rebuild)
    (small,) = build_logs(args.small, args.labs, 0, args.rebuild)
    (fresh,) = build_logs(args.new, args.labs, 0, args.rebuild)
    logs = {i.name: i.meta() for i in (big, grown, small, fresh)}
    print(
        f"logs ready in {time.perf_counter() - t_build:.1f} s (cached in {LOGS.relative_to(REPO)})"
    )

    def audit_args(info: LogInfo) -> list[str]:
        at = format_logged_at(int(info.meta()["last_logged_ms"]))
        return ["audit", "--log", str(info.export), "--vkey", str(info.vkey), "--quiet", "--at", at]

    def verify_args(info: LogInfo, *extra: str) -> list[str]:
        return ["verify", "--log", str(info.export), "--vkey", str(info.vkey), "--quiet", *extra]

    # 1. the audit against the floor ---------------------------------------------
    audit_cmd = audit_args(big)
    leaves = read_leaves(big)
    now_ms = int(big.meta()["last_logged_ms"])
    cp = big.checkpoint()
    triples = signature_triples(leaves, actor_keys(args.labs))
    loaded = [(_key(raw), sig, msg) for raw, sig, msg in triples]
    print(
        f"\n[1] audit of {big.size:,} entries and the floor, interleaved, {runs} rounds "
        f"(load average {os.getloadavg()[0]:.2f}) ...",
        flush=True,
    )
    cores = sigpool.available_cores()
    #: The four ways of checking the whole log, each against the same floor.
    commands = {
        "verify --jobs 1": verify_args(big, "--jobs", "1"),
        f"verify --jobs {cores}": verify_args(big, "--jobs", str(cores)),
        "audit --jobs 1": [*audit_cmd, "--jobs", "1"],
        f"audit --jobs {cores}": [*audit_cmd, "--jobs", str(cores)],
    }
    child_runs: dict[str, list[ChildRun]] = {name: [] for name in commands}
    sig_times: list[float] = []
    tree_times: list[float] = []
    root = b""
    for r in range(runs):
        for name, cmd in commands.items():
            child_runs[name].append(run_child(cmd))
        sig_times.append(_timed(lambda: floor_signatures(loaded))[0])
        t, root = _timed(lambda: floor_tree(leaves))
        tree_times.append(t)
        print(
            f"    round {r + 1}: floor {sig_times[-1] + tree_times[-1]:.2f} s; "
            + ", ".join(f"{n} {v[-1].wall_s:.2f} s" for n, v in child_runs.items())
            + f" (load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    children = {name: summarize(v) for name, v in child_runs.items()}
    for name, got in children.items():
        print(f"    {name}: {got['output']}")
    sig_s, tree_s = min(sig_times), min(tree_times)
    floor_s = sig_s + tree_s
    round_ratios = {
        name: [a.wall_s / (s + t) for a, s, t in zip(v, sig_times, tree_times, strict=True)]
        for name, v in child_runs.items()
    }
    ratios = {name: got["best_s"] / floor_s for name, got in children.items()}
    floor = {
        "ed25519_verifications": len(loaded),
        "ed25519_s": sig_s,
        "ed25519_all_s": sig_times,
        "us_per_verify": sig_s / len(loaded) * 1e6,
        "tree_hashes": 2 * len(leaves) - 1,
        "tree_s": tree_s,
        "tree_all_s": tree_times,
        "total_s": floor_s,
        "root_matches_checkpoint": root == cp.root,
        "note": "one process; plus the checkpoint's one signature (not counted: microseconds)",
    }
    print("    in-process runs and stages ...", flush=True)
    audit_inproc = in_process([*audit_cmd, "--jobs", "1"], 1)
    verify_inproc = in_process(verify_args(big, "--jobs", "1"), 1)
    st = stages(big, leaves, now_ms)
    st.pop("parsed")
    replay, auditor = st.pop("replay"), st.pop("auditor")

    profile: dict[str, Any] = {}
    profile_path = OUT / "verify-profile.txt"
    if not args.no_profile:
        print("    cProfile of the in-process audit ...", flush=True)
        profile = profile_audit([*audit_cmd, "--jobs", "1"], profile_path)

    # 2. memory --------------------------------------------------------------------
    print("\n[2] peak RSS ...", flush=True)
    memory: dict[str, Any] = {"--help (interpreter + imports)": best_child(["--help"], 1)}
    for info in (fresh, small):
        memory[f"audit {info.size}"] = best_child([*audit_args(info), "--jobs", "1"], 1)
        memory[f"verify {info.size}"] = best_child(verify_args(info, "--jobs", "1"), 1)
    for kind in ("audit", "verify"):
        got = children[f"{kind} --jobs 1"]
        memory[f"{kind} {big.size}"] = {k: got[k] for k in ("maxrss_kib", "best_s")}
    a_small = memory[f"audit {small.size}"]["maxrss_kib"]
    a_big = memory[f"audit {big.size}"]["maxrss_kib"]
    growth_per_entry = (a_big - a_small) * 1024 / (big.size - small.size)
    v_small = memory[f"verify {small.size}"]["maxrss_kib"]
    v_big = memory[f"verify {big.size}"]["maxrss_kib"]
    v_growth_per_entry = (v_big - v_small) * 1024 / (big.size - small.size)
    held = auditor_sizes(auditor)
    del auditor, replay

    # 3. incremental -----------------------------------------------------------------
    print("\n[3] incremental verify ...", flush=True)
    work = Path(tempfile.mkdtemp(prefix="verify-state-", dir=OUT))
    try:
        base_state = work / "at-size"
        full_state = best_child(verify_args(big, "--state", str(base_state)), 1)
        state = work / "state"
        empty = work / "empty"

        def copy_state() -> None:
            if state.exists():
                shutil.rmtree(state)
            shutil.copytree(base_state, state)

        def empty_state() -> None:
            if empty.exists():
                shutil.rmtree(empty)

        inc_args = verify_args(grown, "--state", str(state))
        fresh_args = verify_args(fresh, "--state", str(empty))
        incremental = {
            "child": best_child(inc_args, runs, copy_state),
            "inproc": in_process(inc_args, runs, copy_state),
        }
        fresh_verify = {
            "child": best_child(fresh_args, runs, empty_state),
            "inproc": in_process(fresh_args, runs, empty_state),
        }
        # The same for audit: its state also holds the schedule state.
        audit_base = work / "audit-at-size"
        best_child([*audit_args(big), "--state", str(audit_base)], 1)

        def copy_audit_state() -> None:
            if state.exists():
                shutil.rmtree(state)
            shutil.copytree(audit_base, state)

        inc_audit_args = [*audit_args(grown), "--state", str(state)]
        fresh_audit_args = [*audit_args(fresh), "--state", str(empty)]
        incremental_audit = best_child(inc_audit_args, runs, copy_audit_state)
        fresh_audit = best_child(fresh_audit_args, runs, empty_state)
        state_bytes = {
            "verify": (base_state / "replay.json").stat().st_size,
            "audit": (audit_base / "replay.json").stat().st_size,
        }
    finally:
        shutil.rmtree(work)
    inc_ratio_child = incremental["child"]["best_s"] / fresh_verify["child"]["best_s"]
    inc_ratio_inproc = incremental["inproc"]["best_s"] / fresh_verify["inproc"]["best_s"]
    inc_audit_ratio = incremental_audit["best_s"] / fresh_audit["best_s"]
    inc_parts = incremental_parts(big, grown, fresh)

    # 4. two cores -------------------------------------------------------------------
    print("\n[4] Ed25519 on one process vs a pool of 2 ...", flush=True)
    parallel = parallel_signatures(triples, args.size, runs)
    gc.collect()

    # -- report -------------------------------------------------------------------------
    feed_s = st["auditor_feed_s"]
    stage_rows = [[name, fmt_s(s), f"{s / feed_s:.0%}"] for name, s in st["seconds"].items()]
    stage_rows.append(
        ["Auditor.feed over all leaves (parse + replay + policy)", fmt_s(feed_s), "100%"]
    )
    print()
    rows1 = [
        [
            f"{name} of {big.size:,} (subprocess, best of {runs})",
            fmt_s(got["best_s"]),
            f"{ratios[name]:.2f}",
        ]
        for name, got in children.items()
    ]
    rows1 += [
        [
            "verify --jobs 1, in-process",
            fmt_s(verify_inproc["best_s"]),
            f"{verify_inproc['best_s'] / floor_s:.2f}",
        ],
        [
            "audit --jobs 1, in-process",
            fmt_s(audit_inproc["best_s"]),
            f"{audit_inproc['best_s'] / floor_s:.2f}",
        ],
        [f"floor: {len(loaded):,} Ed25519 verify", fmt_s(sig_s), f"{sig_s / floor_s:.2f}"],
        [f"floor: {2 * big.size - 1:,} SHA-256 (tree)", fmt_s(tree_s), f"{tree_s / floor_s:.2f}"],
        ["floor total (one process)", fmt_s(floor_s), "1.00"],
    ]
    print(table(rows1, ["[1] full check vs floor", "seconds", "× floor"]))
    for name in children:
        per_round = ", ".join(f"{r:.2f}" for r in round_ratios[name])
        met = "met" if ratios[name] <= 1.3 else "NOT met"
        print(f"{name}/floor = {ratios[name]:.2f} (per round: {per_round}; target ≤ 1.3: {met})")
    print(f"findings: {st['findings'] or 'none'}")
    print()
    print(
        table(stage_rows, ["where the audit's time goes (each stage alone)", "seconds", "of feed"])
    )
    if profile:
        for key, col, share in (
            ("by_own_time", "tottime_s", "share_own"),
            ("by_cumulative_time", "cumtime_s", "share_cumulative"),
        ):
            print()
            print(
                table(
                    [
                        [p["function"][-72:], p["calls"], f"{p[col]:.2f}", f"{p[share]:.0%}"]
                        for p in profile[key]
                    ],
                    [
                        f"cProfile of the audit ({profile['total_s']:.0f} s profiled), {key}",
                        "calls",
                        col.replace("_s", " s"),
                        "share",
                    ],
                )
            )
        print(f"(full listing: {profile_path.relative_to(REPO)})")
    print()
    mem_rows = [
        [name, f"{v['maxrss_kib'] / 1024:.0f}", fmt_s(v["best_s"])] for name, v in memory.items()
    ]
    print(table(mem_rows, ["[2] run", "peak RSS MiB", "seconds"]))
    for kind, lo, hi, per in (
        ("audit", a_small, a_big, growth_per_entry),
        ("verify", v_small, v_big, v_growth_per_entry),
    ):
        print(
            f"{kind} peak RSS {big.size:,}/{small.size:,} = {hi / lo:.2f} "
            f"(+{per:,.0f} bytes per entry)"
        )
    held_rows = [
        [k, f"{v / 2**20:.1f}", f"{v / big.size:.0f}"]
        for k, v in sorted(held.items(), key=lambda kv: -kv[1])
        if v > 4096
    ]
    print()
    print(
        table(held_rows, [f"auditor state after {big.size:,} entries", "MiB (deep)", "bytes/entry"])
    )
    print()
    print(
        table(
            [
                [
                    f"verify --state: +{args.new:,} on {big.size:,}",
                    fmt_s(incremental["child"]["best_s"]),
                    fmt_s(incremental["inproc"]["best_s"]),
                ],
                [
                    f"verify --state EMPTY: fresh {fresh.size:,}",
                    fmt_s(fresh_verify["child"]["best_s"]),
                    fmt_s(fresh_verify["inproc"]["best_s"]),
                ],
                ["ratio", f"{inc_ratio_child:.2f}", f"{inc_ratio_inproc:.2f}"],
                [
                    f"audit --state: +{args.new:,} on {big.size:,}",
                    fmt_s(incremental_audit["best_s"]),
                    "",
                ],
                [f"audit --state EMPTY: fresh {fresh.size:,}", fmt_s(fresh_audit["best_s"]), ""],
                ["ratio", f"{inc_audit_ratio:.2f}", ""],
            ],
            ["[3] incremental", "subprocess s", "in-process s"],
        )
    )
    print(
        f"(stored replay state at {big.size:,}: verify {state_bytes['verify'] / 2**20:.1f} MiB, "
        f"audit {state_bytes['audit'] / 2**20:.1f} MiB)"
    )
    print(
        f"(full verify --state of {big.size:,} that made the state: "
        f"{fmt_s(full_state['best_s'])} s)"
    )
    print()
    print(
        table(
            [[k, f"{v * 1000:.1f}"] for k, v in inc_parts.items()], ["[3] in-process parts", "ms"]
        )
    )
    print()
    print(
        table(
            [
                ["one process", fmt_s(parallel["single_s"]), "1.00"],
                [
                    "pool of 2, triples sent in chunks",
                    fmt_s(parallel["pool2_sent_s"]),
                    f"{parallel['speedup_sent']:.2f}",
                ],
                [
                    "pool of 2, triples inherited (fork)",
                    fmt_s(parallel["pool2_inherited_s"]),
                    f"{parallel['speedup_inherited']:.2f}",
                ],
                ["(pool start-up, once)", fmt_s(parallel["pool_startup_s"]), ""],
            ],
            [f"[4] {parallel['count']:,} Ed25519 verifications", "seconds", "speed-up"],
        )
    )

    write_json(
        "verify",
        {
            "origin": ba.ORIGIN,
            "logs": logs,
            "runs": runs,
            "load_average_start_end": [load_start, os.getloadavg()[0]],
            "full_check": {
                "commands": {n: "frontier-verify " + " ".join(c) for n, c in commands.items()},
                "subprocess": children,
                "ratios": ratios,
                "ratio_per_round": round_ratios,
                "floor": floor,
                "target": "full check / floor <= 1.3",
                "met": {n: r <= 1.3 for n, r in ratios.items()},
            },
            "audit": {
                "in_process_jobs_1": audit_inproc,
                "stages_s": st["seconds"],
                "auditor_feed_s": feed_s,
                "findings": st["findings"],
                "report_first_line": st["report_first_line"],
                "profile_top": profile,
            },
            "verify": {"in_process_jobs_1": verify_inproc},
            "memory": {
                "runs": memory,
                "audit_ratio_large_over_small": a_big / a_small,
                "audit_growth_bytes_per_entry": growth_per_entry,
                "verify_ratio_large_over_small": v_big / v_small,
                "verify_growth_bytes_per_entry": v_growth_per_entry,
                "auditor_state_bytes": held,
                "target": "peak RSS does not grow with the log",
            },
            "incremental": {
                "command": "frontier-verify " + " ".join(inc_args),
                "fresh_command": "frontier-verify " + " ".join(fresh_args),
                "incremental": incremental,
                "fresh": fresh_verify,
                "full_verify_with_state_s": full_state["best_s"],
                "parts_in_process_s": inc_parts,
                "ratio_subprocess": inc_ratio_child,
                "ratio_in_process": inc_ratio_inproc,
                "audit": {
                    "command": "frontier-verify " + " ".join(inc_audit_args),
                    "incremental": incremental_audit,
                    "fresh": fresh_audit,
                    "ratio": inc_audit_ratio,
                },
                "state_bytes": state_bytes,
                "target": "≈ 1",
            },
            "parallel_signatures": parallel,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
