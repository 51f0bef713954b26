"""``frontier-verify``: check a Frontier Ledger log without trusting its operator.

The library raises typed errors; only :func:`main` turns them into exit codes:

====  ==========================================================
0     verified: the log is what its signed checkpoint says, and no rule is broken
1     the log is intact but breaks a rule: it holds an entry it should have
      refused (bad signature, unknown or revoked key, wrong role, bad
      reference, time going backwards: L2–L4), or (audit) the schedule was violated
2     usage error (bad arguments, unreadable key file)
3     the log is broken: bad signature, bad tile, failed proof
4     the log could not be fetched
====  ==========================================================
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from verifier.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.consistency import ForkEvidence, check_consistent, recheck_evidence
from verifier.encoding import b64decode_strict, b64encode
from verifier.entries.fields import parse_time
from verifier.errors import (
    FetchError,
    FormatError,
    InconsistencyError,
    LedgerVerifyError,
    VerificationError,
)
from verifier.fetch import LogSource, RemoteBlobs
from verifier.leaf import loads_strict, parse_leaf
from verifier.logcheck import LogCheck, Progress, check_log
from verifier.monitor import Monitor, print_json_line
from verifier.note import Ed25519Verifier, parse_vkey
from verifier.policy.audit import AuditState
from verifier.policy.evidence import write_finding_evidence
from verifier.policy.report import report_json, report_text
from verifier.sigpool import available_cores
from verifier.snapshot import SnapshotError
from verifier.statedir import StateDir
from verifier.tlog_proof import RECEIPT_MEDIA_TYPE, parse_tlog_proof, verify_tlog_proof
from verifier.trust_policy import open_trusted_checkpoint, parse_trust_policy

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_LOG_BROKEN = 3
EXIT_FETCH = 4


def _load_vkey(value: str) -> Ed25519Verifier:
    path = Path(value)
    text = path.read_text().strip() if "+" not in value and path.is_file() else value.strip()
    return parse_vkey(text)


def _check_against_state(
    state: StateDir, cp: SignedCheckpoint, source: LogSource, args: argparse.Namespace
) -> SignedCheckpoint | None:
    """Refuse a rollback or a fork against the last checkpoint this state verified.

    Returns that checkpoint (None on a first run).
    """
    saved = state.checkpoint_bytes()
    if saved is None:
        return None
    old = open_checkpoint(saved, _log_key(args))
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
    if not args.quiet and old.size != cp.size:
        print(f"   consistent with the last verified size {old.size}", file=sys.stderr)
    return old


def _log_key(args: argparse.Namespace) -> Ed25519Verifier:
    if args.policy:
        return parse_trust_policy(Path(args.policy).read_text()).log
    if not args.vkey:
        raise UsageError("give the log's key: --policy FILE or --vkey VKEY")
    return _load_vkey(args.vkey)


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


def _jobs(args: argparse.Namespace) -> int:
    if args.jobs is None:
        return available_cores()
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return int(args.jobs)


def _check(
    args: argparse.Namespace, source: LogSource, cp: SignedCheckpoint, *, schedule: bool
) -> LogCheck:
    """Check the log's entries at *cp*: from the stored state if there is one, else all."""
    state = StateDir(Path(args.state)) if getattr(args, "state", None) else None
    old = _check_against_state(state, cp, source, args) if state is not None else None
    start: AuditState | None = None
    reload = None
    if old is not None and state is not None and not args.full:
        start = _stored_replay(state, old)
        if start is not None and schedule and start.policy is None:
            start = None  # stored by verify: no schedule state to resume an audit from
        if start is None and not args.quiet:
            print(
                f"   no replay state stored for size {old.size}: replaying from the charter",
                file=sys.stderr,
            )
        else:
            reload = partial(state.load_replay, old)
    result = check_log(
        cp,
        source.fetch,
        start,
        schedule=schedule,
        reload=reload,
        blobs=RemoteBlobs(source) if schedule else None,
        jobs=_jobs(args),
        progress=_progress(args),
    )
    if state is not None:
        # Crash point: only now, after every entry was checked, does the state advance.
        state.save(cp, result.auditor.state)
    return result


def _stored_replay(state: StateDir, checkpoint: SignedCheckpoint) -> AuditState | None:
    try:
        return state.load_replay(checkpoint)
    except SnapshotError as exc:
        # A damaged state file costs a full replay, never a wrong answer.
        print(f"   ignoring the stored replay state: {exc}", file=sys.stderr)
        return None


