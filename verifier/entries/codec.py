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
from verifier.entries.fields import MAX_INDEX, PATTERNS, Spec, int_checker, str_accepts, str_checker
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
    """The parser of a dataclass: :func:`_general_object_parser`, compiled (see
    :func:`_compile_object_parser`) when the class allows it."""
    general = _general_object_parser(cls, ignore)
    if dataclasses.fields(cls) and not ({f.name for f in dataclasses.fields(cls)} & ignore):
        return _compile_object_parser(cls, ignore, general)
    return general  # pragma: no cover - every payload class has fields, none named type/v/log


def _general_object_parser(cls: type, ignore: frozenset[str] = frozenset()) -> Converter:
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


# -- the compiled object parser -----------------------------------------------------
#
# The general parser above loops over a class's fields, calling each field's converter
# with the field's path (a string built per field and per value). Most values on a long
# log are plain: a short printable string, an identifier or a time already seen, an
# integer in range. The compiled parser of a class is one Python function, generated
# once from the class's fields (the source is shown by ``_object_source``), that takes
# each field in declaration order with a quick test in line and hands every value that
# does not pass it, absent or null included, to that field's step of the general parser
# (``slow`` below: default, null, then the converter with its path). So:
#
# * a value passing the quick test is one its converter accepts and returns unchanged
#   (the tests are the checks themselves, or a cache of their verdicts, or stricter);
# * every other value goes through exactly the general code, with the same path;
# * fields are taken in the same order, unknown members refused first (by the general
#   parser itself), so the first error raised is the general parser's, word for word.
#
# The source is generated from field names only (identifiers of the dataclass, checked
# below); every value it tests against is passed in as a name, never spelled into it.


def _quick_test(hint: Any) -> tuple[str, dict[str, Any]] | None:
    """(an expression true of ``{v}`` only if the field's converter returns ``{v}``, the
    names it uses) for a non-null value of a field annotated *hint*; None if there is none.

    In the expression, ``{v}`` stands for the variable tested, and each name is followed
    by ``{i}``, the field's number in the class, so that the fields of one class have
    names of their own."""
    base, spec, _ = _split(hint)
    if base is bool:
        return "{v} is True or {v} is False", {}
    if base is int:
        spec = spec or Spec("int")
        lo = spec.minimum if spec.minimum is not None else 0
        hi = spec.maximum if spec.maximum is not None else MAX_INDEX
        return "{v}.__class__ is int and LO{i} <= {v} <= HI{i}", {"LO": lo, "HI": hi}
    if base is not str:
        return None
    spec = spec or Spec("text")
    if spec.kind == "enum":
        choices = frozenset(c for c in spec.choices if len(c) <= spec.max_len)
        return "{v}.__class__ is str and {v} in CHOICES{i}", {"CHOICES": choices}
    accepts = str_accepts(spec)
    if accepts is None:
        return None
    return (
        "{v}.__class__ is str and len({v}) <= MAX_LEN{i} and ACCEPTS{i}({v})",
        {"MAX_LEN": spec.max_len, "ACCEPTS": accepts},
    )


def _list_items(hint: Any) -> Any:
    """The annotation of the items of a list field (None for any other field)."""
    base, _, _ = _split(hint)
    return typing.get_args(base)[0] if typing.get_origin(base) is tuple else None


def _slow_step(name: str, default: Any, nullable: bool, convert: Converter) -> Converter:
    """One field's step of the general parser, for the value *value* (``_ABSENT`` if absent)."""

    def slow(value: Any, what: str) -> Any:
        if value is _ABSENT:
            if default is _ABSENT:
                sub = f"{what}.{name}" if what else name
                raise FormatError(f"{sub}: required field is missing")
            return default
        if value is None:
            if not nullable:
                sub = f"{what}.{name}" if what else name
                raise FormatError(f"{sub}: must not be null")
            return None
        return convert(value, f"{what}.{name}" if what else name)

    return slow


