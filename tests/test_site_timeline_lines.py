"""The timeline's threshold lines for schedules that take no effect (S11).

A lift stranded above a postponed one, and a schedule a calendar amendment left off
a lift date, are in the log but change nothing: the timeline draws them dashed, with
what happened, and no lift line for them.
"""

from __future__ import annotations

from public_site.timeline import _lines
from tests.test_plan_rule_boundaries import ONE_DAY_LATER, amendment
from tests.test_reference_rules import ORIGIN, Ledger
from verifier.policy.audit import Auditor


def _timeline(lg: Ledger) -> list[dict]:
    auditor = Auditor(ORIGIN)
    for leaf in lg.leaves:
        auditor.feed(leaf)
    assert auditor.engine is not None
    columns = {level: {"x": 100 * level, "width": 100} for level in range(5)}
    return _lines(auditor.engine, columns, 0)


def test_a_stranded_lift_is_drawn_dashed_and_raises_nothing() -> None:
    lg = Ledger()
    t1 = lg.schedule(2, "3e26", "2028-01-01", "2027-06-01")
    t2 = lg.schedule(3, "1e27", "2029-01-01", "2027-06-02")
    p = lg.postponement(2028, 2029, "2027-12-20")
    lines = {(line["url"], line["kind"], line["text"]) for line in _timeline(lg)}
    assert (
        f"/entries/{t2}",
        "postponed",
        "lift stranded (the level below was not lifted)",
    ) in lines
    assert (f"/entries/{p}", "postponed", "lift of 2028 postponed to 2029") in lines
    lifts = {url for url, kind, _ in lines if kind == "lift"}
    assert f"/entries/{t1}" not in lifts and f"/entries/{t2}" not in lifts


def test_a_lapsed_schedule_is_drawn_dashed() -> None:
    lg = Ledger()
    t = lg.schedule(2, "2e26", "2028-01-01", "2027-06-01")
    amendment(
        lg, {"calendar": ONE_DAY_LATER, "calendar_from_cycle": 2028}, "2027-10-01", "2027-07-01"
    )
    lines = [line for line in _timeline(lg) if line["url"] == f"/entries/{t}"]
    assert [(line["kind"], line["text"]) for line in lines] == [
        ("postponed", "schedule lapsed (its date is no longer a lift date)")
    ]
