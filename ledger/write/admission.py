"""Admission for a governed log: the verifier's checks, applied in sequencing order.

The sequencer calls :meth:`GovernedAdmission.admit` for each new entry of a
batch, in index order, so an entry may rely on one earlier in the same batch
(a key granted, then used). The state is updated as entries are admitted; if
the batch's transaction then fails, :meth:`reset` drops the state and it is
rebuilt from the store before the next batch — the store is the truth.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ledger.errors import ReplayAborted, StateDamaged
from ledger.storage.admission_db import AdmissionDB, Facets, NothingSaved
from ledger.storage.protocol import EntryFacets
from ledger.storage.state_file import StaleState
from ledger.write.indexer import payload_text
from verifier.core.leaf import parse_leaf
from verifier.entries.replay import CheckedEntry, LogReplay
from verifier.errors import AdmissionError, FormatError
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import VIOLATION
from verifier.policy.status import SubmissionSchedule, submission_schedule

log = logging.getLogger(__name__)

#: Problem slug and HTTP status for each kind of refusal.
STATUS = {
    "bad-signature": 403,
    "unknown-key": 403,
    "revoked-key": 403,
    "wrong-role": 403,
    "quorum-not-met": 403,
    "wrong-log": 422,
    "schema": 422,
    "bad-reference": 422,
    "policy-violation": 409,
}


@dataclass(frozen=True)
class Refusal:
    """Why an entry was not logged. Nothing was written for it."""

    code: str
    message: str
    rule: str | None = None

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 422)


#: v3: a SQLite database read as rules need it (ledger/storage/admission_db.py); v1 and v2
#: were JSON files read whole (v2 added decisions' facets). An older file is left alone
#: and the log replayed once.
ADMISSION_STATE_FORMAT = "frontier-ledger/admission-state/v3"
#: Store the admission state again after this many new entries (and when the server stops).
SAVE_EVERY = 50_000


class _Verified:
    """Signatures an admission worker verified already: nothing left to check here."""

    def add(self, public_key: bytes, signature: bytes, message: bytes) -> None:
        return None


_VERIFIED = _Verified()


@dataclass(frozen=True)
class Resume:
    """Where a writer keeps its admission state between runs, and how to read the log
    from any index (so a restart replays only what the stored state lacks)."""

    db: AdmissionDB
    leaves_from: Callable[[int], Iterator[bytes]]
    checkpoint: Callable[[int], bytes | None]


#: Entry types whose search facets later entries inherit (by "preregistration",
#: "submission", "finding", "commitment", "run", "about" or a single "decisions"):
#: the only ones kept.
FACET_SOURCES = frozenset(
    {"preregistration", "submission", "contest_finding", "eval_suite", "eval_result", "decision"}
)


class GovernedAdmission:
    """Keeps the replayed state of the log and admits new entries against it."""

    def __init__(
        self,
        origin: str,
        leaves: Callable[[], Iterator[bytes]],
        *,
        simulated_clock: bool = False,
        blobs: Mapping[str, bytes] | None = None,
        resume: Resume | None = None,
    ) -> None:
        self.origin = origin
        #: Restarts resume from a stored state (None: replay the whole log at start).
        self.resume = resume
        #: the size the stored state is at (0: none stored by this process yet)
        self.saved_size = 0
        #: the size the last rebuild resumed from (None: it replayed from the charter)
        self.resumed_from: int | None = None
        #: Revealed documents by SHA-256 (DATA/blobs/sha256): a reveal whose document
        #: is here and does not match its commitment is refused (S14).
        self.blobs = blobs
        #: With a simulated clock only a simulation may be logged: the charter
        #: must say so, and everything that shows the log says it too.
        self.simulated_clock = simulated_clock
        self._leaves = leaves
        self._state: tuple[LogReplay, PolicyEngine] | None = None
        # The sequencer's thread admits entries while the marker job's thread reads
        # the schedule state and the server's warm-up thread may be replaying the
        # log: one lock, so no two replays run at once and no one reads a state
        # that is being replaced.
        self._lock = threading.RLock()
        self._abort = threading.Event()
        #: a stored record failed its checksum: the next rebuild replays from the charter
        self._damaged = False
        self._closed = False  # closed (the server stopped): no rebuild
        #: entries replayed so far by the replay under way (or the last one)
        self.replayed = 0
        #: how many entries the state holds (replayed, then admitted): the tree size
        #: it is the state of, as long as no admitted entry failed to commit
        self._size = 0
        #: a replay is running now (the server's warm-up, or a rebuild after a reset)
        self.replaying = False
        #: replays started since this object was made (each is O(entries))
        self.rebuilds = 0
        #: index -> (org, run_id, level, cycle), inherited along references for search
        self._facets: MutableMapping[int, Facets] = {}

    @property
    def state(self) -> tuple[LogReplay, PolicyEngine]:
        with self._lock:
            if self._state is None:
                if self._closed:
                    # A job still running as the server stops (a marker tick) must not
                    # open the stored state again after it was closed.
                    raise ReplayAborted("the server is stopping")
                self._state = self._rebuild()
            return self._state

    def covers(self, size: int) -> bool:
        """The state is built and is the state of a log of *size* entries."""
        return self._state is not None and self._size == size

    @property
    def ready(self) -> bool:
        """The log has been replayed: an entry is admitted without waiting for a replay."""
        return self._state is not None

    def locked(self) -> threading.RLock:
        """Hold while reading the state from another thread (``with admission.locked():``)."""
        return self._lock

    def warm(self) -> None:
        """Replay the log now (the server does it at start, off the event loop), so the
        first append after a restart does not wait for it."""
        _ = self.state

    def abort(self) -> None:
        """Stop a replay under way (shutdown): it raises :class:`ReplayAborted`."""
        self._abort.set()

    @property
    def replay(self) -> LogReplay:
        return self.state[0]

    @property
    def engine(self) -> PolicyEngine:
        return self.state[1]

    def _rebuild(self) -> tuple[LogReplay, PolicyEngine]:
        # (_resume and _fresh each set the facets and saved size of the state they give.)
        self.replayed = 0
        self.resumed_from = None
        self.replaying = True
        self.rebuilds += 1
        try:
            start = self._resume()
            if start is not None:
                replay, engine, leaves = start
                try:
                    return self._replay_all(replay, engine, leaves, replay.size)
                except StateDamaged as exc:
                    log.error("replaying the whole log for admission: %s", exc)
                    self._damaged = True
            return self._replay_all(*self._fresh(), self._leaves(), 0)
        finally:
            self.replaying = False

    def _fresh(self) -> tuple[LogReplay, PolicyEngine]:
        """An empty state (bound to a new database when the state is stored)."""
        replay = LogReplay(self.origin)
        engine = PolicyEngine(self.blobs)
        self._facets = {}
        self.saved_size = 0
        if self.resume is not None:
            state = self.resume.db.fresh(replay, engine.state)
            self._facets = state.facets
            self._damaged = False
        return replay, engine

    def _resume(self) -> tuple[LogReplay, PolicyEngine, Iterator[bytes]] | None:
        """The stored state, and the leaves it lacks; None (and why, loudly) if unusable.

        O(1) in the log's size: the header, the rest of the state and the per-entry
        arrays are read; records are read when a rule asks for them."""
        if self.resume is None:
            return None
        db = self.resume.db
        if self._damaged:
            return None  # a record failed its checksum: replay into a new database
        try:
            state, size = db.load(self.origin, self.resume.checkpoint)
        except NothingSaved as exc:
            log.info("replaying the whole log for admission: the stored state %s: %s", db.path, exc)
            return None
        except StaleState as exc:
            if db.exists():
                log.warning("replaying the whole log for admission: the stored state %s: %s",
                            db.path, exc)  # fmt: skip
            return None
        engine = PolicyEngine(self.blobs)
        engine.state = state.policy
        self._facets = state.facets
        self.saved_size = self.resumed_from = size
        log.info("admission resumes from its stored state at size %d", size)
        return state.replay, engine, self.resume.leaves_from(size)

    def save(self, size: int, checkpoint: bytes) -> bool:
        """Store the admission state if it is the state of the committed log of *size*
        (whose signed checkpoint is *checkpoint*) and grew since it was last stored.

        Called between commits and at shutdown, never inside a write transaction:
        a stored state always belongs to a checkpoint the log published.
        """
        with self._lock:
            if self.resume is None or self._state is None or self._size != size:
                return False
            if size <= self.saved_size:
                return False
            replay, engine = self._state
            try:
                self.resume.db.save(replay, engine.state, size, checkpoint)
            except BaseException:
                # Crash point: records written out since the last save are only in the
                # transaction this failure ends; the state in memory lacks them, so it
                # is dropped: the next batch resumes from the last save (or replays).
                self._state = None
                self.resume.db.rollback()
                raise
            self.saved_size = size
            return True

    def close(self) -> None:
        """Close the stored state's database (what was not saved is dropped); the
        state is not rebuilt after this."""
        with self._lock:
            if self.resume is not None:
                self.resume.db.close()
            self._state = None
            self._closed = True

    def _replay_all(
        self, replay: LogReplay, engine: PolicyEngine, leaves: Iterator[bytes], start: int
    ) -> tuple[LogReplay, PolicyEngine]:
        self.replayed = start
        for index, leaf in enumerate(leaves, start):
            if self._abort.is_set():
                raise ReplayAborted("the server is stopping")
            # Entries already in the log were admitted when they were appended;
            # replaying them re-checks everything, so a tampered store shows up here.
            try:
                parsed = parse_leaf(leaf)
                entry = replay.admit(parsed.envelope, index)
            except (AdmissionError, FormatError) as exc:
                # An entry that should never have been admitted (forced in by an
                # operator, or the store was edited): like the auditor, keep its
                # index without effect, and say so — `frontier-ledger fsck` and
                # `audit` name it too. The log must not stop because of it.
                replay.skip(index)
                log.error("entry %d has no effect: it fails admission: %s", index, exc)
                self.replayed = index + 1
                continue
            engine.apply(index, entry.payload, parsed.logged_at_ms)
            self._keep_facets(entry, self._facet_tuple(entry))
            self.replayed = index + 1
        self._size = self.replayed
        return replay, engine

    def facets(self, entry: CheckedEntry, text: str | None = None) -> EntryFacets:
        """Search facets of an admitted entry: its own fields, or its run's; *text* is
        its words if the caller has them already (:func:`ledger.write.indexer.payload_text`)."""
        with self._lock, self._guard():
            org, run_id, level, cycle = facets = self._facet_tuple(entry)
            self._keep_facets(entry, facets)
        if text is None:
            text = payload_text(entry.payload)
        return EntryFacets(entry.payload.type, org, run_id, level, cycle, text)

    def _keep_facets(
        self, entry: CheckedEntry, facets: tuple[str | None, str | None, int | None, int | None]
    ) -> None:
        """Keep an entry's facets only if later entries may inherit them (what they refer
        to by these fields): the state stays proportional to runs, not to entries."""
        if entry.payload.type in FACET_SOURCES:
            self._facets[entry.index] = facets

    def _facet_tuple(
        self, entry: CheckedEntry
    ) -> tuple[str | None, str | None, int | None, int | None]:
        # (The replay needs only these; the text for search is built for new entries.)
        body = entry.payload.body
        # A compute attestation or a staff declaration is about the organisation it names
        # (the one served, the one a staff member joins): its feed and filter show it.
        org = entry.org or getattr(body, "org_id", None) or getattr(body, "organisation", None)
        run_id = getattr(body, "run_id", None)
        level = getattr(body, "level", None)
        cycle = getattr(body, "cycle", None)
        # The entry whose facets it inherits: its run's (an attestation's claimed run, an
        # observer's statement about an entry of a run), as far as they are kept.
        names = ("preregistration", "submission", "finding", "commitment", "run", "about")
        refs: list[object] = [getattr(body, name, None) for name in names]
        decisions: tuple[int, ...] = getattr(body, "decisions", ())
        if len(decisions) == 1:  # researchers' access to one approved model: its run's
            refs.append(decisions[0])
        for ref in refs:
            if isinstance(ref, int) and ref in self._facets:
                o, r, lv, c = self._facets[ref]
                org, run_id, level, cycle = (
                    org or o,
                    run_id or r,
                    level if level is not None else lv,
                    cycle or c,
                )
                break
        if entry.payload.type in ("threshold_postponement",):
            cycle = getattr(body, "from_cycle", None)
        if entry.payload.type == "schedule_marker":
            cycle = body.cycle
        return org, run_id, level, cycle

    def admit(
        self, envelope: Any, index: int, logged_ms: int, *, verified: bool = False
    ) -> CheckedEntry | Refusal:
        """Check an entry that would be logged at *index*, *logged_ms*; apply it if admitted.

        Policy preflight: a violation that the entry itself would cause, of a
        kind that is refused (an approval, a lift, an amendment… — see
        :class:`verifier.policy.findings.Finding`), refuses it with the rule id.

        *verified*: an admission worker verified every signature of the envelope
        under the key its key id names (:mod:`ledger.write.precheck`); the keys'
        grants, revocations and roles are still checked here, in sequence.
        """
        with self._lock, self._guard():
            return self._admit(envelope, index, logged_ms, verified)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A stored record that fails its checksum drops the state: the batch reading
        it fails (nothing of it is written) and the next one replays the whole log."""
        try:
            yield
        except StateDamaged as exc:
            log.error("the stored admission state is damaged; it will be replayed: %s", exc)
            self._damaged = True
            self._state = None
            raise

    def _admit(
        self, envelope: Any, index: int, logged_ms: int, verified: bool
    ) -> CheckedEntry | Refusal:
        replay, engine = self.state
        try:
            entry = replay.check(envelope, index, defer=_VERIFIED if verified else None)
        except AdmissionError as exc:
            return Refusal(exc.code, str(exc))
        except FormatError as exc:
            return Refusal("schema", str(exc))
        if self.simulated_clock and index == 0 and not entry.payload.body.simulation:
            return Refusal(
                "schema",
                "this server runs a simulated clock; its charter must say simulation = true",
            )
        findings = engine.check(index, entry.payload, logged_ms)
        for f in findings:
            if f.severity == VIOLATION and f.refusable:
                return Refusal("policy-violation", f"{f.rule}: {f.message}", rule=f.rule)
        replay.apply(entry)
        engine.apply(index, entry.payload, logged_ms, findings)
        self._size = index + 1
        return entry

    def submission_schedule(self, index: int) -> SubmissionSchedule | None:
        """Where the admitted submission at *index* stands: on time or late, decided when."""
        with self._lock, self._guard():
            return submission_schedule(self.engine.state, index)

    def sync_to(self, size: int) -> None:
        """Keep the state if it is the state of a log of *size* entries, else drop it.

        Takes the lock, so a replay under way (the server's warm-up) finishes first
        and its state is then kept rather than thrown away.
        """
        with self._lock:
            if not self.covers(size):
                self._state = None

    def reset(self) -> None:
        with self._lock:
            self._state = None
