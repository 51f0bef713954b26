"""The hot read paths before the framework (ledger/api/rawtiles.py, ledger/api/fastpath.py)
answer as the routers do, and leave everything else to h11 and FastAPI.

A real ``serve`` on a synthetic log of 300 entries (one full tile and bundle, partial
ones of width 44), spoken to over raw sockets so that what is on the wire — the
status line, every header, keep-alive, pipelining — is what is compared.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.api.rawtiles import plain_tile_get
from tests.serverproc import ServerProcess, init_test_log, run_cli

ORIGIN = "fastpaths.frontier-ledger.invalid/log"
HOST = "Host: 127.0.0.1\r\n"


class Answer:
    def __init__(self, status: str, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def comparable(self) -> tuple[str, dict[str, str], bytes]:
        """All but the date (it changes every second)."""
        return self.status, {k: v for k, v in self.headers.items() if k != "date"}, self.body


class Conn:
    """One keep-alive HTTP/1.1 connection; reads answers by their Content-Length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def answer(self) -> Answer:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "the server closed the connection"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"repeated header {name}"
            headers[name.lower()] = value.strip()
        length = int(headers["content-length"])
        while len(self.buf) < length:
            assert self._fill(), "the server closed the connection mid-body"
        body, self.buf = self.buf[:length], self.buf[length:]
        return Answer(status, headers, body)

    def closed_by_server(self) -> bool:
        return self.buf == b"" and not self._fill()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data, _ = init_test_log(tmp_path_factory.mktemp("fastpaths") / "data", ORIGIN)
    run_cli("synth", "--data", str(data.root), "--count", "300", "--batch", "50")
    proc = ServerProcess(data.root, extra=["--log-format", "json", "--log-level", "info"])
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def get(port: int, path: str, *headers: str) -> Answer:
    conn = Conn(port)
    try:
        conn.send(f"GET {path} HTTP/1.1\r\n{HOST}{''.join(headers)}\r\n".encode())
        return conn.answer()
    finally:
        conn.close()


def from_memory(server: ServerProcess) -> int:
    """How many tiles the server answered before h11 (its /metrics counter)."""
    text = get(server.port, "/metrics").body.decode()
    (line,) = [x for x in text.splitlines() if x.startswith("frontier_tiles_from_memory_total ")]
    return int(line.split()[1])


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/log/tile/0/000", ()),
        ("/log/tile/entries/000", ()),
        ("/log/tile/entries/000", ("Accept-Encoding: gzip\r\n",)),
        ("/log/tile/entries/000", ("Accept-Encoding: br;q=1, gzip;q=0.5\r\n",)),
        ("/log/tile/entries/000", ("Accept-Encoding: gzip;q=0\r\n",)),
    ],
)
def test_a_full_tile_from_memory_is_the_routers_answer(
    server: ServerProcess, path: str, headers: tuple[str, ...]
) -> None:
    # The first request of a tile goes through the app (it loads the tile into
    # memory); the next ones are answered before h11. Both must be the same bytes.
    first = get(server.port, path, *headers)
    before = from_memory(server)
    again = [get(server.port, path, *headers) for _ in range(3)]
    assert from_memory(server) == before + 3
    assert first.status == "HTTP/1.1 200 OK"
    assert all(a.comparable() == first.comparable() for a in again)
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "date" in again[0].headers and again[0].headers["server"] == "uvicorn"
    if first.headers.get("content-encoding") == "gzip":
        assert len(gzip.decompress(first.body)) > 0
    # The partial tile beside it (width 44) is never from memory; the full one's
    # body is the first 256 hashes of what a partial read of the store would give.
    if path == "/log/tile/0/000":
        assert len(first.body) == 256 * 32
        partial = get(server.port, "/log/tile/0/001.p/44")
        assert partial.status == "HTTP/1.1 200 OK" and len(partial.body) == 44 * 32


def test_keep_alive_and_pipelined_requests_are_answered_in_order(server: ServerProcess) -> None:
    get(server.port, "/log/tile/0/000")  # in memory from here on
    conn = Conn(server.port)
    try:
        tile = f"GET /log/tile/0/000 HTTP/1.1\r\n{HOST}\r\n".encode()
        before = from_memory(server)
        for _ in range(3):  # one request at a time on one connection: the fast path
            conn.send(tile)
            assert conn.answer().status == "HTTP/1.1 200 OK"
        assert from_memory(server) == before + 3
        # Three requests in one write (a tile, an API read, a tile): h11 takes them
        # all, in order, and the connection stays usable.
        api = f"GET /api/v1/entries/5 HTTP/1.1\r\n{HOST}\r\n".encode()
        conn.send(tile + api + tile)
        answers = [conn.answer() for _ in range(3)]
        assert [len(a.body) for a in answers[::2]] == [8192, 8192]
        assert json.loads(answers[1].body)["index"] == 5
        assert from_memory(server) == before + 3
        conn.send(tile)  # after h11's cycle, the fast path again
        assert conn.answer().status == "HTTP/1.1 200 OK"
        assert from_memory(server) == before + 4
    finally:
        conn.close()


