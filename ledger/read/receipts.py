"""Offline receipts: an entry's leaf and its C2SP tlog-proof, in one place.

The API (``GET /api/v1/entries/{index}/receipt``, and the ``receipt`` of
``GET /api/v1/entries/{index}``) and the public site (``/entries/{index}/receipt.json``,
which the register links to, and the receipt shown on an entry's page) all build
receipts here, so they cannot disagree. A receipt is what ``frontier-verify proof
RECEIPT`` checks with no network: the leaf hashes into the checkpoint's tree by the
inclusion proof, the checkpoint carries the log's signature and, with ``--policy``,
the witnesses' cosignatures that policy's quorum needs.

Which checkpoint: the latest, with every cosignature stored for it. With a witness
policy, if the latest checkpoint's cosignatures do not meet the policy's quorum yet
(a witness has not answered since the last append), the newest checkpoint that holds
the entry and meets the quorum — what ``/log/checkpoint`` publishes when the quorum is
required — so that ``--policy`` accepts the receipt; the latest one if none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.read.reader import LogReader
from verifier.core.encoding import b64encode
from verifier.core.note import Note, parse_note
from verifier.core.tlog_proof import RECEIPT_MEDIA_TYPE, TlogProof
from verifier.core.trust_policy import TrustPolicy


def cosigned_note(checkpoint: bytes, lines: list[str]) -> bytes:
    """The log-signed checkpoint with cosignature lines appended (signed-note order kept)."""
    note = parse_note(checkpoint)
    extra = parse_note((note.text + "\n" + "".join(lines)).encode()).signatures if lines else ()
    return Note(note.text, (*note.signatures, *extra)).to_bytes()


@dataclass(frozen=True)
class CosignedCheckpoint:
    """A published checkpoint with the cosignatures stored for it."""

    size: int
    #: the log-signed note followed by every stored cosignature line
    note: bytes
    #: witness name -> (signature line, timestamp), as the store keeps them
    cosignatures: dict[str, tuple[str, int]]


def receipt_checkpoint(
    reader: LogReader, index: int = -1, policy: TrustPolicy | None = None
) -> CosignedCheckpoint:
    """The checkpoint a receipt for entry *index* is made against (see the module's text);
    *index* -1: any entry (the newest checkpoint meeting the quorum)."""
    head = reader.head()
    store = reader.store
    cosigs = store.cosignatures(head.size)
    if policy is not None and not policy.quorum_met(set(cosigs)):
        for size in store.cosigned_sizes():
            if size <= index or size > head.size:
                continue
            older = store.cosignatures(size)
            if policy.quorum_met(set(older)):
                note = reader.checkpoint_at(size)
                return CosignedCheckpoint(size, _with(note, older), older)
    return CosignedCheckpoint(head.size, _with(head.checkpoint, cosigs), cosigs)


def _with(note: bytes, cosigs: dict[str, tuple[str, int]]) -> bytes:
    lines = [line if line.endswith("\n") else line + "\n" for line, _ in cosigs.values()]
    return cosigned_note(note, lines) if lines else note


def receipt(
    reader: LogReader,
    index: int,
    policy: TrustPolicy | None = None,
    leaf: bytes | None = None,
) -> dict[str, Any]:
    """The offline receipt of entry *index*: ``{"media_type", "leaf", "tlog_proof"}``.

    *policy* is the log's witness policy, if it has one; *leaf* the entry's bytes if the
    caller has read them already. Raises NotFound for an index the log does not hold.
    """
    if leaf is None:
        leaf = reader.entry(index).leaf
    checkpoint = receipt_checkpoint(reader, index, policy)
    _, proof = reader.inclusion(index, checkpoint.size)
    text = TlogProof(index, tuple(proof), checkpoint.note).to_text()
    return {"media_type": RECEIPT_MEDIA_TYPE, "leaf": b64encode(leaf), "tlog_proof": text}
