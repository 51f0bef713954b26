"""verifier.files: the one durable-write helper the verifier, the witness and the ledger share."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from verifier import files


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "checkpoint"
    files.atomic_write(target, b"old")
    files.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(target.parent) == ["checkpoint"]


def test_atomic_write_mode_is_exact_and_default_follows_the_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        files.atomic_write(tmp_path / "state.json", b"{}", mode=0o644)
        files.atomic_write(tmp_path / "secret", b"k", mode=0o600)
        files.atomic_write(tmp_path / "plain", b"p")
    finally:
        os.umask(umask)
    assert mode_of(tmp_path / "state.json") == 0o644
    assert mode_of(tmp_path / "secret") == 0o600
    assert mode_of(tmp_path / "plain") == 0o644  # 0666 less the umask 022


def test_atomic_write_fsyncs_the_directory_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(files, "fsync_dir", synced.append)
    files.atomic_write(tmp_path / "x", b"1")
    files.atomic_write(tmp_path / "y", b"2", sync_dir=False)
    assert synced == [tmp_path]


def test_a_failed_write_keeps_the_old_bytes_and_removes_its_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "checkpoint"
    files.atomic_write(target, b"old")

    def full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        files.atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["checkpoint"]


def test_temp_names_are_hidden_and_unique(tmp_path: Path) -> None:
    names = {files.temp_name(tmp_path / "tile") for _ in range(100)}
    assert len(names) == 100
    assert all(n.parent == tmp_path and n.name.startswith(".tile.tmp-") for n in names)
    assert files.temp_name(tmp_path / "b", "partial").name.startswith(".b.partial-")


def test_write_new_private_is_0600_and_never_replaces(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "witness.key"
    files.write_new_private(key, b"PRIVATE+KEY+...\n")
    assert key.read_bytes() == b"PRIVATE+KEY+...\n"
    assert mode_of(key) == 0o600
    with pytest.raises(FileExistsError):
        files.write_new_private(key, b"another key\n")
    assert key.read_bytes() == b"PRIVATE+KEY+...\n"
