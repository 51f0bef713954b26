"""The engine at the edges of the readings that close laundering paths (2026-12-07).

Each test builds a small signed log with the ``Ledger`` of tests/test_reference_rules.py
(charter of 2026-06-01: first cycle 2027 lifted on 1 January, initial frontier level 1,
lag 2, lead time 30 days, notice 90 days) and audits it with the real engine, and
with the reference auditor where the two must agree. The readings are in
docs/policy-notes.md: the frontier before the first lift (S13, S11), the plan in force
at the start (S1), S1 on a provider's evidence, the weights an approval rests on (S6)
and a submitted run's unreported start (S1, chain link 4).
"""

from __future__ import annotations

from typing import Any

from tests.test_plan_rule_boundaries import replayed
from tests.test_policy_boundaries import audit
from tests.test_reference_rules import (
    DIGEST,
    OTHER_DIGEST,
    Ledger,
    attest,
    iso,
    ms,
    provider,
)

Key = tuple[str, str, tuple[int, ...]]


def engine(lg: Ledger, now: str) -> dict[Key, str]:
    """The engine's findings, (rule, severity, entries) -> sentence; the reference
    auditor must name the same findings."""
    found = {(f.rule, f.severity, f.indices): f.message for f in audit(lg, now).findings}
    assert set(found) == lg.audit(now)
    return found


def of_rule(found: dict[Key, str], rule: str) -> dict[Key, str]:
    return {k: m for k, m in found.items() if k[0] == rule}


# == The frontier before the first lift ==========================================


def test_frontier_is_the_level_below_the_initial_one_until_the_first_lift() -> None:
    lg = Ledger(initial_frontier_level=2)
    st = replayed(lg)
    first_lift = ms("2027-01-01")
    assert st.frontier_at(first_lift - 1) == 1
    assert st.frontier_at(first_lift) == 2
    assert st.frontier_at(0) == 1


def test_frontier_rises_with_a_lift_after_the_first_one() -> None:
    lg = Ledger()
    lg.schedule(2, "3e26", "2028-01-01", at="2027-09-01")
    st = replayed(lg)
    assert st.frontier_at(ms("2027-01-01") - 1) == 0
    assert st.frontier_at(ms("2028-01-01") - 1) == 1
    assert st.frontier_at(ms("2028-01-01")) == 2
    assert [lv for _, lv, _ in st.raising_lifts()] == [2]


def test_deregulation_on_the_eve_of_the_first_lift_is_too_far() -> None:
    lg = Ledger(initial_frontier_level=2)
    x = lg.deregulation(0, "2026-12-31", at="2026-09-01")
    assert engine(lg, "2027-02-01") == {
        ("S13", "violation", (x,)): "level 0 is deregulated while the frontier on 2026-12-31 "
        "is level 1: no level may be until the frontier is level 2"
    }


def test_deregulation_on_the_first_lift_is_judged_against_the_initial_level() -> None:
    lg = Ledger(initial_frontier_level=2)
    lg.deregulation(0, "2027-01-01", at="2026-09-01")
    assert engine(lg, "2027-02-01") == {}
    assert replayed(lg).deregulated_level_at(ms("2027-01-01")) == 0
    assert replayed(lg).deregulated_level_at(ms("2027-01-01") - 1) == -1


def test_deregulation_above_frontier_minus_lag_says_the_highest_allowed() -> None:
    lg = Ledger(initial_frontier_level=3, levels=_levels(4))
    x = lg.deregulation(2, "2027-01-01", at="2026-09-01")
    assert engine(lg, "2027-02-01") == {
        ("S13", "violation", (x,)): "level 2 is deregulated while the frontier on 2027-01-01 "
        "is level 3: at most level 1 may be"
    }


def test_lift_on_the_first_lift_date_above_the_initial_level_skips_a_level() -> None:
    lg = Ledger()
    t = lg.schedule(2, "3e26", "2027-01-01", at="2026-09-01")
    assert engine(lg, "2027-02-01") == {
        ("S11", "violation", (t,)): "a lift to level 2 skips level 1"
    }
    assert replayed(lg).raising_lifts() == []
    assert replayed(lg).frontier_at(ms("2027-01-01")) == 1


def test_schedule_of_the_initial_level_on_the_first_lift_is_a_cap_change() -> None:
    lg = Ledger()
    lg.schedule(1, "2e26", "2027-01-01", at="2026-09-01")
    assert engine(lg, "2027-02-01") == {}
    st = replayed(lg)
    assert st.raising_lifts() == []
    assert st.frontier_at(ms("2027-01-01")) == 1
    assert st.cap_at(1, ms("2027-01-01")) == 2 * 10**26


