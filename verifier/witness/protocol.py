"""C2SP tlog-witness: the ``add-checkpoint`` decision, without any I/O.

A witness keeps, for every log it knows, the latest checkpoint it cosigned, and
cosigns a new checkpoint only if it is signed by the log and provably extends
that one. This module parses the request, decides the answer the spec requires
and makes the cosignature; :mod:`verifier.witness.server` is the HTTP edge and
the durable state store.

Request body (tlog-witness §add-checkpoint)::

    old <size>\\n                  "the string `old`, a single space (0x20), and the
                                   tree size ... with no leading zeroes"
    <base64 hash>\\n   x 0..63      "Each consistency proof line MUST encode a single
                                   hash in base64 ... MUST NOT send more than 63"
    \\n                            "an empty line"
    <signed checkpoint note>

Answers, in the order the spec lists its checks:

====  =====================================================================
400   malformed body; or "The old size MUST be equal to or lower than the
      checkpoint size"
404   "If the checkpoint origin is unknown"
403   "If none of the signatures verify against a trusted public key" (and a
      known key whose signature fails, as signed-note verification requires)
409   old size is not the size of the latest cosigned checkpoint (0 if none):
      body ``<size>\\n``, ``Content-Type: text/x.tlog.size``; also "If the old
      size matches the checkpoint size ... [and] the root hashes ... don't match"
422   "If the Merkle Consistency Proof doesn't verify" ("The proof MUST be
      empty if the old size is zero")
200   "one or more note signature lines, each starting with the `—`
      character (U+2014) and ending with a newline character (U+000A)"
====  =====================================================================

"The witness MUST persist the new checkpoint before responding", and "checking
the old size against the latest checkpoint and persisting the new checkpoint
must be performed atomically": :meth:`WitnessStore.update` runs the whole
read-compare-decide step under one lock and writes the result durably before it
returns; only then is the cosignature made.

The cosignature's timestamp is the current time in seconds, never earlier than
the timestamp of the previous cosignature for that log (if the clock steps back,
a later cosignature for a larger tree must not claim an earlier time).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verifier.core.checkpoint import Checkpoint, parse_checkpoint
from verifier.core.cosignature import CosignatureSigner, CosignatureVerifier
from verifier.core.encoding import b64decode_strict, b64encode, parse_decimal
from verifier.core.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from verifier.core.mldsa import (
    ALG_MLDSA44,
    MLDSA44Signer,
    MLDSA44Verifier,
    parse_log_vkey,
    parse_mldsa_skey,
)
from verifier.core.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    MAX_NOTE_SIZE,
    Ed25519Verifier,
    NoteSignature,
    check_key_name,
    key_id,
    parse_note,
    verify_note,
)
from verifier.errors import (
    FormatError,
    InconsistencyError,
    ProofError,
    Refusal,
    SignatureError,
)

#: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: ``old `` + a uint64 + newline, 63 proof lines of 44 base64 characters + newline,
#: the empty line, then a note no larger than the verifier accepts anywhere.
MAX_REQUEST_SIZE = len("old \n") + 20 + MAX_PROOF_LINES * 45 + 1 + MAX_NOTE_SIZE
#: The 409 answer's media type (tlog-witness).
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: Every other answer's media type (also :class:`verifier.errors.Refusal`'s default).
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
#: tlog-cosignature: the timestamp "MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1

_OLD_LINE = re.compile(r"old ([0-9]+)")


# --- request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpointRequest:
    """A parsed ``add-checkpoint`` body (the checkpoint is not verified yet)."""

    old_size: int
    proof: tuple[bytes, ...]
    #: The signed checkpoint note, exactly as sent.
    checkpoint: bytes


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse an ``add-checkpoint`` request body strictly; raise FormatError if malformed."""
    if len(body) > MAX_REQUEST_SIZE:
        raise FormatError(f"request body is larger than {MAX_REQUEST_SIZE} bytes")
    # The header lines are never empty, so the first blank line ends them; the
    # checkpoint note has its own blank line before its signatures.
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise FormatError("request has no empty line between the proof and the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise FormatError("old size and proof lines must be ASCII") from None
    m = _OLD_LINE.fullmatch(lines[0])
    if not m:
        raise FormatError("the first line must be 'old <size>'")
    old_size = parse_decimal(m.group(1), what="old size")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise FormatError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = tuple(
        b64decode_strict(line, what=f"consistency proof line {i}", length=HASH_SIZE)
        for i, line in enumerate(lines[1:], 1)
    )
    return AddCheckpointRequest(old_size, proof, note)


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], checkpoint: bytes) -> bytes:
    """The request body a log sends (the inverse of :func:`parse_add_checkpoint`)."""
    lines = [f"old {old_size}", *(b64encode(h) for h in proof)]
    return ("\n".join(lines) + "\n\n").encode() + checkpoint


