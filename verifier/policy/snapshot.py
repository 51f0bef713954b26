"""Typed JSON snapshots of the verifier's replay state, read back strictly.

A verifier that keeps a state directory stores, next to the last checkpoint it
verified, the state replayed from the log up to that checkpoint (key registry,
entry types, schedule state, findings), so the next run checks only what is new.
The snapshot is plain JSON written by this module and read back by walking the
same dataclass annotations, so every value is type-checked on the way in: a
damaged or hand-edited state file is refused with a clear error, never half
loaded. No pickle: a state directory must not be a way to run code.

Encoding, driven by the annotation of each field: ``int``/``str``/``bool`` as
themselves; ``bytes``/``bytearray`` and ``array`` as base64; ``tuple``/``list``
as arrays; ``frozenset`` as a sorted array; ``dict`` as an array of
``[key, value]`` pairs (keys may be tuples); ``X | None`` as null or X; a
dataclass as an object of its fields.
"""

from __future__ import annotations

import array
import base64
import binascii
import dataclasses
import hashlib
import types
import typing
from functools import cache, partial
from typing import Any, Union

from verifier.errors import SnapshotError


@cache
def schema_id(cls: type) -> str:
    """A short digest of the shape of *cls*: its fields' names and types, recursively.

    Stored beside every snapshot, so that a state written by another version of
    this code (a field added, a type changed) is replayed from the log instead of
    being read into a shape it was not written for.
    """
    return hashlib.sha256(_describe(cls).encode()).hexdigest()[:16]