def _levels(top: int) -> list[dict[str, Any]]:
    return [{"level": lv, "cap_flop": f"{10 ** (25 + lv)}"} for lv in range(top + 1)]


# == S1: the plan in force at the start ==========================================


def test_start_naming_a_superseded_plan_counts_from_the_amendment() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-11-01")
    p2 = lg.prereg(at="2026-12-10", supersedes=p1)
    t = lg.started(p1, at="2027-01-04")
    found = engine(lg, "2027-02-01")
    assert of_rule(found, "S1") == {
        ("S1", "violation", (p2, t)): "run acme-2027-a started 2027-01-04T00:00:00Z, less "
        "than the 30-day lead time after entry "
        f"{p2} amended its plan (2026-12-10); the start names entry {p1}, but the plan in "
        f"force by then is entry {p2}, the run's latest version"
    }


def test_amendment_logged_at_the_start_instant_is_in_force() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-11-01")
    p2 = lg.prereg(at="2027-01-04", supersedes=p1)
    t = lg.started(p1, at="2027-01-04")
    assert set(of_rule(engine(lg, "2027-02-01"), "S1")) == {("S1", "violation", (p2, t))}


def test_amendment_logged_after_the_claimed_start_is_not_in_force() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-11-01")
    lg.prereg(at="2027-01-04T00:00:00.001Z", supersedes=p1)
    lg.started(p1, at="2027-01-05", time="2027-01-04")
    assert of_rule(engine(lg, "2027-02-01"), "S1") == {}


def test_start_naming_the_amendment_itself_counts_from_it() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-11-01")
    p2 = lg.prereg(at="2026-12-10", supersedes=p1)
    t = lg.started(p2, at="2027-01-04")
    found = of_rule(engine(lg, "2027-02-01"), "S1")
    assert found == {
        ("S1", "violation", (p2, t)): "run acme-2027-a started 2027-01-04T00:00:00Z, less "
        "than the 30-day lead time after its pre-registration (2026-12-10)"
    }


def test_start_naming_the_first_plan_when_the_amendment_came_in_time() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-10-01")
    lg.prereg(at="2026-12-05", supersedes=p1)  # 30 days before the start exactly
    lg.started(p1, at="2027-01-04")
    assert of_rule(engine(lg, "2027-02-01"), "S1") == {}


def test_plan_in_force_is_the_named_version_when_the_start_precedes_it() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2026-11-01")
    p2 = lg.prereg(at="2026-12-10", supersedes=p1)
    st = replayed(lg)
    named = st.runs[p2]
    assert st.plan_in_force(named, ms("2026-12-01")) is named
    assert st.plan_in_force(st.runs[p1], ms("2026-12-10")) is st.runs[p2]
    assert st.plan_in_force(st.runs[p1], ms("2026-12-10") - 1) is st.runs[p1]
    assert st.runs[p1].versions == (p2,)


# == S1 on a provider's evidence =================================================


def _attested(
    end: str, *, org: str = "acme", at: str = "2027-01-10", flop: str = "5e24"
) -> tuple[Ledger, int, int]:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-11-01")
    a = attest(
        lg,
        stratus,
        at=at,
        run=p,
        organisation=org,
        period_start="2026-10-20T00:00:00Z",
        period_end=iso(end),
        flop_delivered=flop,
    )
    return lg, p, a


def test_compute_for_a_period_ending_inside_the_lead_time_is_s1() -> None:
    lg, p, a = _attested("2026-11-30T23:59:59.999Z")
    assert of_rule(engine(lg, "2027-01-20"), "S1") == {
        ("S1", "violation", (p, a)): "stratus attests 5e24 FLOP delivered for run acme-2027-a "
        "over a period that ended 2026-11-30T23:59:59Z, less than the 30-day lead time "
        "after its pre-registration (2026-11-01): the run trained before it could start"
    }


def test_compute_for_a_period_ending_as_the_lead_time_ends_is_not_s1() -> None:
    lg, _, _ = _attested("2026-12-01T00:00:00Z")
    assert of_rule(engine(lg, "2027-01-20"), "S1") == {}


def test_compute_for_a_period_ending_before_the_pre_registration() -> None:
    lg, p, a = _attested("2026-11-01T00:00:00Z")
    message = of_rule(engine(lg, "2027-01-20"), "S1")[("S1", "violation", (p, a))]
    assert "ended 2026-11-01T00:00:00Z, before its pre-registration was logged" in message
    lg, p, a = _attested("2026-11-01T00:00:00.001Z")
    message = of_rule(engine(lg, "2027-01-20"), "S1")[("S1", "violation", (p, a))]
    assert "less than the 30-day lead time after its pre-registration" in message


