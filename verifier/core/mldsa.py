"""C2SP tlog-cosignature v1.0.1, ML-DSA-44 variant: ``subtree/v1`` signatures (type 0x06).

The log signs its checkpoints with this key next to its Ed25519 key (C2SP
tlog-checkpoint §"Signatures": "Logs SHOULD use ML-DSA-44 cosignatures to sign
the checkpoint"), and a witness may cosign with it. Byte for byte
(tlog-cosignature §"Format", §"ML-DSA-44 signed message"):

- key ID: ``SHA-256(<name> || 0x0A || 0x06 || 1312-byte public key)[:4]``
- vkey (signed-note §"Verifier keys"): ``<name>+<hex key ID>+<base64(0x06 || public key)>``
- signature line (signed-note): ``— <name> base64(key ID || timestamped_signature)``
  where ``timestamped_signature = uint64_be(timestamp) || ml_dsa_44_signature[2420]``
  (4 + 8 + 2420 = 2432 bytes, 3244 base64 characters)
- signed message, the TLS-style ``cosigned_message`` struct (RFC 8446 §3)::

      uint8  label[12] = "subtree/v1\\n\\0";
      opaque cosigner_name<1..2^8-1>;   // one length byte, then the name
      uint64 timestamp;
      opaque log_origin<1..2^8-1>;      // one length byte, then the origin line
      uint64 start;                     // 0 for a checkpoint
      uint64 end;                       // the tree size for a checkpoint
      uint8  hash[32];                  // the root hash

ML-DSA-44 is FIPS 204 pure ML-DSA with the empty context string (as the Go
reference, filippo.io/torchwood, signs and verifies). The message covers the
origin, size and root only, not extension lines, so a note text with extension
lines is refused rather than half covered (as torchwood does). A timestamp of 0
makes no statement about time (tlog-cosignature: "These two values MAY be zero
if the cosigner doesn't make any statement as to the tree being the largest
observed"): the log signs its own checkpoints with 0, so the signed message
of a checkpoint is a function of the checkpoint alone.

Signer key file (our choice, in the shape of the Go Ed25519 signer keys):
``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x06 || 32-byte FIPS 204 seed ξ)>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey

from verifier.core.checkpoint import parse_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.merkle import EMPTY_ROOT, HASH_SIZE
from verifier.core.note import (
    ALG_MLDSA44_COSIGNATURE,
    Ed25519Verifier,
    NoteSignature,
    check_key_name,
    key_id,
    parse_vkey,
)
from verifier.errors import FormatError, SignatureError

#: Signature type byte of ML-DSA-44 cosignatures (tlog-cosignature §"Format").
ALG_MLDSA44 = ALG_MLDSA44_COSIGNATURE
#: FIPS 204 ML-DSA-44 sizes.
PUBLIC_KEY_SIZE = 1312
SIGNATURE_SIZE = 2420
SEED_SIZE = 32
#: ``timestamped_signature``: uint64 timestamp, then the signature.
TIMESTAMP_SIZE = 8
COSIGNATURE_SIZE = TIMESTAMP_SIZE + SIGNATURE_SIZE
#: ``label[12]`` of ``cosigned_message``.
LABEL = b"subtree/v1\n\x00"
#: "It MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1
#: ``opaque <1..2^8-1>``: the name and the origin each fit one length byte.
MAX_OPAQUE = 255
#: ``uint64 start``, ``uint64 end``.
MAX_UINT64 = 2**64 - 1


def subtree_message(
    cosigner_name: str, timestamp: int, origin: str, *, start: int, end: int, root: bytes
) -> bytes:
    """The ``cosigned_message`` of tlog-cosignature §"ML-DSA-44 signed message"."""
    name, log = cosigner_name.encode(), origin.encode()
    if not 1 <= len(name) <= MAX_OPAQUE:
        raise FormatError(f"ML-DSA-44 cosigner name must be 1..{MAX_OPAQUE} bytes")
    if not 1 <= len(log) <= MAX_OPAQUE:
        raise FormatError(f"log origin must be 1..{MAX_OPAQUE} bytes for an ML-DSA-44 signature")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise FormatError("cosignature timestamp must be at most 2^63 - 1")
    if not 0 <= start <= end <= MAX_UINT64:
        raise FormatError("subtree must have 0 <= start <= end < 2^64")
    if start != 0 and timestamp != 0:
        # "If `start` is not zero, `timestamp` MUST be zero."
        raise FormatError("a subtree that does not start at 0 is signed with timestamp 0")
    if len(root) != HASH_SIZE:
        raise FormatError(f"root hash must be {HASH_SIZE} bytes")
    if start == end and root != EMPTY_ROOT:
        # RFC 9162 §2.1.1: the hash of an empty tree is SHA-256 of the empty string.
        raise FormatError("the root of an empty tree is SHA-256 of the empty string")
    return b"".join(
        (
            LABEL,
            bytes([len(name)]),
            name,
            timestamp.to_bytes(8, "big"),
            bytes([len(log)]),
            log,
            start.to_bytes(8, "big"),
            end.to_bytes(8, "big"),
            root,
        )
    )


def checkpoint_message(cosigner_name: str, timestamp: int, text: str) -> bytes:
    """The signed message for a checkpoint note *text*: the subtree ``[0, size)``.

    Refuses a text with extension lines: the message would not cover them.
    """
    cp = parse_checkpoint(text)
    if cp.extensions:
        raise FormatError(
            "an ML-DSA-44 signature does not cover checkpoint extension lines; "
            "refusing a checkpoint that has them"
        )
    return subtree_message(cosigner_name, timestamp, cp.origin, start=0, end=cp.size, root=cp.root)


@lru_cache(maxsize=64)
def _public_key(raw: bytes) -> MLDSA44PublicKey:
    if len(raw) != PUBLIC_KEY_SIZE:
        raise FormatError(f"ML-DSA-44 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(raw)}")
    try:
        return MLDSA44PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise FormatError(f"ML-DSA-44 public key does not decode: {exc}") from None


@dataclass(frozen=True)
class MLDSA44Verifier:
    """An ML-DSA-44 ``subtree/v1`` key, usable wherever a :class:`NoteVerifier` is.

    Its signature lines are checked over the checkpoint the note text holds.
    """

    name: str
    key_id: bytes
    public_key: bytes

    #: What the CLI and error messages call this kind of key.
    kind = "ML-DSA-44"

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> MLDSA44Verifier:
        check_key_name(name)
        if len(name.encode()) > MAX_OPAQUE:
            raise FormatError(f"an ML-DSA-44 cosigner name is at most {MAX_OPAQUE} bytes")
        _public_key(public_key)
        return cls(name, key_id(name, ALG_MLDSA44, public_key), public_key)

    @property
    def vkey(self) -> str:
        """``<name>+<hex key ID>+<base64(0x06 || public key)>``."""
        raw = bytes([ALG_MLDSA44]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{b64encode(raw)}"

    @staticmethod
    def timestamp(signature: bytes) -> int:
        """``timestamped_signature.timestamp`` (seconds; 0: no statement about time)."""
        if len(signature) != COSIGNATURE_SIZE:
            raise SignatureError(
                f"an ML-DSA-44 cosignature is {COSIGNATURE_SIZE} bytes, not {len(signature)}"
            )
        ts = int.from_bytes(signature[:TIMESTAMP_SIZE], "big")
        if ts > MAX_TIMESTAMP:
            raise SignatureError("ML-DSA-44 cosignature timestamp exceeds 2^63 - 1")
        return ts

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check *signature* (after the key ID) over the note text *message*."""
        ts = self.timestamp(signature)
        try:
            signed = checkpoint_message(self.name, ts, message.decode("utf-8"))
        except (FormatError, UnicodeDecodeError) as exc:
            raise SignatureError(f"ML-DSA-44 signature cannot cover this note: {exc}") from None
        try:
            _public_key(self.public_key).verify(signature[TIMESTAMP_SIZE:], signed)
        except InvalidSignature:
            raise SignatureError("ML-DSA-44 signature does not verify") from None


