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
