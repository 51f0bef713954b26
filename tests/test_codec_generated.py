"""The generated parser of each payload class reads every object as the general one does.

:func:`verifier.entries.codec._object_parser` compiles, per dataclass, a function that
tests common values in line and hands every other value to the general parser's step
for that field. These tests hold it to :func:`verifier.entries.codec._general_object_parser`
(whose nested objects are read by the general parser too, see ``general``): the same
value, or the same error message, for every example payload, for objects built field
by field from good and bad values (hypothesis), and for the quick tests alone.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.payload_examples import EXAMPLES
from verifier.entries import codec
from verifier.entries.fields import MAX_FLOP, Spec, str_accepts, str_checker
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError


def _classes() -> list[type]:
    """Every dataclass a payload can hold, nested ones included."""
    seen: list[type] = []
    todo = [cls for cls, _ in TYPES.values()]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        for hint in codec._hints(cls).values():
            base, _, _ = codec._split(hint)
            while dataclasses.is_dataclass(base) is False and getattr(base, "__args__", None):
                base, _, _ = codec._split(base.__args__[0])
            if dataclasses.is_dataclass(base):
                todo.append(base)  # type: ignore[arg-type]
    return seen


CLASSES = _classes()
#: The compiled parsers (before any test replaces them with the general ones).
COMPILED = codec._object_parser


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The general parser all the way down: nested objects are read by it too."""
    parsers: dict[tuple[type, frozenset[str]], Any] = {}

    def object_parser(cls: type, ignore: frozenset[str] = frozenset()) -> Any:
        key = (cls, ignore)
        if key not in parsers:
            parsers[key] = codec._general_object_parser(cls, ignore)
        return parsers[key]

    compiled = codec._object_parser
    monkeypatch.setattr(codec, "_object_parser", object_parser)
    yield object_parser
    monkeypatch.setattr(codec, "_object_parser", compiled)


def _outcome(parse: Any, obj: Any, what: str = "") -> tuple[str, Any]:
    try:
        return "ok", parse(obj, what)
    except FormatError as exc:
        return "error", str(exc)


def _compare(cls: type, obj: Any, general: Any, what: str = "") -> None:
    compiled = COMPILED(cls, codec._ENVELOPE_KEYS)
    want = _outcome(general(cls, codec._ENVELOPE_KEYS), obj, what)
    got = _outcome(compiled, obj, what)
    assert got == want, obj
    if got[0] == "ok":
        assert type(got[1]) is type(want[1]) is cls
        assert vars(got[1]) == vars(want[1])
        assert list(vars(got[1])) == [f.name for f in dataclasses.fields(cls)]


def test_every_class_is_compiled() -> None:
    for cls in CLASSES:
        parser = codec._object_parser(cls)
        assert parser.__code__.co_filename == f"<parser of {cls.__name__}>"
        source, names = codec._object_source(cls)
        assert source.startswith("def parse(obj, what):\n")
        assert all(name.isidentifier() for name in names)


@pytest.mark.parametrize("entry_type", sorted(TYPES))
def test_examples_read_the_same(entry_type: str, general: Any) -> None:
    cls, _ = TYPES[entry_type]
    body = json.loads(json.dumps(EXAMPLES[entry_type]))
    _compare(cls, body, general)
    _compare(cls, body, general, "x")
    _compare(cls, {**body, "type": entry_type, "v": 1, "log": "l"}, general)


#: Values for any field: good ones of most kinds and bad ones of every kind.
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    63,
    64,
    2027,
    2**63 - 1,
    2**63,
    -1,
    1.0,
    "",
    "x",
    "a\tb",
    "a\nb",
    "a\x01b",
    "a\x7fb",
    "\u2028",
    "x" * 201,
    "x" * 2001,
    "acme",
    "acme-1.x",
    "-acme",
    "ACME",
    "UTC",
    "pass",
    "approved",
    "fine_tuning",
    "ab" * 32,
    "AB" * 32,
    "0",
    "0.5",
    "1e25",
    "3e26",
    "1.5e1",
    "1.55e1",
    "1e41",
    str(MAX_FLOP),
    str(MAX_FLOP + 1),
    "2027-01-04T09:00:00Z",
    "2027-01-04T09:00:00.123Z",
    "1970-01-01T00:00:00Z",
    "2027-02-29T00:00:00Z",
    "2027-01-01T24:00:00Z",
    "2027-01-01",
    "2027-02-30",
    "06-30",
    "02-30",
    "board",
    "lab:acme",
    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    [],
    [None],
    ["x"],
    [1, 2],
    [{"sealed": True, "sha256": "ab" * 32}],
    ["x"] * 257,
    {},
    {"sealed": True, "sha256": "ab" * 32},
    {"sealed": 1, "sha256": "ab" * 32},
    {"sealed": True, "sha256": "ab" * 32, "zz": 1},
]

