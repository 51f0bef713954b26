"""C2SP tlog-cosignature v1.0.1: witness cosignatures on checkpoints (Ed25519, type 0x04).

- key ID: ``SHA-256(name || 0x0A || 0x04 || pubkey32)[:4]``
- vkey: ``<name>+<hex key ID>+<base64(0x04 || pubkey32)>``
- signature (after the 4-byte key ID): ``uint64_be(timestamp) || ed25519sig64``
- signed message: ``"cosignature/v1\\ntime <decimal timestamp>\\n" || note text``

The timestamp (seconds since the epoch) says when the witness saw the
checkpoint; it is what POLICY.md rule L5 calls an entry's "existed by" time.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.core import ed25519
from verifier.core.encoding import b64encode
from verifier.core.mldsa import ALG_MLDSA44, MLDSA44Verifier, parse_mldsa_vkey, split_typed_vkey
from verifier.core.note import ALG_COSIGNATURE_V1, NoteSignature, check_key_name, key_id, split_vkey
from verifier.errors import FormatError, SignatureError

COSIGNATURE_SIZE = 8 + 64


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's cosignature/v1 key, usable wherever a NoteVerifier is."""

    name: str
    key_id: bytes
    public_key: bytes

    kind = "Ed25519 cosignature/v1"

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureVerifier:
        check_key_name(name)
        ed25519.check_public_key(public_key)
        return cls(name, key_id(name, ALG_COSIGNATURE_V1, public_key), public_key)

    @property
    def vkey(self) -> str:
        raw = bytes([ALG_COSIGNATURE_V1]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{b64encode(raw)}"

    @staticmethod
    def timestamp(signature: bytes) -> int:
        if len(signature) != COSIGNATURE_SIZE:
            raise SignatureError(f"a cosignature is {COSIGNATURE_SIZE} bytes, not {len(signature)}")
        return int.from_bytes(signature[:8], "big")

    def verify(self, message: bytes, signature: bytes) -> None:
        ts = self.timestamp(signature)
        signed = cosigned_message(message.decode(), ts)
        ed25519.verify(ed25519.load_public_key(self.public_key), signature[8:], signed)


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's signing key for cosignature/v1."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> CosignatureSigner:
        check_key_name(name)
        key = ed25519.private_key_from_seed(seed)
        return cls(name, key_id(name, ALG_COSIGNATURE_V1, ed25519.public_bytes(key)), key)

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier.from_public_key(
            self.name, ed25519.public_bytes(self.private_key)
        )

    def covers(self, text: str) -> None:
        """cosignature/v1 covers the whole note text, extension lines included."""

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        sig = self.private_key.sign(cosigned_message(text, timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + sig)


def parse_witness_vkey(vkey: str) -> CosignatureVerifier | MLDSA44Verifier:
    """Parse a witness vkey: ``<name>+<hex id>+<base64(type || key)>``.

    Type 0x04: Ed25519 cosignature/v1 (32-byte key); type 0x06: ML-DSA-44
    ``subtree/v1`` (1312-byte key), the two types of tlog-cosignature §"Format".
    """
    if split_typed_vkey(vkey, "witness vkey")[2] == ALG_MLDSA44:
        return parse_mldsa_vkey(vkey, "witness vkey")
    name, id_hex, key = split_vkey(vkey, ALG_COSIGNATURE_V1, "witness vkey")
    verifier = CosignatureVerifier.from_public_key(name, key)
    if verifier.key_id.hex() != id_hex:
        raise FormatError("witness vkey: key ID does not match the name and key")
    return verifier
