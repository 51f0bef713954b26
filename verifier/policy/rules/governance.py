"""Who watches the regulator: charter amendments with notice (S12), the regulator's
scope (S18), staff cooling-off (S19), and no power over an approved model's use."""

from __future__ import annotations

import json
from dataclasses import replace

from verifier.entries.fields import parse_date
from verifier.entries.payloads import (
    CharterAmendment,
    EvalResult,
    KeyGrant,
    KeyRevoke,
    StaffDeclaration,
)
from verifier.policy.calendar import DAY_MS, Calendar, date_of, day_start_ms, fmt_date
from verifier.policy.findings import NOTICE, WARNING, Finding, finding, refused, violation
from verifier.policy.rules.compute import apply_key_grant as register_lab
from verifier.policy.rules.thresholds import notice
from verifier.policy.state import HeldKey, PolicyState


def check_charter_amendment(
    st: PolicyState, index: int, b: CharterAmendment, logged_ms: int
) -> list[Finding]:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    out = notice(st, index, "the charter amendment", eff, logged_ms)
    c = b.changes
    if (c.calendar is None) != (c.calendar_from_cycle is None):
        out.append(
            refused(
                "S12",
                (index,),
                "a calendar change names both the new calendar and the first cycle it applies to",
            )
        )
    elif c.calendar is not None and c.calendar_from_cycle is not None:
        disorder = c.calendar.out_of_order()
        if disorder is not None:
            # Refused, and forced in it changes no cycle's calendar (apply, below).
            out.append(refused("S12", (index,), f"the new calendar is refused: {disorder}"))
        # Cycles under way keep their dates: a cycle whose lift, by the calendar in
        # force, has come is not re-dated (its deadline and decision date would move
        # under submissions already made, or an early decision become on time).
        lifted = st.cal.lift_ms(c.calendar_from_cycle)
        if lifted <= logged_ms:
            out.append(
                refused(
                    "S12",
                    (index,),
                    f"the new calendar starts with cycle {c.calendar_from_cycle}, under way "
                    f"since its lift on {fmt_date(lifted)}: a cycle under way keeps its dates",
                )
            )
        # And a new calendar starts with a cycle whose lift, by the new calendar, is
        # still the notice period away. (Measured by the old calendar, an amendment
        # logged months after a late lift could move that cycle's lift into the past.)
        out += notice(
            st,
            index,
            f"the calendar of cycle {c.calendar_from_cycle}",
            Calendar.of_payload(c.calendar).lift_ms(c.calendar_from_cycle),
            logged_ms,
        )
        if disorder is None:
            out += _lapsing(st, index, b)
    return out


def _lapsing(st: PolicyState, index: int, b: CharterAmendment) -> list[Finding]:
    """S11 notice: the threshold schedules this amendment's calendar leaves off a lift
    date. A lift takes effect only on its cycle's lift date; a schedule whose date is
    no longer one lapses (it does not move with the lift: a new schedule, with its
    notice, is needed), so that a calendar change cannot carry a lift S11 would have
    judged on the new date past that judgement on the old one."""
    # Only the calendar of the state with the amendment is read, and the calendars
    # apply in log order, whatever their effective dates: the date is left at 0.
    with_it = replace(st, amendments=[*st.amendments, (0, index, b.changes)])
    cal, before = with_it.cal, st.off_lift_dates(st.cal)
    return [
        finding(
            "S11",
            NOTICE,
            (schedule, index),
            f"the new calendar moves cycle {date_of(when).year}'s lift from {fmt_date(when)} "
            f"to {fmt_date(cal.lift_ms(date_of(when).year))}: the threshold schedule of "
            f"level {level} on {fmt_date(when)} (entry {schedule}) lapses, so level {level} "
            "is neither lifted nor capped by it unless a schedule for the new date is logged",
        )
        for schedule, (when, level) in sorted(with_it.off_lift_dates(cal).items())
        if schedule not in before
    ]


def apply_charter_amendment(
    st: PolicyState, index: int, b: CharterAmendment, logged_ms: int
) -> None:
    eff = day_start_ms(parse_date(b.effective_date, "effective_date"))
    changes = b.changes
    if changes.calendar is not None and changes.calendar.out_of_order():
        # A calendar whose days are out of order is no calendar: it takes no effect
        # (S12 names it); the amendment's other changes do.
        changes = replace(changes, calendar=None, calendar_from_cycle=None)
    st.amendments.append((eff, index, changes))
    st.amendments.sort(key=lambda a: (a[0], a[1]))
    if changes.calendar is not None and changes.calendar_from_cycle is not None:
        off = st.off_lift_dates(st.cal)
        for schedule in [s for s in st.lapsed if s not in off]:
            del st.lapsed[schedule]  # a later calendar put its date back on a lift date
        for schedule in off:
            st.lapsed.setdefault(schedule, index)


