"""Build governed logs in tests: actors with real keys, signed envelopes, a charter."""

from __future__ import annotations

import copy
import json
from typing import Any

from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope
from tests.payload_examples import EXAMPLES


class Actor:
    def __init__(self, name: str) -> None:
        self.name = name
        self.key = EntryKey.generate()

    @property
    def keyid(self) -> str:
        return self.key.keyid


def envelope(origin: str, entry_type: str, body: dict[str, Any], *signers: Actor) -> dict[str, Any]:
    payload = {"type": entry_type, "v": 1, "log": origin, **body}
    data = json.dumps(payload, sort_keys=True).encode()
    return sign_envelope(data, payload_type_for(entry_type), [a.key for a in signers])


def charter_body(board: list[Actor], quorum: int, **overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(EXAMPLES["charter"])
    body["root_keys"] = [
        {"name": a.name, "keyid": a.keyid, "public_key": a.key.public_b64} for a in board
    ]
    body["board_quorum"] = quorum
    body.update(overrides)
    return body


def grant_body(actor: Actor, *roles: str) -> dict[str, Any]:
    return {
        "keyid": actor.keyid,
        "public_key": actor.key.public_b64,
        "roles": list(roles),
        "holder": actor.name,
        "reason": "test",
    }
