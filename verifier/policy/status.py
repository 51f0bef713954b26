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

from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.state import PolicyState


@dataclass(frozen=True)
class SubmissionSchedule:
    index: int
    cycle: int
    on_time: bool
    deadline: str  # the cycle's submission deadline (its last day)
    decision_date: str  # the cycle's decision date
    decide_by: str  # the last day it may be decided on
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
        return (
            f"late: logged after the {self.cycle} submission deadline ({self.deadline}); "
            f"decided in the order late submissions were logged{before}, not before "
            f"{self.decision_date} and by {self.decide_by}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "on_time": self.on_time,
            "deadline": self.deadline,
            "decision_date": self.decision_date,
            "decide_by": self.decide_by,
            "earlier_late": list(self.earlier_late),
            "remedies": self.remedies,
            "status": self.sentence(),
        }


def submission_schedule(st: PolicyState, index: int) -> SubmissionSchedule | None:
    """The schedule of the submission at *index* (None if it is not an admitted one)."""
    sub = st.subs.get(index)
    if sub is None or st.calendar is None:
        return None
    start, _ = st.cal.decision_day(sub.cycle)
    if sub.on_time:
        decide_by = start
        earlier: tuple[int, ...] = ()
    else:
        limit = st.rules_at(sub.logged_ms).late_decision_limit_days
        decide_by = max(start, sub.logged_ms) + limit * DAY_MS
        late = st.late.get(sub.cycle, [])
        earlier = tuple(late[: late.index(index)]) if index in late else ()
    return SubmissionSchedule(
        index,
        sub.cycle,
        sub.on_time,
        fmt_date(st.cal.window_closes_ms(sub.cycle) - 1),
        fmt_date(start),
        fmt_date(decide_by),
        earlier,
        sub.remedies,
    )
