"""The HTTP API of a real server process: headers, errors, appends and proofs.

One server (module-scoped) serves a log of 300 synthetic entries written in three
commits (checkpoints at sizes 100, 200 and 300); the module runs twice, with the
log in SQLite and in a real PostgreSQL database (``--database``). Checked:

- /log/checkpoint, hash tiles and entry bundles: content types, Cache-Control,
  gzip Content-Encoding for bundles only when asked for (bytes equal once inflated);
- bad input is refused with one error shape (RFC 9457 problem+json: type, title,
  status, detail) and changes nothing: oversized leaves (400, naming the limit),
  bodies over the request cap (413), malformed envelopes, wrong content types (415),
  bad, non-canonical, unknown or traversing tile paths (400 / 404);
- an append answers 201 with a receipt that verifies offline; a duplicate 200 with
  the same index;
- inclusion and consistency proofs for published sizes verify; other sizes are 404.
- regressions: huge path numbers answer 400/404 (never 500), a 405 names the
  allowed methods, and gzip refused with q=0 is not sent.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.demo.synth import SYNTHETIC_TYPE, sign_envelope
from tests.serverproc import ServerProcess, init_test_log, make_envelopes, run_cli
from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.leaf import MAX_LEAF_SIZE, format_logged_at, parse_leaf
from verifier.core.merkle import (
    leaf_hash,
    perfect_root,
    tree_root,
    verify_consistency,
    verify_inclusion,
)
from verifier.core.note import Ed25519Verifier, parse_vkey
from verifier.core.tiles import parse_entry_bundle
from verifier.core.tlog_proof import parse_tlog_proof, verify_tlog_proof

ORIGIN = "http-api.example/log"
SIZES = (100, 200, 300)  # published checkpoints written by the fixture
PROBLEM_KEYS = {"type", "title", "status", "detail"}
MAX_REQUEST_BYTES = 96 * 1024  # the server's documented request cap
JSON_CT = {"content-type": "application/json"}


@dataclass
class Log:
    server: ServerProcess
    http: httpx.Client
    vkey: Ed25519Verifier

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.server.url(path), **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(self.server.url(path), **kw)

    def checkpoint(self) -> tuple[bytes, SignedCheckpoint]:
        r = self.get("/log/checkpoint")
        assert r.status_code == 200
        return r.content, open_checkpoint(r.content, self.vkey)

    def raw_get(self, raw_path: str) -> tuple[int, dict[str, str], bytes]:
        """GET with the path sent byte for byte (httpx would normalise dot segments)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("GET", raw_path)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, module_database: str | None) -> Iterator[Log]:
    root: Path = tmp_path_factory.mktemp("http-api")
    data, vkey = init_test_log(root / "data", ORIGIN, database=module_database)
    db_args = ["--database", module_database] if module_database else []
    # Three commits of 100: checkpoints are published at 100, 200 and 300 only.
    run_cli("synth", "--data", str(data.root), *db_args, "--count", "300", "--batch", "100")
    server = ServerProcess(data.root, database=module_database)
    server.start()
    try:
        with httpx.Client(timeout=30.0) as client:
            yield Log(server, client, parse_vkey(vkey))
    finally:
        server.stop()


def assert_problem(r: httpx.Response | tuple[int, dict[str, str], bytes], status: int) -> str:
    """The one error shape: application/problem+json with type, title, status, detail."""
    if isinstance(r, httpx.Response):
        code, ctype, body = r.status_code, r.headers.get("content-type", ""), r.content
    else:
        code, headers, body = r
        ctype = headers.get("content-type", "")
    assert code == status, (code, body[:300])
    assert ctype.split(";")[0] == "application/problem+json", ctype
    obj = json.loads(body)
    assert isinstance(obj, dict)
    assert PROBLEM_KEYS <= set(obj) <= PROBLEM_KEYS | {"instance"}, sorted(obj)
    assert obj["status"] == status
    assert isinstance(obj["type"], str) and obj["type"].startswith("urn:frontier-ledger:problem:")
    assert isinstance(obj["title"], str) and obj["title"]
    assert isinstance(obj["detail"], str) and obj["detail"]
    return obj["detail"]


