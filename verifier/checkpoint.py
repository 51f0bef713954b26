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

from collections.abc import Iterable
from dataclasses import dataclass

from verifier.encoding import b64decode_strict, b64encode, parse_decimal
from verifier.errors import FormatError, SignatureError
from verifier.merkle import HASH_SIZE
from verifier.note import NoteVerifier, VerifiedNote, verify_note

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
    log_key: NoteVerifier,
    *,
    other_keys: Iterable[NoteVerifier] = (),
) -> SignedCheckpoint:
    """Verify a signed checkpoint: the log key must sign it, and the origin must be its name.

    *other_keys* (e.g. witnesses' cosignature keys) are checked if present but are
    not enough on their own; quorum rules are the caller's (tlog-policy).
    """
    verified = verify_note(data, [log_key, *other_keys])
    if not verified.signed_by(log_key):
        raise SignatureError(f"checkpoint is not signed by the log key {log_key.name}")
    checkpoint = parse_checkpoint(verified.text)
    if checkpoint.origin != log_key.name:
        raise FormatError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key's name {log_key.name!r}"
        )
    return SignedCheckpoint(checkpoint, verified, data)
