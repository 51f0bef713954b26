"""Admission against the key set replayed from the log: every refusal path, pure."""

from __future__ import annotations

import copy

import pytest

from tests.governed import Actor, charter_body, envelope, grant_body
from tests.payload_examples import EXAMPLES
from verifier.entries.replay import LogReplay
from verifier.errors import AdmissionError, FormatError, WeakKeyError

ORIGIN = "ledger.example/log"


@pytest.fixture
def world() -> dict:
    board = [Actor(f"Governor {c}") for c in "ABC"]
    regulator, lab, other_lab, evaluator = (
        Actor(n) for n in ("Agency", "Acme", "Borealis", "Eval unit")
    )
    replay = LogReplay(ORIGIN)
    replay.admit(envelope(ORIGIN, "charter", charter_body(board, 2), board[0], board[1]), 0)
    replay.admit(envelope(ORIGIN, "key_grant", grant_body(regulator, "regulator"), *board[:2]), 1)
    replay.admit(envelope(ORIGIN, "key_grant", grant_body(lab, "lab:acme"), *board[:2]), 2)
    replay.admit(
        envelope(ORIGIN, "key_grant", grant_body(other_lab, "lab:borealis"), *board[:2]), 3
    )
    replay.admit(envelope(ORIGIN, "key_grant", grant_body(evaluator, "evaluator"), *board[:2]), 4)
    prereg = copy.deepcopy(EXAMPLES["preregistration"])
    replay.admit(envelope(ORIGIN, "preregistration", prereg, lab), 5)
    return {
        "replay": replay,
        "board": board,
        "regulator": regulator,
        "lab": lab,
        "other_lab": other_lab,
        "evaluator": evaluator,
    }


def refused(world: dict, env: dict, code: str | None = None, match: str | None = None) -> None:
    replay: LogReplay = world["replay"]
    before = replay.size
    with pytest.raises((AdmissionError, FormatError), match=match) as info:
        replay.check(env, before)
    if code is not None:
        assert isinstance(info.value, AdmissionError) and info.value.code == code, info.value
    assert replay.size == before


def start(world: dict) -> dict:
    return envelope(
        ORIGIN,
        "training_started",
        {"preregistration": 5, "time": "2027-01-04T00:00:00Z", "cumulative_flop": "0"},
        world["lab"],
    )


def test_good_entries_are_admitted(world: dict) -> None:
    replay: LogReplay = world["replay"]
    entry = replay.admit(start(world), replay.size)
    assert entry.org == "acme" and entry.payload.type == "training_started"


def test_bad_signature(world: dict) -> None:
    env = start(world)
    env["signatures"][0]["sig"] = (
        env["signatures"][0]["sig"][:10]
        + ("A" if env["signatures"][0]["sig"][10] != "A" else "B")
        + env["signatures"][0]["sig"][11:]
    )
    refused(world, env, "bad-signature", "does not verify")


def test_unknown_key(world: dict) -> None:
    refused(
        world,
        envelope(ORIGIN, "organisation", EXAMPLES["organisation"], Actor("stranger")),
        "unknown-key",
    )


def test_revoked_key(world: dict) -> None:
    replay: LogReplay = world["replay"]
    revoke = {"keyid": world["regulator"].keyid, "reason": "left the agency"}
    replay.admit(envelope(ORIGIN, "key_revoke", revoke, *world["board"][1:]), replay.size)
    refused(
        world,
        envelope(ORIGIN, "organisation", EXAMPLES["organisation"], world["regulator"]),
        "revoked-key",
        "revoked at index 6",
    )


def test_wrong_role(world: dict) -> None:
    refused(
        world,
        envelope(ORIGIN, "organisation", EXAMPLES["organisation"], world["lab"]),
        "wrong-role",
        "role regulator",
    )


def test_lab_signs_only_for_its_own_organisation(world: dict) -> None:
    other = {"preregistration": 5, "time": "2027-01-04T00:00:00Z", "cumulative_flop": "0"}
    refused(
        world,
        envelope(ORIGIN, "training_started", other, world["other_lab"]),
        "wrong-role",
        "lab:acme",
    )
    prereg = copy.deepcopy(EXAMPLES["preregistration"])
    refused(world, envelope(ORIGIN, "preregistration", prereg, world["other_lab"]), "wrong-role")


