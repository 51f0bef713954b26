"""C2SP tlog-policy: what an auditor trusts — the log's key, the witnesses, the quorum.

::

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member> [<member> ...]
    quorum <name>|none

Members of a group are witnesses or earlier groups. Blank lines and lines
starting with ``#`` are ignored. Parsing is strict: unknown keywords, duplicate
names, forward references and a missing ``quorum`` line are errors.

Several ``log`` lines may name the log's keys (tlog-policy §"Defining a log":
"all of the listed logs are accepted"; a checkpoint "signed by any one of the
listed logs" is valid): the old and the new key during a key rotation, or an
Ed25519 key (type 0x01) and an ML-DSA-44 key (type 0x06, tlog-checkpoint
§"Signatures"). This verifier needs at least one Ed25519 ``log`` line. Witness
keys are Ed25519 cosignature/v1 (0x04) or ML-DSA-44 (0x06) keys
(tlog-cosignature §"Format"). Listing the log's own ML-DSA-44 key as a witness
in the quorum makes any tlog-policy verifier require the log's post-quantum
signature (docs/verifier.md, "Post-quantum signatures").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from verifier.core.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.core.cosignature import CosignatureVerifier, parse_witness_vkey
from verifier.core.encoding import parse_decimal
from verifier.core.mldsa import MLDSA44Verifier, parse_log_vkey
from verifier.core.note import Ed25519Verifier, NoteVerifier
from verifier.errors import CosignatureError, FormatError, QuorumError

MAX_POLICY_SIZE = 64 * 1024


@dataclass(frozen=True)
class Witness:
    name: str
    key: CosignatureVerifier | MLDSA44Verifier
    url: str | None


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int  # how many members must be satisfied
    members: tuple[str, ...]


@dataclass(frozen=True)
class TrustPolicy:
    #: The first Ed25519 ``log`` line's key, and that line's URL.
    log: Ed25519Verifier
    log_url: str | None
    witnesses: Mapping[str, Witness] = field(default_factory=dict)
    groups: Mapping[str, Group] = field(default_factory=dict)
    quorum: str | None = None  # None: no witnesses required
    #: Every ``log`` line's key, in file order (Ed25519 or ML-DSA-44); any one suffices.
    logs: tuple[Ed25519Verifier | MLDSA44Verifier, ...] = ()

    @property
    def log_keys(self) -> tuple[NoteVerifier, ...]:
        return self.logs or (self.log,)

    @property
    def mldsa_log_keys(self) -> tuple[MLDSA44Verifier, ...]:
        return tuple(k for k in self.logs if isinstance(k, MLDSA44Verifier))

    def satisfied(self, name: str, cosigned: set[str]) -> bool:
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self.satisfied(m, cosigned) for m in group.members) >= group.threshold

    def quorum_met(self, cosigned: set[str]) -> bool:
        return self.quorum is None or self.satisfied(self.quorum, cosigned)


class _Parser:
    def __init__(self) -> None:
        self.log: Ed25519Verifier | None = None
        self.log_url: str | None = None
        self.logs: list[Ed25519Verifier | MLDSA44Verifier] = []
        self.witnesses: dict[str, Witness] = {}
        self.groups: dict[str, Group] = {}
        self.quorum: str | None = None
        self.quorum_seen = False

    def _new_name(self, name: str, where: str) -> None:
        if name in self.witnesses or name in self.groups:
            raise FormatError(f"{where}: name {name!r} is defined twice")

    def line_log(self, args: list[str], where: str) -> None:
        if not 1 <= len(args) <= 2:
            raise FormatError(f"{where}: expected 'log <vkey> [<url>]'")
        key = parse_log_vkey(args[0], f"{where}: log vkey")
        if any(k.public_key == key.public_key for k in self.logs):
            # tlog-policy: "Duplicate logs, i.e., multiple log lines with the same
            # public key, are not allowed."
            raise FormatError(f"{where}: this log key is already listed")
        self.logs.append(key)
        if isinstance(key, Ed25519Verifier) and self.log is None:
            self.log = key
            self.log_url = args[1] if len(args) == 2 else None

    def line_witness(self, args: list[str], where: str) -> None:
        if not 2 <= len(args) <= 3:
            raise FormatError(f"{where}: expected 'witness <name> <vkey> [<url>]'")
        self._new_name(args[0], where)
        url = args[2] if len(args) == 3 else None
        key = parse_witness_vkey(args[1])
        if any(w.key.public_key == key.public_key for w in self.witnesses.values()):
            raise FormatError(f"{where}: this witness key is already listed under another name")
        self.witnesses[args[0]] = Witness(args[0], key, url)

    def line_group(self, args: list[str], where: str) -> None:
        if len(args) < 3:
            raise FormatError(f"{where}: expected 'group <name> all|any|<k> <member>...'")
        name, kind, members = args[0], args[1], tuple(args[2:])
        self._new_name(name, where)
        for m in members:
            if m not in self.witnesses and m not in self.groups:
                raise FormatError(f"{where}: group member {m!r} is not defined above")
        if len(set(members)) != len(members):
            # tlog-policy: "Each defined name can be listed as a group member at most
            # once" — otherwise one witness could count twice towards a threshold.
            raise FormatError(f"{where}: a group member is listed twice")
        if kind == "all":
            k = len(members)
        elif kind == "any":
            k = 1
        else:
            k = parse_decimal(kind, what=f"{where} threshold", maximum=len(members))
            if k == 0:
                raise FormatError(f"{where}: a threshold of 0 is not a quorum")
        self.groups[name] = Group(name, k, members)

    def line_quorum(self, args: list[str], where: str) -> None:
        if self.quorum_seen or len(args) != 1:
            raise FormatError(f"{where}: expected one 'quorum <name>|none' line")
        self.quorum_seen = True
        if args[0] != "none":
            if args[0] not in self.witnesses and args[0] not in self.groups:
                raise FormatError(f"{where}: quorum {args[0]!r} is not defined")
            self.quorum = args[0]

    def finish(self) -> TrustPolicy:
        if self.log is None:
            if self.logs:
                raise FormatError(
                    "policy has no Ed25519 'log' line (type 0x01 vkey): this verifier "
                    "needs the log's Ed25519 key; list its ML-DSA-44 key beside it"
                )
            raise FormatError("policy has no 'log' line")
        if not self.quorum_seen:
            raise FormatError("policy has no 'quorum' line ('quorum none' requires no witnesses)")
        return TrustPolicy(
            self.log,
            self.log_url,
            self.witnesses,
            self.groups,
            self.quorum,
            tuple(self.logs),
        )


def parse_trust_policy(text: str) -> TrustPolicy:
    """Parse a tlog-policy file strictly."""
    if len(text.encode()) > MAX_POLICY_SIZE:
        raise FormatError("policy file is too large")
    parser = _Parser()
    handlers = {
        "log": parser.line_log,
        "witness": parser.line_witness,
        "group": parser.line_group,
        "quorum": parser.line_quorum,
    }
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # tlog-policy separates fields by ASCII spaces and tabs only.
        word, *args = [f for f in re.split(r"[ \t]+", line) if f]
        handler = handlers.get(word)
        if handler is None:
            raise FormatError(f"policy line {n}: unknown keyword {word[:20]!r}")
        handler(args, f"policy line {n}")
    return parser.finish()


@dataclass(frozen=True)
class TrustedCheckpoint:
    checkpoint: SignedCheckpoint
    #: witness name -> cosignature timestamp (seconds), for every verified cosignature
    #: (0: a cosigner that makes no statement about time, tlog-cosignature)
    cosigned: Mapping[str, int]

    @property
    def earliest(self) -> int | None:
        """The earliest cosignature time that states one (for "existed by", rule L5)."""
        times = [t for t in self.cosigned.values() if t > 0]
        return min(times) if times else None


def open_trusted_checkpoint(
    data: bytes,
    policy: TrustPolicy,
    *,
    extra_log_keys: Iterable[NoteVerifier] = (),
    require_one_of: Sequence[NoteVerifier] = (),
    retired: Sequence[NoteVerifier] = (),
) -> TrustedCheckpoint:
    """Verify the log signature and every known cosignature, then the policy's quorum.

    *extra_log_keys* are log keys trusted besides the policy's (keys a verifier's
    state accepted from a logged key change); *require_one_of* and *retired* are
    as in :func:`verifier.core.checkpoint.open_checkpoint`.
    """
    witness_keys: Iterable[NoteVerifier] = [w.key for w in policy.witnesses.values()]
    try:
        cp = open_checkpoint(
            data,
            [*policy.log_keys, *extra_log_keys],
            other_keys=witness_keys,
            require_one_of=require_one_of,
            retired=retired,
        )
    except CosignatureError as exc:
        # The log's signature verified; a witness line did not: not witnessed, not broken.
        names = [
            n
            for n, w in policy.witnesses.items()
            if f"{w.key.name}+{w.key.key_id.hex()}" == exc.witness
        ]
        said = str(exc)
        if names:
            said = said.replace("cosignature by ", f"cosignature by witness {names[0]}, ", 1)
        raise CosignatureError(said, witness=exc.witness) from None
    by_key = {(w.key.name, w.key.key_id): w for w in policy.witnesses.values()}
    cosigned: dict[str, int] = {}
    for sig in cp.note.note.signatures:
        w = by_key.get((sig.name, sig.key_id))
        if w is not None and cp.note.signed_by(w.key):
            cosigned[w.name] = w.key.timestamp(sig.signature)
    if not policy.quorum_met(set(cosigned)):
        have = ", ".join(sorted(cosigned)) or "none"
        raise QuorumError(
            f"checkpoint of size {cp.size} lacks the witness quorum '{policy.quorum}' "
            f"(cosigned by: {have})"
        )
    return TrustedCheckpoint(cp, cosigned)
