"""RFC 9162 proofs, C2SP tiles and tlog-proof at their edges: sizes, caps, exact rejections.

tests/test_merkle_properties.py checks every proof up to 300 leaves and random ones up
to 10^5; this file checks every proof of the smaller trees (every index, every old
size, with each proof's mutations rejected), the sizes around a tile's width (255,
256, 257, 511, 512, 513), and the exact error each malformed input gets. It is fast
enough for `make mutation`, which runs it under mutmut's trampolines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ledger.write.tree import TreeEdge, leaf_hashes
from tests.merkle_reference import NaiveTree
from verifier.core import merkle
from verifier.core.checkpoint import Checkpoint
from verifier.core.cosignature import CosignatureSigner
from verifier.core.note import Ed25519Signer, NoteSignature, sign_note
from verifier.core.prover import Prover
from verifier.core.tiles import (
    ENTRIES,
    Tile,
    all_tiles_for_size,
    encode_entry_bundle,
    encode_index,
    levels_for_size,
    parse_entry_bundle,
    parse_tile_path,
    partial_width,
    split_hashes,
    tile_for_size,
    tile_path,
    tiles_for_size,
)
from verifier.core.tlog_proof import (
    MAX_PROOF_SIZE,
    TlogProof,
    parse_tlog_proof,
    verify_tlog_proof,
)
from verifier.errors import CosignatureError, FormatError, ProofError, ProofUnavailable

SMALL = 40
AROUND_A_TILE = (255, 256, 257, 511, 512, 513)
H = bytes(range(32))


@contextmanager
def rejects(kind: type[Exception], message: str) -> Iterator[None]:
    """The block raises *kind* with exactly *message*."""
    with pytest.raises(kind) as info:
        yield
    assert str(info.value) == message


class Tiles:
    """A log's tiles in memory, the widest version of each, and every read counted."""

    def __init__(self, n: int) -> None:
        self.leaves = [f"leaf-{i}".encode() for i in range(n)]
        edge = TreeEdge()
        self.tiles = dict(edge.append(leaf_hashes(self.leaves)))
        self.naive = NaiveTree(self.leaves)
        self.reads: list[tuple[int, int]] = []

    def read(self, level: int, index: int) -> bytes | None:
        self.reads.append((level, index))
        return self.tiles.get((level, index))


@pytest.fixture(scope="module")
def small() -> Tiles:
    return Tiles(SMALL)


@pytest.fixture(scope="module")
def wide() -> Tiles:
    return Tiles(max(AROUND_A_TILE) + 3)


def flip(proof: list[bytes], i: int) -> list[bytes]:
    h = bytearray(proof[i])
    h[i % 32] ^= 1 << (i % 8)
    return [*proof[:i], bytes(h), *proof[i + 1 :]]


