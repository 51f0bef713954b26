"""Ed25519 checks on other cores while the replay goes on (speculative, then confirmed).

A full check of a long log spends most of its time in Ed25519 verification,
which is independent from entry to entry once the key set is known. The replay
must still decide, in order, *which* key each signature is checked against
(keys are granted and revoked by earlier entries), so it runs in this process
and hands each (public key, signature, message) to :class:`ParallelSignatures`,
which checks them in chunks on worker processes.

The replay is speculative until :meth:`ParallelSignatures.finish` returns: it
assumed every signature verifies. If one does not, the caller discards that
replay and redoes it sequentially with signatures checked in line, so the
findings are exactly those of a sequential check (a forged key grant must not
have taken effect). A clean log — the case that matters for speed — is checked
once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

from verifier.core import ed25519
from verifier.errors import FormatError, SignatureError

#: Signatures per task: large enough that pickling and scheduling are noise.
CHUNK = 1000
#: Below this many signatures a pool costs more to start than it saves.
MIN_PARALLEL = 4 * CHUNK


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _check_chunk(items: list[tuple[bytes, bytes, bytes]]) -> int:
    """Worker: how many of (public key, signature, message) do not verify."""
    bad = 0
    for public_key, signature, message in items:
        try:
            ed25519.verify(ed25519.load_public_key(public_key), signature, message)
        except (SignatureError, FormatError):
            bad += 1
    return bad


class ParallelSignatures:
    """A :class:`verifier.entries.registry.SignatureSink` that checks on *jobs* processes."""

    def __init__(self, jobs: int, chunk: int = CHUNK) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.chunk = chunk
        self.checked = 0
        self._pending: list[tuple[bytes, bytes, bytes]] = []
        self._futures: deque[Future[int]] = deque()
        self._failed = 0
        # forkserver: workers start from a clean process, not a fork of this one
        # (which may hold large buffers or, in a server, threads).
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("forkserver")
        )

    def add(self, public_key: bytes, signature: bytes, message: bytes) -> None:
        self._pending.append((public_key, signature, message))
        if len(self._pending) >= self.chunk:
            self._submit()

    def _submit(self) -> None:
        if not self._pending:
            return
        # Bound the work in flight, so memory stays flat however long the log.
        while len(self._futures) >= 4 * self.jobs:
            self._failed += self._futures.popleft().result()
        self.checked += len(self._pending)
        self._futures.append(self._pool.submit(_check_chunk, self._pending))
        self._pending = []

    @property
    def failed_so_far(self) -> int:
        """Failures among the chunks already collected (a cheap early warning)."""
        return self._failed

    def finish(self) -> int:
        """Check whatever is left; return how many signatures did not verify."""
        self._submit()
        while self._futures:
            self._failed += self._futures.popleft().result()
        return self._failed

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelSignatures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