def test_compute_for_another_organisations_run_is_s16_not_s1() -> None:
    lg, p, a = _attested("2026-11-30T00:00:00Z", org="beta")
    found = engine(lg, "2027-01-20")
    assert of_rule(found, "S1") == {}
    assert ("S16", "violation", (p, a)) in found


def test_an_approval_rests_on_the_providers_evidence() -> None:
    lg, p, a = _attested("2026-11-30T00:00:00Z")
    suite = lg.suite()
    lg.started(p)
    lg.completed(p)
    s = lg.submission(p)
    r = lg.result(s, suite)
    d = lg.decision(s, results=(r,))
    found = engine(lg, "2028-01-05")
    assert ("S6", "violation", (p, a, d)) in found


def test_an_empty_period_proves_nothing_about_the_start() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-11-01")
    attest(
        lg,
        stratus,
        at="2027-01-10",
        run=p,
        period_start="2026-11-10T00:00:00Z",
        period_end="2026-11-10T00:00:00Z",
    )
    assert of_rule(engine(lg, "2027-01-20"), "S1") == {}


# == S6: the weights an approval rests on ========================================


def _secret_then_clean(lg: Ledger, digest: str) -> dict[str, int]:
    """Run a (started before it was pre-registered, and before level 1 was lifted)
    submits DIGEST; run b, clean,
    submits *digest* and is approved."""
    a = lg.prereg(at="2026-12-01", run_id="acme-secret")
    ta = lg.started(a, at="2026-12-02", time="2026-11-20")
    sa = lg.submission(a, at="2027-03-02")
    b = lg.prereg(at="2026-11-01", run_id="acme-2027-b")
    suite = lg.suite()
    lg.started(b)
    lg.completed(b)
    sb = lg.submission(b, model_digest=digest)
    r = lg.result(sb, suite)
    d = lg.decision(sb, results=(r,))
    return {"A": a, "TA": ta, "SA": sa, "B": b, "SB": sb, "D": d}


def test_weights_of_a_run_that_broke_s1_approved_under_another_run() -> None:
    lg = Ledger()
    e = _secret_then_clean(lg, DIGEST)
    found = engine(lg, "2028-01-05")
    key = ("S6", "violation", (e["A"], e["TA"], e["D"]))
    assert of_rule(found, "S6") == {
        key: f"decision {e['D']} approves submission {e['SB']} of run acme-2027-b with weights "
        f"{DIGEST[:12]}…, which were also submitted under run acme-secret (pre-registered "
        f"as entry {e['A']}); that run broke S1, S2 (entries {e['A']}, {e['TA']}): an approval "
        "cannot rest on such a run"
    }


def test_other_weights_do_not_rest_on_the_broken_run() -> None:
    lg = Ledger()
    _secret_then_clean(lg, OTHER_DIGEST)
    assert of_rule(engine(lg, "2028-01-05"), "S6") == {}


def test_a_run_that_breaks_a_rule_after_submitting_taints_its_weights() -> None:
    lg = Ledger()
    a = lg.prereg(at="2026-10-01", run_id="acme-early")
    lg.started(a, at="2027-01-04")
    sa = lg.submission(a, at="2027-03-02")
    b = lg.prereg(at="2026-11-01", run_id="acme-2027-b")
    suite = lg.suite()
    lg.started(b)
    lg.completed(b)
    # Run a is amended after it started (S4), after its weights were submitted.
    amended = lg.prereg(at="2027-04-01", run_id="acme-early", supersedes=a)
    sb = lg.submission(b)
    r = lg.result(sb, suite)
    d = lg.decision(sb, results=(r,))
    found = of_rule(engine(lg, "2028-01-05"), "S6")
    assert set(found) == {("S6", "violation", (*sorted({a, amended} | _s4_named(lg, a)), d))}
    assert replayed(lg).tainted == {DIGEST: [(a, sa)]}


def _s4_named(lg: Ledger, a: int) -> set[int]:
    return {i for f in audit(lg, "2028-01-05").findings if f.rule == "S4" for i in f.indices} - {a}


def test_the_own_run_and_another_both_broken_are_named_together() -> None:
    lg = Ledger()
    a = lg.prereg(at="2026-12-01", run_id="acme-secret")
    ta = lg.started(a, at="2026-12-02", time="2026-11-20")
    lg.submission(a, at="2027-03-02")
    b = lg.prereg(at="2026-12-20", run_id="acme-2027-b")
    suite = lg.suite()
    tb = lg.started(b)  # 2027-01-04: 15 days after its pre-registration
    lg.completed(b)
    sb = lg.submission(b)
    r = lg.result(sb, suite)
    d = lg.decision(sb, results=(r,))
    found = of_rule(engine(lg, "2028-01-05"), "S6")
    key = ("S6", "violation", (a, ta, b, tb, d))
    assert key in found
    assert "; the runs broke S1" in found[key]


