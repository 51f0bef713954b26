"""What every ``frontier-verify`` command shares: exit codes, the log's keys, the state directory.

The keys come out of band, never from the log: ``--vkey`` (or a file holding it),
the ``log`` lines of a ``--policy`` file (C2SP tlog-policy), ``--mldsa-vkey``; a
state directory adds the key changes an earlier run accepted from the log itself
(:mod:`verifier.client.logkeys`). The argument groups here define those options
once for every command that takes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.client import logkeys
from verifier.client.fetch import DEADLINE_SECONDS, TIMEOUT_SECONDS, LogSource
from verifier.client.logkeys import LogKey, LogKeys
from verifier.client.sigpool import available_cores
from verifier.client.statedir import StateDir
from verifier.core.checkpoint import SignedCheckpoint
from verifier.core.mldsa import MLDSA44Verifier, parse_mldsa_vkey
from verifier.core.note import Ed25519Verifier, parse_vkey
from verifier.core.trust_policy import MAX_POLICY_SIZE, TrustPolicy, parse_trust_policy
from verifier.errors import FormatError, InputError, SnapshotError, UsageError
from verifier.files import read_capped_text
from verifier.policy.audit import AuditState

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_LOG_BROKEN = 3
EXIT_FETCH = 4
#: The log's signature is good but the witnesses your policy names have not cosigned.
EXIT_UNWITNESSED = 5
#: ``proof``: the receipt is false or malformed (not the log: a receipt anyone can alter).
EXIT_RECEIPT_INVALID = 6


#: Largest key file read (an ML-DSA-44 vkey is under 2 KiB of text).
MAX_KEY_FILE_SIZE = 64 * 1024


def _read_key_arg(value: str) -> str:
    path = Path(value)
    if "+" not in value and path.is_file():
        return read_capped_text(path, MAX_KEY_FILE_SIZE, "key file").strip()
    return value.strip()


def read_policy(path: str) -> TrustPolicy:
    """The tlog-policy file at *path*, read up to its cap (:data:`MAX_POLICY_SIZE`).

    A policy that does not parse is bad input (exit 2): the reader's own file is wrong,
    nothing is shown about the log."""
    text = read_capped_text(path, MAX_POLICY_SIZE, "policy file")
    try:
        return parse_trust_policy(text)
    except FormatError as exc:
        raise InputError(f"policy file {path}: {exc}") from None


def _load_vkey(value: str) -> Ed25519Verifier:
    return parse_vkey(_read_key_arg(value))


def given_keys(args: argparse.Namespace) -> list[LogKey]:
    """The log keys given out of band: ``--policy`` log lines or ``--vkey``; ``--mldsa-vkey``."""
    keys: list[LogKey] = []
    if getattr(args, "policy", None):
        keys += read_policy(args.policy).logs
    elif getattr(args, "vkey", None):
        keys.append(_load_vkey(args.vkey))
    else:
        raise UsageError("give the log's key: --policy FILE or --vkey VKEY")
    if getattr(args, "mldsa_vkey", None):
        keys.append(parse_mldsa_vkey(_read_key_arg(args.mldsa_vkey), "--mldsa-vkey"))
    return keys


def log_keys(args: argparse.Namespace, state: StateDir | None = None) -> LogKeys:
    """The keys given, and the key changes a state directory accepted earlier."""
    keys = LogKeys(tuple(given_keys(args)))
    if state is None:
        return keys
    try:
        return LogKeys(keys.given, logkeys.load(state.path, keys.given[0].name))
    except FormatError as exc:
        # Fails closed: without the file only the given keys are trusted.
        print(f"   ignoring the stored log keys: {exc}", file=sys.stderr)
        return keys


def required_mldsa(args: argparse.Namespace, keys: LogKeys) -> list[MLDSA44Verifier]:
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


def jobs(args: argparse.Namespace) -> int:
    """How many processes check signatures (``--jobs``; default: the cores we may use)."""
    if args.jobs is None:
        return available_cores()
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return int(args.jobs)


def state_dir(args: argparse.Namespace) -> StateDir | None:
    """The ``--state`` directory, if one was given."""
    return StateDir(Path(args.state)) if getattr(args, "state", None) else None


def stored_replay(state: StateDir, checkpoint: SignedCheckpoint) -> AuditState | None:
    """The replay state stored for *checkpoint*, or None (then the log is replayed again)."""
    try:
        return state.load_replay(checkpoint)
    except SnapshotError as exc:
        # A damaged state file costs a full replay, never a wrong answer.
        print(f"   ignoring the stored replay state: {exc}", file=sys.stderr)
        return None


def add_log_args(sp: argparse.ArgumentParser) -> None:
    """Where the log is, which key (or trust policy) to check it with, and how many cores."""
    sp.add_argument("--log", required=True, help="log prefix URL (http://host/log) or a directory")
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument("--policy", help="a tlog-policy file: the log key, witnesses and quorum")
    add_deadline_arg(sp)
    add_mldsa_args(sp)
    sp.add_argument(
        "--jobs",
        type=int,
        help="processes checking signatures (default: the cores this process may use; 1: in line)",
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return seconds


def add_deadline_arg(sp: argparse.ArgumentParser) -> None:
    """How long one HTTP request of the log may take, start to last byte."""
    sp.add_argument(
        "--http-deadline",
        type=_seconds,
        default=DEADLINE_SECONDS,
        metavar="SECONDS",
        help="give up on an HTTP request (checkpoint, tile, bundle, blob) that has not "
        f"received its whole answer within SECONDS (default {DEADLINE_SECONDS:g}); "
        "each wait for a byte is also capped at "
        f"{TIMEOUT_SECONDS:g} s",
    )


def log_source(args: argparse.Namespace) -> LogSource:
    """The log at --log, its HTTP requests bounded by --http-deadline."""
    return LogSource(args.log, deadline=args.http_deadline)


def add_mldsa_args(sp: argparse.ArgumentParser) -> None:
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


def add_state_args(sp: argparse.ArgumentParser, what: str) -> None:
    """``--state DIR`` and ``--full``; *what* says what the state saves next time."""
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
