"""Collecting witness cosignatures (C2SP tlog-witness, tlog-cosignature) for the log.

The witnesses are named in ``DATA/witnesses.policy`` (C2SP tlog-policy: the
log's own ``log`` line, one ``witness <name> <vkey> <url>`` line each, and the
``quorum``). An APScheduler job, in the one process that holds the writer lock,
calls each witness's ``add-checkpoint`` when a new checkpoint is published, and
again at an idle cadence so the newest cosignature stays fresh. Each answer is
verified with the witness's key before it is stored; ``/log/checkpoint`` then
serves the checkpoint with its cosignatures. With ``require_quorum``, the
published checkpoint is the newest one whose cosignatures meet the quorum.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ledger.errors import NotFound
from ledger.ops import metrics
from ledger.read.reader import LogReader
from ledger.read.receipts import cosigned_note
from ledger.storage.protocol import LedgerStore
from verifier.core.note import parse_note
from verifier.core.trust_policy import TrustPolicy, Witness
from verifier.errors import LedgerVerifyError
from verifier.witness.protocol import format_add_checkpoint

log = logging.getLogger("frontier_ledger.witnessing")

POLICY_NAME = "witnesses.policy"
TIMEOUT_S = 10.0


@dataclass
class WitnessStatus:
    last_size: int = 0
    last_ok: float | None = None
    last_error: str | None = None
    failures: int = 0
    latency_s: list[float] = field(default_factory=list)


def _post(url: str, body: bytes, timeout: float = TIMEOUT_S) -> tuple[int, bytes]:
    req = urllib.request.Request(  # noqa: S310 - the operator's configured witness URL
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return resp.status, resp.read(65536)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536)


class WitnessCollector:
    def __init__(
        self,
        policy: TrustPolicy,
        reader: LogReader,
        writer_store: LedgerStore | None = None,
        *,
        idle_cadence_s: float = 300.0,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.policy = policy
        self.reader = reader
        self.store = reader.store  # reads (read-only connections)
        self.writer_store = writer_store  # cosignatures are written through the writer
        self.idle_cadence_s = idle_cadence_s
        #: a witness that hangs costs one job run this long, never the sequencer
        self.timeout_s = timeout_s
        self.status: dict[str, WitnessStatus] = {
            w.name: WitnessStatus(self.store.last_cosigned_size(w.name))
            for w in policy.witnesses.values()
        }

    def witnesses(self) -> list[Witness]:
        return [w for w in self.policy.witnesses.values() if w.url]

    async def tick(self) -> int:
        """Ask every witness to cosign the current checkpoint if it needs to; count successes."""
        if self.writer_store is None:
            return 0
        head = self.reader.head()
        results = await asyncio.gather(
            *(
                asyncio.to_thread(self._witness, w, head.size, head.checkpoint)
                for w in self.witnesses()
            )
        )
        return sum(results)

    def cosign_now(self) -> int:
        """What :meth:`tick` does, in this thread: for a writer appending without an event
        loop (the demo's build, which has every checkpoint cosigned as it is made)."""
        if self.writer_store is None:
            return 0
        head = self.reader.head()
        return sum(self._witness(w, head.size, head.checkpoint) for w in self.witnesses())

    def _witness(self, w: Witness, size: int, checkpoint: bytes) -> bool:
        st = self.status[w.name]
        fresh = st.last_ok is not None and time.monotonic() - st.last_ok < self.idle_cadence_s
        if st.last_size == size and fresh:
            return False
        for _attempt in range(2):  # a 409 tells us the witness's size: retry once with it
            old = st.last_size if st.last_size <= size else 0
            try:
                proof = self.reader.consistency(old, size)[1] if 0 < old < size else []
            except NotFound:
                old, proof = 0, []
            body = format_add_checkpoint(old, proof, checkpoint)
            url = (w.url or "").rstrip("/") + "/add-checkpoint"
            t0 = time.monotonic()
            try:
                status, reply = _post(url, body, self.timeout_s)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                return self._failed(st, w, f"cannot reach {url}: {exc}")
            if status == 409 and reply.strip().isdigit():
                st.last_size = int(reply.strip())
                continue
            if status != 200:
                return self._failed(st, w, f"{url} answered {status}: {reply[:200]!r}")
            try:
                self._store(w, size, checkpoint, reply.decode())
            except (LedgerVerifyError, UnicodeDecodeError) as exc:
                return self._failed(st, w, f"{url} sent a cosignature that does not verify: {exc}")
            st.last_size, st.last_ok, st.last_error = size, time.monotonic(), None
            st.latency_s = [*st.latency_s[-99:], time.monotonic() - t0]
            metrics.WITNESS_SECONDS.observe(st.latency_s[-1])
            return True
        return self._failed(st, w, "the witness keeps reporting another size")

    def _failed(self, st: WitnessStatus, w: Witness, message: str) -> bool:
        st.failures += 1
        metrics.WITNESS_FAILURES.inc(label=w.name)
        st.last_error = message
        log.warning("witness %s: %s", w.name, message)
        return False

    def _store(self, w: Witness, size: int, checkpoint: bytes, reply: str) -> None:
        note = parse_note(checkpoint)
        lines = [ln + "\n" for ln in reply.splitlines() if ln]
        sigs = parse_note((note.text + "\n" + "".join(lines)).encode()).signatures
        mine = [s for s in sigs if (s.name, s.key_id) == (w.key.name, w.key.key_id)]
        if not mine:
            raise LedgerVerifyError(f"no cosignature by {w.key.name} in the answer")
        sig = mine[0]
        w.key.verify(note.text.encode(), sig.signature)
        assert self.writer_store is not None
        self.writer_store.put_cosignature(size, w.name, sig.line, w.key.timestamp(sig.signature))

    # -- what the read path serves ------------------------------------------------

    def with_cosignatures(self, size: int, note: bytes) -> bytes:
        """*note* (the log-signed checkpoint of *size*) with every stored cosignature."""
        return cosigned_note(note, [line for line, _ in self.store.cosignatures(size).values()])

    def published(self, require_quorum: bool) -> bytes:
        """The checkpoint to serve: the latest, cosigned — or the newest meeting the quorum."""
        head = self.reader.head()
        sizes = [head.size] if not require_quorum else [head.size, *self.store.cosigned_sizes()]
        for size in sizes:
            cosigs = self.store.cosignatures(size)
            if require_quorum and not self.policy.quorum_met(set(cosigs)):
                continue
            note = head.checkpoint if size == head.size else self.reader.checkpoint_at(size)
            return cosigned_note(note, [line for line, _ in cosigs.values()])
        # No checkpoint has met the quorum yet: serve the empty tree's, never an unwitnessed one.
        return self.reader.checkpoint_at(0)