# == S1: a submitted run that never reported its start ==========================


def _unreported(planned_start: str) -> tuple[Ledger, int, int]:
    lg = Ledger(deregulation_lag=1)
    lg.deregulation(0, "2027-01-01", at="2026-09-01")
    p = lg.prereg(
        at="2026-12-01",
        run_id="acme-small",
        level=0,
        planned_flop="5e24",
        planned_start=iso(planned_start),
    )
    s = lg.submission(p, at="2027-02-01", final_flop="4.9e24")
    return lg, p, s


def test_unreported_start_planned_before_the_deregulation_is_s1() -> None:
    lg, p, s = _unreported("2026-12-31T23:59:59.999Z")
    assert of_rule(engine(lg, "2027-02-02"), "S1") == {
        ("S1", "violation", (p, s)): "run acme-small is submitted, but its training start "
        "was never reported: report the start first"
    }


def test_unreported_start_planned_once_the_level_is_deregulated_is_not() -> None:
    lg, _, _ = _unreported("2027-01-01T00:00:00Z")
    assert of_rule(engine(lg, "2027-02-02"), "S1") == {}


def _attested_after_lead(end: str, flop: str = "5e24", **prereg: Any) -> tuple[Ledger, int, int]:
    """Pre-registered 2026-09-01 (lead time over by October): only S2 can apply."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-09-01", **prereg)
    a = attest(
        lg,
        stratus,
        at="2027-01-10",
        run=p,
        period_start="2026-11-01T00:00:00Z",
        period_end=iso(end),
        flop_delivered=flop,
    )
    return lg, p, a


def test_compute_for_a_period_ending_before_the_levels_lift_is_s2() -> None:
    lg, p, a = _attested_after_lead("2026-12-31T23:59:59.999Z")
    found = engine(lg, "2027-01-20")
    assert of_rule(found, "S1") == {}
    assert of_rule(found, "S2") == {
        ("S2", "violation", (p, a)): "stratus attests 5e24 FLOP delivered for run acme-2027-a "
        "over a period that ended 2026-12-31T23:59:59Z, before level 1 was lifted "
        "(2027-01-01): the run trained before its level could be trained"
    }


def test_compute_for_a_period_ending_at_the_levels_lift_is_not_s2() -> None:
    lg, _, _ = _attested_after_lead("2027-01-01T00:00:00Z")
    assert of_rule(engine(lg, "2027-01-20"), "S2") == {}


def test_compute_for_a_run_of_a_level_never_lifted_is_s2() -> None:
    lg, p, a = _attested_after_lead(
        "2027-01-05T00:00:00Z", flop="2e25", level=2, planned_flop="2e26"
    )
    found = of_rule(engine(lg, "2027-01-20"), "S2")
    assert found[("S2", "violation", (p, a))].endswith(
        "before level 2 was lifted (it has not been): the run trained before its level "
        "could be trained"
    )


def test_compute_for_a_run_below_the_initial_level_is_never_before_its_lift() -> None:
    lg, _, _ = _attested_after_lead("2026-12-01T00:00:00Z", level=0, planned_flop="5e24")
    assert of_rule(engine(lg, "2027-01-20"), "S2") == {}


# == FLOP compared exactly ========================================================


def _report_at(flop: str) -> tuple[Ledger, int, int]:
    lg = Ledger(compute_tolerance="0", levels=[{"level": 1, "cap_flop": "1e30"}])
    p = lg.prereg(planned_flop="10000000000000000000000000001")  # 29 digits
    lg.started(p)
    return lg, p, lg.completed(p, flop=flop)


def test_a_report_of_exactly_a_29_digit_plan_is_within_it() -> None:
    lg, _, _ = _report_at("10000000000000000000000000001")
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}


def test_a_report_one_flop_over_a_29_digit_plan_is_over_it() -> None:
    lg, p, c = _report_at("10000000000000000000000000002")
    assert set(of_rule(engine(lg, "2027-06-01"), "S3")) == {("S3", "violation", (p, c))}


def test_compute_within_the_plans_tolerance_proves_no_start() -> None:
    """5% of the 8e25 plan is 4e24: no more than that is within the run's own error."""
    lg, _, _ = _attested("2026-11-30T00:00:00Z", flop="4e24")
    assert of_rule(engine(lg, "2027-01-20"), "S1") == {}
    lg, _, _ = _attested("2026-11-30T00:00:00Z", flop="0")
    assert of_rule(engine(lg, "2027-01-20"), "S1") == {}
    lg, p, a = _attested("2026-11-30T00:00:00Z", flop="4000000000000000000000001")
    assert set(of_rule(engine(lg, "2027-01-20"), "S1")) == {("S1", "violation", (p, a))}


