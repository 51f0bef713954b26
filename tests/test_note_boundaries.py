"""C2SP signed-note, tlog-checkpoint and tlog-cosignature at their edges.

Size caps one byte either side, every rejection with its exact message, the key
strings the Go tooling writes byte for byte, and what open_checkpoint decides for
each combination of log keys, retired keys, required keys and witnesses.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from verifier.core.checkpoint import (
    MAX_ORIGIN_LENGTH,
    Checkpoint,
    check_origin,
    open_checkpoint,
    parse_checkpoint,
)
from verifier.core.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosigned_message,
    parse_witness_vkey,
)
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.mldsa import MLDSA44Signer, MLDSA44Verifier
from verifier.core.note import (
    MAX_NOTE_SIZE,
    Ed25519Signer,
    Ed25519Verifier,
    Note,
    NoteSignature,
    check_key_name,
    key_id,
    key_label,
    parse_note,
    parse_skey,
    parse_vkey,
    sign_note,
    split_vkey,
    verify_note,
)
from verifier.errors import (
    FormatError,
    MissingSignatureError,
    RetiredKeyError,
    SignatureError,
    UnknownKeyError,
    WeakKeyError,
)

ORIGIN = "example.org/log"
LOG = Ed25519Signer.from_seed(ORIGIN, bytes(range(32)))
NEW_LOG = Ed25519Signer.from_seed(ORIGIN, bytes(range(1, 33)))
WITNESS = CosignatureSigner.from_seed("witness.example/w", bytes(range(2, 34)))


@contextmanager
def rejects(kind: type[Exception], message: str) -> Iterator[None]:
    """The block raises *kind* with exactly *message*."""
    with pytest.raises(kind) as info:
        yield
    assert str(info.value) == message


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def typed(alg: int, key: bytes) -> str:
    """base64(type byte || key), the last part of a vkey or skey."""
    return b64(bytes([alg]) + key)


# == Key names, key IDs and key strings ==========================================


def test_key_names() -> None:
    check_key_name("a")
    check_key_name("example.org/log-é")
    with rejects(FormatError, "key name is empty"):
        check_key_name("")
    for name in ["a+b", "a b", "a\tb", "a\u2003b", "a\nb"]:
        with rejects(FormatError, f"key name {name!r} contains '+' or white space"):
            check_key_name(name)
    with rejects(FormatError, f"key name {'+' * 60!r} contains '+' or white space"):
        check_key_name("+" * 100)
    for name in ["a\x00b", "a\x01", "\x7f"]:
        with rejects(FormatError, "key name contains a control character"):
            check_key_name(name)


def test_key_ids_and_vkeys_are_the_go_tooling_s() -> None:
    pub = LOG.verifier.public_key
    assert key_id(ORIGIN, 1, pub) == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + pub).digest()[:4]
    assert LOG.key_id == key_id(ORIGIN, 1, pub)
    assert LOG.verifier.vkey == f"{ORIGIN}+{LOG.key_id.hex()}+{typed(1, pub)}"
    assert LOG.skey == f"PRIVATE+KEY+{ORIGIN}+{LOG.key_id.hex()}+{typed(1, bytes(range(32)))}"
    assert parse_vkey(LOG.verifier.vkey) == LOG.verifier
    assert parse_skey(" " + LOG.skey + "\n").skey == LOG.skey
    assert parse_skey(LOG.skey).verifier == LOG.verifier
    assert key_label(LOG.verifier) == f"{ORIGIN}+{LOG.key_id.hex()} (Ed25519)"
    assert key_label(WITNESS.verifier) == (
        f"witness.example/w+{WITNESS.key_id.hex()} (Ed25519 cosignature/v1)"
    )
    assert key_label(object()) == "?+ (Ed25519)"
    with pytest.raises(WeakKeyError):
        Ed25519Verifier.from_public_key(ORIGIN, b"\x01" + bytes(31))


def test_vkey_rejections_are_exact() -> None:
    pub = LOG.verifier.public_key
    kid = LOG.key_id.hex()
    for vkey, message in [
        (f"{ORIGIN}+{kid}", "vkey: expected <name>+<hex key ID>+<base64 key>"),
        (
            f"{ORIGIN}+{kid.upper()}+{typed(1, pub)}",
            "vkey: key ID must be 8 lowercase hex digits",
        ),
        (f"{ORIGIN}+{kid[:7]}+{typed(1, pub)}", "vkey: key ID must be 8 lowercase hex digits"),
        (f"{ORIGIN}+{kid}0+{typed(1, pub)}", "vkey: key ID must be 8 lowercase hex digits"),
        (
            f"{ORIGIN}+{kid}+{typed(2, pub)}",
            "vkey: unsupported key type 0x02 (expected 0x01, Ed25519)",
        ),
        (f"{ORIGIN}+{kid}+", "vkey: unsupported key type none (expected 0x01, Ed25519)"),
        (f"{ORIGIN}+{kid}+{typed(1, pub[:31])}", "vkey: Ed25519 key must be 32 bytes"),
        (f"{ORIGIN}+{kid}+{typed(1, pub + b'x')}", "vkey: Ed25519 key must be 32 bytes"),
        (
            f"other.org/log+{kid}+{typed(1, pub)}",
            "vkey: key ID does not match the name and key",
        ),
    ]:
        with rejects(FormatError, message):
            parse_vkey(vkey)
    with rejects(
        FormatError, "witness vkey: unsupported key type 0x01 (expected 0x04, cosignature/v1)"
    ):
        split_vkey(LOG.verifier.vkey, 0x04, "witness vkey")
    with rejects(FormatError, "k: unsupported key type 0x01 (expected 0x06, ML-DSA-44)"):
        split_vkey(LOG.verifier.vkey, 0x06, "k")
    with rejects(FormatError, "k: unsupported key type 0x01 (expected 0x07, ?)"):
        split_vkey(LOG.verifier.vkey, 0x07, "k")
    # The base64 part may itself contain '+': only the first two split.
    name, id_hex, key = split_vkey(f"a+{kid}+{typed(1, bytes([0xFB] * 32))}", 1)
    assert (name, id_hex, key) == ("a", kid, bytes([0xFB] * 32))


def test_skey_rejections_are_exact() -> None:
    seed = bytes(range(32))
    kid = LOG.key_id.hex()
    for skey, message in [
        (
            f"PRIVATE+KEYS+{ORIGIN}+{kid}+{typed(1, seed)}",
            "signer key must start with PRIVATE+KEY+",
        ),
        (
            f"PRIVATE+KEY+{ORIGIN}+{kid}",
            "signer key: expected PRIVATE+KEY+<name>+<hex id>+<base64 key>",
        ),
        (
            f"PRIVATE+KEY+{ORIGIN}+{kid}+{typed(2, seed)}",
            "signer key: only Ed25519 (type 0x01, 32-byte seed) is supported",
        ),
        (
            f"PRIVATE+KEY+{ORIGIN}+{kid}+{typed(1, seed[:31])}",
            "signer key: only Ed25519 (type 0x01, 32-byte seed) is supported",
        ),
        (
            f"PRIVATE+KEY+{ORIGIN}+00000000+{typed(1, seed)}",
            "signer key: key ID does not match the name and key",
        ),
    ]:
        with rejects(FormatError, message):
            parse_skey(skey)


# == Notes =========================================================================


def test_note_bytes_are_exact() -> None:
    note = sign_note("hello\n", [LOG])
    sig = LOG.sign(b"hello\n")
    assert note == f"hello\n\n\u2014 {ORIGIN} {b64(LOG.key_id + sig)}\n".encode()
    parsed = parse_note(note)
    assert parsed == Note("hello\n", (NoteSignature(ORIGIN, LOG.key_id, sig),))
    assert parsed.to_bytes() == note
    cosig = WITNESS.cosign("hello\n", 7)
    both = sign_note("hello\n", [LOG], [cosig])
    assert both == note + cosig.line.encode()
    assert cosig.line == f"\u2014 witness.example/w {b64(WITNESS.key_id + cosig.signature)}\n"


def test_note_text_may_hold_blank_lines_the_last_one_separates() -> None:
    note = sign_note("a\n\nb\n", [LOG])
    assert parse_note(note).text == "a\n\nb\n"
    assert verify_note(note, [LOG.verifier]).text == "a\n\nb\n"


def test_note_size_cap_is_64_kib() -> None:
    tail = sign_note("x\n", [LOG])[1:]  # "\n\n— ..." after the text's first character
    filler = MAX_NOTE_SIZE - len(tail) - 1
    exact = b"x" * filler + b"\n" + tail[1:]
    exact = (b"y" * (MAX_NOTE_SIZE - len(exact))) + exact
    assert len(exact) == MAX_NOTE_SIZE
    parse_note(exact)
    with rejects(FormatError, f"note is {MAX_NOTE_SIZE + 1} bytes, larger than {MAX_NOTE_SIZE}"):
        parse_note(b"y" + exact)


def test_note_signature_count_cap() -> None:
    signers = [Ed25519Signer.from_seed(f"k{i}.example/x", bytes([i]) * 32) for i in range(101)]
    parse_note(sign_note("x\n", signers[:100]))
    with rejects(FormatError, "note has more than 100 signatures"):
        parse_note(sign_note("x\n", signers))


def test_note_rejections_are_exact() -> None:
    good = sign_note("hello\n", [LOG])
    sigs = good.split(b"\n\n")[1]
    line = f"\u2014 {ORIGIN} "
    for data, message in [
        (b"\xff\n\n" + sigs, "note is not valid UTF-8"),
        (b"hello\n" + sigs, "note has no blank line before its signatures"),
        (b"hello\n\n" + sigs[:-1], "note signatures must end with a newline"),
        (b"hel\x01lo\n\n" + sigs, "note text contains control character U+0001"),
        (b"hel\x7flo\n\n" + sigs, "note text contains control character U+007F"),
        (b"a\tb\n\n" + sigs, "note text contains control character U+0009"),
        (b"hello\n\n" + sigs + b"\n", "note signatures must end with a newline"),
        (b"hello\n\n" + sigs + b"x\n", "malformed signature line 'x'"),
        (
            b"hello\n\n- " + sigs[4:],
            f"malformed signature line {('- ' + sigs[4:-1].decode())[:80]!r}",
        ),
        (
            f"hello\n\n{line}{b64(LOG.key_id)}\n".encode(),
            "signature line is too short for a key ID and a signature",
        ),
        (
            f"hello\n\n\u2014 a+b {b64(bytes(8))}\n".encode(),
            "key name 'a+b' contains '+' or white space",
        ),
    ]:
        with rejects(FormatError, message):
            parse_note(data)
    long_line = "\u2014 " + "n" * 200 + " AAAA"
    with rejects(FormatError, f"malformed signature line {long_line[:80]!r}"):
        parse_note(f"hello\n\n{long_line}x!\n".encode())
    # Five bytes: a key ID and a one-byte signature parse (and fail to verify later).
    short = parse_note(f"hello\n\n{line}{b64(LOG.key_id + b'z')}\n".encode())
    assert short.signatures[0].signature == b"z"
    with rejects(FormatError, "note text must end with a newline"):
        sign_note("hello", [LOG])


def test_verify_note_follows_the_signed_note_rules() -> None:
    other = Ed25519Signer.from_seed("other.example/k", bytes(range(5, 37)))
    note = sign_note("hello\n", [other, LOG])
    verified = verify_note(note, [LOG.verifier])
    assert verified.verified == ((ORIGIN, LOG.key_id),)
    assert verified.verified_by == (ORIGIN,)
    assert verified.signed_by(LOG.verifier) and not verified.signed_by(other.verifier)
    assert verify_note(note, [LOG.verifier, other.verifier]).verified_by == (
        "other.example/k",
        ORIGIN,
    )
    with rejects(SignatureError, f"note has two signatures by key {ORIGIN}"):
        verify_note(sign_note("hello\n", [LOG, LOG]), [LOG.verifier])
    bad = note.replace(b"hello", b"hellp")
    with rejects(SignatureError, "signature by other.example/k does not verify"):
        verify_note(bad, [LOG.verifier, other.verifier])
    stranger = Ed25519Signer.from_seed("x.example/y", bytes(range(9, 41)))
    twice = sign_note("hello\n", [other], [NoteSignature(*_sig(other, "hello\n"))])
    with pytest.raises(UnknownKeyError) as info:
        verify_note(twice, [stranger.verifier])
    unknown = f"other.example/k+{other.key_id.hex()}"
    assert info.value.unknown == (unknown,)
    assert str(info.value) == (
        f"note is not signed by any trusted key (signed by unknown keys: {unknown})"
    )


def _sig(signer: Ed25519Signer, text: str) -> tuple[str, bytes, bytes]:
    return signer.name, signer.key_id, signer.sign(text.encode())


# == Checkpoints ===================================================================


def test_checkpoint_text_is_exact() -> None:
    cp = Checkpoint(ORIGIN, 5, EMPTY_ROOT, ("ext one", "ext-two"))
    assert cp.to_text() == (
        f"{ORIGIN}\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\next-two\n"
    )
    assert parse_checkpoint(cp.to_text()) == cp


def test_checkpoint_origin_bounds() -> None:
    check_origin("a" * MAX_ORIGIN_LENGTH)
    for origin in ["", "a" * (MAX_ORIGIN_LENGTH + 1)]:
        with rejects(FormatError, "checkpoint origin must be 1..255 characters"):
            check_origin(origin)
    for origin in ["a b", "a\x01", "a\x7f", "a+b", "a\u00a0b"]:
        with rejects(
            FormatError,
            "checkpoint origin must not contain white space, control characters or '+'",
        ):
            check_origin(origin)


def test_checkpoint_rejections_are_exact() -> None:
    root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    body = f"{ORIGIN}\n5\n{root}\n"
    assert parse_checkpoint(body + "e\n" * 16).extensions == ("e",) * 16
    for text, message in [
        (body[:-1], "checkpoint must end with a newline"),
        (f"{ORIGIN}\n5\n", "checkpoint needs an origin, a size and a root hash line"),
        (body + "e\n" * 17, "checkpoint has more than 16 extension lines"),
        (body + "e\n\n", "checkpoint has an empty extension line"),
        (body + "\ne\n", "checkpoint has an empty extension line"),
    ]:
        with rejects(FormatError, message):
            parse_checkpoint(text)
    for bad, field in [
        (f"{ORIGIN}\n05\n{root}\n", "checkpoint tree size: '05'"),
        (f"{ORIGIN}\n+5\n{root}\n", "checkpoint tree size: '+5'"),
        (f"{ORIGIN}\n5\n{root[:-4]}\n", "checkpoint root hash: "),
    ]:
        with pytest.raises(FormatError) as info:
            parse_checkpoint(bad)
        assert str(info.value).startswith(field)


def note_of(*signers: Ed25519Signer, origin: str = ORIGIN, witness: bool = False) -> bytes:
    text = Checkpoint(origin, 5, EMPTY_ROOT).to_text()
    cosigs = [WITNESS.cosign(text, 1_800_000_000)] if witness else []
    return sign_note(text, list(signers), cosigs)


def test_open_checkpoint_with_one_log_key() -> None:
    data = note_of(LOG, witness=True)
    cp = open_checkpoint(data, LOG.verifier, other_keys=(WITNESS.verifier,))
    assert (cp.origin, cp.size, cp.root, cp.raw) == (ORIGIN, 5, EMPTY_ROOT, data)
    assert cp.note.verified_by == (ORIGIN, "witness.example/w")
    assert cp.checkpoint == Checkpoint(ORIGIN, 5, EMPTY_ROOT)
    assert open_checkpoint(data, [LOG.verifier]).note.verified_by == (ORIGIN,)


def test_open_checkpoint_during_a_key_rotation() -> None:
    for signers in [(LOG,), (NEW_LOG,), (NEW_LOG, LOG)]:
        cp = open_checkpoint(note_of(*signers), [LOG.verifier, NEW_LOG.verifier])
        assert cp.size == 5


def test_open_checkpoint_rejections_are_exact() -> None:
    label = f"{ORIGIN}+{LOG.key_id.hex()} (Ed25519)"
    new_label = f"{ORIGIN}+{NEW_LOG.key_id.hex()} (Ed25519)"
    with rejects(ValueError, "open_checkpoint needs at least one log key"):
        open_checkpoint(note_of(LOG), [])
    with rejects(
        RetiredKeyError,
        "every log key this verifier trusts was retired by a logged key change "
        f"({label}); give the log's current vkey",
    ):
        open_checkpoint(note_of(LOG), LOG.verifier, retired=[LOG.verifier])
    with rejects(
        RetiredKeyError,
        f"checkpoint is signed only by log key(s) {label}, which a logged key change "
        "retired: it is not accepted any more",
    ):
        open_checkpoint(note_of(LOG), [LOG.verifier, NEW_LOG.verifier], retired=[LOG.verifier])
    with rejects(SignatureError, f"checkpoint is not signed by the log key ({label})"):
        open_checkpoint(note_of(witness=True), LOG.verifier, other_keys=[WITNESS.verifier])
    other = Ed25519Signer.from_seed("other.example/log", bytes(range(32)))
    with rejects(
        FormatError, f"checkpoint origin 'other.example/log' is not the log key's name {ORIGIN!r}"
    ):
        open_checkpoint(note_of(LOG, origin="other.example/log"), LOG.verifier)
    assert open_checkpoint(note_of(other, origin="other.example/log"), other.verifier).size == 5
    with pytest.raises(UnknownKeyError) as info:
        open_checkpoint(note_of(NEW_LOG), LOG.verifier)
    unknown = f"{ORIGIN}+{NEW_LOG.key_id.hex()}"
    assert info.value.unknown == (unknown,)
    assert str(info.value) == (
        f"checkpoint is not signed by any log key this verifier trusts ({label}); it is "
        f"signed by unknown key(s) {unknown}. If the log rotated its key, obtain the new "
        "vkey from a source you trust (not the log's server), or verify with a --state "
        "directory that followed the rotation during its overlap period"
    )
    assert new_label


def test_open_checkpoint_with_a_required_key() -> None:
    pq = MLDSA44Signer.from_seed(ORIGIN, bytes(range(32)))
    text = Checkpoint(ORIGIN, 5, EMPTY_ROOT).to_text()
    both = sign_note(text, [LOG, pq])
    cp = open_checkpoint(both, LOG.verifier, require_one_of=[pq.verifier])
    assert cp.note.verified_by == (ORIGIN, ORIGIN)
    only_ed = sign_note(text, [LOG])
    pq_label = f"{ORIGIN}+{pq.verifier.key_id.hex()} ({MLDSA44Verifier.kind})"
    with rejects(
        MissingSignatureError,
        "checkpoint of size 5 carries no valid signature by the required key "
        f"({pq_label}); it was required, so the checkpoint is refused",
    ):
        open_checkpoint(only_ed, LOG.verifier, require_one_of=[pq.verifier])
    # Required but not a log key: a note signed by it alone is still not the log's.
    with pytest.raises(SignatureError, match="checkpoint is not signed by the log key"):
        open_checkpoint(sign_note(text, [pq]), LOG.verifier, require_one_of=[pq.verifier])


# == Cosignatures ==================================================================


def test_cosignatures_are_the_c2sp_format() -> None:
    assert cosigned_message("a\n", 12) == b"cosignature/v1\ntime 12\na\n"
    v = WITNESS.verifier
    assert v.key_id == key_id("witness.example/w", 0x04, v.public_key)
    assert v.vkey == f"witness.example/w+{v.key_id.hex()}+{typed(4, v.public_key)}"
    assert parse_witness_vkey(v.vkey) == v
    sig = WITNESS.cosign("a\n", 2**40 + 5)
    assert sig.name == "witness.example/w" and sig.key_id == v.key_id
    assert sig.signature[:8] == (2**40 + 5).to_bytes(8, "big") and len(sig.signature) == 72
    assert CosignatureVerifier.timestamp(sig.signature) == 2**40 + 5
    v.verify(b"a\n", sig.signature)
    with pytest.raises(SignatureError):
        v.verify(b"b\n", sig.signature)
    forged = (2**40 + 6).to_bytes(8, "big") + sig.signature[8:]
    with pytest.raises(SignatureError):
        v.verify(b"a\n", forged)
    for n in (71, 73, 0):
        with rejects(SignatureError, f"a cosignature is 72 bytes, not {n}"):
            v.verify(b"a\n", bytes(n))
    WITNESS.covers("anything\n")


def test_witness_vkeys() -> None:
    v = WITNESS.verifier
    wrong_id = v.vkey.replace(v.key_id.hex(), "00000000")
    with rejects(FormatError, "witness vkey: key ID does not match the name and key"):
        parse_witness_vkey(wrong_id)
    with rejects(
        FormatError, "witness vkey: unsupported key type 0x01 (expected 0x04, cosignature/v1)"
    ):
        parse_witness_vkey(LOG.verifier.vkey)
    pq = MLDSA44Signer.from_seed("witness.example/pq", bytes(range(32))).verifier
    assert parse_witness_vkey(pq.vkey) == pq
    with pytest.raises(WeakKeyError):
        CosignatureVerifier.from_public_key("w", b"\x01" + bytes(31))
    with pytest.raises(FormatError):
        CosignatureSigner.from_seed("bad name", bytes(32))


# == Messages that name several keys, and the field a bad base64 came from =========


def test_messages_list_every_key() -> None:
    a = Ed25519Signer.from_seed(ORIGIN, bytes(range(3, 35)))
    b = Ed25519Signer.from_seed(ORIGIN, bytes(range(4, 36)))
    la, lb = key_label(a.verifier), key_label(b.verifier)
    with rejects(
        RetiredKeyError,
        "every log key this verifier trusts was retired by a logged key change "
        f"({la}, {lb}); give the log's current vkey",
    ):
        open_checkpoint(note_of(a), [a.verifier, b.verifier], retired=[a.verifier, b.verifier])
    with rejects(
        RetiredKeyError,
        f"checkpoint is signed only by log key(s) {la}, {lb}, which a logged key change "
        "retired: it is not accepted any more",
    ):
        open_checkpoint(
            note_of(a, b), [a.verifier, b.verifier, LOG.verifier], retired=[a.verifier, b.verifier]
        )
    with rejects(SignatureError, f"checkpoint is not signed by the log key ({la}, {lb})"):
        open_checkpoint(
            note_of(witness=True), [a.verifier, b.verifier], other_keys=[WITNESS.verifier]
        )
    pq1 = MLDSA44Signer.from_seed(ORIGIN, bytes(range(32)))
    pq2 = MLDSA44Signer.from_seed(ORIGIN, bytes(range(1, 33)))
    with pytest.raises(MissingSignatureError) as info:
        open_checkpoint(note_of(a), a.verifier, require_one_of=[pq1.verifier, pq2.verifier])
    assert f"({key_label(pq1.verifier)}, {key_label(pq2.verifier)})" in str(info.value)
    with pytest.raises(UnknownKeyError) as unknown:
        open_checkpoint(note_of(a, b), LOG.verifier)
    names = f"{ORIGIN}+{a.key_id.hex()}, {ORIGIN}+{b.key_id.hex()}"
    assert f"({key_label(LOG.verifier)}); it is signed by unknown key(s) {names}. " in str(
        unknown.value
    )
    with pytest.raises(UnknownKeyError) as plain:
        verify_note(note_of(a, b), [LOG.verifier])
    assert str(plain.value).endswith(f"(signed by unknown keys: {names})")


def test_bad_base64_is_named_by_its_field() -> None:
    kid = LOG.key_id.hex()
    with pytest.raises(FormatError) as info:
        parse_vkey(f"{ORIGIN}+{kid}+AAA")
    assert str(info.value) == "vkey key: not canonical padded base64"
    with pytest.raises(FormatError) as sig:
        parse_note(f"x\n\n\u2014 {ORIGIN} AAAAAAB=\n".encode())
    assert str(sig.value).startswith("signature: ")


def test_a_note_whose_text_is_one_empty_line() -> None:
    note = sign_note("\n", [LOG])
    assert note.startswith("\n\n\u2014".encode())
    assert parse_note(note).text == "\n"
    assert verify_note(note, [LOG.verifier]).verified_by == (ORIGIN,)


def test_more_keys_named_and_a_bad_signer_key_encoding() -> None:
    a = Ed25519Signer.from_seed(ORIGIN, bytes(range(3, 35)))
    with pytest.raises(UnknownKeyError) as info:
        open_checkpoint(note_of(NEW_LOG), [LOG.verifier, a.verifier])
    trusted = f"{key_label(LOG.verifier)}, {key_label(a.verifier)}"
    assert str(info.value).startswith(
        f"checkpoint is not signed by any log key this verifier trusts ({trusted}); it is "
    )
    with rejects(FormatError, "signer key: not canonical padded base64"):
        parse_skey(f"PRIVATE+KEY+{ORIGIN}+{LOG.key_id.hex()}+AAA")
