"""C2SP tlog-tiles arithmetic, paths and bodies (tile height 8).

A tile at level L, index N holds up to 256 consecutive hashes of tree level 8·L:
level 0 holds leaf hashes; a level-L hash is the root of a full level-(L-1) tile.
Entry bundles (``tile/entries/...``) hold the leaves of the level-0 tile with the
same index. Paths encode N in 3-digit groups, all but the last prefixed ``x``
(1234067 → ``x001/x234/067``); a partial tile of width W (1..255) gets ``.p/W``.

Wire formats (tlog-tiles §"Merkle Tree", §"Partial Tiles", §"Log entries")::

    tile/<L>/<N>[.p/<W>]            <L>: 0..63, no leading zeros (parse_tile_path)
    tile/entries/<N>[.p/<W>]        <W>: 1..255, no leading zeros
    tile body:     hash[32] × W     "Full tiles MUST be exactly 256 hashes wide,
                                    or 8,192 bytes" (split_hashes)
    bundle body:   (uint16_be(len) || leaf) × W
                                    "sequences of big-endian uint16 length-prefixed
                                    log entries" (parse_entry_bundle)

The partial tile at level L of a tree of size s has ``floor(s / 256**L) mod 256``
hashes (:func:`partial_width`); "Empty tiles MUST NOT be served".
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.core.encoding import parse_decimal
from verifier.errors import FormatError, TileMismatch

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes (8,192 bytes) in a full tile
#: Level used for entry bundles, as in the shared test vectors.
ENTRIES = -1
#: tlog-tiles: "<L> MUST be a decimal ASCII integer between 0 and 63". With
#: height 8, only levels 0..7 can hold hashes of a tree below 2**64 leaves.
MAX_LEVEL = 63
HASH_SIZE = 32
#: Longest path we will parse: "tile/entries/" + 7 groups of "xNNN/" + ".p/255".
MAX_PATH_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile (or entry bundle when ``level == ENTRIES``) and its width."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not ENTRIES <= self.level <= MAX_LEVEL:
            raise FormatError(f"tile level {self.level} is out of range")
        if not 0 <= self.index < 1 << 64:
            raise FormatError(f"tile index {self.index} is out of range for level {self.level}")
        if not 1 <= self.width <= TILE_WIDTH:
            raise FormatError(f"tile width {self.width} is not in 1..{TILE_WIDTH}")

    @property
    def is_entries(self) -> bool:
        return self.level == ENTRIES

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


def encode_index(n: int) -> str:
    """``1234067 → "x001/x234/067"``; ``5 → "005"``."""
    if n < 0:
        raise FormatError(f"tile index {n} is negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The tile's path relative to the log prefix, e.g. ``tile/0/x001/000.p/1``."""
    head = "tile/entries/" if level == ENTRIES else f"tile/{level}/"
    tail = "" if width == TILE_WIDTH else f".p/{width}"
    return head + encode_index(index) + tail


def parse_tile_path(path: str) -> Tile:
    """Parse a tile path strictly: only the canonical spelling of a tile is accepted.

    Rejected, each with a :class:`FormatError` naming the fault: leading zeros or
    missing ``x`` groups (``tile/0/01``, ``tile/0/x000/001``), widths outside 1..255
    or ``.p/256``, unknown levels, ``..``, empty segments, and anything over
    :data:`MAX_PATH_LENGTH` characters.
    """
    if len(path) > MAX_PATH_LENGTH or not path.isascii():
        raise FormatError("tile path: too long or not ASCII")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise FormatError(f"tile path {path!r}: expected tile/<L>/<N>[.p/<W>]")
    if parts[1] == "entries":
        level = ENTRIES
    else:
        level = parse_decimal(parts[1], what="tile level", maximum=MAX_LEVEL)
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = parse_decimal(rest[-1], what="partial tile width", maximum=TILE_WIDTH - 1)
        if width == 0:
            raise FormatError("partial tile width must be 1..255")
        rest = [*rest[:-2], rest[-2][:-2]]
    index = 0
    for i, group in enumerate(rest):
        last = i == len(rest) - 1
        digits = group if last else group.removeprefix("x")
        if (not last and not group.startswith("x")) or len(digits) != 3 or not digits.isdigit():
            raise FormatError(f"tile path {path!r}: index group {group!r} is malformed")
        index = index * 1000 + int(digits)
    tile = Tile(level, index, width)
    # Canonical form only: one spelling per tile (rejects "x000/" prefixes).
    if tile.path != path:
        raise FormatError(f"tile path {path!r} is not canonical (expected {tile.path!r})")
    return tile


