"""``frontier-verify compare``: two signed checkpoints of one log, consistent or a fork.

Either prints the RFC 9162 consistency proof between them (from the larger tree's
tiles), or writes fork evidence (:class:`verifier.client.consistency.ForkEvidence`:
both signed checkpoints and the proof that fails) that anyone can re-check offline
with ``--evidence FILE``. Re-checked evidence gives the same verdict as the live
comparison: INCONSISTENT (exit 3) if it proves a fork, else NO FORK PROVEN and why
(exit 0); a file that is not fork evidence, or too large, is BAD INPUT (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from verifier.cli.options import (
    EXIT_LOG_BROKEN,
    EXIT_OK,
    add_deadline_arg,
    given_keys,
    log_source,
)
from verifier.client.consistency import (
    MAX_EVIDENCE_SIZE,
    ForkEvidence,
    check_consistent,
    recheck_evidence,
)
from verifier.core.checkpoint import open_checkpoint
from verifier.core.encoding import b64encode
from verifier.core.note import MAX_NOTE_SIZE, NoteVerifier
from verifier.errors import InconsistencyError, UsageError
from verifier.files import read_capped


def _recheck(path: str, keys: Sequence[NoteVerifier]) -> int:
    """``--evidence FILE``: the fork verdict (exit 3) if the file proves a fork, as a live
    comparison gives it; else NO FORK PROVEN and why (exit 0: the log is not shown broken)."""
    data = read_capped(path, MAX_EVIDENCE_SIZE, "evidence file")
    try:
        why = recheck_evidence(data, keys)
    except InconsistencyError as exc:
        print(f"INCONSISTENT: {exc}", file=sys.stderr)
        print(f"   {path} proves it: both checkpoints are signed by the log's key", file=sys.stderr)
        return EXIT_LOG_BROKEN
    print(f"NO FORK PROVEN: {path} does not prove a fork: {why}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    keys = given_keys(args)
    key = keys[0]
    if args.evidence:
        return _recheck(args.evidence, keys)
    if not (args.checkpoint_a and args.checkpoint_b):
        raise UsageError("give two checkpoint files, or --evidence FILE")
    a = open_checkpoint(read_capped(args.checkpoint_a, MAX_NOTE_SIZE, "checkpoint file"), keys)
    b = open_checkpoint(read_capped(args.checkpoint_b, MAX_NOTE_SIZE, "checkpoint file"), keys)
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