@dataclass(frozen=True)
class MLDSA44Signer:
    """An ML-DSA-44 key held in memory: the log's checkpoint key, or a witness's."""

    name: str
    key_id: bytes
    private_key: MLDSA44PrivateKey

    kind = "ML-DSA-44"

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> MLDSA44Signer:
        if len(seed) != SEED_SIZE:
            raise FormatError(f"ML-DSA-44 seed must be {SEED_SIZE} bytes, got {len(seed)}")
        key = MLDSA44PrivateKey.from_seed_bytes(seed)
        verifier = MLDSA44Verifier.from_public_key(name, key.public_key().public_bytes_raw())
        return cls(name, verifier.key_id, key)

    @classmethod
    def generate(cls, name: str) -> MLDSA44Signer:
        return cls.from_seed(name, MLDSA44PrivateKey.generate().private_bytes_raw())

    @property
    def verifier(self) -> MLDSA44Verifier:
        return MLDSA44Verifier(
            self.name, self.key_id, self.private_key.public_key().public_bytes_raw()
        )

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex id>+<base64(0x06 || seed)>`` — keep it secret."""
        raw = bytes([ALG_MLDSA44]) + self.private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{b64encode(raw)}"

    def covers(self, text: str) -> None:
        """Raise :class:`FormatError` unless this key can sign the note *text*."""
        checkpoint_message(self.name, 0, text)

    def sign_timestamped(self, text: str, timestamp: int) -> bytes:
        """``uint64_be(timestamp) || ML-DSA-44 signature`` over the checkpoint *text*."""
        message = checkpoint_message(self.name, timestamp, text)
        return timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.private_key.sign(message)

    def sign(self, message: bytes) -> bytes:
        """:class:`NoteSigner` for the log: timestamp 0, so no statement about time."""
        return self.sign_timestamped(message.decode("utf-8"), 0)

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        """A witness's cosignature line over *text*, stamped *timestamp* (seconds)."""
        return NoteSignature(self.name, self.key_id, self.sign_timestamped(text, timestamp))


