"""Where a submission stands on the schedule: on time or late, and when it is decided.

What a lab's receipt and the public site say about a submission, computed from
the schedule state the rules use (docs/policy-notes.md: on time or late by
``logged_at``; a late submission is decided in order, not before its batch's
decision date, within the charter's late-decision limit; a valid remedy is
decided with its batch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.policy.calendar import DAY_MS, fmt_date, fmt_time
from verifier.policy.state import PolicyState


@dataclass(frozen=True)
class SubmissionSchedule:
    index: int
    cycle: int
    on_time: bool
    deadline: str  # the cycle's submission deadline (its last day)
    decision_date: str  # the cycle's decision date
    decide_by: str  # the last day it may be decided on
    #: The last instant it may be decided at (RFC 3339, to the second): S8 and S9 count
    #: to the instant, and a late submission logged after its batch's decision day has
    #: its limit mid-day, which a date alone would overstate.
    decide_by_time: str
    earlier_late: tuple[int, ...]  # late submissions of its cycle logged before it
    remedies: int | None

    def sentence(self) -> str:
        if self.on_time:
            remedy = (
                f" (it remedies an upheld contest finding, resolution {self.remedies})"
                if self.remedies is not None
                else ""
            )
            return (
                f"on time for the {self.cycle} cycle{remedy}: decided with every on-time "
                f"submission on {self.decision_date}"
            )
        before = (
            f", after the {len(self.earlier_late)} late submission"
            f"{'' if len(self.earlier_late) == 1 else 's'} of its cycle logged before it"
            if self.earlier_late
            else ""
        )
        by = self.decide_by
        if not self.decide_by_time.endswith("T23:59:59Z"):
            by = self.decide_by_time.replace("T", " ").replace("Z", " UTC")
        return (
            f"late: logged after the {self.cycle} submission deadline ({self.deadline}); "
            f"decided in the order late submissions were logged{before}, not before "
            f"{self.decision_date} and by {by}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "on_time": self.on_time,
            "deadline": self.deadline,
            "decision_date": self.decision_date,
            "decide_by": self.decide_by,
            "decide_by_time": self.decide_by_time,
            "earlier_late": list(self.earlier_late),
            "remedies": self.remedies,
            "status": self.sentence(),
        }


def submission_schedule(st: PolicyState, index: int) -> SubmissionSchedule | None:
    """The schedule of the submission at *index* (None if it is not an admitted one)."""
    sub = st.subs.get(index)
    if sub is None or st.calendar is None:
        return None
    start, end = st.cal.decision_day(sub.cycle)
    if sub.on_time:
        last = end - 1  # S8: on the decision day
        earlier: tuple[int, ...] = ()
    else:
        # S9 (rules/decisions._timing): the limit runs from the end of the decision
        # day, or from the submission's logging if later; a decision at the limit is
        # in time.
        limit = st.rules_at(sub.logged_ms).late_decision_limit_days
        due = max(end, sub.logged_ms) + limit * DAY_MS
        last = due - 1 if due % DAY_MS == 0 else due
        late = st.late.get(sub.cycle, [])
        earlier = tuple(late[: late.index(index)]) if index in late else ()
    return SubmissionSchedule(
        index,
        sub.cycle,
        sub.on_time,
        fmt_date(st.cal.window_closes_ms(sub.cycle) - 1),
        fmt_date(start),
        fmt_date(last),
        fmt_time(last),
        earlier,
        sub.remedies,
    )