# == S3 and S4 on a provider's evidence ==========================================


def _attested_total(*amounts: str, halt: bool = False, planned: str = "8e25") -> dict[str, Any]:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(planned_flop=planned)
    lg.started(p)
    if halt:
        lg.halted(p, at="2027-01-20", flop="1e24")
    found = [
        attest(
            lg,
            stratus,
            at=f"2027-0{2 + i}-02",
            run=p,
            period_start=f"2027-0{1 + i}-04T00:00:00Z",
            period_end=f"2027-0{2 + i}-01T00:00:00Z",
            flop_delivered=amount,
        )
        for i, amount in enumerate(amounts)
    ]
    return {"lg": lg, "P": p, "A": found}


def test_compute_attested_up_to_the_plans_tolerance_is_within_it() -> None:
    run = _attested_total("4e25", "4.4e25")  # 8.4e25: 8e25 with the 5% tolerance
    assert of_rule(engine(run["lg"], "2027-06-01"), "S3") == {}


def test_compute_attested_one_flop_over_the_plan_is_s3() -> None:
    run = _attested_total("4e25", "44000000000000000000000001")
    p, (_, a2) = run["P"], run["A"]
    assert of_rule(engine(run["lg"], "2027-06-01"), "S3") == {
        ("S3", "violation", (p, a2)): "providers attest at least 8.4e25 FLOP delivered for "
        "run acme-2027-a in all (the latest, stratus: 4.4e25), above its plan of 8e25 FLOP "
        "with the compute tolerance, and the run has not halted"
    }


def test_compute_attested_above_the_cap_names_the_cap() -> None:
    run = _attested_total("1e26", planned="9.9e25")  # within 9.9e25 x 1.05, at the cap
    assert of_rule(engine(run["lg"], "2027-06-01"), "S3") == {}
    run = _attested_total("100000000000000000000000001", planned="9.9e25")
    (a,) = run["A"]
    found = of_rule(engine(run["lg"], "2027-06-01"), "S3")
    assert found[("S3", "violation", (run["P"], a))].endswith(
        "above its level's cap of 1e26 FLOP, and the run has not halted"
    )


def test_compute_attested_for_a_halted_run_is_not_s3() -> None:
    run = _attested_total("9e25", halt=True)
    assert of_rule(engine(run["lg"], "2027-06-01"), "S3") == {}


def _amended_around(amend_at: str, *, attest_first: bool) -> dict[str, int]:
    """Run P (2026-10-01) and a provider's January compute for it (period ending 1 Feb);
    an amendment of P logged at *amend_at*, before or after the attestation."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-10-01")

    def attestation() -> int:
        return attest(
            lg,
            stratus,
            at="2027-02-10",
            run=p,
            period_start="2027-01-04T00:00:00Z",
            period_end="2027-02-01T00:00:00Z",
            flop_delivered="2e25",
        )

    x = attestation() if attest_first else 0
    a = lg.prereg(at=amend_at, supersedes=p, planned_flop="9e25")
    if not attest_first:
        x = attestation()
    return {"lg": lg, "P": p, "A": a, "X": x}  # type: ignore[dict-item]


def test_amendment_after_a_proven_start_is_refused() -> None:
    run = _amended_around("2027-02-15", attest_first=True)
    found = of_rule(engine(run["lg"], "2027-06-01"), "S4")  # type: ignore[arg-type]
    assert found == {
        ("S4", "violation", tuple(sorted((run["P"], run["A"], run["X"])))): "run acme-2027-a "
        "is amended "
        "after its training started: a provider attests compute delivered for it over a "
        f"period that ended 2027-02-01T00:00:00Z (entry {run['X']})"
    }


def test_amendment_at_the_end_of_the_proven_period_is_not_after_it() -> None:
    run = _amended_around("2027-02-01T00:00:00Z", attest_first=False)
    assert of_rule(engine(run["lg"], "2027-06-01"), "S4") == {}  # type: ignore[arg-type]


def test_amendment_before_the_evidence_is_logged_is_found_by_the_evidence() -> None:
    run = _amended_around("2027-02-01T00:00:00.001Z", attest_first=False)
    found = of_rule(engine(run["lg"], "2027-06-01"), "S4")  # type: ignore[arg-type]
    key = ("S4", "violation", (run["P"], run["A"], run["X"]))
    assert found[key].endswith(
        f"the run had started, yet its plan was amended after that (entry {run['A']}, "
        "logged 2027-02-01)"
    )


# == Edges the mutation run asked for ============================================


def test_s3_on_evidence_reads_the_cap_of_a_schedule_taking_effect_later() -> None:
    """As S3 reads a report: the cap of the latest schedule logged, even one that takes
    effect later (a lowered level-1 cap of 5e25 from 2028)."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    lg.schedule(1, "5e25", "2028-01-01", at="2027-01-05")
    a = attest(lg, stratus, at="2027-02-02", run=p, flop_delivered="6e25")
    found = of_rule(engine(lg, "2027-06-01"), "S3")
    assert found[("S3", "violation", (p, a))].endswith(
        "above its level's cap of 5e25 FLOP, and the run has not halted"
    )


