"""``frontier-verify verify`` and ``audit``: check a whole log, then (audit) its schedule.

Both follow the verifier's "life of an entry" (verifier/README.md): the checkpoint
is opened under the given keys (and the policy's witness quorum), checked against
the last one a ``--state`` directory verified (no rollback, no fork), then every new
tile and entry bundle is fetched and recomputed and every entry replayed
(:func:`verifier.client.logcheck.check_log`). ``verify`` replays the admission
rules only (L2–L4); ``audit`` the schedule's rules too. The state advances only
after everything passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import TextIO

from verifier.cli.options import (
    EXIT_OK,
    EXIT_VIOLATION,
    add_log_args,
    add_state_args,
    jobs,
    log_keys,
    log_source,
    read_policy,
    required_mldsa,
    state_dir,
    stored_replay,
)
from verifier.client import logkeys
from verifier.client.consistency import ForkEvidence, check_consistent
from verifier.client.fetch import LogSource, RemoteBlobs
from verifier.client.logcheck import LogCheck, Progress, check_log
from verifier.client.logkeys import KeyChange, LogKeys
from verifier.client.statedir import StateDir
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64encode
from verifier.core.note import key_label, parse_vkey
from verifier.core.trust_policy import open_trusted_checkpoint
from verifier.entries.fields import parse_time
from verifier.errors import InconsistencyError, UsageError
from verifier.policy.audit import AuditReport, AuditState
from verifier.policy.evidence import write_finding_evidence
from verifier.policy.report import report_json, report_text, verdict
from verifier.policy.spill import low_memory_audit


def _open(
    source: LogSource, args: argparse.Namespace, keys: LogKeys
) -> tuple[SignedCheckpoint, str | None]:
    """The log's checkpoint, verified under --policy (with its witness quorum) or --vkey,
    and which witnesses cosigned it (a line to print after the verdict; None without).

    Keys a state directory learnt from logged key changes are trusted too, keys it
    retired are not, and with --mldsa-vkey or --require-mldsa the log's ML-DSA-44
    signature must be there and valid.
    """
    data = source.fetch("checkpoint")
    required = required_mldsa(args, keys)
    retired = keys.retired()
    if args.policy:
        policy = read_policy(args.policy)
        trusted = open_trusted_checkpoint(
            data,
            policy,
            extra_log_keys=keys.trusted(),
            require_one_of=required,
            retired=retired,
        )
        cosigned = None
        if trusted.cosigned:
            names = ", ".join(
                f"{n} ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))})"
                for n, t in sorted(trusted.cosigned.items())
            )
            cosigned = f"   cosigned by {names}"
        return trusted.checkpoint, cosigned
    checkpoint = open_checkpoint(data, keys.trusted(), require_one_of=required, retired=retired)
    return checkpoint, None


def _check_against_state(
    state: StateDir,
    cp: SignedCheckpoint,
    source: LogSource,
    keys: LogKeys,
    notes: list[str],
) -> SignedCheckpoint | None:
    """Refuse a rollback or a fork against the last checkpoint this state verified.

    Returns that checkpoint (None on a first run); what was shown goes to *notes*,
    printed after the verdict.
    """
    saved = state.checkpoint_bytes()
    if saved is None:
        return None
    # Verified when it was stored: any key this state ever knew may have signed it.
    old = open_checkpoint(saved, keys.known())
    try:
        check_consistent(old, cp, source.fetch)
    except InconsistencyError as exc:
        evidence = state.path / f"evidence-{int(time.time())}.json"
        evidence.write_text(ForkEvidence.of(exc).to_json())
        raise InconsistencyError(
            f"{exc}; evidence written to {evidence}",
            old_checkpoint=exc.old_checkpoint,
            new_checkpoint=exc.new_checkpoint,
            proof=exc.proof,
        ) from None
    if old.size != cp.size:
        notes.append(f"   consistent with the last verified size {old.size}")
    return old


def _progress(args: argparse.Namespace) -> Progress | None:
    """A progress line on a terminal (entries/s, ETA); nothing when piped or --quiet."""
    if args.quiet or not sys.stderr.isatty():
        return None
    t0 = time.perf_counter()

    def show(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        eta = (total - done) / rate if rate else 0.0
        end = "\n" if done >= total else ""
        line = f"\r  {done}/{total} entries, {rate:,.0f}/s, ETA {eta:,.0f} s "
        print(line, end=end, file=sys.stderr)

    return show


def _check(
    args: argparse.Namespace,
    source: LogSource,
    cp: SignedCheckpoint,
    keys: LogKeys,
    *,
    schedule: bool,
    notes: list[str],
) -> tuple[LogCheck, LogKeys]:
    """Check the log's entries at *cp*: from the stored state if there is one, else all.

    Returns the result and the log keys after it (key changes learned, rotations finished);
    what the caller prints after the verdict goes to *notes*.
    """
    state = state_dir(args)
    old = _check_against_state(state, cp, source, keys, notes) if state is not None else None
    start: AuditState | None = None
    reload = None
    if old is not None and state is not None and not args.full:
        start = stored_replay(state, old)
        if start is not None and schedule and start.policy is None:
            start = None  # stored by verify: no schedule state to resume an audit from
        if start is None and not args.quiet:
            print(
                f"   no replay state stored for size {old.size}: replaying from the charter",
                file=sys.stderr,
            )
        else:
            reload = partial(state.load_replay, old)
    if getattr(args, "low_memory", False):
        # audit --low-memory (never with --state: see add_audit): records on disk.
        start = low_memory_audit(cp.origin)
        reload = partial(low_memory_audit, cp.origin)
    result = check_log(
        cp,
        source.fetch,
        start,
        schedule=schedule,
        reload=reload,
        blobs=RemoteBlobs(source) if schedule else None,
        jobs=jobs(args),
        progress=_progress(args),
    )
    after = keys.learn(KeyChange.of(i, body) for i, body in result.key_changes)
    after = after.finish(cp, int(time.time()))
    if state is not None:
        # Crash point: only now, after every entry was checked, does the state advance:
        # the log keys first (a crash before the checkpoint is stored re-checks the new
        # entries and learns the same keys again), then the replay state and checkpoint.
        if after.changes != keys.changes:
            logkeys.save(state.path, cp.origin, after.changes)
        state.save(cp, result.auditor.state)
    return result, after


def _report_keys(
    args: argparse.Namespace, result: LogCheck, before: LogKeys, after: LogKeys, out: TextIO
) -> None:
    """Say which key changes this run saw, and which log keys it retired."""
    state = state_dir(args)
    for index, body in result.key_changes:
        new = parse_vkey(body.new_vkey)
        pq = ""
        if body.new_mldsa_vkey:
            pq = f" and {'+'.join(body.new_mldsa_vkey.split('+')[:2])} (ML-DSA-44)"
        print(
            f"   log key change at entry {index}, signed by the board's quorum: new key "
            f"{new.vkey}{pq}, replacing key hash {body.old_key_hash}; both sign until "
            f"{body.overlap_end}. Reason: {body.reason}",
            file=out,
        )
        if state is not None:
            where = state.path / logkeys.LOG_KEYS
            print(f"      this verifier trusts the new key from now on ({where})", file=out)
        else:
            print(
                "      without --state this is not remembered: confirm the new vkey out of "
                "band, then verify with it",
                file=out,
            )
    was = {(k.name, k.key_id) for k in before.retired()}
    for k in after.retired():
        if (k.name, k.key_id) not in was and state is not None:
            print(
                f"   log key {key_label(k)} is retired (its rotation has finished): "
                "a checkpoint signed only by it is refused from now on",
                file=out,
            )


def _verify_verdict(cp: SignedCheckpoint, result: LogCheck, report: AuditReport) -> str:
    """The first line ``verify`` prints: what the reader must know before any detail."""
    where = f"{cp.origin}: tree size {cp.size}, root {b64encode(cp.root)}"
    if report.violations:
        return (
            f"VIOLATIONS {where}: the tree is intact, but {len(report.violations)} "
            "findings break the log's own rules (L2-L4), listed below"
        )
    if result.auditor.state.charterless:
        return f"VERIFIED {where} (a synthetic test log: the tree and leaf shapes only)"
    return f"VERIFIED {where}: intact, and every entry passes the log's own rules"


def cmd_verify(args: argparse.Namespace) -> int:
    source = log_source(args)
    keys = log_keys(args, state_dir(args))
    cp, cosigned = _open(source, args, keys)
    notes: list[str] = []
    result, after = _check(args, source, cp, keys, schedule=False, notes=notes)
    report = result.auditor.report(0)
    # The verdict first; what it rests on follows (the witnesses among it).
    print(_verify_verdict(cp, result, report))
    for line in _grounds(cp, after, cosigned, notes):
        print(line)
    if result.start_size:
        print(
            f"   {result.new_entries} new entries verified since size {result.start_size} "
            "(incremental), each proven included in the signed tree"
        )
    else:
        print(
            f"   {result.tiles_checked} tiles and {result.bundles_checked} entry bundles verified"
        )
    state = result.auditor.state
    if state.charterless:
        print(
            "   NOT A GOVERNED LOG: entry 0 is not a charter, so there is no key set to check "
            "signatures against; only the tree and the leaf shapes were verified"
        )
    else:
        how = f" on {result.parallel_jobs} processes" if result.parallel_jobs > 1 else ""
        print(
            f"   {result.new_entries} entries replayed: every signature{how} under the key set "
            "the log grants and revokes, schemas, roles, references, time order"
        )
    _report_keys(args, result, keys, after, sys.stdout)
    if report.findings:
        print(report_text(report).replace("Audit of", "Entries of", 1))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    if args.low_memory and state_dir(args) is not None:
        raise UsageError("--low-memory cannot be used with --state (the state is kept in memory)")
    source = log_source(args)
    keys = log_keys(args, state_dir(args))
    cp, cosigned = _open(source, args, keys)
    now = parse_time(args.at, "--at") if args.at else int(time.time() * 1000)
    notes: list[str] = []
    result, after = _check(args, source, cp, keys, schedule=True, notes=notes)
    report = result.auditor.report(now)
    evidence = None
    if args.evidence:
        n = write_finding_evidence(Path(args.evidence), report, cp, source.fetch)
        evidence = f"   evidence for {n} findings written to {args.evidence}"
    # The verdict first, then what it rests on, then the findings. With --json, stdout
    # is the report alone and the rest follows it on stderr.
    if args.json:
        print(report_json(report, checkpoint_size=cp.size))
        out = sys.stderr
    else:
        print(verdict(report, cp.size))
        out = sys.stdout
    if not (args.json and args.quiet):
        for line in _grounds(cp, after, cosigned, notes):
            print(line, file=out)
    _report_keys(args, result, keys, after, out)
    if evidence:
        print(evidence, file=out)
    if not args.json:
        print(report_text(report))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def _grounds(
    cp: SignedCheckpoint, keys: LogKeys, cosigned: str | None, notes: list[str]
) -> list[str]:
    """What a verdict rests on: who signed the checkpoint, who cosigned it, and how it
    relates to the last one a --state directory verified."""
    signed = [key_label(k) for k in keys.known() if cp.note.signed_by(k)]
    return [
        f"   checkpoint signed by {', '.join(signed)}",
        *([cosigned] if cosigned else []),
        *notes,
    ]


def add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser(
        "verify",
        help="verify the checkpoint signature and every tile and entry of a log",
    )
    add_log_args(sp)
    add_state_args(sp, "check only the new entries next time")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp.set_defaults(func=cmd_verify)


def add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser(
        "audit", help="verify the log, then audit every entry against the schedule's rules"
    )
    add_log_args(sp)
    sp.add_argument("--json", action="store_true", help="findings as JSON")
    sp.add_argument("--at", help="judge deadlines as of this RFC 3339 time (default: now)")
    sp.add_argument(
        "--evidence",
        metavar="DIR",
        help="write, per finding, its entries as offline receipts with the checkpoint",
    )
    add_state_args(sp, "audit only the new entries next time (findings so far are kept)")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp.add_argument(
        "--low-memory",
        action="store_true",
        help="keep the schedule's older records (runs, submissions, results, ...) in a "
        "temporary file, not in memory: memory stays flat as the log grows; the same "
        "findings, somewhat slower; not with --state",
    )
    sp.set_defaults(func=cmd_audit)