def check_inclusion(t: Tiles, prover: Prover, i: int, n: int) -> None:
    root = t.naive.mth(0, n)
    lh = t.naive.mth(i, i + 1)
    proof = prover.inclusion(i, n)
    assert proof == t.naive.path(i, 0, n), (i, n)
    merkle.verify_inclusion(lh, i, n, proof, root)
    for bad in [flip(proof, j) for j in range(len(proof))] + [proof[:-1], proof[1:]]:
        if bad != proof:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(lh, i, n, bad, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(lh, i, n, [*proof, root], root)
    for other in {i - 1, i + 1} & set(range(n)) - {i}:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(lh, other, n, proof, root)


def check_consistency(t: Tiles, prover: Prover, m: int, n: int) -> None:
    old, new = t.naive.mth(0, m), t.naive.mth(0, n)
    proof = prover.consistency(m, n)
    assert proof == t.naive.proof(m, n), (m, n)
    merkle.verify_consistency(m, n, old, new, proof)
    if m == n:
        assert proof == []
        return
    assert merkle.consistency_roots(m, n, old, proof) == (old, new)
    for bad in [flip(proof, j) for j in range(len(proof))] + [proof[:-1], proof[1:]]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(m, n, old, new, bad)
    with pytest.raises(ProofError):
        merkle.verify_consistency(m, n, old, new, [*proof, new])
    with pytest.raises(ProofError):
        merkle.verify_consistency(m, n, new, old, proof)
    for m2 in {m - 1, m + 1} & set(range(1, n)):
        with pytest.raises(ProofError):
            merkle.verify_consistency(m2, n, old, new, proof)


# == Every proof of the small trees ============================================


def test_every_root_inclusion_and_consistency_proof_up_to_40(small: Tiles) -> None:
    prover = Prover(small.read)
    for n in range(SMALL + 1):
        assert merkle.tree_root([small.naive.mth(i, i + 1) for i in range(n)]) == (
            small.naive.mth(0, n)
        )
        assert prover.root(n) == small.naive.mth(0, n)
        for i in range(n):
            check_inclusion(small, prover, i, n)
        for m in range(1, n + 1):
            check_consistency(small, prover, m, n)


def test_proofs_around_a_tiles_width(wide: Tiles) -> None:
    prover = Prover(wide.read)
    for n in AROUND_A_TILE:
        assert prover.root(n) == wide.naive.mth(0, n)
        for i in sorted({0, 1, 127, 128, 254, 255, 256, 257, n // 2, n - 2, n - 1} & set(range(n))):
            check_inclusion(wide, prover, i, n)
        for m in sorted({1, 2, 128, 255, 256, 257, 300, n - 1, n} & set(range(1, n + 1))):
            check_consistency(wide, prover, m, n)


def test_batch_proofs_equal_single_proofs_around_a_tile(wide: Tiles) -> None:
    for n, first, count in [
        (513, 250, 10),
        (513, 0, 513),
        (300, 255, 2),
        (257, 256, 1),
        (40, 0, 40),
        (40, 39, 1),
        (1, 0, 1),
        (300, 0, 1),
    ]:
        single = Prover(wide.read)
        batch = Prover(wide.read).inclusion_batch(first, count, n)
        assert batch == [single.inclusion(i, n) for i in range(first, first + count)], (n, first)
        assert batch == [wide.naive.path(i, 0, n) for i in range(first, first + count)]


# == merkle.py: hashing, shapes and the exact rejections =========================


def test_hashing_is_rfc_9162() -> None:
    import hashlib

    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert [merkle.split_point(n) for n in (2, 3, 4, 5, 8, 9, 1 << 40)] == [
        1,
        2,
        2,
        4,
        4,
        8,
        1 << 39,
    ]
    hashes = [merkle.leaf_hash(bytes([i])) for i in range(13)]
    roots = merkle.subtree_roots(hashes)
    assert roots == [
        merkle.perfect_root(hashes[:8]),
        merkle.perfect_root(hashes[8:12]),
        hashes[12],
    ]
    assert merkle.fold_roots(roots) == merkle.node_hash(
        roots[0], merkle.node_hash(roots[1], roots[2])
    )
    assert merkle.fold_roots([]) == merkle.EMPTY_ROOT
    assert merkle.tree_root([]) == merkle.EMPTY_ROOT
    assert merkle.perfect_root([H]) == H
    for bad in ([], [H] * 3, [H] * 6):
        with rejects(ValueError, f"perfect_root needs a power of two, got {len(bad)}"):
            merkle.perfect_root(bad)


def test_inclusion_rejections_are_exact() -> None:
    with rejects(ProofError, "leaf index 1 is not below tree size 1"):
        merkle.verify_inclusion(H, 1, 1, [], H)
    with rejects(ProofError, "leaf index -1 is not below tree size 1"):
        merkle.verify_inclusion(H, -1, 1, [], H)
    with rejects(ProofError, "inclusion proof is longer than the path to the root"):
        merkle.verify_inclusion(H, 0, 1, [H], H)
    with rejects(ProofError, "inclusion proof is shorter than the path to the root"):
        merkle.verify_inclusion(H, 0, 2, [], H)
    with rejects(ProofError, "inclusion proof for index 0 does not lead to the root"):
        merkle.verify_inclusion(H, 0, 1, [], bytes(32))
    merkle.verify_inclusion(H, 0, 1, [], H)


@pytest.mark.parametrize("size", [31, 33, 0])
def test_hashes_must_be_32_bytes(size: int) -> None:
    bad = bytes(size)
    with rejects(FormatError, f"inclusion input hash: expected 32 bytes, got {size}"):
        merkle.verify_inclusion(bad, 0, 1, [], H)
    with rejects(FormatError, f"inclusion input hash: expected 32 bytes, got {size}"):
        merkle.verify_inclusion(H, 0, 1, [], bad)
    with rejects(FormatError, f"inclusion proof hash 1: expected 32 bytes, got {size}"):
        merkle.verify_inclusion(H, 0, 4, [H, bad], H)
    with rejects(FormatError, f"consistency input hash: expected 32 bytes, got {size}"):
        merkle.verify_consistency(1, 2, bad, H, [H])
    with rejects(FormatError, f"consistency input hash: expected 32 bytes, got {size}"):
        merkle.verify_consistency(1, 2, H, bad, [H])
    with rejects(FormatError, f"consistency proof hash 0: expected 32 bytes, got {size}"):
        merkle.verify_consistency(1, 2, H, H, [bad])


def test_proofs_of_64_hashes_are_judged_and_65_refused() -> None:
    n = 1 << 64
    with rejects(ProofError, "inclusion proof for index 0 does not lead to the root"):
        merkle.verify_inclusion(H, 0, n, [H] * 64, H)
    with rejects(FormatError, "inclusion proof has 65 hashes, more than 64"):
        merkle.verify_inclusion(H, 0, n, [H] * 65, H)
    with rejects(FormatError, "consistency proof has 65 hashes, more than 64"):
        merkle.verify_consistency(1, n, H, H, [H] * 65)
    with pytest.raises(ProofError):
        merkle.verify_consistency(1, n, H, H, [H] * 64)


def test_consistency_rejections_are_exact() -> None:
    e = merkle.EMPTY_ROOT
    with rejects(ProofError, "old size 3 is larger than new size 2"):
        merkle.verify_consistency(3, 2, H, H, [])
    with rejects(ProofError, "old size -1 is larger than new size 2"):
        merkle.verify_consistency(-1, 2, H, H, [])
    with rejects(ProofError, "a consistency proof between equal sizes must be empty"):
        merkle.verify_consistency(2, 2, H, H, [H])
    with rejects(ProofError, "two different roots for the same tree size 2"):
        merkle.verify_consistency(2, 2, H, e, [])
    merkle.verify_consistency(2, 2, H, H, [])
    merkle.verify_consistency(0, 0, e, e, [])
    with rejects(ProofError, "a consistency proof from the empty tree must be empty"):
        merkle.verify_consistency(0, 2, e, H, [H])
    with rejects(ProofError, "the root of an empty tree must be SHA-256 of the empty string"):
        merkle.verify_consistency(0, 2, H, H, [])
    merkle.verify_consistency(0, 5, e, H, [])
    with rejects(ProofError, "consistency proof does not reproduce the root of size 3"):
        merkle.verify_consistency(3, 4, H, merkle.node_hash(e, merkle.node_hash(H, e)), [H, e, e])
    with rejects(ProofError, "consistency proof does not reproduce the root of size 2"):
        merkle.verify_consistency(1, 2, H, H, [H])
    merkle.verify_consistency(1, 2, H, merkle.node_hash(H, e), [e])


def test_consistency_paths_are_exact() -> None:
    for m, n in [(0, 1), (1, 1), (2, 1), (-1, 1)]:
        with rejects(ProofError, f"no consistency path between sizes {m} and {n}"):
            merkle.consistency_roots(m, n, H, [H])
    with rejects(ProofError, "empty consistency proof between different sizes"):
        merkle.consistency_roots(1, 2, H, [])
    with rejects(ProofError, "consistency proof is longer than needed"):
        merkle.consistency_roots(1, 2, H, [H, H])
    with rejects(ProofError, "consistency proof is shorter than needed"):
        merkle.consistency_roots(3, 4, H, [H, H])
    # Old size a power of two: the caller's old root is the path's first hash.
    e = merkle.EMPTY_ROOT
    assert merkle.consistency_roots(2, 3, H, [e]) == (H, merkle.node_hash(H, e))
    # Old size 3 of 4: the path starts with the old tree's last leaf.
    fr, sr = merkle.consistency_roots(3, 4, e, [H, e, e])
    assert fr == merkle.node_hash(e, H)
    assert sr == merkle.node_hash(e, merkle.node_hash(H, e))


# == prover.py: what it reads and when it cannot ================================


def test_prover_rejects_out_of_range_requests(small: Tiles) -> None:
    p = Prover(small.read)
    for i, n in [(5, 5), (-1, 5), (0, 0)]:
        with rejects(ValueError, f"index {i} is not below tree size {n}"):
            p.inclusion(i, n)
    with rejects(ValueError, "old size 6 is larger than new size 5"):
        p.consistency(6, 5)
    with rejects(ValueError, "old size -1 is larger than new size 5"):
        p.consistency(-1, 5)
    assert p.consistency(0, 5) == [] and p.consistency(5, 5) == []
    assert p.inclusion_batch(0, 0, 5) == [] and p.inclusion_batch(0, -1, 5) == []
    for first, count, n in [(4, 2, 5), (-1, 2, 5), (0, 6, 5)]:
        last = first + count - 1
        with rejects(ValueError, f"leaves {first}..{last} are not all below tree size {n}"):
            p.inclusion_batch(first, count, n)
    assert p.root(0) == merkle.EMPTY_ROOT
    assert p.root(1) == small.naive.mth(0, 1)


def test_prover_says_which_tile_is_missing_or_too_narrow(wide: Tiles) -> None:
    stored = dict(wide.tiles)
    del stored[(0, 1)]
    p = Prover(lambda level, index: stored.get((level, index)))
    with rejects(ProofUnavailable, "tile level 0 index 1 is not stored"):
        p.inclusion(0, 300)
    narrow = {**wide.tiles, (0, 1): wide.tiles[(0, 1)][: 32 * 10]}
    with rejects(ProofUnavailable, "tile level 0 index 1 is too narrow"):
        Prover(lambda level, index: narrow.get((level, index))).inclusion(0, 300)
    # A tree the narrow tile is wide enough for still gets its proofs.
    assert Prover(lambda level, index: narrow.get((level, index))).inclusion(
        0, 266
    ) == wide.naive.path(0, 0, 266)


def test_a_proof_reads_each_tile_once(wide: Tiles) -> None:
    wide.reads.clear()
    p = Prover(wide.read)
    p.inclusion(3, 516)
    p.consistency(300, 516)
    p.inclusion_batch(250, 20, 516)
    assert len(wide.reads) == len(set(wide.reads))
    assert set(wide.reads) <= {(0, 0), (0, 1), (0, 2), (1, 0)}


def test_the_level_one_tile_is_used_for_whole_level_zero_tiles(wide: Tiles) -> None:
    """A perfect subtree of 256 leaves is one hash of the level-1 tile, not 256 reads."""
    only = {(1, 0): wide.tiles[(1, 0)], (0, 2): wide.tiles[(0, 2)]}
    p = Prover(lambda level, index: only.get((level, index)))
    assert p.inclusion(512, 514) == wide.naive.path(512, 0, 514)
    assert p.consistency(512, 514) == wide.naive.proof(512, 514)


# == tlog-proof =================================================================


def signed_checkpoint(size: int, root: bytes) -> tuple[Ed25519Signer, bytes]:
    signer = Ed25519Signer.from_seed("example.org/log", bytes(range(32)))
    return signer, sign_note(Checkpoint("example.org/log", size, root).to_text(), [signer])


def test_tlog_proof_text_is_exact_and_round_trips() -> None:
    _, note = signed_checkpoint(1, H)
    proof = TlogProof(7, (H, merkle.EMPTY_ROOT), note, extra=b"\x00\x01")
    text = proof.to_text()
    assert text.split("\n\n")[0].split("\n") == [
        "c2sp.org/tlog-proof@v1",
        "extra AAE=",
        "index 7",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    ]
    assert text.endswith("\n\n" + note.decode())
    assert parse_tlog_proof(text) == proof
    bare = TlogProof(0, (), note)
    assert bare.to_text() == "c2sp.org/tlog-proof@v1\nindex 0\n\n" + note.decode()
    assert parse_tlog_proof(bare.to_text()) == bare


def test_tlog_proof_size_cap_counts_bytes() -> None:
    head = "c2sp.org/tlog-proof@v1\nindex 0\n\n"
    room = MAX_PROOF_SIZE - len(head)
    assert parse_tlog_proof(head + "a" * room).checkpoint == b"a" * room
    with rejects(FormatError, "tlog-proof is too large"):
        parse_tlog_proof(head + "a" * (room + 1))
    # Two bytes of UTF-8, one character: counted as two.
    with rejects(FormatError, "tlog-proof is too large"):
        parse_tlog_proof(head + "a" * (room - 1) + "é")


def test_tlog_proof_rejections_are_exact() -> None:
    h = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    for text, message in [
        ("c2sp.org/tlog-proof@v1\nindex 0\n", "tlog-proof: no empty line before the checkpoint"),
        (
            "c2sp.org/tlog-proof@v2\nindex 0\n\nx",
            "tlog-proof: first line must be 'c2sp.org/tlog-proof@v1'",
        ),
        ("c2sp.org/tlog-proof@v1\n\nx", "tlog-proof: missing 'index <n>' line"),
        ("c2sp.org/tlog-proof@v1\nextra AA==\n\nx", "tlog-proof: missing 'index <n>' line"),
        ("c2sp.org/tlog-proof@v1\nindex0\n\nx", "tlog-proof: missing 'index <n>' line"),
        (f"c2sp.org/tlog-proof@v1\n{h}\nindex 0\n\nx", "tlog-proof: missing 'index <n>' line"),
        (
            "c2sp.org/tlog-proof@v1\nindex 0\n" + "\n".join([h] * 65) + "\n\nx",
            "tlog-proof: too many proof hashes",
        ),
    ]:
        with rejects(FormatError, message):
            parse_tlog_proof(text)
    ok = parse_tlog_proof("c2sp.org/tlog-proof@v1\nindex 0\n" + "\n".join([h] * 64) + "\n\nx")
    assert len(ok.path) == 64
    for text, field in [
        ("index 01", "tlog-proof index: '01' is not a canonical decimal number"),
        ("index -1", "tlog-proof index: '-1' is not a canonical decimal number"),
        ("index  1", "tlog-proof index: ' 1' is not a canonical decimal number"),
        ("index 0\nAAAA", "tlog-proof hash: "),
        ("extra AA\nindex 0", "tlog-proof extra: not canonical padded base64"),
    ]:
        with pytest.raises(FormatError) as info:
            parse_tlog_proof(f"c2sp.org/tlog-proof@v1\n{text}\n\nx")
        assert str(info.value).startswith(field), text


def test_tlog_proof_verifies_the_leaf_under_the_signed_root() -> None:
    leaves = [b"a", b"b", b"c"]
    t = NaiveTree(leaves)
    signer, note = signed_checkpoint(3, t.mth(0, 3))
    proof = TlogProof(2, tuple(t.path(2, 0, 3)), note)
    got = verify_tlog_proof(b"c", proof, signer.verifier)
    assert (got.index, got.leaf, got.checkpoint.size, got.checkpoint.raw) == (2, b"c", 3, note)
    with rejects(ProofError, "inclusion proof for index 2 does not lead to the root"):
        verify_tlog_proof(b"b", proof, signer.verifier)
    with rejects(ProofError, "leaf index 3 is not below tree size 3"):
        verify_tlog_proof(b"c", TlogProof(3, proof.path, note), [signer.verifier])


def test_tlog_proof_checks_the_witness_cosignatures_it_is_given() -> None:
    t = NaiveTree([b"a"])
    signer = Ed25519Signer.from_seed("example.org/log", bytes(range(32)))
    witness = CosignatureSigner.from_seed("witness.example/w", bytes(range(2, 34)))
    text = Checkpoint("example.org/log", 1, t.mth(0, 1)).to_text()
    good = witness.cosign(text, 1_800_000_000)
    forged = NoteSignature(good.name, good.key_id, good.signature[:-1] + b"\x00")
    for cosig, ok in [(good, True), (forged, False)]:
        proof = TlogProof(0, (), sign_note(text, [signer], [cosig]))
        verify_tlog_proof(b"a", proof, signer.verifier)  # witnesses not asked about
        if ok:
            got = verify_tlog_proof(b"a", proof, signer.verifier, other_keys=(witness.verifier,))
            assert got.checkpoint.note.verified_by == ("example.org/log", "witness.example/w")
        else:
            # Refused, as signed-note requires; but as the witness's fault, not the log's.
            with rejects(
                CosignatureError,
                "checkpoint of size 1: the cosignature by witness.example/w "
                f"(witness.example/w+{witness.verifier.key_id.hex()}) does not verify; the "
                "log's own signature (example.org/log+"
                f"{signer.verifier.key_id.hex()} (Ed25519)) does verify",
            ):
                verify_tlog_proof(b"a", proof, signer.verifier, other_keys=(witness.verifier,))


# == tiles.py ====================================================================


def test_tile_paths_and_their_canonical_spelling() -> None:
    assert encode_index(0) == "000"
    assert encode_index(999) == "999"
    assert encode_index(1000) == "x001/000"
    assert encode_index(1234067) == "x001/x234/067"
    with rejects(FormatError, "tile index -1 is negative"):
        encode_index(-1)
    assert tile_path(0, 1000) == "tile/0/x001/000"
    assert tile_path(ENTRIES, 5, 255) == "tile/entries/005.p/255"
    assert tile_path(2, 5, 1) == "tile/2/005.p/1"
    longest = "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255"
    assert parse_tile_path(longest) == Tile(ENTRIES, 2**64 - 1, 255)
    assert parse_tile_path("tile/63/000") == Tile(63, 0)
    for path, message in [
        ("tile/0/" + "x001/" * 12 + "000", "tile path: too long or not ASCII"),
        ("tile/0/00٥", "tile path: too long or not ASCII"),
        ("tile/0", "tile path 'tile/0': expected tile/<L>/<N>[.p/<W>]"),
        ("tiles/0/000", "tile path 'tiles/0/000': expected tile/<L>/<N>[.p/<W>]"),
        ("tile/0/000.p/0", "partial tile width must be 1..255"),
        ("tile/0/01", "tile path 'tile/0/01': index group '01' is malformed"),
        ("tile/0/001/000", "tile path 'tile/0/001/000': index group '001' is malformed"),
        ("tile/0/x1/000", "tile path 'tile/0/x1/000': index group 'x1' is malformed"),
        ("tile/0/x00a/000", "tile path 'tile/0/x00a/000': index group 'x00a' is malformed"),
        ("tile/0/0001", "tile path 'tile/0/0001': index group '0001' is malformed"),
        ("tile/0/x000/001", "tile path 'tile/0/x000/001' is not canonical (expected 'tile/0/001')"),
        (
            "tile/0/000.p/256",
            "partial tile width: 256 is larger than the maximum 255",
        ),
        ("tile/64/000", "tile level: 64 is larger than the maximum 63"),
    ]:
        with pytest.raises(FormatError) as info:
            parse_tile_path(path)
        assert re.sub(r"^.*?: ", "", str(info.value)) == re.sub(r"^.*?: ", "", message), path


def test_tile_bounds() -> None:
    assert Tile(ENTRIES, 0).is_entries and not Tile(0, 0).is_entries
    assert Tile(0, 0).is_full and not Tile(0, 0, 255).is_full
    assert Tile(63, 2**64 - 1, 1).path == "tile/63/x018/x446/x744/x073/x709/x551/615.p/1"
    for level, index, width, message in [
        (-2, 0, 256, "tile level -2 is out of range"),
        (64, 0, 256, "tile level 64 is out of range"),
        (0, -1, 256, "tile index -1 is out of range for level 0"),
        (0, 2**64, 256, "tile index 18446744073709551616 is out of range for level 0"),
        (0, 0, 0, "tile width 0 is not in 1..256"),
        (0, 0, 257, "tile width 257 is not in 1..256"),
    ]:
        with rejects(FormatError, message):
            Tile(level, index, width)


def test_tiles_a_log_of_each_size_serves() -> None:
    assert partial_width(0, 0) == 0 and partial_width(0, 257) == 1
    assert partial_width(1, 256 * 300) == 44 and partial_width(ENTRIES, 513) == 1
    assert levels_for_size(0) == 0 and levels_for_size(1) == 1
    assert levels_for_size(255) == 1 and levels_for_size(256) == 2 and levels_for_size(65536) == 3
    assert tiles_for_size(513, 0) == [Tile(0, 0), Tile(0, 1), Tile(0, 2, 1)]
    assert tiles_for_size(512, 0) == [Tile(0, 0), Tile(0, 1)]
    assert tiles_for_size(513, ENTRIES) == [Tile(-1, 0), Tile(-1, 1), Tile(-1, 2, 1)]
    assert tiles_for_size(513, 1) == [Tile(1, 0, 2)]
    assert tiles_for_size(255, 1) == []
    assert all_tiles_for_size(513) == [Tile(0, 0), Tile(0, 1), Tile(0, 2, 1), Tile(1, 0, 2)]
    assert all_tiles_for_size(0) == []
    assert tile_for_size(0, 1, 513) == Tile(0, 1)
    assert tile_for_size(0, 2, 513) == Tile(0, 2, 1)
    assert tile_for_size(1, 0, 513) == Tile(1, 0, 2)
    for level, index, size in [(0, 2, 512), (0, 3, 513), (1, 0, 255)]:
        with rejects(
            FormatError, f"a log of size {size} has no tile at level {level} index {index}"
        ):
            tile_for_size(level, index, size)


def test_tile_bodies_and_entry_bundles() -> None:
    assert split_hashes(b"") == []
    assert split_hashes(H * 256) == [H] * 256
    for size in (31, 33, 257 * 32):
        with rejects(FormatError, f"tile: {size} bytes is not a whole number of hashes"):
            split_hashes(bytes(size))
    with rejects(FormatError, "bundle: 1 bytes is not a whole number of hashes"):
        split_hashes(b"x", what="bundle")
    leaves = [b"", b"a", bytes(0xFFFF)]
    body = encode_entry_bundle(leaves)
    assert body[:5] == b"\x00\x00\x00\x01a"
    assert parse_entry_bundle(body, 3) == leaves
    assert parse_entry_bundle(b"", 0) == []
    with rejects(FormatError, "entry of 65536 bytes exceeds 65,535"):
        encode_entry_bundle([bytes(0x10000)])
    for data, width, message in [
        (b"\x00", 1, "entry bundle: truncated length prefix"),
        (b"\x00\x02a", 1, "entry bundle: truncated entry"),
        (b"\x00\x01a\x00\x01b", 1, "entry bundle: more than the 1 entries expected"),
        (b"\x00\x01a", 2, "entry bundle: 1 entries, expected 2"),
        (b"", 1, "entry bundle: 0 entries, expected 1"),
    ]:
        with rejects(FormatError, message):
            parse_entry_bundle(data, width)


def test_known_subtree_roots_are_taken_as_given_and_spare_their_tiles(wide: Tiles) -> None:
    """The writer hands a batch's prover the roots of subtrees it already committed."""
    n, first = 516, wide.naive.mth(0, 256)  # the perfect subtree (height 8, index 0)
    wide.reads.clear()
    p = Prover(wide.read, known={(8, 0): first})
    assert p.inclusion_batch(500, 12, n) == [wide.naive.path(i, 0, n) for i in range(500, 512)]
    # Without it, the root of leaves 0..255 is read from the level-1 tile.
    assert (1, 0) not in wide.reads and set(wide.reads) == {(0, 1), (0, 2)}
    # What it hashed is kept for the next batch; what it was given, the caller has.
    assert p.computed[(7, 2)] == wide.naive.mth(256, 384) and (8, 0) not in p.computed
    wide.reads.clear()
    Prover(wide.read).inclusion(500, n)
    assert (1, 0) in wide.reads
    # Taken as given, not checked: a wrong known root is a wrong proof, so only roots
    # of committed subtrees may be passed (the verifier never passes any).
    wrong = Prover(wide.read, known={(8, 0): bytes(32)}).inclusion(500, n)
    assert bytes(32) in wrong and wrong != wide.naive.path(500, 0, n)
