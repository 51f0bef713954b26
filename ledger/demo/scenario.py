"""Scenarios: a schedule written as a readable TOML file, turned into signed entries.

Used by the rule tests (``tests/scenarios/``) and by ``frontier-ledger demo``.
A scenario lists entries in log order::

    [[entry]]
    label = "prereg-acme"            # a name other entries refer to as "@prereg-acme"
    type = "preregistration"
    at = "2026-10-05T09:00:00Z"      # when the sequencer logs it (simulated clock)
    by = ["acme"]                    # the actors whose keys sign it
    [entry.fields]                   # the payload; "@label" becomes that entry's index
    run_id = "acme-2027-a"

Shorthands: ``root_keys = ["governor-a", …]`` in a charter and ``actor = "acme"``
in a key_grant expand to the actors' public keys. A scenario may start from
another (``base = "base.toml"``) and ``[[change]]``, ``[[remove]]`` or ``[[add]]``
entries by label.

Actors' keys are derived from their names (SHA-256 of a fixed prefix and the
name): reproducible, and for simulations and tests only — never for a real log.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import ScenarioError
from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope
from verifier.core.leaf import canonical_json
from verifier.entries.fields import parse_time

KEY_PREFIX = b"frontier-ledger simulation key v1 (never use for a real log):"


def actor_key(name: str) -> EntryKey:
    seed = hashlib.sha256(KEY_PREFIX + name.encode()).digest()
    return EntryKey(Ed25519PrivateKey.from_private_bytes(seed))


@dataclass(frozen=True)
class ScenarioEntry:
    label: str
    type: str
    at_ms: int
    by: tuple[str, ...]
    fields: dict[str, Any]
    content: str | None = None  # a revealed document's content (blob), for reveals


@dataclass(frozen=True)
class Scenario:
    title: str
    origin: str
    now_ms: int
    expect: tuple[str, ...]
    entries: tuple[ScenarioEntry, ...]

    def labels(self) -> dict[str, int]:
        return {e.label: i for i, e in enumerate(self.entries)}

    def blobs(self) -> dict[str, bytes]:
        out = {}
        for e in self.entries:
            if e.content is not None:
                data = e.content.encode()
                out[hashlib.sha256(data).hexdigest()] = data
        return out

    def envelopes(self) -> list[tuple[int, dict[str, Any]]]:
        """(logged_at ms, signed envelope) for every entry, assuming consecutive indices."""
        labels = self.labels()
        return [(e.at_ms, _envelope(self.origin, e, labels)) for e in self.entries]

    def envelope(self, entry: ScenarioEntry, indices: dict[str, int]) -> dict[str, Any]:
        """The signed envelope of *entry*, resolving "@label" with the indices the
        entries actually got (other entries, such as markers, may sit between)."""
        return _envelope(self.origin, entry, indices)


def _entry(raw: dict[str, Any]) -> ScenarioEntry:
    try:
        return ScenarioEntry(
            label=str(raw["label"]),
            type=str(raw["type"]),
            at_ms=parse_time(str(raw["at"]), "at"),
            by=tuple(raw.get("by", ())),
            fields=dict(raw.get("fields", {})),
            content=raw.get("content"),
        )
    except KeyError as exc:
        raise ScenarioError(f"entry {raw.get('label', '?')}: missing {exc}") from None


def load(path: Path) -> Scenario:
    doc = tomllib.loads(path.read_text())
    if "base" in doc:
        base = load(path.parent / doc["base"])
        entries = list(base.entries)
        origin, now = base.origin, base.now_ms
    else:
        entries, origin, now = [], doc["origin"], 0
    entries += [_entry(e) for e in doc.get("entry", [])]
    for op in doc.get("remove", []):
        entries = [e for e in entries if e.label != op["label"]]
    for op in doc.get("change", []):
        i = _find(entries, op["label"])
        e = entries[i]
        fields = copy.deepcopy(e.fields)
        fields.update(op.get("fields", {}))
        entries[i] = ScenarioEntry(
            e.label,
            e.type,
            parse_time(op["at"], "at") if "at" in op else e.at_ms,
            tuple(op.get("by", e.by)),
            fields,
            op.get("content", e.content),
        )
    for op in doc.get("add", []):
        new = _entry(op)
        pos = _find(entries, op["after"]) + 1 if "after" in op else len(entries)
        entries.insert(pos, new)
    if "now" in doc:
        now = parse_time(doc["now"], "now")
    return Scenario(
        title=str(doc.get("title", path.stem)),
        origin=str(doc.get("origin", origin)),
        now_ms=now,
        expect=tuple(doc.get("expect", ())),
        entries=tuple(entries),
    )


def _find(entries: list[ScenarioEntry], label: str) -> int:
    for i, e in enumerate(entries):
        if e.label == label:
            return i
    raise ScenarioError(f"no entry labelled {label!r}")


def _resolve(value: Any, labels: dict[str, int]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        if value[1:] not in labels:
            raise ScenarioError(f"reference to unknown label {value}")
        return labels[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, labels) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, labels) for k, v in value.items()}
    return value


def _expand(e: ScenarioEntry, labels: dict[str, int]) -> dict[str, Any]:
    fields: dict[str, Any] = _resolve(copy.deepcopy(e.fields), labels)
    if e.type == "charter" and fields.get("root_keys") and isinstance(fields["root_keys"][0], str):
        fields["root_keys"] = [
            {"name": n, "keyid": actor_key(n).keyid, "public_key": actor_key(n).public_b64}
            for n in fields["root_keys"]
        ]
    if e.type == "key_grant" and "actor" in fields:
        name = fields.pop("actor")
        key = actor_key(name)
        fields = {"keyid": key.keyid, "public_key": key.public_b64, "holder": name, **fields}
    if e.type == "key_revoke" and "actor" in fields:
        fields = {"keyid": actor_key(fields.pop("actor")).keyid, **fields}
    return fields


def _envelope(origin: str, e: ScenarioEntry, labels: dict[str, int]) -> dict[str, Any]:
    payload = {"type": e.type, "v": 1, "log": origin, **_expand(e, labels)}
    data = canonical_json(payload).encode()
    return sign_envelope(data, payload_type_for(e.type), [actor_key(n) for n in e.by])
