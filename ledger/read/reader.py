"""The read operations behind the HTTP API: checkpoint, tiles, entries, proofs.

Routers stay thin; everything they answer comes from here. Read operations use
the store's read-only connections and never block the sequencer.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ledger.errors import NotFound
from ledger.storage.protocol import EntryRow, Head, LedgerStore
from verifier.core.prover import Prover
from verifier.core.tiles import (
    ENTRIES,
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    encode_entry_bundle,
    parse_tile_path,
)
from verifier.errors import FormatError


@dataclass(frozen=True)
class TileBody:
    data: bytes
    gzipped: bytes | None = None


class LogReader:
    """Read side of a log: tiles, bundles, entries, checkpoints, blobs and proofs."""

    def __init__(self, store: LedgerStore, blobs_dir: Path | None = None) -> None:
        self.store = store
        # Blobs live in the data directory, whichever database holds the log.
        self.blobs_dir = (
            blobs_dir if blobs_dir is not None else store.data_root / "blobs" / "sha256"
        )
        # Full tiles and bundles are immutable: cache them (bytes and gzip).
        self._full = lru_cache(maxsize=1024)(self._load_full)

    def head(self) -> Head:
        return self.store.head()

    def blob(self, digest: str) -> bytes:
        """A revealed document by SHA-256 (only what was stored: public or revealed)."""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise FormatError("a blob is named by 64 lower-case hex digits of its SHA-256")
        try:
            return (self.blobs_dir / digest).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no blob {digest}") from None

    def blob_names(self) -> list[str]:
        if not self.blobs_dir.is_dir():
            return []
        return sorted(p.name for p in self.blobs_dir.iterdir() if len(p.name) == 64)

    def checkpoint(self) -> bytes:
        return self.store.head().checkpoint

    def checkpoint_at(self, size: int) -> bytes:
        note = self.store.read_checkpoint(size)
        if note is None:
            raise NotFound(f"no checkpoint was published at tree size {size}")
        return note

    def _available_width(self, tile: Tile, size: int) -> int:
        count = size >> (TILE_HEIGHT * max(tile.level, 0))
        full, width = divmod(count, TILE_WIDTH)
        if tile.index < full:
            return TILE_WIDTH
        if tile.index == full:
            return width
        return 0

    def tile(self, path: str) -> TileBody:
        """Bytes of a tile or entry bundle; FormatError for a bad path, NotFound if absent."""
        tile = parse_tile_path(path)
        available = self._available_width(tile, self.store.head().size)
        if available == 0 or tile.width > available:
            raise NotFound(f"{path} does not exist in a log of this size")
        if tile.is_full:
            return self._full(tile.level, tile.index)
        return TileBody(self._load(tile.level, tile.index, tile.width))

    def _load(self, level: int, index: int, width: int) -> bytes:
        if level == ENTRIES:
            leaves = self.store.read_leaves(index * TILE_WIDTH, index * TILE_WIDTH + width)
            if len(leaves) != width:
                raise NotFound("entries are missing from the store")
            return encode_entry_bundle(leaves)
        data = self.store.read_tile(level, index)
        if data is None or len(data) < width * 32:
            raise NotFound(f"tile {level}/{index} is missing from the store")
        return data[: width * 32]

    def _load_full(self, level: int, index: int) -> TileBody:
        data = self._load(level, index, TILE_WIDTH)
        return TileBody(data, gzip.compress(data, 6, mtime=0) if level == ENTRIES else None)

    def entry(self, index: int) -> EntryRow:
        row = self.store.read_entry(index)
        if row is None or index >= self.store.head().size:
            raise NotFound(f"no entry at index {index}")
        return row

    def _size(self, size: int | None) -> int:
        head = self.store.head()
        if size is None:
            return head.size
        if size > head.size or self.store.read_checkpoint(size) is None:
            raise NotFound(f"no checkpoint was published at tree size {size}")
        return size

    def inclusion(self, index: int, size: int | None = None) -> tuple[int, list[bytes]]:
        n = self._size(size)
        if not 0 <= index < n:
            raise NotFound(f"index {index} is not in the tree of size {n}")
        return n, Prover(self.store.read_tile).inclusion(index, n)

    def consistency(self, old_size: int, new_size: int | None = None) -> tuple[int, list[bytes]]:
        n = self._size(new_size)
        if not 0 <= old_size <= n:
            raise NotFound(f"old size {old_size} is larger than the tree size {n}")
        self._size(old_size)
        return n, Prover(self.store.read_tile).consistency(old_size, n)