def _describe(hint: Any) -> str:
    hint = _strip(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        fields = ",".join(
            f"{f.name}:{_describe(_hints(hint)[f.name])}" for f in dataclasses.fields(hint)
        )
        return f"{hint.__name__}{{{fields}}}"
    origin = typing.get_origin(hint)
    if origin is not None:
        args = ",".join("..." if a is Ellipsis else _describe(a) for a in typing.get_args(hint))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(hint, "__name__", repr(hint))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _optional(hint: Any) -> Any | None:
    """X for ``X | None``, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner
    return None


def _homogeneous(hint: Any) -> bool:
    """``tuple[X, ...]`` or ``list[X]`` (not a fixed-length tuple)."""
    args = typing.get_args(hint)
    return typing.get_origin(hint) is list or (len(args) == 2 and args[1] is Ellipsis)


def encode(hint: Any, value: Any) -> Any:
    """*value*, of type *hint*, as JSON-ready data.

    By a function compiled once per type (:func:`_encoder`): the writer encodes a
    record each time one leaves memory (ledger/storage/admission_db.py), and walking
    the annotations for every value was most of a replay's cost. :func:`_encode`
    is the walk, kept as the definition the compiled encoder is tested against.
    """
    return _encoder(hint)(value)


Encoder = typing.Callable[[Any], Any]


def _b64text(value: Any) -> str:
    return base64.b64encode(value).decode()


@cache
def _encoder(hint: Any) -> Encoder:  # noqa: PLR0911 - one per kind
    hint = _strip(hint)
    inner = _optional(hint)
    if inner is not None:
        f = _encoder(inner)
        return lambda v: None if v is None else f(v)
    if hint in (int, str, bool):
        return lambda v: v
    if hint in (bytes, bytearray):
        return _b64text
    if hint is array.array:
        return lambda v: [v.typecode, _b64text(v.tobytes())]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (tuple, list) and not _homogeneous(hint):
        items = [_encoder(a) for a in args]
        return lambda v: [f(x) for f, x in zip(items, v, strict=True)]
    if origin in (tuple, list, frozenset):
        item = _encoder(args[0])
        if origin is frozenset:
            return lambda v: sorted(item(x) for x in v)
        return lambda v: [item(x) for x in v]
    if origin is dict:
        key, value = _encoder(args[0]), _encoder(args[1])
        return lambda v: [[key(k), value(x)] for k, x in v.items()]
    if dataclasses.is_dataclass(hint):
        hints = _hints(hint)  # type: ignore[arg-type]
        fields = [(f.name, _encoder(hints[f.name])) for f in dataclasses.fields(hint) if f.init]
        return lambda v: {name: f(getattr(v, name)) for name, f in fields}
    raise AssertionError(f"snapshot: unsupported type {hint!r}")  # pragma: no cover


def _encode(hint: Any, value: Any) -> Any:
    """:func:`encode`, walking the annotations for every value."""
    hint = _strip(hint)
    inner = _optional(hint)
    if inner is not None:
        return None if value is None else _encode(inner, value)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    out: Any
    if hint in (int, str, bool):
        out = value
    elif hint in (bytes, bytearray):
        out = base64.b64encode(value).decode()
    elif hint is array.array:
        out = [value.typecode, base64.b64encode(value.tobytes()).decode()]
    elif origin in (tuple, list):
        if _homogeneous(hint):
            out = [_encode(args[0], v) for v in value]
        else:
            out = [_encode(a, v) for a, v in zip(args, value, strict=True)]
    elif origin is frozenset:
        out = sorted(_encode(args[0], v) for v in value)
    elif origin is dict:
        out = [[_encode(args[0], k), _encode(args[1], v)] for k, v in value.items()]
    elif dataclasses.is_dataclass(hint):
        hints = _hints(hint)  # type: ignore[arg-type]
        out = {
            f.name: _encode(hints[f.name], getattr(value, f.name))
            for f in dataclasses.fields(hint)
            if f.init
        }
    else:  # pragma: no cover - a programming error in a state class
        raise AssertionError(f"snapshot: unsupported type {hint!r}")
    return out


def decode(hint: Any, data: Any, what: str = "state") -> Any:
    """The value of type *hint* that :func:`encode` turned into *data*; strict.

    Decoded by a function compiled once per type (:func:`_compiled`): a restart of
    the writer reads a state of 10^5-10^6 records, and walking the annotations for
    every value cost seconds. The compiled path checks exactly what :func:`_decode`
    checks, without building a path for every value; when it refuses *data*, the
    annotated walk runs again to say where (the same error, word for word).
    """
    try:
        return _compiled(hint)(data)
    except (SnapshotError, TypeError, ValueError, AttributeError):
        pass
    # Only on bad input: the walk raises the error that names the place.
    return _decode(hint, data, what)


Decoder = typing.Callable[[Any], Any]


@cache
def _compiled(hint: Any) -> Decoder:  # noqa: PLR0911 - one per kind
    """A function from JSON data to the value of type *hint*, as strict as :func:`_decode`.

    Its errors carry no path (see :func:`decode`).
    """
    hint = _strip(hint)
    inner = _optional(hint)
    if inner is not None:
        f = _compiled(inner)
        return lambda d: None if d is None else f(d)
    if hint in (int, str, bool):
        return partial(_scalar, hint, what="")
    if hint in (bytes, bytearray):
        return lambda d: hint(_b64(d, ""))
    if hint is array.array:
        return partial(_array, what="")
    origin = typing.get_origin(hint)
    if origin in (tuple, list, frozenset):
        return _compiled_sequence(hint)
    if origin is dict:
        return _compiled_dict(hint)
    if dataclasses.is_dataclass(hint):
        return _compiled_dataclass(hint)  # type: ignore[arg-type]
    raise AssertionError(f"snapshot: unsupported type {hint!r}")  # pragma: no cover


def _compiled_sequence(hint: Any) -> Decoder:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    def fixed(d: Any) -> Any:
        if not isinstance(d, list) or len(d) != len(items):
            raise SnapshotError("expected an array of fixed length")
        return tuple(f(v) for f, v in zip(items, d, strict=True))

    if origin is not frozenset and not _homogeneous(hint):
        items = [_compiled(a) for a in args]
        return fixed
    item = _compiled(args[0])
    scalar = _strip(args[0]) if _strip(args[0]) in (int, str, bool) else None
    make: Any = {frozenset: frozenset, tuple: tuple, list: list}[origin]

    def homogeneous(d: Any) -> Any:
        if not isinstance(d, list):
            raise SnapshotError("expected an array")
        # Scalars are checked in one pass and kept as they are (the common case).
        if scalar is not None and all(type(v) is scalar for v in d):
            return make(d)
        return make([item(v) for v in d])

    return homogeneous


def _compiled_dict(hint: Any) -> Decoder:
    k, v = (_compiled(a) for a in typing.get_args(hint))

    def decode_dict(d: Any) -> dict[Any, Any]:
        if not isinstance(d, list):
            raise SnapshotError("expected an array of [key, value] pairs")
        out: dict[Any, Any] = {}
        for pair in d:
            if not isinstance(pair, list) or len(pair) != 2:
                raise SnapshotError("expected a [key, value] pair")
            key = k(pair[0])
            if key in out:
                raise SnapshotError("a key appears twice")
            out[key] = v(pair[1])
        return out

    return decode_dict


def _compiled_dataclass(cls: type) -> Decoder:
    hints = _hints(cls)
    fields = [(f.name, _compiled(hints[f.name])) for f in dataclasses.fields(cls) if f.init]
    names = {name for name, _ in fields}

    def decode_dataclass(d: Any) -> Any:
        if not isinstance(d, dict) or d.keys() != names:
            raise SnapshotError("expected an object with the class's fields")
        return cls(**{name: f(d[name]) for name, f in fields})

    return decode_dataclass


def _decode(hint: Any, data: Any, what: str = "state") -> Any:  # noqa: PLR0911 - one per kind
    """:func:`decode`, walking the annotations for every value, with the path of each."""
    hint = _strip(hint)
    inner = _optional(hint)
    if inner is not None:
        return None if data is None else _decode(inner, data, what)
    if hint in (int, str, bool):
        return _scalar(hint, data, what)
    if hint in (bytes, bytearray):
        return hint(_b64(data, what))
    if hint is array.array:
        return _array(data, what)
    origin = typing.get_origin(hint)
    if origin in (tuple, list, frozenset):
        return _sequence(hint, data, what)
    if origin is dict:
        return _dict(hint, data, what)
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint, data, what)  # type: ignore[arg-type]
    raise AssertionError(f"snapshot: unsupported type {hint!r}")  # pragma: no cover


def _scalar(hint: type, data: Any, what: str) -> Any:
    # bool is a subclass of int: an int field must not accept true/false.
    if type(data) is not hint:
        names = {int: "an integer", str: "a string", bool: "true or false"}
        raise SnapshotError(f"{what}: expected {names[hint]}")
    return data


def _array(data: Any, what: str) -> array.array:  # type: ignore[type-arg]
    if not (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], str)
        and data[0] in ("B", "H", "I", "L", "Q")
    ):
        raise SnapshotError(f"{what}: expected [typecode, base64]")
    raw = _b64(data[1], what)
    out = array.array(data[0])
    if len(raw) % out.itemsize:
        raise SnapshotError(f"{what}: {len(raw)} bytes is not a whole number of items")
    out.frombytes(raw)
    return out


def _sequence(hint: Any, data: Any, what: str) -> Any:
    if not isinstance(data, list):
        raise SnapshotError(f"{what}: expected an array")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is frozenset:
        return frozenset(_decode(args[0], v, f"{what}[{i}]") for i, v in enumerate(data))
    if not _homogeneous(hint):
        if len(data) != len(args):
            raise SnapshotError(f"{what}: expected {len(args)} items, got {len(data)}")
        return tuple(
            _decode(a, v, f"{what}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    items = [_decode(args[0], v, f"{what}[{i}]") for i, v in enumerate(data)]
    return tuple(items) if origin is tuple else items


def _dict(hint: Any, data: Any, what: str) -> dict[Any, Any]:
    if not isinstance(data, list):
        raise SnapshotError(f"{what}: expected an array of [key, value] pairs")
    k, v = typing.get_args(hint)
    out: dict[Any, Any] = {}
    for i, pair in enumerate(data):
        if not isinstance(pair, list) or len(pair) != 2:
            raise SnapshotError(f"{what}[{i}]: expected a [key, value] pair")
        key = _decode(k, pair[0], f"{what}[{i}] key")
        if key in out:
            raise SnapshotError(f"{what}: key {key!r} appears twice")
        out[key] = _decode(v, pair[1], f"{what}[{key!r}]")
    return out


def _dataclass(cls: type, data: Any, what: str) -> Any:
    if not isinstance(data, dict):
        raise SnapshotError(f"{what}: expected an object")
    hints = _hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = {f.name for f in fields}
    if set(data) != names:
        odd = sorted(set(data) ^ names)
        raise SnapshotError(f"{what}: fields differ from {cls.__name__}'s: {odd[:5]}")
    kwargs = {f.name: _decode(hints[f.name], data[f.name], f"{what}.{f.name}") for f in fields}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"{what}: {exc}") from None


def _b64(data: Any, what: str) -> bytes:
    if not isinstance(data, str):
        raise SnapshotError(f"{what}: expected base64")
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise SnapshotError(f"{what}: not valid base64") from None