def cmd_verify(args: argparse.Namespace) -> int:
    source = LogSource(args.log)
    cp = _open(source, args)
    result = _check(args, source, cp, schedule=False)
    print(f"OK {cp.origin}: tree size {cp.size}, root {b64encode(cp.root)}")
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
    report = result.auditor.report(0)
    if report.findings:
        print(report_text(report).replace("Audit of", "Entries of", 1))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    key = _log_key(args)
    if args.evidence:
        print(recheck_evidence(Path(args.evidence).read_text(), key))
        return EXIT_OK
    if not (args.checkpoint_a and args.checkpoint_b):
        raise UsageError("give two checkpoint files, or --evidence FILE")
    a = open_checkpoint(Path(args.checkpoint_a).read_bytes(), key)
    b = open_checkpoint(Path(args.checkpoint_b).read_bytes(), key)
    old, new = (a, b) if a.size <= b.size else (b, a)
    source = LogSource(args.log) if args.log else None
    try:
        proof = check_consistent(old, new, source.fetch if source else None)
    except InconsistencyError as exc:
        out = Path(args.out or "fork-evidence.json")
        out.write_text(ForkEvidence.of(exc).to_json())
        print(f"INCONSISTENT: {exc}", file=sys.stderr)
        print(f"evidence written to {out}; anyone can re-check it:", file=sys.stderr)
        print(f"  frontier-verify compare --evidence {out} --vkey '{key.vkey}'", file=sys.stderr)
        return EXIT_LOG_BROKEN
    print(f"CONSISTENT: size {old.size} -> {new.size}, {len(proof)}-hash consistency proof")
    for h in proof:
        print(f"  {b64encode(h)}")
    return EXIT_OK


def cmd_proof(args: argparse.Namespace) -> int:
    key = _log_key(args)
    raw = Path(args.receipt).read_bytes()
    receipt = loads_strict(raw, what=args.receipt)
    if not isinstance(receipt, dict) or receipt.get("media_type") != RECEIPT_MEDIA_TYPE:
        raise FormatError(f"{args.receipt}: not a receipt ({RECEIPT_MEDIA_TYPE})")
    leaf = b64decode_strict(str(receipt.get("leaf", "")), what="receipt leaf")
    proof = parse_tlog_proof(str(receipt.get("tlog_proof", "")))
    verified = verify_tlog_proof(leaf, proof, key)
    cosigned: dict[str, int] = {}
    if args.policy:
        # The checkpoint must carry the policy's witness quorum: only then is the
        # entry public in the sense that independent witnesses saw this log.
        policy = parse_trust_policy(Path(args.policy).read_text())
        cosigned = dict(open_trusted_checkpoint(proof.checkpoint, policy).cosigned)
    parsed = parse_leaf(leaf)
    cp = verified.checkpoint
    print(f"OK: entry {proof.index} is in {cp.origin} at tree size {cp.size}")
    if cosigned:
        earliest = min(cosigned.values())
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(earliest))
        print(f"   witnessed by {', '.join(sorted(cosigned))}; existed by {when}")
    print(f"   logged_at {parsed.logged_at}, type {parsed.envelope.entry_type}")
    print(
        f"   signed by key(s) {', '.join(s.keyid[:16] + '…' for s in parsed.envelope.signatures)}"
    )
    if args.show_payload:
        print(parsed.envelope.payload.decode("utf-8", errors="replace"))
    return EXIT_OK


def _open(source: LogSource, args: argparse.Namespace) -> SignedCheckpoint:
    """The log's checkpoint, verified under --policy (with its witness quorum) or --vkey."""
    data = source.fetch("checkpoint")
    if args.policy:
        policy = parse_trust_policy(Path(args.policy).read_text())
        trusted = open_trusted_checkpoint(data, policy)
        if trusted.cosigned and not args.quiet:
            names = ", ".join(f"{n} ({t})" for n, t in sorted(trusted.cosigned.items()))
            print(f"   cosigned by {names}", file=sys.stderr)
        return trusted.checkpoint
    if not args.vkey:
        raise UsageError("give the log's key: --policy FILE or --vkey VKEY")
    return open_checkpoint(data, _load_vkey(args.vkey))


class UsageError(Exception):
    """Bad arguments (exit 2)."""


