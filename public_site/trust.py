"""Who vouches for the log: its keys, the witnesses its policy names, and who cosigned when.

The witness policy is the operator's (C2SP tlog-policy, ``DATA/witnesses.policy``,
served at ``/log/witnesses.policy``); the cosignatures are the ones the server
collected and stored per checkpoint size (each verified with the witness's key
before it was stored, :mod:`ledger.write.witnessing`). The site shows both as this
server has them: "verify it yourself" means the reader's browser checks them again
(``static/verify.js``), against keys the reader pins, not these.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.read.receipts import receipt_checkpoint
from verifier.core.trust_policy import TrustPolicy, parse_trust_policy
from verifier.errors import FormatError

if TYPE_CHECKING:
    from public_site.pages import Site

log = logging.getLogger(__name__)

#: Where the ledger's API serves the policy (ledger/api/routes_log.py).
POLICY_URL = "/log/witnesses.policy"


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint as the log serves it: its note with the log's signature and the
    witnesses' cosignatures (witness name -> (signature line, timestamp))."""

    size: int
    note: str
    cosignatures: dict[str, tuple[str, int]]


def policy(site: Site) -> TrustPolicy | None:
    """The served witness policy, parsed (None: the log publishes none, or it is broken)."""
    if site.witness_policy is None:
        return None
    try:
        return parse_trust_policy(site.witness_policy)
    except FormatError as exc:  # the operator's file: shown as missing, reported in the log
        log.warning("the witness policy does not parse: %s", exc)
        return None


def cosigned(site: Site, index: int = -1) -> Cosigned:
    """The newest checkpoint that holds entry *index* and whose cosignatures meet the
    served policy's quorum (what ``/log/checkpoint`` publishes with a quorum required);
    the latest checkpoint if none does, or if the log has no policy. It is the checkpoint
    of the entry's offline receipt (:mod:`ledger.read.receipts`), which the API and
    ``/entries/{index}/receipt.json`` serve."""
    cp = receipt_checkpoint(site.reader, index, policy(site))
    return Cosigned(cp.size, cp.note.decode(), cp.cosignatures)


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age(ms: int) -> str:
    """How long ago, in words: "3 days ago", "5 hours ago", "just now", "in 2 days".

    On a simulated calendar the site's clock and the witnesses' are the simulation's;
    a time a little ahead of the site's clock (another machine's) reads "just now"."""
    s = ms // 1000
    if -60 < s < 60:
        return "just now"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if abs(s) >= size:
            n = abs(s) // size
            words = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"{words} ago" if s > 0 else f"in {words}"
    return "just now"  # pragma: no cover - |s| >= 60 always meets "minute"


def quorum_words(trust: TrustPolicy, name: str | None = None) -> str:
    """A policy's quorum in words: "both northmark and southvale", "2 of a, b and c"."""
    if name is None:
        if trust.quorum is None:
            return "none: no witness is required"
        name = trust.quorum
    if name in trust.witnesses:
        return name
    group = trust.groups[name]
    members = [
        quorum_words(trust, m) if m in trust.witnesses else f"({quorum_words(trust, m)})"
        for m in group.members
    ]
    n, k = len(members), group.threshold
    if n == 1:
        return members[0]
    if k == 1:
        return "any one of " + _join(members, "or")
    if k == n:
        return ("both " if n == 2 else "all of ") + _join(members, "and")
    return f"{k} of " + _join(members, "and")


def _join(words: list[str], last: str) -> str:
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def _countries(site: Site) -> dict[tuple[str, str], str]:
    """(policy name, key name) -> the country a demo witness speaks for; only in a
    simulation, whose witnesses are the demo's fictional ones."""
    engine = site.view.catch_up().engine
    if engine is None or engine.state.charter is None or not engine.state.charter.simulation:
        return {}
    from ledger.demo.witnesses import COUNTRIES

    return {(name, key_name): country for name, key_name, country in COUNTRIES}


def witnesses(site: Site) -> dict[str, Any] | None:
    """The policy's witnesses and who cosigned the latest checkpoint when (None: no policy)."""
    trust = policy(site)
    if trust is None:
        return None
    assert site.witness_policy is not None
    latest = cosigned(site)
    countries = _countries(site)
    rows = []
    for w in trust.witnesses.values():
        stored = latest.cosignatures.get(w.name)
        rows.append(
            {
                "name": w.name,
                "key_name": w.key.name,
                "key_id": w.key.key_id.hex(),
                "vkey": w.key.vkey,
                "kind": w.key.kind,
                "country": countries.get((w.name, w.key.name)),
                "cosigned_at": iso(stored[1]) if stored else None,
                "age": age(site.now_ms - stored[1] * 1000) if stored else None,
            }
        )
    return {
        "policy_url": POLICY_URL,
        "policy": site.witness_policy,
        "log_keys": [getattr(k, "vkey", k.name) for k in trust.log_keys],
        "quorum": quorum_words(trust),
        "quorum_met": trust.quorum_met(set(latest.cosignatures)),
        "checkpoint_size": latest.size,
        "witnesses": rows,
        "cosigned_by": [r["name"] for r in rows if r["cosigned_at"]],
        "simulation": bool(countries),
    }