@contextmanager
def unchanged(log: Log) -> Iterator[None]:
    """The block must leave the published checkpoint (size and root) exactly as it was."""
    before, cp = log.checkpoint()
    yield
    after, cp2 = log.checkpoint()
    assert (cp2.size, cp2.root) == (cp.size, cp.root)
    assert after == before


def leaf_length(envelope: dict[str, Any]) -> int:
    """Bytes of the leaf the sequencer would write for *envelope*."""
    leaf = {"envelope": envelope, "logged_at": format_logged_at(0), "v": 1}
    return len(json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def envelope_with_leaf_size(target: int) -> dict[str, Any]:
    """A really signed envelope whose leaf is exactly *target* bytes long.

    The payload sets the size in steps of 4 (base64), the payload type's name
    (1..64 characters) sets the last few bytes.
    """
    key = Ed25519PrivateKey.generate()

    def make(n_bytes: int, name_len: int) -> dict[str, Any]:
        ptype = f"application/vnd.frontier-ledger.{'s' * name_len}.v1+json"
        return sign_envelope(key, ptype, b"x" * n_bytes)

    n = (target * 3) // 4
    while leaf_length(make(n, 1)) > target - 8:
        n -= 3
    env = make(n, 1)
    name_len = 1 + target - leaf_length(env)
    assert 1 <= name_len <= 64
    env = make(n, name_len)
    assert leaf_length(env) == target
    return env


# -- the tlog-tiles read paths -----------------------------------------------------


def test_checkpoint_content_type_and_short_cache(log: Log) -> None:
    r = log.get("/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    cache = r.headers["cache-control"]
    assert "immutable" not in cache
    max_age = int(cache.split("max-age=")[1].split(",")[0])
    assert max_age <= 10, cache  # tlog-tiles: no caching beyond a few seconds
    assert open_checkpoint(r.content, log.vkey).size >= SIZES[-1]


def test_hash_tiles_are_immutable_octet_streams(log: Log) -> None:
    for path, length in [
        ("tile/0/000", 8192),
        ("tile/0/001.p/44", 44 * 32),
        ("tile/1/000.p/1", 32),
    ]:
        r = log.get("/log/" + path, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"] == "application/octet-stream"
        cache = r.headers["cache-control"]
        assert "immutable" in cache and int(cache.split("max-age=")[1].split(",")[0]) >= 86400
        assert "content-encoding" not in r.headers  # hash tiles are not compressed
        assert len(r.content) == length
    # The level-1 hash is the root of the full level-0 tile below it.
    assert log.get("/log/tile/1/000.p/1").content == perfect_root(
        [log.get("/log/tile/0/000").content[i : i + 32] for i in range(0, 8192, 32)]
    )


def _raw_bytes(log: Log, path: str, accept_encoding: str) -> tuple[httpx.Headers, bytes]:
    """Body bytes exactly as sent on the wire (not inflated by the client)."""
    with log.http.stream(
        "GET", log.server.url(path), headers={"accept-encoding": accept_encoding}
    ) as r:
        assert r.status_code == 200, path
        return r.headers, b"".join(r.iter_raw())


@pytest.mark.parametrize(("bundle", "width"), [("000", 256), ("001.p/44", 44)])
def test_entry_bundles_gzip_only_when_accepted(log: Log, bundle: str, width: int) -> None:
    path = f"/log/tile/entries/{bundle}"
    plain_headers, plain = _raw_bytes(log, path, "identity")
    assert "content-encoding" not in plain_headers
    gz_headers, gz = _raw_bytes(log, path, "gzip")
    assert gz_headers["content-encoding"] == "gzip"
    for headers in (plain_headers, gz_headers):
        assert headers["content-type"] == "application/octet-stream"
        assert "immutable" in headers["cache-control"]
        assert "accept-encoding" in headers["vary"].lower()
    assert gz[:2] == b"\x1f\x8b"
    assert gzip.decompress(gz) == plain
    # The bundle's leaves hash into the level-0 tile of the same index and width.
    leaves = parse_entry_bundle(plain, width)
    tile = log.get(path.replace("/entries/", "/0/")).content
    assert b"".join(leaf_hash(x) for x in leaves) == tile


# -- bad tile paths ----------------------------------------------------------------

BAD_TILE_PATHS = [
    # truncated or malformed
    ("tile/0", 400),
    ("tile/0/", 400),
    ("tile/entries", 400),
    ("tile/entries/", 400),
    ("tile/0/000.p/0", 400),
    ("tile/0/000.p/256", 400),
    ("tile/0/000.p/", 400),
    ("tile/0/000.p", 400),
    ("tile/-1/000", 400),
    ("tile/64/000", 400),
    ("tile/x/000", 400),
    # non-canonical numbers
    ("tile/0/01", 400),
    ("tile/0/0000", 400),
    ("tile/00/000", 400),
    ("tile/0/x000/001", 400),
    ("tile/entries/x000/000", 400),
    ("tile/0/001.p/044", 400),
    ("tile/+0/000", 400),
    # well formed but not in a log of this size
    ("tile/9/000", 404),
    ("tile/2/000.p/1", 404),
    ("tile/0/002", 404),
    ("tile/0/x001/000", 404),
    ("tile/0/001", 404),  # the full tile is not complete yet
    ("tile/entries/001", 404),
    ("tile/1/000", 404),
]


@pytest.mark.parametrize(("path", "status"), BAD_TILE_PATHS)
def test_bad_or_absent_tile_paths(log: Log, path: str, status: int) -> None:
    with unchanged(log):
        assert_problem(log.get("/log/" + path), status)


def test_partial_tiles_wider_than_published_are_404(log: Log) -> None:
    _, cp = log.checkpoint()
    width0 = cp.size % 256
    width1 = (cp.size >> 8) % 256
    assert width0 and width1
    for path in [
        f"tile/0/{cp.size // 256:03d}.p/{width0 + 1}",
        f"tile/entries/{cp.size // 256:03d}.p/{width0 + 1}",
        f"tile/1/000.p/{width1 + 1}",
    ]:
        assert_problem(log.get("/log/" + path), 404)
    # …while exactly the published widths are served.
    assert log.get(f"/log/tile/0/{cp.size // 256:03d}.p/{width0}").status_code == 200
    assert log.get(f"/log/tile/1/000.p/{width1}").status_code == 200


TRAVERSALS = [
    "/log/tile/../../etc/passwd",
    "/log/tile/../ledger.sqlite",
    "/log/tile/0/..%2f..%2fetc",
    "/log/tile/0/..%2f..%2f..%2fledger.sqlite",
    "/log/tile/%2e%2e/%2e%2e/etc/passwd",
    "/log/tile/0/%2e%2e/%2e%2e/log.key",
    "/log/tile/entries/..%2F..%2Flog.key",
    "/log/%2e%2e/%2e%2e/etc/passwd",
    "/log/tile//etc/passwd",
    "/log/tile/0/000%00",
]


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_path_traversal_is_refused(log: Log, raw_path: str) -> None:
    status, headers, body = log.raw_get(raw_path)
    assert status in (400, 404), (raw_path, status, body[:200])
    assert_problem((status, headers, body), status)
    assert b"root:" not in body and b"SQLite format" not in body and b"PRIVATE" not in body


# -- bad appends: one error shape, nothing changes -----------------------------------


def _good_envelope() -> dict[str, Any]:
    return make_envelopes(ORIGIN, 1)[0]


def _with(**changes: Any) -> bytes:
    env = _good_envelope()
    env.update(changes)
    return json.dumps(env).encode()


def _sig_with(**changes: Any) -> bytes:
    env = _good_envelope()
    env["signatures"][0].update(changes)
    return json.dumps(env).encode()


def _without(key: str) -> bytes:
    env = _good_envelope()
    del env[key]
    return json.dumps(env).encode()


def _duplicate_key() -> bytes:
    env = _good_envelope()
    text = json.dumps(env)
    return text.replace('"payloadType":', f'"payload": "{env["payload"]}", "payloadType":').encode()


MALFORMED = [
    ("not JSON", b"{not json", "JSON"),
    ("empty body", b"", "JSON"),
    ("JSON array", b"[]", "object"),
    ("JSON string", b'"envelope"', "object"),
    ("invalid UTF-8", b'{"payload": "\xff"}', "UTF-8"),
    ("NaN", _with(payload=float("nan")), "NaN"),
    ("deep nesting", b"[" * 50_000, "JSON"),
    ("missing signatures", _without("signatures"), "signatures"),
    ("missing payload", _without("payload"), "payload"),
    ("extra field", _with(extra=1), "extra"),
    ("bad base64", _with(payload="@@@@"), "base64"),
    ("unpadded base64", _with(payload="QQ"), "base64"),
    ("payload not a string", _with(payload=123), "payload"),
    ("no signatures", _with(signatures=[]), "signatures"),
    ("bad keyid", _sig_with(keyid="ABC"), "keyid"),
    ("uppercase keyid", _sig_with(keyid="AB" * 32), "keyid"),
    ("short sig", _sig_with(sig=b64encode(b"x" * 63)), "signature 0"),
    ("duplicate JSON keys", _duplicate_key(), "duplicate"),
    ("wrong payloadType", _with(payloadType="text/plain"), "payloadType"),
    ("payloadType not ours", _with(payloadType="application/vnd.in-toto+json"), "payloadType"),
]


@pytest.mark.parametrize(
    ("body", "needle"), [(b, n) for _, b, n in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_envelopes_are_400(log: Log, body: bytes, needle: str) -> None:
    with unchanged(log):
        detail = assert_problem(log.post("/api/v1/entries", content=body, headers=JSON_CT), 400)
    assert needle.lower() in detail.lower(), detail


@pytest.mark.parametrize(
    "ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_wrong_content_type_is_415(log: Log, ctype: str | None) -> None:
    body = json.dumps(_good_envelope()).encode()
    headers = {"content-type": ctype} if ctype else {}
    with unchanged(log):
        r = log.http.post(log.server.url("/api/v1/entries"), content=body, headers=headers)
        if ctype is None:
            assert "content-type" not in r.request.headers
        assert_problem(r, 415)


def test_oversized_leaf_is_400_naming_the_limit(log: Log) -> None:
    env = envelope_with_leaf_size(MAX_LEAF_SIZE + 1)
    body = json.dumps(env).encode()
    assert len(body) < MAX_REQUEST_BYTES  # within the request cap: the leaf check speaks
    with unchanged(log):
        detail = assert_problem(log.post("/api/v1/entries", content=body, headers=JSON_CT), 400)
    assert "65535" in detail.replace(",", ""), detail
    assert "limit" in detail


def test_leaf_of_exactly_the_limit_is_accepted_and_served(log: Log) -> None:
    env = envelope_with_leaf_size(MAX_LEAF_SIZE)
    r = log.post("/api/v1/entries", content=json.dumps(env).encode(), headers=JSON_CT)
    assert r.status_code == 201, r.text
    leaf = b64decode_strict(r.json()["receipt"]["leaf"], what="leaf")
    assert len(leaf) == MAX_LEAF_SIZE
    verify_tlog_proof(leaf, parse_tlog_proof(r.json()["receipt"]["tlog_proof"]), log.vkey)
    index = r.json()["index"]
    entry = log.get(f"/api/v1/entries/{index}").json()
    assert b64decode_strict(entry["leaf"], what="leaf") == leaf


def test_body_over_the_request_cap_is_413(log: Log) -> None:
    env = _good_envelope()
    env["payload"] = b64encode(b"x" * (MAX_REQUEST_BYTES * 3 // 4 + 1000))
    body = json.dumps(env).encode()
    assert len(body) > MAX_REQUEST_BYTES
    with unchanged(log):
        # Declared with Content-Length…
        assert_problem(log.post("/api/v1/entries", content=body, headers=JSON_CT), 413)
        # …and streamed without one (chunked): the cap holds while reading.
        chunks = iter([body[i : i + 8192] for i in range(0, len(body), 8192)])
        r = log.post("/api/v1/entries", content=chunks, headers=JSON_CT)
        assert "content-length" not in r.request.headers
        assert_problem(r, 413)


# -- other errors share the shape ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/entries/99999999", 404),
        ("GET", "/api/v1/entries/abc", 400),
        ("GET", "/api/v1/entries/99999999/receipt", 404),
        ("GET", "/api/v1/checkpoints/150", 404),
        ("GET", "/api/v1/checkpoints/99999999", 404),
        ("GET", "/api/v1/proofs/inclusion?index=-1", 400),
        ("GET", "/api/v1/proofs/inclusion", 400),
        ("GET", "/api/v1/proofs/consistency?old_size=x", 400),
        ("GET", "/api/v1/nothing-here", 404),
        ("GET", "/nothing-here", 404),
        ("POST", "/log/checkpoint", 405),
        ("PUT", "/api/v1/entries", 405),
        ("DELETE", "/log/tile/0/000", 405),
    ],
)
def test_other_errors_share_the_problem_shape(
    log: Log, method: str, path: str, status: int
) -> None:
    with unchanged(log):
        assert_problem(log.http.request(method, log.server.url(path)), status)


@pytest.mark.parametrize(
    "path", ["/api/v1/entries/-1", "/api/v1/entries/-1/receipt", "/api/v1/checkpoints/-1"]
)
def test_negative_path_numbers_are_problems(log: Log, path: str) -> None:
    with unchanged(log):
        r = log.get(path)
        assert_problem(r, r.status_code if r.status_code in (400, 404) else 404)


# Regressions: each of these was once a defect (a 500 for a huge index, a 405
# without Allow, gzip sent against "gzip;q=0").


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/entries/{2**64}",
        f"/api/v1/entries/{2**64}/receipt",
        f"/api/v1/checkpoints/{2**64}",
    ],
)
def test_out_of_range_path_numbers_are_problems(log: Log, path: str) -> None:
    # 404 (no such entry) or 400 (a bounded path parameter refusing it): either way
    # a problem+json answer, never a 500.
    with unchanged(log):
        r = log.get(path)
        assert_problem(r, r.status_code if r.status_code in (400, 404) else 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/entries/+0.0",  # once entry 0 (found by fuzzing from the schema)
        "/api/v1/entries/05/receipt",
        "/api/v1/entries/-0",
        "/api/v1/checkpoints/1_00",
        "/api/v1/entries?limit=%205",
        "/api/v1/entries?after=5.0",
        "/api/v1/proofs/inclusion?index=0&tree_size=0100",
    ],
)
def test_numbers_are_read_in_one_spelling_only(log: Log, path: str) -> None:
    # One URL per entry, size or page: "+0.0", "05" or " 5" are not numbers here.
    detail = assert_problem(log.get(path), 400)
    assert "plain decimal digits" in detail


def test_405_names_the_allowed_methods(log: Log) -> None:
    r = log.post("/log/checkpoint")
    assert_problem(r, 405)
    assert "GET" in r.headers.get("allow", "")
    # Every method of the path, not only the first route's (once "Allow: POST" alone).
    r = log.http.request("PUT", log.server.url("/api/v1/entries"))
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    "params",
    [{"q": "\x00"}, {"q": "a\x00b"}, {"org": "\x00"}, {"type": "decision\x00"}, {"run": "\x00"}],
)
def test_nul_in_a_search_is_a_clean_answer(log: Log, params: dict[str, str]) -> None:
    # Once a 5xx: 500 from SQLite (its full-text query ended at the NUL), 503 from
    # PostgreSQL (its text cannot hold a NUL). Now nothing matches, as for any word
    # that is not in the log.
    r = log.get("/api/v1/entries", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["entries"] == []


def test_gzip_refused_with_q0_is_not_sent(log: Log) -> None:
    headers, body = _raw_bytes(log, "/log/tile/entries/000", "gzip;q=0, identity")
    assert "content-encoding" not in headers
    assert len(parse_entry_bundle(body, 256)) == 256


# -- appends and proofs --------------------------------------------------------------


@pytest.mark.parametrize(
    "ctype",
    [
        "application/json; charset=utf-8",
        "application/vnd.dsse.envelope.v1+json",
        # Media types and their parameters are case-insensitive (RFC 9110 §8.3.1):
        # these were once refused with 415.
        "APPLICATION/JSON",
        "Application/Json; Charset=UTF-8",
    ],
)
def test_append_receipt_verifies_and_duplicate_gets_same_index(log: Log, ctype: str) -> None:
    _, before = log.checkpoint()
    env = _good_envelope()
    body = json.dumps(env).encode()
    r = log.post("/api/v1/entries", content=body, headers={"content-type": ctype})
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/json")
    receipt = r.json()
    index = receipt["index"]
    assert index == before.size
    assert r.headers["location"] == f"/api/v1/entries/{index}"
    assert receipt["duplicate"] is False
    assert receipt["receipt"]["media_type"] == "application/vnd.frontier-ledger.receipt.v1+json"
    leaf = b64decode_strict(receipt["receipt"]["leaf"], what="leaf")
    proof = parse_tlog_proof(receipt["receipt"]["tlog_proof"])
    verified = verify_tlog_proof(leaf, proof, log.vkey)  # offline: leaf + text + vkey
    assert (proof.index, verified.checkpoint.size) == (index, receipt["tree_size"])
    assert b64decode_strict(receipt["leaf_hash"], what="leaf hash") == leaf_hash(leaf)
    assert parse_leaf(leaf).envelope.to_json_obj() == env
    assert parse_leaf(leaf).envelope.payload_type == SYNTHETIC_TYPE
    _, after = log.checkpoint()
    assert after.size == before.size + 1

    # The same envelope again (even spelled differently): 200, same index, log unchanged.
    with unchanged(log):
        again = log.post(
            "/api/v1/entries", content=json.dumps(env, indent=2).encode(), headers=JSON_CT
        )
    assert again.status_code == 200, again.text
    assert (again.json()["index"], again.json()["duplicate"]) == (index, True)
    assert again.json()["receipt"]["leaf"] == receipt["receipt"]["leaf"]

    # The stored receipt verifies too.
    stored = log.get(f"/api/v1/entries/{index}/receipt").json()
    verify_tlog_proof(
        b64decode_strict(stored["leaf"], what="leaf"),
        parse_tlog_proof(stored["tlog_proof"]),
        log.vkey,
    )


def _published(log: Log, size: int) -> SignedCheckpoint:
    r = log.get(f"/api/v1/checkpoints/{size}")
    assert r.status_code == 200, r.text
    assert "immutable" in r.headers["cache-control"]
    cp = open_checkpoint(r.content, log.vkey)
    assert cp.size == size
    return cp


def test_inclusion_proofs_for_published_sizes_verify(log: Log) -> None:
    leaves = parse_entry_bundle(log.get("/log/tile/entries/000").content, 256)
    leaves += parse_entry_bundle(log.get("/log/tile/entries/001.p/44").content, 44)
    for size in SIZES:
        cp = _published(log, size)
        assert tree_root([leaf_hash(x) for x in leaves[:size]]) == cp.root
        for index in sorted({0, 1, size // 2, size - 2, size - 1}):
            r = log.get("/api/v1/proofs/inclusion", params={"index": index, "tree_size": size})
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["index"], body["tree_size"]) == (index, size)
            assert open_checkpoint(body["checkpoint"].encode(), log.vkey).root == cp.root
            lh = b64decode_strict(body["leaf_hash"], what="leaf hash")
            assert lh == leaf_hash(leaves[index])
            proof = [b64decode_strict(h, what="proof") for h in body["proof"]]
            verify_inclusion(lh, index, size, proof, cp.root)
        # The index must be inside the tree.
        assert_problem(
            log.get("/api/v1/proofs/inclusion", params={"index": size, "tree_size": size}), 404
        )


def test_consistency_proofs_between_published_sizes_verify(log: Log) -> None:
    _, latest = log.checkpoint()
    sizes = [0, *SIZES, latest.size]
    roots = {s: _published(log, s).root for s in sizes}
    for i, old in enumerate(sizes):
        for new in sizes[i:]:
            r = log.get("/api/v1/proofs/consistency", params={"old_size": old, "new_size": new})
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["old_size"], body["new_size"]) == (old, new)
            assert open_checkpoint(body["old_checkpoint"].encode(), log.vkey).root == roots[old]
            assert open_checkpoint(body["new_checkpoint"].encode(), log.vkey).root == roots[new]
            proof = [b64decode_strict(h, what="proof") for h in body["proof"]]
            verify_consistency(old, new, roots[old], roots[new], proof)


@pytest.mark.parametrize(
    "params",
    [
        {"old_size": 150, "new_size": 300},
        {"old_size": 100, "new_size": 150},
        {"old_size": 100, "new_size": 10**9},
        {"old_size": 300, "new_size": 200},
    ],
)
def test_consistency_for_unpublished_sizes_is_404(log: Log, params: dict[str, int]) -> None:
    assert_problem(log.get("/api/v1/proofs/consistency", params=params), 404)


@pytest.mark.parametrize("size", [150, 299, 10**9])
def test_inclusion_for_unpublished_size_is_404(log: Log, size: int) -> None:
    assert_problem(log.get("/api/v1/proofs/inclusion", params={"index": 0, "tree_size": size}), 404)


# -- what is refused before a route: framing, stalled uploads -----------------------------

BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def framing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose appends must arrive within BODY_TIMEOUT_S (SQLite)."""
    data, _ = init_test_log(tmp_path_factory.mktemp("framing") / "data", ORIGIN)
    server = ServerProcess(data.root, extra=["--body-timeout", str(BODY_TIMEOUT_S)])
    server.start()
    try:
        yield server
    finally:
        server.stop()


def raw_exchange(
    server: ServerProcess, data: bytes, *, timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    """Send *data* as is on a fresh connection, read the answer until the server closes
    the connection (bounded by *timeout*), and parse it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, headers, body


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
        b"Content-Length: 3\r\n\r\n{}",
        b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}",
        b"GET /log/checkpoint HTTP/1.1\r\nHost x\r\n\r\n",
        b"NOT AN HTTP REQUEST\r\n\r\n",
    ],
    ids=[
        "bad-content-length",
        "two-content-lengths",
        "unknown-transfer-coding",
        "header-without-colon",
        "no-request-line",
    ],
)
def test_requests_the_http_server_cannot_parse_get_a_problem(
    framing: ServerProcess, request_bytes: bytes
) -> None:
    # uvicorn refuses these before the app sees them; once in plain text.
    status, headers, body = raw_exchange(framing, request_bytes)
    assert_problem((status, headers, body), 400)
    assert headers.get("connection") == "close"


