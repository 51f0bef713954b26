"""Strict parsing of payloads into their dataclasses, and their JSON Schemas.

Both walk the same dataclass annotations (:mod:`verifier.entries.payloads`), so
a payload the parser accepts always validates against the published schema.
Unknown types, unknown versions and unknown fields fail closed.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Union

from verifier.core.frozen import build, buildable
from verifier.core.leaf import loads_strict
from verifier.entries.fields import PATTERNS, Spec, int_checker, str_checker
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError

#: A payload is at most what fits in a leaf; 48 KiB leaves room for the envelope.
MAX_PAYLOAD_SIZE = 48 * 1024
MAX_LIST = 256
PAYLOAD_VERSION = 1
SCHEMA_BASE = "urn:frontier-ledger:schema:"


@dataclass(frozen=True)
class Payload:
    """A parsed payload: its type, version, the log it is bound to, and its body."""

    type: str
    v: int
    log: str
    body: Any  # one of the dataclasses in payloads.TYPES


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def _split(hint: Any) -> tuple[Any, Spec | None, bool]:
    """(base type, spec, optional) for a field annotation."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
        origin = typing.get_origin(hint)
    spec = None
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        spec = next((m for m in meta if isinstance(m, Spec)), None)
        hint = base
    return hint, spec, optional


#: A compiled converter: (JSON value, field path for messages) → the parsed value.
Converter = Callable[[Any, str], Any]
_ABSENT = object()
#: Members of the payload object that :func:`parse_payload` checks itself.
_ENVELOPE_KEYS = frozenset(("type", "v", "log"))


def _value(hint: Any, value: Any, what: str) -> Any:
    return _converter(hint)(value, what)


def _object(cls: type, obj: Any, what: str) -> Any:
    return _object_parser(cls)(obj, what)


@cache
def _converter(hint: Any) -> Converter:
    """The parser of one field annotation, specialised once: null, then the type's checks."""
    nullable, convert = _field(hint)

    def null_or_value(value: Any, what: str) -> Any:
        if value is None:
            if nullable:
                return None
            raise FormatError(f"{what}: must not be null")
        return convert(value, what)

    return null_or_value


@cache
def _field(hint: Any) -> tuple[bool, Converter]:
    """(whether null is allowed, the parser of a non-null value) for a field annotation."""
    base, spec, optional = _split(hint)
    return optional, _base_converter(hint, base, spec)


def _base_converter(hint: Any, base: Any, spec: Spec | None) -> Converter:
    if typing.get_origin(base) is tuple:
        item_nullable, item = _field(typing.get_args(base)[0])

        def list_of(value: Any, what: str) -> Any:
            if not isinstance(value, list):
                raise FormatError(f"{what}: expected a list")
            if len(value) > MAX_LIST:
                raise FormatError(f"{what}: more than {MAX_LIST} items")
            out: list[Any] = []
            for i, v in enumerate(value):
                if v is None:
                    if not item_nullable:
                        raise FormatError(f"{what}[{i}]: must not be null")
                    out.append(None)
                else:
                    out.append(item(v, f"{what}[{i}]"))
            return tuple(out)

        return list_of
    if dataclasses.is_dataclass(base):
        cls: type = base  # type: ignore[assignment]

        def nested(value: Any, what: str) -> Any:
            return _object_parser(cls)(value, what)  # resolved late: a class may nest itself

        return nested
    if base is bool:

        def boolean(value: Any, what: str) -> Any:
            if not isinstance(value, bool):
                raise FormatError(f"{what}: expected true or false")
            return value

        return boolean
    if base is int:
        return int_checker(spec or Spec("int"))
    if base is str:
        return str_checker(spec or Spec("text"))

    def unsupported(value: Any, what: str) -> Any:  # pragma: no cover
        raise AssertionError(f"unsupported annotation {hint!r}")

    return unsupported


