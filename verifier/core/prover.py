"""Inclusion and consistency proofs (RFC 9162 §2.1.3.1, §2.1.4.1) from stored tiles.

Every hash a proof needs is the root of a range ``D[lo:hi]`` of leaves, and the
RFC's recursion only ever asks for ranges whose left part is a perfect, aligned
subtree. A perfect subtree of height h at index k is read from the one tile at
level ``h // 8`` that holds its ``2**(h % 8)`` descendants at that level, and
hashed up inside that tile. A proof therefore touches O(log n) tiles (two or
three per level), each read once per proof.

Input: ``read_tile(level, index)`` returns a stored hash tile's body, ``hash[32] × W``
(C2SP tlog-tiles), the widest version the store has, or None. The prover runs on
the log's side (receipts, witness proofs) and in the verifier's consistency check,
over tiles whose hashes the caller has checked or will check against a signed root:
it makes proofs, it does not judge them (:mod:`verifier.core.merkle` does). A tile
that is missing or too narrow for the tree size is :class:`ProofUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from verifier.core.merkle import EMPTY_ROOT, node_hash, split_point
from verifier.core.tiles import TILE_HEIGHT, TILE_WIDTH
from verifier.errors import ProofUnavailable

HASH = 32

TileRead = Callable[[int, int], "bytes | None"]


class Prover:
    """Proofs for a tree of a given size, reading tiles through *read_tile*.

    The store keeps the widest version of each tile; a tree of a smaller size
    reads a prefix of it, which is exactly the tile that size would have had.
    """

    def __init__(
        self, read_tile: TileRead, known: Mapping[tuple[int, int], bytes] | None = None
    ) -> None:
        self._read_tile = read_tile
        #: Perfect-subtree roots by (height, index) the caller already holds, taken as
        #: given: the log's writer keeps those of subtrees it committed (immutable) from
        #: one batch's receipts to the next. None in the verifier.
        self._known = known
        self._tiles: dict[tuple[int, int], bytes] = {}
        self._memo: dict[tuple[int, int], bytes] = {}
        self._ranges: dict[tuple[int, int], bytes] = {}

    @property
    def computed(self) -> Mapping[tuple[int, int], bytes]:
        """The perfect-subtree roots this prover read or hashed, by (height, index)."""
        return self._memo

    def _tile(self, level: int, index: int) -> bytes:
        key = (level, index)
        data = self._tiles.get(key)
        if data is None:
            data = self._read_tile(level, index)
            if data is None:
                raise ProofUnavailable(f"tile level {level} index {index} is not stored")
            self._tiles[key] = data
        return data

    def perfect(self, height: int, index: int) -> bytes:
        """Root of the perfect subtree of 2**height leaves starting at leaf index·2**height.

        Heights that are multiples of 8 are read from a tile; the rest are hashed
        up from their children inside that tile. Results are memoised, so the
        receipts of one batch share the work of their common nodes.
        """
        key = (height, index)
        h = self._memo.get(key)
        if h is None and self._known is not None:
            h = self._known.get(key)
        if h is None:
            level, r = divmod(height, TILE_HEIGHT)
            if r == 0:
                tile = self._tile(level, index // TILE_WIDTH)
                off = (index % TILE_WIDTH) * HASH
                h = tile[off : off + HASH]
                if len(h) != HASH:
                    raise ProofUnavailable(
                        f"tile level {level} index {index // TILE_WIDTH} is too narrow"
                    )
            else:
                h = node_hash(
                    self.perfect(height - 1, 2 * index), self.perfect(height - 1, 2 * index + 1)
                )
            self._memo[key] = h
        return h

    def range_root(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) where lo is aligned to the largest power of two <= hi - lo."""
        n = hi - lo
        if n & (n - 1) == 0:
            height = n.bit_length() - 1
            return self.perfect(height, lo >> height)
        h = self._ranges.get((lo, hi))
        if h is None:
            k = split_point(n)
            h = node_hash(self.range_root(lo, lo + k), self.range_root(lo + k, hi))
            self._ranges[(lo, hi)] = h
        return h

    def _sibling(self, height: int, node: int, size: int) -> bytes | None:
        """Hash of the sibling of node (height, node) in a tree of *size*, or None.

        In an RFC 9162 tree the sibling covers leaves ``[s·2^h, min((s+1)·2^h, size))``
        with ``s = node ^ 1``; it is absent when that range starts at or past *size*
        (the node is then promoted unchanged to the level above).
        """
        start = (node ^ 1) << height
        if start >= size:
            return None
        end = start + (1 << height)
        if end <= size:
            return self.perfect(height, node ^ 1)
        return self.range_root(start, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]), leaf's sibling first (RFC 9162 §2.1.3.1).

        Bottom-up form of the RFC's recursion: at each height below the root, the
        sibling of the node holding the leaf, skipping heights where it has none.
        """
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not below tree size {size}")
        path: list[bytes] = []
        for height in range((size - 1).bit_length()):
            h = self._sibling(height, index >> height, size)
            if h is not None:
                path.append(h)
        return path

    def inclusion_batch(self, first: int, count: int, size: int) -> list[list[bytes]]:
        """Inclusion proofs of leaves ``first .. first+count-1``, sharing the work.

        Leaves appended together have mostly the same siblings; each sibling is
        computed once per height, then each proof is a lookup per height.
        """
        if count <= 0:
            return []
        last = first + count - 1
        if not 0 <= first <= last < size:
            raise ValueError(f"leaves {first}..{last} are not all below tree size {size}")
        heights = (size - 1).bit_length()
        # Above height `shared` every leaf of the batch lies under the same node, so
        # the upper part of every proof is the same list: built once, so a batch's
        # proofs cost the same per leaf at 10^7 entries as at 10^3.
        shared = min((first ^ last).bit_length(), heights)
        tables: list[tuple[int, list[bytes | None]]] = []
        for height in range(shared):
            # Siblings k ^ 1 of the nodes k in [first >> h, last >> h].
            lo = max((first >> height) - 1, 0)
            hi = (last >> height) + 1
            tables.append((lo, [self._sibling(height, s ^ 1, size) for s in range(lo, hi + 1)]))
        upper = [
            h
            for height in range(shared, heights)
            if (h := self._sibling(height, first >> height, size)) is not None
        ]
        proofs: list[list[bytes]] = []
        for index in range(first, last + 1):
            path = []
            for height, (lo, row) in enumerate(tables):
                h = row[((index >> height) ^ 1) - lo]
                if h is not None:
                    path.append(h)
            path.extend(upper)
            proofs.append(path)
        return proofs

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1)."""
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old size {old_size} is larger than new size {new_size}")
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, new_size, old_size, True
        while True:
            n = hi - lo
            if m == n:
                if not complete:
                    proof.append(self.range_root(lo, hi))
                break
            k = split_point(n)
            if m <= k:
                proof.append(self.range_root(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.range_root(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        proof.reverse()
        return proof

    def root(self, size: int) -> bytes:
        """MTH(D[0:size]) recomputed from tiles (for cross-checks)."""
        return EMPTY_ROOT if size == 0 else self.range_root(0, size)