def test_board_quorum_not_met(world: dict) -> None:
    grant = grant_body(Actor("New evaluator"), "evaluator")
    refused(
        world, envelope(ORIGIN, "key_grant", grant, world["board"][0]), "quorum-not-met", "needs 2"
    )
    # Two signatures by the same key are not a quorum.
    env = envelope(ORIGIN, "key_grant", grant, world["board"][0])
    env["signatures"].append(dict(env["signatures"][0]))
    refused(world, env, None, "same keyid")


def test_payload_for_another_log(world: dict) -> None:
    env = envelope(
        "other.example/log", "organisation", EXAMPLES["organisation"], world["regulator"]
    )
    refused(world, env, "wrong-log", "not this log")


def test_schema_error(world: dict) -> None:
    bad = dict(EXAMPLES["organisation"], kind="bank")
    refused(world, envelope(ORIGIN, "organisation", bad, world["regulator"]), None, "kind")


def test_a_string_escaping_a_lone_surrogate_is_refused(world: dict) -> None:
    # json.dumps writes the lone surrogate as the escape "\ud800": valid JSON syntax, but
    # no Unicode character (no UTF-8 stores or shows it; parsers disagree on it).
    bad = dict(EXAMPLES["organisation"], legal_name="Acme \ud800 Labs")
    refused(
        world, envelope(ORIGIN, "organisation", bad, world["regulator"]), None, "lone surrogate"
    )


def test_payload_type_mismatch(world: dict) -> None:
    env = envelope(ORIGIN, "organisation", EXAMPLES["organisation"], world["regulator"])
    import base64

    from ledger.keys.entry_signing import payload_type_for, sign_envelope

    payload = base64.b64decode(env["payload"])
    wrong = sign_envelope(payload, payload_type_for("deregulation"), [world["regulator"].key])
    refused(world, wrong, None, "does not match")


def test_reference_to_missing_or_wrong_typed_entry(world: dict) -> None:
    later = {"preregistration": 99, "time": "2027-01-04T00:00:00Z", "cumulative_flop": "0"}
    refused(
        world,
        envelope(ORIGIN, "training_started", later, world["lab"]),
        "bad-reference",
        "not before",
    )
    wrong = {"preregistration": 1, "time": "2027-01-04T00:00:00Z", "cumulative_flop": "0"}
    refused(
        world,
        envelope(ORIGIN, "training_started", wrong, world["lab"]),
        "bad-reference",
        "key_grant",
    )


def test_weak_key_grant_refused(world: dict) -> None:
    grant = grant_body(Actor("weak"), "evaluator")
    import base64
    import hashlib

    identity = (1).to_bytes(32, "little")
    grant["public_key"] = base64.b64encode(identity).decode()
    grant["keyid"] = hashlib.sha256(identity).hexdigest()
    replay: LogReplay = world["replay"]
    env = envelope(ORIGIN, "key_grant", grant, *world["board"][:2])
    with pytest.raises(WeakKeyError):
        replay.check(env, replay.size)
    assert replay.size == 6


def test_first_entry_must_be_a_self_signed_charter() -> None:
    board = [Actor("A"), Actor("B")]
    replay = LogReplay(ORIGIN)
    with pytest.raises(AdmissionError, match="first entry"):
        replay.check(envelope(ORIGIN, "organisation", EXAMPLES["organisation"], board[0]), 0)
    with pytest.raises(AdmissionError, match="needs 2"):
        replay.check(envelope(ORIGIN, "charter", charter_body(board, 2), board[0]), 0)
    with pytest.raises(AdmissionError, match="unknown key"):
        replay.check(envelope(ORIGIN, "charter", charter_body(board, 1), Actor("C")), 0)
    with pytest.raises(FormatError, match="quorum is larger"):
        replay.check(envelope(ORIGIN, "charter", charter_body(board, 3), *board), 0)
    replay.admit(envelope(ORIGIN, "charter", charter_body(board, 1), board[1]), 0)
    with pytest.raises(AdmissionError, match="only be the first"):
        replay.check(envelope(ORIGIN, "charter", charter_body(board, 1), board[1]), 1)