def test_an_empty_period_is_not_summed_against_the_plan_by_s3() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    attest(
        lg,
        stratus,
        at="2027-02-02",
        run=p,
        period_start="2027-01-10T00:00:00Z",
        period_end="2027-01-10T00:00:00Z",
        flop_delivered="9e25",
    )
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}


def test_weights_of_two_broken_runs_are_named_together() -> None:
    lg = Ledger()
    broken = []
    for run_id, at in (("acme-secret-1", "2026-12-01"), ("acme-secret-2", "2026-12-03")):
        r = lg.prereg(at=at, run_id=run_id)
        broken.append(r)
        broken.append(lg.started(r, at=at, time="2026-11-20"))
        lg.submission(r, at="2027-03-02")
    b = lg.prereg(at="2026-11-01", run_id="acme-2027-b")
    suite = lg.suite()
    lg.started(b)
    lg.completed(b)
    sb = lg.submission(b)
    r = lg.result(sb, suite)
    d = lg.decision(sb, results=(r,))
    found = of_rule(engine(lg, "2028-01-05"), "S6")
    ((key, message),) = found.items()
    assert key == ("S6", "violation", (*broken, d))
    assert (
        f"which were also submitted under run acme-secret-1, acme-secret-2 (pre-registered "
        f"as entry {broken[0]}, {broken[2]}); those runs broke S1, S2" in message
    )


def test_an_amendment_in_the_same_instant_as_the_named_version_is_in_force() -> None:
    lg = Ledger()
    p1 = lg.prereg(at="2027-01-04")
    p2 = lg.prereg(at="2027-01-04", supersedes=p1)
    t = lg.started(p1, at="2027-01-04")
    assert set(of_rule(engine(lg, "2027-02-01"), "S1")) == {("S1", "violation", (p2, t))}


def test_a_schedule_of_the_initial_level_on_a_postponed_first_lift_is_no_lift() -> None:
    """Cycle 2027's lift postponed: a schedule of level 1 (the initial level) on its date
    is still a cap change, not a lift into a postponed cycle (S11)."""
    lg = Ledger()
    lg.postponement(2027, 2028, at="2026-08-01", level=1)
    lg.schedule(1, "2e26", "2027-01-01", at="2026-09-01")
    assert of_rule(engine(lg, "2027-02-01"), "S11") == {}


def test_compute_for_a_run_at_a_deregulated_level_proves_no_early_start() -> None:
    lg = Ledger(deregulation_lag=1)
    lg.deregulation(0, "2027-01-01", at="2026-09-01")
    stratus = provider(lg)
    p = lg.prereg(at="2027-01-10", run_id="acme-small", level=0, planned_flop="5e24")
    attest(
        lg,
        stratus,
        at="2027-01-25",
        run=p,
        period_start="2027-01-11T00:00:00Z",
        period_end="2027-01-20T00:00:00Z",
        flop_delivered="1e24",
    )
    assert of_rule(engine(lg, "2027-02-01"), "S1") == {}


def test_compute_before_the_named_version_was_logged_is_judged_on_the_version_then() -> None:
    """The provider names the amendment (1 Dec) for November's compute: the plan in force
    in November was the first version (5 Oct, its lead time over), so no S1; the
    amendment came after the run had started (S4)."""
    lg = Ledger()
    stratus = provider(lg)
    p1 = lg.prereg(at="2026-10-05")
    p2 = lg.prereg(at="2026-12-01", supersedes=p1)
    a = attest(
        lg,
        stratus,
        at="2026-12-02",
        run=p2,
        period_start="2026-11-01T00:00:00Z",
        period_end="2026-11-30T00:00:00Z",
        flop_delivered="5e24",
    )
    found = engine(lg, "2027-01-20")
    assert of_rule(found, "S1") == {}
    assert set(of_rule(found, "S4")) == {("S4", "violation", (p1, p2, a))}


