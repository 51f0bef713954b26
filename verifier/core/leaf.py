"""The log's leaf format and the DSSE envelope's shape (FORMATS.md, "Leaf" and "Envelope").

A leaf is UTF-8 JSON written once by the sequencer, sorted keys, no insignificant
white space, at most 65,535 bytes (it must fit an entry bundle's uint16 length)::

    {"envelope": {DSSE}, "logged_at": "2027-01-04T09:00:00.123Z", "v": 1}

The envelope is DSSE v1::

    {"payload": "<base64>", "payloadType": "application/vnd.frontier-ledger.<type>.v1+json",
     "signatures": [{"keyid": "<hex SHA-256 of the raw Ed25519 key>", "sig": "<base64>"}]}

Each ``sig`` is a 64-byte Ed25519 signature over the DSSE v1 pre-authentication
encoding (:func:`pae`; lengths in ASCII decimal, SP a single space)::

    "DSSEv1" SP len(payloadType) SP payloadType SP len(payload) SP payload

JSON is RFC 8259 read strictly (:func:`loads_strict`): UTF-8 only, no duplicate
keys, no NaN or Infinity, no string escaping a lone surrogate. Caps:
:data:`MAX_LEAF_SIZE` bytes, :data:`MAX_SIGNATURES` signatures,
:data:`MAX_PAYLOAD_TYPE_LENGTH` characters of ``payloadType``.

This module checks shape only; signatures and key roles are checked by the
entries layer against the key set replayed from the log.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from verifier.core.encoding import b64decode_strict, b64encode
from verifier.core.frozen import build
from verifier.errors import FormatError

MAX_LEAF_SIZE = 65_535
LEAF_VERSION = 1
#: A quorum of board members rarely exceeds a handful; 16 bounds the work per entry.
MAX_SIGNATURES = 16
MAX_PAYLOAD_TYPE_LENGTH = 128

PAYLOAD_TYPE = re.compile(
    r"application/vnd\.frontier-ledger\.([a-z][a-z0-9_]{0,63})\.v([1-9][0-9]{0,3})\+json"
)
_KEYID = re.compile(r"[0-9a-f]{64}")
_LOGGED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_LEAF_KEYS = frozenset(("envelope", "logged_at", "v"))
_ENVELOPE_KEYS = frozenset(("payload", "payloadType", "signatures"))
_SIGNATURE_KEYS = frozenset(("keyid", "sig"))


@dataclass(frozen=True)
class EnvelopeSignature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope whose shape was checked; ``payload`` is the decoded bytes."""

    payload: bytes
    payload_type: str
    signatures: tuple[EnvelopeSignature, ...]
    entry_type: str
    type_version: int

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C; a duplicate key shows as a shorter dict
    if len(out) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise FormatError(f"duplicate JSON key {k[:40]!r}")
            seen.add(k)
    return out


def _reject_constant(name: str) -> Any:
    raise FormatError(f"JSON constant {name} is not allowed")


_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
#: The decoder's scanner: ``_DECODER.decode`` is this, between two white-space matches.
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # set in __init__, untyped


_BINARY = (bytes, bytearray)


