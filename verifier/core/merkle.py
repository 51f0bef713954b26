"""RFC 9162 §2.1 Merkle tree hashing and proof verification (SHA-256).

Pure functions of values: bytes in, a value or a typed exception out.

- ``MTH({}) = SHA-256("")``
- leaf hash ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``
- a tree of n > 1 leaves splits at k, the largest power of two smaller than n.

Proofs are sequences of 32-byte hashes, the leaf's (or the old tree's) side first:
inclusion ``PATH(m, D[n])`` (§2.1.3), consistency ``PROOF(m, D[n])`` (§2.1.4), at
most :data:`MAX_PROOF_HASHES` each. Verification follows §2.1.3.2 and §2.1.4.2
step by step; a hash of the wrong length or a proof that is too long is a
:class:`FormatError`, a proof that does not lead to the root a :class:`ProofError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from verifier.errors import FormatError, ProofError

HASH_SIZE = 32
#: RFC 9162 §2.1.1: the hash of an empty tree is the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: A proof in a tree of at most 2**64 leaves has at most 64 hashes (and one more
#: for a consistency proof whose old size is not a power of two is never needed).
MAX_PROOF_HASHES = 64

_sha256 = hashlib.sha256


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x00 || leaf)``."""
    return _sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree whose leaf-level hashes are *hashes* (length 2**k)."""
    n = len(hashes)
    if n == 0 or n & (n - 1):
        raise ValueError(f"perfect_root needs a power of two, got {n}")
    level = list(hashes)
    while len(level) > 1:
        it = iter(level)
        level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=True)]
    return level[0]


def subtree_roots(hashes: Sequence[bytes]) -> list[bytes]:
    """Roots of the perfect subtrees of a tree of ``len(hashes)`` leaves, left to right.

    The decomposition follows the binary expansion of the size, largest first:
    a tree of 13 leaves is 8 + 4 + 1.
    """
    roots: list[bytes] = []
    start = 0
    n = len(hashes)
    while start < n:
        width = 1 << ((n - start).bit_length() - 1)
        roots.append(perfect_root(hashes[start : start + width]))
        start += width
    return roots


def fold_roots(roots: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree roots (largest first) into the tree root, right to left."""
    if not roots:
        return EMPTY_ROOT
    acc = roots[-1]
    for r in reversed(roots[:-1]):
        acc = _sha256(b"\x01" + r + acc).digest()
    return acc


def tree_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a tree whose leaf hashes are *hashes* (RFC 9162 §2.1.1)."""
    return fold_roots(subtree_roots(hashes))


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise FormatError(f"{what}: expected {HASH_SIZE} bytes, got {len(value)}")


def _check_proof_shape(proof: Sequence[bytes], kind: str, *hashes: bytes) -> None:
    for h in hashes:
        _check_hash(h, f"{kind} input hash")
    if len(proof) > MAX_PROOF_HASHES:
        raise FormatError(f"{kind} proof has {len(proof)} hashes, more than {MAX_PROOF_HASHES}")
    for i, p in enumerate(proof):
        _check_hash(p, f"{kind} proof hash {i}")


def verify_inclusion(
    leaf_hash_value: bytes,
    index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root: bytes,
) -> None:
    """Verify an inclusion proof, RFC 9162 §2.1.3.2; raise :class:`ProofError` if it fails."""
    _check_proof_shape(proof, "inclusion", leaf_hash_value, root)
    # Step 1.
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} is not below tree size {tree_size}")
    # Steps 2-3.
    fn, sn = index, tree_size - 1
    r = leaf_hash_value
    # Step 4.
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # Step 5.
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if r != root:
        raise ProofError(f"inclusion proof for index {index} does not lead to the root")


def _trivially_consistent(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Sizes out of order fail; equal sizes and old size 0 need an empty proof."""
    if old_size < 0 or old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return True
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("the root of an empty tree must be SHA-256 of the empty string")
        return True
    return False


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Verify a consistency proof, RFC 9162 §2.1.4.2; raise :class:`ProofError` if it fails.

    Sizes equal: the proof must be empty and the roots equal. Old size 0 (not
    defined by the RFC): every tree extends the empty tree, so the proof must be
    empty and the old root must be the empty-tree hash.
    """
    _check_proof_shape(proof, "consistency", old_root, new_root)
    if _trivially_consistent(old_size, new_size, old_root, new_root, proof):
        return
    fr, sr = consistency_roots(old_size, new_size, old_root, proof)
    # Step 7.
    if fr != old_root:
        raise ProofError(f"consistency proof does not reproduce the root of size {old_size}")
    if sr != new_root:
        raise ProofError(f"consistency proof does not reproduce the root of size {new_size}")


def consistency_roots(
    old_size: int, new_size: int, old_seed: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 1-6 of RFC 9162 §2.1.4.2: the (old, new) roots a proof leads to.

    *old_seed* is the hash prepended when the old size is a power of two (the
    old tree's root as the caller claims it). Raises ProofError on a malformed
    proof (wrong length). Fork evidence uses this: a path whose new root is the
    signed new root while its old root is not the signed old root proves that
    the new tree does not extend the old one.
    """
    if not 0 < old_size < new_size:
        raise ProofError(f"no consistency path between sizes {old_size} and {new_size}")
    # Step 1.
    if not proof:
        raise ProofError("empty consistency proof between different sizes")
    path = list(proof)
    # Step 2.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_seed)
    # Steps 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than needed")
    return fr, sr