def split_typed_vkey(vkey: str, what: str = "vkey") -> tuple[str, str, int, bytes]:
    """``<name>+<hex id>+<base64(type || key)>`` → (name, hex id, type byte, key material).

    The base64 part may contain ``+``, so only the first two ``+`` split.
    """
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise FormatError(f"{what}: expected <name>+<hex key ID>+<base64 key>")
    name, id_hex, b64 = parts
    check_key_name(name)
    if len(id_hex) != 8 or any(c not in "0123456789abcdef" for c in id_hex):
        raise FormatError(f"{what}: key ID must be 8 lowercase hex digits")
    raw = b64decode_strict(b64, what=f"{what} key")
    if not raw:
        raise FormatError(f"{what}: the key is empty")
    return name, id_hex, raw[0], raw[1:]


def parse_mldsa_vkey(vkey: str, what: str = "ML-DSA-44 vkey") -> MLDSA44Verifier:
    """Parse an ML-DSA-44 vkey (type 0x06, 1312-byte key), checking its key ID."""
    name, id_hex, alg, key = split_typed_vkey(vkey.strip(), what)
    if alg != ALG_MLDSA44:
        raise FormatError(
            f"{what}: unsupported key type 0x{alg:02x} (expected 0x{ALG_MLDSA44:02x}, ML-DSA-44)"
        )
    verifier = MLDSA44Verifier.from_public_key(name, key)
    if verifier.key_id.hex() != id_hex:
        raise FormatError(f"{what}: key ID does not match the name and key")
    return verifier


def parse_mldsa_skey(skey: str) -> MLDSA44Signer:
    """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x06 || seed32)>``."""
    skey = skey.strip()
    if not skey.startswith("PRIVATE+KEY+"):
        raise FormatError("signer key must start with PRIVATE+KEY+")
    name, id_hex, alg, seed = split_typed_vkey(skey[len("PRIVATE+KEY+") :], "signer key")
    if alg != ALG_MLDSA44 or len(seed) != SEED_SIZE:
        raise FormatError("signer key: expected an ML-DSA-44 seed (type 0x06, 32 bytes)")
    signer = MLDSA44Signer.from_seed(name, seed)
    if signer.key_id.hex() != id_hex:
        raise FormatError("signer key: key ID does not match the name and key")
    return signer


def parse_log_vkey(vkey: str, what: str = "log vkey") -> Ed25519Verifier | MLDSA44Verifier:
    """A log's checkpoint key: Ed25519 (type 0x01) or ML-DSA-44 (type 0x06).

    C2SP tlog-checkpoint §"Signatures": "Logs SHOULD use ML-DSA-44 cosignatures
    to sign the checkpoint, but MAY use any note signature algorithm".
    """
    _, _, alg, _ = split_typed_vkey(vkey.strip(), what)
    if alg == ALG_MLDSA44:
        return parse_mldsa_vkey(vkey, what)
    return parse_vkey(vkey.strip())