def loads_strict(data: bytes | str, *, what: str) -> Any:
    """``json.loads`` that rejects duplicate keys, NaN/Infinity, anything but UTF-8 and
    lone surrogates.

    Bytes are decoded as strict UTF-8 first: ``json.loads`` would also guess
    UTF-16/32 and let through lone surrogates, so two verifiers could read the
    same leaf differently (RFC 8259 §8.1: JSON exchanged between systems is UTF-8).
    An escaped lone surrogate (``"\\ud800"``) is refused too: it is no Unicode
    character, parsers disagree on what it reads as (RFC 8259 §8.2), and it has no
    UTF-8 to store, index or show it in.
    """
    if isinstance(data, _BINARY):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what}: not valid UTF-8 (byte {exc.start})") from None
    try:
        # Text that starts with a value and ends where it ends is all that a log holds;
        # decode() itself (white space, "Expecting value", "Extra data") reads the rest.
        try:
            obj, end = _SCAN(data, 0)
        except StopIteration:
            end = -1
        if end != len(data):
            obj = _DECODER.decode(data)
    except FormatError as exc:
        raise FormatError(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{what}: not valid JSON ({str(exc)[:120]})") from None
    # Valid UTF-8 holds no surrogate: only a \u escape can have made one.
    if "\\u" in data and _has_lone_surrogate(obj):
        raise FormatError(f"{what}: a string escapes a lone surrogate (not a Unicode character)")
    return obj


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _has_lone_surrogate(obj: Any) -> bool:
    """Whether any string (key or value) of a decoded JSON value holds a surrogate
    (a pair of escapes decodes to one astral character, so any left is lone)."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_envelope(obj: Any) -> Envelope:
    """Check a decoded DSSE envelope's shape and return it typed."""
    if not isinstance(obj, dict):
        raise FormatError("envelope must be a JSON object")
    if obj.keys() != _ENVELOPE_KEYS:
        keys = set(obj)
        missing = {"payload", "payloadType", "signatures"} - keys
        extra = keys - {"payload", "payloadType", "signatures"}
        raise FormatError(
            "envelope must have exactly payload, payloadType and signatures"
            + (f"; missing {sorted(missing)}" if missing else "")
            + (f"; unexpected {sorted(extra)[:5]}" if extra else "")
        )
    payload_type = obj["payloadType"]
    if not isinstance(payload_type, str) or len(payload_type) > MAX_PAYLOAD_TYPE_LENGTH:
        raise FormatError("envelope payloadType must be a short string")
    m = PAYLOAD_TYPE.fullmatch(payload_type)
    if not m:
        raise FormatError(
            f"envelope payloadType {payload_type[:80]!r} is not "
            "application/vnd.frontier-ledger.<type>.v<N>+json"
        )
    if not isinstance(obj["payload"], str):
        raise FormatError("envelope payload must be a base64 string")
    payload = b64decode_strict(obj["payload"], what="envelope payload")
    sigs = obj["signatures"]
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
        raise FormatError(f"envelope needs 1..{MAX_SIGNATURES} signatures")
    parsed: list[EnvelopeSignature] = []
    for i, s in enumerate(sigs):
        if not isinstance(s, dict) or s.keys() != _SIGNATURE_KEYS:
            raise FormatError(f"envelope signature {i} must have exactly keyid and sig")
        keyid, sig = s["keyid"], s["sig"]
        if not isinstance(keyid, str) or not _KEYID.fullmatch(keyid):
            raise FormatError(f"envelope signature {i}: keyid must be 64 lowercase hex digits")
        if not isinstance(sig, str):
            raise FormatError(f"envelope signature {i}: sig must be a base64 string")
        parsed.append(
            EnvelopeSignature(keyid, b64decode_strict(sig, what=f"signature {i}", length=64))
        )
    if len({s.keyid for s in parsed}) != len(parsed):
        raise FormatError("envelope has two signatures with the same keyid")
    return Envelope(payload, payload_type, tuple(parsed), m.group(1), int(m.group(2)))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, the bytes that are signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def format_logged_at(ms: int) -> str:
    """UTC milliseconds since the epoch → ``2027-01-04T09:00:00.123Z``.

    Four digits of year always (``isoformat``; ``strftime("%Y")`` writes year 3 as
    ``3`` on glibc, which is no RFC 3339).
    """
    t = dt.datetime.fromtimestamp(ms // 1000, tz=dt.UTC).replace(tzinfo=None)
    return t.isoformat(timespec="seconds") + f".{ms % 1000:03d}Z"


def utc_datetime(text: str) -> dt.datetime:
    """The UTC ``YYYY-MM-DDTHH:MM:SS`` that *text* starts with.

    The caller has matched *text* against its strict pattern (``logged_at`` here, RFC 3339
    times in :mod:`verifier.entries.fields`), so the digits are where this reads them.

    ``ValueError`` for a date or time that does not exist (year 0, month 13,
    31 April, 29 February of a common year, hour 24, minute 60, second 60 or 61),
    exactly as ``datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")``.
    """
    return dt.datetime(
        int(text[0:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[14:16]),
        int(text[17:19]),
        tzinfo=dt.UTC,
    )


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
DAY_MS = 86_400_000


@lru_cache(maxsize=4096)
def _day_ms(date: str) -> int:
    """UTC milliseconds at the start of ``YYYY-MM-DD`` (cached: a log's entries share days).

    ``ValueError`` for a day that does not exist, as ``datetime.date`` raises it.
    """
    day = dt.date(int(date[0:4]), int(date[5:7]), int(date[8:10]))
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY_MS


def utc_ms(text: str) -> int:
    """UTC milliseconds since the epoch of the ``YYYY-MM-DDTHH:MM:SS`` that *text* starts with.

    Exactly ``int(utc_datetime(text).timestamp()) * 1000``, and the same ``ValueError``
    for a date or time that does not exist (hour 24, minute 60, second 60 or 61, …),
    without building a datetime per call: POSIX time has no leap seconds, so a UTC
    time of day is hours, minutes and seconds counted from the start of its day.
    """
    hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"no such time of day: {text[11:19]}")
    return _day_ms(text[0:10]) + ((hour * 60 + minute) * 60 + second) * 1000


def parse_logged_at(text: str) -> int:
    """``2027-01-04T09:00:00.123Z`` → UTC milliseconds since the epoch."""
    ms = _logged_ms(text) if isinstance(text, str) else None
    if ms is None:
        if not isinstance(text, str) or not _LOGGED_AT.fullmatch(text):
            raise FormatError("logged_at must be YYYY-MM-DDTHH:MM:SS.mmmZ")
        raise FormatError(f"logged_at {text!r} is not a valid date and time")
    return ms


@lru_cache(maxsize=1024)
def _logged_ms(text: str) -> int | None:
    """parse_logged_at's value, None if it raises (cached: a commit's entries share one)."""
    if not _LOGGED_AT.fullmatch(text):
        return None
    try:
        return utc_ms(text) + int(text[20:23])
    except ValueError:
        return None


def canonical_json(obj: Any) -> str:
    """Sorted keys, no insignificant white space, UTF-8 characters as themselves."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_leaf(envelope_json: str, logged_at_ms: int) -> bytes:
    """The leaf bytes the sequencer writes once, from the envelope's canonical JSON.

    Equal to ``canonical_json({"envelope": …, "logged_at": …, "v": 1})``: the keys
    sort as envelope < logged_at < v, so the object is assembled in that order.
    """
    leaf = (
        '{"envelope":'
        + envelope_json
        + ',"logged_at":"'
        + format_logged_at(logged_at_ms)
        + '","v":1}'
    ).encode()
    if len(leaf) > MAX_LEAF_SIZE:
        raise FormatError(f"leaf would be {len(leaf)} bytes; the limit is {MAX_LEAF_SIZE}")
    return leaf


@dataclass(frozen=True)
class Leaf:
    """A parsed leaf."""

    envelope: Envelope
    logged_at: str
    logged_at_ms: int
    raw: bytes


def parse_leaf(data: bytes) -> Leaf:
    """Parse a leaf strictly (shape only)."""
    if len(data) > MAX_LEAF_SIZE:
        raise FormatError(f"leaf is {len(data)} bytes; the limit is {MAX_LEAF_SIZE}")
    leaf = _parse_canonical_leaf(data)
    return leaf if leaf is not None else _parse_leaf_json(data)


def _parse_leaf_json(data: bytes) -> Leaf:
    """The general strict parser of a leaf: what every leaf the fast path does not
    take is read (or refused) by."""
    obj = loads_strict(data, what="leaf")
    if not isinstance(obj, dict) or obj.keys() != _LEAF_KEYS:
        raise FormatError("leaf must be an object with exactly envelope, logged_at and v")
    if obj["v"] != LEAF_VERSION or isinstance(obj["v"], bool):
        raise FormatError(f"leaf version {obj['v']!r} is not supported (expected 1)")
    envelope = check_envelope(obj["envelope"])
    ms = parse_logged_at(obj["logged_at"])
    return Leaf(envelope, obj["logged_at"], ms, data)


# -- the canonical leaf, read without a JSON parser -----------------------------------
#
# Every leaf the sequencer writes is canonical JSON (sorted keys, no white space) made of
# ASCII strings that need no escape (base64, hex, the payload type, the time), so its
# bytes are always exactly these pieces, in this order:
#
#     {"envelope":{"payload":"P","payloadType":"T","signatures":[S(,S)*]},"logged_at":"A","v":1}
#     S = {"keyid":"K","sig":"G"}
#
# where no P, T, K, G or A holds a quote or a backslash. Text of that form has a single
# reading as JSON: no white space, no escape, no duplicate key, no number but the 1. So
# reading it by position gives exactly the object json.loads gives, and the same checks
# as check_envelope and parse_logged_at then make the same Leaf. Anything else (or
# anything these checks refuse) goes to the general strict parser, which gives the
# error: this path only ever accepts, never refuses.

#: A string of that form: printable ASCII without a quote or a backslash.
_CHARS = rb"[\x20\x21\x23-\x5b\x5d-\x7e]*"
_S = b"(" + _CHARS + b")"
_SIGNATURE = rb'\{"keyid":"' + _CHARS + rb'","sig":"' + _CHARS + rb'"\}'
# The first signature is read in place, and logged_at by its own pattern (_LOGGED_AT;
# the strings are all of that form: base64, hex digits, the time); any further
# signatures are the last group, each one preceded by its comma. Stricter than the form
# above (a leaf whose keyid or logged_at is not of its pattern goes to the general
# parser), never laxer.
_CANONICAL = re.compile(
    rb'\{"envelope":\{"payload":"'
    + _S
    + rb'","payloadType":"'
    + _S
    + rb'","signatures":\[\{"keyid":"([0-9a-f]{64})","sig":"'
    + _S
    + rb'"\}((?:,'
    + _SIGNATURE
    + rb')*)\]\},"logged_at":"'
    + rb"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)"
    + rb'","v":1\}'
)
_CANONICAL_SIGNATURE = re.compile(rb'\{"keyid":"' + _S + rb'","sig":"' + _S + rb'"\}')
_a2b = binascii.a2b_base64
_b2a = binascii.b2a_base64
_new = object.__new__
_set = object.__setattr__


def _parse_canonical_leaf(data: bytes) -> Leaf | None:
    """The leaf, if *data* is a canonical leaf that passes every check; else None."""
    m = _CANONICAL.fullmatch(data)
    if m is None:
        return None
    payload_b64, payload_type_b, keyid_b, sig_b, more, logged_b = m.groups()
    # The checks of check_envelope and parse_logged_at.
    kind = _payload_kind_of(payload_type_b)
    logged = _logged_at_of(logged_b)
    if kind is None or logged is None:
        return None
    payload = _b64decode(payload_b64)
    sig = _b64decode(sig_b)
    if payload is None or sig is None or len(sig) != 64:
        return None
    keyid = keyid_b.decode("ascii")
    first = _new(EnvelopeSignature)
    _set(first, "__dict__", {"keyid": keyid, "sig": sig})
    signatures: tuple[EnvelopeSignature, ...] = (first,)
    if more:
        rest = _more_signatures(more, keyid)
        if rest is None:
            return None
        signatures += rest
    envelope = _new(Envelope)
    _set(
        envelope,
        "__dict__",
        {
            "payload": payload,
            "payload_type": kind[0],
            "signatures": signatures,
            "entry_type": kind[1],
            "type_version": kind[2],
        },
    )
    leaf = _new(Leaf)
    _set(
        leaf,
        "__dict__",
        {
            "envelope": envelope,
            "logged_at": logged[0],
            "logged_at_ms": logged[1],
            "raw": data,
        },
    )
    return leaf


def _b64decode(text: bytes) -> bytes | None:
    """:func:`b64decode_strict` of ASCII *text*, None where it raises."""
    if len(text) % 4:
        return None
    try:
        raw = _a2b(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    # Only a padded last quantum has unused bits; it is canonical iff it re-encodes to itself.
    if text[-1:] == b"=" and _b2a(raw[-(len(raw) % 3) :], newline=False) != text[-4:]:
        return None
    return raw


def _more_signatures(more: bytes, first: str) -> tuple[EnvelopeSignature, ...] | None:
    """The signatures after the first (*more*: each preceded by its comma), checked as
    check_envelope checks them; None if one fails."""
    # The group is signatures and commas only, so findall reads every one, in order.
    sigs = _CANONICAL_SIGNATURE.findall(more)
    if len(sigs) + 1 > MAX_SIGNATURES:
        return None
    out: list[EnvelopeSignature] = []
    keyids = {first}
    for k, g in sigs:
        keyid = k.decode("ascii")
        sig = _b64decode(g)
        if not _is_keyid(keyid) or keyid in keyids or sig is None or len(sig) != 64:
            return None
        keyids.add(keyid)
        out.append(build(EnvelopeSignature, {"keyid": keyid, "sig": sig}))
    return tuple(out)


@lru_cache(maxsize=256)
def _payload_kind_of(payload_type: bytes) -> tuple[str, str, int] | None:
    """(payloadType, entry type, version) of a valid payloadType, else None (cached)."""
    text = payload_type.decode("ascii")
    kind = _payload_kind(text)
    return None if kind is None else (text, *kind)


@lru_cache(maxsize=1024)
def _logged_at_of(logged_at: bytes) -> tuple[str, int] | None:
    """(the text, parse_logged_at's value) of a logged_at that matches _LOGGED_AT, None if
    parse_logged_at raises (cached: the entries of a commit share one)."""
    text = logged_at.decode("ascii")
    try:
        return text, utc_ms(text) + int(text[20:23])
    except ValueError:
        return None


@lru_cache(maxsize=256)
def _payload_kind(payload_type: str) -> tuple[str, int] | None:
    """(entry type, version) of a valid payloadType, else None (cached: a log has few)."""
    m = PAYLOAD_TYPE.fullmatch(payload_type)
    if m is None or len(payload_type) > MAX_PAYLOAD_TYPE_LENGTH:
        return None
    return m.group(1), int(m.group(2))


@lru_cache(maxsize=1024)
def _is_keyid(keyid: str) -> bool:
    """Whether *keyid* is 64 lower-case hex digits (cached: the same keys sign a log)."""
    return _KEYID.fullmatch(keyid) is not None
