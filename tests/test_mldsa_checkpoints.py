"""Post-quantum checkpoint signatures: C2SP tlog-cosignature ML-DSA-44 (``subtree/v1``, 0x06).

Known-answer vector from the Go reference (filippo.io/torchwood), byte layout
of the signature line and the signed message as the spec draws them,
interoperability with tlog-scales (an independent Python implementation), the
typed errors of a tampered, foreign or missing signature when it is required,
trust policies that list ML-DSA-44 keys, an ML-DSA-44 witness, and a real
server whose checkpoints ``frontier-verify verify`` accepts with the requirement.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey
from tlog_scales.signing import MLDSA44CosignatureSigner, Vkey, VkeySet
from tlog_scales.tlog import Checkpoint as ScalesCheckpoint

from ledger.write.tree import TreeEdge, leaf_hashes
from tests.serverproc import REPO, ServerProcess, make_envelopes, run_module
from verifier.core.checkpoint import Checkpoint, open_checkpoint
from verifier.core.merkle import EMPTY_ROOT, leaf_hash
from verifier.core.mldsa import (
    COSIGNATURE_SIZE,
    LABEL,
    MLDSA44Signer,
    MLDSA44Verifier,
    checkpoint_message,
    parse_mldsa_skey,
    parse_mldsa_vkey,
    subtree_message,
)
from verifier.core.note import Ed25519Signer, Note, parse_note, sign_note, verify_note
from verifier.core.trust_policy import open_trusted_checkpoint, parse_trust_policy
from verifier.errors import (
    FormatError,
    MissingSignatureError,
    QuorumError,
    SignatureError,
    UnknownKeyError,
)
from verifier.witness.protocol import (
    MemoryStore,
    Witness,
    format_add_checkpoint,
    parse_witness_config,
    parse_witness_skey,
)

VECTOR = json.loads((Path(__file__).parent / "vectors" / "mldsa44_torchwood.json").read_text())
ORIGIN = "pq.example/log"
ED = Ed25519Signer.from_seed(ORIGIN, bytes(range(32)))
PQ = MLDSA44Signer.from_seed(ORIGIN, bytes(range(40, 72)))
OTHER_PQ = MLDSA44Signer.from_seed(ORIGIN, bytes(range(80, 112)))
ROOT = leaf_hash(b"pq")
TEXT = Checkpoint(ORIGIN, 1, ROOT).to_text()


def signed(*signers: object) -> bytes:
    return sign_note(TEXT, list(signers))  # type: ignore[arg-type]


# -- the Go reference's vector ---------------------------------------------------------


def test_torchwood_vector_key_id_vkey_and_signature() -> None:
    seed = bytes.fromhex(VECTOR["seed"])
    signer = MLDSA44Signer.from_seed("example.com/mldsa-log", seed)
    # FIPS 204 KeyGen from the seed gives the Go reference's key, and the vkey is
    # <name>+<hex key ID>+<base64(0x06 || 1312-byte key)>.
    assert signer.verifier.vkey == VECTOR["vkey"]
    key = parse_mldsa_vkey(VECTOR["vkey"])
    raw = base64.b64decode(VECTOR["vkey"].split("+", 2)[2])
    assert raw[0] == 0x06 and len(raw) == 1 + 1312
    expected_id = hashlib.sha256(b"example.com/mldsa-log\n\x06" + raw[1:]).digest()[:4]
    assert key.key_id == expected_id and key.key_id.hex() == VECTOR["key_id"]
    note = VECTOR["checkpoint"].encode()
    verified = verify_note(note, [key])
    assert verified.signed_by(key)
    sig = parse_note(note).signatures[0]
    assert MLDSA44Verifier.timestamp(sig.signature) == VECTOR["timestamp"] == 0
    # The checkpoint's root is RFC 9162's hash of the leaf "testonly" (tlog.RecordHash).
    assert Checkpoint("example.com/mldsa-log", 1, leaf_hash(b"testonly")).to_text() == (
        parse_note(note).text
    )


def test_torchwood_vector_fails_when_any_byte_changes() -> None:
    note = parse_note(VECTOR["checkpoint"].encode())
    key = parse_mldsa_vkey(VECTOR["vkey"])
    sig = note.signatures[0]
    for pos in (0, 7, 8, 100, COSIGNATURE_SIZE - 1):  # timestamp bytes and signature bytes
        bad = bytearray(sig.signature)
        bad[pos] ^= 0x01
        tampered = Note(note.text, (type(sig)(sig.name, sig.key_id, bytes(bad)),)).to_bytes()
        with pytest.raises(SignatureError):
            verify_note(tampered, [key])
    other_text = Note(note.text.replace("\n1\n", "\n2\n"), note.signatures).to_bytes()
    with pytest.raises(SignatureError):
        verify_note(other_text, [key])


# -- byte layout ------------------------------------------------------------------------


def test_signature_line_byte_layout() -> None:
    note = signed(ED, PQ)
    lines = note.decode().split("\n\n", 1)[1].splitlines()
    assert len(lines) == 2
    dash, name, b64 = lines[1].split(" ")
    assert dash == "\u2014" and name == ORIGIN
    raw = base64.b64decode(b64, validate=True)
    # key ID (4) || uint64 timestamp (8) || ML-DSA-44 signature (2420)
    assert len(raw) == 4 + 8 + 2420 == 2432 and len(b64) == 3244
    pub = PQ.private_key.public_key().public_bytes_raw()
    assert len(pub) == 1312
    assert raw[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x06" + pub).digest()[:4]
    assert raw[:4] != ED.key_id  # same name, another type byte: another key ID
    assert raw[4:12] == bytes(8)  # the log makes no statement about time
    message = (
        b"subtree/v1\n\x00"
        + bytes([len(ORIGIN)])
        + ORIGIN.encode()
        + struct.pack(">Q", 0)
        + bytes([len(ORIGIN)])
        + ORIGIN.encode()
        + struct.pack(">QQ", 0, 1)
        + ROOT
    )
    assert len(LABEL) == 12
    assert checkpoint_message(ORIGIN, 0, TEXT) == message
    PQ.private_key.public_key().verify(raw[12:], message)  # pure ML-DSA, empty context


def test_subtree_message_fields_and_limits() -> None:
    msg = subtree_message("w", 7, "o", start=0, end=3, root=ROOT)
    assert (
        msg
        == LABEL
        + b"\x01w"
        + (7).to_bytes(8, "big")
        + b"\x01o"
        + bytes(8)
        + b"\0" * 7
        + b"\x03"
        + ROOT
    )
    assert subtree_message("n" * 255, 1, "o" * 255, start=0, end=0, root=EMPTY_ROOT)
    for kwargs, match in [
        ({"cosigner_name": "n" * 256}, "cosigner name"),
        ({"origin": "o" * 256}, "origin"),
        ({"timestamp": 2**63}, "2\\^63"),
        ({"start": 1}, "timestamp 0"),
        ({"end": 0}, "empty tree"),
    ]:
        args = {
            "cosigner_name": "w",
            "timestamp": 1,
            "origin": "o",
            "start": 0,
            "end": 3,
            "root": ROOT,
        }
        args.update(kwargs)
        with pytest.raises(FormatError, match=match):
            subtree_message(**args)  # type: ignore[arg-type]


def test_round_trip_skey_vkey_and_timestamped_cosignature() -> None:
    assert parse_mldsa_skey(PQ.skey).verifier == PQ.verifier
    assert parse_mldsa_vkey(PQ.verifier.vkey) == PQ.verifier
    line = PQ.cosign(TEXT, 1_800_000_000)
    assert MLDSA44Verifier.timestamp(line.signature) == 1_800_000_000
    PQ.verifier.verify(TEXT.encode(), line.signature)
    with pytest.raises(FormatError, match="key ID does not match"):
        vk = PQ.verifier.vkey
        parse_mldsa_vkey(vk.replace(vk.split("+")[1], "00000000"))
    with pytest.raises(FormatError, match="0x01"):
        parse_mldsa_vkey(ED.verifier.vkey)


def test_extension_lines_are_not_covered_so_they_are_refused() -> None:
    text = Checkpoint(ORIGIN, 1, ROOT, ("ext",)).to_text()
    with pytest.raises(FormatError, match="extension lines"):
        PQ.sign(text.encode())
    # A signature made over the three lines does not carry over to a text with an extension.
    sig = PQ.sign(TEXT.encode())
    with pytest.raises(SignatureError, match="extension lines"):
        PQ.verifier.verify(text.encode(), sig)


# -- interoperability with tlog-scales ----------------------------------------------------


def test_tlog_scales_verifies_our_lines_and_we_verify_theirs() -> None:
    cp = ScalesCheckpoint.from_text(signed(ED, PQ).decode())
    theirs = Vkey.from_string(PQ.verifier.vkey)
    assert [v.name for v, _ in VkeySet(theirs).verify(cp.signatures, cp)] == [ORIGIN]
    signer = MLDSA44CosignatureSigner("witness.example/pq", bytes(range(3, 35)))
    line = signer.sign(cp).serialize() + "\n"
    note = (TEXT + "\n" + line).encode()
    ours = parse_mldsa_vkey(signer.vkey.serialize())
    assert verify_note(note, [ours]).signed_by(ours)
    assert MLDSA44Verifier.timestamp(parse_note(note).signatures[0].signature) > 0


# -- typed errors -------------------------------------------------------------------------


def test_required_signature_tampered_foreign_or_missing() -> None:
    assert open_checkpoint(signed(ED, PQ), ED.verifier, require_one_of=[PQ.verifier]).size == 1
    # Not required: an ML-DSA-44 line by an unknown key is ignored (signed-note).
    assert open_checkpoint(signed(ED, OTHER_PQ), ED.verifier).size == 1
    # Missing, or by another key (an unknown line): the requirement fails, typed.
    for note in (signed(ED), signed(ED, OTHER_PQ)):
        with pytest.raises(MissingSignatureError, match="ML-DSA-44"):
            open_checkpoint(note, ED.verifier, require_one_of=[PQ.verifier])
    # Tampered: a known key's signature fails, which rejects the note, required or not.
    parsed = parse_note(signed(ED, PQ))
    ed_sig, pq_sig = parsed.signatures
    bad = bytearray(pq_sig.signature)
    bad[-100] ^= 0x40
    tampered = Note(parsed.text, (ed_sig, type(pq_sig)(pq_sig.name, pq_sig.key_id, bytes(bad))))
    with pytest.raises(SignatureError, match="does not verify") as err:
        open_checkpoint(tampered.to_bytes(), [ED.verifier, PQ.verifier])
    assert not isinstance(err.value, MissingSignatureError)
    # The ML-DSA-44 key alone is a log key too (tlog-checkpoint: logs SHOULD use it).
    assert open_checkpoint(signed(PQ), PQ.verifier).checkpoint.origin == ORIGIN
    with pytest.raises(UnknownKeyError, match=OTHER_PQ.key_id.hex()):
        open_checkpoint(signed(OTHER_PQ), PQ.verifier)


# -- trust policies -----------------------------------------------------------------------


def test_policy_log_lines_and_the_log_key_as_a_witness() -> None:
    both = parse_trust_policy(f"log {ED.verifier.vkey}\nlog {PQ.verifier.vkey}\nquorum none\n")
    assert both.log == ED.verifier and both.mldsa_log_keys == (PQ.verifier,)
    # tlog-policy: a checkpoint signed by any one of the listed logs is valid.
    open_trusted_checkpoint(signed(ED), both)
    open_trusted_checkpoint(signed(ED, PQ), both, require_one_of=both.mldsa_log_keys)
    with pytest.raises(MissingSignatureError):
        open_trusted_checkpoint(signed(ED), both, require_one_of=both.mldsa_log_keys)
    # Any tlog-policy verifier requires what the quorum names: the log's ML-DSA-44 key
    # listed as a witness makes its signature mandatory, with no extension of the format.
    strict = parse_trust_policy(
        f"log {ED.verifier.vkey}\nwitness log-pq {PQ.verifier.vkey}\nquorum log-pq\n"
    )
    trusted = open_trusted_checkpoint(signed(ED, PQ), strict)
    assert trusted.cosigned == {"log-pq": 0} and trusted.earliest is None
    with pytest.raises(QuorumError, match="log-pq"):
        open_trusted_checkpoint(signed(ED), strict)
    for text, match in [
        (f"log {PQ.verifier.vkey}\nquorum none\n", "no Ed25519 'log' line"),
        (f"log {ED.verifier.vkey}\nlog {ED.verifier.vkey}\nquorum none\n", "already listed"),
    ]:
        with pytest.raises(FormatError, match=match):
            parse_trust_policy(text)


def test_an_ml_dsa_witness_cosigns() -> None:
    log = TreeEdge()
    log.append(leaf_hashes([b"a", b"b"]))
    cp = sign_note(Checkpoint(ORIGIN, 2, log.root()).to_text(), [ED])
    witness_key = MLDSA44Signer.from_seed("witness.example/pq", bytes(range(9, 41)))
    config = parse_witness_config(f"log {ED.verifier.vkey}\nlog {PQ.verifier.vkey}\n")
    witness = Witness(witness_key, config, MemoryStore(), lambda: 1_800_000_000.0)
    reply = witness.add_checkpoint(format_add_checkpoint(0, [], cp))
    assert reply.status == 200, reply.body
    note = parse_note(cp)
    cosig = parse_note((note.text + "\n" + reply.body.decode()).encode()).signatures[0]
    assert (cosig.name, cosig.key_id) == ("witness.example/pq", witness_key.key_id)
    assert MLDSA44Verifier.timestamp(cosig.signature) == 1_800_000_000
    witness_key.verifier.verify(note.text.encode(), cosig.signature)
    # It refuses a checkpoint whose extension lines it could not cover, before storing it.
    ext = sign_note(Checkpoint(ORIGIN, 2, log.root(), ("x",)).to_text(), [ED])
    assert witness.add_checkpoint(format_add_checkpoint(2, [], ext)).status == 400


def test_witness_keygen_mldsa(tmp_path: Path) -> None:
    out = tmp_path / "w.key"
    proc = subprocess.run(
        [sys.executable, "-m", "verifier.cli", "witness", "keygen", "--mldsa", "--out", str(out),
         "--name", "witness.example/pq"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    vkey = parse_mldsa_vkey(proc.stdout.strip())
    assert out.stat().st_mode & 0o777 == 0o600
    assert parse_mldsa_skey(out.read_text()).verifier == vkey
    # `witness serve` loads it with the same parser as Ed25519 witness keys.
    loaded = parse_witness_skey(out.read_text())
    assert isinstance(loaded, MLDSA44Signer) and loaded.verifier == vkey


# -- a real server ------------------------------------------------------------------------


def cli(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_module(module, *args)


@pytest.fixture(scope="module")
def pq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    root = tmp_path_factory.mktemp("pq")
    data = root / "data"
    proc = cli(
        "frontier_ledger", "init", "--data", str(data), "--origin", ORIGIN, "--synthetic", "--mldsa"
    )
    assert proc.returncode == 0, proc.stderr
    assert (data / "log-mldsa.key").stat().st_mode & 0o777 == 0o600
    server = ServerProcess(data)
    server.start()
    try:
        for env in make_envelopes(ORIGIN, 3):
            r = httpx.post(server.url("/api/v1/entries"), json=env, timeout=30)
            assert r.status_code == 201, r.text
        yield server, data
    finally:
        server.stop()


def test_server_checkpoints_verify_with_the_requirement(
    pq_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, data = pq_server
    log = server.url("/log")
    vkey, mvkey = str(data / "log.vkey"), str(data / "log-mldsa.vkey")
    note = httpx.get(server.url("/log/checkpoint")).content
    pq = parse_mldsa_vkey((data / "log-mldsa.vkey").read_text())
    opened = open_checkpoint(note, [parse_mldsa_vkey(pq.vkey)], require_one_of=[pq])
    assert opened.size == 3
    proc = cli(
        "verifier.cli", "verify", "--log", log, "--vkey", vkey, "--mldsa-vkey", mvkey, "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert "(ML-DSA-44)" in proc.stdout and "tree size 3" in proc.stdout
    policy = tmp_path / "trust.policy"
    policy.write_text(
        f"log {(data / 'log.vkey').read_text().strip()}\nlog {pq.vkey}\nquorum none\n"
    )
    proc = cli(
        "verifier.cli",
        "verify",
        "--log",
        log,
        "--policy",
        str(policy),
        "--require-mldsa",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    strict = tmp_path / "strict.policy"
    strict.write_text(
        f"log {(data / 'log.vkey').read_text().strip()}\nwitness log-pq {pq.vkey}\nquorum log-pq\n"
    )
    proc = cli("verifier.cli", "verify", "--log", log, "--policy", str(strict), "--quiet")
    assert proc.returncode == 0, proc.stderr
    # The public site publishes both keys, and the command to pin both.
    keys = httpx.get(server.url("/keys?format=json"), timeout=30).json()
    assert keys["mldsa_vkey"] == pq.vkey
    page = httpx.get(server.url("/keys"), timeout=30).text
    assert f"--mldsa-vkey &#39;{pq.vkey}&#39;" in page or f"--mldsa-vkey '{pq.vkey}'" in page


def test_a_checkpoint_without_the_signature_fails_when_required(
    pq_server: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    _, data = pq_server
    mirror = tmp_path / "mirror"
    proc = cli("frontier_ledger", "export", "--data", str(data), str(mirror))
    assert proc.returncode == 0, proc.stderr
    parsed = parse_note((mirror / "checkpoint").read_bytes())
    ed_only = Note(parsed.text, parsed.signatures[:1]).to_bytes()
    (mirror / "checkpoint").write_bytes(ed_only)
    vkey, mvkey = str(data / "log.vkey"), str(data / "log-mldsa.vkey")
    args = ["verify", "--log", str(mirror), "--vkey", vkey, "--quiet"]
    assert cli("verifier.cli", *args).returncode == 0  # not required: Ed25519 suffices
    proc = cli("verifier.cli", *args, "--mldsa-vkey", mvkey)
    assert proc.returncode == 3
    assert "CHECKPOINT NOT TRUSTED" in proc.stderr and "required key" in proc.stderr
    # A signature by another ML-DSA-44 key under the log's name is not the log's.
    other = MLDSA44Signer(ORIGIN, OTHER_PQ.key_id, OTHER_PQ.private_key)
    forged = Note(parsed.text, (parsed.signatures[0], other.cosign(parsed.text, 0))).to_bytes()
    (mirror / "checkpoint").write_bytes(forged)
    proc = cli("verifier.cli", *args, "--mldsa-vkey", mvkey)
    assert proc.returncode == 3 and "required key" in proc.stderr


def test_the_private_key_is_the_seed_in_signed_note_shape(
    pq_server: tuple[ServerProcess, Path],
) -> None:
    _, data = pq_server
    text = (data / "log-mldsa.key").read_text().strip()
    assert text.startswith(f"PRIVATE+KEY+{ORIGIN}+")
    raw = base64.b64decode(text.split("+", 4)[4])
    assert raw[0] == 0x06 and len(raw) == 33
    pub = MLDSA44PrivateKey.from_seed_bytes(raw[1:]).public_key().public_bytes_raw()
    assert parse_mldsa_vkey((data / "log-mldsa.vkey").read_text()).public_key == pub