def _object_source(cls: type) -> tuple[str, dict[str, Any]]:
    """The source of the compiled parser of *cls*, and the names it uses besides
    ``general``, ``allowed`` and ``cls``."""
    hints = _hints(cls)
    names: dict[str, Any] = {}
    lines = [
        "def parse(obj, what):",
        "    if not isinstance(obj, dict):",
        "        return general(obj, what)",
        "    if not allowed.issuperset(obj):",
        "        return general(obj, what)",
        "    get = obj.get",
    ]
    out = []
    for i, f in enumerate(dataclasses.fields(cls)):
        if not f.name.isidentifier():  # pragma: no cover - a dataclass field always is
            raise AssertionError(f"{cls.__name__}: field {f.name!r}")
        default = _ABSENT if f.default is dataclasses.MISSING else f.default
        nullable, convert = _field(hints[f.name])
        names[f"slow{i}"] = _slow_step(f.name, default, nullable, convert)
        quick = _quick_test(hints[f.name])
        items = _list_items(hints[f.name])
        item_test = None if items is None else _quick_test(items)
        lines.append(f"    v = get({f.name!r}, ABSENT)")
        if item_test is not None:
            # A list of plain values: list_of returns them as a tuple, each unchanged.
            test, used = item_test
            names.update({f"{k}{i}": value for k, value in used.items()})
            test = test.format(i=i, v="x")
            lines += [
                f"    v{i} = None",
                "    if v.__class__ is list and len(v) <= MAX_LIST:",
                "        for x in v:",
                f"            if not ({test}):",
                "                break",
                "        else:",
                f"            v{i} = tuple(v)",
                f"    if v{i} is None:",
                f"        v{i} = slow{i}(v, what)",
            ]
        elif quick is None:
            lines.append(f"    v{i} = slow{i}(v, what)")
        else:
            test, used = quick
            names.update({f"{k}{i}": value for k, value in used.items()})
            test = test.format(i=i, v="v")
            lines += [
                f"    if {test}:",
                f"        v{i} = v",
                "    else:",
                f"        v{i} = slow{i}(v, what)",
            ]
        out.append(f"{f.name!r}: v{i}")
    lines += [
        "    o = new(cls)",
        "    setdict(o, '__dict__', {" + ", ".join(out) + "})",
        "    return o",
    ]
    return "\n".join(lines) + "\n", names


def _compile_object_parser(cls: type, ignore: frozenset[str], general: Converter) -> Converter:
    """The compiled parser of *cls* (see the comment above), built on *general*."""
    source, names = _object_source(cls)
    namespace: dict[str, Any] = {
        "__builtins__": {
            "isinstance": isinstance,
            "dict": dict,
            "len": len,
            "str": str,
            "int": int,
            "list": list,
            "tuple": tuple,
        },
        "MAX_LIST": MAX_LIST,
        "general": general,
        "allowed": frozenset(f.name for f in dataclasses.fields(cls)) | ignore,
        "cls": cls,
        "ABSENT": _ABSENT,
        "new": object.__new__,
        "setdict": object.__setattr__,
        **names,
    }
    exec(compile(source, f"<parser of {cls.__name__}>", "exec"), namespace)  # noqa: S102
    parse: Converter = namespace["parse"]
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
    parse = _BODY_PARSERS.get(t)
    if parse is None:
        parse = _BODY_PARSERS[t] = _object_parser(TYPES[t][0], _ENVELOPE_KEYS)
    payload = _new(Payload)
    _set(payload, "__dict__", {"type": t, "v": PAYLOAD_VERSION, "log": log, "body": parse(obj, "")})
    return payload


#: The parser of each type's body, by type name (filled as types are met).
_BODY_PARSERS: dict[str, Converter] = {}
# Payload is a plain frozen dataclass, made as verifier.core.frozen.build makes one.
_new = object.__new__
_set = object.__setattr__


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
