"""The verifier's fast paths give exactly what the general parsers give.

- :func:`verifier.core.frozen.build` makes the instance ``cls(**values)`` makes, for
  every class built that way (leaf, envelope, signature, payload and every payload
  body class), and :func:`buildable` refuses classes it would build wrongly.
- A canonical leaf read by position (``_parse_canonical_leaf``) equals the leaf the
  strict JSON parser reads, and a leaf the fast path does not take is read (or
  refused, with the same error) by the general one: the fast path only accepts.
- ``loads_strict`` reads a value that fills its text by the scanner alone, with the
  same result and errors as ``JSONDecoder.decode``.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.payload_examples import EXAMPLES
from tests.payload_examples import payload as example_payload
from verifier.core import leaf as leaf_mod
from verifier.core.encoding import b64encode
from verifier.core.frozen import build, buildable
from verifier.core.leaf import Envelope, EnvelopeSignature, Leaf, canonical_json, parse_leaf
from verifier.entries.codec import Payload, parse_payload
from verifier.entries.payloads import TYPES
from verifier.entries.replay import CheckedEntry
from verifier.errors import FormatError

KEYID = "ab" * 32
SIG = b64encode(bytes(range(64)))
TYPE = "application/vnd.frontier-ledger.submission.v1+json"


def leaf_obj(**changes: object) -> dict[str, object]:
    envelope = {
        "payload": b64encode(b'{"x": 1}'),
        "payloadType": TYPE,
        "signatures": [{"keyid": KEYID, "sig": SIG}],
    }
    obj: dict[str, object] = {
        "envelope": envelope,
        "logged_at": "2027-01-04T09:00:00.123Z",
        "v": 1,
    }
    for key, value in changes.items():
        if key in envelope:
            envelope[key] = value
        else:
            obj[key] = value
    return obj


def general(data: bytes) -> Leaf | str:
    """What the general strict parser makes of *data* (its error text if it refuses)."""
    try:
        return leaf_mod._parse_leaf_json(data)
    except FormatError as exc:
        return str(exc)


def test_build_makes_what_init_makes() -> None:
    sig = EnvelopeSignature(KEYID, bytes(64))
    assert build(EnvelopeSignature, {"keyid": KEYID, "sig": bytes(64)}) == sig
    env = Envelope(b"p", TYPE, (sig,), "submission", 1)
    values = {
        "payload": b"p",
        "payload_type": TYPE,
        "signatures": (sig,),
        "entry_type": "submission",
        "type_version": 1,
    }
    built = build(Envelope, dict(values))
    assert built == env and vars(built) == vars(env) and type(built) is Envelope
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.payload = b"q"  # type: ignore[misc]
    for cls in (
        Leaf,
        Envelope,
        EnvelopeSignature,
        Payload,
        CheckedEntry,
        *(c for c, _ in TYPES.values()),
    ):
        assert buildable(cls), cls


def test_buildable_refuses_what_build_would_get_wrong() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        x: int

    @dataclasses.dataclass
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class WithInitVar:
        x: int
        y: dataclasses.InitVar[int] = 0

    @dataclasses.dataclass(frozen=True)
    class NotInit:
        x: int
        y: int = dataclasses.field(default=0, init=False)

    for cls in (Checked, Slotted, Mutable, WithInitVar, NotInit, int):
        assert not buildable(cls), cls


def test_a_canonical_leaf_is_read_as_the_general_parser_reads_it() -> None:
    for n_sigs in (1, 2, 16):
        sigs = [{"keyid": f"{i:064x}", "sig": SIG} for i in range(n_sigs)]
        data = canonical_json(leaf_obj(signatures=sigs)).encode()
        fast = leaf_mod._parse_canonical_leaf(data)
        assert fast is not None
        assert fast == general(data) == parse_leaf(data)
        assert vars(fast.envelope) == vars(parse_leaf(data).envelope)


BAD = [
    leaf_obj(signatures=[]),
    leaf_obj(signatures=[{"keyid": f"{i:064x}", "sig": SIG} for i in range(17)]),
    leaf_obj(signatures=[{"keyid": KEYID, "sig": SIG}, {"keyid": KEYID, "sig": SIG}]),
    leaf_obj(signatures=[{"keyid": KEYID.upper(), "sig": SIG}]),
    leaf_obj(signatures=[{"keyid": KEYID, "sig": SIG[:-4]}]),
    leaf_obj(signatures=[{"keyid": KEYID, "sig": SIG, "x": 1}]),
    leaf_obj(payload="not base64!"),
    leaf_obj(payload=b64encode(b"x")[:-1]),
    leaf_obj(payloadType="application/vnd.frontier-ledger.Submission.v1+json"),
    leaf_obj(payloadType="application/vnd.frontier-ledger.submission.v0+json"),
    leaf_obj(payloadType="a" * 200),
    leaf_obj(logged_at="2027-02-30T09:00:00.123Z"),
    leaf_obj(logged_at="2027-01-04T24:00:00.000Z"),
    leaf_obj(logged_at="2027-01-04T23:59:60.000Z"),
    leaf_obj(logged_at="2027-01-04T09:00:00Z"),
    leaf_obj(v=2),
    leaf_obj(v=True),
    leaf_obj(v=1.0),
    leaf_obj(extra=1),
]


@pytest.mark.parametrize("obj", BAD, ids=range(len(BAD)))
def test_the_fast_path_never_accepts_what_the_general_parser_refuses(obj: object) -> None:
    data = canonical_json(obj).encode() if "v" in obj else json.dumps(obj).encode()  # type: ignore[operator]
    expected = general(data)
    assert leaf_mod._parse_canonical_leaf(data) is None or not isinstance(expected, str)
    if isinstance(expected, str):
        with pytest.raises(FormatError) as err:
            parse_leaf(data)
        assert str(err.value) == expected


def test_non_canonical_spellings_of_a_good_leaf_read_the_same() -> None:
    obj = leaf_obj()
    canonical = canonical_json(obj).encode()
    want = parse_leaf(canonical)
    variants = [
        json.dumps(obj).encode(),  # white space
        json.dumps(obj, sort_keys=True, separators=(",", ":")).replace('"v":1', '"v":1 ').encode(),
        canonical.replace(b'"logged_at"', b'"logged\\u005fat"'),  # an escape
        json.dumps({"v": 1, **obj}, separators=(",", ":")).encode(),  # other key order
    ]
    for data in variants:
        assert leaf_mod._parse_canonical_leaf(data) is None
        got = parse_leaf(data)
        assert (got.envelope, got.logged_at, got.logged_at_ms) == (
            want.envelope,
            want.logged_at,
            want.logged_at_ms,
        )


def test_random_mutations_of_a_canonical_leaf_fast_and_general_agree() -> None:
    rng = random.Random(20261206)
    base = canonical_json(
        leaf_obj(signatures=[{"keyid": KEYID, "sig": SIG}, {"keyid": "cd" * 32, "sig": SIG}])
    ).encode()
    alphabet = b'{}[],:"\\ 0123456789abcdefvATZ.-+/=\x00\x7f\xc3\xa9'
    for _ in range(5000):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            op, at = rng.randrange(3), rng.randrange(len(data))
            if op == 0:
                data[at] = rng.choice(alphabet)
            elif op == 1:
                del data[at]
            else:
                data.insert(at, rng.choice(alphabet))
        raw = bytes(data)
        fast = leaf_mod._parse_canonical_leaf(raw)
        expected = general(raw)
        if fast is not None:
            assert fast == expected, raw
        try:
            got: Leaf | str = parse_leaf(raw)
        except FormatError as exc:
            got = str(exc)
        assert got == expected, raw


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        ' {"a": 1}',
        '{"a": 1} ',
        '{"a": 1}{"b": 2}',
        '{"a": 1, "a": 2}',
        '{"a": NaN}',
        "",
        "[1, 2",
        '"\\ud800"',
        '"x"',
        "1",
        "1 2",
    ],
)
def test_loads_strict_reads_as_decode_does(text: str) -> None:
    try:
        want: object = leaf_mod._DECODER.decode(text)
        if isinstance(want, str) and "\\u" in text:
            want = "surrogate"
    except (ValueError, FormatError) as exc:
        want = type(exc).__name__ + str(exc)
    try:
        got: object = leaf_mod.loads_strict(text, what="t")
    except FormatError as exc:
        got = str(exc)
    if isinstance(want, str) and want.startswith(("JSONDecodeError", "FormatError")):
        assert isinstance(got, str) and got.startswith("t: ")
    elif want == "surrogate":
        assert isinstance(got, str) and "surrogate" in got
    else:
        assert got == want


def rebuilt(value: object) -> object:
    """*value* made again through every dataclass's own __init__."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: rebuilt(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return type(value)(**fields)
    if isinstance(value, tuple):
        return tuple(rebuilt(v) for v in value)
    return value


