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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import LogDamaged, NotFound
from ledger.keys.log_keys import KeyFiles, known_verifiers
from ledger.read.reader import LogReader
from verifier.client.consistency import check_consistent
from verifier.client.tilelog import fetch_new_leaves, verify_tile_log
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.note import NoteVerifier
from verifier.core.tiles import ENTRIES, all_tiles_for_size, tiles_for_size
from verifier.errors import LedgerVerifyError
from verifier.files import atomic_write, fsync_dir


@dataclass
class ExportStats:
    size: int = 0
    written: int = 0
    skipped: int = 0
    bytes_written: int = 0


def export_log(
    reader: LogReader,
    out: Path,
    cosign: Callable[[int, bytes], bytes] | None = None,
    *,
    keys: Sequence[NoteVerifier] | None = None,
) -> ExportStats:
    """Write the log's current state to *out*; return what was written.

    *cosign* adds the witnesses' cosignatures to the head's checkpoint note.
    *keys* verify the checkpoints (default: the log's keys in the data directory).
    """
    head = reader.head()  # one snapshot: every file below is for this size
    _verify(reader, head.checkpoint, out, keys if keys is not None else _log_keys(reader))
    checkpoint = cosign(head.size, head.checkpoint) if cosign else head.checkpoint
    stats = ExportStats(size=head.size)
    out.mkdir(parents=True, exist_ok=True)
    wanted = all_tiles_for_size(head.size) + tiles_for_size(head.size, ENTRIES)
    for tile in wanted:
        path = out / tile.path
        # A full entry bundle never changes: store it gzipped beside itself too, so a
        # web server sends it compressed without compressing it on every request
        # (nginx: gzip_static; docker/nginx/mirror.conf). Verifiers read only the
        # plain file.
        gz = path.with_name(path.name + ".gz") if tile.level == ENTRIES and tile.is_full else None
        if path.exists() and (gz is None or gz.exists()):
            stats.skipped += 1
            continue
        body = reader.tile(tile.path)
        for target, data in ((path, body.data), (gz, body.gzipped)):
            if target is None or data is None or target.exists():
                continue
            atomic_write(target, data, sync_dir=False)
            stats.written += 1
            stats.bytes_written += len(data)
    for digest in reader.blob_names():
        path = out / "blobs" / "sha256" / digest
        if path.exists():
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


def _log_keys(reader: LogReader) -> list[NoteVerifier]:
    root = reader.store.data_root
    return known_verifiers(KeyFiles(root / "log.key", root / "log.vkey"))


def _verify(reader: LogReader, note: bytes, out: Path, keys: Sequence[NoteVerifier]) -> None:
    """Check what this export is about to publish, as a verifier of the mirror would."""

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


def _published(out: Path, keys: Sequence[NoteVerifier]) -> SignedCheckpoint | None:
    """The mirror's own checkpoint, if it has one this log signed (else export it all)."""
    try:
        return open_checkpoint((out / "checkpoint").read_bytes(), keys)
    except (OSError, LedgerVerifyError):
        return None
