"""``frontier-verify monitor``: watch a log and print one JSON line per event.

Each round (:class:`verifier.client.monitor.Monitor`) opens the newest checkpoint,
checks it extends the last one seen, fetches and checks only the new entries, and
reports ``entry``, ``finding``, ``checkpoint``, ``stale``, ``inconsistency``,
``unwitnessed`` (a checkpoint without the --policy's witness quorum: reported and
retried, as a fetch error is; ``--max-age`` bounds how long that is tolerated) and
``fetch_error`` events. With ``--state`` it resumes where it stopped and follows a
log key rotation as ``verify`` does: a key change admitted in a tree it verified
makes it trust the new key (``key_change`` and ``key_retired`` events).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from verifier.cli.options import (
    EXIT_OK,
    add_log_args,
    jobs,
    log_keys,
    log_source,
    read_policy,
    required_mldsa,
    state_dir,
    stored_replay,
)
from verifier.client import logkeys
from verifier.client.fetch import RemoteBlobs
from verifier.client.logkeys import KeyChange
from verifier.client.monitor import Monitor, print_json_line
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.note import key_label
from verifier.core.trust_policy import open_trusted_checkpoint
from verifier.entries.payloads import LogKeyChange
from verifier.errors import FetchError


def cmd_monitor(args: argparse.Namespace) -> int:
    source = log_source(args)
    policy = read_policy(args.policy) if args.policy else None
    state = state_dir(args)
    # The monitor trusts the keys given and those learnt in the state directory (by it
    # or by `verify --state`), and follows a log key rotation as verify does: a key
    # change admitted in a tree it verified makes it trust the new key.
    held = [log_keys(args, state)]
    required = required_mldsa(args, held[0])

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
        jobs=jobs(args),
        blobs=RemoteBlobs(source),
        on_checked=follow,
    )
    saved = state.checkpoint_bytes() if state is not None else None
    if state is not None and saved is not None:
        # Resume from the last checkpoint seen; entries before it are not re-reported.
        monitor.last = open_checkpoint(saved, held[0].known())
        resumed = stored_replay(state, monitor.last)
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


def add_monitor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser(
        "monitor",
        help="watch a log: new entries, new findings, forks and a frozen log, as JSON lines",
    )
    add_log_args(sp)
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
        help="alert (a 'stale' event) when the checkpoint has not moved or been cosigned, or "
        "no witnessed checkpoint was seen, for this many seconds",
    )
    sp.add_argument(
        "--rounds", type=int, default=0, help="stop after N rounds (default: run forever)"
    )
    sp.set_defaults(func=cmd_monitor)