def test_compute_inside_the_lead_time_of_an_amendment_names_the_amendment() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p1 = lg.prereg(at="2026-10-05")
    p2 = lg.prereg(at="2026-11-10", supersedes=p1)
    a = attest(
        lg,
        stratus,
        at="2026-12-02",
        run=p1,
        period_start="2026-11-11T00:00:00Z",
        period_end="2026-11-30T00:00:00Z",
        flop_delivered="5e24",
    )
    found = of_rule(engine(lg, "2027-01-20"), "S1")
    assert found[("S1", "violation", (p2, a))].startswith(
        "stratus attests 5e24 FLOP delivered for run acme-2027-a over a period that ended "
        "2026-11-30T00:00:00Z, less than the 30-day lead time after the amendment of its "
        f"plan in force then (entry {p2}) (2026-11-10)"
    )


def test_amendment_logged_as_the_proven_period_ends_is_not_after_it() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-10-01")
    attest(
        lg,
        stratus,
        at="2027-02-01",
        run=p,
        period_start="2027-01-04T00:00:00Z",
        period_end="2027-02-01T00:00:00Z",
        flop_delivered="2e25",
    )
    lg.prereg(at="2027-02-01", supersedes=p, planned_flop="9e25")
    assert of_rule(engine(lg, "2027-06-01"), "S4") == {}


def test_an_empty_period_proves_no_start_for_s4() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-10-01")
    attest(
        lg,
        stratus,
        at="2027-01-10",
        run=p,
        period_start="2027-01-04T00:00:00Z",
        period_end="2027-01-04T00:00:00Z",
        flop_delivered="2e25",
    )
    lg.prereg(at="2027-02-01", supersedes=p, planned_flop="9e25")
    assert of_rule(engine(lg, "2027-06-01"), "S4") == {}


def test_compute_after_the_run_was_reported_over_is_not_its_training() -> None:
    """8e25 planned; 5e25 attested for January, the run completed on 1 March, then 4e25
    attested for March (fine-tuning, say): S3 sums the training only (S16 asks what
    covers the rest). The same 4e25 for February, logged after the completion, counts."""
    for period_start, counted in (("2027-03-02", False), ("2027-02-01", True)):
        lg = Ledger()
        stratus = provider(lg)
        p = lg.prereg()
        lg.started(p)
        attest(
            lg,
            stratus,
            at="2027-02-02",
            run=p,
            period_start="2027-01-04T00:00:00Z",
            period_end="2027-02-01T00:00:00Z",
            flop_delivered="5e25",
        )
        lg.completed(p, at="2027-03-01", flop="8e25")
        a = attest(
            lg,
            stratus,
            at="2027-04-02",
            run=p,
            period_start=f"{period_start}T00:00:00Z",
            period_end="2027-04-01T00:00:00Z",
            flop_delivered="4e25",
        )
        found = set(of_rule(engine(lg, "2027-06-01"), "S3"))
        assert found == ({("S3", "violation", (p, a))} if counted else set()), period_start


# == Provider evidence counted at least (R35) =====================================


def _weekly(*amounts: str, cluster: str = "Stratus East 4") -> dict[str, Any]:
    """Run P pre-registered 2026-11-01 (lead time to 1 December); weekly attestations in
    November, each for its week."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-11-01")
    found = [
        attest(
            lg,
            stratus,
            at=f"2026-11-{8 + 7 * i:02d}",
            run=p,
            cluster=cluster,
            period_start=f"2026-11-{1 + 7 * i:02d}T12:00:00Z",
            period_end=f"2026-11-{8 + 7 * i:02d}T00:00:00Z",
            flop_delivered=amount,
        )
        for i, amount in enumerate(amounts)
    ]
    return {"lg": lg, "P": p, "A": found}


def test_compute_split_into_small_attestations_still_proves_a_start() -> None:
    """4e24 is the tolerance of the 8e25 plan: two weeks of 3e24 are 6e24."""
    run = _weekly("3e24", "3e24")
    p, (a1, a2) = run["P"], run["A"]
    found = of_rule(engine(run["lg"], "2027-01-20"), "S1")
    assert set(found) == {("S1", "violation", (p, a2))}
    assert (
        "stratus attests 3e24 FLOP delivered for run acme-2027-a over a period that ended "
        "2026-11-15T00:00:00Z (with the earlier attestations, at least 6e24 over periods "
        "that ended by then), less than the 30-day lead time" in found[("S1", "violation", (p, a2))]
    )
    assert a1 < a2


def test_small_attestations_that_add_up_to_the_tolerance_prove_nothing() -> None:
    run = _weekly("2e24", "2e24")  # 4e24: not more than the tolerance
    assert of_rule(engine(run["lg"], "2027-01-20"), "S1") == {}


def test_overlapping_periods_of_one_provider_and_cluster_count_once() -> None:
    """A report to date after a report of its first part: 4.5e25 for January-February,
    then 7.9e25 for January-May. At least 7.9e25, within the 8.4e25 the plan allows."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    for at, end, amount in (
        ("2027-03-01", "2027-03-01", "4.5e25"),
        ("2027-05-30", "2027-05-30", "7.9e25"),
    ):
        attest(
            lg,
            stratus,
            at=at,
            run=p,
            period_start="2027-01-04T00:00:00Z",
            period_end=f"{end}T00:00:00Z",
            flop_delivered=amount,
        )
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}


