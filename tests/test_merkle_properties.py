"""Tile-based proofs and roots against the naive recursive RFC 9162 reference.

Exhaustive for every tree size up to 300 (every index, every old size); random
sizes up to 10**5 with hypothesis; every mutated proof is rejected.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.write.tree import TreeEdge, leaf_hashes
from tests.merkle_reference import NaiveTree
from verifier.core import merkle
from verifier.core.prover import Prover
from verifier.errors import ProofError

EXHAUSTIVE = 300
LARGE = 100_000


class MemoryTiles:
    """Tiles kept in a dict, as the store keeps them: the widest version of each."""

    def __init__(self, leaves: list[bytes], step: int = 1) -> None:
        self.tiles: dict[tuple[int, int], bytes] = {}
        self.edge = TreeEdge()
        self.roots = [merkle.EMPTY_ROOT]
        hashes = leaf_hashes(leaves)
        for i in range(0, len(hashes), step):
            self.tiles.update(self.edge.append(hashes[i : i + step]))
            self.roots.append(self.edge.root())

    def read(self, level: int, index: int) -> bytes | None:
        return self.tiles.get((level, index))


def make_leaves(n: int) -> list[bytes]:
    return [f"leaf-{i}".encode() for i in range(n)]


@pytest.fixture(scope="module")
def small() -> tuple[NaiveTree, MemoryTiles]:
    leaves = make_leaves(EXHAUSTIVE)
    return NaiveTree(leaves), MemoryTiles(leaves)


@pytest.fixture(scope="module")
def large() -> tuple[NaiveTree, MemoryTiles]:
    leaves = make_leaves(LARGE)
    return NaiveTree(leaves), MemoryTiles(leaves, step=997)


def flip(proof: list[bytes], i: int, bit: int) -> list[bytes]:
    h = bytearray(proof[i])
    h[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:i], bytes(h), *proof[i + 1 :]]


def test_roots_every_size(small: tuple[NaiveTree, MemoryTiles]) -> None:
    naive, mem = small
    prover = Prover(mem.read)
    for n in range(EXHAUSTIVE + 1):
        assert mem.roots[n] == naive.mth(0, n), n
        assert prover.root(n) == naive.mth(0, n), n


def test_every_inclusion_proof_up_to_300(small: tuple[NaiveTree, MemoryTiles]) -> None:
    naive, mem = small
    prover = Prover(mem.read)
    checked = 0
    for n in range(1, EXHAUSTIVE + 1):
        root = naive.mth(0, n)
        for i in range(n):
            proof = prover.inclusion(i, n)
            assert proof == naive.path(i, 0, n), (i, n)
            lh = naive.mth(i, i + 1)
            merkle.verify_inclusion(lh, i, n, proof, root)
            # Mutations: a flipped bit in one hash, a dropped or an extra hash,
            # the wrong index: each must be rejected.
            if proof:
                j = (i * 7 + n) % len(proof)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(lh, i, n, flip(proof, j, (i + n) % 256), root)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(lh, i, n, proof[:-1], root)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(lh, (i + 1) % n, n, proof, root)
            with pytest.raises(ProofError):
                merkle.verify_inclusion(lh, i, n, [*proof, root], root)
            checked += 1
    assert checked == EXHAUSTIVE * (EXHAUSTIVE + 1) // 2


def test_every_consistency_proof_up_to_300(small: tuple[NaiveTree, MemoryTiles]) -> None:
    naive, mem = small
    prover = Prover(mem.read)
    checked = 0
    for n in range(1, EXHAUSTIVE + 1):
        new_root = naive.mth(0, n)
        for m in range(1, n + 1):
            proof = prover.consistency(m, n)
            assert proof == naive.proof(m, n), (m, n)
            old_root = naive.mth(0, m)
            merkle.verify_consistency(m, n, old_root, new_root, proof)
            if proof:
                j = (m * 5 + n) % len(proof)
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, old_root, new_root, flip(proof, j, m % 256))
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, old_root, new_root, proof[:-1])
                with pytest.raises(ProofError):
                    merkle.verify_consistency(m, n, new_root, old_root, proof)
            with pytest.raises(ProofError):
                merkle.verify_consistency(m, n, old_root, new_root, [*proof, new_root])
            checked += 1
    assert checked == EXHAUSTIVE * (EXHAUSTIVE + 1) // 2


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_inclusion_up_to_1e5(
    large: tuple[NaiveTree, MemoryTiles], data: st.DataObject
) -> None:
    naive, mem = large
    n = data.draw(st.integers(1, LARGE), label="size")
    i = data.draw(st.integers(0, n - 1), label="index")
    proof = Prover(mem.read).inclusion(i, n)
    assert proof == naive.path(i, 0, n)
    lh = naive.mth(i, i + 1)
    merkle.verify_inclusion(lh, i, n, proof, naive.mth(0, n))
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="hash")
        bit = data.draw(st.integers(0, 255), label="bit")
        with pytest.raises(ProofError):
            merkle.verify_inclusion(lh, i, n, flip(proof, j, bit), naive.mth(0, n))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_consistency_up_to_1e5(
    large: tuple[NaiveTree, MemoryTiles], data: st.DataObject
) -> None:
    naive, mem = large
    n = data.draw(st.integers(1, LARGE), label="new size")
    m = data.draw(st.integers(1, n), label="old size")
    proof = Prover(mem.read).consistency(m, n)
    assert proof == naive.proof(m, n)
    merkle.verify_consistency(m, n, naive.mth(0, m), naive.mth(0, n), proof)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="hash")
        bit = data.draw(st.integers(0, 255), label="bit")
        with pytest.raises(ProofError):
            merkle.verify_consistency(m, n, naive.mth(0, m), naive.mth(0, n), flip(proof, j, bit))


def test_edge_roots_match_at_every_step_of_large(large: tuple[NaiveTree, MemoryTiles]) -> None:
    naive, mem = large
    sizes = [min(k * 997, LARGE) for k in range(len(mem.roots))]
    for size, root in zip(sizes, mem.roots, strict=True):
        assert root == naive.mth(0, size)


def test_edge_rebuilt_from_tiles(small: tuple[NaiveTree, MemoryTiles]) -> None:
    _, mem = small
    rebuilt = TreeEdge.from_tiles(EXHAUSTIVE, mem.read)
    assert rebuilt.edge == mem.edge.edge
    assert rebuilt.root() == mem.edge.root()


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 700), st.sampled_from(("root", "copy", "rebuild", "none"))),
        min_size=1,
        max_size=12,
    )
)
def test_edge_root_kept_up_to_date_equals_the_root_of_all_leaves(
    steps: list[tuple[int, str]],
) -> None:
    """The edge keeps its perfect subtrees' roots up to date once root() has built them:
    whatever the appends, copies and rebuilds from tiles in between, its root is the
    root of every leaf appended (the root the log signs)."""
    edge, tiles, hashes = TreeEdge(), {}, []
    for n, (count, then) in enumerate(steps):
        new = leaf_hashes([f"leaf-{n}-{i}".encode() for i in range(count)])
        tiles.update(edge.append(new))
        hashes += new
        if then == "root":
            assert edge.root() == merkle.tree_root(hashes)
        elif then == "copy":
            edge = edge.copy()
        elif then == "rebuild":
            edge = TreeEdge.from_tiles(len(hashes), lambda level, index: tiles.get((level, index)))
    assert edge.root() == merkle.tree_root(hashes)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_batch_inclusion_equals_single_proofs(
    large: tuple[NaiveTree, MemoryTiles], data: st.DataObject
) -> None:
    _, mem = large
    n = data.draw(st.integers(1, LARGE), label="size")
    first = data.draw(st.integers(0, n - 1), label="first")
    count = data.draw(st.integers(1, min(n - first, 600)), label="count")
    batch = Prover(mem.read).inclusion_batch(first, count, n)
    single = Prover(mem.read)
    assert batch == [single.inclusion(i, n) for i in range(first, first + count)]


def test_batch_inclusion_small_exhaustive(small: tuple[NaiveTree, MemoryTiles]) -> None:
    naive, mem = small
    for n in range(1, 80):
        for first in range(n):
            count = n - first
            got = Prover(mem.read).inclusion_batch(first, count, n)
            assert got == [naive.path(i, 0, n) for i in range(first, n)], (first, n)
    # Batches that end below the tree size (a batch's upper path is shared by its leaves).
    for n in range(1, 40):
        for first in range(n):
            for count in range(1, n - first):
                got = Prover(mem.read).inclusion_batch(first, count, n)
                want = [naive.path(i, 0, n) for i in range(first, first + count)]
                assert got == want, (first, count, n)
