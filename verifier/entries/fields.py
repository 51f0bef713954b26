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
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache

from verifier.core.leaf import utc_ms
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
# [0-9], not \d: \d also matches other scripts' digits, which would give a
# signed time a second spelling (and disagree with the JSON Schema's \d).
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTHDAY = re.compile(r"[0-9]{2}-[0-9]{2}")
_IDENT = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,8})(?:\.[0-9]{1,9})?")
_ROLE = re.compile(
    r"(?:board|regulator|evaluator|log"
    r"|(?:lab|contester|compute|observer):[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?)"
)
# C2SP signed-note vkeys, by shape: <name>+<8 hex>+<base64(type || key)>. Ed25519:
# 33 bytes, 44 base64 characters; ML-DSA-44: 1313 bytes, 1751 characters and "=".
# The key itself (type byte, key ID, name) is checked when the entry is replayed.
_VKEY = re.compile(r"[^+\s]{1,255}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}")
_MLDSA_VKEY = re.compile(r"[^+\s]{1,255}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{1751}=")
_KEYHASH = re.compile(r"[0-9a-f]{8}")

PATTERNS = {
    "flop": _FLOP.pattern,
    "time": _TIME.pattern,
    "date": _DATE.pattern,
    "monthday": _MONTHDAY.pattern,
    "ident": _IDENT.pattern,
    "hex64": _HEX64.pattern,
    "decimal": _DECIMAL.pattern,
    "role": _ROLE.pattern,
    "vkey": _VKEY.pattern,
    "mldsa_vkey": _MLDSA_VKEY.pattern,
    "keyhash": _KEYHASH.pattern,
}


def parse_flop(text: str, what: str) -> int:
    """A non-negative integral FLOP count written as a decimal string."""
    n = _flop_value(text) if isinstance(text, str) else None
    return n if n is not None else _parse_flop(text, what)


@lru_cache(maxsize=1024)
def _flop_value(text: str) -> int | None:
    """parse_flop's value, None if it raises (cached: plans and reports repeat sizes)."""
    try:
        return _parse_flop(text, "")
    except FormatError:
        return None


def _parse_flop(text: str, what: str) -> int:
    if not isinstance(text, str) or not _FLOP.fullmatch(text):
        raise FormatError(f'{what}: {str(text)[:40]!r} is not a decimal FLOP string such as "3e26"')
    if "e" not in text:  # the plain form: the regex admits only ASCII digits
        n = int(text)
        if n > MAX_FLOP:
            raise FormatError(f"{what}: {text} is larger than 1e40")
        return n
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
    ms = _time_value(text) if isinstance(text, str) else None
    return ms if ms is not None else _parse_time(text, what)


@lru_cache(maxsize=4096)
def _time_value(text: str) -> int | None:
    """parse_time's value, None if it raises (cached: times repeat across entries)."""
    try:
        return _parse_time(text, "")
    except FormatError:
        return None


def _parse_time(text: str, what: str) -> int:
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        raise FormatError(
            f"{what}: {str(text)[:40]!r} is not an RFC 3339 UTC time like 2027-01-04T09:00:00Z"
        )
    try:
        base = utc_ms(text)
    except ValueError:
        raise FormatError(f"{what}: {text} is not a valid date and time") from None
    frac = text[20:-1] if len(text) > 20 else ""
    ms = int((frac + "000")[:3]) if frac else 0
    return base + ms


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


#: Control characters free text may not hold: below U+0020, except tab and newline.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
_COMPILED = {
    "flop": _FLOP,
    "time": _TIME,
    "date": _DATE,
    "monthday": _MONTHDAY,
    "ident": _IDENT,
    "hex64": _HEX64,
    "decimal": _DECIMAL,
    "role": _ROLE,
    "vkey": _VKEY,
    "mldsa_vkey": _MLDSA_VKEY,
    "keyhash": _KEYHASH,
}


def check_str(value: object, spec: Spec, what: str) -> str:
    return str_checker(spec)(value, what)


def check_int(value: object, spec: Spec, what: str) -> int:
    return int_checker(spec)(value, what)


