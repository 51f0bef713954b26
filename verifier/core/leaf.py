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

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from verifier.core.encoding import b64decode_strict, b64encode
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
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what}: not valid UTF-8 (byte {exc.start})") from None
    try:
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


def parse_logged_at(text: str) -> int:
    """``2027-01-04T09:00:00.123Z`` → UTC milliseconds since the epoch."""
    if not isinstance(text, str) or not _LOGGED_AT.fullmatch(text):
        raise FormatError("logged_at must be YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        t = utc_datetime(text)
    except ValueError:
        raise FormatError(f"logged_at {text!r} is not a valid date and time") from None
    return int(t.timestamp()) * 1000 + int(text[20:23])


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
    obj = loads_strict(data, what="leaf")
    if not isinstance(obj, dict) or obj.keys() != _LEAF_KEYS:
        raise FormatError("leaf must be an object with exactly envelope, logged_at and v")
    if obj["v"] != LEAF_VERSION or isinstance(obj["v"], bool):
        raise FormatError(f"leaf version {obj['v']!r} is not supported (expected 1)")
    envelope = check_envelope(obj["envelope"])
    ms = parse_logged_at(obj["logged_at"])
    return Leaf(envelope, obj["logged_at"], ms, data)
