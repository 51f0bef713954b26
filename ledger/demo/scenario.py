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

Documents an entry names by digest (a plan, a suite's description, a report,
contest evidence) can be written out in the scenario; the loader fills the
field with the document's digest, or with its commitment if it is sealed
(FORMATS.md "Blobs and commitments"), and the demo serves public and revealed
documents as blobs::

    [entry.documents]
    plan = '''The plan, in words…'''           # public: {sealed = false, sha256 = SHA-256(text)}

    [entry.documents.plan]                       # sealed: {sealed = true, sha256 = commitment}
    sealed = true
    salt = "<32 bytes, standard base64>"
    text = '''…'''

A reveal of a sealed document needs only ``reveals = "plan"`` and the
``commitment`` field (``"@label"`` of the entry that sealed it): the loader fills
``salt`` and ``content_sha256`` and keeps the text as the revealed blob. (A reveal
may instead give ``content`` and every field itself, as the rule tests do to
reveal the wrong document.)

Actors' keys are derived from their names (SHA-256 of a fixed prefix and the
name): reproducible, and for simulations and tests only — never for a real log.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import ScenarioError
from ledger.keys.entry_signing import EntryKey, payload_type_for, sign_envelope
from verifier.core.leaf import canonical_json
from verifier.entries.fields import parse_time
from verifier.policy.rules.reveals import COMMITMENT_PREFIX

KEY_PREFIX = b"frontier-ledger simulation key v1 (never use for a real log):"


def actor_key(name: str) -> EntryKey:
    seed = hashlib.sha256(KEY_PREFIX + name.encode()).digest()
    return EntryKey(Ed25519PrivateKey.from_private_bytes(seed))


SALT_BYTES = 32


@dataclass(frozen=True)
class ScenarioDocument:
    """A document an entry names by digest, written out in the scenario."""

    text: str
    sealed: bool = False
    salt: str | None = None  # sealed only: 32 bytes, standard base64

    @property
    def content(self) -> bytes:
        return self.text.encode()

    @property
    def sha256(self) -> str:
        """The digest of the content (a blob's name; a reveal's ``content_sha256``)."""
        return hashlib.sha256(self.content).hexdigest()

    def field(self) -> dict[str, Any]:
        """The payload's document field: the content's digest, or the commitment if sealed."""
        if not self.sealed:
            return {"sealed": False, "sha256": self.sha256}
        assert self.salt is not None
        salt = base64.b64decode(self.salt)
        digest = hashlib.sha256(COMMITMENT_PREFIX + salt + self.content).hexdigest()
        return {"sealed": True, "sha256": digest}


def _document(raw: Any, where: str) -> ScenarioDocument:
    if isinstance(raw, str):
        return ScenarioDocument(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise ScenarioError(f"{where}: a document is a text, or a table with a 'text'")
    unknown = set(raw) - {"text", "sealed", "salt"}
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")
    sealed = raw.get("sealed", False)
    if not isinstance(sealed, bool):
        raise ScenarioError(f"{where}: 'sealed' is true or false")
    salt = raw.get("salt")
    if sealed:
        try:
            ok = len(base64.b64decode(str(salt), validate=True)) == SALT_BYTES
        except binascii.Error:
            ok = False
        if not ok:
            raise ScenarioError(f"{where}: a sealed document needs a 32-byte base64 'salt'")
    elif salt is not None:
        raise ScenarioError(f"{where}: only a sealed document has a salt")
    return ScenarioDocument(raw["text"], sealed, salt if sealed else None)


@dataclass(frozen=True)
class ScenarioEntry:
    label: str
    type: str
    at_ms: int
    by: tuple[str, ...]
    fields: dict[str, Any]
    content: str | None = None  # a revealed document's content (blob), for reveals
    #: documents written out in the scenario, by field name (their digests are in fields)
    documents: Mapping[str, ScenarioDocument] = field(default_factory=dict)
    #: for a reveal: which sealed document of the committed entry it reveals
    reveals: str | None = None


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
        """Documents anyone may read, by SHA-256: public ones and revealed ones.

        A sealed document stays out until a reveal gives its content."""
        out = {}
        for e in self.entries:
            if e.content is not None:
                data = e.content.encode()
                out[hashlib.sha256(data).hexdigest()] = data
            for doc in e.documents.values():
                if not doc.sealed:
                    out[doc.sha256] = doc.content
        return out

    def envelopes(self) -> list[tuple[int, dict[str, Any]]]:
        """(logged_at ms, signed envelope) for every entry, assuming consecutive indices."""
        labels = self.labels()
        return [(e.at_ms, _envelope(self.origin, e, labels)) for e in self.entries]

    def envelope(self, entry: ScenarioEntry, indices: dict[str, int]) -> dict[str, Any]:
        """The signed envelope of *entry*, resolving "@label" with the indices the
        entries actually got (other entries, such as markers, may sit between)."""
        return _envelope(self.origin, entry, indices)


def _with_documents(
    e: ScenarioEntry, raw: Mapping[str, Any], fields: dict[str, Any]
) -> ScenarioEntry:
    """*e* with *fields* and the documents of *raw* added, each field filled with its digest."""
    documents = dict(e.documents)
    for name, doc in raw.items():
        documents[name] = _document(doc, f"entry {e.label}, document {name}")
    for name, doc in documents.items():
        fields[name] = doc.field()
    return dataclasses.replace(e, fields=fields, documents=documents)


def _entry(raw: dict[str, Any]) -> ScenarioEntry:
    try:
        e = ScenarioEntry(
            label=str(raw["label"]),
            type=str(raw["type"]),
            at_ms=parse_time(str(raw["at"]), "at"),
            by=tuple(raw.get("by", ())),
            fields={},
            content=raw.get("content"),
            reveals=raw.get("reveals"),
        )
    except KeyError as exc:
        raise ScenarioError(f"entry {raw.get('label', '?')}: missing {exc}") from None
    fields, documents = dict(raw.get("fields", {})), raw.get("documents", {})
    both = sorted(set(fields) & set(documents))
    if both:
        raise ScenarioError(f"entry {e.label}: {both} given both as fields and as documents")
    return _with_documents(e, documents, fields)


def _fill_reveal(e: ScenarioEntry, entries: list[ScenarioEntry]) -> ScenarioEntry:
    """A reveal that names a sealed document (``reveals``) gets its salt, digest and text."""
    target = e.fields.get("commitment")
    if not (isinstance(target, str) and target.startswith("@")):
        raise ScenarioError(f"entry {e.label}: a reveal's commitment is '@label'")
    sealed = entries[_find(entries, target[1:])].documents
    doc = sealed.get(e.reveals or "")
    if doc is None or not doc.sealed:
        raise ScenarioError(f"entry {e.label}: {target} has no sealed document {e.reveals!r}")
    fields = {**e.fields, "salt": doc.salt, "content_sha256": doc.sha256}
    return dataclasses.replace(e, fields=fields, content=doc.text)


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
        # A field given outright replaces the document that filled it.
        kept = {k: d for k, d in e.documents.items() if k not in op.get("fields", {})}
        e = dataclasses.replace(
            e,
            at_ms=parse_time(op["at"], "at") if "at" in op else e.at_ms,
            by=tuple(op.get("by", e.by)),
            content=op.get("content", e.content),
            documents=kept,
        )
        entries[i] = _with_documents(e, op.get("documents", {}), fields)
    for op in doc.get("add", []):
        new = _entry(op)
        pos = _find(entries, op["after"]) + 1 if "after" in op else len(entries)
        entries.insert(pos, new)
    entries = [_fill_reveal(e, entries) if e.reveals is not None else e for e in entries]
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
