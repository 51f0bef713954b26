"""The witness server against hostile clients (loopback, in-process, bounded loops).

- Slow clients that trickle a request byte by byte are cut off once the request's
  deadline (from its first byte) passes, so they cannot hold every connection slot
  and starve genuine ``add-checkpoint`` requests.
- One address cannot take every slot: beyond its share it is answered ``503`` with
  ``Retry-After``, and so is any connection beyond the server's capacity.
- Two ``Content-Length`` headers are a 400 (RFC 9112 §6.3).
- A corrupt state file is named when the witness refuses to start.

No test asserts how long anything took: each waits, boundedly and generously, for
the behaviour it checks.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_witness import LOG_KEY, OTHER_LOG, WITNESS, Clock, MemLog, policy_text
from verifier.errors import WitnessStoreError
from verifier.witness.protocol import LogState, Witness, parse_witness_config
from verifier.witness.server import MAX_STATE_FILE_BYTES, FileStore, Limits, WitnessServer

#: The longest any test waits for what it expects (a busy machine is slow, not this slow).
PATIENCE_S = 60.0
SLOW_REQUEST = b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: 60000\r\n\r\n"


class Served:
    def __init__(self, state: Path, limits: Limits) -> None:
        self.store = FileStore(state)
        config = parse_witness_config(policy_text(LOG_KEY, OTHER_LOG))
        self.server = WitnessServer(
            Witness(WITNESS, config, self.store, Clock()), "127.0.0.1", 0, limits=limits
        ).start()
        self.host, self.port = self.server.address

    def post(self, body: bytes) -> tuple[int, bytes, dict[str, str]]:
        c = http.client.HTTPConnection(self.host, self.port, timeout=PATIENCE_S)
        try:
            c.request("POST", "/add-checkpoint", body=body)
            r = c.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            c.close()

    def connect(self, source: str = "127.0.0.1") -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout=PATIENCE_S, source_address=(source, 0)
        )

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


def served(tmp_path: Path, **limits: float) -> Iterator[Served]:
    s = Served(tmp_path / "state", Limits(**limits))  # type: ignore[arg-type]
    try:
        yield s
    finally:
        s.stop()


def read_reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket's timeout)."""
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except OSError:
        pass
    return out


class Trickler:
    """Slow clients: each sends a request's headers, then one body byte now and then,
    until the server closes it (or the test ends)."""

    def __init__(self, socks: list[socket.socket], every_s: float = 0.2) -> None:
        self.socks = socks
        self.closed: set[int] = set()
        self.every_s = every_s
        self._stop = threading.Event()
        for s in socks:
            s.sendall(SLOW_REQUEST)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.closed) < len(self.socks):
            for i, s in enumerate(self.socks):
                if i in self.closed:
                    continue
                try:
                    s.sendall(b"o")
                except OSError:
                    self.closed.add(i)
            self._stop.wait(self.every_s)

    def wait_all_closed(self) -> bool:
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline and len(self.closed) < len(self.socks):
            time.sleep(0.1)
        return len(self.closed) == len(self.socks)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=PATIENCE_S)
        for s in self.socks:
            s.close()


