"""Read-side views of a governed log: the replayed key set and the policy audit.

The read API never touches the sequencer's state: it replays the log from the
read-only store into its own :class:`verifier.policy.audit.Auditor`, catching up
incrementally as the published size grows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.storage.protocol import LedgerStore
from ledger.storage.state_file import StaleState, StateFile
from verifier.core.leaf import parse_leaf
from verifier.entries.codec import parse_payload, payload_to_json, references
from verifier.entries.payloads import Document, Reveal
from verifier.errors import FormatError
from verifier.policy.audit import Auditor, AuditReport, AuditState

log = logging.getLogger(__name__)


class BlobDir(Mapping[str, bytes]):
    """Revealed documents stored as ``DIR/<sha256 hex>`` (read lazily, digest-checked)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getitem__(self, digest: str) -> bytes:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise KeyError(digest)
        try:
            data = (self.root / digest).read_bytes()
        except OSError:
            raise KeyError(digest) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise KeyError(digest)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.name for p in self.root.glob("*")) if self.root.is_dir() else [])

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class ViewState:
    """What the read side replayed up to some size (stored so a restart need not replay)."""

    audit: AuditState
    referrers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    #: SHA-256 hex -> [(index, field)] of the entries that name it: a document's
    #: digest (public), a commitment (sealed), or a reveal's content_sha256
    documents: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


VIEW_STATE_FORMAT = "frontier-ledger/view-state/v1"
#: Store the state again after this many new entries (and when the server stops).
SAVE_EVERY = 20_000


class LogView:
    def __init__(
        self, store: LedgerStore, blobs_dir: Path | None = None, cache: Path | None = None
    ) -> None:
        self.store = store
        self.governed = store.profile == "governed"
        self._blobs = BlobDir(blobs_dir) if blobs_dir else None
        self._auditor = Auditor(store.origin, self._blobs)
        self._lock = threading.Lock()
        #: target index -> [(referring index, field path)], for "what refers to it".
        self._referrers: dict[int, list[tuple[int, str]]] = {}
        #: digest -> [(naming index, field)], for "which entries name this document".
        self._documents: dict[str, list[tuple[int, str]]] = {}
        #: Where the replayed state is kept between runs (None: replay at every start).
        self._cache = StateFile(cache, VIEW_STATE_FORMAT, ViewState) if cache else None
        self._loaded = cache is None
        self._saved_size = 0

    def catch_up(self) -> Auditor:
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._load()
            size = self.store.head().size
            start = self._auditor.size
            if start < size:
                for leaf in self.store.read_leaves(start, size):
                    index = self._auditor.size
                    self._auditor.feed(leaf)
                    self._note_references(index)
                if self._cache is not None and self._auditor.size - self._saved_size >= SAVE_EVERY:
                    self._save()
            return self._auditor

    def save(self) -> None:
        """Store the replayed state (called when the server stops), if it grew."""
        with self._lock:
            if self._cache is not None and self._loaded and self._auditor.size > self._saved_size:
                self._save()

    def _save(self) -> None:
        assert self._cache is not None
        size = self._auditor.size
        note = self.store.read_checkpoint(size)
        if note is None:  # pragma: no cover - every published size has its checkpoint
            return
        try:
            self._cache.save(
                ViewState(self._auditor.state, self._referrers, self._documents), size, note
            )
        except OSError as exc:  # a cache: the site keeps working without it
            log.warning("could not store the site's replay state in %s: %s", self._cache.path, exc)
            return
        self._saved_size = size

    def _load(self) -> None:
        """Resume from the stored state if it matches a checkpoint this store published."""
        assert self._cache is not None
        if not self._cache.path.exists():
            return
        try:
            state, size = self._cache.load(self.store.read_checkpoint)
            if state.audit.size != size:
                raise StaleState(f"it holds {state.audit.size} entries, not {size}")
            if state.audit.replay.origin != self.store.origin:
                raise StaleState("it is the state of another log")
            auditor = Auditor(self.store.origin, self._blobs, state=state.audit)
        except (StaleState, FormatError) as exc:
            # A cache: a damaged or foreign one costs a replay, never a wrong page.
            log.warning("ignoring the site's stored replay state %s: %s", self._cache.path, exc)
            return
        self._auditor, self._referrers, self._saved_size = auditor, state.referrers, size
        self._documents = state.documents

    def _note_references(self, index: int) -> None:
        checked = self._auditor.last_checked
        if checked is None or checked.index != index:
            return  # only admitted entries count as referring to anything
        for path, target, _ in references(checked.payload.body):
            self._referrers.setdefault(target, []).append((index, path))
        for name, digest in _named_documents(checked.payload.body):
            self._documents.setdefault(digest, []).append((index, name))

    def referrers(self, index: int) -> list[tuple[int, str]]:
        """Entries that refer to the entry at *index* (admitted ones), in log order."""
        self.catch_up()
        return list(self._referrers.get(index, ()))

    def naming(self, digest: str) -> list[tuple[int, str]]:
        """Admitted entries that name the SHA-256 *digest* (hex), with the field that does:
        a document field (its digest, or its commitment if sealed) or a reveal's
        ``content_sha256``. In log order."""
        self.catch_up()
        return list(self._documents.get(digest, ()))

    def audit(self, now_ms: int) -> AuditReport:
        return self.catch_up().report(now_ms)

    def describe(self, leaf: bytes) -> dict[str, Any]:
        """The entry's decoded payload and who signed it (holder and roles from the log)."""
        parsed = parse_leaf(leaf)
        out: dict[str, Any] = {
            "type": parsed.envelope.entry_type,
            "payload_type": parsed.envelope.payload_type,
        }
        try:
            out["payload"] = payload_to_json(parse_payload(parsed.envelope.payload))
        except FormatError as exc:
            out["payload"] = None
            out["payload_error"] = str(exc)
        registry = self.catch_up().replay.registry if self.governed else None
        signers = []
        for sig in parsed.envelope.signatures:
            rec = registry.keys.get(sig.keyid) if registry is not None else None
            signers.append(
                {
                    "keyid": sig.keyid,
                    "holder": rec.holder if rec else None,
                    "roles": sorted(rec.roles) if rec else [],
                    "granted_at": rec.granted_at if rec else None,
                    "revoked_at": rec.revoked_at if rec else None,
                }
            )
        out["signers"] = signers
        return out


def _named_documents(body: object) -> Iterator[tuple[str, str]]:
    """(field, SHA-256 hex) of every document an entry's payload names by digest."""
    if isinstance(body, Reveal):
        yield "content_sha256", body.content_sha256
        return
    if not dataclasses.is_dataclass(body):
        return
    for f in dataclasses.fields(body):
        value = getattr(body, f.name)
        if isinstance(value, Document):
            yield f.name, value.sha256
