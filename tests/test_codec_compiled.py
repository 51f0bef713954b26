"""The compiled payload parser, reference walk and time parsing behave as the interpreters did.

Each ``_ref_*`` function below is the earlier, straightforward implementation
(annotations inspected per value, ``strptime`` for times), kept as an oracle:
the fast code must return the same values and raise the same messages for every
mutation of every example payload, and the same verdict for every edge-case time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.payload_examples import EXAMPLES, ORIGIN
from verifier.core.leaf import loads_strict, parse_logged_at
from verifier.entries import codec
from verifier.entries.codec import MAX_LIST, parse_payload, references
from verifier.entries.fields import (
    MAX_FLOP,
    MAX_INDEX,
    PATTERNS,
    Spec,
    check_int,
    check_str,
    parse_date,
    parse_monthday,
    parse_time,
)
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError

# -- the reference implementations -------------------------------------------------


def _ref_utc_ms(text: str) -> int:
    t = dt.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return int(t.timestamp()) * 1000


def _ref_parse_time(text: str, what: str) -> int:
    if not isinstance(text, str) or not re.fullmatch(PATTERNS["time"], text):
        raise FormatError(
            f"{what}: {str(text)[:40]!r} is not an RFC 3339 UTC time like 2027-01-04T09:00:00Z"
        )
    try:
        base = _ref_utc_ms(text)
    except ValueError:
        raise FormatError(f"{what}: {text} is not a valid date and time") from None
    frac = text[20:-1] if len(text) > 20 else ""
    return base + (int((frac + "000")[:3]) if frac else 0)


def _ref_parse_logged_at(text: str) -> int:
    if not isinstance(text, str) or not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", text
    ):
        raise FormatError("logged_at must be YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        base = _ref_utc_ms(text)
    except ValueError:
        raise FormatError(f"logged_at {text!r} is not a valid date and time") from None
    return base + int(text[20:23])


def _ref_parse_flop(text: str, what: str) -> int:
    if not isinstance(text, str) or not re.fullmatch(PATTERNS["flop"], text):
        raise FormatError(f'{what}: {str(text)[:40]!r} is not a decimal FLOP string such as "3e26"')
    value = Decimal(text)
    if value != value.to_integral_value():
        raise FormatError(f"{what}: {text} is not a whole number of FLOP")
    n = int(value)
    if n > MAX_FLOP:
        raise FormatError(f"{what}: {text} is larger than 1e40")
    return n


def _ref_check_str(value: object, spec: Spec, what: str) -> str:
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
        _ref_parse_flop(value, what)
    elif kind == "time":
        _ref_parse_time(value, what)
    elif kind == "date":
        parse_date(value, what)
    elif kind == "monthday":
        parse_monthday(value, what)
    elif kind in PATTERNS:
        if not re.fullmatch(PATTERNS[kind], value):
            raise FormatError(f"{what}: {value[:40]!r} is not a valid {kind}")
    elif kind == "b64key":
        from verifier.core.encoding import b64decode_strict

        b64decode_strict(value, what=what, length=32)
    else:  # pragma: no cover
        raise AssertionError(kind)
    return value


def _ref_check_int(value: object, spec: Spec, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{what}: expected an integer")
    lo = spec.minimum if spec.minimum is not None else 0
    hi = spec.maximum if spec.maximum is not None else MAX_INDEX
    if not lo <= value <= hi:
        raise FormatError(f"{what}: {value} is not in {lo}..{hi}")
    return value


def _ref_value(hint: Any, value: Any, what: str) -> Any:
    base, spec, optional = codec._split(hint)
    if value is None:
        if optional:
            return None
        raise FormatError(f"{what}: must not be null")
    if typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]
        if not isinstance(value, list):
            raise FormatError(f"{what}: expected a list")
        if len(value) > MAX_LIST:
            raise FormatError(f"{what}: more than {MAX_LIST} items")
        return tuple(_ref_value(item, v, f"{what}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(base):
        return _ref_object(base, value, what)  # type: ignore[arg-type]
    if base is bool:
        if not isinstance(value, bool):
            raise FormatError(f"{what}: expected true or false")
        return value
    if base is int:
        return _ref_check_int(value, spec or Spec("int"), what)
    assert base is str
    return _ref_check_str(value, spec or Spec("text"), what)


def _ref_object(cls: type, obj: Any, what: str) -> Any:
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: expected an object")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise FormatError(f"{what}: unknown field {unknown[0][:40]!r}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = f"{what}.{name}" if what else name
        if name not in obj:
            if f.default is dataclasses.MISSING:
                raise FormatError(f"{sub}: required field is missing")
            continue
        kwargs[name] = _ref_value(hints[name], obj[name], sub)
    return cls(**kwargs)


def _ref_body(entry_type: str, obj: dict[str, Any]) -> Any:
    cls, _ = TYPES[entry_type]
    return _ref_object(cls, {k: v for k, v in obj.items() if k not in ("type", "v", "log")}, "")


def _ref_references(body: Any, path: str = "") -> list[tuple[str, int, tuple[str, ...]]]:
    out: list[tuple[str, int, tuple[str, ...]]] = []
    hints = typing.get_type_hints(type(body), include_extras=True)
    for f in dataclasses.fields(body):
        value = getattr(body, f.name)
        if value is None:
            continue
        sub = f"{path}.{f.name}" if path else f.name
        base, spec, _ = codec._split(hints[f.name])
        if typing.get_origin(base) is tuple:
            item_base, item_spec, _ = codec._split(typing.get_args(base)[0])
            for i, v in enumerate(value):
                if item_spec is not None and item_spec.kind == "index":
                    out.append((f"{sub}[{i}]", v, item_spec.refs))
                elif dataclasses.is_dataclass(item_base):
                    out.extend(_ref_references(v, f"{sub}[{i}]"))
        elif spec is not None and spec.kind == "index":
            out.append((sub, value, spec.refs))
        elif dataclasses.is_dataclass(base):
            out.extend(_ref_references(value, sub))
    return out


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except FormatError as exc:
        return "error", str(exc)


# -- payloads: every example, mutated at every path ------------------------------

#: Values put in place of each member: wrong types, bounds, and each string kind's edges.
REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    8,
    63,
    64,
    2000,
    3650,
    3651,
    10**9 + 1,
    MAX_INDEX,
    MAX_INDEX + 1,
    1.5,
    "",
    "x",
    "x" * 201,
    "x" * 2001,
    "a\x01b",
    "a\nb\tc",
    "a\x0bb",
    "a\x1fb",
    "a\x7fb",
    "UTC",
    "pass",
    "lab",
    "A",
    "a-b.c_d",
    "-a",
    "0",
    "0.05",
    "1.0000000001",
    "01",
    "1e40",
    "1e41",
    "1.5e1",
    "1.55e1",
    "3e26",
    "9" * 41,
    "1" + "0" * 40,
    "2027-01-04T09:00:00Z",
    "2027-01-04T09:00:00.5Z",
    "2027-02-29T00:00:00Z",
    "2028-02-29T00:00:00Z",
    "2027-01-01T00:00:60Z",
    "2027-01-01T24:00:00Z",
    "2027-13-01T00:00:00Z",
    "٢٠٢٧-01-04T09:00:00Z",
    "2027-01-01",
    "2027-02-30",
    "06-30",
    "02-29",
    "02-30",
    "ab" * 32,
    "AB" * 32,
    "board",
    "lab:acme",
    "contester:",
    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyE=",
    [],
    [None],
    [1, 2],
    ["x"],
    [{}],
    [{"sealed": True, "sha256": "ab" * 32}],
    ["x"] * (MAX_LIST + 1),
    {},
    {"sealed": True, "sha256": "ab" * 32},
    {"sealed": True, "sha256": "ab" * 32, "zz": 1},
    {"aa": 1, "zz": 2},
]


def _copy(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _paths(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*path, k)
            yield from _paths(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _mutants(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield body
    for path in [(), *_paths(body)]:
        parent_path, key = path[:-1], path[-1] if path else None
        for value in REPLACEMENTS:
            if key is None:
                continue
            m = _copy(body)
            parent = m
            for p in parent_path:
                parent = parent[p]
            parent[key] = value
            yield m
        m = _copy(body)
        target = m
        for p in path:
            target = target[p]
        if isinstance(target, dict):
            target["aaa_unknown"] = 1
            yield _copy(m)
            del target["aaa_unknown"]
            for k in list(target):
                del_m = _copy(m)
                t2 = del_m
                for p in path:
                    t2 = t2[p]
                del t2[k]
                yield del_m


def _optional_filled(entry_type: str) -> dict[str, Any]:
    body = _copy(EXAMPLES[entry_type])
    if entry_type == "preregistration":
        body["supersedes"] = 3
    if entry_type == "eval_suite":
        body["secret"] = {"sealed": True, "sha256": "cd" * 32}
    return body


@pytest.mark.parametrize("entry_type", sorted(TYPES))
def test_compiled_parser_matches_the_interpreter(entry_type: str) -> None:
    seen = 0
    for body in _mutants(_optional_filled(entry_type)):
        obj = {"type": entry_type, "v": 1, "log": ORIGIN, **body}
        data = json.dumps(obj).encode()
        got = _outcome(parse_payload, data)
        want = _outcome(_ref_body, entry_type, obj)
        assert got[0] == want[0], (body, got, want)
        if got[0] == "ok":
            assert got[1].body == want[1] and type(got[1].body) is type(want[1])
            assert references(got[1].body) == _ref_references(want[1])
            assert references(got[1].body, "x") == _ref_references(want[1], "x")
        else:
            assert got[1] == want[1], body
        seen += 1
    assert seen > 100


def test_value_and_object_helpers_still_answer() -> None:
    cls, _ = TYPES["submission"]
    body = EXAMPLES["submission"]
    assert codec._object(cls, body, "") == _ref_object(cls, body, "")
    with pytest.raises(FormatError, match=r"^x: expected an object$"):
        codec._object(cls, [], "x")
    hints = typing.get_type_hints(cls, include_extras=True)
    with pytest.raises(FormatError, match=r"^w: must not be null$"):
        codec._value(hints["preregistration"], None, "w")


def test_check_str_and_check_int_match_the_reference() -> None:
    specs = [
        Spec("text", max_len=5),
        Spec("enum", choices=("a", "b"), max_len=3),
        Spec("ident"),
        Spec("hex64", max_len=64),
        Spec("decimal"),
        Spec("role"),
        Spec("flop"),
        Spec("time"),
        Spec("date"),
        Spec("monthday"),
        Spec("b64key", max_len=44),
    ]
    for spec in specs:
        for value in REPLACEMENTS:
            assert _outcome(check_str, value, spec, "f") == _outcome(
                _ref_check_str, value, spec, "f"
            ), (spec, value)
    for spec in [Spec("int"), Spec("int", minimum=1, maximum=8), Spec("index", refs=("x",))]:
        for value in REPLACEMENTS:
            assert _outcome(check_int, value, spec, "f") == _outcome(
                _ref_check_int, value, spec, "f"
            ), (spec, value)


def test_control_characters_are_exactly_those_below_space_but_tab_and_newline() -> None:
    spec = Spec("text", max_len=10)
    for code in [*range(0x800), 0x2028, 0xFEFF, 0x10FFFF]:
        text = "a" + chr(code) + "b"
        assert _outcome(check_str, text, spec, "f") == _outcome(_ref_check_str, text, spec, "f")


# -- times: strptime's verdict on every edge the regexes admit ---------------------

YEARS = ["0000", "0001", "1900", "1969", "1970", "2000", "2024", "2027", "2100", "9999"]
MONTHS = [f"{m:02d}" for m in (0, 1, 2, 4, 9, 10, 11, 12, 13, 19, 20, 99)]
DAYS = [f"{d:02d}" for d in (0, 1, 9, 10, 19, 28, 29, 30, 31, 32, 39, 40, 99)]
HOURS = [f"{h:02d}" for h in (0, 9, 10, 19, 20, 23, 24, 25, 29, 30, 99)]
MINUTES = [f"{m:02d}" for m in (0, 9, 10, 59, 60, 61, 69, 99)]
SECONDS = [f"{s:02d}" for s in (0, 9, 10, 59, 60, 61, 62, 69, 99)]
UNICODE = [
    "٢٠٢٧-01-04T09:00:00",  # strptime accepts other digits in some positions …
    "2027-01-1٥T09:00:00",
    "2027-01-04T0٩:0٩:0٩",
    "2027-0١-04T09:00:00",  # … and not in others (the month)
    "2027-01-04T09:00:60",
    "２０２７-01-04T09:00:00",
]


def _stamps() -> Iterator[str]:
    for y in YEARS:
        for m in MONTHS:
            for d in DAYS:
                yield f"{y}-{m}-{d}T12:34:56"
    for h in HOURS:
        for mi in MINUTES:
            for s in SECONDS:
                yield f"2027-01-04T{h}:{mi}:{s}"


def test_times_match_strptime() -> None:
    for stamp in _stamps():
        for text in (stamp + "Z", stamp + ".5Z", stamp + ".123456Z"):
            assert _outcome(parse_time, text, "t") == _outcome(_ref_parse_time, text, "t"), text
        for text in (stamp + ".123Z", stamp + ".999Z"):
            assert _outcome(parse_logged_at, text) == _outcome(_ref_parse_logged_at, text), text


def test_only_ascii_digits_spell_a_time() -> None:
    """Other scripts' digits would give one signed instant a second spelling: refused."""
    for stamp in [*UNICODE[:4], UNICODE[5]]:
        assert _outcome(parse_time, stamp + "Z", "t")[0] == "error", stamp
        assert _outcome(parse_logged_at, stamp + ".123Z")[0] == "error", stamp
    assert _outcome(parse_time, "2027-01-04T09:00:00.٧Z", "t")[0] == "error"
    assert _outcome(parse_date, "٢٠٢٧-01-04", "d")[0] == "error"
    assert _outcome(parse_monthday, "٠٦-٣٠", "m")[0] == "error"


def test_leap_seconds_and_impossible_dates_are_refused() -> None:
    for text in ("2027-01-01T23:59:60Z", "2027-02-29T00:00:00Z", "2027-04-31T00:00:00Z"):
        with pytest.raises(FormatError, match="is not a valid date and time"):
            parse_time(text, "t")
    assert parse_time("2028-02-29T00:00:00.5Z", "t") == 1835395200500
    with pytest.raises(FormatError, match="is not a valid date and time"):
        parse_logged_at("2016-12-31T23:59:60.000Z")
    assert parse_logged_at("1970-01-01T00:00:00.001Z") == 1
    assert parse_logged_at("1969-12-31T23:59:59.000Z") == -1000


def test_payload_bytes_must_be_utf8() -> None:
    """json.loads would guess UTF-16 or pass a lone surrogate; two verifiers must not differ."""
    good = json.dumps({"type": "charter"}).encode()
    for data in (good.decode().encode("utf-16"), b'{"a": "\xed\xa0\x80"}', b'"\xff"'):
        with pytest.raises(FormatError, match="not valid UTF-8"):
            loads_strict(data, what="payload")
    assert loads_strict(good, what="payload") == {"type": "charter"}
