"""Durable file writes (after a crash a file holds its old bytes or its new ones, never
half) and capped reads (a file larger than its kind allows is refused, never read whole).

One place for the fsync dance, standard library only, used by the verifier's state
directory, the witness's state store and, through them or directly, the ledger (static
export, backups, restore, key files and key rotation).

Replacing a file (:func:`atomic_write`), step by step, and what a crash at each step
leaves behind:

1. the bytes go to a hidden temporary file beside the target (:func:`temp_name`: unique
   per call, so two writers never share one) and are fsynced. A crash here leaves the
   target untouched and at most a stray temporary file.
2. ``os.replace`` renames the temporary file over the target: atomic on POSIX, so a
   reader sees the old bytes or the new, never a mixture.
3. the directory is fsynced (:func:`fsync_dir`). Until then the rename itself is only in
   memory: a power loss may bring the old bytes back. A caller writing many files in one
   directory may skip this step per file and fsync the directory once at the end.

Creating a key (:func:`write_new_private`) never replaces anything: ``O_EXCL`` fails if the
file exists, since overwriting a key would orphan whatever it signed. The file is created
mode 0600 and fsynced; the caller fsyncs the directory if the name must survive a crash.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from verifier.errors import FileTooLarge, InputError


def fsync_file(path: Path) -> None:
    """Flush *path*'s bytes to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(path: Path, suffix: str = "tmp") -> Path:
    """A hidden temporary name beside *path*: ``.<name>.<suffix>-<pid>-<random hex>``.

    Unique per call, not only per process: in containers every process may be pid 1,
    and two writers sharing a directory must never share a temporary file.
    """
    return path.with_name(f".{path.name}.{suffix}-{os.getpid()}-{secrets.token_hex(4)}")


def write_new_private(path: Path, data: bytes) -> None:
    """Create *path* holding *data*, mode 0600, fsynced; never replace a file.

    ``O_EXCL``: an existing file raises :class:`FileExistsError` and is left as it was
    (overwriting a key would orphan what it signed). Missing parent directories are
    created.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path, data: bytes, *, mode: int | None = None, sync_dir: bool = True
) -> None:
    """Replace *path* by *data* so that a crash leaves either the old bytes or the new.

    *mode*: the file's permission bits, exactly (the temporary file is created 0600 and
    changed to *mode* before the rename); None gives a new file's default (0666 less the
    umask). *sync_dir*: fsync the directory after the rename; a caller that passes False
    must fsync it itself before it relies on the new bytes. Missing parent directories are
    created. On an error the temporary file is removed and the target is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        # O_EXCL: the name is fresh; never write into a file another writer has open.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        with os.fdopen(os.open(tmp, flags, 0o666 if mode is None else 0o600), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        # Crash point: before this rename only the temporary file holds the new bytes.
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        # Crash point: until the directory is fsynced the rename may be lost.
        fsync_dir(path.parent)


# -- capped reads ------------------------------------------------------------------


def read_capped(path: str | Path, cap: int, what: str) -> bytes:
    """The bytes of the file *path*, which may hold at most *cap* bytes; *what* names it.

    Reads at most ``cap + 1`` bytes (a larger file, a device such as ``/dev/zero``, is
    never read whole) and raises :class:`~verifier.errors.FileTooLarge`, naming the file
    and the cap, if there are more. An unreadable file raises :class:`OSError`.
    """
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise FileTooLarge(str(path), cap, what)
    return data


def read_capped_text(path: str | Path, cap: int, what: str) -> str:
    """:func:`read_capped`, decoded as strict UTF-8 (else :class:`~verifier.errors.InputError`)."""
    data = read_capped(path, cap, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not valid UTF-8 (byte {exc.start})") from None
