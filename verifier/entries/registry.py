"""The key registry, replayed from the log: who may sign what at each index.

The charter (index 0) names the board's root keys and quorum. ``key_grant`` and
``key_revoke`` entries, signed by a board quorum, add and remove keys with
roles. The key set in force for entry *i* is what entries ``0 .. i-1`` say it
is — replaying the log gives it, nothing else does (POLICY.md "Actors").

Roles: ``board``, ``regulator``, ``evaluator``, ``log``, ``lab:<org>``,
``contester:<org>``, ``compute:<org>`` (a compute provider), ``observer:<org>`` (an
international observer). A lab key signs only for its own organisation, a compute
provider's only its own attestations.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from verifier.core import ed25519
from verifier.core.leaf import Envelope, pae
from verifier.entries.payloads import Charter, KeyGrant, KeyRevoke
from verifier.errors import AdmissionError, FormatError, SignatureError


class SignatureSink(Protocol):
    """Takes Ed25519 checks to run later (see :mod:`verifier.client.sigpool`)."""

    def add(self, public_key: bytes, signature: bytes, message: bytes) -> None: ...


def keyid_of(public_key: bytes) -> str:
    """DSSE key id: hex SHA-256 of the raw 32-byte Ed25519 public key (FORMATS.md)."""
    return hashlib.sha256(public_key).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    keyid: str
    public_key: bytes
    roles: frozenset[str]
    holder: str
    granted_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass
class KeyRegistry:
    """Keys by key id, as replayed up to some index."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    board_quorum: int = 1
    decision_quorum: int = 1

    # -- replay ---------------------------------------------------------------

    @classmethod
    def from_charter(cls, charter: Charter) -> KeyRegistry:
        reg = cls(board_quorum=charter.board_quorum, decision_quorum=charter.decision_quorum)
        for rk in charter.root_keys:
            raw = _decode_key(rk.public_key, rk.keyid)
            reg.keys[rk.keyid] = KeyRecord(rk.keyid, raw, frozenset({"board"}), rk.name, 0)
        if charter.board_quorum > len(charter.root_keys):
            raise FormatError("charter: board quorum is larger than the number of root keys")
        return reg

    def check_grant(self, g: KeyGrant) -> bytes:
        """Raise unless *g* can be applied: a strong key, matching id, not granted before."""
        raw = _decode_key(g.public_key, g.keyid)
        if g.keyid in self.keys:
            earlier = self.keys[g.keyid].granted_at
            raise FormatError(f"key_grant: key {g.keyid[:16]}… was granted before, at {earlier}")
        return raw

    def grant(self, g: KeyGrant, index: int) -> None:
        raw = self.check_grant(g)
        self.keys[g.keyid] = KeyRecord(g.keyid, raw, frozenset(g.roles), g.holder, index)

    def check_revoke(self, r: KeyRevoke) -> KeyRecord:
        """Raise unless *r* names a granted key that is still active."""
        rec = self.keys.get(r.keyid)
        if rec is None:
            raise FormatError(f"key_revoke: key {r.keyid[:16]}… was never granted")
        if not rec.active:
            raise FormatError(
                f"key_revoke: key {r.keyid[:16]}… was revoked before, at {rec.revoked_at}"
            )
        return rec

    def revoke(self, r: KeyRevoke, index: int) -> None:
        self.keys[r.keyid] = replace(self.check_revoke(r), revoked_at=index)

    # -- checks ---------------------------------------------------------------

    def verify_signers(
        self, envelope: Envelope, *, defer: SignatureSink | None = None
    ) -> list[KeyRecord]:
        """Verify every signature of *envelope*; return the signing keys.

        Every signature must be by a known, unrevoked key and must verify over the
        DSSE PAE: an entry carrying a bad or unknown signature is refused whole.
        With *defer*, the Ed25519 checks themselves are handed to it (key
        lookups and revocation are still checked here, in order).
        """
        message = pae(envelope.payload_type, envelope.payload)
        signers: list[KeyRecord] = []
        for sig in envelope.signatures:
            rec = self.keys.get(sig.keyid)
            if rec is None:
                raise AdmissionError(
                    f"signature by unknown key {sig.keyid[:16]}…", code="unknown-key"
                )
            if rec.revoked_at is not None:  # not rec.active
                raise AdmissionError(
                    f"signature by key {sig.keyid[:16]}… ({rec.holder}), "
                    f"revoked at index {rec.revoked_at}",
                    code="revoked-key",
                )
            if defer is not None:
                defer.add(rec.public_key, sig.sig, message)
                signers.append(rec)
                continue
            try:
                ed25519.verify(ed25519.load_public_key(rec.public_key), sig.sig, message)
            except SignatureError:
                raise AdmissionError(
                    f"signature by key {sig.keyid[:16]}… ({rec.holder}) does not verify",
                    code="bad-signature",
                ) from None
            signers.append(rec)
        return signers

    def check_role(
        self, signers: Sequence[KeyRecord], role: str, entry_type: str, *, org: str | None = None
    ) -> None:
        """Raise unless the signers hold *role*, with the quorum the role needs.

        ``board`` needs ``board_quorum`` distinct board keys; a ``decision`` needs
        ``decision_quorum`` regulator keys; ``lab``, ``contester``, ``compute`` and
        ``observer`` need a key of the organisation *org* (any organisation if *org*
        is None: contesters and observers).
        """
        if role in ORG_ROLES:
            if org:
                label = f"{role}:{org}"
                holders = [s for s in signers if label in s.roles]
            else:
                label = f"{role}:<org>"
                prefix = role + ":"
                holders = [s for s in signers if any(r.startswith(prefix) for r in s.roles)]
            need = 1
        else:
            label = role
            holders = [s for s in signers if role in s.roles]
            need = 1
            if role == "board":
                need = self.board_quorum
            elif entry_type == "decision":
                need = self.decision_quorum
        have = len(holders) if len(holders) < 2 else len({s.keyid for s in holders})
        if have == 0:
            raise AdmissionError(
                f"{entry_type} must be signed by a key with role {label}", code="wrong-role"
            )
        if have < need:
            raise AdmissionError(
                f"{entry_type} needs {need} signatures by {label} keys; it has {have}",
                code="quorum-not-met",
            )


#: Roles held for an organisation: ``<role>:<org>``.
ORG_ROLES = ("lab", "contester", "compute", "observer")


def _decode_key(b64: str, keyid: str) -> bytes:
    raw = base64.b64decode(b64)
    ed25519.check_public_key(raw)
    if keyid_of(raw) != keyid:
        raise FormatError(f"key id {keyid[:16]}… is not the SHA-256 of its public key")
    return raw
