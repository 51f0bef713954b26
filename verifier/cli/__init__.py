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
      of the --policy, or a cosignature by one of its witnesses does not verify
      (nothing is known to be wrong with the log; it is not yet known that
      everyone sees the same log)
6     receipt invalid (``proof``): the receipt is false or malformed (it does not
      parse, its checkpoint's signature or its inclusion proof fails); nothing is
      shown about the log
====  ==========================================================

The first line a command prints is its verdict (VERIFIED, VIOLATIONS, NO
VIOLATIONS, LOG BROKEN, NOT WITNESSED, CHECKPOINT NOT TRUSTED, RECEIPT INVALID,
INCONSISTENT, NO FORK PROVEN, BAD INPUT …); details follow. Bad input (a file
given that is malformed or larger than its cap) is exit 2, like bad arguments.

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
    EXIT_RECEIPT_INVALID,
    EXIT_UNWITNESSED,
    EXIT_USAGE,
    EXIT_VIOLATION,
)
from verifier.cli.proof import add_proof
from verifier.cli.verify import add_audit, add_verify
from verifier.cli.witness import add_witness
from verifier.errors import (
    CosignatureError,
    FetchError,
    FormatError,
    InputError,
    LedgerVerifyError,
    MissingSignatureError,
    QuorumError,
    ReceiptError,
    RetiredKeyError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)

__all__ = [
    "EXIT_FETCH",
    "EXIT_LOG_BROKEN",
    "EXIT_OK",
    "EXIT_RECEIPT_INVALID",
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


#: How main() reports each error: the first matching class, its verdict line, its exit code.
#: The order matters: a subclass comes before its base.
_VERDICTS: tuple[tuple[tuple[type[BaseException], ...], str, int], ...] = (
    ((FetchError,), "cannot fetch the log: {exc}", EXIT_FETCH),
    # A file given is malformed or too large: bad input, nothing about the log.
    ((InputError,), "BAD INPUT: {exc}", EXIT_USAGE),
    ((OSError, UsageError), "{exc}", EXIT_USAGE),
    (
        (ReceiptError,),
        "RECEIPT INVALID: {exc}. The receipt is false or damaged; this shows nothing "
        "about the log itself.",
        EXIT_RECEIPT_INVALID,
    ),
    # The log's own signature verified; a line claiming to be a witness's did not.
    (
        (CosignatureError,),
        "NOT WITNESSED: {exc}. The log is not shown broken: the checkpoint is refused "
        "because a cosignature line by a witness of the policy is forged or damaged (as "
        "signed-note requires), so the witnesses' word that everyone sees this same log "
        "is missing. Fetch the checkpoint again, or ask the witness (tlog-witness).",
        EXIT_UNWITNESSED,
    ),
    # The log's own signature verified; the witnesses have not (yet) vouched for it.
    (
        (QuorumError,),
        "NOT WITNESSED: {exc}. The checkpoint is signed by the log; what is missing is the "
        "independent witnesses' word that everyone sees this same log, so nothing in it is "
        "trusted yet. Try again once they have cosigned, or ask them (tlog-witness).",
        EXIT_UNWITNESSED,
    ),
    # The checkpoint may be fine: this verifier cannot trust it (exit 3 all the same).
    (
        (UnknownKeyError, RetiredKeyError, MissingSignatureError),
        "CHECKPOINT NOT TRUSTED: {exc}",
        EXIT_LOG_BROKEN,
    ),
    ((VerificationError, FormatError, LedgerVerifyError), "LOG BROKEN: {exc}", EXIT_LOG_BROKEN),
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LedgerVerifyError, OSError) as exc:
        for kinds, line, code in _VERDICTS:
            if isinstance(exc, kinds):
                print(f"frontier-verify: {line.format(exc=exc)}", file=sys.stderr)
                return code
        raise
