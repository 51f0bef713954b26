"""One scenario per rule: each breaks exactly that rule and gets exactly that finding.

Scenarios are TOML files in tests/scenarios/, written to be read by a person:
each starts from base.toml (which must audit clean) and changes one thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.demo.scenario import load
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.policy.audit import AuditReport, audit_leaves
from verifier.policy.findings import NOTICE, RULES

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(p for p in SCENARIOS.glob("*.toml"))


def run(path: Path) -> AuditReport:
    s = load(path)
    leaves = [encode_leaf(canonical_json(env), at) for at, env in s.envelopes()]
    return audit_leaves(s.origin, leaves, s.now_ms, s.blobs())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_gets_exactly_its_finding(path: Path) -> None:
    s = load(path)
    report = run(path)
    raised = sorted({f.rule for f in report.findings if f.severity != NOTICE})
    assert raised == sorted(set(s.expect)), "\n".join(
        f"{f.rule} {f.severity} {f.indices}: {f.message}" for f in report.findings
    )


def test_every_auditable_rule_has_a_scenario() -> None:
    covered = {rule for p in FILES for rule in load(p).expect}
    # L1 and L5 concern checkpoints and witnesses, not entries: the verifier's
    # consistency and witness tests cover them.
    assert covered >= set(RULES) - {"L1", "L5"}, sorted(set(RULES) - {"L1", "L5"} - covered)
