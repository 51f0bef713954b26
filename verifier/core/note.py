"""C2SP signed-note v1.0.0: notes, Ed25519 note keys, vkeys and signer keys.

A note is UTF-8 text ending in ``\\n``, a blank line, then one or more signature
lines ``— <name> <base64(keyid4 || signature)>\\n`` (U+2014 EM DASH, a space).
The text is everything up to and including the ``\\n`` before the last blank line.

Key ID of an Ed25519 key (type 0x01): ``SHA-256(name || 0x0A || 0x01 || pubkey32)[:4]``.
vkey: ``<name>+<8 lowercase hex key ID>+<base64(0x01 || pubkey32)>``.
Signer key (as the Go tooling writes it):
``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed32)>``.

Limits (signed-note §"Format"): the note is valid UTF-8 with no control character
but newline; verifiers "MUST accept at least up to 16 signatures" (we take
:data:`MAX_SIGNATURES`, within :data:`MAX_NOTE_SIZE` bytes).

Verification (signed-note §"Signatures"): signatures from unknown (name, key ID)
pairs are ignored; a known key whose signature fails rejects the note; a note
with no signature from a known key is rejected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifier.core import ed25519
from verifier.core.encoding import b64decode_strict, b64encode
from verifier.errors import CosignatureError, FormatError, SignatureError, UnknownKeyError

#: Largest note we parse (text plus signatures). A checkpoint is ~100 bytes and
#: each cosignature line ~120, so this leaves room for hundreds of witnesses.
MAX_NOTE_SIZE = 64 * 1024
#: signed-note requires verifiers to accept at least 16 signatures; we accept 100.
MAX_SIGNATURES = 100
#: Key-type byte of Ed25519 note signatures (signed-note §"Signature types").
ALG_ED25519 = 0x01
#: Key-type byte of Ed25519 cosignatures (C2SP tlog-cosignature).
ALG_COSIGNATURE_V1 = 0x04
#: Key-type byte of ML-DSA-44 ``subtree/v1`` cosignatures (C2SP tlog-cosignature);
#: see :mod:`verifier.core.mldsa`.
ALG_MLDSA44_COSIGNATURE = 0x06

SIG_PREFIX = "\u2014 "
_SIG_LINE = re.compile(r"\u2014 ([^ \n]+) ([A-Za-z0-9+/=]+)")


def check_key_name(name: str) -> None:
    """A key name is non-empty UTF-8 with no Unicode spaces and no ``+``."""
    if not name:
        raise FormatError("key name is empty")
    if "+" in name or any(c.isspace() for c in name):
        raise FormatError(f"key name {name[:60]!r} contains '+' or white space")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise FormatError("key name contains a control character")


def key_label(key: object) -> str:
    """``<name>+<hex key ID> (<kind>)`` of a verifier key, for messages."""
    name = getattr(key, "name", "?")
    kid = getattr(key, "key_id", b"")
    kind = getattr(key, "kind", "Ed25519")
    return f"{name}+{kid.hex()} ({kind})"


def key_id(name: str, alg: int, key_material: bytes) -> bytes:
    """``SHA-256(name || 0x0A || alg || key_material)[:4]`` (signed-note key IDs)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + key_material).digest()[:4]


class NoteVerifier(Protocol):
    """A key that can check one kind of signature line in a note."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless *signature* is valid over *message*."""
        ...