@cache
def _object_parser(cls: type, ignore: frozenset[str] = frozenset()) -> Converter:
    """The parser of a dataclass, built once from its annotations.

    Unknown members first, then each field in declaration order: missing, null,
    then its own checks. *ignore* names members of the JSON object that are not
    fields and are neither checked nor reported as unknown (a payload's type, v
    and log, which :func:`parse_payload` checks itself).
    """
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    names = frozenset(f.name for f in fields)
    if names & ignore:  # pragma: no cover - no payload has a field named type, v or log
        inner = _object_parser(cls)

        def stripped(obj: Any, what: str) -> Any:
            if not isinstance(obj, dict):
                raise FormatError(f"{what}: expected an object")
            return inner({k: v for k, v in obj.items() if k not in ignore}, what)

        return stripped
    allowed = names | ignore
    # (name, default or _ABSENT if required, null allowed, converter) per field.
    steps = tuple(
        (f.name, _ABSENT if f.default is dataclasses.MISSING else f.default, *_field(hints[f.name]))
        for f in fields
    )
    # Every payload class is a plain frozen dataclass without default factories, so the
    # value is built from its fields in declaration order, defaults included, exactly as
    # its __init__ would store them (verifier.core.frozen).
    if not buildable(cls) or any(f.default_factory is not dataclasses.MISSING for f in fields):
        raise AssertionError(f"{cls.__name__}: not a plain frozen dataclass")  # pragma: no cover

    def parse(obj: Any, what: str) -> Any:
        if not isinstance(obj, dict):
            raise FormatError(f"{what}: expected an object")
        if not allowed.issuperset(obj):
            unknown = sorted(set(obj) - allowed)
            raise FormatError(f"{what}: unknown field {unknown[0][:40]!r}")
        values: dict[str, Any] = {}
        for name, default, nullable, convert in steps:
            value = obj.get(name, _ABSENT)
            if value is _ABSENT:
                if default is _ABSENT:
                    sub = f"{what}.{name}" if what else name
                    raise FormatError(f"{sub}: required field is missing")
                values[name] = default
            elif value is None:
                if not nullable:
                    sub = f"{what}.{name}" if what else name
                    raise FormatError(f"{sub}: must not be null")
                values[name] = None
            else:
                values[name] = convert(value, f"{what}.{name}" if what else name)
        return build(cls, values)

    return parse


def parse_payload(data: bytes, *, expected_type: str | None = None) -> Payload:
    """Parse payload bytes (UTF-8 JSON) strictly into a typed :class:`Payload`."""
    if len(data) > MAX_PAYLOAD_SIZE:
        raise FormatError(f"payload is {len(data)} bytes; the limit is {MAX_PAYLOAD_SIZE}")
    obj = loads_strict(data, what="payload")
    if not isinstance(obj, dict):
        raise FormatError("payload must be a JSON object")
    t, v, log = obj.get("type"), obj.get("v"), obj.get("log")
    if not isinstance(t, str) or t not in TYPES:
        raise FormatError(f"payload type {str(t)[:40]!r} is unknown (known: {', '.join(TYPES)})")
    if expected_type is not None and t != expected_type:
        raise FormatError(
            f"payload type {t!r} does not match the envelope's payloadType ({expected_type})"
        )
    if v != PAYLOAD_VERSION or isinstance(v, bool):
        raise FormatError(
            f"{t} version {v!r} is not supported (this verifier knows v{PAYLOAD_VERSION})"
        )
    if not isinstance(log, str) or not log:
        raise FormatError("payload.log: required: the origin of the log this entry is meant for")
    cls, _ = TYPES[t]
    body = _object_parser(cls, _ENVELOPE_KEYS)(obj, "")
    return build(Payload, {"type": t, "v": PAYLOAD_VERSION, "log": log, "body": body})


def payload_to_json(p: Payload) -> dict[str, Any]:
    """The JSON object of a payload (inverse of :func:`parse_payload`)."""
    out = {"type": p.type, "v": p.v, "log": p.log}
    out.update(_to_json(p.body))
    return out


def _to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_json(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.default is dataclasses.MISSING or getattr(value, f.name) != f.default
        }
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


# -- JSON Schema -----------------------------------------------------------------


