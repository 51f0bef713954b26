"""Admission of entries into a governed log, and its incremental replay.

An entry at index *i* is admitted if, against the state replayed from entries
``0 .. i-1``:

1. the envelope has the DSSE shape (size caps included);
2. every signature is by a known, unrevoked key and verifies;
3. the payload parses under its type's schema, and its type is the envelope's;
4. the payload names this log's origin (``log``), so it cannot be replayed elsewhere;
5. the signers hold the role the type requires, with its quorum;
6. every reference points backwards to an entry of an allowed type (rule L4).

The policy preflight (schedule rules) runs after these, in the policy engine.
Pure: the caller supplies entries in order; nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from verifier.core.leaf import Envelope, check_envelope
from verifier.core.mldsa import parse_mldsa_vkey
from verifier.core.note import parse_vkey
from verifier.entries.codec import Payload, parse_payload, references
from verifier.entries.payloads import TYPES, Charter, KeyGrant, KeyRevoke, LogKeyChange
from verifier.entries.registry import KeyRecord, KeyRegistry, SignatureSink
from verifier.errors import AdmissionError, FormatError


@dataclass(frozen=True)
class CheckedEntry:
    """An entry that passed admission, with what later checks need."""

    index: int
    envelope: Envelope
    payload: Payload
    signers: tuple[KeyRecord, ...]
    org: str | None


#: One byte per entry for its type (0: an entry that failed admission).
_TYPE_CODES = {t: i + 1 for i, t in enumerate(TYPES)}
_TYPE_NAMES = {i: t for t, i in _TYPE_CODES.items()} | {0: "invalid"}
#: Entries whose signers a later reveal must match (they can carry commitments).
_COMMITTING = frozenset({"preregistration", "eval_suite", "eval_result", "contest_finding"})
#: Entries that change (or, but for the charter, check against) the key set.
_KEY_TYPES = frozenset({"charter", "key_grant", "key_revoke", "log_key_change"})
#: The role that signs each entry type.
_ROLES = {t: role for t, (_, role) in TYPES.items()}
# CheckedEntry is a plain frozen dataclass: made from its field dict, as
# verifier.core.frozen.build makes one (the tests check that it qualifies).
_new = object.__new__
_set = object.__setattr__


@dataclass
class LogReplay:
    """The admission-relevant state of a governed log, grown one entry at a time.

    Compact on purpose, so an auditor replaying a long log stays small (nine
    bytes per entry): a byte for its type, the organisation of a
    pre-registration as a number into ``_org_names``, and the signers of an
    entry that can carry a commitment as a number into ``_signer_sets`` (the
    same few keys sign many entries, so each set is stored once).
    """

    origin: str
    registry: KeyRegistry | None = None
    charter: Charter | None = None
    _types: bytearray = field(default_factory=bytearray)
    _entry_org: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    _org_names: list[str] = field(default_factory=list)
    _entry_signers: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    _signer_sets: list[frozenset[str]] = field(default_factory=list)
    _org_ids: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _set_ids: dict[frozenset[str], int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self._types)
        if len(self._entry_org) != n or len(self._entry_signers) != n:
            raise FormatError("replay state: per-entry arrays differ in length")
        if max(self._entry_org, default=0) > len(self._org_names) or max(
            self._entry_signers, default=0
        ) > len(self._signer_sets):
            raise FormatError("replay state: an entry refers to an unknown organisation or key set")
        if any(t not in _TYPE_NAMES for t in self._types):
            raise FormatError("replay state: unknown entry type code")
        self._org_ids = {name: i + 1 for i, name in enumerate(self._org_names)}
        self._set_ids = {s: i + 1 for i, s in enumerate(self._signer_sets)}

    @property
    def size(self) -> int:
        return len(self._types)

    def entry_type(self, index: int) -> str:
        return _TYPE_NAMES[self._types[index]]

    def org_of(self, index: int) -> str | None:
        """The organisation of the pre-registration at *index* (None for other entries)."""
        code = self._entry_org[index] if 0 <= index < self.size else 0
        return self._org_names[code - 1] if code else None

    def signers_of(self, index: int) -> frozenset[str]:
        """Key ids that signed the entry at *index*, if it can carry a commitment."""
        code = self._entry_signers[index] if 0 <= index < self.size else 0
        return self._signer_sets[code - 1] if code else frozenset()

    def check(
        self, envelope_obj: Any, index: int, *, defer: SignatureSink | None = None
    ) -> CheckedEntry:
        """Admission checks 1–6 for an entry that would get *index*; changes nothing.

        With *defer*, Ed25519 signatures are handed to it instead of checked here
        (the caller checks them elsewhere, e.g. on other cores, and must treat
        the entry as unchecked until they have passed).
        """
        if index != len(self._types):
            raise ValueError(f"entry {index} checked out of order (replayed {self.size})")
        envelope = (
            envelope_obj if isinstance(envelope_obj, Envelope) else check_envelope(envelope_obj)
        )
        if index == 0:
            return self._check_charter(envelope)
        registry = self.registry
        if registry is None:  # pragma: no cover - index 0 always sets it
            raise FormatError("the log has no charter")
        signers = tuple(registry.verify_signers(envelope, defer=defer))
        payload = parse_payload(envelope.payload, expected_type=envelope.entry_type)
        if payload.log != self.origin:
            self._check_log(payload)
        entry_type, body = payload.type, payload.body
        if entry_type in _KEY_TYPES:
            if entry_type == "charter":
                raise AdmissionError(
                    "a charter can only be the first entry of a log", code="schema"
                )
            if isinstance(body, KeyGrant):
                registry.check_grant(body)
            elif isinstance(body, KeyRevoke):
                registry.check_revoke(body)
            elif isinstance(body, LogKeyChange):
                check_log_key_change(body, self.origin)
        refs = self._check_references(payload, index)
        org = self._org_of(payload, refs)
        role = _ROLES[entry_type]
        if role == "committer":
            committed = body.commitment
            if not any(s.keyid in self.signers_of(committed) for s in signers):
                raise AdmissionError(
                    f"reveal must be signed by a key that signed entry {committed}",
                    code="wrong-role",
                )
        else:
            # A lab signs for its own run's organisation, a provider its own attestations.
            owner = org if role == "lab" else getattr(body, "provider", None)
            registry.check_role(signers, role, entry_type, org=owner)
        entry = _new(CheckedEntry)
        _set(
            entry,
            "__dict__",
            {
                "index": index,
                "envelope": envelope,
                "payload": payload,
                "signers": signers,
                "org": org,
            },
        )
        return entry

    def apply(self, entry: CheckedEntry) -> None:
        """Add an admitted entry to the state (keys granted or revoked take effect after it)."""
        if entry.index != len(self._types):
            raise ValueError(f"entry {entry.index} applied out of order (replayed {self.size})")
        payload = entry.payload
        body, entry_type = payload.body, payload.type
        if entry_type in _KEY_TYPES:
            if isinstance(body, Charter):
                self.charter = body
                self.registry = KeyRegistry.from_charter(body)
            elif isinstance(body, KeyGrant):
                assert self.registry is not None
                self.registry.grant(body, entry.index)
            elif isinstance(body, KeyRevoke):
                assert self.registry is not None
                self.registry.revoke(body, entry.index)
        org = 0
        if entry_type == "preregistration" and entry.org is not None:
            org = self._org_ids.get(entry.org, 0)
            if not org:
                self._org_names.append(entry.org)
                org = self._org_ids[entry.org] = len(self._org_names)
        signed = 0
        if entry_type in _COMMITTING:
            keys = frozenset([s.keyid for s in entry.signers])
            signed = self._set_ids.get(keys, 0)
            if not signed:
                self._signer_sets.append(keys)
                signed = self._set_ids[keys] = len(self._signer_sets)
        self._types.append(_TYPE_CODES[entry_type])
        self._entry_org.append(org)
        self._entry_signers.append(signed)

    def skip(self, index: int) -> None:
        """Record an entry that failed admission (an auditor replaying a bad log).

        It keeps its index but has no type, so nothing can validly refer to it.
        """
        if index != self.size:
            raise ValueError(f"entry {index} skipped out of order (replayed {self.size})")
        self._types.append(0)
        self._entry_org.append(0)
        self._entry_signers.append(0)

    def admit(
        self, envelope_obj: Any, index: int, *, defer: SignatureSink | None = None
    ) -> CheckedEntry:
        """:meth:`check` then :meth:`apply`."""
        entry = self.check(envelope_obj, index, defer=defer)
        self.apply(entry)
        return entry

    # -- steps ----------------------------------------------------------------

    def _check_charter(self, envelope: Envelope) -> CheckedEntry:
        payload = parse_payload(envelope.payload, expected_type=envelope.entry_type)
        if payload.type != "charter":
            raise AdmissionError(
                f"the first entry of a log must be its charter, not a {payload.type}", code="schema"
            )
        self._check_log(payload)
        problem = payload.body.calendar.out_of_order()
        if problem is not None:
            raise AdmissionError(f"charter: {problem}", code="schema")
        # The charter is signed by a quorum of the root keys it names.
        registry = KeyRegistry.from_charter(payload.body)
        signers = registry.verify_signers(envelope)
        registry.check_role(signers, "board", "charter")
        return CheckedEntry(0, envelope, payload, tuple(signers), None)

    def _check_log(self, payload: Payload) -> None:
        if payload.log != self.origin:
            raise AdmissionError(
                f"payload is for log {payload.log[:80]!r}, not this log ({self.origin})",
                code="wrong-log",
            )

    def _check_references(self, payload: Payload, index: int) -> dict[str, int]:
        found: dict[str, int] = {}
        types = self._types
        for path, ref, allowed in references(payload.body):
            if ref >= index:
                raise AdmissionError(
                    f"{path}: refers to entry {ref}, which is not before this entry ({index})",
                    code="bad-reference",
                )
            target = _TYPE_NAMES[types[ref]]
            if target not in allowed:
                wanted = " or ".join(_a(t) for t in allowed)
                what = (
                    "an entry that failed its own checks (it has no effect)"
                    if target == "invalid"
                    else _a(target)
                )
                raise AdmissionError(
                    f"{path}: entry {ref} is {what}, not {wanted}",
                    code="bad-reference",
                )
            found[path] = ref
        return found

    def _org_of(self, payload: Payload, refs: dict[str, int]) -> str | None:
        body = payload.body
        if payload.type == "preregistration":
            org: str = body.org
            if body.supersedes is not None and self.org_of(body.supersedes) != org:
                raise AdmissionError(
                    f"supersedes: entry {body.supersedes} is another organisation's "
                    "pre-registration",
                    code="bad-reference",
                )
            return org
        ref = refs.get("preregistration")
        if ref is not None:
            code = self._entry_org[ref]  # a reference checked above: before this entry
            return self._org_names[code - 1] if code else None
        return None


def check_log_key_change(change: LogKeyChange, origin: str) -> None:
    """Raise :class:`AdmissionError` unless *change* names valid keys of this log.

    The new key is an Ed25519 vkey (type 0x01) and the ML-DSA-44 one a type 0x06
    vkey (C2SP signed-note, tlog-cosignature), each with a key ID that matches
    its name and key, each named by the log's origin (tlog-checkpoint: "The
    log's key name in its signature line SHOULD match the origin line"), and
    the new key is not the one it replaces.
    """
    try:
        new = parse_vkey(change.new_vkey)
        pq = None if change.new_mldsa_vkey is None else parse_mldsa_vkey(change.new_mldsa_vkey)
    except FormatError as exc:
        raise AdmissionError(f"log_key_change: {exc}", code="schema") from None
    for key in (new, pq):
        if key is not None and key.name != origin:
            raise AdmissionError(
                f"log_key_change: key {key.name[:80]!r} is not named by this log's origin "
                f"({origin})",
                code="schema",
            )
    if new.key_id.hex() == change.old_key_hash:
        raise AdmissionError(
            "log_key_change: the new key has the hash of the key it replaces", code="schema"
        )


def _a(noun: str) -> str:
    """The noun with its indefinite article: "an organisation", "a submission"."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun
