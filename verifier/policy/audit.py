"""Audit a whole log: admission replay (L2–L4) plus the schedule's rules (S1–S14).

Pure: leaves, the time of the audit and any revealed documents come in;
findings go out. A bad entry becomes a finding, not an exception, so one
broken entry does not hide what the rest of the log shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from verifier.entries.registry import AdmissionError
from verifier.entries.replay import LogReplay
from verifier.errors import FormatError
from verifier.leaf import parse_leaf
from verifier.policy.engine import PolicyEngine
from verifier.policy.findings import SEVERITIES, VIOLATION, Finding


@dataclass(frozen=True)
class AuditReport:
    origin: str
    size: int
    now_ms: int
    findings: tuple[Finding, ...]

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == VIOLATION)

    def by_rule(self) -> dict[str, list[Finding]]:
        out: dict[str, list[Finding]] = {}
        for f in self.findings:
            out.setdefault(f.rule, []).append(f)
        return out


class Auditor:
    """Incremental audit: feed leaves in order, ask for the report at any time."""

    def __init__(self, origin: str, blobs: Mapping[str, bytes] | None = None) -> None:
        self.replay = LogReplay(origin)
        self.engine = PolicyEngine(blobs)
        self.findings: list[Finding] = []
        self._last_ms: int | None = None

    @property
    def size(self) -> int:
        return self.replay.size

    def feed(self, leaf: bytes) -> list[Finding]:
        index = self.replay.size
        new: list[Finding] = []
        try:
            parsed = parse_leaf(leaf)
        except FormatError as exc:
            self.replay.skip(index)
            new.append(
                Finding("L3", VIOLATION, (index,), f"entry {index} is not a valid leaf: {exc}")
            )
            self.findings.extend(new)
            return new
        if self._last_ms is not None and parsed.logged_at_ms < self._last_ms:
            new.append(
                Finding(
                    "L2",
                    VIOLATION,
                    (index - 1, index),
                    f"entry {index} was logged at {parsed.logged_at}, before entry {index - 1}",
                )
            )
        self._last_ms = (
            parsed.logged_at_ms
            if self._last_ms is None
            else max(self._last_ms, parsed.logged_at_ms)
        )
        try:
            checked = self.replay.admit(parsed.envelope, index)
        except AdmissionError as exc:
            self.replay.skip(index)
            rule = "L4" if exc.code == "bad-reference" else "L3"
            new.append(
                Finding(
                    rule, VIOLATION, (index,), f"entry {index} should not have been admitted: {exc}"
                )
            )
        except FormatError as exc:
            self.replay.skip(index)
            new.append(
                Finding(
                    "L3", VIOLATION, (index,), f"entry {index} should not have been admitted: {exc}"
                )
            )
        else:
            new.extend(
                f
                for f in self.engine.apply(index, checked.payload, parsed.logged_at_ms)
                if f.rule != "L2"
            )
        self.findings.extend(new)
        return new

    def report(self, now_ms: int) -> AuditReport:
        findings = [*self.findings, *self.engine.time_findings(now_ms)]
        order = {s: i for i, s in enumerate(SEVERITIES)}
        findings.sort(key=lambda f: (order.get(f.severity, 9), _rule_key(f.rule), f.indices))
        return AuditReport(self.replay.origin, self.replay.size, now_ms, tuple(findings))


def _rule_key(rule: str) -> tuple[str, int]:
    return rule[0], int(rule[1:]) if rule[1:].isdigit() else 0


def audit_leaves(
    origin: str, leaves: Iterable[bytes], now_ms: int, blobs: Mapping[str, bytes] | None = None
) -> AuditReport:
    auditor = Auditor(origin, blobs)
    for leaf in leaves:
        auditor.feed(leaf)
    return auditor.report(now_ms)
