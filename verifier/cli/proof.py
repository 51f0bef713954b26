"""``frontier-verify proof``: verify an offline receipt, with no network.

A receipt (``application/vnd.frontier-ledger.receipt.v1+json``) holds the leaf
bytes and a C2SP tlog-proof: the entry's index, its inclusion proof and the signed
checkpoint. The checkpoint is verified under the log's key (and, with ``--policy``,
its witness quorum), then the leaf's inclusion in that checkpoint's tree
(:func:`verifier.core.tlog_proof.verify_tlog_proof`), then the leaf is parsed to say
what the entry is. A receipt that fails (it does not parse, its checkpoint's signature
or its inclusion proof fails) is RECEIPT INVALID (exit 6), not LOG BROKEN: anyone can
alter a receipt, so a false one says nothing about the log.
"""

from __future__ import annotations

import argparse
import time

from verifier.cli.options import (
    EXIT_OK,
    add_mldsa_args,
    given_keys,
    read_policy,
    required_mldsa,
)
from verifier.client.logkeys import LogKeys
from verifier.core.checkpoint import open_checkpoint
from verifier.core.encoding import b64decode_strict
from verifier.core.leaf import loads_strict, parse_leaf
from verifier.core.tlog_proof import (
    MAX_RECEIPT_SIZE,
    RECEIPT_MEDIA_TYPE,
    TlogProof,
    VerifiedInclusion,
    parse_tlog_proof,
    verify_tlog_proof,
)
from verifier.core.trust_policy import open_trusted_checkpoint
from verifier.errors import (
    FormatError,
    MissingSignatureError,
    ProofError,
    ReceiptError,
    RetiredKeyError,
    SignatureError,
    UnknownKeyError,
)
from verifier.files import read_capped


def _read_receipt(path: str, keys: LogKeys) -> tuple[bytes, TlogProof, VerifiedInclusion]:
    """The receipt at *path*: its leaf, its tlog-proof, and the inclusion they verify.

    Anything wrong with the receipt itself raises :class:`ReceiptError`: it does not
    parse, a field has the wrong type, the checkpoint it carries is not validly signed
    by the log's key, or the inclusion proof does not lead from its leaf to the signed
    root. A receipt is a file anyone can alter, so none of that shows the log broken.
    Keys the verifier does not know, or a missing required signature, keep their own
    verdicts (the receipt may be fine: this verifier cannot trust it).
    """
    raw = read_capped(path, MAX_RECEIPT_SIZE, "receipt")
    try:
        receipt = loads_strict(raw, what="receipt")
        if not isinstance(receipt, dict) or receipt.get("media_type") != RECEIPT_MEDIA_TYPE:
            raise FormatError(f"not a receipt ({RECEIPT_MEDIA_TYPE})")
        leaf_text, proof_text = receipt.get("leaf"), receipt.get("tlog_proof")
        if not isinstance(leaf_text, str) or not isinstance(proof_text, str):
            raise FormatError("'leaf' and 'tlog_proof' must be strings")
        leaf = b64decode_strict(leaf_text, what="receipt leaf")
        proof = parse_tlog_proof(proof_text)
        verified = verify_tlog_proof(leaf, proof, list(keys.given))
    except (UnknownKeyError, MissingSignatureError, RetiredKeyError):
        raise
    except ProofError as exc:
        raise ReceiptError(
            f"{path}: its inclusion proof does not lead from its leaf to the root of the "
            f"checkpoint it carries ({exc}): the leaf is not entry {proof.index} of that tree"
        ) from None
    except (FormatError, SignatureError) as exc:
        raise ReceiptError(f"{path}: {exc}") from None
    return leaf, proof, verified


def cmd_proof(args: argparse.Namespace) -> int:
    keys = LogKeys(tuple(given_keys(args)))
    required = required_mldsa(args, keys)
    leaf, proof, verified = _read_receipt(args.receipt, keys)
    cosigned: dict[str, int] = {}
    earliest: int | None = None
    if required:
        open_checkpoint(proof.checkpoint, list(keys.given), require_one_of=required)
    if args.policy:
        # The checkpoint must carry the policy's witness quorum: only then is the
        # entry public in the sense that independent witnesses saw this log.
        policy = read_policy(args.policy)
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
