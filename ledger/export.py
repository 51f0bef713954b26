"""Static export of the log in the C2SP tlog-tiles layout, for any web server or CDN.

``frontier-ledger export --data DIR OUT`` writes ``OUT/checkpoint``,
``OUT/tile/<L>/<N>[.p/<W>]`` and ``OUT/tile/entries/<N>[.p/<W>]``.

- Every file is written atomically (temporary file, fsync, rename), so a reader
  or a crash never sees half a tile.
- Tiles and bundles are immutable once written; a re-run writes only what is
  new, and keeps the partial tiles of earlier runs (tlog-tiles: logs MUST serve
  the partial tiles of every published size until the full tile exists).
- The checkpoint is written last, after every tile it commits to is on disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.service import LogReader
from verifier.tiles import ENTRIES, all_tiles_for_size, tiles_for_size


@dataclass
class ExportStats:
    size: int = 0
    written: int = 0
    skipped: int = 0
    bytes_written: int = 0


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    # Crash point: before this rename, only a hidden temporary file exists.
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export_log(
    reader: LogReader, out: Path, cosign: Callable[[int, bytes], bytes] | None = None
) -> ExportStats:
    """Write the log's current state to *out*; return what was written.

    *cosign* adds the witnesses' cosignatures to the head's checkpoint note.
    """
    head = reader.head()  # one snapshot: every file below is for this size
    checkpoint = cosign(head.size, head.checkpoint) if cosign else head.checkpoint
    stats = ExportStats(size=head.size)
    out.mkdir(parents=True, exist_ok=True)
    wanted = all_tiles_for_size(head.size) + tiles_for_size(head.size, ENTRIES)
    for tile in wanted:
        path = out / tile.path
        if path.exists():
            stats.skipped += 1
            continue
        data = reader.tile(tile.path).data
        atomic_write(path, data)
        stats.written += 1
        stats.bytes_written += len(data)
    for digest in reader.blob_names():
        path = out / "blobs" / "sha256" / digest
        if path.exists():
            stats.skipped += 1
            continue
        data = reader.blob(digest)
        atomic_write(path, data)
        stats.written += 1
        stats.bytes_written += len(data)
    for d in {(out / t.path).parent for t in wanted}:
        _fsync_dir(d)
    atomic_write(out / "checkpoint", checkpoint)
    _fsync_dir(out)
    return stats