# --- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessConfig:
    """The logs a witness accepts: origin -> the log keys trusted for it."""

    logs: Mapping[str, tuple[Ed25519Verifier | MLDSA44Verifier, ...]]


def parse_witness_config(text: str) -> WitnessConfig:
    """Read the ``log <vkey> [<url>]`` lines of a C2SP tlog-policy file.

    tlog-policy allows any number of logs ("all of the listed logs are accepted");
    a log's key name "MUST correspond to the log's origin line", and two keys with
    one name are two trusted keys for that origin (e.g. during a rotation).
    ``witness``, ``group`` and ``quorum`` lines are allowed and ignored: they tell
    verifiers which cosignatures to require, not which logs a witness serves.
    "Duplicate logs, i.e., multiple log lines with the same public key, are not
    allowed." Separators are ASCII space and tab only, as tlog-policy says.
    """
    logs: dict[str, list[Ed25519Verifier | MLDSA44Verifier]] = {}
    seen_keys: set[bytes] = set()
    for n, raw in enumerate(text.split("\n"), 1):
        where = f"policy line {n}"
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in raw):
            raise FormatError(f"{where}: control character (only tab and newline are allowed)")
        words = raw.replace("\t", " ").split(" ")
        words = [w for w in words if w]
        if not words or words[0].startswith("#"):
            continue
        keyword, args = words[0], words[1:]
        if keyword in ("witness", "group", "quorum"):
            continue
        if keyword != "log":
            raise FormatError(f"{where}: unknown keyword {keyword[:20]!r}")
        if not 1 <= len(args) <= 2:
            raise FormatError(f"{where}: expected 'log <vkey> [<url>]'")
        # A log's key is Ed25519 (0x01) or ML-DSA-44 (0x06, tlog-checkpoint §"Signatures").
        key = parse_log_vkey(args[0], f"{where}: log vkey")
        if key.public_key in seen_keys:
            raise FormatError(f"{where}: the same log public key is listed twice")
        seen_keys.add(key.public_key)
        logs.setdefault(key.name, []).append(key)
    if not logs:
        raise FormatError("policy has no 'log' line: the witness would accept no log")
    return WitnessConfig({origin: tuple(keys) for origin, keys in logs.items()})


class Cosigner(Protocol):
    """A witness's signing key: Ed25519 cosignature/v1 or ML-DSA-44 (tlog-cosignature)."""

    @property
    def name(self) -> str: ...

    @property
    def verifier(self) -> CosignatureVerifier | MLDSA44Verifier: ...

    def covers(self, text: str) -> None:
        """Raise :class:`FormatError` if this key cannot cosign the checkpoint *text*."""
        ...

    def cosign(self, text: str, timestamp: int) -> NoteSignature: ...


