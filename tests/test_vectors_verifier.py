"""The verifier against the shared known-answer vectors (Go reference implementation)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.conftest import load_vectors
from verifier.core import merkle, tiles
from verifier.core.checkpoint import open_checkpoint
from verifier.core.note import parse_skey, parse_vkey, sign_note
from verifier.errors import FormatError, LedgerVerifyError, ProofError

HASHES = load_vectors("hashes.json")
INCLUSION = load_vectors("inclusion.json")
CONSISTENCY = load_vectors("consistency.json")
CHECKPOINTS = load_vectors("checkpoints.json")
TILES = load_vectors("tiles.json")


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def test_empty_root() -> None:
    assert b64(HASHES["empty_tree_root_b64"]) == merkle.EMPTY_ROOT
    assert merkle.tree_root([]) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("leaf", HASHES["leaves"], ids=lambda v: str(v["index"]))
def test_leaf_hashes(leaf: dict) -> None:
    assert merkle.leaf_hash(leaf["leaf_ascii"].encode()).hex() == leaf["leaf_hash_hex"]


@pytest.mark.parametrize("root", HASHES["roots"], ids=lambda v: str(v["size"]))
def test_roots(root: dict) -> None:
    hashes = [merkle.leaf_hash(f"leaf-{i}".encode()) for i in range(root["size"])]
    assert merkle.tree_root(hashes).hex() == root["root_hex"]


def test_rfc6962_reference_roots() -> None:
    leaves = [bytes.fromhex(h) for h in HASHES["rfc6962_reference_leaves_hex"]]
    for size, expected in enumerate(HASHES["rfc6962_reference_roots_hex_size_0_to_8"]):
        assert merkle.tree_root([merkle.leaf_hash(x) for x in leaves[:size]]).hex() == expected


@pytest.mark.parametrize(
    "v", INCLUSION["vectors"], ids=lambda v: f"{v['index']}-{v['tree_size']}-{v['expect_valid']}"
)
def test_inclusion(v: dict) -> None:
    if "leaf_b64" in v:
        assert merkle.leaf_hash(b64(v["leaf_b64"])) == b64(v["leaf_hash_b64"])
    args = (
        b64(v["leaf_hash_b64"]),
        v["index"],
        v["tree_size"],
        [b64(p) for p in v["proof_b64"]],
        b64(v["root_b64"]),
    )
    if v["expect_valid"]:
        merkle.verify_inclusion(*args)
    else:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize(
    "v",
    CONSISTENCY["vectors"],
    ids=lambda v: f"{v['old_size']}-{v['new_size']}-{v['expect_valid']}",
)
def test_consistency(v: dict) -> None:
    args = (
        v["old_size"],
        v["new_size"],
        b64(v["old_root_b64"]),
        b64(v["new_root_b64"]),
        [b64(p) for p in v["proof_b64"]],
    )
    if v["expect_valid"]:
        merkle.verify_consistency(*args)
    else:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)


def test_key_vectors() -> None:
    key = CHECKPOINTS["key"]
    verifier = parse_vkey(key["vkey"])
    assert verifier.name == key["name"] == CHECKPOINTS["origin"]
    assert verifier.key_id.hex() == key["key_id_hex"]
    assert verifier.public_key == b64(key["public_key_b64"])
    signer = parse_skey(key["skey"])
    assert signer.skey == key["skey"]
    assert signer.verifier.vkey == key["vkey"]
    assert signer.private_key.private_bytes_raw().hex() == key["ed25519_seed_hex"]


@pytest.mark.parametrize("cp", CHECKPOINTS["checkpoints"], ids=lambda v: str(v["size"]))
def test_signed_checkpoints(cp: dict, vectors_dir: Path) -> None:
    verifier = parse_vkey(CHECKPOINTS["key"]["vkey"])
    signed = cp["signed"].encode()
    assert (vectors_dir / cp["file"]).read_bytes() == signed
    opened = open_checkpoint(signed, verifier)
    assert opened.size == cp["size"]
    assert opened.root == b64(cp["root_b64"])
    assert opened.checkpoint.to_text() == cp["note_text"]
    # Ed25519 is deterministic: signing the text with the test key reproduces the note.
    signer = parse_skey(CHECKPOINTS["key"]["skey"])
    assert sign_note(cp["note_text"], [signer]) == signed
    # The root is the root of the leaves "leaf-0" .. "leaf-<size-1>".
    hashes = [merkle.leaf_hash(f"leaf-{i}".encode()) for i in range(cp["size"])]
    assert merkle.tree_root(hashes) == opened.root


@pytest.mark.parametrize("variant", CHECKPOINTS["variants"], ids=lambda v: v["comment"])
def test_checkpoint_variants(variant: dict) -> None:
    verifier = parse_vkey(CHECKPOINTS["key"]["vkey"])
    data = variant["signed"].encode()
    if variant["expect_valid"]:
        opened = open_checkpoint(data, verifier)
        assert opened.size == 300
    else:
        with pytest.raises(LedgerVerifyError):
            open_checkpoint(data, verifier)


@pytest.mark.parametrize("p", TILES["paths"], ids=lambda v: v["path"])
def test_tile_paths(p: dict) -> None:
    assert tiles.tile_path(p["level"], p["index"], p["width"]) == p["path"]
    parsed = tiles.parse_tile_path(p["path"])
    assert (parsed.level, parsed.index, parsed.width) == (p["level"], p["index"], p["width"])


@pytest.mark.parametrize("ts", TILES["tile_sets"], ids=lambda v: str(v["size"]))
def test_tile_sets(ts: dict) -> None:
    assert [t.path for t in tiles.all_tiles_for_size(ts["size"])] == ts["tiles"]
    assert [t.path for t in tiles.tiles_for_size(ts["size"], tiles.ENTRIES)] == ts["entry_bundles"]


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/01",  # non-canonical number
        "tile/0/0001",
        "tile/0/x000/001",  # leading zero group
        "tile/0/1000",
        "tile/0/001/002",  # missing x prefix
        "tile/00/000",
        "tile/64/000",  # level out of range
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/01",
        "tile/0/000.p/",
        "tile/0/../000",
        "tile/0/000/",
        "tile//000",
        "tile/-1/000",
        "tile/entries/x001",
        "tile/0/+01",
        "tile/0/٠٠١",
        "tile/0/000.p/1/x",
        "tiles/0/000",
        "tile/0",
        "tile/entries/000.p/1.p/2",
        "tile/0/" + "x999/" * 20 + "999",
    ],
)
def test_bad_tile_paths(path: str) -> None:
    with pytest.raises(FormatError):
        tiles.parse_tile_path(path)


def test_vector_log_directory(vectors_dir: Path) -> None:
    """Every tile and bundle in log/ hashes consistently with its checkpoint."""
    log = vectors_dir / "log"
    verifier = parse_vkey(CHECKPOINTS["key"]["vkey"])
    cp = open_checkpoint((log / "checkpoint").read_bytes(), verifier)
    level0: list[bytes] = []
    for t in tiles.tiles_for_size(cp.size, 0):
        data = (log / t.path).read_bytes()
        leaves = tiles.parse_entry_bundle(
            (log / tiles.tile_path(tiles.ENTRIES, t.index, t.width)).read_bytes(), t.width
        )
        hashes = tiles.split_hashes(data)
        assert hashes == [merkle.leaf_hash(x) for x in leaves]
        level0.extend(hashes)
    assert merkle.tree_root(level0) == cp.root
    level1 = tiles.split_hashes((log / "tile/1/000.p/1").read_bytes())
    assert level1 == [merkle.perfect_root(level0[:256])]
