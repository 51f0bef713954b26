"""Strict encodings shared by every parser: canonical decimals and canonical base64.

Signed data is parsed strictly (STYLE.md, habit 2): a number has exactly one
spelling (``0|[1-9][0-9]*``, ASCII only, no sign, no ``_``, no spaces), and base64 is
accepted only if it re-encodes to exactly the same text, which rules out missing
padding, non-zero unused bits and characters outside the standard alphabet.
"""

from __future__ import annotations

import base64
import binascii
import re

from verifier.errors import FormatError

#: Largest integer a decimal field may hold: tree sizes and indices are uint64 in
#: the C2SP specs (tlog-checkpoint, tlog-tiles).
MAX_UINT64 = 2**64 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def parse_decimal(text: str, *, what: str, maximum: int = MAX_UINT64) -> int:
    """Parse a canonical unsigned decimal (``0|[1-9][0-9]*``) no larger than *maximum*.

    Python's ``int()`` accepts ``" 5"``, ``"+5"``, ``"5_0"`` and ``"٥"``; this does not.
    """
    if not _DECIMAL.fullmatch(text) or not text.isascii():
        raise FormatError(f"{what}: {text[:40]!r} is not a canonical decimal number")
    value = int(text)
    if value > maximum:
        raise FormatError(f"{what}: {value} is larger than the maximum {maximum}")
    return value


def b64decode_strict(text: str, *, what: str, length: int | None = None) -> bytes:
    """Decode standard, padded base64 that re-encodes to exactly *text*.

    If *length* is given, the decoded value must have exactly that many bytes.
    """
    if not text.isascii() or len(text) % 4:
        raise FormatError(f"{what}: not canonical padded base64")
    try:
        # strict_mode: only the standard alphabet, padding only at the end, nothing after it.
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"{what}: invalid base64 ({exc})") from None
    # Only a padded last quantum has unused bits; it is canonical iff it re-encodes to itself.
    if text.endswith("="):
        tail = raw[-(len(raw) % 3) :]
        if binascii.b2a_base64(tail, newline=False) != text[-4:].encode():
            raise FormatError(f"{what}: base64 is not canonical (non-zero unused bits)")
    if length is not None and len(raw) != length:
        raise FormatError(f"{what}: expected {length} bytes, got {len(raw)}")
    return raw


def b64encode(raw: bytes) -> str:
    """Standard padded base64, as every C2SP format writes it."""
    return base64.b64encode(raw).decode("ascii")