_ABSENT = object()


@st.composite
def objects(draw: st.DrawFn) -> tuple[type, Any]:
    cls = draw(st.sampled_from(CLASSES))
    obj: dict[str, Any] = {}
    example = _example_of(cls)
    for f in dataclasses.fields(cls):
        choice = draw(st.integers(0, 3))
        if choice == 0 and f.name in example:
            obj[f.name] = example[f.name]  # mostly good objects, so later fields are reached
        elif choice == 1:
            continue  # absent
        else:
            obj[f.name] = draw(st.sampled_from(VALUES))
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.sampled_from(["zz", "type", "aa", "v"]))] = 1
    if draw(st.integers(0, 19)) == 0:
        return cls, draw(st.sampled_from([None, [], "x", 1]))
    return cls, obj


def _example_of(cls: type) -> dict[str, Any]:
    """A good JSON object of *cls*, where the examples hold one."""
    todo: list[Any] = [json.loads(json.dumps(EXAMPLES[t])) for t in sorted(EXAMPLES)]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            if item.keys() == {f.name for f in dataclasses.fields(cls)} or (
                {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
                <= item.keys()
                <= {f.name for f in dataclasses.fields(cls)}
            ):
                return item
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return {}


@settings(max_examples=1500, deadline=None)
@given(objects(), st.sampled_from(["", "x", "a.b[0]"]))
def test_generated_objects_read_the_same(drawn: tuple[type, Any], what: str) -> None:
    cls, obj = drawn
    parsers: dict[tuple[type, frozenset[str]], Any] = {}

    def general(c: type, ignore: frozenset[str] = frozenset()) -> Any:
        if (c, ignore) not in parsers:
            parsers[c, ignore] = codec._general_object_parser(c, ignore)
        return parsers[c, ignore]

    compiled = codec._object_parser
    codec._object_parser = general  # type: ignore[assignment]
    try:
        want = _outcome(general(cls, codec._ENVELOPE_KEYS), obj, what)
    finally:
        codec._object_parser = compiled
    got = _outcome(compiled(cls, codec._ENVELOPE_KEYS), obj, what)
    if got[0] == "ok" and want[0] == "ok":
        assert vars(got[1]) == vars(want[1])
    else:
        assert got == want


SPECS = [
    Spec("text", max_len=5),
    Spec("ident", max_len=64),
    Spec("hex64", max_len=64),
    Spec("decimal", max_len=20),
    Spec("role", max_len=80),
    Spec("keyhash", max_len=8),
    Spec("flop", max_len=48),
    Spec("time", max_len=40),
    Spec("date", max_len=10),
    Spec("monthday", max_len=5),
    Spec("b64key", max_len=44),
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.kind for s in SPECS])
def test_a_quick_test_passes_only_what_the_check_returns_unchanged(spec: Spec) -> None:
    accepts = str_accepts(spec)
    check = str_checker(spec)
    if spec.kind in ("date", "monthday", "b64key"):
        assert accepts is None
        return
    assert accepts is not None
    for value in [v for v in VALUES if isinstance(v, str)] + ["abc\t", "abcde", "abcdef"]:
        if len(value) <= spec.max_len and accepts(value):
            assert check(value, "f") is value


@settings(max_examples=800, deadline=None)
@given(st.text(max_size=60), st.sampled_from(SPECS[:8]))
def test_a_quick_test_never_passes_a_refused_string(value: str, spec: Spec) -> None:
    accepts = str_accepts(spec)
    assert accepts is not None
    if len(value) <= spec.max_len and accepts(value):
        assert str_checker(spec)(value, "f") is value
