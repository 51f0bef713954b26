"""The run rules (S1-S5, and what runs record for S15 and S16) at the edges mutation testing
found unguarded: verifier/policy/rules/runs.py.

Each test builds a small log with the helpers of tests/test_policy_boundaries.py (default
charter: caps 1e25 / 1e26 / 3e26, compute tolerance 5 %, reporting tolerance 48 hours,
attestation tolerance 25 %, inference update threshold 1e18 FLOP; the default run
acme-2027-a plans 8e25 FLOP at level 1) and names the findings exactly: rule, severity,
entries and message. The mutants these tests kill, and those no input can tell from the
original, are listed in docs/mutation-runs.md.
"""

from __future__ import annotations

import pytest

from tests.test_plan_rule_boundaries import WITHOUT, replayed
from tests.test_policy_boundaries import N, V, W, dereg_world, schedule_of, seen
from tests.test_reference_rules import (
    INFERENCE,
    Ledger,
    amendment,
    approved_model,
    approved_run,
    attest,
    provider,
    submitted_run,
    update,
)

Seen = set[tuple[str, str, tuple[int, ...], str]]


def rule(found: Seen, name: str) -> Seen:
    """The findings of one rule."""
    return {f for f in found if f[0] == name}


def under_reported(p: int, a: int, at: int, reported: str) -> tuple[str, str, tuple[int, ...], str]:
    """S16's warning: run acme-2027-a reports *reported* FLOP (at entry *at*), far below the
    8e25 attested by *a* (a finding lists its entries in log order)."""
    return W(
        "S16",
        tuple(sorted((p, a, at))),
        f"run acme-2027-a reports {reported} FLOP, far below the 8e25 FLOP its providers "
        "attest for it",
    )


# == S4: versions and repeated starts ============================================


def test_an_amendment_is_recorded_as_the_latest_version_of_the_one_it_supersedes() -> None:
    """The register and the run's page follow superseded_by from version to version."""
    lg = Ledger()
    p = lg.prereg()
    a = lg.prereg(at="2026-11-02", supersedes=p)
    st = replayed(lg)
    assert st.runs[p].superseded_by == a
    assert st.runs[a].superseded_by is None
    assert st.runs[a].root == p


def test_s4_a_third_start_names_the_first_start_it_repeats() -> None:
    """Every repeated start is paired with the first one reported, not the previous one."""
    lg = Ledger()
    p = lg.prereg()
    t1 = lg.started(p, at="2027-01-04")
    t2 = lg.started(p, at="2027-01-05")
    t3 = lg.started(p, at="2027-01-06")
    assert rule(seen(lg, "2027-02-01"), "S4") == {
        W("S4", (t1, t2), "run acme-2027-a reported its start twice"),
        W("S4", (t1, t3), "run acme-2027-a reported its start twice"),
    }
    assert replayed(lg).runs[p].started == t1


# == S3: the cap and the tolerance a report is judged against ====================


def test_s3_a_run_within_a_cap_raised_by_a_threshold_schedule_is_within_its_cap() -> None:
    """Level 1's cap raised from 1e26 to 2e26 before the run: 1.5e26 is within it."""
    lg = Ledger()
    lg.schedule(1, "2e26", "2027-01-01", "2026-06-01")
    p = lg.prereg(planned_flop="1.5e26")
    lg.started(p)
    lg.completed(p, flop="1.5e26")
    assert rule(seen(lg, "2027-06-02"), "S3") == set()


def test_s3_a_run_above_a_cap_lowered_by_a_threshold_schedule_is_above_its_cap() -> None:
    """The counterpart: level 1's cap lowered to 5e25 before the run; 7.9e25 is above it."""
    lg = Ledger()
    lg.schedule(1, "5e25", "2027-01-01", "2026-06-01")
    p = lg.prereg(planned_flop="5e25")
    lg.started(p)
    c = lg.completed(p, flop="7.9e25")
    assert rule(seen(lg, "2027-06-02"), "S3") == {
        V(
            "S3",
            (p, c),
            "run acme-2027-a reports 7.9e25 FLOP (training event), above its cap, without a halt",
        )
    }


