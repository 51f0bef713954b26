"""Writing files so that a crash leaves either the old bytes or the new, never half.

One place for the fsync dance used by the export, backups, restore and key
rotation: write a temporary file, fsync it, rename it over the target, fsync
the directory (the rename itself must survive power loss).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fsync_file(path)


def temp_name(path: Path, suffix: str = "tmp") -> Path:
    """A hidden temporary name beside *path*, unique per call, not only per process:
    in containers every process may be pid 1, and two writers sharing a directory
    must never share a temporary file."""
    return path.with_name(f".{path.name}.{suffix}-{os.getpid()}-{secrets.token_hex(4)}")


def write_new_private(path: Path, data: bytes) -> None:
    """Create *path* holding *data*, mode 0600, durably; never replace a file (O_EXCL:
    overwriting a key would orphan what it signed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace *path* by *data* (the caller fsyncs the directory when it must)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    # Crash point: before this rename, only a hidden temporary file exists.
    os.replace(tmp, path)
