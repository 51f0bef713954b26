"""Synthetic, well-formed, really signed entries for benchmarks and tests.

Each entry is a DSSE envelope of type ``synthetic`` signed with Ed25519 by a
throwaway key; the payload names the log's origin like every real payload.

:func:`prepared_chunk` makes them ready to sequence in bulk (``frontier-ledger
synth --jobs N`` runs it in N processes): the same envelopes, their canonical
JSON and hash computed directly instead of parsed back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.core.encoding import b64encode
from verifier.core.leaf import Envelope, EnvelopeSignature, canonical_json, pae

SYNTHETIC_TYPE = "application/vnd.frontier-ledger.synthetic.v1+json"


def sign_envelope(key: Ed25519PrivateKey, payload_type: str, payload: bytes) -> dict[str, Any]:
    """A DSSE envelope over *payload*, keyid = hex SHA-256 of the raw public key."""
    keyid = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()
    return _envelope(keyid, payload_type, payload, key.sign(pae(payload_type, payload)))


def _envelope(keyid: str, payload_type: str, payload: bytes, sig: bytes) -> dict[str, Any]:
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": b64encode(sig)}],
    }


def _signed(
    origin: str, count: int, start: int, key: Ed25519PrivateKey
) -> Iterator[tuple[dict[str, Any], bytes, str, bytes]]:
    """(envelope, payload, key id, signature) of synthetic entries ``start ..``."""
    keyid = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()
    nonce = keyid[:16]
    for n in range(start, start + count):
        payload = json.dumps(
            {"type": "synthetic", "v": 1, "log": origin, "n": n, "nonce": nonce},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        sig = key.sign(pae(SYNTHETIC_TYPE, payload))
        yield _envelope(keyid, SYNTHETIC_TYPE, payload, sig), payload, keyid, sig


def synthetic_envelopes(
    origin: str, count: int, start: int = 0, key: Ed25519PrivateKey | None = None
) -> Iterator[dict[str, Any]]:
    for env, _, _, _ in _signed(origin, count, start, key or Ed25519PrivateKey.generate()):
        yield env


#: One synthetic entry ready to sequence: (canonical envelope JSON, its SHA-256, payload,
#: key id, signature): plain values, cheap to send between processes.
Prepared = tuple[str, bytes, bytes, str, bytes]


def prepared_chunk(origin: str, private_key: bytes, start: int, count: int) -> list[Prepared]:
    """Entries ``start .. start+count-1`` of :func:`synthetic_envelopes` for the key whose
    raw private bytes are *private_key*, each with its canonical JSON and hash."""
    key = Ed25519PrivateKey.from_private_bytes(private_key)
    out: list[Prepared] = []
    for env, payload, keyid, sig in _signed(origin, count, start, key):
        text = canonical_json(env)
        out.append((text, hashlib.sha256(text.encode()).digest(), payload, keyid, sig))
    return out


def envelope_of(entry: Prepared) -> Envelope:
    """The checked shape of a :data:`Prepared` entry (made here, so not parsed again)."""
    _, _, payload, keyid, sig = entry
    return Envelope(payload, SYNTHETIC_TYPE, (EnvelopeSignature(keyid, sig),), "synthetic", 1)