def check_eval_result_scope(
    st: PolicyState, index: int, b: EvalResult, logged_ms: int
) -> list[Finding]:
    """S18: the regulator assesses only the categories its charter lets it assess."""
    scope = st.rules_at(logged_ms).evaluation_scope
    outside = sorted({r.category for r in b.results} - set(scope)) if scope else []
    if not outside:
        return []
    return [
        violation(
            "S18",
            (index,),
            f"the evaluation assesses {', '.join(outside)}, outside the regulator's scope "
            f"({', '.join(scope)})",
        )
    ]


def same_name(name: str) -> str:
    """A person's name as S19 compares it: without regard to case or spacing, so that
    "Evaluation Officer 7 " is the "Evaluation officer 7" who left."""
    return " ".join(name.split()).casefold()


#: Roles that oversee labs or vouch for what they do; none may share a key with a lab's,
#: nor be held by a person who holds a lab's key at the same time.
OVERSIGHT = frozenset({"board", "regulator", "evaluator", "observer", "compute"})
#: The roles of the regulator's own staff: a person holding one is in post (S19).
STAFF = frozenset({"board", "regulator", "evaluator"})


def _labs(roles: tuple[str, ...]) -> list[str]:
    return sorted(r for r in roles if r.startswith("lab:"))


def _orgs(labs: list[str]) -> str:
    return ", ".join(sorted({r.split(":", 1)[1] for r in labs}))


def _overseeing(roles: tuple[str, ...]) -> list[str]:
    return sorted(r for r in roles if r.split(":", 1)[0] in OVERSIGHT)


def hold_key(
    st: PolicyState, holder: str, keyid: str, index: int, logged_ms: int, *, roles: tuple[str, ...]
) -> None:
    """Record a key S19 follows: one with a lab's role or an overseeing one."""
    kept = tuple(_labs(roles) + _overseeing(roles))
    if kept:
        person = same_name(holder)
        st.held.setdefault(person, []).append(HeldKey(keyid, index, logged_ms, kept))
        st.holder_of[keyid] = person


def apply_key_grant(st: PolicyState, index: int, b: KeyGrant, logged_ms: int) -> None:
    """Record who holds the key (S19) and the lab its role registers (S16)."""
    register_lab(st, index, b, logged_ms)
    hold_key(st, b.holder, b.keyid, index, logged_ms, roles=b.roles)


def apply_key_revoke(st: PolicyState, index: int, b: KeyRevoke, logged_ms: int) -> None:
    person = st.holder_of.get(b.keyid)
    for k in st.held.get(person, []) if person is not None else []:
        if k.keyid == b.keyid and k.revoked_ms is None:
            k.revoked_ms, k.revoked_by = logged_ms, index


def _in_post(st: PolicyState, staff: str, logged_ms: int) -> tuple[int, int | None] | None:
    """The last time the log shows *staff* holding a staff role, judged at a declaration
    logged at *logged_ms*: then, if a staff key of theirs is still in force, else the
    revocation of their last staff key (its ms and index); None if they held none."""
    keys = [k for k in st.held.get(same_name(staff), []) if STAFF & set(k.roles)]
    if not keys:
        return None
    if any(k.revoked_ms is None for k in keys):
        return logged_ms, None
    last = max(keys, key=lambda k: (k.revoked_ms or 0, k.revoked_by or 0))
    return last.revoked_ms or 0, last.revoked_by


def check_staff_declaration(
    st: PolicyState, index: int, b: StaffDeclaration, logged_ms: int
) -> list[Finding]:
    """A departure dated before the log shows the person in post (a claimed time the log
    contradicts) by more than the reporting tolerance: a warning."""
    if b.kind != "departure":
        return []
    claimed = day_start_ms(parse_date(b.date, "date"))
    seen = _in_post(st, b.staff, logged_ms)
    if seen is None or seen[0] - claimed <= st.report_tolerance_ms(logged_ms):
        return []
    at, revocation = seen
    shown = (
        "holds a staff key still in force when the departure is declared"
        if revocation is None
        else f"held a staff key until its revocation (entry {revocation}) on {fmt_date(at)}"
    )
    return [
        finding(
            "S19",
            WARNING,
            (index,) if revocation is None else (revocation, index),
            f"the departure of {b.staff} is dated {b.date}, but the log shows them in post "
            f"later: {json.dumps(b.staff)} {shown}; the cooling-off counts from then",
        )
    ]


