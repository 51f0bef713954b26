"""The log's keys over time: adding an ML-DSA-44 key, and rotating the log key.

A rotation never breaks a verifier (docs/operator.md, "Rotating the log key"):

1. :func:`rotate_start` writes the next key (same origin, so the same key name,
   and a new key hash). From then on every checkpoint is signed by both keys:
   C2SP signed-note verifiers ignore signature lines by keys they do not know,
   so a verifier that knows either key verifies every checkpoint.
2. The board logs a ``log_key_change`` entry (:func:`change_payload` drafts it;
   a board quorum signs it, as a ``key_grant``): the new vkey, the old key's
   hash, the end of the overlap, the reason. Verifiers with a state directory
   learn the new key from it, under the key they already trust.
3. After the overlap, :func:`rotate_finish` makes the next key the log key,
   archives the old one (never deletes it) and signs the published checkpoint
   again with the new key alone.

Every step changes key files only while holding the data directory's writer
lock (the server must be stopped: it loads its keys when it starts), then signs
the published checkpoint again (same size and root) with the new set of keys,
so what is served matches the keys at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import RotationError
from ledger.keys.log_keys import (
    KeyFiles,
    load_key,
    write_new_key,
    write_new_mldsa_key,
    write_private,
)
from ledger.ops.datadir import DataDir, WriterLock
from ledger.write.open_log import open_writer
from verifier.core.leaf import parse_leaf
from verifier.core.mldsa import MLDSA44Signer
from verifier.core.note import Ed25519Signer, NoteSigner
from verifier.entries.codec import parse_payload, payload_to_json
from verifier.entries.fields import parse_time
from verifier.entries.payloads import LogKeyChange
from verifier.errors import FormatError
from verifier.files import atomic_write, fsync_dir


def key_files(data: DataDir) -> KeyFiles:
    return KeyFiles(data.key_path, data.vkey_path)


def _ed25519(signer: NoteSigner, path: Path) -> Ed25519Signer:
    if not isinstance(signer, Ed25519Signer):
        raise RotationError(f"{path} is not an Ed25519 key")
    return signer


def _mldsa(signer: NoteSigner, path: Path) -> MLDSA44Signer:
    if not isinstance(signer, MLDSA44Signer):
        raise RotationError(f"{path} is not an ML-DSA-44 key")
    return signer


def _resign(data: DataDir) -> int:
    """Sign the published checkpoint again with the current key files; return its size."""
    writer = open_writer(data)
    try:
        return writer.resign_head().size
    finally:
        writer.store.close()


def _write_vkey(path: Path, vkey: str) -> None:
    atomic_write(path, (vkey + "\n").encode())


# -- post-quantum ------------------------------------------------------------------------


def add_mldsa(data: DataDir) -> str:
    """Give the log an ML-DSA-44 key (``log-mldsa.key``, 0600); return its vkey.

    Every checkpoint signed from now on carries its ``subtree/v1`` signature line
    too; the published one is signed again at once.
    """
    files = key_files(data)
    with WriterLock(data):
        if files.mldsa_key.exists():
            raise RotationError(f"{files.mldsa_key} already exists; refusing to replace a key")
        origin = load_key(files.key_path).name
        signer = write_new_mldsa_key(files.mldsa_key, origin)
        _write_vkey(files.mldsa_vkey, signer.verifier.vkey)
        _resign(data)
    return signer.verifier.vkey


# -- rotation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationStart:
    next_vkey: str
    next_mldsa_vkey: str | None
    size: int


def rotate_start(data: DataDir, *, mldsa: bool = False) -> RotationStart:
    """Write the next key (and with *mldsa* the next ML-DSA-44 key): both keys sign from now on."""
    files = key_files(data)
    with WriterLock(data):
        if files.next_key.exists() or files.mldsa_next_key.exists():
            raise RotationError(
                f"a rotation is already under way ({files.next_key} exists); finish it first"
            )
        if mldsa and not files.mldsa_key.exists():
            raise RotationError(
                "the log has no ML-DSA-44 key to rotate; add one with 'frontier-ledger key "
                "add-mldsa' (it is then announced in the key change entry)"
            )
        current = _ed25519(load_key(files.key_path), files.key_path)
        nxt = write_new_key(files.next_key, current.name)
        _write_vkey(files.next_vkey, nxt.verifier.vkey)
        pq = None
        if mldsa:
            pq = write_new_mldsa_key(files.mldsa_next_key, current.name).verifier.vkey
            _write_vkey(files.mldsa_next_vkey, pq)
        size = _resign(data)
    return RotationStart(nxt.verifier.vkey, pq, size)


def change_payload(data: DataDir, overlap_end: str, reason: str) -> dict[str, Any]:
    """The ``log_key_change`` payload for the rotation under way, checked against its schema.

    It names the next key, the current key's hash, and the ML-DSA-44 key the log
    will sign with after the rotation (the next one if it is rotated too).
    """
    files = key_files(data)
    if not files.next_key.exists():
        raise RotationError("no rotation is under way: run 'frontier-ledger key rotate-start'")
    current = _ed25519(load_key(files.key_path), files.key_path)
    nxt = _ed25519(load_key(files.next_key), files.next_key)
    pq: str | None = None
    for path in (files.mldsa_next_key, files.mldsa_key):
        if path.exists():
            pq = _mldsa(load_key(path), path).verifier.vkey
            break
    parse_time(overlap_end, "--overlap-end")
    body: dict[str, Any] = {
        "type": "log_key_change",
        "v": 1,
        "log": current.name,
        "new_vkey": nxt.verifier.vkey,
        "old_key_hash": current.key_id.hex(),
        "overlap_end": overlap_end,
        "reason": reason,
    }
    if pq is not None:
        body["new_mldsa_vkey"] = pq
    return payload_to_json(parse_payload(json.dumps(body).encode()))


@dataclass(frozen=True)
class RotationFinish:
    vkey: str
    mldsa_vkey: str | None
    archived: tuple[Path, ...]
    change_index: int | None
    size: int


def find_key_change(data: DataDir, new_vkey: str) -> tuple[int, LogKeyChange] | None:
    """The last logged ``log_key_change`` entry that names *new_vkey* (None if there is none).

    The store holds only entries the sequencer admitted (board quorum, valid keys).
    """
    writer = open_writer(data)
    found: tuple[int, LogKeyChange] | None = None
    try:
        for index, leaf in enumerate(writer.store.iter_leaves()):
            parsed = parse_leaf(leaf)
            if parsed.envelope.entry_type != "log_key_change":
                continue
            try:
                body = parse_payload(parsed.envelope.payload).body
            except FormatError:
                continue
            if isinstance(body, LogKeyChange) and body.new_vkey == new_vkey:
                found = (index, body)
    finally:
        writer.store.close()
    return found


def rotate_finish(data: DataDir, *, now_ms: int, force: bool = False) -> RotationFinish:
    """Make the next key the log key; archive the old one; sign with the new key alone.

    Refuses (unless *force*) when no ``log_key_change`` entry names the next key in a
    governed log, or when its overlap has not ended: verifiers rely on both.
    """
    files = key_files(data)
    with WriterLock(data):
        if not files.next_key.exists():
            if (
                files.next_vkey.exists()
                and files.next_vkey.read_text() == files.vkey_path.read_text()
            ):
                return _complete(data, files)  # a crash after the key was moved: finish the rest
            raise RotationError("no rotation is under way: run 'frontier-ledger key rotate-start'")
        current = _ed25519(load_key(files.key_path), files.key_path)
        nxt = _ed25519(load_key(files.next_key), files.next_key)
        pq_old = (
            _mldsa(load_key(files.mldsa_key), files.mldsa_key) if files.mldsa_key.exists() else None
        )
        pq_next = (
            _mldsa(load_key(files.mldsa_next_key), files.mldsa_next_key)
            if files.mldsa_next_key.exists()
            else None
        )
        change = find_key_change(data, nxt.verifier.vkey)
        if not force:
            _check_change(data, change, now_ms)
        archived = [
            _archive(files, "log", current.key_id.hex(), current.skey, current.verifier.vkey)
        ]
        if pq_next is not None and pq_old is not None:
            archived.append(
                _archive(files, "log-mldsa", pq_old.key_id.hex(), pq_old.skey, pq_old.verifier.vkey)
            )
        # Crash points, in order: the old keys are archived (above); the public keys are
        # written; the private keys are moved into place (each rename is atomic); the
        # next-key files are removed. Re-running rotate-finish after a crash finds the
        # next key still in place and does the same steps again.
        _write_vkey(files.vkey_path, nxt.verifier.vkey)
        if pq_next is not None:
            _write_vkey(files.mldsa_vkey, pq_next.verifier.vkey)
            os.replace(files.mldsa_next_key, files.mldsa_key)
        os.replace(files.next_key, files.key_path)
        fsync_dir(files.keys_dir)
        done = _complete(data, files)
    return RotationFinish(
        done.vkey, done.mldsa_vkey, tuple(archived), change[0] if change else None, done.size
    )


def _complete(data: DataDir, files: KeyFiles) -> RotationFinish:
    """The last steps of rotate-finish: drop the next-key files, sign with the new keys."""
    files.next_vkey.unlink(missing_ok=True)
    files.mldsa_next_vkey.unlink(missing_ok=True)
    size = _resign(data)
    vkey = _vkey_of(files.key_path)
    assert vkey is not None
    return RotationFinish(vkey, _vkey_of(files.mldsa_key), (), None, size)


def _check_change(data: DataDir, change: tuple[int, LogKeyChange] | None, now_ms: int) -> None:
    if change is None:
        writer = open_writer(data)
        try:
            synthetic = writer.store.profile == "synthetic"
        finally:
            writer.store.close()
        if synthetic:
            return  # a test log has no board to sign a key change
        raise RotationError(
            "no log_key_change entry names the next key: verifiers with a state directory "
            "would not follow the rotation. Draft it with 'frontier-ledger key change-entry', "
            "have the board's quorum sign it, submit it, then finish (or --force)"
        )
    index, body = change
    end = parse_time(body.overlap_end, "overlap_end")
    if now_ms < end:
        raise RotationError(
            f"the overlap announced by entry {index} lasts until {body.overlap_end}; "
            "finish after it (or --force)"
        )


def _archive(files: KeyFiles, stem: str, key_hash: str, skey: str, vkey: str) -> Path:
    """Keep a retired private key (mode 0600) and its vkey in ``retired-keys/``."""
    files.retired_dir.mkdir(mode=0o700, exist_ok=True)
    path = files.retired_dir / f"{stem}-{key_hash}.key"
    if path.exists():
        if path.read_text().strip() != skey:
            raise RotationError(f"{path} exists and holds another key")
    else:
        write_private(path, skey)
    _write_vkey(files.retired_dir / f"{stem}-{key_hash}.vkey", vkey)
    return path


# -- status ------------------------------------------------------------------------------


def _vkey_of(path: Path) -> str | None:
    if not path.exists():
        return None
    key = load_key(path)
    if isinstance(key, Ed25519Signer | MLDSA44Signer):
        return key.verifier.vkey
    raise RotationError(f"{path}: not a key this log signs with")  # pragma: no cover


def status(data: DataDir) -> dict[str, Any]:
    """The log's keys as the files say: current, next (a rotation), ML-DSA-44, retired."""
    files = key_files(data)
    return {
        "vkey": _vkey_of(files.key_path),
        "next_vkey": _vkey_of(files.next_key),
        "mldsa_vkey": _vkey_of(files.mldsa_key),
        "next_mldsa_vkey": _vkey_of(files.mldsa_next_key),
        "retired": (
            sorted(p.read_text().strip() for p in files.retired_dir.glob("*.vkey"))
            if files.retired_dir.is_dir()
            else []
        ),
    }
