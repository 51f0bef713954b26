"""The log's signing keys: C2SP signed-note key files, kept outside the database.

``init`` writes ``PRIVATE+KEY+<origin>+<hex id>+<base64(0x01 || seed)>`` with mode
0600 (the format the Go note tooling reads and writes). The sequencer only sees
:class:`verifier.core.note.NoteSigner` objects, so an HSM or KMS signer can replace a
file without touching anything else.

Beside the log key (``log.key``, in the directory of ``--key``, by default DATA),
optional keys sign every checkpoint too (:func:`load_extra_signers`):

- ``log.next.key``: the next Ed25519 key, during a key rotation's overlap
  (``frontier-ledger key rotate-start``; ``rotate-finish`` makes it ``log.key``);
- ``log-mldsa.key``: an ML-DSA-44 key (C2SP tlog-cosignature ``subtree/v1``,
  type 0x06: ``PRIVATE+KEY+<origin>+<hex id>+<base64(0x06 || seed32)>``);
- ``log-mldsa.next.key``: the next ML-DSA-44 key, during a rotation.

Their public keys are in DATA: ``log.vkey``, ``log.next.vkey``, ``log-mldsa.vkey``,
``log-mldsa.next.vkey``. Retired private keys are archived, never deleted, in
``retired-keys/`` beside the log key.
"""

from __future__ import annotations

import base64
import stat
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import KeyFileError
from verifier.core.mldsa import ALG_MLDSA44, MLDSA44Signer, parse_mldsa_skey, parse_mldsa_vkey
from verifier.core.note import Ed25519Signer, NoteSigner, NoteVerifier, parse_skey, parse_vkey
from verifier.errors import FormatError
from verifier.files import write_new_private


def write_new_key(path: Path, name: str) -> Ed25519Signer:
    """Generate an Ed25519 note key named *name* and write it to *path* (mode 0600)."""
    signer = Ed25519Signer.generate(name)
    write_private(path, signer.skey)
    return signer


def load_key(path: Path) -> NoteSigner:
    """Load a signer key file, refusing one that group or others can read.

    An Ed25519 key (type 0x01) or an ML-DSA-44 key (type 0x06).
    """
    text = _read_private(path)
    try:
        if _key_type(text) == ALG_MLDSA44:
            return parse_mldsa_skey(text)
        return parse_skey(text)
    except FormatError as exc:
        raise KeyFileError(f"log key {path} is malformed: {exc}") from None


def _read_private(path: Path) -> str:
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
        return path.read_text()
    except UnicodeDecodeError as exc:
        raise KeyFileError(f"log key {path} is malformed: {exc}") from None


def _key_type(skey: str) -> int | None:
    """The type byte of a ``PRIVATE+KEY+<name>+<id>+<base64>`` line (None if unreadable)."""
    parts = skey.strip().split("+", 4)
    if len(parts) != 5:
        return None
    try:
        return base64.b64decode(parts[4][:4])[0]
    except (ValueError, IndexError):
        return None


# -- the extra keys: rotation and post-quantum ----------------------------------------

NEXT_KEY = "log.next.key"
NEXT_VKEY = "log.next.vkey"
MLDSA_KEY = "log-mldsa.key"
MLDSA_VKEY = "log-mldsa.vkey"
MLDSA_NEXT_KEY = "log-mldsa.next.key"
MLDSA_NEXT_VKEY = "log-mldsa.next.vkey"
RETIRED_DIR = "retired-keys"


@dataclass(frozen=True)
class KeyFiles:
    """Where a log's key files are: private keys beside ``--key``, vkeys in DATA."""

    key_path: Path  # the current Ed25519 log key (DATA/log.key by default)
    vkey_path: Path  # DATA/log.vkey

    @property
    def keys_dir(self) -> Path:
        return self.key_path.parent

    @property
    def data_dir(self) -> Path:
        return self.vkey_path.parent

    @property
    def next_key(self) -> Path:
        return self.keys_dir / NEXT_KEY

    @property
    def next_vkey(self) -> Path:
        return self.data_dir / NEXT_VKEY

    @property
    def mldsa_key(self) -> Path:
        return self.keys_dir / MLDSA_KEY

    @property
    def mldsa_vkey(self) -> Path:
        return self.data_dir / MLDSA_VKEY

    @property
    def mldsa_next_key(self) -> Path:
        return self.keys_dir / MLDSA_NEXT_KEY

    @property
    def mldsa_next_vkey(self) -> Path:
        return self.data_dir / MLDSA_NEXT_VKEY

    @property
    def retired_dir(self) -> Path:
        return self.keys_dir / RETIRED_DIR


def known_verifiers(files: KeyFiles) -> list[NoteVerifier]:
    """Every public key this log has signed checkpoints with: the log key, the next
    key of a rotation, the ML-DSA-44 keys, and the retired keys (``retired-keys/``),
    so that old checkpoints verify too."""
    out: list[NoteVerifier] = []
    paths = [files.vkey_path, files.next_vkey, files.mldsa_vkey, files.mldsa_next_vkey]
    if files.retired_dir.is_dir():
        paths += sorted(files.retired_dir.glob("*.vkey"))
    for path in paths:
        if path.exists():
            text = path.read_text().strip()
            try:
                out.append(parse_vkey(text))
            except FormatError:
                out.append(parse_mldsa_vkey(text))
    return out


def load_extra_signers(files: KeyFiles) -> list[NoteSigner]:
    """The keys that sign every checkpoint besides the log key, in signature-line order:
    the next Ed25519 key (during a rotation), the ML-DSA-44 key and its next key."""
    out: list[NoteSigner] = []
    for path in (files.next_key, files.mldsa_key, files.mldsa_next_key):
        if path.exists():
            out.append(load_key(path))
    return out


def write_new_mldsa_key(path: Path, name: str) -> MLDSA44Signer:
    """Generate an ML-DSA-44 key named *name* and write it to *path* (mode 0600, never replaced)."""
    signer = MLDSA44Signer.generate(name)
    write_private(path, signer.skey)
    return signer


def write_private(path: Path, skey: str) -> None:
    """Write a private key line to a new file, mode 0600, durably (O_EXCL: never replaced)."""
    write_new_private(path, (skey + "\n").encode())
