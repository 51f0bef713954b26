"""Append-only checks between two signed checkpoints of one log (rule L1).

Either the newer checkpoint's tree extends the older one — shown by an RFC 9162
consistency proof computed from the newer tree's tiles — or the log operator
signed two histories, and the two signed checkpoints with the failing proof are
*evidence* anyone can re-check offline with the log's public key
(:func:`recheck_evidence`: it raises the same :class:`InconsistencyError` when the
evidence proves a fork, and says why not otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifier.client.tilelog import Fetch, TileFetcher
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.leaf import loads_strict
from verifier.core.merkle import MAX_PROOF_HASHES, consistency_roots, verify_consistency
from verifier.core.note import NoteVerifier
from verifier.core.prover import Prover
from verifier.errors import (
    FormatError,
    InconsistencyError,
    InputError,
    ProofError,
    SignatureError,
)

EVIDENCE_TYPE = "application/vnd.frontier-ledger.fork-evidence.v1+json"
#: Largest evidence file read: two notes (at most MAX_NOTE_SIZE each), 65 hashes and
#: prose, JSON-escaped.
MAX_EVIDENCE_SIZE = 1024 * 1024


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


def recheck_evidence(data: bytes, log_key: NoteVerifier | Sequence[NoteVerifier]) -> str:
    """Re-check a fork evidence file (its bytes) offline.

    If the evidence proves a fork, raises :class:`InconsistencyError` carrying both
    signed checkpoints and the path: the same error a live comparison raises. Else
    returns why it does not prove one (the checkpoints are consistent, the same, not
    signed by the log's key, or the path leads nowhere): the log is not shown broken.
    A file that is not fork evidence (not JSON, too deep, a field missing or of the
    wrong type) raises :class:`InputError`.
    """
    doc = _evidence_document(data)
    a = _evidence_checkpoint(doc, "checkpoint_a", log_key)
    b = _evidence_checkpoint(doc, "checkpoint_b", log_key)
    hashes = _evidence_path(doc)
    if isinstance(a, str) or isinstance(b, str):
        return a if isinstance(a, str) else str(b)
    old, new = (a, b) if a.size <= b.size else (b, a)
    if old.origin != new.origin:
        return f"the two checkpoints are of two logs ({old.origin} and {new.origin})"
    if old.size == new.size:
        if old.root != new.root:
            raise InconsistencyError(
                f"proven fork: the log signed two roots for size {old.size}",
                old_checkpoint=old.raw,
                new_checkpoint=new.raw,
            )
        return f"the two checkpoints are the same tree (size {old.size}, the same root)"
    return _recheck_path(old, new, hashes)


def _recheck_path(old: SignedCheckpoint, new: SignedCheckpoint, hashes: list[bytes]) -> str:
    """Evidence between two sizes: raise the fork if its path proves one, else say why not."""
    if old.size == 0:
        return "the smaller checkpoint is the empty tree, which every tree extends"
    seed, path = old.root, hashes
    if old.size & (old.size - 1) == 0:
        if not path:
            return (
                f"for the power-of-two size {old.size} its consistency proof must start with "
                "the larger tree's root of that prefix, and it is empty"
            )
        seed, path = path[0], path[1:]
    try:
        fr, sr = consistency_roots(old.size, new.size, seed, path)
    except ProofError as exc:
        return f"its consistency proof is malformed for sizes {old.size} and {new.size} ({exc})"
    if sr != new.root:
        return (
            f"its consistency proof does not lead to the signed root of size {new.size}, "
            "so it shows nothing about the log's trees"
        )
    if fr == old.root:
        return (
            f"its consistency proof shows that the signed tree of size {new.size} extends "
            f"the signed tree of size {old.size}: the two checkpoints are consistent"
        )
    raise InconsistencyError(
        f"proven fork: the log's signed tree of size {new.size} contains a tree of size "
        f"{old.size} whose root is not the one the log signed for that size",
        old_checkpoint=old.raw,
        new_checkpoint=new.raw,
        proof=tuple(hashes),
    )


def _evidence_document(data: bytes) -> dict[str, Any]:
    try:
        doc = loads_strict(data, what="evidence")
    except FormatError as exc:
        raise InputError(str(exc)) from None
    if not isinstance(doc, dict) or doc.get("media_type") != EVIDENCE_TYPE:
        raise InputError(f"evidence: not a fork evidence file ({EVIDENCE_TYPE})")
    return doc


def _evidence_checkpoint(
    doc: dict[str, Any], field: str, log_key: NoteVerifier | Sequence[NoteVerifier]
) -> SignedCheckpoint | str:
    """The signed checkpoint in *field*, or why it proves nothing (not the log's signature)."""
    text = doc.get(field)
    if not isinstance(text, str):
        raise InputError(f"evidence: '{field}' must be a signed checkpoint (a string)")
    try:
        return open_checkpoint(text.encode(), log_key)
    except SignatureError as exc:
        return f"{field} is not validly signed by the log's key ({exc})"
    except FormatError as exc:
        raise InputError(f"evidence: '{field}' is not a checkpoint: {exc}") from None


def _evidence_path(doc: dict[str, Any]) -> list[bytes]:
    """The evidence's consistency proof: at most MAX_PROOF_HASHES + 1 base64 hashes."""
    hashes = doc.get("consistency_proof", [])
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise InputError("evidence: 'consistency_proof' must be a list of base64 hashes")
    if len(hashes) > MAX_PROOF_HASHES + 1:
        raise InputError(f"evidence: more than {MAX_PROOF_HASHES + 1} consistency proof hashes")
    try:
        return [b64decode_strict(h, what="proof hash", length=32) for h in hashes]
    except FormatError as exc:
        raise InputError(f"evidence: 'consistency_proof': {exc}") from None
