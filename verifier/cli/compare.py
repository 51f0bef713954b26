"""``frontier-verify compare``: two signed checkpoints of one log, consistent or a fork.

Either prints the RFC 9162 consistency proof between them (from the larger tree's
tiles), or writes fork evidence (:class:`verifier.client.consistency.ForkEvidence`:
both signed checkpoints and the proof that fails) that anyone can re-check offline
with ``--evidence FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.cli.options import (
    EXIT_LOG_BROKEN,
    EXIT_OK,
    add_deadline_arg,
    given_keys,
    log_source,
)
from verifier.client.consistency import ForkEvidence, check_consistent, recheck_evidence
from verifier.core.checkpoint import open_checkpoint
from verifier.core.encoding import b64encode
from verifier.errors import InconsistencyError, UsageError


def cmd_compare(args: argparse.Namespace) -> int:
    keys = given_keys(args)
    key = keys[0]
    if args.evidence:
        print(recheck_evidence(Path(args.evidence).read_text(), keys))
        return EXIT_OK
    if not (args.checkpoint_a and args.checkpoint_b):
        raise UsageError("give two checkpoint files, or --evidence FILE")
    a = open_checkpoint(Path(args.checkpoint_a).read_bytes(), keys)
    b = open_checkpoint(Path(args.checkpoint_b).read_bytes(), keys)
    old, new = (a, b) if a.size <= b.size else (b, a)
    source = log_source(args) if args.log else None
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


def add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sp = sub.add_parser(
        "compare", help="two signed checkpoints: a consistency proof, or fork evidence"
    )
    sp.add_argument("checkpoint_a", nargs="?", help="a signed checkpoint file")
    sp.add_argument("checkpoint_b", nargs="?", help="another signed checkpoint of the same log")
    sp.add_argument("--log", help="log prefix URL or directory (tiles for the proof)")
    add_deadline_arg(sp)
    sp.add_argument("--vkey", help="the log's verifier key, or a file holding it")
    sp.add_argument("--policy", help="a tlog-policy file (its log key is used)")
    sp.add_argument("--out", help="where to write fork evidence (default fork-evidence.json)")
    sp.add_argument("--evidence", help="re-check a fork evidence file offline instead")
    sp.set_defaults(func=cmd_compare)