@pytest.mark.parametrize("kind", ["training_halted", "training_completed"])
@pytest.mark.parametrize(
    ("flop", "over"),
    [("8.8e25", False), ("88000000000000000000000001", True)],  # 8e25 x 1.10, one FLOP more
)
def test_s3_a_halt_or_completion_is_judged_by_the_tolerance_amended_by_then(
    kind: str, flop: str, over: bool
) -> None:
    """An amendment in force when the event is logged raises the compute tolerance to 10 %."""
    lg = Ledger()
    amendment(lg, {"compute_tolerance": "0.1"}, "2027-01-01", "2026-06-01")
    p = lg.prereg()
    lg.started(p)
    extra = {"halt_criterion": "x"} if kind == "training_halted" else {}
    e = lg.event(kind, p, "2027-02-01", flop, **extra)
    found = rule(seen(lg, "2027-03-01"), "S3")
    if not over:
        assert found == set()
    elif kind == "training_halted":
        assert found == {
            N(
                "S3",
                (p, e),
                "run acme-2027-a exceeded its plan plus tolerance and was halted, as required "
                "(training event)",
            )
        }
    else:
        assert found == {
            V(
                "S3",
                (p, e),
                "run acme-2027-a reports 8.8e25 FLOP (training event), above its plan plus "
                "tolerance, without a halt",
            )
        }


# == Claimed times ===============================================================


def test_s3_completion_claimed_beyond_the_reporting_tolerance() -> None:
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    c = lg.completed(p, at="2027-06-10", time="2027-05-30")
    assert seen(lg, "2027-07-01") == {
        W(
            "S3",
            (c,),
            f"entry {c} was logged 2027-06-10, 11 days after the completion it claims "
            "(2027-05-30T00:00:00Z), beyond the 48-hour reporting tolerance",
        )
    }


def test_the_reporting_tolerance_is_the_one_amended_by_when_the_entry_is_logged() -> None:
    lg = Ledger()
    amendment(lg, {"report_tolerance_hours": 24}, "2027-01-01", "2026-06-01")
    p = lg.prereg()
    t = lg.started(p, at="2027-01-04T00:00:00Z", time="2027-01-05T00:00:00.001Z")
    assert rule(seen(lg, "2027-02-01"), "S1") == {
        W(
            "S1",
            (t,),
            f"entry {t} was logged 2027-01-04 but claims a start 24 hours later "
            "(2027-01-05T00:00:00.001Z), beyond the 24-hour reporting tolerance",
        )
    }


@pytest.mark.parametrize(
    ("claimed", "hours"),
    [("2027-01-04T02:00:00Z", 2), ("2027-01-04T01:59:59.999Z", 1)],
)
def test_a_gap_under_two_days_is_told_in_whole_hours(claimed: str, hours: int) -> None:
    """With a 0-hour tolerance: exactly two hours late is "2 hours", a millisecond less "1"."""
    lg = Ledger(report_tolerance_hours=0)
    p = lg.prereg()
    t = lg.started(p, at="2027-01-04T00:00:00Z", time=claimed)
    assert rule(seen(lg, "2027-02-01"), "S1") == {
        W(
            "S1",
            (t,),
            f"entry {t} was logged 2027-01-04 but claims a start {hours} hours later "
            f"({claimed}), beyond the 0-hour reporting tolerance",
        )
    }


@pytest.mark.parametrize(
    ("offered_from", "early"),
    [("2028-01-10T00:00:00.001Z", False), ("2028-01-09T23:59:59.999Z", True)],
)
def test_s15_with_no_reporting_tolerance_only_an_offer_before_its_logging_is_flagged(
    offered_from: str, early: bool
) -> None:
    """A tolerance of 0 hours: an offer date 1 ms after the update's logging is a plan (not
    flagged), 1 ms before it is a claim beyond the tolerance."""
    lg = Ledger(report_tolerance_hours=0)
    run = approved_model(lg)
    u = update(lg, run, at="2028-01-10T00:00:00Z", offered_from=offered_from)
    expected = {
        W(
            "S15",
            (u,),
            f"entry {u} was logged 2028-01-10, 0 hours after the offer date it claims "
            f"({offered_from}), beyond the 0-hour reporting tolerance",
        )
    }
    assert seen(lg, "2028-01-20") == (expected if early else set())


# == S1 at a deregulated level ===================================================


@pytest.mark.parametrize(("level", "flop", "refused"), [(0, "1e25", False), (1, "8e25", True)])
def test_s1_an_unstarted_submission_is_refused_only_above_the_deregulated_level(
    level: int, flop: str, refused: bool
) -> None:
    """Level 0 is deregulated from 2028-01-01: its runs need no reported start; level 1's do."""
    lg = Ledger()
    dereg_world(lg)
    lg.deregulation(0, "2028-01-01", "2027-09-01")
    p = lg.prereg(
        at="2028-01-02",
        run_id="acme-2028-b",
        cycle=2028,
        level=level,
        planned_flop=flop,
        planned_start="2028-02-10T00:00:00Z",
        planned_end="2028-04-01T00:00:00Z",
    )
    s = lg.submission(p, at="2028-05-01", final_flop=flop)
    expected = {
        V(
            "S1",
            (p, s),
            "run acme-2028-b is submitted, but its training start was never reported: report "
            "the start first",
        )
    }
    assert rule(seen(lg, "2028-05-02"), "S1") == (expected if refused else set())


