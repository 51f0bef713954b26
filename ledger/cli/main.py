"""``frontier-ledger``: create, fill, serve and export a log.

Every command prints what it did; errors go to stderr as one sentence and exit 2
(bad input or state) — nothing is changed when a command fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ledger.cli import demo as cli_demo
from ledger.cli import entries as cli_entries
from ledger.cli import keys as cli_keys
from ledger.cli.serve import cmd_serve
from ledger.errors import (
    ConfigError,
    DataDirError,
    LedgerError,
    LogDamaged,
    MirrorAltered,
    SubmitError,
)
from ledger.ops import config
from ledger.ops.datadir import DataDir, WriterLock
from verifier.errors import LedgerVerifyError

EXIT_USAGE = 2
#: fsck, export: the stored log does not verify (as frontier-verify's 'log broken').
EXIT_DAMAGED = 3
#: fsck: the log is intact, but its search index disagrees with it (reindex rebuilds it).
EXIT_INDEX = 4
#: export: a file already in the mirror is not the log's (changed outside export).
EXIT_MIRROR = 5


def _data(args: argparse.Namespace) -> DataDir:
    return DataDir.at(args.data, getattr(args, "key", None), getattr(args, "database", None))


def cmd_init(args: argparse.Namespace) -> int:
    from ledger.write.open_log import init_log

    data = _data(args)
    vkey = init_log(data, args.origin, synthetic=args.synthetic)
    print(f"Created log {args.origin!r} in {data.root}")
    print(f"  database:   {data.store_label}")
    print(f"  signer key: {data.key_path} (mode 0600; keep it secret, back it up offline)")
    print(f"  vkey:       {data.vkey_path}")
    marker = data.root / "marker.key"
    if marker.exists():
        from ledger.keys.entry_signing import EntryKey

        key = EntryKey.load(marker)
        print(f"  marker key: {marker} (the board grants it the role 'log' to record deadlines:")
        print(f"              keyid {key.keyid}, public_key {key.public_b64})")
    if args.mldsa:
        from ledger.write.key_rotation import add_mldsa, key_files

        add_mldsa(data)
        files = key_files(data)
        print(f"  ML-DSA-44:  {files.mldsa_key} (mode 0600), vkey in {files.mldsa_vkey}")
    print()
    print(vkey)
    return 0


def cmd_vkey(args: argparse.Namespace) -> int:
    from ledger.keys.log_keys import load_key

    data = _data(args)
    if data.vkey_path.exists():
        print(data.vkey_path.read_text().strip())
        return 0
    signer = load_key(data.key_path)
    print(signer.verifier.vkey)  # type: ignore[attr-defined]
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ledger.keys.log_keys import KeyFiles, known_verifiers
    from ledger.read.mirror import export_log
    from ledger.read.reader import LogReader
    from ledger.storage.backends import open_store
    from ledger.write.witnessing import POLICY_NAME, WitnessCollector
    from verifier.core.trust_policy import parse_trust_policy

    data = _data(args)
    store = open_store(data, readonly=True)
    try:
        reader = LogReader(store)
        cosign = None
        policy = data.root / POLICY_NAME
        if policy.exists():
            # The mirror publishes the checkpoint with its witnesses' cosignatures.
            cosign = WitnessCollector(
                parse_trust_policy(policy.read_text()), reader
            ).with_cosignatures
        keys = known_verifiers(KeyFiles(data.key_path, data.vkey_path))
        stats = export_log(reader, Path(args.out), cosign, keys=keys, repair=args.repair)
    finally:
        store.close()
    for rel in stats.repaired:
        print(f"repaired {Path(args.out) / rel}: it was not the log's file", file=sys.stderr)
    print(
        f"Exported tree size {stats.size} to {args.out}: {stats.written} files written "
        f"({stats.bytes_written} bytes), {stats.skipped} already present "
        f"({stats.checked} checked against the log)"
    )
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from ledger.write.open_log import open_writer

    data = _data(args)
    if args.count < 0:
        raise ConfigError("--count must be zero or more")
    if args.batch < 1 or args.jobs < 1:
        raise ConfigError("--batch and --jobs must be at least 1")
    with WriterLock(data):
        writer = open_writer(data)
        try:
            if writer.store.profile != "synthetic":
                raise DataDirError(
                    f"{data.root} is a governed log; synthetic entries go only into a log "
                    "created with 'frontier-ledger init --synthetic'"
                )
            start = writer.store.head().size
            t0 = time.perf_counter()
            done = 0
            for batch in _synthetic_batches(writer.store.origin, start, args):
                writer.commit(batch, receipts=False)
                done += len(batch)
                _progress(done, args.count, t0)
            size = writer.store.head().size
        finally:
            writer.store.close()
    elapsed = time.perf_counter() - t0
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"Appended {done} synthetic entries in {elapsed:.1f} s; tree size is now {size}")
    return 0


def _synthetic_batches(origin: str, start: int, args: argparse.Namespace) -> Iterator[list[Any]]:
    """Batches of prepared synthetic entries, signed in ``--jobs`` processes (a few batches
    ahead of the commits, no more)."""
    import concurrent.futures
    import multiprocessing
    from collections import deque

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.demo.synth import SYNTHETIC_TYPE, envelope_of, prepared_chunk
    from ledger.write.sequencer import PreparedEntry, prepare

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    ranges = [
        (n, min(args.batch, start + args.count - n))
        for n in range(start, start + args.count, args.batch)
    ]

    def batch_of(chunk: list[Any]) -> list[PreparedEntry]:
        out = [PreparedEntry(envelope_of(e), e[0], e[1], SYNTHETIC_TYPE) for e in chunk]
        # Made without parsing: the first of each batch must be what prepare() makes.
        check = prepare(json.loads(chunk[0][0]))
        if (check.envelope_json, check.envelope_hash, check.envelope) != (
            out[0].envelope_json,
            out[0].envelope_hash,
            out[0].envelope,
        ):
            raise AssertionError("synthetic entries are not what prepare() makes of them")
        return out

    if args.jobs == 1:
        for n, count in ranges:
            yield batch_of(prepared_chunk(origin, raw, n, count))
        return
    spawn = multiprocessing.get_context("spawn")  # the writer lock's descriptor stays here
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
        pending: deque[concurrent.futures.Future[Any]] = deque()
        todo = iter(ranges)
        for n, count in todo:
            pending.append(pool.submit(prepared_chunk, origin, raw, n, count))
            if len(pending) >= 2 * args.jobs:
                break
        while pending:
            chunk = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(prepared_chunk, origin, raw, *nxt))
            yield batch_of(chunk)


def cmd_backup(args: argparse.Namespace) -> int:
    from ledger.recovery.backup import backup_sqlite
    from ledger.storage.backends import sqlite_file

    data = _data(args)
    db_path = sqlite_file(data, "backup")
    if not db_path.is_file():
        raise DataDirError(f"no log database at {db_path}")
    result = backup_sqlite(
        db_path, Path(args.out), blobs_dir=data.root / "blobs" / "sha256", keep=args.keep
    )
    print(
        f"Backed up tree size {result.size} to {result.path} ({result.bytes} bytes, "
        f"{result.blobs_copied} new documents, {result.seconds:.1f} s)"
    )
    for old in result.removed:
        print(f"  removed the older backup {old}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ledger.recovery.restore import Sources, restore_log

    sources = Sources(
        checkpoints=args.checkpoint or [],
        policy_path=Path(args.witness_policy) if args.witness_policy else None,
        vkeys=args.vkey or [],
        ask_witnesses=not args.no_ask_witnesses,
        unwitnessed=args.unwitnessed,
        allow_rollback=args.allow_rollback,
    )
    backup = Path(args.backup) if args.backup else None
    print("\n".join(restore_log(_data(args), backup, sources)))
    return 0


def print_report(report: Any, as_json: bool) -> None:
    from verifier.policy.report import report_json, report_text, verdict

    if as_json:
        print(report_json(report))
    else:
        print(verdict(report))
        print(report_text(report))


def cmd_audit(args: argparse.Namespace) -> int:
    from ledger.read.views import LogView
    from ledger.recovery.fsck import fsck
    from ledger.storage.backends import open_store
    from verifier.entries.fields import parse_time

    data = _data(args)
    # Judge the log that was signed, not a store edited since: fsck first (its
    # LogDamaged exits 3, as frontier-verify does for a broken log).
    fsck(data)
    store = open_store(data, readonly=True)
    try:
        view = LogView(store, data.root / "blobs" / "sha256")
        if not view.governed:
            raise DataDirError(f"{data.root} is a synthetic test log: it has no schedule to audit")
        now = (
            parse_time(args.at, "--at")
            if args.at
            else max(int(time.time() * 1000), store.head().logged_at_ms)
        )
        report = view.audit(now)
    finally:
        store.close()
    print_report(report, args.json)
    return 1 if report.violations else 0


def cmd_fsck(args: argparse.Namespace) -> int:
    from ledger.recovery.fsck import fsck

    data = _data(args)
    data.check_initialised()

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r  {done}/{total} entries re-hashed ", end="", file=sys.stderr)

    t0 = time.perf_counter()
    try:
        result = fsck(data, progress)
    except LogDamaged as exc:
        print(f"DAMAGED {data.store_label}: {exc}")
        if exc.index is not None:
            print(f"   first bad index: {exc.index}")
        print("   do not publish or serve this log; restore a backup (docs/operator.md, Faults)")
        return EXIT_DAMAGED
    print(
        f"INTACT {result.origin}: tree size {result.size}; every leaf re-hashed into its "
        f"tiles ({result.tiles} checked) and into the root of all {result.checkpoints} stored "
        f"checkpoints, each signed by the log ({time.perf_counter() - t0:.1f} s)"
    )
    if result.cosignatures:
        print(f"   {result.cosignatures} stored witness cosignatures verify")
    if result.index_problems:
        print(
            f"   search index: does not match the log ({'; '.join(result.index_problems)}); "
            "rebuild it with 'frontier-ledger reindex' (search may miss or mislabel entries "
            "meanwhile; the log itself is intact)"
        )
        return EXIT_INDEX
    if result.index_missing:
        print(
            "   search index: not built yet (none in the data directory, as after a restore): "
            "the writer builds it from the log when it starts"
        )
        return 0
    lag = result.size - result.indexed
    print(
        f"   search index: covers all {result.size} entries, each row equal to its entry"
        if not lag
        else f"   search index: covers entries 0..{result.indexed - 1} (each row equal to its "
        f"entry), {lag} behind the log: the writer indexes them when it starts (or is "
        "doing so now)"
    )
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from ledger.write.open_log import open_writer

    data = _data(args)
    t0 = time.perf_counter()
    with WriterLock(data):
        writer = open_writer(data)
        try:
            writer.store.clear_index()
            size = writer.open_index()
        finally:
            writer.store.close()
    print(f"Rebuilt the search index of {size} entries in {time.perf_counter() - t0:.1f} s")
    return 0


def _progress(done: int, total: int, t0: float) -> None:
    if not sys.stderr.isatty() or not total:
        return
    rate = done / max(time.perf_counter() - t0, 1e-9)
    eta = (total - done) / rate if rate else 0
    print(f"\r  {done}/{total} entries, {rate:,.0f}/s, ETA {eta:,.0f} s ", end="", file=sys.stderr)


def _add_backup_restore(
    sub: Any,
    data_arg: Callable[[argparse.ArgumentParser], None],
    config_arg: Callable[[argparse.ArgumentParser], None],
) -> None:
    sp = sub.add_parser("backup", help="take an online backup of a SQLite log (server may run)")
    data_arg(sp)
    config_arg(sp)
    sp.add_argument("out", help="backup directory (created if missing)")
    sp.add_argument(
        "--keep", type=int, metavar="N", help="keep only the N newest backups in OUT (default all)"
    )
    sp.set_defaults(func=cmd_backup)

    sp = sub.add_parser(
        "restore",
        help="restore a backup, refusing one that would roll back or fork a witnessed checkpoint",
    )
    data_arg(sp)
    config_arg(sp)
    sp.add_argument(
        "backup",
        nargs="?",
        help="the backup file (ledger-<time>-size<N>.sqlite); none with --database, whose "
        "database (loaded by pg_restore) is checked instead",
    )
    sp.add_argument(
        "--checkpoint",
        action="append",
        metavar="FILE|URL",
        help="a checkpoint the restored log must keep: the mirror's latest, a monitor's, a "
        "receipt's (repeatable)",
    )
    sp.add_argument(
        "--witness-policy",
        metavar="FILE",
        help="tlog-policy of the witnesses (default: DATA/witnesses.policy if present)",
    )
    sp.add_argument(
        "--vkey", action="append", help="the log's vkey, if DATA/log.vkey is gone (repeatable)"
    )
    sp.add_argument(
        "--no-ask-witnesses",
        action="store_true",
        help="do not ask the policy's witnesses which size they last cosigned",
    )
    sp.add_argument(
        "--unwitnessed",
        action="store_true",
        help="restore even when no witnessed checkpoint can be found (risks a rollback)",
    )
    sp.add_argument(
        "--allow-rollback",
        action="store_true",
        help="accept rolling back (or forking) the replaced database's own signed head, and "
        "restoring when fewer witnesses than the quorum answer; never overrides a "
        "witness's or a --checkpoint's size (printed as a WARNING)",
    )
    sp.set_defaults(func=cmd_restore)


#: Builds the served app from the server's options: the API alone here; the
#: composition (frontier_ledger.cli) passes one that mounts the public site too.
AppFactory = Callable[[Any], Any]
#: Adds a layer's own commands to the parser: (subparsers, the --data/--key/--database adder).
AddCommands = Callable[[Any, Callable[[argparse.ArgumentParser], None]], None]


def _api_only(options: Any) -> Any:
    from ledger.api.app import create_api

    return create_api(options)


def _add_checks(sub: Any, data_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    """audit (the schedule's rules) and fsck (the stored log against its signatures)."""
    sp = sub.add_parser("audit", help="audit the log against the schedule's rules")
    data_arg(sp)
    sp.add_argument("--json", action="store_true", help="findings as JSON")
    sp.add_argument("--at", help="judge deadlines as of this RFC 3339 time (default: now)")
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser(
        "fsck", help="check that the stored log is the signed log: every leaf, tile, checkpoint"
    )
    data_arg(sp)
    sp.set_defaults(func=cmd_fsck)

    sp = sub.add_parser(
        "reindex", help="rebuild the search index from the log (takes the writer lock)"
    )
    data_arg(sp)
    sp.set_defaults(func=cmd_reindex)


def build_parser(
    app_factory: AppFactory = _api_only,
    add_commands: AddCommands | None = None,
    program: Sequence[str] = ("-m", "ledger.cli.main"),
) -> argparse.ArgumentParser:
    """The commands; *program* is how ``python`` runs them again (``serve --workers``)."""
    p = argparse.ArgumentParser(
        prog="frontier-ledger",
        description="Operate a Frontier Ledger log: a C2SP tlog-tiles transparency log.",
    )
    p.set_defaults(app_factory=app_factory, add_commands=add_commands, program=tuple(program))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--config",
            metavar="FILE",
            help=f"settings file (TOML; default: ${config.CONFIG_ENV} if set); flags and "
            "environment variables override it",
        )

    def data_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data", help="the log's data directory (required)")
        sp.add_argument("--key", help="signer key file (default: DATA/log.key)")
        config.add_flag(sp, "storage", "database")

    sp = sub.add_parser("init", help="create a new log: database, signer key, vkey")
    data_arg(sp)
    sp.add_argument(
        "--origin",
        required=True,
        help="the log's origin: its URL prefix without scheme, e.g. ledger.example.org/log",
    )
    sp.add_argument(
        "--synthetic",
        action="store_true",
        help="a test log: no charter, entries are checked for shape only (benchmarks, tests)",
    )
    sp.add_argument(
        "--mldsa",
        action="store_true",
        help="also give the log an ML-DSA-44 key (post-quantum): every checkpoint carries "
        "its signature too",
    )
    sp.set_defaults(func=cmd_init)

    sp = sub.add_parser("vkey", help="print the log's verifier key")
    data_arg(sp)
    sp.set_defaults(func=cmd_vkey)

    sp = sub.add_parser("serve", help="serve the log over HTTP (tlog-tiles and JSON API)")
    data_arg(sp)
    config_arg(sp)
    for section, key in (
        ("server", "host"),
        ("server", "port"),
        ("server", "read_only"),
        ("server", "workers"),
        ("server", "max_batch"),
        ("server", "commit_linger"),
        ("server", "max_queue"),
        ("server", "body_timeout"),
        ("logging", "level"),
        ("logging", "format"),
        ("markers", "interval"),
        ("witnesses", "policy"),
        ("witnesses", "interval"),
        ("witnesses", "idle_cadence"),
        ("witnesses", "timeout"),
        ("witnesses", "require_quorum"),
        ("witnesses", "max_checkpoint_age"),
        ("backup", "dir"),
        ("backup", "interval"),
        ("backup", "keep"),
    ):
        config.add_flag(sp, section, key)
    sp.add_argument(
        "--simulated-clock",
        metavar="FILE",
        help="take the sequencer's time from FILE (RFC 3339); simulations only",
    )
    # Set by a 'serve --workers N' process on the workers it starts (ledger.api.workers).
    sp.add_argument("--worker-fds", help=argparse.SUPPRESS)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("export", help="write the log as static tlog-tiles files")
    data_arg(sp)
    sp.add_argument("out", help="output directory (created if missing; re-runs are incremental)")
    sp.add_argument(
        "--repair",
        action="store_true",
        help="compare every file of the log's current size already in OUT with the log "
        "and rewrite those that differ, instead of refusing (exit 5) a mirror changed "
        "outside export",
    )
    sp.set_defaults(func=cmd_export)

    if add_commands is not None:  # the composition's (export-site), beside export
        add_commands(sub, data_arg)

    _add_backup_restore(sub, data_arg, config_arg)

    sp = sub.add_parser("synth", help="append N synthetic signed entries (benchmarks, tests)")
    data_arg(sp)
    sp.add_argument("--count", type=int, required=True, help="number of entries to append")
    sp.add_argument("--batch", type=int, default=1024, help="entries per commit (default 1024)")
    sp.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="sign the entries in N processes while this one commits (default 1: inline)",
    )
    sp.set_defaults(func=cmd_synth)

    _add_checks(sub, data_arg)

    cli_demo.add_parsers(sub)
    cli_entries.add_parsers(sub)
    cli_keys.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run one command; *parser* is the composition's (default: the ledger's alone)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = (parser or build_parser()).parse_args(argv)
    args.argv = argv  # serve --workers starts its workers with the same arguments
    try:
        if args.command in config.DATA_COMMANDS:
            config.resolve(args, args.command)
            if not args.data:
                raise ConfigError(
                    "no data directory: give --data DIR, set FRONTIER_LEDGER_STORAGE_DATA, "
                    "or 'data' in the [storage] section of the configuration file"
                )
        return int(args.func(args))
    except SubmitError as exc:
        print(f"frontier-ledger {args.command}: {exc}", file=sys.stderr)
        return 1
    except LogDamaged as exc:  # the stored log does not verify (export, restore, serve)
        print(f"frontier-ledger {args.command}: DAMAGED: {exc}", file=sys.stderr)
        return EXIT_DAMAGED
    except MirrorAltered as exc:  # export, export-site: the output is not what was written
        print(f"frontier-ledger {args.command}: MIRROR ALTERED: {exc}", file=sys.stderr)
        return EXIT_MIRROR
    # The two roots: the ledger's own errors and the verifier's (a malformed or
    # unverifiable entry, key or note); OSError for files the user named.
    except (LedgerError, LedgerVerifyError, OSError) as exc:
        print(f"frontier-ledger {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
