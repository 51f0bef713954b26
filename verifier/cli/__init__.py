"""``frontier-verify``: check a Frontier Ledger log without trusting its operator.

The library raises typed errors (:mod:`verifier.errors`); only :func:`main` turns
them into exit codes:

====  ==========================================================
0     verified: the log is what its signed checkpoint says, and no rule is broken
1     the log is intact but breaks a rule: it holds an entry it should have
      refused (bad signature, unknown or revoked key, wrong role, bad
      reference, time going backwards: L2–L4), or (audit) the schedule was violated
2     usage error (bad arguments, unreadable key file)
3     the log is broken: bad signature, bad tile, failed proof, rollback, fork
4     the log could not be fetched
5     not witnessed: the checkpoint is the log's, but lacks the witness quorum
      of the --policy (nothing is known to be wrong with the log; it is not yet
      known that everyone sees the same log)
====  ==========================================================

The first line a command prints is its verdict (VERIFIED, VIOLATIONS, NO
VIOLATIONS, LOG BROKEN, NOT WITNESSED, CHECKPOINT NOT TRUSTED …); details follow.

One module per command group: :mod:`~verifier.cli.verify` (``verify``, ``audit``),
:mod:`~verifier.cli.compare` (split-view evidence), :mod:`~verifier.cli.monitor`,
:mod:`~verifier.cli.proof` (offline receipts), :mod:`~verifier.cli.witness`
(``witness keygen``, ``witness serve``); :mod:`~verifier.cli.options` holds what
they share (exit codes, the log's keys, the state directory).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from verifier.cli.compare import add_compare
from verifier.cli.monitor import add_monitor
from verifier.cli.options import (
    EXIT_FETCH,
    EXIT_LOG_BROKEN,
    EXIT_OK,
    EXIT_UNWITNESSED,
    EXIT_USAGE,
    EXIT_VIOLATION,
)
from verifier.cli.proof import add_proof
from verifier.cli.verify import add_audit, add_verify
from verifier.cli.witness import add_witness
from verifier.errors import (
    FetchError,
    FormatError,
    LedgerVerifyError,
    MissingSignatureError,
    QuorumError,
    RetiredKeyError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)

__all__ = [
    "EXIT_FETCH",
    "EXIT_LOG_BROKEN",
    "EXIT_OK",
    "EXIT_UNWITNESSED",
    "EXIT_USAGE",
    "EXIT_VIOLATION",
    "build_parser",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="frontier-verify",
        description="Verify a Frontier Ledger log (C2SP tlog-tiles) without trusting its operator.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order of --help and of docs/cli.md.
    add_verify(sub)
    add_compare(sub)
    add_audit(sub)
    add_monitor(sub)
    add_proof(sub)
    add_witness(sub)
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
    except QuorumError as exc:
        # The log's own signature verified; the witnesses have not (yet) vouched for it.
        print(
            f"frontier-verify: NOT WITNESSED: {exc}. The checkpoint is signed by the log; "
            "what is missing is the independent witnesses' word that everyone sees this same "
            "log, so nothing in it is trusted yet. Try again once they have cosigned, or ask "
            "them (tlog-witness).",
            file=sys.stderr,
        )
        return EXIT_UNWITNESSED
    except (UnknownKeyError, RetiredKeyError, MissingSignatureError) as exc:
        # The checkpoint may be fine: this verifier cannot trust it (exit 3 all the same).
        print(f"frontier-verify: CHECKPOINT NOT TRUSTED: {exc}", file=sys.stderr)
        return EXIT_LOG_BROKEN
    except (VerificationError, FormatError, LedgerVerifyError) as exc:
        print(f"frontier-verify: LOG BROKEN: {exc}", file=sys.stderr)
        return EXIT_LOG_BROKEN
