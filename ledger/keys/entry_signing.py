"""Keys and DSSE signatures for the people who append: board members, regulators, labs.

An entry key is an Ed25519 private key in a PKCS#8 PEM file (mode 0600), so
standard tools can read it; its DSSE key id is the hex SHA-256 of the raw public
key (FORMATS.md "Envelope"). Signing needs no network, so it can happen on an
air-gapped machine; several signatures on one envelope make a quorum.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import SigningKeyError
from verifier.core import ed25519
from verifier.core.encoding import b64encode
from verifier.core.leaf import check_envelope, pae
from verifier.files import write_new_private


@dataclass(frozen=True)
class EntryKey:
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def keyid(self) -> str:
        return hashlib.sha256(self.public_bytes).hexdigest()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_bytes).decode()

    @classmethod
    def generate(cls) -> EntryKey:
        while True:  # a random key is never weak, but the check costs nothing
            key = Ed25519PrivateKey.generate()
            try:
                ed25519.check_public_key(key.public_key().public_bytes_raw())
            except ValueError:  # pragma: no cover
                continue
            return cls(key)

    def write(self, path: Path) -> None:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_new_private(path, pem)

    @classmethod
    def load(cls, path: Path) -> EntryKey:
        try:
            mode = path.stat().st_mode & 0o077
            data = path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"cannot read key {path}: {exc.strerror}") from None
        if mode:
            raise SigningKeyError(
                f"key {path} is readable by group or others; run: chmod 600 {path}"
            )
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"key {path} is not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"key {path} is not an Ed25519 key")
        return cls(key)


def payload_type_for(entry_type: str, version: int = 1) -> str:
    return f"application/vnd.frontier-ledger.{entry_type}.v{version}+json"


def sign_envelope(payload: bytes, payload_type: str, keys: list[EntryKey]) -> dict[str, Any]:
    """A DSSE envelope over *payload* with one signature per key (PAE, DSSE v1)."""
    message = pae(payload_type, payload)
    envelope = {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [
            {"keyid": k.keyid, "sig": b64encode(k.private_key.sign(message))} for k in keys
        ],
    }
    check_envelope(envelope)
    return envelope


def add_signatures(envelope: dict[str, Any], keys: list[EntryKey]) -> dict[str, Any]:
    """Countersign an existing envelope (each board member signs in turn, offline)."""
    parsed = check_envelope(envelope)
    message = pae(parsed.payload_type, parsed.payload)
    have = {s["keyid"] for s in envelope["signatures"]}
    extra = [
        {"keyid": k.keyid, "sig": b64encode(k.private_key.sign(message))}
        for k in keys
        if k.keyid not in have
    ]
    out = dict(envelope)
    out["signatures"] = [*envelope["signatures"], *extra]
    check_envelope(out)
    return out