@cache
def str_checker(spec: Spec) -> Callable[[object, str], str]:
    """The check of a string field with *spec*, specialised once per spec.

    The type, then the length, then the kind's own check, as :func:`check_str`.
    """
    kind, max_len = spec.kind, spec.max_len
    if kind == "text":
        search = _CONTROL.search

        def text(value: object, what: str) -> str:
            if not isinstance(value, str):
                raise FormatError(f"{what}: expected a string")
            if len(value) > max_len:
                raise FormatError(f"{what}: longer than {max_len} characters")
            # Printable text holds no control character; only other text is searched.
            if not value.isprintable() and search(value):
                raise FormatError(f"{what}: contains control characters")
            return value

        return text
    if kind == "enum":
        choices = frozenset(spec.choices)
        listed = ", ".join(spec.choices)

        def one_of(value: object, what: str) -> str:
            if not isinstance(value, str):
                raise FormatError(f"{what}: expected a string")
            if len(value) > max_len:
                raise FormatError(f"{what}: longer than {max_len} characters")
            if value not in choices:
                raise FormatError(f"{what}: {value[:40]!r} is not one of {listed}")
            return value

        return one_of
    if kind in _COMPILED and kind not in _PARSED:
        fullmatch = _fullmatch(kind)

        def matching(value: object, what: str) -> str:
            if not isinstance(value, str):
                raise FormatError(f"{what}: expected a string")
            if len(value) > max_len:
                raise FormatError(f"{what}: longer than {max_len} characters")
            if not fullmatch(value):
                raise FormatError(f"{what}: {value[:40]!r} is not a valid {kind}")
            return value

        return matching
    check: Callable[[str, str], object]
    if kind in _PARSED:
        check = _PARSED[kind]
    elif kind == "b64key":
        from verifier.core.encoding import b64decode_strict

        def check(value: str, what: str) -> object:
            return b64decode_strict(value, what=what, length=32)

    else:  # pragma: no cover - a programming error in a payload definition

        def check(value: str, what: str) -> object:
            raise AssertionError(f"unknown string kind {kind}")

    def parsed(value: object, what: str) -> str:
        if not isinstance(value, str):
            raise FormatError(f"{what}: expected a string")
        if len(value) > max_len:
            raise FormatError(f"{what}: longer than {max_len} characters")
        check(value, what)
        return value

    return parsed


@cache
def _fullmatch(kind: str) -> Callable[[str], object]:
    """The pattern of *kind*, matched whole (cached: identifiers, digests and key ids
    recur from entry to entry)."""
    return lru_cache(maxsize=1024)(_COMPILED[kind].fullmatch)


def str_accepts(spec: Spec) -> Callable[[str], object] | None:
    """A quick test of a string no longer than ``spec.max_len``: true only for a value
    the check of :func:`str_checker` accepts unchanged (None: no such test, call the check).

    For the compiled payload parser (:mod:`verifier.entries.codec`), which calls the full
    check only when this says no; so it may say no to a good value, never yes to a bad one.
    """
    kind = spec.kind
    if kind == "text":
        return str.isprintable  # no character below U+0020 at all: none to refuse
    if kind in _COMPILED and kind not in _PARSED:
        return _fullmatch(kind)
    if kind == "flop":
        return _flop_value  # None (false) exactly when parse_flop raises
    if kind == "time":
        return _time_value  # an int; 0 (1970-01-01T00:00:00Z) only takes the long way
    return None


#: String kinds checked by parsing them (the pattern alone is not enough).
_PARSED: dict[str, Callable[[str, str], object]] = {
    "flop": parse_flop,
    "time": parse_time,
    "date": parse_date,
    "monthday": parse_monthday,
}


@cache
def int_checker(spec: Spec) -> Callable[[object, str], int]:
    """The check of an integer field with *spec*, specialised once per spec."""
    lo = spec.minimum if spec.minimum is not None else 0
    hi = spec.maximum if spec.maximum is not None else MAX_INDEX

    def checker(value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormatError(f"{what}: expected an integer")
        if not lo <= value <= hi:
            raise FormatError(f"{what}: {value} is not in {lo}..{hi}")
        return value

    return checker


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
ROLE = Spec(
    "role",
    "board, regulator, evaluator, log, lab:<org>, contester:<org>, compute:<org> or observer:<org>",
    max_len=80,
)
LOG_VKEY = Spec(
    "vkey",
    "the log's Ed25519 verifier key (C2SP signed-note vkey, type 0x01, named by the origin)",
    max_len=320,
)
MLDSA_VKEY = Spec(
    "mldsa_vkey",
    "the log's ML-DSA-44 verifier key (C2SP tlog-cosignature vkey, type 0x06)",
    max_len=2020,
)
KEYHASH = Spec("keyhash", "a signed-note key hash (key ID): 8 lower-case hex digits", max_len=8)


def index_ref(*types: str, description: str = "") -> Spec:
    return Spec("index", description or f"log index of a {' or '.join(types)} entry", refs=types)


def enum(*choices: str, description: str = "") -> Spec:
    return Spec("enum", description, max_len=64, choices=choices)