# == What runs report, for S16 ===================================================


def attested_run(lg: Ledger) -> tuple[int, int]:
    """Run acme-2027-a pre-registered and started (reporting 0 FLOP), with 8e25 FLOP
    attested for it by a provider: (P, the attestation)."""
    stratus = provider(lg)
    p = lg.prereg()
    lg.started(p)
    return p, attest(lg, stratus, run=p, flop_delivered="8e25")


def test_s16_a_start_reporting_no_compute_is_a_report() -> None:
    """A run that reported 0 FLOP at its start has reported, and 0 is far below 8e25."""
    lg = Ledger()
    stratus = provider(lg)
    p = lg.prereg()
    t = lg.started(p)
    a = attest(lg, stratus, run=p, flop_delivered="8e25")
    assert rule(seen(lg, "2027-05-01"), "S16") == {under_reported(p, a, t, "0")}


def test_s16_a_halt_reports_its_compute() -> None:
    lg = Ledger()
    p, a = attested_run(lg)
    h = lg.halted(p, at="2027-04-10", flop="2e25")
    assert rule(seen(lg, "2027-05-01"), "S16") == {under_reported(p, a, h, "2e25")}


def test_s16_a_submission_reports_its_final_compute() -> None:
    lg = Ledger()
    p, a = attested_run(lg)
    s = lg.submission(p, at="2027-06-01", final_flop="2e25")
    assert rule(seen(lg, "2027-06-02"), "S16") == {under_reported(p, a, s, "2e25")}


def test_s16_the_first_report_of_the_largest_compute_names_it() -> None:
    """3e25 at completion, then 3e25 again and 2e25 at later reports: the completion counts."""
    lg = Ledger()
    p, a = attested_run(lg)
    c = lg.completed(p, at="2027-05-01", flop="3e25")
    lg.completed(p, at="2027-05-02", flop="3e25")
    lg.submission(p, at="2027-06-01", final_flop="2e25")
    assert rule(seen(lg, "2027-06-02"), "S16") == {under_reported(p, a, c, "3e25")}


# == S15: a model approved without an inference configuration ====================


def test_s15_a_model_approved_without_inference_ceiling_is_raised_from_zero() -> None:
    """Approved without an inference configuration, its ceiling was 0: raising it to 1e18 + 1
    is by more than the 1e18 threshold."""
    lg = Ledger()
    run = approved_run(lg)
    ceiling = {**INFERENCE, "max_inference_flop_per_task": "1000000000000000001"}
    u = update(lg, run, inference=ceiling)
    assert seen(lg, "2028-01-20") == {
        V(
            "S15",
            (run["D"], u),
            "the update is significant (it raises the per-task inference ceiling from 0 to "
            f"1e18 FLOP, by more than the charter's 1e18), {WITHOUT}",
        )
    }


# == On time: the window_closed marker and remedies ==============================


def test_a_submission_after_an_early_window_closed_marker_is_late() -> None:
    """The marker is the boundary as a position in the log: one logged (refused) before the
    deadline day still closes the window for the submissions logged after it."""
    lg = Ledger()
    p = lg.prereg()
    lg.started(p)
    m = lg.marker("submission_window_closed", 2027, "2027-06-15")
    s = lg.submission(p, at="2027-06-20")
    assert rule(seen(lg, "2027-06-21"), "S8") == {
        V(
            "S8",
            (m,),
            "the submission_window_closed marker of 2027 is logged on 2027-06-15, "
            "before 2027-07-01",
        )
    }
    status = schedule_of(lg, s, "2027-06-21")
    assert status is not None and not status.on_time


def test_s7_a_remedy_submitting_the_same_model_does_not_keep_the_batch() -> None:
    """A remedy must change the model: the same digest logged after the window is late."""
    lg = Ledger()
    p, _suite, s = submitted_run(lg)
    c = lg.contest(s, "2027-07-05")
    r = lg.resolution(c, "2027-07-20", outcome="upheld")
    s2 = lg.submission(p, at="2027-08-01", remedies=r)  # the default digest, as s
    status = schedule_of(lg, s2, "2027-08-02")
    assert status is not None and not status.on_time
