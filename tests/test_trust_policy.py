"""Witness cosignatures (C2SP tlog-cosignature) and trust policies (C2SP tlog-policy)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tlog_scales.signing import Vkey, VkeySet
from tlog_scales.tlog import Checkpoint as ScalesCheckpoint

from verifier.core.checkpoint import Checkpoint
from verifier.core.cosignature import CosignatureSigner, parse_witness_vkey
from verifier.core.merkle import EMPTY_ROOT
from verifier.core.note import Ed25519Signer, Note, NoteSignature, parse_note, sign_note
from verifier.core.trust_policy import open_trusted_checkpoint, parse_trust_policy
from verifier.errors import CosignatureError, FormatError, QuorumError, SignatureError

LOG = Ed25519Signer.from_seed("ledger.example/log", bytes(range(32)))
W1 = CosignatureSigner.from_seed("witness.example/one", bytes(range(1, 33)))
W2 = CosignatureSigner.from_seed("witness.example/two", bytes(range(2, 34)))
W3 = CosignatureSigner.from_seed("witness.example/three", bytes(range(3, 35)))
TEXT = Checkpoint("ledger.example/log", 5, EMPTY_ROOT).to_text()


def note(*witnesses: CosignatureSigner, ts: int = 1_800_000_000) -> bytes:
    cosigs = [w.cosign(TEXT, ts + i) for i, w in enumerate(witnesses)]
    return sign_note(TEXT, [LOG], cosigs)


def policy(quorum: str, extra: str = "") -> str:
    return (
        f"# trust policy\nlog {LOG.verifier.vkey} https://ledger.example/log\n"
        f"witness one {W1.verifier.vkey}\nwitness two {W2.verifier.vkey}\n"
        f"witness three {W3.verifier.vkey}\n{extra}quorum {quorum}\n"
    )


def test_cosignature_vkey_roundtrip_and_key_id() -> None:
    v = W1.verifier
    assert parse_witness_vkey(v.vkey) == v
    assert "+" in v.vkey and v.vkey.split("+")[2].startswith("B")  # 0x04 type byte


def test_cosignatures_interoperate_with_tlog_scales() -> None:
    data = note(W1, W2).decode()
    cp = ScalesCheckpoint.from_text(data)
    valid = VkeySet(Vkey.from_string(W1.verifier.vkey), Vkey.from_string(W2.verifier.vkey)).verify(
        cp.signatures, cp
    )
    assert {v.name for v, _ in valid} == {"witness.example/one", "witness.example/two"}


def test_two_of_two() -> None:
    p = parse_trust_policy(policy("both", "group both all one two\n"))
    t = open_trusted_checkpoint(note(W1, W2), p)
    assert t.cosigned == {"one": 1_800_000_000, "two": 1_800_000_001}
    with pytest.raises(QuorumError, match="cosigned by: one"):
        open_trusted_checkpoint(note(W1), p)
    with pytest.raises(QuorumError, match="none"):
        open_trusted_checkpoint(note(), p)


def test_thresholds_nested_groups_and_none() -> None:
    p = parse_trust_policy(policy("top", "group pair 2 one two three\ngroup top any pair\n"))
    open_trusted_checkpoint(note(W2, W3), p)
    with pytest.raises(QuorumError):
        open_trusted_checkpoint(note(W3), p)
    assert open_trusted_checkpoint(note(), parse_trust_policy(policy("none"))).cosigned == {}


def _zeroed(sig: NoteSignature) -> NoteSignature:
    return type(sig)(sig.name, sig.key_id, sig.signature[:8] + bytes(64))


@pytest.mark.parametrize(
    "damage",
    [
        _zeroed,
        lambda s: type(s)(s.name, s.key_id, b"\0" * 72),
        lambda s: type(s)(s.name, s.key_id, b"\0" * 10),
    ],
    ids=["zeroed", "garbage", "wrong-length"],
)
def test_bad_cosignature_by_a_known_witness_rejects_the_note_as_not_witnessed(
    damage: Callable[[NoteSignature], NoteSignature],
) -> None:
    """signed-note: a known key's failing signature rejects the note. A witness's is
    judged after the log's own, so the refusal says the witnesses' word is missing
    (a QuorumError, naming the witness), not that the log is broken."""
    data = parse_note(note(W1, W2))
    tampered = Note(
        data.text, (data.signatures[0], damage(data.signatures[1]), data.signatures[2])
    ).to_bytes()
    with pytest.raises(CosignatureError) as caught:
        open_trusted_checkpoint(
            tampered, parse_trust_policy(policy("any1", "group any1 any one two\n"))
        )
    assert isinstance(caught.value, QuorumError)
    assert caught.value.witness == f"witness.example/one+{W1.verifier.key_id.hex()}"
    said = str(caught.value)
    assert "cosignature by witness one" in said and "the log's own signature" in said


def test_bad_log_signature_next_to_a_bad_cosignature_is_the_logs_fault() -> None:
    """Only the log's own signature failing is a broken checkpoint, whatever the line order."""
    data = parse_note(note(W1, W2))
    log_sig, w1, w2 = data.signatures
    for order in [(_zeroed(w1), _zeroed(log_sig), w2), (_zeroed(log_sig), _zeroed(w1), w2)]:
        with pytest.raises(SignatureError) as caught:
            open_trusted_checkpoint(
                Note(data.text, order).to_bytes(), parse_trust_policy(policy("one"))
            )
        assert not isinstance(caught.value, QuorumError)
        assert "ledger.example/log does not verify" in str(caught.value)


def test_unknown_witness_is_ignored() -> None:
    stranger = CosignatureSigner.from_seed("witness.example/one", bytes(range(9, 41)))
    p = parse_trust_policy(policy("one"))
    with pytest.raises(QuorumError):
        open_trusted_checkpoint(note(stranger), p)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quorum none\n", "no 'log' line"),
        (f"log {LOG.verifier.vkey}\n", "no 'quorum' line"),
        (policy("nobody"), "not defined"),
        (policy("g", "group g 0 one\n"), "threshold of 0"),
        (policy("g", "group g 4 one two three\n"), "larger than the maximum"),
        (policy("g", "group g any four\n"), "not defined above"),
        (policy("one", "witness one " + W1.verifier.vkey + "\n"), "defined twice"),
        (policy("none", "trust everyone\n"), "unknown keyword"),
        (policy("none").replace(W1.verifier.vkey, LOG.verifier.vkey), "cosignature/v1"),
    ],
)
def test_policy_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_trust_policy(text)


def test_a_witness_cannot_count_twice() -> None:
    with pytest.raises(FormatError, match="listed twice"):
        parse_trust_policy(policy("g", "group g 2 one one\n"))
    same_key = policy("none", f"witness again {W1.verifier.vkey}\n")
    with pytest.raises(FormatError, match="already listed"):
        parse_trust_policy(same_key)