def partial_width(level: int, size: int) -> int:
    """Width of the rightmost, partial tile at *level* for a tree of *size* (0: none).

    ``floor(size / 256**level) mod 256``; entry bundles follow level 0.
    """
    return (size >> (TILE_HEIGHT * max(level, 0))) % TILE_WIDTH


def tiles_for_size(size: int, level: int) -> list[Tile]:
    """Every tile a log of *size* serves at *level* (``ENTRIES`` for bundles)."""
    count = size >> (TILE_HEIGHT * max(level, 0))
    full, width = divmod(count, TILE_WIDTH)
    out = [Tile(level, n) for n in range(full)]
    if width:
        out.append(Tile(level, full, width))
    return out


def levels_for_size(size: int) -> int:
    """Number of hash-tile levels a log of *size* has (0 for an empty log)."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def all_tiles_for_size(size: int) -> list[Tile]:
    """Every hash tile, level by level, that a log of *size* serves."""
    return [t for lv in range(levels_for_size(size)) for t in tiles_for_size(size, lv)]


def tile_for_size(level: int, index: int, size: int) -> Tile:
    """The tile at (level, index) as a log of *size* serves it: full or partial.

    Raises :class:`FormatError` if the log has no such tile at that size.
    """
    count = size >> (TILE_HEIGHT * max(level, 0))
    full, width = divmod(count, TILE_WIDTH)
    if index < full:
        return Tile(level, index)
    if index == full and width:
        return Tile(level, index, width)
    raise FormatError(f"a log of size {size} has no tile at level {level} index {index}")


def split_hashes(data: bytes, *, what: str = "tile") -> list[bytes]:
    """Split a hash tile's bytes into 32-byte hashes."""
    if len(data) % HASH_SIZE or len(data) > TILE_WIDTH * HASH_SIZE:
        raise FormatError(f"{what}: {len(data)} bytes is not a whole number of hashes")
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


def tile_hashes(tile: Tile, data: bytes) -> list[bytes]:
    """The hashes of a served hash tile, checked for the shape its path promises.

    The body must be a whole number of 32-byte hashes (:func:`split_hashes`,
    :class:`FormatError`) and exactly ``tile.width`` of them (:class:`TileMismatch`):
    a full tile 256, a partial tile ``.p/W`` W. Every reader of a served tile, the
    full check of a log and the proofs of an incremental one, applies this one
    check, so one mirror gets one answer.
    """
    hashes = split_hashes(data, what=tile.path)
    if len(hashes) != tile.width:
        raise TileMismatch(f"{tile.path}: {len(hashes)} hashes, expected {tile.width}")
    return hashes


def parse_entry_bundle(data: bytes, width: int) -> list[bytes]:
    """Split an entry bundle (``uint16_be(len) || leaf`` repeated) into exactly *width* leaves."""
    leaves: list[bytes] = []
    append = leaves.append
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 2:
            raise FormatError("entry bundle: truncated length prefix")
        stop = pos + 2 + (data[pos] << 8 | data[pos + 1])  # after the big-endian uint16
        if stop > end:
            raise FormatError("entry bundle: truncated entry")
        append(data[pos + 2 : stop])
        pos = stop
        if len(leaves) > width:
            raise FormatError(f"entry bundle: more than the {width} entries expected")
    if len(leaves) != width:
        raise FormatError(f"entry bundle: {len(leaves)} entries, expected {width}")
    return leaves


def encode_entry_bundle(leaves: list[bytes]) -> bytes:
    """``uint16_be(len) || leaf`` for each leaf (a leaf is at most 65,535 bytes)."""
    out = bytearray()
    for leaf in leaves:
        if len(leaf) > 0xFFFF:
            raise FormatError(f"entry of {len(leaf)} bytes exceeds 65,535")
        out += len(leaf).to_bytes(2, "big")
        out += leaf
    return bytes(out)
