"""Policy details that scenarios do not show: reveals that match, refusal kinds, the clock guard."""

from __future__ import annotations

import base64
from pathlib import Path

from ledger.demo.scenario import load
from ledger.write.admission import GovernedAdmission, Refusal
from verifier.core.leaf import canonical_json, encode_leaf
from verifier.entries.codec import parse_payload
from verifier.policy.audit import audit_leaves

SCENARIOS = Path(__file__).parent / "scenarios"
DEMO = Path(__file__).parent.parent / "ledger" / "demo" / "scenario.toml"


def test_a_matching_reveal_is_clean_and_an_unavailable_one_is_not_auditable() -> None:
    s = load(DEMO)
    leaves = [encode_leaf(canonical_json(env), at) for at, env in s.envelopes()]
    assert audit_leaves(s.origin, leaves, s.now_ms, s.blobs()).findings == ()
    reveals = sum(1 for e in s.entries if e.type == "reveal")
    assert reveals >= 1
    without = audit_leaves(s.origin, leaves, s.now_ms, {})
    assert [(f.rule, f.severity) for f in without.findings] == [("S14", "not_auditable")] * reveals


def test_simulated_clock_admits_only_a_simulation() -> None:
    s = load(SCENARIOS / "base.toml")
    at, env = s.envelopes()[0]
    payload = parse_payload(base64.b64decode(env["payload"]))
    assert payload.body.simulation is True
    guard = GovernedAdmission(s.origin, lambda: iter(()), simulated_clock=True)
    assert not isinstance(guard.admit(env, 0, at), Refusal)

    import copy

    from ledger.demo.scenario import ScenarioEntry

    real = copy.deepcopy(s.entries[0].fields)
    real["simulation"] = False
    entry = ScenarioEntry("charter", "charter", at, s.entries[0].by, real)
    env2 = s.envelope(entry, {})
    refusal = GovernedAdmission(s.origin, lambda: iter(()), simulated_clock=True).admit(env2, 0, at)
    assert isinstance(refusal, Refusal) and "simulation" in refusal.message
    assert not isinstance(GovernedAdmission(s.origin, lambda: iter(())).admit(env2, 0, at), Refusal)


def test_preflight_refuses_requests_but_logs_facts() -> None:
    """An early approval is refused (S8); an overrun report is logged (S3) and audited."""
    s = load(SCENARIOS / "s8_early_decision.toml")
    adm = GovernedAdmission(s.origin, lambda: iter(()))
    results = [adm.admit(env, i, at) for i, (at, env) in enumerate(s.envelopes())]
    refused = [r for r in results if isinstance(r, Refusal)]
    assert len(refused) == 1 and refused[0].rule == "S8" and refused[0].status == 409
    s3 = load(SCENARIOS / "s3_overrun_without_halt.toml")
    adm = GovernedAdmission(s3.origin, lambda: iter(()))
    assert not any(
        isinstance(adm.admit(env, i, at), Refusal) for i, (at, env) in enumerate(s3.envelopes())
    )
