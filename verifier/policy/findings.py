"""Findings: what an audit reports, in words a journalist can read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

VIOLATION = "violation"  # breaks the plan
WARNING = "warning"  # suspicious
NOTICE = "notice"  # information
NOT_AUDITABLE = "not_auditable"  # the log lacks the data to judge

SEVERITIES = (VIOLATION, WARNING, NOTICE, NOT_AUDITABLE)

RULES: dict[str, str] = {
    "L1": "every checkpoint ever seen is consistent with the latest",
    "L2": "logged_at never decreases with the index",
    "L3": "every entry is signed by a key granted for its role and not revoked",
    "L4": "references point backwards to an entry of the right type",
    "L5": "the latest checkpoint carries the witness quorum",
    "S1": "training starts only after a pre-registration logged the lead time before",
    "S2": "planned compute within the cap in force; training starts on or after the level's lift",
    "S3": "actual compute within plan (plus tolerance) and cap, or a halt is logged",
    "S4": "amendments only before training starts",
    "S5": "a halted run is not submitted without a new pre-registration",
    "S6": "every decision refers to a submission of a pre-registered run",
    "S7": "an approval has a passing evaluation from a timely suite and no open contest",
    "S8": "on-time submissions are decided on the decision date",
    "S9": "late submissions are decided in order, not early, within the limit",
    "S10": "one decision per submission; contest findings answered within the limit",
    "S11": "a lift needs an approval at the level below, or a postponement by the decision date",
    "S12": "threshold and rule changes are logged the notice period before they take effect",
    "S13": "deregulation follows the lift, is not retroactive, and freezes with a postponement",
    "S14": "revealed commitments match; sealed documents are revealed by the deadline",
    "S15": "a significant update of an approved model is approved anew before it is offered",
    "S16": "attested compute is covered by pre-registered runs and reported in full",
    "S17": "researchers' access to an approved model opens within the limit, for a year",
    "S18": "the regulator evaluates only within the scope its charter gives it",
    "S19": "no former staff member holds a lab's key within the cooling-off period",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    indices: tuple[int, ...]
    message: str
    #: A violation caused by an entry that asks for something (an approval, a
    #: lift, an amendment…) is refused at admission. Reports of facts (training
    #: events) and lateness are logged and reported instead: refusing them would
    #: hide the facts or make the lateness permanent.
    refusable: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "indices": list(self.indices),
            "message": self.message,
        }


def finding(
    rule: str, severity: str, indices: Iterable[int], message: str, *, refusable: bool = False
) -> Finding:
    """A finding naming *indices* in log order without repeats (docs/policy-notes.md,
    "Evidence: which entries a finding names")."""
    return Finding(rule, severity, tuple(sorted(set(indices))), message, refusable)


def violation(
    rule: str, indices: Iterable[int], message: str, *, refusable: bool = False
) -> Finding:
    return finding(rule, VIOLATION, indices, message, refusable=refusable)


def refused(rule: str, indices: Iterable[int], message: str) -> Finding:
    """A violation by an entry that asks for something: refused at admission."""
    return finding(rule, VIOLATION, indices, message, refusable=True)


def fmt_flop(n: int | Decimal) -> str:
    """3 significant digits, as people write FLOP: 1e26, 7.9e25."""
    return f"{n:.3g}".replace("e+", "e")
