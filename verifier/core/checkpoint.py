"""C2SP tlog-checkpoint v1.0.0: the signed statement of a log's size and root.

Body (the note text)::

    <origin>\\n
    <tree size, decimal, no leading zeros>\\n
    <base64 root hash>\\n
    [<extension line>\\n ...]

Parsed strictly: canonical decimal (``0|[1-9][0-9]*``), padded base64 that
re-encodes to the same text, exactly 32 bytes of root, no empty lines.
Our log writes no extension lines (governance facts live in entries), but a
verifier accepts them as the spec says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verifier.core.encoding import b64decode_strict, b64encode, parse_decimal
from verifier.core.merkle import HASH_SIZE
from verifier.core.note import NoteVerifier, VerifiedNote, key_label, verify_note
from verifier.errors import (
    CosignatureError,
    FormatError,
    MissingSignatureError,
    RetiredKeyError,
    SignatureError,
    UnknownKeyError,
)

#: Origins are URL prefixes without a scheme; keep them to a sane length.
MAX_ORIGIN_LENGTH = 255
MAX_EXTENSION_LINES = 16


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint body: origin, tree size, root hash and any extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "\n".join(lines) + "\n"


def check_origin(origin: str) -> None:
    """An origin is a non-empty line of printable characters without white space."""
    if not origin or len(origin) > MAX_ORIGIN_LENGTH:
        raise FormatError(f"checkpoint origin must be 1..{MAX_ORIGIN_LENGTH} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in origin) or "+" in origin:
        raise FormatError(
            "checkpoint origin must not contain white space, control characters or '+'"
        )


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint body (the text of the note) strictly."""
    if not text.endswith("\n"):
        raise FormatError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise FormatError("checkpoint needs an origin, a size and a root hash line")
    origin, size_line, root_line, *extensions = lines
    check_origin(origin)
    size = parse_decimal(size_line, what="checkpoint tree size")
    root = b64decode_strict(root_line, what="checkpoint root hash", length=HASH_SIZE)
    if len(extensions) > MAX_EXTENSION_LINES:
        raise FormatError(f"checkpoint has more than {MAX_EXTENSION_LINES} extension lines")
    for ext in extensions:
        if not ext:
            raise FormatError("checkpoint has an empty extension line")
    return Checkpoint(origin, size, root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose note verified under the log's key, with the exact note bytes."""

    checkpoint: Checkpoint
    note: VerifiedNote
    raw: bytes

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root

    @property
    def origin(self) -> str:
        return self.checkpoint.origin


def open_checkpoint(
    data: bytes,
    log_key: NoteVerifier | Sequence[NoteVerifier],
    *,
    other_keys: Iterable[NoteVerifier] = (),
    require_one_of: Sequence[NoteVerifier] = (),
    retired: Sequence[NoteVerifier] = (),
) -> SignedCheckpoint:
    """Verify a signed checkpoint: a log key must sign it, and the origin must be its name.

    *log_key* is the log's key, or several (a key rotation's old and new keys, an
    Ed25519 and an ML-DSA-44 key): as C2SP tlog-policy says of ``log`` lines, a
    valid signature by any one of them suffices, and every known key's signature
    that is present must verify (signed-note). *other_keys* (e.g. witnesses'
    cosignature keys) are checked if present but are not enough on their own;
    quorum rules are the caller's (tlog-policy).

    *require_one_of*: keys of which at least one must have signed validly — the
    log's ML-DSA-44 key when the auditor requires post-quantum signatures —
    else :class:`MissingSignatureError`. *retired*: log keys that a logged key
    change retired; a note signed only by them fails with :class:`RetiredKeyError`.
    """
    given: tuple[NoteVerifier, ...] = (
        tuple(log_key) if isinstance(log_key, Sequence) else (log_key,)
    )
    if not given:
        raise ValueError("open_checkpoint needs at least one log key")
    retired_ids = {(k.name, k.key_id) for k in retired}
    log_keys = tuple(k for k in given if (k.name, k.key_id) not in retired_ids)
    if not log_keys:
        raise RetiredKeyError(
            "every log key this verifier trusts was retired by a logged key change "
            f"({', '.join(key_label(k) for k in given)}); give the log's current vkey"
        )
    bad_cosignature: CosignatureError | None = None
    try:
        verified = verify_note(data, [*log_keys, *require_one_of], cosigners=other_keys)
    except UnknownKeyError as exc:
        _explain_unknown(exc, log_keys, retired)
        raise
    except CosignatureError as exc:
        # Judged after the log's own checks below: only if they pass is this the
        # witnesses' fault rather than the log's.
        if not isinstance(exc.verified, VerifiedNote):
            raise
        verified, bad_cosignature = exc.verified, exc
    signers = [k for k in log_keys if verified.signed_by(k)]
    if not signers:
        trusted = ", ".join(key_label(k) for k in log_keys)
        raise SignatureError(f"checkpoint is not signed by the log key ({trusted})")
    checkpoint = parse_checkpoint(verified.text)
    if all(checkpoint.origin != k.name for k in signers):
        raise FormatError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key's name {signers[0].name!r}"
        )
    if require_one_of and not any(verified.signed_by(k) for k in require_one_of):
        wanted = ", ".join(key_label(k) for k in require_one_of)
        raise MissingSignatureError(
            f"checkpoint of size {checkpoint.size} carries no valid signature by the "
            f"required key ({wanted}); it was required, so the checkpoint is refused"
        )
    if bad_cosignature is not None:
        raise CosignatureError(
            f"checkpoint of size {checkpoint.size}: {bad_cosignature}; the log's own "
            f"signature ({', '.join(key_label(k) for k in signers)}) does verify",
            witness=bad_cosignature.witness,
        )
    return SignedCheckpoint(checkpoint, verified, data)


def _explain_unknown(
    exc: UnknownKeyError, log_keys: Sequence[NoteVerifier], retired: Sequence[NoteVerifier]
) -> None:
    """Turn "no trusted key signed" into what an auditor can act on; raise it."""
    old = {f"{k.name}+{k.key_id.hex()}": k for k in retired}
    by_retired = [old[u] for u in exc.unknown if u in old]
    if by_retired:
        raise RetiredKeyError(
            "checkpoint is signed only by log key(s) "
            f"{', '.join(key_label(k) for k in by_retired)}, which a logged key change "
            "retired: it is not accepted any more"
        ) from None
    trusted = ", ".join(key_label(k) for k in log_keys)
    unknown = ", ".join(exc.unknown) or "none"
    raise UnknownKeyError(
        f"checkpoint is not signed by any log key this verifier trusts ({trusted}); it is "
        f"signed by unknown key(s) {unknown}. If the log rotated its key, obtain the new "
        "vkey from a source you trust (not the log's server), or verify with a --state "
        "directory that followed the rotation during its overlap period",
        unknown=exc.unknown,
    ) from None
