"""``frontier-verify proof``: verify an offline receipt, with no network.

A receipt (``application/vnd.frontier-ledger.receipt.v1+json``) holds the leaf
bytes and a C2SP tlog-proof: the entry's index, its inclusion proof and the signed
checkpoint. The checkpoint is verified under the log's key (and, with ``--policy``,
its witness quorum), then the leaf's inclusion in that checkpoint's tree
(:func:`verifier.core.tlog_proof.verify_tlog_proof`), then the leaf is parsed to say
what the entry is.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from verifier.cli.options import EXIT_OK, add_mldsa_args, given_keys, required_mldsa
from verifier.client.logkeys import LogKeys
from verifier.core.checkpoint import open_checkpoint
from verifier.core.encoding import b64decode_strict
from verifier.core.leaf import loads_strict, parse_leaf
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, parse_tlog_proof, verify_tlog_proof
from verifier.core.trust_policy import open_trusted_checkpoint, parse_trust_policy
from verifier.errors import FormatError


def cmd_proof(args: argparse.Namespace) -> int:
    keys = LogKeys(tuple(given_keys(args)))
    required = required_mldsa(args, keys)
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
    print(f"VERIFIED: entry {proof.index} is in {cp.origin} at tree size {cp.size}")
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


def add_proof(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("proof", help="verify an offline receipt (leaf + tlog-proof), no network")
    sp.add_argument("receipt", help="receipt JSON file")
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument(
        "--policy", help="a tlog-policy file: also require its witness quorum on the checkpoint"
    )
    add_mldsa_args(sp)
    sp.add_argument("--show-payload", action="store_true", help="print the entry's payload")
    sp.set_defaults(func=cmd_proof)
