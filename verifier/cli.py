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
from typing import Any, TextIO

from verifier.client import logkeys
from verifier.client.consistency import ForkEvidence, check_consistent, recheck_evidence
from verifier.client.fetch import LogSource, RemoteBlobs
from verifier.client.logcheck import LogCheck, Progress, check_log
from verifier.client.logkeys import KeyChange, LogKey, LogKeys
from verifier.client.monitor import Monitor, print_json_line
from verifier.client.sigpool import available_cores
from verifier.client.statedir import StateDir
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.leaf import loads_strict, parse_leaf
from verifier.core.mldsa import MLDSA44Verifier, parse_mldsa_vkey
from verifier.core.note import Ed25519Verifier, key_label, parse_vkey
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, parse_tlog_proof, verify_tlog_proof
from verifier.core.trust_policy import open_trusted_checkpoint, parse_trust_policy
from verifier.entries.fields import parse_time
from verifier.entries.payloads import LogKeyChange
from verifier.errors import (
    FetchError,
    FormatError,
    InconsistencyError,
    LedgerVerifyError,
    MissingSignatureError,
    RetiredKeyError,
    SnapshotError,
    UnknownKeyError,
    UsageError,
    VerificationError,
    WitnessStoreError,
)
from verifier.files import write_new_private
from verifier.policy.audit import AuditState
from verifier.policy.evidence import write_finding_evidence
from verifier.policy.report import report_json, report_text

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_LOG_BROKEN = 3
EXIT_FETCH = 4


