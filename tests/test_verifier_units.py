"""Strict parsers, weak-key refusal and the verifier's import boundary."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import verifier
from verifier import errors
from verifier.core import ed25519
from verifier.core.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from verifier.core.encoding import b64decode_strict, b64encode, parse_decimal
from verifier.core.leaf import (
    canonical_json,
    check_envelope,
    encode_leaf,
    format_logged_at,
    loads_strict,
    parse_leaf,
)
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.note import (
    Ed25519Signer,
    Ed25519Verifier,
    parse_note,
    parse_vkey,
    sign_note,
    verify_note,
)
from verifier.core.tlog_proof import TlogProof, parse_tlog_proof
from verifier.errors import FormatError, SignatureError, WeakKeyError

P = 2**255 - 19
Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022

# Every small-order point's encoding (both x signs), and non-canonical encodings.
SMALL_ORDER = [
    (y | (sign << 255)).to_bytes(32, "little") for y in (0, 1, P - 1, Y8, P - Y8) for sign in (0, 1)
]
NON_CANONICAL = [
    (y | (s << 255)).to_bytes(32, "little") for y in (P, P + 1, 2**255 - 1) for s in (0, 1)
]


def test_identity_key_with_zero_signature_is_refused() -> None:
    """OpenSSL alone verifies (R=identity, S=0) under the identity key on any message
    (see benchmarks/bench_ed25519.py); the verifier refuses the key before that."""
    identity = (1).to_bytes(32, "little")
    with pytest.raises(WeakKeyError):
        ed25519.load_public_key(identity)
    with pytest.raises(WeakKeyError):
        Ed25519Verifier.from_public_key("example.org/log", identity)


@pytest.mark.parametrize(
    "raw", SMALL_ORDER + NON_CANONICAL, ids=lambda b: b.hex()[:12] + b.hex()[-4:]
)
def test_weak_keys_refused_everywhere(raw: bytes) -> None:
    with pytest.raises(WeakKeyError):
        ed25519.check_public_key(raw)
    with pytest.raises(WeakKeyError):
        Ed25519Verifier.from_public_key("example.org/log", raw)
    vkey = "example.org/log+00000000+" + b64encode(b"\x01" + raw)
    with pytest.raises(FormatError):
        parse_vkey(vkey)


def test_small_order_points_are_really_small_order() -> None:
    """Check the blocklist with independent arithmetic: 8·P is the identity."""
    d = -121665 * pow(121666, -1, P) % P

    def recover_x(y: int, sign: int) -> int | None:
        xx = (y * y - 1) * pow(d * y * y + 1, -1, P) % P
        x = pow(xx, (P + 3) // 8, P)
        if (x * x - xx) % P:
            x = x * pow(2, (P - 1) // 4, P) % P
        if (x * x - xx) % P:
            return None
        return P - x if (x & 1) != sign else x

    def add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        (x1, y1), (x2, y2) = a, b
        t = d * x1 * x2 * y1 * y2 % P
        return (
            (x1 * y2 + x2 * y1) * pow(1 + t, -1, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P,
        )

    for y in (0, 1, P - 1, Y8, P - Y8):
        x = recover_x(y, 0)
        assert x is not None
        pt = (x, y)
        acc = (0, 1)
        for _ in range(8):
            acc = add(acc, pt)
        assert acc == (0, 1)


def test_signature_with_s_above_l_is_refused() -> None:
    signer = Ed25519Signer.generate("example.org/log")
    sig = bytearray(signer.sign(b"msg"))
    s = int.from_bytes(sig[32:], "little") + (2**252 + 27742317777372353535851937790883648493)
    sig[32:] = s.to_bytes(32, "little")
    with pytest.raises(SignatureError):
        signer.verifier.verify(b"msg", bytes(sig))


@pytest.mark.parametrize(
    "text", ["", "01", "+1", "-1", " 1", "1 ", "1_0", "٥", "0x10", "18446744073709551616"]
)
def test_decimal_strict(text: str) -> None:
    with pytest.raises(FormatError):
        parse_decimal(text, what="n")


def test_decimal_ok() -> None:
    assert parse_decimal("0", what="n") == 0
    assert parse_decimal("18446744073709551615", what="n") == 2**64 - 1


@pytest.mark.parametrize(
    "text", ["YQ", "YQ=", "YR==", "Y Q==", "YQ==\n", "YQ==YQ==", "-_8=", "YQ==="]
)
def test_base64_strict(text: str) -> None:
    with pytest.raises(FormatError):
        b64decode_strict(text, what="x")


def test_note_rules() -> None:
    signer = Ed25519Signer.generate("example.org/log")
    other = Ed25519Signer.generate("witness.example/w")
    note = sign_note("hello\n", [signer, other])
    verified = verify_note(note, [signer.verifier])
    assert verified.verified_by == ("example.org/log",)
    # No trusted key → rejected; a trusted key with a bad signature → rejected.
    with pytest.raises(SignatureError):
        verify_note(note, [Ed25519Signer.generate("x.example/y").verifier])
    tampered = note.replace(b"hello", b"hellp")
    with pytest.raises(SignatureError):
        verify_note(tampered, [signer.verifier])
    for bad in (
        b"hello\n",  # no signatures
        b"hello\n\n",  # blank line, no signature lines
        b"hel\x01lo\n\n" + note.split(b"\n\n")[1],  # control character
        b"hello\n\n- example.org/log AAAAAA==\n",  # ASCII hyphen, not an em dash
        note + b"trailing",
        note[:-1],
        b"\xff\n\n" + note.split(b"\n\n")[1],
    ):
        with pytest.raises(FormatError):
            parse_note(bad)
    many = sign_note("x\n", [Ed25519Signer.generate(f"k{i}.example/x") for i in range(101)])
    with pytest.raises(FormatError, match="more than 100"):
        parse_note(many)


def test_checkpoint_roundtrip_and_origin_binding() -> None:
    signer = Ed25519Signer.generate("example.org/log")
    cp = Checkpoint("example.org/log", 5, EMPTY_ROOT)
    assert parse_checkpoint(cp.to_text()) == cp
    opened = open_checkpoint(sign_note(cp.to_text(), [signer]), signer.verifier)
    assert opened.size == 5
    # Signed by the log key, but naming another origin: refused.
    wrong = sign_note(Checkpoint("other.example/log", 5, EMPTY_ROOT).to_text(), [signer])
    with pytest.raises(FormatError, match="origin"):
        open_checkpoint(wrong, signer.verifier)


def test_tlog_proof_roundtrip_and_strictness() -> None:
    signer = Ed25519Signer.generate("example.org/log")
    note = sign_note(Checkpoint("example.org/log", 1, EMPTY_ROOT).to_text(), [signer])
    proof = TlogProof(0, (EMPTY_ROOT,), note)
    assert parse_tlog_proof(proof.to_text()) == proof
    text = proof.to_text()
    for bad in (
        text.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        text.replace("index 0", "index 00"),
        text.replace("index 0\n", ""),
        text.replace("\n\n", "\n"),
    ):
        with pytest.raises(FormatError):
            parse_tlog_proof(bad)


def test_leaf_and_envelope_shape() -> None:
    env = {
        "payload": "e30=",
        "payloadType": "application/vnd.frontier-ledger.charter.v1+json",
        "signatures": [{"keyid": "ab" * 32, "sig": b64encode(bytes(64))}],
    }
    leaf = encode_leaf(canonical_json(env), 1_800_000_000_123)
    assert (
        leaf
        == canonical_json(
            {"v": 1, "logged_at": "2027-01-15T08:00:00.123Z", "envelope": env}
        ).encode()
    )
    assert leaf.startswith(b'{"envelope":{"payload":"e30="')
    parsed = parse_leaf(leaf)
    assert (
        parsed.logged_at == "2027-01-15T08:00:00.123Z" and parsed.envelope.entry_type == "charter"
    )
    for bad in (
        {**env, "extra": 1},
        {**env, "payloadType": "text/plain"},
        {**env, "signatures": []},
        {**env, "signatures": [{"keyid": "AB" * 32, "sig": b64encode(bytes(64))}]},
        {**env, "signatures": [{"keyid": "ab" * 32, "sig": b64encode(bytes(63))}]},
        {**env, "payload": "e30"},
        [env],
    ):
        with pytest.raises(FormatError):
            check_envelope(bad)
    with pytest.raises(FormatError, match="duplicate"):
        loads_strict(b'{"a":1,"a":2}', what="x")
    with pytest.raises(FormatError):
        loads_strict(b'{"a":NaN}', what="x")


@pytest.mark.parametrize(
    "text", [rb'"\ud800"', rb'{"a": ["x\udfffy"]}', rb'{"\udc00": 1}', rb'"\ude00\ud83d"']
)
def test_json_escaping_a_lone_surrogate_is_refused(text: bytes) -> None:
    with pytest.raises(FormatError, match="lone surrogate"):
        loads_strict(text, what="x")


@pytest.mark.parametrize(
    "text", ["0003-11-01T05:37:58.000Z", "0999-12-31T23:59:59.999Z", "2027-01-04T09:00:00.123Z"]
)
def test_times_are_written_with_four_digit_years(text: str) -> None:
    # strftime("%Y") wrote year 3 as "3": the API's audit echoed ?at=0003-… as "3-11-01…".
    from verifier.entries.fields import parse_time
    from verifier.policy.calendar import fmt_time

    ms = parse_time(text, "t")
    assert format_logged_at(ms) == text
    assert fmt_time(ms) == text[:19] + "Z"


def test_json_escapes_of_real_characters_are_read() -> None:
    # A surrogate pair escapes one astral character; an escaped backslash is no escape.
    assert loads_strict(rb'["\ud83d\ude00", "\u00e9", "\\ud800"]', what="x") == [
        "\U0001f600",
        "\u00e9",
        "\\ud800",
    ]


FORBIDDEN = [
    "ledger",
    "public_site",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlite_utils",
    "apscheduler",
    "jinja2",
    "orjson",
]


def test_verifier_imports_nothing_from_the_server_stack() -> None:
    code = (
        "import pkgutil, importlib, sys, verifier\n"
        "for m in pkgutil.walk_packages(verifier.__path__, 'verifier.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"verifier pulled in: {out.stdout}"


VERIFIER = Path(verifier.__file__).resolve().parent


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import statement in *path*, at any depth (lazy ones too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: named as written, so it never passes as stdlib
                yield node.lineno, "." * node.level + (node.module or "")
            elif node.module == "verifier":  # from verifier import errors
                yield from ((node.lineno, f"verifier.{alias.name}") for alias in node.names)
            else:
                yield node.lineno, node.module or ""


def is_stdlib(module: str) -> bool:
    return module.split(".", maxsplit=1)[0] in sys.stdlib_module_names


@pytest.mark.parametrize(
    ("name", "allowed"), [("errors.py", set()), ("files.py", {"verifier.errors"})]
)
def test_errors_and_files_import_only_the_standard_library(name: str, allowed: set[str]) -> None:
    """errors.py imports the standard library alone; files.py (durable writes and capped
    reads, used by the ledger too) that and errors.py, to raise the tree's errors: so
    neither brings anything but the standard library with it."""
    path = VERIFIER / name
    bad = [
        f"line {n}: {m}" for n, m in imported_modules(path) if not is_stdlib(m) and m not in allowed
    ]
    assert not bad, f"verifier/{name} may import only the standard library: {bad}"


def test_every_verifier_exception_is_in_the_one_error_tree() -> None:
    """Exceptions are defined in verifier/errors.py alone, under LedgerVerifyError, each with
    a docstring saying what fault it names."""
    stray = []
    for info in pkgutil.walk_packages(verifier.__path__, "verifier."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name != "verifier.errors"
            ):
                stray.append(f"{info.name}.{name}")
    assert not stray, f"define these in verifier/errors.py: {stray}"
    tree = [
        obj
        for obj in vars(errors).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    ]
    assert len(tree) > 10
    for cls in tree:
        assert issubclass(cls, errors.LedgerVerifyError), cls
        assert cls.__doc__, f"{cls.__name__} needs a docstring naming its fault"


def core_may_import(module: str) -> bool:
    """The trust core's allowed imports: the standard library, ``cryptography``, other
    core modules and the error tree (ARCHITECTURE.md: bytes and keys in, results out)."""
    return (
        is_stdlib(module)
        or module == "cryptography"
        or module.startswith("cryptography.")
        or module in ("verifier.core", "verifier.errors")
        or module.startswith("verifier.core.")
    )


def test_verifier_core_imports_only_the_stdlib_cryptography_core_and_errors() -> None:
    core = sorted((VERIFIER / "core").glob("*.py"))
    assert len(core) > 10
    bad = [
        f"verifier/core/{path.name}:{line} imports {module}"
        for path in core
        for line, module in imported_modules(path)
        if not core_may_import(module)
    ]
    assert not bad, "verifier/core may import only the standard library, cryptography, " + (
        f"verifier.core and verifier.errors: {bad}"
    )


def test_the_core_import_check_catches_what_it_must() -> None:
    allowed = ["hashlib", "__future__", "cryptography.exceptions", "verifier.core.merkle"]
    assert all(core_may_import(m) for m in [*allowed, "verifier.errors", "verifier.core"])
    for outside in ["verifier.entries.fields", "verifier", "verifier.files", "ledger", ".leaf"]:
        assert not core_may_import(outside), outside
