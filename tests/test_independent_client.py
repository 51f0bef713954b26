"""A log of 70,000 entries (so level-2 tiles exist), exported and served, checked by
clients that share no code with the ledger:

(a) tlog-scales 0.0.3, a third-party tlog-tiles library, over the static export
    directory and over HTTP: checkpoint signature, root from tiles, inclusion and
    consistency proofs it computes itself from the tiles;
(b) a small client written here with hashlib and cryptography only (it imports
    neither ``ledger`` nor ``verifier``): it verifies the checkpoint's Ed25519
    signature and key ID, fetches every tile of every level and every entry bundle
    (full and partial, as C2SP tlog-tiles lays them out), checks that bundles hash
    into level-0 tiles, that each level-l hash is the RFC 6962 root of the full
    tile below, and that the tiles give the checkpoint's root; and it checks the
    API's consistency and inclusion proofs with its own RFC 9162 §2.1.3.2 and
    §2.1.4.2 code.

Finally more entries are appended over HTTP and the export is re-run: only new
files are written (existing ones keep their inode, mtime and bytes), the partial
tiles of the earlier export remain, and the result verifies again.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from tlog_scales.backend import make_backend
from tlog_scales.reader import TilesReader
from tlog_scales.signing import Vkey
from tlog_scales.tiles import leaf_hash as scales_leaf_hash
from tlog_scales.tlog import Checkpoint as ScalesCheckpoint
from tlog_scales.tlog import ConsistencyProofInvalid, InclusionProofInvalid

from tests.serverproc import ServerProcess, init_test_log, make_envelopes, run_cli

ORIGIN = "independent.example/log"
COUNT = 70_000  # > 65,536: tile/2/000.p/1 exists
SYNTH_BATCH = 1024  # synth commits (and publishes a checkpoint) every 1,024 entries
APPENDED = 200  # entries appended over HTTP before the second export
OLD_SIZES = (1024, 3072, 65_536, 69_632)  # earlier synth batch sizes, published


# ---------------------------------------------------------------------------------
# The independent client: hashlib + cryptography only.
# ---------------------------------------------------------------------------------


class Rejected(AssertionError):
    """The independent client refuses what it was served."""


def b64d(text: str, length: int | None = None) -> bytes:
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise Rejected(f"non-canonical base64 {text!r}")
    if length is not None and len(raw) != length:
        raise Rejected(f"expected {length} bytes, got {len(raw)}")
    return raw


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_leaf(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf)


def hash_children(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 §2.1 Merkle tree hash over already-hashed leaves."""
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = largest_power_of_two_below(len(hashes))
    return hash_children(mth(hashes[:k]), mth(hashes[k:]))


@dataclass(frozen=True)
class NoteKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey


