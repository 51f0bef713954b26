"""Verify a whole C2SP tlog-tiles log against a verified checkpoint (pure; I/O injected).

For a checkpoint of size s, every entry bundle must hash (RFC 9162 leaf hashes)
into the level-0 tile with the same index, every hash of a level-L tile must be
the root of the full level-(L-1) tile below it, and the perfect subtrees of the
rightmost tiles must fold into the checkpoint's root. The caller passes a
``fetch(path) -> bytes`` function; this module does no I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from verifier.core.checkpoint import SignedCheckpoint
from verifier.core.merkle import (
    fold_roots,
    leaf_hash,
    perfect_root,
    subtree_roots,
    verify_inclusion,
)
from verifier.core.prover import Prover
from verifier.core.tiles import (
    ENTRIES,
    TILE_WIDTH,
    levels_for_size,
    parse_entry_bundle,
    tile_for_size,
    tile_hashes,
    tile_path,
    tiles_for_size,
)
from verifier.errors import FormatError, TileMismatch, VerificationError

Fetch = Callable[[str], bytes]
#: Called with (first index, leaves) for every verified entry bundle.
OnLeaves = Callable[[int, list[bytes]], None]


@dataclass(frozen=True)
class LogVerification:
    size: int
    root: bytes
    tiles_checked: int
    bundles_checked: int


def verify_tile_log(
    checkpoint: SignedCheckpoint, fetch: Fetch, on_leaves: OnLeaves | None = None
) -> LogVerification:
    """Fetch and check every tile and entry bundle of the log at the checkpoint's size."""
    size = checkpoint.size
    partial: list[list[bytes]] = []
    tiles_checked = bundles_checked = 0
    expected: list[bytes] = []  # level-l hashes computed from level l-1
    for level in range(levels_for_size(size)):
        up: list[bytes] = []
        level_partial: list[bytes] = []
        for tile in tiles_for_size(size, level):
            hashes = tile_hashes(tile, fetch(tile.path))
            tiles_checked += 1
            if level == 0:
                bundle_path = tile_path(ENTRIES, tile.index, tile.width)
                leaves = parse_entry_bundle(fetch(bundle_path), tile.width)
                bundles_checked += 1
                computed = [leaf_hash(x) for x in leaves]
                if computed != hashes:
                    raise TileMismatch(f"{bundle_path} does not hash to {tile.path}")
                if on_leaves is not None:
                    on_leaves(tile.index * TILE_WIDTH, leaves)
            else:
                start = tile.index * TILE_WIDTH
                if hashes != expected[start : start + tile.width]:
                    raise TileMismatch(f"{tile.path} does not match the tiles below it")
            if tile.is_full:
                up.append(perfect_root(hashes))
            else:
                level_partial = hashes
        partial.append(level_partial)
        expected = up
    roots: list[bytes] = []
    for level_partial in reversed(partial):
        roots.extend(subtree_roots(level_partial))
    root = fold_roots(roots)
    if root != checkpoint.root:
        raise TileMismatch(f"the tiles hash to a root other than the checkpoint's (size {size})")
    return LogVerification(size, root, tiles_checked, bundles_checked)


class TileFetcher:
    """Hash tiles of a log at a given size, fetched on demand (cached), for proofs.

    At size *n* the rightmost tile of each level is the partial tile that size
    publishes; a :class:`verifier.core.prover.Prover` over it computes any root or
    consistency proof for sizes up to *n* from the same tiles a client checked.
    Every tile is checked for its shape as :func:`verify_tile_log` checks it
    (:func:`verifier.core.tiles.tile_hashes`): a tile with bytes too many or too
    few is refused here as in a full run, not read through by its prefix.
    """

    def __init__(self, fetch: Fetch, size: int) -> None:
        self.fetch = fetch
        self.size = size
        self._cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, index: int) -> bytes | None:
        key = (level, index)
        if key not in self._cache:
            try:
                tile = tile_for_size(level, index, self.size)
            except FormatError:
                return None
            data = self.fetch(tile.path)
            tile_hashes(tile, data)
            self._cache[key] = data
        return self._cache[key]


def fetch_new_leaves(checkpoint: SignedCheckpoint, fetch: Fetch, old_size: int) -> list[bytes]:
    """The leaves ``old_size .. size-1`` of the checkpoint's tree, each proven included.

    For an incremental check: the caller has already shown that the new tree
    extends the one it verified (a consistency proof); this fetches only the
    entry bundles that hold new leaves and checks every new leaf against the
    signed root with an inclusion proof computed from the tiles — work in
    proportion to what is new, not to the whole log.
    """
    size = checkpoint.size
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is not within 0..{size}")
    if old_size == size:
        return []
    leaves: list[bytes] = []
    for n in range(old_size // TILE_WIDTH, (size - 1) // TILE_WIDTH + 1):
        bundle = tile_for_size(ENTRIES, n, size)
        got = parse_entry_bundle(fetch(bundle.path), bundle.width)
        start = n * TILE_WIDTH
        leaves.extend(got[max(old_size - start, 0) :])
    proofs = Prover(TileFetcher(fetch, size)).inclusion_batch(old_size, size - old_size, size)
    for offset, (leaf, proof) in enumerate(zip(leaves, proofs, strict=True)):
        index = old_size + offset
        try:
            verify_inclusion(leaf_hash(leaf), index, size, proof, checkpoint.root)
        except VerificationError as exc:
            raise TileMismatch(f"entry {index} is not in the signed tree: {exc}") from None
    return leaves