def test_the_same_periods_from_two_clusters_add_up() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    found = [
        attest(
            lg,
            stratus,
            at="2027-03-01",
            run=p,
            cluster=cluster,
            period_start="2027-01-04T00:00:00Z",
            period_end="2027-03-01T00:00:00Z",
            flop_delivered="4.5e25",
        )
        for cluster in ("Stratus East 4", "Stratus West 1")
    ]
    assert set(of_rule(engine(lg, "2027-06-01"), "S3")) == {("S3", "violation", (p, found[1]))}


def test_at_least_chains_overlapping_periods_and_adds_the_rest() -> None:
    from verifier.policy.rules.attested import at_least

    assert at_least([]) == 0
    one = [("s", "c", 0, 10, 5), ("s", "c", 5, 20, 7), ("s", "c", 20, 30, 3)]
    assert at_least(one) == 7 + 3  # [0,10) and [5,20) overlap; [20,30) touches, no more
    assert at_least([*one, ("s", "d", 0, 10, 4), ("t", "c", 0, 10, 2)]) == 10 + 4 + 2
    assert at_least([("s", "c", 5, 20, 7), ("s", "c", 0, 10, 9)]) == 9  # in any order


def test_at_least_adds_every_chain() -> None:
    from verifier.policy.rules.attested import at_least

    chains = [("s", "c", 0, 10, 5), ("s", "c", 10, 20, 7), ("s", "c", 20, 30, 3)]
    assert at_least(chains) == 15


def test_an_earlier_period_ending_as_this_one_ends_counts_towards_the_proof() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg(at="2026-11-01")
    found = [
        attest(
            lg,
            stratus,
            at="2026-11-20",
            run=p,
            cluster=cluster,
            period_start="2026-11-05T00:00:00Z",
            period_end="2026-11-15T00:00:00Z",
            flop_delivered="3e24",
        )
        for cluster in ("Stratus East 4", "Stratus West 1")
    ]
    assert set(of_rule(engine(lg, "2027-01-20"), "S1")) == {("S1", "violation", (p, found[1]))}


def _after_completion(*periods: tuple[str, str, str]) -> tuple[Ledger, int, list[int]]:
    """Run P (8e25) completed at 2027-03-01T00:00:00Z; attestations (start, end, FLOP)."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    lg.completed(p, at="2027-03-01T00:00:00Z", flop="8e25")
    found = [
        attest(
            lg,
            stratus,
            at="2027-04-02",
            run=p,
            cluster=f"cluster {i}",
            period_start=start,
            period_end=end,
            flop_delivered=amount,
        )
        for i, (start, end, amount) in enumerate(periods)
    ]
    return lg, p, found


def test_a_period_starting_as_the_run_is_reported_over_is_not_its_training() -> None:
    lg, _, _ = _after_completion(
        ("2027-01-04T00:00:00Z", "2027-02-20T00:00:00Z", "5e25"),
        ("2027-03-01T00:00:00Z", "2027-03-20T00:00:00Z", "5e25"),
    )
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}


def test_a_period_spanning_the_completion_is_its_training() -> None:
    lg, p, (_, a2) = _after_completion(
        ("2027-02-01T00:00:00Z", "2027-03-20T00:00:00Z", "5e25"),
        ("2027-01-04T00:00:00Z", "2027-01-31T00:00:00Z", "5e25"),
    )
    assert set(of_rule(engine(lg, "2027-06-01"), "S3")) == {("S3", "violation", (p, a2))}


def test_an_earlier_period_starting_as_the_run_is_reported_over_is_not_summed() -> None:
    lg, _, _ = _after_completion(
        ("2027-03-01T00:00:00Z", "2027-03-20T00:00:00Z", "5e25"),
        ("2027-01-04T00:00:00Z", "2027-01-31T00:00:00Z", "5e25"),
    )
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}


def test_an_empty_period_is_not_kept_for_later_sums() -> None:
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    for start, end, amount in (
        ("2027-01-10T00:00:00Z", "2027-01-10T00:00:00Z", "9e25"),
        ("2027-01-04T00:00:00Z", "2027-02-01T00:00:00Z", "1e25"),
    ):
        attest(
            lg,
            stratus,
            at="2027-02-02",
            run=p,
            period_start=start,
            period_end=end,
            flop_delivered=amount,
        )
    assert of_rule(engine(lg, "2027-06-01"), "S3") == {}