@pytest.mark.parametrize("entry_type", sorted(EXAMPLES))
def test_payload_values_built_fast_equal_their_init(entry_type: str) -> None:
    """Every example payload parses to what the classes' own __init__ would make."""
    parsed = parse_payload(json.dumps(example_payload(entry_type)).encode())
    again = rebuilt(parsed)
    assert again == parsed
    assert vars(again) == vars(parsed) and vars(again.body) == vars(parsed.body)  # type: ignore[attr-defined]


# The canonical leaf's fields one at a time: each value read fast or left to the general
# parser, never read otherwise than it reads it.
LOGGED_AT = [
    "2027-01-04T09:00:00.123Z",
    "2028-02-29T23:59:59.999Z",
    "2027-02-29T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00.000Z",
    "2027-01-04T24:00:00.000Z",
    "2027-01-04T09:60:00.000Z",
    "2027-01-04T09:00:60.000Z",
    "2027-13-04T09:00:00.000Z",
    "2027-01-00T09:00:00.000Z",
    "2027-01-04 09:00:00.000Z",
    "2027-01-04T09:00:00.12Z",
    "2027-01-04T09:00:00.1234Z",
    "٢٠٢٧-01-04T09:00:00.000Z",
]
SIGS = [
    SIG,
    b64encode(bytes(63)),
    b64encode(bytes(65)),
    SIG[:-2] + "A=",
    SIG[:-2] + "B=",
    SIG[:-1],
    SIG.replace("A", "-"),
    "",
]
PAYLOADS = [
    b64encode(b'{"x": 1}'),
    b64encode(b"ab"),
    "YR==",
    "YQ==",
    "YWI=",
    "YWJ=",
    "YWJj",
    "YW Jj",
    "",
    "=",
    "YQ",
]


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(LOGGED_AT),
    st.lists(
        st.tuples(st.sampled_from([KEYID, "cd" * 32, "0" * 64, "AB" * 32]), st.sampled_from(SIGS)),
        min_size=0,
        max_size=17,
    ),
    st.sampled_from(PAYLOADS),
)
def test_fields_of_a_canonical_leaf_read_as_the_general_parser_reads_them(
    logged_at: str, sigs: list[tuple[str, str]], payload: str
) -> None:
    obj = leaf_obj(
        logged_at=logged_at,
        payload=payload,
        signatures=[{"keyid": k, "sig": g} for k, g in sigs],
    )
    data = canonical_json(obj).encode()
    fast = leaf_mod._parse_canonical_leaf(data)
    expected = general(data)
    if fast is not None:
        assert fast == expected
        assert vars(fast) == vars(expected)  # type: ignore[arg-type]
        assert vars(fast.envelope) == vars(expected.envelope)  # type: ignore[union-attr]
    assert (fast is not None) == (not isinstance(expected, str)) or not logged_at.isascii()
