"""Ed25519 public-key admission and signature checks.

Every place that accepts an Ed25519 public key goes through :func:`load_public_key`,
which refuses keys that are not canonically encoded or that have small order.
Why: OpenSSL (behind ``cryptography``) accepts the identity point as a public
key, and with an all-zero S that "signature" verifies on *any* message; a log,
witness or entry key like that would let anyone forge. libsodium refuses the
same keys with a blocklist of encodings; this is the same blocklist, computed.

Encoding (RFC 8032 §5.1.2): 32 bytes, little-endian y with the sign of x in the
top bit. Canonical means y < p. The small-order points of edwards25519 have
y ∈ {1, p-1, 0, y8, p-y8} (orders 1, 2, 4, 8, 8).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from verifier.errors import FormatError, SignatureError, WeakKeyError

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
SEED_SIZE = 32

_P = 2**255 - 19
# y-coordinate of the order-8 points (libsodium's blocklist, ed25519_ref10.c).
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y8, _P - _Y8})
# Group order L (RFC 8032 §5.1); a signature's S must be below it.
_L = 2**252 + 27742317777372353535851937790883648493


def check_public_key(raw: bytes) -> None:
    """Raise :class:`WeakKeyError` unless *raw* is a canonical, non-small-order key."""
    if len(raw) != PUBLIC_KEY_SIZE:
        raise FormatError(f"Ed25519 public key must be {PUBLIC_KEY_SIZE} bytes, got {len(raw)}")
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P:
        raise WeakKeyError("Ed25519 public key is not canonically encoded (y >= p)")
    if y in _SMALL_ORDER_Y:
        raise WeakKeyError("Ed25519 public key has small order; it is refused")


@lru_cache(maxsize=4096)
def load_public_key(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key that passed :func:`check_public_key` (cached: keys recur)."""
    check_public_key(raw)
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise FormatError(f"Ed25519 public key does not decode: {exc}") from None


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> None:
    """Verify an Ed25519 signature; raise :class:`SignatureError` if it does not verify."""
    if len(signature) != SIGNATURE_SIZE:
        raise SignatureError(f"Ed25519 signature must be {SIGNATURE_SIZE} bytes")
    # RFC 8032 §5.1.7 requires S < L; reject malleable encodings before OpenSSL.
    if int.from_bytes(signature[32:], "little") >= _L:
        raise SignatureError("Ed25519 signature is not canonical (S >= L)")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise SignatureError("Ed25519 signature does not verify") from None


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5)."""
    if len(seed) != SEED_SIZE:
        raise FormatError(f"Ed25519 seed must be {SEED_SIZE} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()
