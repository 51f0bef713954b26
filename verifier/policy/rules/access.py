"""Researchers' year of access to approved models (S17): it opens within the
charter's limit after the approval, and lasts at least the charter's minimum."""

from __future__ import annotations

from verifier.entries.fields import parse_date
from verifier.entries.payloads import ResearchAccess
from verifier.policy.calendar import DAY_MS, day_start_ms, fmt_date
from verifier.policy.findings import Finding, refused, violation
from verifier.policy.state import PolicyState


def opens(b: ResearchAccess, logged_ms: int) -> int:
    """When access opens: at access_from, but never before the entry was logged (the log
    cannot prove an earlier opening; docs/policy-notes.md, "Claimed times")."""
    return max(day_start_ms(parse_date(b.access_from, "access_from")), logged_ms)


def check_research_access(
    st: PolicyState, index: int, b: ResearchAccess, logged_ms: int
) -> list[Finding]:
    out: list[Finding] = []
    start = opens(b, logged_ms)
    until = day_start_ms(parse_date(b.access_until, "access_until"))
    minimum = st.rules_at(logged_ms).research_access_min_days
    if until - start < minimum * DAY_MS:
        out.append(
            refused(
                "S17",
                (index,),
                f"researchers' access from {b.access_from} to {b.access_until} is shorter than "
                f"the charter's {minimum} days",
            )
        )
    for d in b.decisions:
        if st.approval_ms(d) is None:
            out.append(
                refused(
                    "S17",
                    (d, index),
                    f"decision {d} approved no model, so there is nothing to open",
                )
            )
    return out


def apply_research_access(st: PolicyState, index: int, b: ResearchAccess, logged_ms: int) -> None:
    start = opens(b, logged_ms)
    until = day_start_ms(parse_date(b.access_until, "access_until"))
    for d in b.decisions:
        st.access.setdefault(d, []).append((start, until, index))


def access_findings(st: PolicyState, now_ms: int) -> list[Finding]:
    """Approved models whose researchers' access opened late, or has not opened."""
    out: list[Finding] = []
    for approved_ms, _, decision in st.approvals:
        limit = st.rules_at(approved_ms).research_access_limit_days
        due = approved_ms + limit * DAY_MS
        # The first access: the one that opens earliest, then the lower index (not the
        # one that ends first), as the reference auditor reads it (H2).
        opened = sorted(st.access.get(decision, []), key=lambda a: (a[0], a[2]))
        if not opened:
            if now_ms > due:
                out.append(
                    violation(
                        "S17",
                        (decision,),
                        f"the model approved by decision {decision} on {fmt_date(approved_ms)} "
                        f"has no researchers' access {limit} days later",
                    )
                )
            continue
        first, _, index = opened[0]
        if first > due:
            out.append(
                violation(
                    "S17",
                    (decision, index),
                    f"researchers' access to the model approved by decision {decision} opens "
                    f"on {fmt_date(first)}, after the {limit}-day limit",
                )
            )
    return out
