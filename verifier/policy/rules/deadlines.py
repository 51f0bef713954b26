"""What only the passing of time shows: a decision that never came (S8, S9), a
contest left unanswered (S10), a lift neither earned nor postponed (S11), a
sealed document never revealed (S14). Judged at an instant the caller passes."""

from __future__ import annotations

from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import NOT_AUDITABLE, WARNING, Finding, finding, violation
from verifier.policy.rules.access import access_findings
from verifier.policy.rules.compute import compute_findings
from verifier.policy.rules.governance import staff_findings
from verifier.policy.state import PolicyState


def time_findings(st: PolicyState, now_ms: int) -> list[Finding]:
    """Findings that depend on deadlines having passed by *now_ms*."""
    if st.charter is None:
        return [
            finding(
                "L3",
                NOT_AUDITABLE,
                (),
                "the log has no charter, so the schedule cannot be audited",
            )
        ]
    return [
        *_undecided(st, now_ms),
        *_unanswered(st, now_ms),
        *_lifts(st, now_ms),
        *_unrevealed(st, now_ms),
        *compute_findings(st, now_ms),
        *access_findings(st, now_ms),
        *staff_findings(st, now_ms),
    ]


def _undecided(st: PolicyState, now_ms: int) -> list[Finding]:
    out: list[Finding] = []
    for sub in st.subs.values():
        if sub.decision is not None:
            continue
        start, end = st.cal.decision_day(sub.cycle)
        if sub.on_time and now_ms >= end:
            out.append(
                violation(
                    "S8",
                    (sub.index,),
                    f"on-time submission {sub.index} was not decided on the decision date {fmt_date(start)}",
                )
            )
        limit = st.rules_at(sub.logged_ms).late_decision_limit_days
        # Counted from the end of the decision day: the decision date is the whole day.
        if not sub.on_time and now_ms > max(end, sub.logged_ms) + limit * DAY_MS:
            out.append(
                violation(
                    "S9",
                    (sub.index,),
                    f"late submission {sub.index} has no decision {limit} days after it became due",
                )
            )
    return out


def _unanswered(st: PolicyState, now_ms: int) -> list[Finding]:
    out: list[Finding] = []
    for c in st.contests.values():
        days = st.rules_at(c.logged_ms).contest_reply_limit_days
        limit = days * DAY_MS
        if c.resolved_ms is None and now_ms > c.logged_ms + limit:
            out.append(
                violation(
                    "S10",
                    (c.index,),
                    f"contest finding {c.index} has no resolution within {days} days",
                )
            )
        elif c.resolved_ms is not None and c.resolved_ms > c.logged_ms + limit:
            out.append(
                violation(
                    "S10",
                    (c.index, c.resolution or 0),
                    f"contest finding {c.index} was resolved after the {days}-day limit",
                )
            )
    return out


def _lifts(st: PolicyState, now_ms: int) -> list[Finding]:
    """S11: a lift scheduled for the next lift date needs an approval at the level
    below by this decision date, or a postponement logged before the lift takes
    effect (one logged after the decision date is late, the S11 warning, but it
    still stops the lift: the lift does not happen, so it is not unearned)."""
    out: list[Finding] = []
    cycle = st.rules.first_cycle
    while st.cal.decision_day(cycle)[1] <= now_ms:
        start, end = st.cal.decision_day(cycle)
        lift = st.cal.lift_ms(cycle + 1)
        below = st.frontier_at(lift - 1)
        # Every schedule in effect on that lift date above the frontier just before it,
        # whether or not it was a lift when logged: one stranded above the frontier (a
        # lift below it lapsed or was postponed) needs the approval below it as much.
        scheduled = sorted(
            (i, level)
            for level, caps in st.caps.items()
            for eff, _, i in caps
            if eff == lift and level > below and i not in st.lapsed
        )
        if not st.postponements_of(cycle + 1, lift):
            out += [
                violation(
                    "S11",
                    (i,),
                    f"no level-{level - 1} model was approved by {fmt_date(start)}, yet the "
                    f"lift to level {level} on {fmt_date(lift)} was not postponed",
                )
                for i, level in scheduled
                if st.approved_at_level_by(level - 1, end) is None
            ]
        cycle += 1
    return out


def _unrevealed(st: PolicyState, now_ms: int) -> list[Finding]:
    out: list[Finding] = []
    for s in st.sealed.values():
        days = st.rules_at(s.logged_ms).reveal_deadline_days
        # Each sealed document needs its reveal: a reveal names the entry, not which of
        # its documents, so the entry counts as revealed once as many different
        # documents as it sealed are (docs/policy-notes.md, S14).
        left = len(s.commitments) - len(s.shown)
        if left > 0 and now_ms > s.logged_ms + days * DAY_MS:
            n = len(s.commitments)
            what = (
                "the sealed document"
                if n == 1
                else f"the {n} sealed documents"
                if left == n
                else f"{left} of the {n} sealed documents"
            )
            out.append(
                finding(
                    "S14",
                    WARNING,
                    (s.index,),
                    f"{what} of entry {s.index} {'was' if left == 1 else 'were'} not "
                    f"revealed within {days} days",
                )
            )
    return out