def apply_staff_declaration(
    st: PolicyState, index: int, b: StaffDeclaration, logged_ms: int
) -> None:
    if b.kind == "departure":
        when = day_start_ms(parse_date(b.date, "date"))
        # A departure cannot be dated before the log shows the person still in post
        # (the revocation of their last staff key, or this declaration while one is in
        # force): a back-dated departure must not clear the cooling-off.
        seen = _in_post(st, b.staff, logged_ms)
        if seen is not None:
            when = max(when, seen[0])
        # The cooling-off is fixed when the departure is declared: the period in force at
        # the departure by the amendments logged so far. An amendment logged later
        # (with its notice) cannot shorten a declared departure's cooling-off, or the
        # board could clear one person's way to a lab (the reference auditor's H3).
        days = st.rules_at(when).cooling_off_days
        st.departures.setdefault(same_name(b.staff), []).append(
            (when, b.organisation, index, days, b.staff)
        )


def check_key_grant(st: PolicyState, index: int, b: KeyGrant, logged_ms: int) -> list[Finding]:
    """S19: no key of a lab for a former staff member within the cooling-off period; no
    key, nor person, both acting for a lab and overseeing it."""
    labs = _labs(b.roles)
    oversight = _overseeing(b.roles)
    out: list[Finding] = []
    keys = _orgs(labs)
    if labs and oversight:
        # One key that acts for a lab and also judges, evaluates, observes or attests
        # compute could approve or vouch for its own lab's work.
        out.append(
            refused(
                "S19",
                (index,),
                f"the key of {b.holder} would hold {', '.join(oversight)} and the role of "
                f"{keys}: one key cannot both act for a lab and oversee it",
            )
        )
    # Nor two keys of one person, whichever was granted first: the reason is the person's.
    for k in st.held.get(same_name(b.holder), []) if labs or oversight else []:
        if k.revoked_ms is not None:
            continue
        k_oversees, k_labs = _overseeing(k.roles), _labs(k.roles)
        theirs = (k_oversees if labs else []) + (k_labs if oversight else [])
        mine = (labs if k_oversees else []) + (oversight if k_labs else [])
        if theirs:
            out.append(
                refused(
                    "S19",
                    (k.index, index),
                    f"{json.dumps(b.holder)} holds a key with {', '.join(theirs)} (granted at "
                    f"entry {k.index}, in force); a key with {', '.join(mine)} for the same "
                    "person would let them both act for a lab and oversee it",
                )
            )
    if not labs:
        return out
    for left, org, declared, days, name in st.departures.get(same_name(b.holder), []):
        if logged_ms >= left + days * DAY_MS:
            continue
        # A key granted after the departure was declared but before the date itself
        # would be held through the cooling-off: the same violation.
        when = (
            f"for them {(logged_ms - left) // DAY_MS} days later is"
            if logged_ms >= left
            else "granted before that date would be held"
        )
        # Quoted as JSON: a name is text from the log, and a line break in it must not
        # break the report's line.
        spelt = "" if b.holder == name else f" (as {json.dumps(b.holder)})"
        out.append(
            refused(
                "S19",
                (declared, index),
                f"{name} left the regulator on {fmt_date(left)} (for {org}); a key of "
                f"{keys}{spelt} {when} inside the {days}-day cooling-off period",
            )
        )
    return out


def staff_findings(st: PolicyState, now_ms: int) -> list[Finding]:
    """S19: a lab key granted to a person before their departure was declared and in
    force at some time in the cooling-off, by *now_ms* (one revoked before the
    departure is not)."""
    out: list[Finding] = []
    for person, leavings in sorted(st.departures.items()):
        for left, org, declared, days, name in leavings:
            for k in st.held.get(person, []):
                labs = _labs(k.roles)
                if k.index >= declared or not labs:
                    continue
                begins = max(k.logged_ms, left)
                ends = left + days * DAY_MS
                if k.revoked_ms is not None:
                    ends = min(ends, k.revoked_ms)
                if begins < ends and begins <= now_ms:
                    out.append(
                        violation(
                            "S19",
                            (k.index, declared),
                            f"{name} left the regulator on {fmt_date(left)} (for {org}) "
                            f"holding a key of {_orgs(labs)} "
                            f"(entry {k.index}), still in force on {fmt_date(begins)}, inside "
                            f"the {days}-day cooling-off period",
                        )
                    )
    return out