def test_connection_close_and_http_1_0_are_left_to_h11(server: ServerProcess) -> None:
    get(server.port, "/log/tile/0/000")
    for request in (
        f"GET /log/tile/0/000 HTTP/1.1\r\n{HOST}Connection: close\r\n\r\n",
        "GET /log/tile/0/000 HTTP/1.0\r\n\r\n",
    ):
        before = from_memory(server)
        conn = Conn(server.port)
        try:
            conn.send(request.encode())
            answer = conn.answer()
            assert answer.status.endswith("200 OK") and len(answer.body) == 8192
            assert conn.closed_by_server()
            assert from_memory(server) == before
        finally:
            conn.close()


def test_malformed_requests_still_get_h11s_problem_document(server: ServerProcess) -> None:
    get(server.port, "/log/tile/0/000")
    for request in (
        "GET /log/tile/0/000 HTTP/1.1\r\n\r\n",  # no Host: HTTP/1.1 requires one
        f"GET /log/tile/0/000 HTTP/1.1\r\n{HOST}Bad Header: x\r\n\r\n",
    ):
        conn = Conn(server.port)
        try:
            conn.send(request.encode())
            answer = conn.answer()
            assert answer.status.startswith("HTTP/1.1 400")
            assert answer.headers["content-type"] == "application/problem+json"
        finally:
            conn.close()


def test_tiles_not_in_memory_and_bad_paths_go_to_the_router(server: ServerProcess) -> None:
    missing = get(server.port, "/log/tile/0/005")
    assert missing.status.startswith("HTTP/1.1 404")
    assert json.loads(missing.body)["type"].endswith("tile-not-found")
    bad = get(server.port, "/log/tile/0/0000")
    assert bad.status.startswith("HTTP/1.1 400")
    assert missing.headers["content-type"] == bad.headers["content-type"]
    assert bad.headers["content-type"] == "application/problem+json"


def test_answers_from_memory_are_in_the_access_log(server: ServerProcess) -> None:
    port = server.port
    for _ in range(3):
        get(port, "/log/tile/entries/000", "Accept-Encoding: gzip\r\n")
    records = [
        json.loads(line)
        for line in Path(server.log_path).read_text().splitlines()
        if line.startswith("{")
    ]
    access = [
        r
        for r in records
        if r["logger"] == "uvicorn.access" and r.get("path") == "/log/tile/entries/000"
    ]
    assert len(access) >= 3
    assert {(r["method"], r["status"]) for r in access} == {("GET", 200)}
    assert all(r["client"].startswith("127.0.0.1:") for r in access)


def test_healthz_and_the_checkpoint_answer_as_before(server: ServerProcess) -> None:
    health = get(server.port, "/healthz")
    assert health.status == "HTTP/1.1 200 OK"
    assert json.loads(health.body) == {"ok": True, "detail": "tree size 300"}
    checkpoint = get(server.port, "/log/checkpoint")
    assert checkpoint.status == "HTTP/1.1 200 OK"
    assert checkpoint.body.split(b"\n")[1] == b"300"


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\n\r\n", ("tile/0/000", "")),
        (
            b"GET /log/tile/entries/x001/002 HTTP/1.1\r\n"
            b"host: a\r\naccept-encoding:  gzip \r\n\r\n",
            ("tile/entries/x001/002", "gzip"),
        ),
        (
            b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nUser-Agent: a b\tc\r\n\r\n",
            ("tile/0/000", ""),
        ),
    ],
)
def test_plain_tile_get_reads_a_plain_request(
    request_bytes: bytes, expected: tuple[str, str]
) -> None:
    assert plain_tile_get(request_bytes) == expected


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /log/tile/0/000 HTTP/1.1\r\n\r\n",  # no Host
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.0\r\nHost: a\r\n\r\n",
        b"HEAD /log/tile/0/000 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /log/tile/0/000?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /log/tile/0/%30 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\n",  # incomplete
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n",  # pipelined
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n"
        b"Accept-Encoding: br\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nBad Name: a\r\nHost: a\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
        b"GET /log/tile/0/000 HTTP/1.1\nHost: a\n\n",
    ],
)
def test_plain_tile_get_leaves_anything_else_to_h11(request_bytes: bytes) -> None:
    assert plain_tile_get(request_bytes) is None