def cmd_audit(args: argparse.Namespace) -> int:
    source = LogSource(args.log)
    cp = _open(source, args)
    now = parse_time(args.at, "--at") if args.at else int(time.time() * 1000)
    result = _check(args, source, cp, schedule=True)
    report = result.auditor.report(now)
    if args.evidence:
        n = write_finding_evidence(Path(args.evidence), report, cp, source.fetch)
        print(f"   evidence for {n} findings written to {args.evidence}", file=sys.stderr)
    print(report_json(report, checkpoint_size=cp.size) if args.json else report_text(report))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def cmd_witness_keygen(args: argparse.Namespace) -> int:
    """Write a new cosignature/v1 key (PRIVATE+KEY, type 0x04, mode 0600); print its vkey."""
    from verifier.cosignature import CosignatureSigner
    from verifier.witness import witness_skey

    try:
        signer = CosignatureSigner.from_seed(args.name, os.urandom(32))
    except FormatError as exc:
        raise UsageError(f"--name: {exc}") from None
    # O_EXCL: never overwrite a key (that would orphan the witness's identity).
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (witness_skey(signer) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    print(signer.verifier.vkey)
    return EXIT_OK


def cmd_witness_serve(args: argparse.Namespace) -> int:
    """Serve C2SP tlog-witness add-checkpoint for the logs named in --policy."""
    import logging
    import signal
    import stat

    from verifier.witness import Witness, parse_witness_config, parse_witness_skey
    from verifier.witness_server import FileStore, StoreError, WitnessServer

    key_path = Path(args.key)
    if key_path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(f"witness key {key_path} is readable by group or others; chmod 600 it")
    try:
        signer = parse_witness_skey(key_path.read_text())
        config = parse_witness_config(Path(args.policy).read_text())
    except FormatError as exc:
        raise UsageError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        store = FileStore(Path(args.state))
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    with store:
        server = WitnessServer(Witness(signer, config, store), args.host, args.port, args.prefix)

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        print(f"witness {signer.verifier.vkey}", file=sys.stderr)
        print(f"   logs: {', '.join(sorted(config.logs))}", file=sys.stderr)
        print(f"   serving POST {server.url}/add-checkpoint", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()
    return EXIT_OK


def _add_witness_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wp = sub.add_parser("witness", help="run a C2SP tlog-witness that cosigns checkpoints")
    wsub = wp.add_subparsers(dest="witness_command", required=True, metavar="COMMAND")
    sp = wsub.add_parser("keygen", help="create the witness's signing key; print its vkey")
    sp.add_argument("--out", required=True, help="key file to create (mode 0600, never replaced)")
    sp.add_argument("--name", required=True, help="the witness's name, e.g. witness.example/w1")
    sp.set_defaults(func=cmd_witness_keygen)
    sp = wsub.add_parser("serve", help="serve POST <prefix>/add-checkpoint over HTTP")
    sp.add_argument("--key", required=True, help="the witness key file (from witness keygen)")
    sp.add_argument("--policy", required=True, help="tlog-policy file: its log lines are accepted")
    sp.add_argument("--port", required=True, type=int, help="TCP port to listen on")
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sp.add_argument("--state", required=True, help="directory for the witnessed checkpoints")
    sp.add_argument("--prefix", default="", help="URL prefix before /add-checkpoint (default none)")
    sp.set_defaults(func=cmd_witness_serve)


def cmd_monitor(args: argparse.Namespace) -> int:
    source = LogSource(args.log)
    policy = parse_trust_policy(Path(args.policy).read_text()) if args.policy else None
    key = _log_key(args)

    def opener(data: bytes) -> tuple[SignedCheckpoint, dict[str, int]]:
        if policy is not None:
            trusted = open_trusted_checkpoint(data, policy)
            return trusted.checkpoint, dict(trusted.cosigned)
        return open_checkpoint(data, key), {}

    monitor = Monitor(
        source.fetch, opener, args.max_age, jobs=_jobs(args), blobs=RemoteBlobs(source)
    )
    state = StateDir(Path(args.state)) if args.state else None
    saved = state.checkpoint_bytes() if state is not None else None
    if state is not None and saved is not None:
        # Resume from the last checkpoint seen; entries before it are not re-reported.
        monitor.last = open_checkpoint(saved, key)
        resumed = _stored_replay(state, monitor.last)
        if resumed is not None and resumed.policy is not None:
            monitor.resume(resumed)
    rounds = 0
    saved_size = -1
    while True:
        try:
            monitor.round()
        except FetchError as exc:
            # A log that cannot be reached is reported and retried, not fatal.
            print_json_line({"event": "fetch_error", "message": str(exc)})
        else:
            last, auditor = monitor.last, monitor.auditor
            if state is not None and last and auditor and last.size != saved_size:
                state.save(last, auditor.state)
                saved_size = last.size
        rounds += 1
        if args.rounds and rounds >= args.rounds:
            return EXIT_OK
        time.sleep(args.interval)


def _log_args(sp: argparse.ArgumentParser) -> None:
    """Where the log is, which key (or trust policy) to check it with, and how many cores."""
    sp.add_argument("--log", required=True, help="log prefix URL (http://host/log) or a directory")
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument("--policy", help="a tlog-policy file: the log key, witnesses and quorum")
    sp.add_argument(
        "--jobs",
        type=int,
        help="processes checking signatures (default: the cores this process may use; 1: in line)",
    )


def _state_args(sp: argparse.ArgumentParser, what: str) -> None:
    sp.add_argument(
        "--state",
        help=f"directory keeping the last verified checkpoint and the state replayed to it: "
        f"refuse rollback and forks against it, and {what}",
    )
    sp.add_argument(
        "--full",
        action="store_true",
        help="with --state: re-check every tile and entry, not only what is new",
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="frontier-verify",
        description="Verify a Frontier Ledger log (C2SP tlog-tiles) without trusting its operator.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sp = sub.add_parser(
        "verify",
        help="verify the checkpoint signature and every tile and entry of a log",
    )
    _log_args(sp)
    _state_args(sp, "check only the new entries next time")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp.set_defaults(func=cmd_verify)

    sp = sub.add_parser(
        "compare", help="two signed checkpoints: a consistency proof, or fork evidence"
    )
    sp.add_argument("checkpoint_a", nargs="?", help="a signed checkpoint file")
    sp.add_argument("checkpoint_b", nargs="?", help="another signed checkpoint of the same log")
    sp.add_argument("--log", help="log prefix URL or directory (tiles for the proof)")
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument("--policy", help="a tlog-policy file (its log key is used)")
    sp.add_argument("--out", help="where to write fork evidence (default fork-evidence.json)")
    sp.add_argument("--evidence", help="re-check a fork evidence file offline instead")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser(
        "audit", help="verify the log, then audit every entry against the schedule's rules"
    )
    _log_args(sp)
    sp.add_argument("--json", action="store_true", help="findings as JSON")
    sp.add_argument("--at", help="judge deadlines as of this RFC 3339 time (default: now)")
    sp.add_argument(
        "--evidence",
        metavar="DIR",
        help="write, per finding, its entries as offline receipts with the checkpoint",
    )
    _state_args(sp, "audit only the new entries next time (findings so far are kept)")
    sp.add_argument("--quiet", action="store_true", help="no progress line")
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser(
        "monitor",
        help="watch a log: new entries, new findings, forks and a frozen log, as JSON lines",
    )
    _log_args(sp)
    sp.add_argument(
        "--state",
        help="directory keeping the last checkpoint seen and the state replayed to it "
        "(resume where it stopped, refuse rollback)",
    )
    sp.add_argument(
        "--interval", type=float, default=60.0, help="seconds between rounds (default 60)"
    )
    sp.add_argument(
        "--max-age",
        type=float,
        default=3600.0,
        help="alert when the checkpoint has not moved or been cosigned for this many seconds",
    )
    sp.add_argument(
        "--rounds", type=int, default=0, help="stop after N rounds (default: run forever)"
    )
    sp.set_defaults(func=cmd_monitor)

    sp = sub.add_parser("proof", help="verify an offline receipt (leaf + tlog-proof), no network")
    sp.add_argument("receipt", help="receipt JSON file")
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument(
        "--policy", help="a tlog-policy file: also require its witness quorum on the checkpoint"
    )
    sp.add_argument("--show-payload", action="store_true", help="print the entry's payload")
    sp.set_defaults(func=cmd_proof)
    _add_witness_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FetchError as exc:
        print(f"frontier-verify: cannot fetch the log: {exc}", file=sys.stderr)
        return EXIT_FETCH
    except (OSError, UsageError) as exc:
        print(f"frontier-verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (VerificationError, FormatError, LedgerVerifyError) as exc:
        print(f"frontier-verify: LOG BROKEN: {exc}", file=sys.stderr)
        return EXIT_LOG_BROKEN


if __name__ == "__main__":
    sys.exit(main())
