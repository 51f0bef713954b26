"""The log's signing key: a C2SP signed-note key file, kept outside the database.

``init`` writes ``PRIVATE+KEY+<origin>+<hex id>+<base64(0x01 || seed)>`` with mode
0600 (the format the Go note tooling reads and writes). The sequencer only sees
a :class:`verifier.note.NoteSigner`, so an HSM or KMS signer can replace the file
without touching anything else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from verifier.errors import FormatError
from verifier.note import Ed25519Signer, NoteSigner, parse_skey


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable, too widely readable or malformed."""


def write_new_key(path: Path, name: str) -> Ed25519Signer:
    """Generate an Ed25519 note key named *name* and write it to *path* (mode 0600)."""
    signer = Ed25519Signer.generate(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite an existing key (that would orphan a live log).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (signer.skey + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return signer


def load_key(path: Path) -> NoteSigner:
    """Load a signer key file, refusing one that group or others can read."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"no log key at {path}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"log key {path} is readable by group or others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run: chmod 600 {path}"
        )
    try:
        return parse_skey(path.read_text())
    except (FormatError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"log key {path} is malformed: {exc}") from None