def test_a_stalled_upload_gets_408_and_nothing_is_logged(framing: ServerProcess) -> None:
    log_before = framing.log_path.read_text(errors="replace")
    size_before = httpx.get(framing.url("/api/v1/entries"), timeout=30).json()
    body = json.dumps(make_envelopes(ORIGIN, 1)[0]).encode()
    head = (
        b"POST /api/v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    t0 = time.monotonic()
    # Headers and half the body, then nothing: the server answers and closes by itself.
    status, headers, answer = raw_exchange(framing, head + body[: len(body) // 2], timeout=30)
    waited = time.monotonic() - t0
    detail = assert_problem((status, headers, answer), 408)
    assert "did not arrive" in detail
    assert headers.get("connection") == "close"
    assert BODY_TIMEOUT_S * 0.9 <= waited < BODY_TIMEOUT_S + 20, waited
    # A client that leaves mid-body is no server error either.
    with socket.create_connection(("127.0.0.1", framing.port), timeout=30) as s:
        s.sendall(head + body[:10])
    # Nothing was appended, and nothing went wrong in the server's log.
    assert httpx.get(framing.url("/api/v1/entries"), timeout=30).json() == size_before
    r = httpx.get(framing.url("/log/checkpoint"), timeout=30)
    assert r.status_code == 200 and r.text.split("\n")[1] == "0"
    time.sleep(0.5)  # let the server notice the second client's departure
    new_lines = framing.log_path.read_text(errors="replace")[len(log_before) :]
    assert "Traceback" not in new_lines and "ERROR" not in new_lines, new_lines
    # An upload within the limit is appended as usual.
    r = httpx.post(framing.url("/api/v1/entries"), content=body, headers=JSON_CT, timeout=30)
    assert r.status_code == 201, r.text
