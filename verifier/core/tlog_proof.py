"""C2SP tlog-proof@v1: an inclusion proof bundled with its checkpoint, for offline checks.

::

    c2sp.org/tlog-proof@v1
    [extra <base64>]            (optional, unauthenticated: never trusted)
    index <decimal>
    <base64 hash>               (0..n lines, the leaf's sibling first)
    <empty line>
    <signed checkpoint note, verbatim>

A *receipt* is this text plus the leaf bytes (FORMATS.md "Offline proof")::

    {"media_type": "application/vnd.frontier-ledger.receipt.v1+json",
     "leaf": "<base64>", "tlog_proof": "<text above>"}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode, parse_decimal
from verifier.core.merkle import HASH_SIZE, MAX_PROOF_HASHES, leaf_hash, verify_inclusion
from verifier.core.note import MAX_NOTE_SIZE, NoteVerifier
from verifier.errors import FormatError

HEADER = "c2sp.org/tlog-proof@v1"
RECEIPT_MEDIA_TYPE = "application/vnd.frontier-ledger.receipt.v1+json"
MAX_PROOF_SIZE = MAX_NOTE_SIZE + 4096
#: Largest receipt file read: one leaf (at most 65,535 bytes, base64) and one tlog-proof
#: (at most MAX_PROOF_SIZE), JSON-escaped (a \\uXXXX escape is six bytes for one).
MAX_RECEIPT_SIZE = 1024 * 1024


@dataclass(frozen=True)
class TlogProof:
    index: int
    path: tuple[bytes, ...]
    checkpoint: bytes  # the signed note, verbatim
    extra: bytes | None = None

    def to_text(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {b64encode(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(b64encode(h) for h in self.path)
        return "\n".join(lines) + "\n\n" + self.checkpoint.decode()


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a tlog-proof strictly; the checkpoint is returned unverified."""
    if len(text.encode()) > MAX_PROOF_SIZE:
        raise FormatError("tlog-proof is too large")
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise FormatError("tlog-proof: no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise FormatError(f"tlog-proof: first line must be {HEADER!r}")
    pos = 1
    extra = None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = b64decode_strict(lines[pos][len("extra ") :], what="tlog-proof extra")
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise FormatError("tlog-proof: missing 'index <n>' line")
    index = parse_decimal(lines[pos][len("index ") :], what="tlog-proof index")
    hashes = lines[pos + 1 :]
    if len(hashes) > MAX_PROOF_HASHES:
        raise FormatError("tlog-proof: too many proof hashes")
    path = tuple(b64decode_strict(h, what="tlog-proof hash", length=HASH_SIZE) for h in hashes)
    return TlogProof(index, path, checkpoint.encode(), extra)


@dataclass(frozen=True)
class VerifiedInclusion:
    index: int
    leaf: bytes
    checkpoint: SignedCheckpoint


def verify_tlog_proof(
    leaf: bytes,
    proof: TlogProof,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    *,
    other_keys: tuple[NoteVerifier, ...] = (),
) -> VerifiedInclusion:
    """Check the checkpoint's signature, then that *leaf* is at ``proof.index`` under its root."""
    cp = open_checkpoint(proof.checkpoint, log_key, other_keys=other_keys)
    verify_inclusion(leaf_hash(leaf), proof.index, cp.size, proof.path, cp.root)
    return VerifiedInclusion(proof.index, leaf, cp)