def parse_witness_skey(text: str) -> CosignatureSigner | MLDSA44Signer:
    """Load a witness signing key: ``PRIVATE+KEY+<name>+<hex id>+<base64(type || seed32)>``.

    Type 0x04 is a cosignature/v1 key (key ID computed with 0x04, what
    ``frontier-verify witness keygen`` writes). Type 0x01, a plain Ed25519 note
    key, is accepted too, as the Go tooling (transparency-dev/formats
    ``NewSignerForCosignatureV1``) does; the cosignatures then carry the 0x04 key ID.
    Type 0x06 is an ML-DSA-44 seed (``witness keygen --mldsa``), which cosigns
    with tlog-cosignature's ``subtree/v1`` message.
    """
    text = text.strip()
    if not text.startswith("PRIVATE+KEY+"):
        raise FormatError("witness key must start with PRIVATE+KEY+")
    parts = text[len("PRIVATE+KEY+") :].split("+", 2)
    if len(parts) != 3:
        raise FormatError("witness key: expected PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    name, id_hex, b64 = parts
    check_key_name(name)
    raw = b64decode_strict(b64, what="witness key")
    if raw[:1] == bytes([ALG_MLDSA44]):
        return parse_mldsa_skey(text)
    if len(raw) != 33 or raw[0] not in (ALG_COSIGNATURE_V1, ALG_ED25519):
        raise FormatError("witness key: expected an Ed25519 seed of type 0x04 or 0x01")
    signer = CosignatureSigner.from_seed(name, raw[1:])
    pub = signer.verifier.public_key
    if key_id(name, raw[0], pub).hex() != id_hex:
        raise FormatError("witness key: key ID does not match the name and key")
    return signer


def witness_skey(signer: CosignatureSigner | MLDSA44Signer) -> str:
    """The ``PRIVATE+KEY+...`` line for a cosignature/v1 key (type 0x04) or an
    ML-DSA-44 key (type 0x06). Keep it secret."""
    if isinstance(signer, MLDSA44Signer):
        return signer.skey
    seed = signer.private_key.private_bytes_raw()
    raw = bytes([ALG_COSIGNATURE_V1]) + seed
    return f"PRIVATE+KEY+{signer.name}+{signer.key_id.hex()}+{b64encode(raw)}"


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogState:
    """What the witness remembers of one log: the latest checkpoint it cosigned."""

    size: int
    root: bytes
    #: The signed checkpoint note as it was submitted (evidence, if the log forks).
    checkpoint: bytes
    #: Timestamp (seconds) of the cosignature the witness made on it.
    timestamp: int


class WitnessStore(Protocol):
    """Durable per-origin state with an atomic read-decide-write step."""

    def update(self, origin: str, decide: Callable[[LogState | None], LogState]) -> LogState:
        """Call *decide* with the origin's current state while holding its lock.

        If *decide* returns, its result is written durably before the lock is
        released and returned. If it raises, nothing is written and the exception
        propagates.
        """
        ...

    def record_evidence(self, evidence: WitnessEvidence) -> None:
        """Keep a refused, validly signed checkpoint that may prove log misbehaviour."""
        ...


class MemoryStore:
    """A :class:`WitnessStore` in memory (tests, and the reference for the contract)."""

    def __init__(self, states: Mapping[str, LogState] | None = None) -> None:
        self.states: dict[str, LogState] = dict(states or {})
        self.evidence: list[WitnessEvidence] = []
        self._lock = threading.Lock()

    def update(self, origin: str, decide: Callable[[LogState | None], LogState]) -> LogState:
        with self._lock:
            new = decide(self.states.get(origin))
            self.states[origin] = new
            return new

    def record_evidence(self, evidence: WitnessEvidence) -> None:
        with self._lock:
            self.evidence.append(evidence)


# --- decision ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessEvidence:
    """A validly signed checkpoint the witness refused, next to the one it had cosigned.

    ``kind`` is ``"fork"`` when both are signed by the log for one size with two
    roots (that alone proves a split view), or ``"bad-proof"`` when the request's
    consistency proof did not verify (worth keeping; it proves nothing by itself,
    since anyone can pair a genuine checkpoint with a wrong proof).
    """

    kind: str
    origin: str
    old_size: int
    proof: tuple[bytes, ...]
    cosigned_checkpoint: bytes
    submitted_checkpoint: bytes
    detail: str

    @property
    def digest(self) -> str:
        """Names the evidence by the signed text submitted, so repeats are stored once.

        Only the log can sign a new text, so the number of distinct digests is bounded
        by what the log signed, whatever proofs or extra signature lines are sent.
        """
        text = parse_note(self.submitted_checkpoint).text
        return hashlib.sha256(f"{self.kind}\n{text}".encode()).hexdigest()

    def as_inconsistency(self) -> InconsistencyError:
        return InconsistencyError(
            self.detail,
            old_checkpoint=self.cosigned_checkpoint,
            new_checkpoint=self.submitted_checkpoint,
            proof=self.proof,
        )


@dataclass(frozen=True)
class WitnessResponse:
    """The HTTP answer to one ``add-checkpoint`` request."""

    status: int
    body: bytes
    content_type: str = TEXT_CONTENT_TYPE
    #: Set when a validly signed checkpoint was refused in a way worth keeping.
    evidence: WitnessEvidence | None = None
    #: On 200, the state the witness committed to before answering.
    state: LogState | None = None


def _refused(refusal: Refusal) -> WitnessResponse:
    """The answer a :class:`verifier.errors.Refusal` carries, with its evidence (if any)."""
    evidence = refusal.evidence if isinstance(refusal.evidence, WitnessEvidence) else None
    return WitnessResponse(refusal.status, refusal.body, refusal.content_type, evidence)


def _conflict(stored_size: int, message: str, evidence: WitnessEvidence | None = None) -> Refusal:
    # "The response body MUST consist of the tree size of the latest cosigned
    # checkpoint in decimal, followed by a newline (U+000A). The response MUST have
    # a Content-Type of text/x.tlog.size."
    return Refusal(
        409,
        message,
        body=f"{stored_size}\n".encode(),
        content_type=SIZE_CONTENT_TYPE,
        evidence=evidence,
    )


@dataclass
class Witness:
    """A tlog-witness: its cosigning key, the logs it accepts, and its state."""

    signer: Cosigner
    config: WitnessConfig
    store: WitnessStore
    clock: Callable[[], float] = field(default=time.time)

    @property
    def name(self) -> str:
        return self.signer.name

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        """Answer one ``add-checkpoint`` request body (never raises for bad input)."""
        try:
            return self._add_checkpoint(body)
        except Refusal as refusal:
            response = _refused(refusal)
            if response.evidence is not None:
                self.store.record_evidence(response.evidence)
            return response

    def _add_checkpoint(self, body: bytes) -> WitnessResponse:
        try:
            req = parse_add_checkpoint(body)
            note = parse_note(req.checkpoint)
        except FormatError as exc:
            raise Refusal(400, f"malformed request: {exc}") from None
        origin = note.text.split("\n", 1)[0]
        keys = self.config.logs.get(origin)
        if keys is None:
            raise Refusal(404, f"unknown log origin {origin[:100]!r}")
        try:
            # Signatures by unknown keys are ignored; a known key whose signature
            # fails rejects the note; no verified known key rejects it too.
            verify_note(req.checkpoint, keys)
        except SignatureError as exc:
            raise Refusal(403, f"checkpoint signature: {exc}") from None
        try:
            cp = parse_checkpoint(note.text)
        except FormatError as exc:
            raise Refusal(400, f"malformed checkpoint: {exc}") from None
        if req.old_size > cp.size:
            raise Refusal(400, f"old size {req.old_size} is larger than the checkpoint size")
        try:
            # An ML-DSA-44 witness cannot cover extension lines (tlog-cosignature):
            # refuse before the state moves, not after.
            self.signer.covers(note.text)
        except FormatError as exc:
            raise Refusal(400, f"cannot cosign this checkpoint: {exc}") from None

        def decide(state: LogState | None) -> LogState:
            return self._decide(req, cp, state)

        new = self.store.update(origin, decide)
        cosig = self.signer.cosign(note.text, new.timestamp)
        return WitnessResponse(200, cosig.line.encode(), TEXT_CONTENT_TYPE, state=new)

    def _decide(
        self, req: AddCheckpointRequest, cp: Checkpoint, state: LogState | None
    ) -> LogState:
        """Runs under the store's lock: compare with the stored state; refuse or advance."""
        # A log never cosigned is the empty tree: size 0, the empty root.
        size = state.size if state else 0
        root = state.root if state else EMPTY_ROOT
        cosigned = state.checkpoint if state else b""
        if req.old_size != size:
            raise _conflict(size, f"old size {req.old_size} is not the witnessed size {size}")
        if cp.size == size and cp.root != root:
            # "If the old size matches the checkpoint size, the witness MUST check that
            # the root hashes are also identical. If they don't match, the witness MUST
            # respond with a "409 Conflict" HTTP status code."
            evidence = None
            if state is not None:
                evidence = WitnessEvidence(
                    "fork",
                    cp.origin,
                    req.old_size,
                    req.proof,
                    cosigned,
                    req.checkpoint,
                    f"fork: the log signed two roots for size {size}",
                )
            raise _conflict(size, f"a different root for the witnessed size {size}", evidence)
        try:
            verify_consistency(size, cp.size, root, cp.root, req.proof)
        except (ProofError, FormatError) as exc:
            evidence = None
            if state is not None:
                evidence = WitnessEvidence(
                    "bad-proof",
                    cp.origin,
                    req.old_size,
                    req.proof,
                    cosigned,
                    req.checkpoint,
                    f"consistency proof from {size} to {cp.size} failed: {exc}",
                )
            raise Refusal(422, f"consistency proof: {exc}", evidence=evidence) from None
        now = int(self.clock())
        ts = max(now, state.timestamp if state else 0)
        if not 0 <= ts <= MAX_TIMESTAMP:
            raise Refusal(500, "the witness clock is out of range")
        return LogState(cp.size, cp.root, req.checkpoint, ts)