def _read_key_arg(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if "+" not in value and path.is_file() else value.strip()


def _load_vkey(value: str) -> Ed25519Verifier:
    return parse_vkey(_read_key_arg(value))


def _given_keys(args: argparse.Namespace) -> list[LogKey]:
    """The log keys given out of band: ``--policy`` log lines or ``--vkey``; ``--mldsa-vkey``."""
    keys: list[LogKey] = []
    if getattr(args, "policy", None):
        keys += parse_trust_policy(Path(args.policy).read_text()).logs
    elif getattr(args, "vkey", None):
        keys.append(_load_vkey(args.vkey))
    else:
        raise UsageError("give the log's key: --policy FILE or --vkey VKEY")
    if getattr(args, "mldsa_vkey", None):
        keys.append(parse_mldsa_vkey(_read_key_arg(args.mldsa_vkey), "--mldsa-vkey"))
    return keys


def _log_keys(args: argparse.Namespace, state: StateDir | None = None) -> LogKeys:
    """The keys given, and the key changes a state directory accepted earlier."""
    keys = LogKeys(tuple(_given_keys(args)))
    if state is None:
        return keys
    try:
        return LogKeys(keys.given, logkeys.load(state.path, keys.given[0].name))
    except FormatError as exc:
        # Fails closed: without the file only the given keys are trusted.
        print(f"   ignoring the stored log keys: {exc}", file=sys.stderr)
        return keys


def _required(args: argparse.Namespace, keys: LogKeys) -> list[MLDSA44Verifier]:
    """The ML-DSA-44 log keys of which one must sign, if post-quantum signatures are required."""
    if not (getattr(args, "mldsa_vkey", None) or getattr(args, "require_mldsa", False)):
        return []
    required = keys.trusted_mldsa()
    if not required:
        raise UsageError(
            "--require-mldsa needs the log's ML-DSA-44 key: --mldsa-vkey VKEY, or a "
            "'log' line with its type 0x06 vkey in --policy"
        )
    return required


def _check_against_state(
    state: StateDir,
    cp: SignedCheckpoint,
    source: LogSource,
    args: argparse.Namespace,
    keys: LogKeys,
) -> SignedCheckpoint | None:
    """Refuse a rollback or a fork against the last checkpoint this state verified.

    Returns that checkpoint (None on a first run).
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
    if not args.quiet and old.size != cp.size:
        print(f"   consistent with the last verified size {old.size}", file=sys.stderr)
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


def _jobs(args: argparse.Namespace) -> int:
    if args.jobs is None:
        return available_cores()
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return int(args.jobs)


def _state(args: argparse.Namespace) -> StateDir | None:
    return StateDir(Path(args.state)) if getattr(args, "state", None) else None


def _check(
    args: argparse.Namespace,
    source: LogSource,
    cp: SignedCheckpoint,
    keys: LogKeys,
    *,
    schedule: bool,
) -> tuple[LogCheck, LogKeys]:
    """Check the log's entries at *cp*: from the stored state if there is one, else all.

    Returns the result and the log keys after it (key changes learned, rotations finished).
    """
    state = _state(args)
    old = _check_against_state(state, cp, source, args, keys) if state is not None else None
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
    state = _state(args)
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


def _stored_replay(state: StateDir, checkpoint: SignedCheckpoint) -> AuditState | None:
    try:
        return state.load_replay(checkpoint)
    except SnapshotError as exc:
        # A damaged state file costs a full replay, never a wrong answer.
        print(f"   ignoring the stored replay state: {exc}", file=sys.stderr)
        return None


def cmd_verify(args: argparse.Namespace) -> int:
    source = LogSource(args.log)
    keys = _log_keys(args, _state(args))
    cp = _open(source, args, keys)
    result, after = _check(args, source, cp, keys, schedule=False)
    print(f"OK {cp.origin}: tree size {cp.size}, root {b64encode(cp.root)}")
    signed = [key_label(k) for k in after.known() if cp.note.signed_by(k)]
    print(f"   checkpoint signed by {', '.join(signed)}")
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
    report = result.auditor.report(0)
    if report.findings:
        print(report_text(report).replace("Audit of", "Entries of", 1))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    keys = _given_keys(args)
    key = keys[0]
    if args.evidence:
        print(recheck_evidence(Path(args.evidence).read_text(), keys))
        return EXIT_OK
    if not (args.checkpoint_a and args.checkpoint_b):
        raise UsageError("give two checkpoint files, or --evidence FILE")
    a = open_checkpoint(Path(args.checkpoint_a).read_bytes(), keys)
    b = open_checkpoint(Path(args.checkpoint_b).read_bytes(), keys)
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
    keys = LogKeys(tuple(_given_keys(args)))
    required = _required(args, keys)
    raw = Path(args.receipt).read_bytes()
    receipt = loads_strict(raw, what=args.receipt)
    if not isinstance(receipt, dict) or receipt.get("media_type") != RECEIPT_MEDIA_TYPE:
        raise FormatError(f"{args.receipt}: not a receipt ({RECEIPT_MEDIA_TYPE})")
    leaf = b64decode_strict(str(receipt.get("leaf", "")), what="receipt leaf")
    proof = parse_tlog_proof(str(receipt.get("tlog_proof", "")))
    verified = verify_tlog_proof(leaf, proof, list(keys.given))
    cosigned: dict[str, int] = {}
    earliest: int | None = None
    if required:
        open_checkpoint(proof.checkpoint, list(keys.given), require_one_of=required)
    if args.policy:
        # The checkpoint must carry the policy's witness quorum: only then is the
        # entry public in the sense that independent witnesses saw this log.
        policy = parse_trust_policy(Path(args.policy).read_text())
        trusted = open_trusted_checkpoint(
            proof.checkpoint, policy, extra_log_keys=keys.given, require_one_of=required
        )
        cosigned, earliest = dict(trusted.cosigned), trusted.earliest
    parsed = parse_leaf(leaf)
    cp = verified.checkpoint
    print(f"OK: entry {proof.index} is in {cp.origin} at tree size {cp.size}")
    if required:
        print("   the checkpoint carries the log's valid ML-DSA-44 (post-quantum) signature")
    if cosigned:
        when = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(earliest))
            if earliest is not None
            else "(no cosignature states a time)"
        )
        print(f"   witnessed by {', '.join(sorted(cosigned))}; existed by {when}")
    print(f"   logged_at {parsed.logged_at}, type {parsed.envelope.entry_type}")
    print(
        f"   signed by key(s) {', '.join(s.keyid[:16] + '…' for s in parsed.envelope.signatures)}"
    )
    if args.show_payload:
        print(parsed.envelope.payload.decode("utf-8", errors="replace"))
    return EXIT_OK


def _open(source: LogSource, args: argparse.Namespace, keys: LogKeys) -> SignedCheckpoint:
    """The log's checkpoint, verified under --policy (with its witness quorum) or --vkey.

    Keys a state directory learnt from logged key changes are trusted too, keys it
    retired are not, and with --mldsa-vkey or --require-mldsa the log's ML-DSA-44
    signature must be there and valid.
    """
    data = source.fetch("checkpoint")
    required = _required(args, keys)
    retired = keys.retired()
    if args.policy:
        policy = parse_trust_policy(Path(args.policy).read_text())
        trusted = open_trusted_checkpoint(
            data,
            policy,
            extra_log_keys=keys.trusted(),
            require_one_of=required,
            retired=retired,
        )
        if trusted.cosigned and not args.quiet:
            names = ", ".join(f"{n} ({t})" for n, t in sorted(trusted.cosigned.items()))
            print(f"   cosigned by {names}", file=sys.stderr)
        return trusted.checkpoint
    return open_checkpoint(data, keys.trusted(), require_one_of=required, retired=retired)


def cmd_audit(args: argparse.Namespace) -> int:
    source = LogSource(args.log)
    keys = _log_keys(args, _state(args))
    cp = _open(source, args, keys)
    now = parse_time(args.at, "--at") if args.at else int(time.time() * 1000)
    result, after = _check(args, source, cp, keys, schedule=True)
    _report_keys(args, result, keys, after, sys.stderr)
    report = result.auditor.report(now)
    if args.evidence:
        n = write_finding_evidence(Path(args.evidence), report, cp, source.fetch)
        print(f"   evidence for {n} findings written to {args.evidence}", file=sys.stderr)
    print(report_json(report, checkpoint_size=cp.size) if args.json else report_text(report))
    return EXIT_VIOLATION if report.violations else EXIT_OK


def cmd_witness_keygen(args: argparse.Namespace) -> int:
    """Write a new witness key (PRIVATE+KEY, mode 0600); print its vkey.

    Ed25519 cosignature/v1 (type 0x04) by default; ML-DSA-44 ``subtree/v1``
    (type 0x06) with ``--mldsa`` (C2SP tlog-cosignature).
    """
    from verifier.core.cosignature import CosignatureSigner
    from verifier.core.mldsa import MLDSA44Signer
    from verifier.witness.protocol import witness_skey

    signer: CosignatureSigner | MLDSA44Signer
    try:
        if args.mldsa:
            signer = MLDSA44Signer.from_seed(args.name, os.urandom(32))
        else:
            signer = CosignatureSigner.from_seed(args.name, os.urandom(32))
    except FormatError as exc:
        raise UsageError(f"--name: {exc}") from None
    # O_EXCL: never overwrite a key (that would orphan the witness's identity).
    write_new_private(Path(args.out), (witness_skey(signer) + "\n").encode())
    print(signer.verifier.vkey)
    return EXIT_OK


def cmd_witness_serve(args: argparse.Namespace) -> int:
    """Serve C2SP tlog-witness add-checkpoint for the logs named in --policy."""
    import logging
    import signal
    import stat

    from verifier.witness.protocol import Witness, parse_witness_config, parse_witness_skey
    from verifier.witness.server import FileStore, WitnessServer

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
    except WitnessStoreError as exc:
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
    sp.add_argument(
        "--mldsa",
        action="store_true",
        help="a post-quantum ML-DSA-44 key (tlog-cosignature type 0x06) instead of Ed25519",
    )
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
    state = _state(args)
    # The monitor trusts the keys given and those learnt in the state directory (by it
    # or by `verify --state`), and follows a log key rotation as verify does: a key
    # change admitted in a tree it verified makes it trust the new key.
    held = [_log_keys(args, state)]
    required = _required(args, held[0])

    def opener(data: bytes) -> tuple[SignedCheckpoint, dict[str, int]]:
        keys = held[0]
        if policy is not None:
            trusted = open_trusted_checkpoint(
                data,
                policy,
                extra_log_keys=keys.trusted(),
                require_one_of=required,
                retired=keys.retired(),
            )
            return trusted.checkpoint, dict(trusted.cosigned)
        cp = open_checkpoint(data, keys.trusted(), require_one_of=required, retired=keys.retired())
        return cp, {}

    def follow(
        cp: SignedCheckpoint, changes: list[tuple[int, LogKeyChange]]
    ) -> list[dict[str, Any]]:
        before = held[0]
        after = before.learn(KeyChange.of(i, body) for i, body in changes).finish(
            cp, int(time.time())
        )
        if state is not None and after.changes != before.changes:
            # Crash point: saved before the round's checkpoint is (as verify does).
            logkeys.save(state.path, cp.origin, after.changes)
        held[0] = after
        events: list[dict[str, Any]] = [
            {
                "event": "key_change",
                "index": index,
                "new_vkey": body.new_vkey,
                "new_mldsa_vkey": body.new_mldsa_vkey,
                "old_key_hash": body.old_key_hash,
                "overlap_end": body.overlap_end,
                "reason": body.reason,
                "followed": state is not None,
            }
            for index, body in changes
        ]
        was = {(k.name, k.key_id) for k in before.retired()}
        events += [
            {"event": "key_retired", "key": key_label(k)}
            for k in after.retired()
            if (k.name, k.key_id) not in was
        ]
        return events

    monitor = Monitor(
        source.fetch,
        opener,
        args.max_age,
        jobs=_jobs(args),
        blobs=RemoteBlobs(source),
        on_checked=follow,
    )
    saved = state.checkpoint_bytes() if state is not None else None
    if state is not None and saved is not None:
        # Resume from the last checkpoint seen; entries before it are not re-reported.
        monitor.last = open_checkpoint(saved, held[0].known())
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
    _mldsa_args(sp)
    sp.add_argument(
        "--jobs",
        type=int,
        help="processes checking signatures (default: the cores this process may use; 1: in line)",
    )


def _mldsa_args(sp: argparse.ArgumentParser) -> None:
    """The log's post-quantum key (C2SP tlog-cosignature ML-DSA-44, type 0x06)."""
    sp.add_argument(
        "--mldsa-vkey",
        metavar="VKEY",
        help="the log's ML-DSA-44 verifier key (type 0x06), or a file holding it: every "
        "checkpoint must then carry its valid post-quantum signature",
    )
    sp.add_argument(
        "--require-mldsa",
        action="store_true",
        help="require a valid ML-DSA-44 signature by the log's ML-DSA-44 key (from "
        "--mldsa-vkey or a 'log' line of --policy); without it that line is only checked "
        "if present",
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
    _mldsa_args(sp)
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
    except (UnknownKeyError, RetiredKeyError, MissingSignatureError) as exc:
        # The checkpoint may be fine: this verifier cannot trust it (exit 3 all the same).
        print(f"frontier-verify: CHECKPOINT NOT TRUSTED: {exc}", file=sys.stderr)
        return EXIT_LOG_BROKEN
    except (VerificationError, FormatError, LedgerVerifyError) as exc:
        print(f"frontier-verify: LOG BROKEN: {exc}", file=sys.stderr)
        return EXIT_LOG_BROKEN


if __name__ == "__main__":
    sys.exit(main())
