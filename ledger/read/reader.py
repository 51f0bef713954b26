"""The read operations behind the HTTP API: checkpoint, tiles, entries, proofs.

Routers stay thin; everything they answer comes from here. Read operations use
the store's read-only connections and never block the sequencer.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass
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

    @property
    def size(self) -> int:
        return len(self.data) + (len(self.gzipped) if self.gzipped is not None else 0)


#: Bytes of full tiles and bundles kept in memory (they never change).
FULL_TILE_CACHE_BYTES = 64 * 1024 * 1024


class FullTiles:
    """Full tiles and entry bundles by (level, index), least recently used first out.

    A full tile's bytes never change once its 256 hashes (or entries) exist, so
    nothing here is ever stale; the cache is bounded by the bytes it holds. Safe
    from any thread; :meth:`get` does no I/O (the server's fast path answers from it
    on the event loop).
    """

    def __init__(self, max_bytes: int = FULL_TILE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[int, int], TileBody] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, level: int, index: int) -> TileBody | None:
        with self._lock:
            body = self._items.get((level, index))
            if body is not None:
                self._items.move_to_end((level, index))
            return body

    def put(self, level: int, index: int, body: TileBody) -> None:
        with self._lock:
            old = self._items.pop((level, index), None)
            if old is not None:
                self.bytes -= old.size
            self._items[(level, index)] = body
            self.bytes += body.size
            while self.bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.size

    def __len__(self) -> int:
        return len(self._items)


class LogReader:
    """Read side of a log: tiles, bundles, entries, checkpoints, blobs and proofs."""

    def __init__(self, store: LedgerStore, blobs_dir: Path | None = None) -> None:
        self.store = store
        # Blobs live in the data directory, whichever database holds the log.
        self.blobs_dir = (
            blobs_dir if blobs_dir is not None else store.data_root / "blobs" / "sha256"
        )
        # Full tiles and bundles are immutable: cache them (bytes and gzip).
        self.full_tiles = FullTiles()

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

    def cached_tile(self, level: int, index: int) -> TileBody | None:
        """A full tile or bundle if it is in memory (no I/O; None otherwise)."""
        return self.full_tiles.get(level, index)

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

    def _full(self, level: int, index: int) -> TileBody:
        body = self.full_tiles.get(level, index)
        if body is None:
            data = self._load(level, index, TILE_WIDTH)
            body = TileBody(data, gzip.compress(data, 6, mtime=0) if level == ENTRIES else None)
            self.full_tiles.put(level, index, body)
        return body

    def _proof_tile(self, level: int, index: int) -> bytes | None:
        """A stored hash tile for the prover: a full one from memory when it is there
        (it never changes), else from the store (and kept if it is full)."""
        body = self.full_tiles.get(level, index)
        if body is not None:
            return body.data
        data = self.store.read_tile(level, index)
        if data is not None and len(data) == TILE_WIDTH * 32:
            self.full_tiles.put(level, index, TileBody(data))
        return data

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
        return n, Prover(self._proof_tile).inclusion(index, n)

    def consistency(self, old_size: int, new_size: int | None = None) -> tuple[int, list[bytes]]:
        n = self._size(new_size)
        if not 0 <= old_size <= n:
            raise NotFound(f"old size {old_size} is larger than the tree size {n}")
        self._size(old_size)
        return n, Prover(self._proof_tile).consistency(old_size, n)