def can_bind(address: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


def test_slow_clients_are_cut_off_at_the_deadline_and_genuine_requests_get_through(
    tmp_path: Path,
) -> None:
    for w in served(tmp_path, max_connections=4, max_per_client=4, request_deadline_s=1.0):
        slow = Trickler([w.connect() for _ in range(4)])
        try:
            # Every slot is held by a slow client: a genuine client is told to come back
            # (503, Retry-After), and gets through once the slow ones are cut off.
            statuses: list[int] = []
            deadline = time.monotonic() + PATIENCE_S
            while time.monotonic() < deadline:
                status, body, headers = w.post(MemLog().grow(5).request(0))
                statuses.append(status)
                if status != 503:
                    break
                assert headers.get("Retry-After", "").isdigit(), headers
                time.sleep(0.1)
            assert statuses[-1] == 200, (statuses, body)
            assert slow.wait_all_closed(), f"still open: {4 - len(slow.closed)} slow clients"
        finally:
            slow.stop()


def test_one_address_cannot_take_every_slot(tmp_path: Path) -> None:
    if not can_bind("127.0.0.2"):
        pytest.skip("this machine's loopback has no 127.0.0.2")
    # A long deadline: the slow clients stay connected for the whole test.
    for w in served(tmp_path, max_connections=8, max_per_client=3, request_deadline_s=600):
        slow = Trickler([w.connect("127.0.0.2") for _ in range(3)])
        try:
            extra = w.connect("127.0.0.2")
            try:
                reply = read_reply(extra)
            finally:
                extra.close()
            assert reply.startswith(b"HTTP/1.1 503 "), reply
            assert b"\r\nRetry-After: " in reply and b"too many connections" in reply
            # Another address is served while they hold their slots.
            status, body, _ = w.post(MemLog().grow(5).request(0))
            assert status == 200, body
            assert not slow.closed
        finally:
            slow.stop()


def test_a_request_within_its_deadline_on_a_kept_alive_connection_is_served(
    tmp_path: Path,
) -> None:
    """The deadline is per request: a keep-alive connection idle between requests
    (shorter than the idle timeout) is not cut off by its first request's deadline."""
    for w in served(tmp_path, request_deadline_s=1.0, idle_timeout_s=PATIENCE_S):
        log = MemLog().grow(5)
        c = http.client.HTTPConnection(w.host, w.port, timeout=PATIENCE_S)
        try:
            c.request("POST", "/add-checkpoint", body=log.request(0))
            r = c.getresponse()
            assert (r.status, r.read()[:2]) == (200, b"\xe2\x80")
            time.sleep(1.5)  # longer than one request's deadline, between requests
            log.grow(3)
            c.request("POST", "/add-checkpoint", body=log.request(5))
            r = c.getresponse()
            assert r.status == 200, r.read()
        finally:
            c.close()


def test_two_content_lengths_are_400(tmp_path: Path) -> None:
    for w in served(tmp_path):
        for lengths in (b"5\r\nContent-Length: 500", b"5\r\nContent-Length: 5"):
            s = w.connect()
            try:
                s.sendall(
                    b"POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: "
                    + lengths
                    + b"\r\n\r\nold 1"
                )
                reply = read_reply(s)
            finally:
                s.close()
            assert reply.startswith(b"HTTP/1.1 400 "), reply
            assert b"more than one Content-Length" in reply


def test_a_corrupt_state_file_is_named(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = FileStore(state)
    try:
        log = MemLog().grow(3)
        store.update("ledger.example/log", lambda _: LogState(3, log.roots[3], log.checkpoint(), 1))
    finally:
        store.close()
    path = next((state / "logs").glob("*.json"))
    good = path.read_bytes()
    doc = json.loads(good)
    doc["checkpoint"] = "not a note"
    for bad in (b"", good[:50], json.dumps(doc).encode()):
        path.write_bytes(bad)
        with pytest.raises(WitnessStoreError) as exc:
            FileStore(state)
        assert f"corrupt witness state file {path}" in str(exc.value)


def test_a_state_file_beyond_its_cap_is_refused_and_named(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = FileStore(state)
    try:
        log = MemLog().grow(3)
        store.update("ledger.example/log", lambda _: LogState(3, log.roots[3], log.checkpoint(), 1))
    finally:
        store.close()
    path = next((state / "logs").glob("*.json"))
    os.truncate(path, MAX_STATE_FILE_BYTES + 1)  # sparse: never read whole
    with pytest.raises(WitnessStoreError) as exc:
        FileStore(state)
    assert f"corrupt witness state file {path}" in str(exc.value)
    assert f"larger than {MAX_STATE_FILE_BYTES} bytes" in str(exc.value)
