"""Static export of the log in the C2SP tlog-tiles layout, for any web server or CDN.

``frontier-ledger export --data DIR OUT`` writes ``OUT/checkpoint``,
``OUT/tile/<L>/<N>[.p/<W>]`` and ``OUT/tile/entries/<N>[.p/<W>]``.

- Every file is written atomically (temporary file, fsync, rename), so a reader
  or a crash never sees half a tile.
- Tiles and bundles are immutable once written; a re-run writes only what is
  new, and keeps the partial tiles of earlier runs (tlog-tiles: logs MUST serve
  the partial tiles of every published size until the full tile exists).
- The checkpoint is written last, after every tile it commits to is on disk.
- Nothing is published that does not verify: before writing, the head's
  checkpoint must be signed by one of the log's keys, and what is new since the
  mirror's own checkpoint must check out as a verifier would check it — the
  whole log on a first export (every bundle hashes into its tile, the tiles
  into the signed root), otherwise a consistency proof from the mirror's
  checkpoint and an inclusion proof for every new leaf. A store edited after
  signing is refused (:class:`ledger.errors.LogDamaged`) and nothing is written.
- Nothing already in the mirror that this export answers for is left as it is
  unless it is byte for byte what the log holds. Before writing anything, every
  file of this export step that is already there is compared with the bytes the
  export would write (a ``.gz`` beside a full bundle by its decompressed bytes,
  a blob by its SHA-256): the tiles and bundles new since the mirror's own
  checkpoint (every one on a first export, or without a checkpoint of this log),
  and the partial tiles of the mirror's checkpoint, which the new tiles extend.
  A file that differs was changed outside export: the export refuses
  (:class:`ledger.errors.MirrorAltered`, naming the first) and writes nothing;
  with ``repair=True`` it checks every file of the head's size as on a first
  export and rewrites those that differ. Files of the mirror's earlier sizes
  that the new range does not touch are not read again (an incremental export
  reads what is new, not the whole mirror); ``frontier-verify verify`` of the
  mirror checks everything a reader of the current checkpoint fetches.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger.errors import LogDamaged, MirrorAltered, NotFound
from ledger.keys.log_keys import KeyFiles, known_verifiers
from ledger.read.reader import LogReader, TileBody
from verifier.client.consistency import check_consistent
from verifier.client.tilelog import fetch_new_leaves, verify_tile_log
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.note import NoteVerifier
from verifier.core.tiles import (
    ENTRIES,
    Tile,
    all_tiles_for_size,
    levels_for_size,
    tile_for_size,
    tiles_for_size,
)
from verifier.errors import FormatError, LedgerVerifyError
from verifier.files import atomic_write, fsync_dir


@dataclass
class ExportStats:
    size: int = 0
    written: int = 0
    skipped: int = 0
    bytes_written: int = 0
    #: Files already in the mirror that were read and found to be the log's bytes.
    checked: int = 0
    #: Files that differed and were rewritten (only with ``repair=True``).
    repaired: list[str] = field(default_factory=list)


def export_log(
    reader: LogReader,
    out: Path,
    cosign: Callable[[int, bytes], bytes] | None = None,
    *,
    keys: Sequence[NoteVerifier] | None = None,
    repair: bool = False,
) -> ExportStats:
    """Write the log's current state to *out*; return what was written.

    *cosign* adds the witnesses' cosignatures to the head's checkpoint note.
    *keys* verify the checkpoints (default: the log's keys in the data directory).
    A file of this export step already in *out* that differs from the log's bytes
    raises :class:`MirrorAltered` before anything is written; with *repair* every
    file of the head's size is checked and those that differ are rewritten.
    """
    head = reader.head()  # one snapshot: every file below is for this size
    old = _verify(reader, head.checkpoint, out, keys if keys is not None else _log_keys(reader))
    checkpoint = cosign(head.size, head.checkpoint) if cosign else head.checkpoint
    stats = ExportStats(size=head.size)
    wanted = all_tiles_for_size(head.size) + tiles_for_size(head.size, ENTRIES)
    since = 0 if old is None else old.size
    checked = list(_answered_for(wanted, head.size, since, every=repair))
    differ = _compare(reader, out, checked, stats)
    blobs = reader.blob_names()
    differ += _compare_blobs(reader, out, blobs, stats, by_hash=since == 0 or repair)
    if differ and not repair:
        raise MirrorAltered(
            f"{out / differ[0]} is not the file the log holds for it "
            f"({len(differ)} file(s) differ): the mirror was changed outside export. "
            "Nothing was written. Move the mirror aside and export again, or re-run "
            "export with --repair to rewrite the files that differ",
            differ[0],
        )
    rewrite = set(differ)
    stats.repaired = differ
    out.mkdir(parents=True, exist_ok=True)
    # The mirror's older partial tiles are rewritten only if they differ (repair).
    edges = [t for t in checked if t.path in rewrite and not _served_at(t, head.size)]
    for tile in wanted + edges:
        path = out / tile.path
        gz = _gz(path, tile)
        if _present(path, tile.path, rewrite) and (
            gz is None or _present(gz, _rel(gz, out), rewrite)
        ):
            stats.skipped += 1
            continue
        body = reader.tile(tile.path)
        for target, data in ((path, body.data), (gz, body.gzipped)):
            if target is None or data is None or _present(target, _rel(target, out), rewrite):
                continue
            atomic_write(target, data, sync_dir=False)
            stats.written += 1
            stats.bytes_written += len(data)
    for digest in blobs:
        rel = f"blobs/sha256/{digest}"
        path = out / rel
        if _present(path, rel, rewrite):
            stats.skipped += 1
            continue
        data = reader.blob(digest)
        atomic_write(path, data, sync_dir=False)
        stats.written += 1
        stats.bytes_written += len(data)
    for d in {(out / t.path).parent for t in wanted}:
        fsync_dir(d)
    atomic_write(out / "checkpoint", checkpoint, sync_dir=False)
    fsync_dir(out)
    return stats


def _gz(path: Path, tile: Tile) -> Path | None:
    """A full entry bundle is stored gzipped beside itself too, so a web server sends
    it compressed without compressing it on every request (nginx: gzip_static;
    docker/nginx/mirror.conf). Verifiers read only the plain file."""
    if tile.level == ENTRIES and tile.is_full:
        return path.with_name(path.name + ".gz")
    return None


def _rel(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


def _present(path: Path, rel: str, rewrite: set[str]) -> bool:
    return rel not in rewrite and path.exists()


def _served_at(tile: Tile, size: int) -> bool:
    """Whether a log of *size* serves exactly this tile (same path)."""
    try:
        return tile_for_size(tile.level, tile.index, size) == tile
    except FormatError:
        return False


def _answered_for(wanted: list[Tile], size: int, since: int, *, every: bool) -> Iterator[Tile]:
    """The tiles whose files in the mirror this export compares with the log's bytes.

    From *since* 0 (a first export) or with *every* (a repair): every tile of the
    head's *size*. Otherwise the tiles new since the mirror's size *since* (the full
    tiles that replace its partial ones included) and the head's partial tiles. In
    both cases also the mirror's partial tiles at *since* that the new tiles extend.
    An incremental export so reads O(new tiles + levels) files, not the whole mirror.
    """
    for tile in wanted:
        if every or since == 0 or not tile.is_full or not _served_at(tile, since):
            yield tile
    if since:
        for level in [ENTRIES, *range(levels_for_size(since))]:
            edge = tiles_for_size(since, level)[-1]
            if not edge.is_full and not _served_at(edge, size):
                yield edge


def _compare(reader: LogReader, out: Path, tiles: list[Tile], stats: ExportStats) -> list[str]:
    """Paths (relative to *out*) of the given tiles' files that exist and differ."""
    differ: list[str] = []
    for tile in tiles:
        path = out / tile.path
        gz = _gz(path, tile)
        if not path.exists() and (gz is None or not gz.exists()):
            continue
        body: TileBody = reader.tile(tile.path)
        if path.exists():
            stats.checked += 1
            if not _same(path, body.data):
                differ.append(tile.path)
        if gz is not None and gz.exists():
            stats.checked += 1
            if not _same_gunzipped(gz, body.data):
                differ.append(_rel(gz, out))
    return differ


def _compare_blobs(
    reader: LogReader, out: Path, names: list[str], stats: ExportStats, *, by_hash: bool
) -> list[str]:
    """Blobs already in the mirror that are not the log's: by size (a stat) on an
    incremental export, by SHA-256 of their content on a first export or a repair."""
    differ: list[str] = []
    for digest in names:
        rel = f"blobs/sha256/{digest}"
        path = out / rel
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        stats.checked += 1
        if by_hash:
            ok = _sha256(path) == digest
        else:
            ok = size == (reader.blobs_dir / digest).stat().st_size
        if not ok:
            differ.append(rel)
    return differ


def _same(path: Path, data: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(data) + 1) == data


def _same_gunzipped(path: Path, data: bytes) -> bool:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        plain = d.decompress(raw, len(data) + 1)
    except zlib.error:
        return False
    return plain == data and d.eof and not d.unused_data


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _log_keys(reader: LogReader) -> list[NoteVerifier]:
    root = reader.store.data_root
    return known_verifiers(KeyFiles(root / "log.key", root / "log.vkey"))


def _verify(
    reader: LogReader, note: bytes, out: Path, keys: Sequence[NoteVerifier]
) -> SignedCheckpoint | None:
    """Check what this export is about to publish, as a verifier of the mirror would;
    return the mirror's own checkpoint (None: none this log signed, a first export)."""

    def fetch(path: str) -> bytes:
        return reader.tile(path).data

    try:
        new = open_checkpoint(note, keys)
        old = _published(out, keys)
        if old is None:
            verify_tile_log(new, fetch)
        else:
            check_consistent(old, new, fetch)
            fetch_new_leaves(new, fetch, old.size)
    except (LedgerVerifyError, NotFound) as exc:
        raise LogDamaged(
            f"refusing to export: the stored log does not verify ({exc}); "
            "run frontier-ledger fsck to find the first bad entry"
        ) from None
    return old


def _published(out: Path, keys: Sequence[NoteVerifier]) -> SignedCheckpoint | None:
    """The mirror's own checkpoint, if it has one this log signed (else export it all)."""
    try:
        return open_checkpoint((out / "checkpoint").read_bytes(), keys)
    except (OSError, LedgerVerifyError):
        return None
