"""The right edge of a tiled RFC 9162 tree, and how appends change its tiles.

Tiles have height 8 (C2SP tlog-tiles): the level-L tile N holds hashes
``N·256 .. N·256+255`` of tree level 8·L. Only the rightmost tile of each level
can be partial; every tile to its left is full and immutable. So the whole
mutable state of the tree is that *edge*: at most 255 hashes per level.

A partial tile is always a prefix of the tile it grows into, which is why the
store keeps one row per (level, index) — the widest version — and serves any
narrower partial as a prefix of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ledger.errors import LogDamaged
from verifier.core.merkle import fold_roots, node_hash, perfect_root, subtree_roots
from verifier.core.tiles import TILE_HEIGHT, TILE_WIDTH

_sha256 = hashlib.sha256

#: Reads the stored (widest) contents of the tile at (level, index), or None.
TileRead = Callable[[int, int], "bytes | None"]


def leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 leaf hashes, in a tight loop (this is the bulk of tile building)."""
    return [_sha256(b"\x00" + leaf).digest() for leaf in leaves]


@dataclass
class TreeEdge:
    """Size of the tree and the hashes of the rightmost partial tile at each level."""

    size: int = 0
    edge: list[list[bytes]] = field(default_factory=list)
    #: The roots of the perfect subtrees the tree is made of (one per bit of its size,
    #: largest first), as (height, hash): kept up to date by append once root() has
    #: built it, so a root costs a few hashes per new leaf instead of rehashing the
    #: partial tile of every level (up to 255 hashes each) at every commit.
    _frontier: list[tuple[int, bytes]] | None = field(default=None, repr=False, compare=False)

    def copy(self) -> TreeEdge:
        frontier = None if self._frontier is None else list(self._frontier)
        return TreeEdge(self.size, [list(e) for e in self.edge], frontier)

    def append(self, hashes: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
        """Append leaf hashes; return every tile whose contents changed.

        The result maps (level, index) to the tile's full new contents: completed
        full tiles (8,192 bytes) and the grown partial tile of each level touched.
        """
        changed: dict[tuple[int, int], bytes] = {}
        pending: Sequence[bytes] = hashes
        level = 0
        while pending:
            if level == len(self.edge):
                self.edge.append([])
            count_before = self.size >> (TILE_HEIGHT * level)  # hashes at this level
            first_tile = count_before // TILE_WIDTH
            combined = self.edge[level] + list(pending)
            full = len(combined) // TILE_WIDTH
            up: list[bytes] = []
            for t in range(full):
                chunk = combined[t * TILE_WIDTH : (t + 1) * TILE_WIDTH]
                changed[(level, first_tile + t)] = b"".join(chunk)
                up.append(perfect_root(chunk))
            rest = combined[full * TILE_WIDTH :]
            if rest:
                changed[(level, first_tile + full)] = b"".join(rest)
            self.edge[level] = rest
            pending = up
            level += 1
        if self._frontier is not None:
            # Growing it hashes each new leaf once more; past a tile's width of new
            # leaves, building it again from the edge (at most 255 a level) is cheaper.
            if len(hashes) > TILE_WIDTH:
                self._frontier = None
            else:
                self._frontier = _grow_frontier(self._frontier, self.size, hashes)
        self.size += len(hashes)
        return changed

    def root(self) -> bytes:
        """MTH of the whole tree (RFC 9162 §2.1.1), from its perfect subtrees' roots."""
        if self._frontier is None:
            self._frontier = self._frontier_from_edge()
        return fold_roots([h for _, h in self._frontier])

    def _frontier_from_edge(self) -> list[tuple[int, bytes]]:
        """The perfect subtrees' roots, from the edge alone: the partial tile of level L
        holds the tree's subtrees of heights 8L .. 8L+7, in the binary expansion of its
        width (at most 255 hashes per level)."""
        frontier: list[tuple[int, bytes]] = []
        for level in reversed(range(len(self.edge))):
            hashes = self.edge[level]
            roots = subtree_roots(hashes)
            heights = [b for b in reversed(range(TILE_HEIGHT)) if len(hashes) >> b & 1]
            frontier.extend(
                (TILE_HEIGHT * level + b, r) for b, r in zip(heights, roots, strict=True)
            )
        return frontier

    @classmethod
    def from_tiles(cls, size: int, read_tile: TileRead) -> TreeEdge:
        """Rebuild the edge of a tree of *size* from its stored rightmost tiles."""
        edge: list[list[bytes]] = []
        level = 0
        while size >> (TILE_HEIGHT * level):
            count = size >> (TILE_HEIGHT * level)
            width = count % TILE_WIDTH
            hashes: list[bytes] = []
            if width:
                data = read_tile(level, count // TILE_WIDTH)
                if data is None or len(data) < width * 32:
                    raise LogDamaged(
                        f"store is missing the edge tile at level {level} for size {size}"
                    )
                hashes = [data[i * 32 : (i + 1) * 32] for i in range(width)]
            edge.append(hashes)
            level += 1
        return cls(size, edge)


def _grow_frontier(
    frontier: list[tuple[int, bytes]], size: int, hashes: Sequence[bytes]
) -> list[tuple[int, bytes]]:
    """*frontier* of a tree of *size* leaves after appending leaf *hashes*, as a binary
    counter adds: the new leaves go in as the largest perfect subtrees that start
    where the tree ends (aligned to their width), each hashed level by level; a new
    subtree as high as the lowest one the tree has merges into their parent, and on up."""
    out = list(frontier)
    done, n = 0, len(hashes)
    while done < n:
        width = 1 << ((n - done).bit_length() - 1)
        if size:
            width = min(width, size & -size)
        height = width.bit_length() - 1
        node = perfect_root(hashes[done : done + width]) if width > 1 else hashes[done]
        while out and out[-1][0] == height:
            node = node_hash(out.pop()[1], node)
            height += 1
        out.append((height, node))
        size += width
        done += width
    return out
