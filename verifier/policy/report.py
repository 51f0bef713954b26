"""Audit reports for people (grouped by rule, one sentence a finding) and for machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

from verifier.policy.audit import AuditReport
from verifier.policy.findings import RULES


def report_json(report: AuditReport, **extra: Any) -> str:
    return json.dumps(
        {
            "origin": report.origin,
            "tree_size": report.size,
            "violations": len(report.violations),
            **extra,
            "findings": [f.to_json() for f in report.findings],
        },
        indent=2,
    )


def report_text(report: AuditReport) -> str:
    lines = [f"Audit of {report.origin}: {report.size} entries, {len(report.findings)} findings"]
    for rule, findings in report.by_rule().items():
        lines.append("")
        lines.append(f"{rule} — {RULES.get(rule, '')}")
        for f in findings:
            where = ", ".join(str(i) for i in f.indices) or "-"
            lines.append(f"  {f.severity:<13} entries {where}: {f.message}")
    if not report.findings:
        lines.append("No findings: every rule holds.")
    return "\n".join(lines)


def verdict(report: AuditReport, size: int | None = None) -> str:
    """The first line of an audit: whether any rule was violated, before any detail."""
    size = report.size if size is None else size
    counts = {s: 0 for s in ("warning", "notice", "not_auditable")}
    for f in report.findings:
        if f.severity in counts:
            counts[f.severity] += 1
    rest = ", ".join(_count(n, s.replace("_", " ")) for s, n in counts.items() if n)
    rest = f" ({rest})" if rest else ""
    if report.violations:
        return (
            f"VIOLATIONS {report.origin}: {_count(len(report.violations), 'violation')} of "
            f"the schedule's rules at tree size {size}{rest}; the log itself verified"
        )
    return f"NO VIOLATIONS {report.origin}: every rule holds at tree size {size}{rest}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 or noun.endswith("auditable") else "s")
