"""Writing the mirror's files, incrementally, and counting what was written.

Re-runs are incremental: a file whose bytes are unchanged is not rewritten (its
mtime and inode stay), so only what the new entries changed is written. Files
are replaced atomically (temporary file, rename) but not fsynced: the mirror is
derived data, and a re-run repairs whatever a crash left behind.

:class:`Writer` puts bytes (or a finished temporary file) at a path under OUT;
:class:`SiteExportStats` counts pages, files, bytes written and the URLs that
answered an error, per process, and adds up the processes' counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ledger.read.mirror import ExportStats
from verifier.files import temp_name

#: Errors printed (and listed in the stats) at most, per process.
MAX_WARNINGS = 20


@dataclass
class SiteExportStats:
    """What an export fetched and wrote: one process's counts, or all of them merged."""

    size: int = 0
    pages: int = 0
    files: int = 0
    written: int = 0
    unchanged: int = 0
    bytes_written: int = 0
    #: URLs the site answered with an error (a page's error page is mirrored as the site shows it)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    #: of which server errors (5xx): the mirror is incomplete
    server_errors: int = 0
    log: ExportStats | None = None
    seconds: float = 0.0

    def merge(self, other: SiteExportStats) -> None:
        """Add the counts of another process's share."""
        self.pages += other.pages
        self.files += other.files
        self.written += other.written
        self.unchanged += other.unchanged
        self.bytes_written += other.bytes_written
        self.error_count += other.error_count
        self.server_errors += other.server_errors
        self.errors = (self.errors + other.errors)[:MAX_WARNINGS]


def _same_file(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _same_files(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(1 << 20), fb.read(1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False


def _tmp_for(path: Path) -> Path:
    return temp_name(path)


class Writer:
    """Writes files under OUT, leaving alone those that already hold the same bytes."""

    def __init__(self, out: Path, stats: SiteExportStats) -> None:
        self.out = out
        self.stats = stats

    def put(self, rel: PurePosixPath, data: bytes) -> None:
        """Write *data* at OUT/*rel* unless the file already holds exactly these bytes."""
        path = self.out.joinpath(*rel.parts)
        if _same_file(path, data):
            self.stats.unchanged += 1
            return
        tmp = _tmp_for(path)
        try:
            tmp.write_bytes(data)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
        os.replace(tmp, path)
        self.stats.written += 1
        self.stats.bytes_written += len(data)

    def temp_for(self, rel: PurePosixPath) -> Path:
        """A temporary file beside OUT/*rel* (its directory made) to stream a large file into."""
        path = self.out.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return _tmp_for(path)

    def put_file(self, rel: PurePosixPath, tmp: Path) -> None:
        """Move the finished temporary file *tmp* to OUT/*rel* unless that is the same."""
        path = self.out.joinpath(*rel.parts)
        if _same_files(path, tmp):
            tmp.unlink()
            self.stats.unchanged += 1
            return
        size = tmp.stat().st_size
        os.replace(tmp, path)
        self.stats.written += 1
        self.stats.bytes_written += size
