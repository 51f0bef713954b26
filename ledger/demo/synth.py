"""Synthetic, well-formed, really signed entries for benchmarks and tests.

Each entry is a DSSE envelope of type ``synthetic`` signed with Ed25519 by a
throwaway key; the payload names the log's origin like every real payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.core.encoding import b64encode
from verifier.core.leaf import pae

SYNTHETIC_TYPE = "application/vnd.frontier-ledger.synthetic.v1+json"


def sign_envelope(key: Ed25519PrivateKey, payload_type: str, payload: bytes) -> dict[str, Any]:
    """A DSSE envelope over *payload*, keyid = hex SHA-256 of the raw public key."""
    keyid = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()
    sig = key.sign(pae(payload_type, payload))
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": b64encode(sig)}],
    }


def synthetic_envelopes(
    origin: str, count: int, start: int = 0, key: Ed25519PrivateKey | None = None
) -> Iterator[dict[str, Any]]:
    key = key or Ed25519PrivateKey.generate()
    nonce = hashlib.sha256(key.public_key().public_bytes_raw()).hexdigest()[:16]
    for n in range(start, start + count):
        payload = json.dumps(
            {"type": "synthetic", "v": 1, "log": origin, "n": n, "nonce": nonce},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        yield sign_envelope(key, SYNTHETIC_TYPE, payload)
