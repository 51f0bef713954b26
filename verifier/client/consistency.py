"""Append-only checks between two signed checkpoints of one log (rule L1).

Either the newer checkpoint's tree extends the older one — shown by an RFC 9162
consistency proof computed from the newer tree's tiles — or the log operator
signed two histories, and the two signed checkpoints with the failing proof are
*evidence* anyone can re-check offline with the log's public key.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifier.client.tilelog import Fetch, TileFetcher
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.merkle import consistency_roots, verify_consistency
from verifier.core.note import NoteVerifier
from verifier.core.prover import Prover
from verifier.errors import FormatError, InconsistencyError, ProofError

EVIDENCE_TYPE = "application/vnd.frontier-ledger.fork-evidence.v1+json"


def check_consistent(
    old: SignedCheckpoint, new: SignedCheckpoint, fetch: Fetch | None
) -> tuple[bytes, ...]:
    """Return the consistency proof from *old* to *new*, or raise InconsistencyError.

    *fetch* reads the newer tree's tiles; it is not needed when the sizes are equal.
    A smaller new size is a rollback; the same size with another root, or a proof
    that does not verify, is a fork.
    """
    a, b = old.raw, new.raw
    if old.origin != new.origin:
        raise FormatError(f"checkpoints of two logs: {old.origin} and {new.origin}")
    if new.size < old.size:
        raise InconsistencyError(
            f"rollback: the log now shows size {new.size}, after size {old.size} was seen",
            old_checkpoint=a,
            new_checkpoint=b,
        )
    if new.size == old.size:
        if new.root != old.root:
            raise InconsistencyError(
                f"fork: two different roots signed for size {old.size}",
                old_checkpoint=a,
                new_checkpoint=b,
            )
        return ()
    if fetch is None:
        raise FormatError("a consistency proof between different sizes needs the log's tiles")
    prover = Prover(TileFetcher(fetch, new.size))
    proof = tuple(prover.consistency(old.size, new.size))
    try:
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    except ProofError as exc:
        # When the old size is a power of two the RFC path starts from the old
        # root itself; the evidence then carries the new tree's own root of that
        # prefix, so a third party sees the path reach the signed new root from it.
        seed = prover.range_root(0, old.size) if old.size & (old.size - 1) == 0 else b""
        raise InconsistencyError(
            f"fork: the tree of size {new.size} does not extend the signed tree of size "
            f"{old.size} ({exc})",
            old_checkpoint=a,
            new_checkpoint=b,
            proof=(seed, *proof) if seed else proof,
        ) from None
    return proof


@dataclass(frozen=True)
class ForkEvidence:
    message: str
    old_checkpoint: bytes
    new_checkpoint: bytes
    proof: tuple[bytes, ...]

    @classmethod
    def of(cls, exc: InconsistencyError) -> ForkEvidence:
        return cls(str(exc), exc.old_checkpoint, exc.new_checkpoint, exc.proof)

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "media_type": EVIDENCE_TYPE,
            "message": self.message,
            "checkpoint_a": self.old_checkpoint.decode(),
            "checkpoint_b": self.new_checkpoint.decode(),
            "consistency_proof": [b64encode(h) for h in self.proof],
            "how_to_check": (
                "Both checkpoints verify under the log's key; for equal sizes the roots "
                "differ, otherwise the proof (computed from the larger tree's tiles) does "
                "not lead from the smaller root to the larger: frontier-verify compare "
                "--evidence FILE --vkey VKEY"
            ),
        }
        return json.dumps(doc, indent=2)


def recheck_evidence(text: str, log_key: NoteVerifier | Sequence[NoteVerifier]) -> str:
    """Re-check a fork evidence file offline; return a sentence saying what it proves.

    Raises FormatError if the file does not prove an inconsistency.
    """
    try:
        doc = json.loads(text)
    except ValueError:
        raise FormatError("evidence is not JSON") from None
    if not isinstance(doc, dict) or doc.get("media_type") != EVIDENCE_TYPE:
        raise FormatError(f"not a fork evidence file ({EVIDENCE_TYPE})")
    a = open_checkpoint(str(doc["checkpoint_a"]).encode(), log_key)
    b = open_checkpoint(str(doc["checkpoint_b"]).encode(), log_key)
    old, new = (a, b) if a.size <= b.size else (b, a)
    if old.size == new.size:
        if old.root != new.root:
            return f"proven fork: the log signed two roots for size {old.size}"
        raise FormatError("the two checkpoints are identical in size and root: no fork")
    path = [
        b64decode_strict(str(h), what="proof hash", length=32) for h in doc["consistency_proof"]
    ]
    seed = old.root
    if old.size & (old.size - 1) == 0:
        if not path:
            raise FormatError(
                "evidence for a power-of-two old size must start with the prefix root"
            )
        seed, path = path[0], path[1:]
    try:
        fr, sr = consistency_roots(old.size, new.size, seed, path)
    except ProofError as exc:
        raise FormatError(f"the evidence's path is malformed: {exc}") from None
    if sr == new.root and fr != old.root:
        return (
            f"proven fork: the log's signed tree of size {new.size} contains a tree of size "
            f"{old.size} whose root is not the one the log signed for that size"
        )
    raise FormatError(
        "the evidence does not prove a fork: its path does not reach the signed new root, "
        "or it reproduces the signed old root"
    )