def _schema_of(hint: Any) -> dict[str, Any]:
    base, spec, optional = _split(hint)
    if typing.get_origin(base) is tuple:
        s: dict[str, Any] = {
            "type": "array",
            "maxItems": MAX_LIST,
            "items": _schema_of(typing.get_args(base)[0]),
        }
    elif dataclasses.is_dataclass(base):
        s = _object_schema(base)  # type: ignore[arg-type]
    elif base is bool:
        s = {"type": "boolean"}
    elif base is int:
        spec = spec or Spec("int")
        s = {"type": "integer", "minimum": spec.minimum or 0}
        if spec.maximum is not None:
            s["maximum"] = spec.maximum
        if spec.kind == "index":
            s["x-references"] = list(spec.refs)
    else:
        spec = spec or Spec("text")
        s = {"type": "string", "maxLength": spec.max_len}
        if spec.kind == "enum":
            s["enum"] = list(spec.choices)
        elif spec.kind in PATTERNS:
            s["pattern"] = "^(?:" + PATTERNS[spec.kind] + ")$"
        elif spec.kind == "b64key":
            s["pattern"] = "^[A-Za-z0-9+/]{43}=$"
    if spec is not None and spec.description:
        s["description"] = spec.description
    if optional:
        s = {"anyOf": [s, {"type": "null"}]}
    return s


def _object_schema(cls: type) -> dict[str, Any]:
    hints = _hints(cls)
    props = {f.name: _schema_of(hints[f.name]) for f in dataclasses.fields(cls)}
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    s: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }
    if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
        s["description"] = " ".join(cls.__doc__.split())
    return s


def json_schema(entry_type: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a payload type."""
    if entry_type not in TYPES:
        raise FormatError(f"unknown entry type {entry_type[:40]!r}")
    cls, role = TYPES[entry_type]
    s = _object_schema(cls)
    s["properties"] = {
        "type": {"const": entry_type},
        "v": {"const": PAYLOAD_VERSION},
        "log": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "description": "origin of the log this entry is for",
        },
        **s["properties"],
    }
    s["required"] = ["type", "v", "log", *s["required"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{entry_type}.v{PAYLOAD_VERSION}",
        "title": f"{entry_type} v{PAYLOAD_VERSION}",
        "x-signed-by": role,
        **s,
    }


def references(body: Any, path: str = "") -> list[tuple[str, int, tuple[str, ...]]]:
    """Every log-index reference in a payload body: (field path, index, allowed types)."""
    out: list[tuple[str, int, tuple[str, ...]]] = []
    _collect(body, path, out)
    return out


# How a field can hold references (see _reference_plan).
_INDEX, _INDEX_LIST, _NESTED, _NESTED_LIST = range(4)


def _collect(body: Any, path: str, out: list[tuple[str, int, tuple[str, ...]]]) -> None:
    cls: type = type(body)
    for name, how, refs in _reference_plan(cls):
        value = getattr(body, name)
        if value is None:
            continue
        sub = f"{path}.{name}" if path else name
        if how == _INDEX:
            out.append((sub, value, refs))
        elif how == _INDEX_LIST:
            out.extend([(f"{sub}[{i}]", v, refs) for i, v in enumerate(value)])
        elif how == _NESTED:
            _collect(value, sub, out)
        else:
            for i, v in enumerate(value):
                _collect(v, f"{sub}[{i}]", out)


@cache
def _reference_plan(cls: type) -> tuple[tuple[str, int, tuple[str, ...]], ...]:
    """The fields of *cls* that can hold references, in field order: (name, how, types).

    Index fields, lists of them, and nested dataclasses (or lists of them) that
    can themselves hold a reference; every other field is skipped.
    """
    hints = _hints(cls)
    plan: list[tuple[str, int, tuple[str, ...]]] = []
    for f in dataclasses.fields(cls):
        base, spec, _ = _split(hints[f.name])
        if typing.get_origin(base) is tuple:
            item_base, item_spec, _ = _split(typing.get_args(base)[0])
            if item_spec is not None and item_spec.kind == "index":
                plan.append((f.name, _INDEX_LIST, item_spec.refs))
            elif dataclasses.is_dataclass(item_base) and _reference_plan(item_base):  # type: ignore[arg-type]
                plan.append((f.name, _NESTED_LIST, ()))
        elif spec is not None and spec.kind == "index":
            plan.append((f.name, _INDEX, spec.refs))
        elif dataclasses.is_dataclass(base) and _reference_plan(base):  # type: ignore[arg-type]
            plan.append((f.name, _NESTED, ()))
    return tuple(plan)