@dataclass(frozen=True)
class Ed25519Verifier:
    """An Ed25519 signed-note verifier key (type 0x01)."""

    name: str
    key_id: bytes
    public_key: bytes

    kind = "Ed25519"

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Ed25519Verifier:
        check_key_name(name)
        ed25519.check_public_key(public_key)
        return cls(name, key_id(name, ALG_ED25519, public_key), public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string: ``<name>+<hex id>+<base64(0x01 || key)>``."""
        return (
            f"{self.name}+{self.key_id.hex()}+{b64encode(bytes([ALG_ED25519]) + self.public_key)}"
        )

    def verify(self, message: bytes, signature: bytes) -> None:
        ed25519.verify(ed25519.load_public_key(self.public_key), signature, message)


def split_vkey(vkey: str, alg: int, what: str = "vkey") -> tuple[str, str, bytes]:
    """``<name>+<hex id>+<base64(alg || key32)>`` → (name, hex id, key32).

    The base64 part may contain ``+``, so only the first two ``+`` split.
    """
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise FormatError(f"{what}: expected <name>+<hex key ID>+<base64 key>")
    name, id_hex, b64 = parts
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", id_hex):
        raise FormatError(f"{what}: key ID must be 8 lowercase hex digits")
    raw = b64decode_strict(b64, what=f"{what} key")
    if not raw or raw[0] != alg:
        found = f"0x{raw[0]:02x}" if raw else "none"
        kind = {
            ALG_ED25519: "Ed25519",
            ALG_COSIGNATURE_V1: "cosignature/v1",
            ALG_MLDSA44_COSIGNATURE: "ML-DSA-44",
        }.get(alg, "?")
        raise FormatError(f"{what}: unsupported key type {found} (expected 0x{alg:02x}, {kind})")
    if len(raw) != 1 + ed25519.PUBLIC_KEY_SIZE:
        raise FormatError(f"{what}: Ed25519 key must be 32 bytes")
    return name, id_hex, raw[1:]


def parse_vkey(vkey: str) -> Ed25519Verifier:
    """Parse an Ed25519 (type 0x01) verifier key, checking its key ID."""
    name, id_hex, key = split_vkey(vkey, ALG_ED25519)
    verifier = Ed25519Verifier.from_public_key(name, key)
    if verifier.key_id.hex() != id_hex:
        raise FormatError("vkey: key ID does not match the name and key")
    return verifier


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed, not yet verified, signed note."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line for s in self.signatures)).encode()


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise FormatError("note text must end with a newline")
    for c in text:
        if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F:
            raise FormatError(f"note text contains control character U+{ord(c):04X}")


def parse_note(data: bytes) -> Note:
    """Parse a signed note strictly (no verification)."""
    if len(data) > MAX_NOTE_SIZE:
        raise FormatError(f"note is {len(data)} bytes, larger than {MAX_NOTE_SIZE}")
    try:
        msg = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("note is not valid UTF-8") from None
    split = msg.rfind("\n\n")
    if split < 0:
        raise FormatError("note has no blank line before its signatures")
    text, sig_block = msg[: split + 1], msg[split + 2 :]
    _check_text(text)
    if not sig_block.endswith("\n"):
        raise FormatError("note signatures must end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(f"note has more than {MAX_SIGNATURES} signatures")
    sigs: list[NoteSignature] = []
    for line in lines:
        m = _SIG_LINE.fullmatch(line)
        if not m:
            raise FormatError(f"malformed signature line {line[:80]!r}")
        name = m.group(1)
        check_key_name(name)
        raw = b64decode_strict(m.group(2), what="signature")
        if len(raw) < 5:
            raise FormatError("signature line is too short for a key ID and a signature")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return Note(text, tuple(sigs))


@dataclass(frozen=True)
class VerifiedNote:
    """A note with the names of the trusted keys whose signatures verified."""

    note: Note
    #: (name, key ID) of every trusted key whose signature verified, in note order.
    verified: tuple[tuple[str, bytes], ...]

    @property
    def text(self) -> str:
        return self.note.text

    @property
    def verified_by(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.verified)

    def signed_by(self, key: NoteVerifier) -> bool:
        return (key.name, key.key_id) in self.verified


def verify_note(
    data: bytes, verifiers: Iterable[NoteVerifier], *, cosigners: Iterable[NoteVerifier] = ()
) -> VerifiedNote:
    """Parse and verify a note against trusted *verifiers* (signed-note rules).

    *cosigners* (e.g. witnesses' keys) are known keys too, so a bad signature by one
    rejects the note; but their lines are judged last: once every other known key's
    signature verified and at least one did, a bad cosignature raises
    :class:`CosignatureError` (carrying what did verify, ``exc.verified``), which tells
    a failed cosignature from a failed signature by the note's own signer.
    """
    note = parse_note(data)
    primary, others = tuple(verifiers), tuple(cosigners)
    known = {(v.name, v.key_id): v for v in (*others, *primary)}
    cosigner_ids = {(v.name, v.key_id) for v in others} - {(v.name, v.key_id) for v in primary}
    message = note.text.encode()
    seen: set[tuple[str, bytes]] = set()
    verified: list[tuple[str, bytes]] = []
    bad_cosignature: NoteSignature | None = None
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        v = known.get(ident)
        if v is None:
            continue  # signed-note: ignore signatures by unknown keys
        if ident in seen:
            raise SignatureError(f"note has two signatures by key {sig.name}")
        seen.add(ident)
        try:
            v.verify(message, sig.signature)
        except SignatureError:
            if ident in cosigner_ids:
                bad_cosignature = bad_cosignature or sig
                continue
            raise SignatureError(f"signature by {sig.name} does not verify") from None
        verified.append(ident)
    if bad_cosignature is not None:
        label = f"{bad_cosignature.name}+{bad_cosignature.key_id.hex()}"
        if not any(ident not in cosigner_ids for ident in verified):
            raise SignatureError(f"signature by {bad_cosignature.name} does not verify")
        raise CosignatureError(
            f"the cosignature by {bad_cosignature.name} ({label}) does not verify",
            witness=label,
            verified=VerifiedNote(note, tuple(verified)),
        )
    if not verified:
        unknown = tuple(
            dict.fromkeys(
                f"{s.name}+{s.key_id.hex()}"
                for s in note.signatures
                if (s.name, s.key_id) not in known
            )
        )
        names = ", ".join(unknown) or "none"
        raise UnknownKeyError(
            f"note is not signed by any trusted key (signed by unknown keys: {names})",
            unknown=unknown,
        )
    return VerifiedNote(note, tuple(verified))


class NoteSigner(Protocol):
    """Anything that signs note text: a key file today, an HSM or KMS later."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes:
        """Return the raw signature (without the key ID) over *message*."""
        ...


@dataclass(frozen=True)
class Ed25519Signer:
    """An Ed25519 note signer held in memory (loaded from a ``PRIVATE+KEY+`` file)."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Ed25519Signer:
        check_key_name(name)
        key = ed25519.private_key_from_seed(seed)
        pub = ed25519.public_bytes(key)
        ed25519.check_public_key(pub)
        return cls(name, key_id(name, ALG_ED25519, pub), key)

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        return cls.from_seed(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier.from_public_key(self.name, ed25519.public_bytes(self.private_key))

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` — keep it secret."""
        seed = self.private_key.private_bytes_raw()
        return (
            f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{b64encode(bytes([ALG_ED25519]) + seed)}"
        )

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def parse_skey(skey: str) -> Ed25519Signer:
    """Parse a ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` signer key."""
    skey = skey.strip()
    if not skey.startswith("PRIVATE+KEY+"):
        raise FormatError("signer key must start with PRIVATE+KEY+")
    parts = skey[len("PRIVATE+KEY+") :].split("+", 2)
    if len(parts) != 3:
        raise FormatError("signer key: expected PRIVATE+KEY+<name>+<hex id>+<base64 key>")
    name, id_hex, b64 = parts
    raw = b64decode_strict(b64, what="signer key")
    if len(raw) != 1 + ed25519.SEED_SIZE or raw[0] != ALG_ED25519:
        raise FormatError("signer key: only Ed25519 (type 0x01, 32-byte seed) is supported")
    signer = Ed25519Signer.from_seed(name, raw[1:])
    if signer.key_id.hex() != id_hex:
        raise FormatError("signer key: key ID does not match the name and key")
    return signer


def sign_note(
    text: str, signers: Sequence[NoteSigner], existing: Sequence[NoteSignature] = ()
) -> bytes:
    """Sign *text* with every signer and return the note bytes.

    *existing* signature lines (e.g. cosignatures) are kept after the new ones.
    """
    _check_text(text)
    message = text.encode()
    sigs = [NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers]
    return Note(text, (*sigs, *existing)).to_bytes()
