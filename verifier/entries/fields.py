"""Field kinds for payloads: one definition drives strict parsing and the JSON Schema.

A payload is a frozen dataclass whose fields are annotated with a :class:`Spec`,
e.g. ``planned_flop: Annotated[str, FLOP]``. :mod:`verifier.entries.codec`
walks those annotations to parse JSON strictly and to generate the schema, so
the two can never disagree.

Numbers that can exceed 2**53 (FLOP, parameters) are decimal strings:
``"300000000000000000000000000"`` or ``"3e26"`` (FORMATS.md "Payload"); times
are RFC 3339 UTC with a ``Z``; references are log indices.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from verifier.errors import FormatError

#: Largest FLOP count we accept: far beyond any plausible run (1e40).
MAX_FLOP = 10**40
MAX_INDEX = 2**63 - 1


@dataclass(frozen=True)
class Spec:
    """How a field is checked and described."""

    kind: str
    description: str = ""
    max_len: int = 200
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()  # for kind "index": the entry types it may point to
    pattern: str | None = None


_FLOP = re.compile(r"(?:[1-9][0-9]{0,40}|0)|(?:[1-9](?:\.[0-9]{1,20})?e[1-9][0-9]?)")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTHDAY = re.compile(r"\d{2}-\d{2}")
_IDENT = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,9})?")
_ROLE = re.compile(
    r"(?:board|regulator|evaluator|log|(?:lab|contester):[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?)"
)

PATTERNS = {
    "flop": _FLOP.pattern,
    "time": _TIME.pattern,
    "date": _DATE.pattern,
    "monthday": _MONTHDAY.pattern,
    "ident": _IDENT.pattern,
    "hex64": _HEX64.pattern,
    "decimal": _DECIMAL.pattern,
    "role": _ROLE.pattern,
}


def parse_flop(text: str, what: str) -> int:
    """A non-negative integral FLOP count written as a decimal string."""
    if not isinstance(text, str) or not _FLOP.fullmatch(text):
        raise FormatError(f'{what}: {str(text)[:40]!r} is not a decimal FLOP string such as "3e26"')
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise FormatError(f"{what}: not a number") from None
    if value != value.to_integral_value():
        raise FormatError(f"{what}: {text} is not a whole number of FLOP")
    n = int(value)
    if n > MAX_FLOP:
        raise FormatError(f"{what}: {text} is larger than 1e40")
    return n


def parse_time(text: str, what: str) -> int:
    """RFC 3339 UTC time with ``Z`` → milliseconds since the epoch."""
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise FormatError(
            f"{what}: {str(text)[:40]!r} is not an RFC 3339 UTC time like 2027-01-04T09:00:00Z"
        )
    try:
        base = dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise FormatError(f"{what}: {text} is not a valid date and time") from None
    frac = text[20:-1] if len(text) > 20 else ""
    ms = int((frac + "000")[:3]) if frac else 0
    return int(base.timestamp()) * 1000 + ms


def parse_date(text: str, what: str) -> dt.date:
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        raise FormatError(f"{what}: {str(text)[:40]!r} is not a date like 2027-01-01")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FormatError(f"{what}: {text} is not a valid date") from None


def parse_monthday(text: str, what: str) -> tuple[int, int]:
    if not isinstance(text, str) or not _MONTHDAY.fullmatch(text):
        raise FormatError(f"{what}: {str(text)[:40]!r} is not a month-day like 06-30")
    month, day = int(text[:2]), int(text[3:])
    try:
        dt.date(2000, month, day)  # a leap year: 02-29 is a valid calendar day
    except ValueError:
        raise FormatError(f"{what}: {text} is not a valid month-day") from None
    return month, day


def check_str(value: object, spec: Spec, what: str) -> str:
    if not isinstance(value, str):
        raise FormatError(f"{what}: expected a string")
    if len(value) > spec.max_len:
        raise FormatError(f"{what}: longer than {spec.max_len} characters")
    kind = spec.kind
    if kind == "text":
        if any(ord(c) < 0x20 and c not in "\n\t" for c in value):
            raise FormatError(f"{what}: contains control characters")
    elif kind == "enum":
        if value not in spec.choices:
            raise FormatError(f"{what}: {value[:40]!r} is not one of {', '.join(spec.choices)}")
    elif kind == "flop":
        parse_flop(value, what)
    elif kind == "time":
        parse_time(value, what)
    elif kind == "date":
        parse_date(value, what)
    elif kind == "monthday":
        parse_monthday(value, what)
    elif kind in PATTERNS:
        if not re.fullmatch(PATTERNS[kind], value):
            raise FormatError(f"{what}: {value[:40]!r} is not a valid {kind}")
    elif kind == "b64key":
        from verifier.encoding import b64decode_strict

        b64decode_strict(value, what=what, length=32)
    else:  # pragma: no cover - a programming error in a payload definition
        raise AssertionError(f"unknown string kind {kind}")
    return value


def check_int(value: object, spec: Spec, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{what}: expected an integer")
    lo = spec.minimum if spec.minimum is not None else 0
    hi = spec.maximum if spec.maximum is not None else MAX_INDEX
    if not lo <= value <= hi:
        raise FormatError(f"{what}: {value} is not in {lo}..{hi}")
    return value


# Reusable specs -----------------------------------------------------------------

TEXT = Spec("text", "free text", max_len=2000)
NAME = Spec("text", "a name", max_len=200)
IDENT = Spec("ident", "lower-case identifier: letters, digits, '.', '_' and '-'", max_len=64)
FLOP = Spec("flop", 'training compute in FLOP, a decimal string ("3e26")', max_len=48)
TIME = Spec("time", "RFC 3339 UTC time with Z", max_len=40)
DATE = Spec("date", "calendar date YYYY-MM-DD", max_len=10)
MONTHDAY = Spec("monthday", "month and day MM-DD", max_len=5)
LEVEL = Spec("int", "compute level (generation)", minimum=0, maximum=63)
DAYS = Spec("int", "a number of days", minimum=0, maximum=3650)
YEAR = Spec("int", "a cycle, named by the year of its lift date", minimum=2000, maximum=2999)
COUNT = Spec("int", "a count", minimum=0, maximum=10**9)
DIGEST = Spec("hex64", "SHA-256, 64 lower-case hex digits", max_len=64)
KEYID = Spec("hex64", "hex SHA-256 of the raw Ed25519 public key", max_len=64)
PUBKEY = Spec("b64key", "Ed25519 public key, 32 bytes, standard base64", max_len=44)
DECIMAL = Spec("decimal", "a non-negative decimal string", max_len=20)
ROLE = Spec("role", "board, regulator, evaluator, log, lab:<org> or contester:<org>", max_len=80)


def index_ref(*types: str, description: str = "") -> Spec:
    return Spec("index", description or f"log index of a {' or '.join(types)} entry", refs=types)


def enum(*choices: str, description: str = "") -> Spec:
    return Spec("enum", description, max_len=64, choices=choices)