def parse_note_vkey(vkey: str) -> NoteKey:
    name, hex_id, key_b64 = vkey.strip().split("+", 2)
    raw = b64d(key_b64, 33)
    if raw[0] != 0x01:
        raise Rejected("not an Ed25519 note key")
    key_id = sha256(name.encode() + b"\x0a" + b"\x01" + raw[1:])[:4]
    if key_id.hex() != hex_id:
        raise Rejected(f"vkey key ID {hex_id} is not SHA-256(name||0x0A||0x01||key)[:4]")
    return NoteKey(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


@dataclass(frozen=True)
class Head:
    origin: str
    size: int
    root: bytes


def open_signed_checkpoint(note: bytes, key: NoteKey) -> Head:
    """C2SP signed-note + tlog-checkpoint, checked from scratch."""
    text_s = note.decode("utf-8")
    cut = text_s.rfind("\n\n")
    if cut < 0 or not text_s.endswith("\n"):
        raise Rejected("not a signed note")
    text, sig_lines = text_s[: cut + 1], text_s[cut + 2 : -1].split("\n")
    good = 0
    for line in sig_lines:
        m = re.fullmatch("\u2014 (\\S+) ([A-Za-z0-9+/=]+)", line)
        if not m:
            raise Rejected(f"bad signature line {line!r}")
        blob = b64d(m.group(2))
        if m.group(1) != key.name or blob[:4] != key.key_id:
            continue  # someone else's signature: ignored
        try:
            key.public.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise Rejected("checkpoint signature does not verify") from None
        good += 1
    if good != 1:
        raise Rejected(f"{good} signatures by the log key")
    origin, size_s, root_s, *rest = text[:-1].split("\n")
    if origin != key.name or rest:
        raise Rejected("unexpected origin or extension lines")
    if not re.fullmatch("0|[1-9][0-9]*", size_s):
        raise Rejected(f"non-canonical tree size {size_s!r}")
    return Head(origin, int(size_s), b64d(root_s, 32))


def tile_path(level: int | str, index: int, width: int = 256) -> str:
    """C2SP tlog-tiles path: 3-digit groups, all but the last prefixed x; .p/W if partial."""
    groups = []
    while True:
        groups.append(index % 1000)
        index //= 1000
        if not index:
            break
    groups.reverse()
    text = "/".join([*(f"x{g:03d}" for g in groups[:-1]), f"{groups[-1]:03d}"])
    return f"tile/{level}/{text}" + ("" if width == 256 else f".p/{width}")


def split_bundle(data: bytes) -> list[bytes]:
    leaves, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise Rejected("truncated bundle")
        n = int.from_bytes(data[pos : pos + 2], "big")
        if pos + 2 + n > len(data):
            raise Rejected("truncated bundle entry")
        leaves.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return leaves


@dataclass
class TileWalk:
    head: Head
    levels: list[list[bytes]]  # every hash at tree level 8·l, from the tiles
    leaves: list[bytes]
    tiles: int = 0
    bundles: int = 0


def walk_tiles(head: Head, fetch: Callable[[str], bytes]) -> TileWalk:
    """Fetch and check every tile and bundle of a tree of head.size; return what was read."""
    walk = TileWalk(head, [], [])
    level = 0
    while head.size >> (8 * level):
        count = head.size >> (8 * level)
        full, partial = divmod(count, 256)
        hashes: list[bytes] = []
        for n in range(full + (1 if partial else 0)):
            width = 256 if n < full else partial
            data = fetch(tile_path(level, n, width))
            walk.tiles += 1
            if len(data) != 32 * width:
                raise Rejected(f"tile {level}/{n} has {len(data)} bytes, expected {32 * width}")
            tile = [data[i : i + 32] for i in range(0, len(data), 32)]
            if level == 0:
                leaves = split_bundle(fetch(tile_path("entries", n, width)))
                walk.bundles += 1
                if len(leaves) != width or [hash_leaf(x) for x in leaves] != tile:
                    raise Rejected(f"bundle {n} does not hash into tile 0/{n}")
                walk.leaves.extend(leaves)
            else:
                below = walk.levels[level - 1]
                for j, h in enumerate(tile):
                    first = (n * 256 + j) * 256
                    if mth(below[first : first + 256]) != h:
                        raise Rejected(f"tile {level}/{n} hash {j} is not the root below it")
            hashes.extend(tile)
        if len(hashes) != count:
            raise Rejected(f"level {level}: {len(hashes)} hashes, expected {count}")
        walk.levels.append(hashes)
        level += 1

    def range_root(lo: int, hi: int) -> bytes:
        n = hi - lo
        for lvl in range(len(walk.levels)):
            if n == 256**lvl and lo % n == 0:
                return walk.levels[lvl][lo // n]
        k = largest_power_of_two_below(n)
        return hash_children(range_root(lo, lo + k), range_root(lo + k, hi))

    root_from_tiles = range_root(0, head.size) if head.size else sha256(b"")
    if root_from_tiles != head.root:
        raise Rejected("the tiles do not hash to the checkpoint's root")
    if head.size and mth(walk.levels[0]) != head.root:
        raise Rejected("the leaf hashes do not hash to the checkpoint's root")
    return walk


def verify_inclusion_rfc9162(
    leaf_hash: bytes, index: int, size: int, path: list[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise Rejected("index beyond tree")
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise Rejected("inclusion path too long")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Rejected("inclusion proof does not verify")


def verify_consistency_rfc9162(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2 (for 0 < first < second; equal sizes need equal roots)."""
    if first == second:
        if path or first_hash != second_hash:
            raise Rejected("equal sizes need equal roots and an empty proof")
        return
    if not 0 < first < second or not path:
        raise Rejected("bad consistency proof request")
    path = list(path)
    if first & (first - 1) == 0:  # 2. first is a power of two
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 3.
    while fn & 1:  # 4.
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:
            raise Rejected("consistency path too long")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != first_hash or sr != second_hash or sn != 0:  # 7.
        raise Rejected("consistency proof does not verify")


# ---------------------------------------------------------------------------------
# Fixture: synth → export → serve.
# ---------------------------------------------------------------------------------


@dataclass
class Built:
    data: Path
    out: Path
    vkey: str
    server: ServerProcess
    http: httpx.Client
    first_export: bytes  # the checkpoint file of the first export

    def fetch_http(self, path: str) -> bytes:
        r = self.http.get(self.server.url("/log/" + path))
        if r.status_code != 200:
            raise Rejected(f"GET /log/{path}: HTTP {r.status_code}")
        return r.content

    def fetch_file(self, path: str) -> bytes:
        return (self.out / path).read_bytes()

    def api_json(self, path: str, **params: int) -> dict:
        r = self.http.get(self.server.url(path), params=params)
        assert r.status_code == 200, (path, params, r.text)
        return r.json()


def snapshot(out: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """Every file under *out* (but the checkpoint): inode, mtime, size and SHA-256."""
    snap = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "checkpoint":
            st = p.stat()
            snap[str(p.relative_to(out))] = (
                st.st_ino,
                st.st_mtime_ns,
                st.st_size,
                sha256(p.read_bytes()),
            )
    return snap


def expected_files(size: int) -> set[str]:
    paths: set[str] = set()
    level = 0
    while size >> (8 * level):
        full, partial = divmod(size >> (8 * level), 256)
        for n in range(full + (1 if partial else 0)):
            width = 256 if n < full else partial
            paths.add(tile_path(level, n, width))
            if level == 0:
                paths.add(tile_path("entries", n, width))
        level += 1
    return paths


def expected_export(size: int) -> set[str]:
    """What ``export`` writes: the tiles, and each full entry bundle gzipped beside it
    (for a web server's gzip_static; verifiers never read those)."""
    paths = expected_files(size)
    return paths | {p + ".gz" for p in paths if p.startswith("tile/entries/") and ".p/" not in p}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("independent")
    data, vkey = init_test_log(root / "data", ORIGIN)
    run_cli("synth", "--data", str(data.root), "--count", str(COUNT), "--batch", str(SYNTH_BATCH))
    out = root / "export"
    run_cli("export", "--data", str(data.root), str(out))
    server = ServerProcess(data.root)
    server.start()
    try:
        with httpx.Client(timeout=60.0) as client:
            yield Built(data.root, out, vkey, server, client, (out / "checkpoint").read_bytes())
    finally:
        server.stop()


# ---------------------------------------------------------------------------------
# (a) tlog-scales
# ---------------------------------------------------------------------------------


def _check_with_tlog_scales(built: Built, location: str) -> int:
    vkey = Vkey.from_string(built.vkey)
    reader = TilesReader(make_backend(location))
    cp = reader.get_checkpoint()
    cp.verify(vkey)
    assert cp.origin == ORIGIN and cp.size >= COUNT
    root = reader.calculate_root_hash()
    assert root == cp.root_hash
    for index in sorted({0, 1, 255, 256, 65_535, 65_536, COUNT - 1, cp.size - 1, 12_345}):
        lh = scales_leaf_hash(reader.get_entry(index))
        reader.get_inclusion_proof(index, cp.size).check(lh, root)
        with pytest.raises(InclusionProofInvalid):  # the check is not vacuous
            reader.get_inclusion_proof(index, cp.size).check(sha256(lh), root)
    for old in OLD_SIZES:
        old_cp = ScalesCheckpoint.from_text(
            built.http.get(built.server.url(f"/api/v1/checkpoints/{old}")).text
        )
        old_cp.verify(vkey)
        assert old_cp.size == old
        reader.get_consistency_proof(old, cp.size).check(old_cp.root_hash, root)
        with pytest.raises(ConsistencyProofInvalid):
            reader.get_consistency_proof(old, cp.size).check(sha256(old_cp.root_hash), root)
    return cp.size


def test_tlog_scales_reads_the_export_directory(built: Built) -> None:
    assert built.out.is_absolute()
    _check_with_tlog_scales(built, str(built.out))


def test_tlog_scales_reads_the_http_server(built: Built) -> None:
    _check_with_tlog_scales(built, built.server.url("/log/"))


# ---------------------------------------------------------------------------------
# (b) the hashlib + cryptography client
# ---------------------------------------------------------------------------------


def _independent_check(built: Built, note: bytes, fetch: Callable[[str], bytes]) -> TileWalk:
    key = parse_note_vkey((built.data / "log.vkey").read_text())
    head = open_signed_checkpoint(note, key)
    assert head.size >= COUNT
    walk = walk_tiles(head, fetch)
    assert len(walk.leaves) == head.size
    assert len(walk.levels) == 3  # levels 0, 1 and 2
    paths = expected_files(head.size)
    bundles = {p for p in paths if p.startswith("tile/entries/")}
    assert (walk.tiles, walk.bundles) == (len(paths - bundles), len(bundles))
    # Tampering is caught: a flipped signature byte, a flipped root.
    broken = bytearray(note)
    broken[-10] ^= 0x01
    with pytest.raises((Rejected, ValueError)):
        open_signed_checkpoint(bytes(broken), key)
    with pytest.raises(Rejected):
        walk_tiles(Head(head.origin, head.size, sha256(head.root)), fetch)
    return walk


def test_independent_client_over_http(built: Built) -> None:
    note = built.fetch_http("checkpoint")
    walk = _independent_check(built, note, built.fetch_http)
    head = walk.head
    key = parse_note_vkey((built.data / "log.vkey").read_text())

    # Consistency: earlier published checkpoints vs the latest, proofs from the API.
    for old in OLD_SIZES:
        r = built.http.get(built.server.url(f"/api/v1/checkpoints/{old}"))
        assert r.status_code == 200
        old_head = open_signed_checkpoint(r.content, key)
        assert old_head.size == old
        assert old_head.root == mth(walk.levels[0][:old])
        body = built.api_json("/api/v1/proofs/consistency", old_size=old, new_size=head.size)
        proof = [b64d(h, 32) for h in body["proof"]]
        verify_consistency_rfc9162(old, head.size, old_head.root, head.root, proof)
        with pytest.raises(Rejected):
            verify_consistency_rfc9162(old, head.size, old_head.root, head.root, proof[:-1])
        with pytest.raises(Rejected):
            verify_consistency_rfc9162(old, head.size, head.root, head.root, proof)

    # Inclusion: the API's proofs, checked against the leaves read from bundles.
    for index in (0, 255, 256, 65_535, 65_536, head.size - 1):
        body = built.api_json("/api/v1/proofs/inclusion", index=index, tree_size=head.size)
        proof = [b64d(h, 32) for h in body["proof"]]
        lh = hash_leaf(walk.leaves[index])
        assert b64d(body["leaf_hash"], 32) == lh
        verify_inclusion_rfc9162(lh, index, head.size, proof, head.root)
        with pytest.raises(Rejected):
            verify_inclusion_rfc9162(lh, index ^ 1, head.size, proof, head.root)


def test_independent_client_reads_the_export_directory(built: Built) -> None:
    note = built.fetch_file("checkpoint")
    walk = _independent_check(built, note, built.fetch_file)
    # The walk is not vacuous: one flipped byte anywhere in a tile or bundle is caught.
    size = walk.head.size
    for victim in [
        tile_path("entries", 17),
        tile_path("entries", size // 256, size % 256),
        tile_path(0, 200),
        tile_path(1, 0),
        tile_path(1, 1, (size >> 8) % 256),
        tile_path(2, 0, 1),
    ]:

        def tampered(path: str, victim: str = victim) -> bytes:
            data = bytearray(built.fetch_file(path))
            if path == victim:
                data[len(data) // 2] ^= 0x01
            return bytes(data)

        with pytest.raises(Rejected):
            walk_tiles(walk.head, tampered)
    # The export and the server agree on what the log holds.
    http_walk_root = open_signed_checkpoint(
        built.http.get(built.server.url(f"/api/v1/checkpoints/{walk.head.size}")).content,
        parse_note_vkey((built.data / "log.vkey").read_text()),
    ).root
    assert http_walk_root == walk.head.root


# ---------------------------------------------------------------------------------
# Incremental export
# ---------------------------------------------------------------------------------


def _append_over_http(built: Built, count: int) -> None:
    envelopes = make_envelopes(ORIGIN, count)

    def post(chunk: list[dict]) -> None:
        with httpx.Client(timeout=60.0) as client:
            for env in chunk:
                r = client.post(built.server.url("/api/v1/entries"), json=env)
                assert r.status_code == 201, r.text

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(post, [envelopes[i::4] for i in range(4)]))


def test_incremental_export_writes_only_new_files(built: Built) -> None:
    key = parse_note_vkey((built.data / "log.vkey").read_text())
    first = open_signed_checkpoint(built.first_export, key)
    before = snapshot(built.out)
    assert set(before) == expected_export(first.size)

    _append_over_http(built, APPENDED)
    served = built.fetch_http("checkpoint")
    second = open_signed_checkpoint(served, key)
    assert second.size == first.size + APPENDED

    stdout = run_cli("export", "--data", str(built.data), str(built.out))
    after = snapshot(built.out)
    new_files = set(after) - set(before)
    m = re.search(r"(\d+) files written .* (\d+) already present", stdout)
    assert m, stdout
    assert int(m.group(1)) == len(new_files) > 0
    # Exactly the tiles of the new size that did not exist yet; nothing else changed.
    assert new_files == expected_export(second.size) - set(before)
    for path, stat in before.items():
        assert after[path] == stat, f"{path} was rewritten or changed"
    # Old partial tiles are kept (readers holding the old checkpoint still need them).
    assert expected_export(first.size) <= set(after)
    assert not [p for p in os.listdir(built.out) if p.startswith(".")]
    assert not list(built.out.rglob(".*.tmp-*"))
    assert (built.out / "checkpoint").read_bytes() == served

    # The new export verifies, with both clients, at the new size…
    walk = walk_tiles(second, built.fetch_file)
    assert walk.leaves[: first.size] == walk_tiles(first, built.fetch_file).leaves
    reader = TilesReader(make_backend(str(built.out)))
    cp = reader.get_checkpoint()
    cp.verify(Vkey.from_string(built.vkey))
    assert (cp.size, reader.calculate_root_hash()) == (second.size, second.root)
    # …and still at the old size, from the old partial tiles.
    old_reader = TilesReader(make_backend(str(built.out)))
    old_reader.set_size(first.size)
    assert old_reader.calculate_root_hash() == first.root
    reader.get_consistency_proof(first.size, second.size).check(first.root, second.root)

    # A re-run with nothing new writes nothing.
    again = run_cli("export", "--data", str(built.data), str(built.out))
    assert " 0 files written" in again
    assert snapshot(built.out) == after
