"""Evaluation and decision: the chain of an approval (S6), what an approval needs
(S7), on-time submissions decided on the decision date (S8), late ones in order
(S9), one decision per submission and contests answered (S10)."""

from __future__ import annotations

from collections.abc import Callable

from verifier.entries.payloads import (
    ContestFinding,
    ContestResolution,
    Decision,
    EvalResult,
    EvalSuite,
)
from verifier.policy.calendar import DAY_MS, fmt_date
from verifier.policy.findings import WARNING, Finding, finding, refused, violation
from verifier.policy.rules.models import offered_before
from verifier.policy.state import Contest, PolicyState, Sub


def apply_eval_suite(st: PolicyState, index: int, b: EvalSuite, logged_ms: int) -> None:
    st.suites[index] = logged_ms


def unsound(b: EvalResult) -> str | None:
    """ "fail" when a result's outcome is pass yet a category it lists failed, "none"
    when it is pass and lists no category, else None: neither is a passing result, and
    the first counts as a failing one (S7, docs/policy-notes.md)."""
    if b.outcome != "pass":
        return None
    if not b.results:
        return "none"
    return "fail" if any(r.outcome == "fail" for r in b.results) else None


def check_eval_result(st: PolicyState, index: int, b: EvalResult, logged_ms: int) -> list[Finding]:
    out: list[Finding] = []
    sub = st.subs.get(b.submission)
    if sub is not None and sub.decision is not None:
        out.append(
            finding(
                "S10",
                WARNING,
                (sub.decision, index),
                f"an evaluation result for submission {sub.index} was logged after its decision",
            )
        )
    kind = unsound(b)
    if kind is not None:
        failed = [r.category for r in b.results if r.outcome == "fail"]
        why = (
            f"its {', '.join(failed[:3])} categor{'ies' if len(failed) > 1 else 'y'} failed"
            if kind == "fail"
            else "it assesses no category"
        )
        out.append(
            finding(
                "S7",
                WARNING,
                (index,),
                f"evaluation result {index} says pass, yet {why}: it is not a passing result"
                + (" but a failing one" if kind == "fail" else ""),
            )
        )
    return out


def apply_eval_result(st: PolicyState, index: int, b: EvalResult, logged_ms: int) -> None:
    st.results[index] = (b.submission, b.suite, b.outcome)
    kind = unsound(b)
    if kind is not None:
        st.unsound_results[index] = kind
    sub = st.subs.get(b.submission)
    if sub is not None:
        sub.results.append(index)
        if b.outcome == "fail" or kind == "fail":
            st.failed.setdefault(sub.model_digest, []).append(index)


def apply_contest_finding(st: PolicyState, index: int, b: ContestFinding, logged_ms: int) -> None:
    st.contests[index] = Contest(index, b.submission, logged_ms)
    sub = st.subs.get(b.submission)
    if sub is not None:
        sub.findings.append(index)
        st.contested.setdefault(sub.model_digest, []).append(index)


def check_contest_resolution(
    st: PolicyState, index: int, b: ContestResolution, logged_ms: int
) -> list[Finding]:
    c = st.contests.get(b.finding)
    if c is None:
        return []
    if c.resolution is not None:
        return [
            refused(
                "S10",
                (c.index, c.resolution, index),
                f"contest finding {c.index} is resolved twice",
            )
        ]
    sub = st.subs.get(c.submission)
    if sub is None or b.outcome not in ("upheld", "upheld_in_part"):
        return []
    return offered_before(
        st, sub.model_digest, index, f"entry {index} upholds contest finding {c.index} about them"
    )


def apply_contest_resolution(
    st: PolicyState, index: int, b: ContestResolution, logged_ms: int
) -> None:
    st.resolutions[index] = b.finding
    c = st.contests.get(b.finding)
    if c is not None and c.resolution is None:
        c.resolution, c.resolved_ms, c.outcome, c.remedied = index, logged_ms, b.outcome, b.remedied


def check_decision(st: PolicyState, index: int, b: Decision, logged_ms: int) -> list[Finding]:
    sub = st.subs.get(b.submission)
    if sub is None:
        return [
            refused(
                "S6",
                (b.submission, index),
                f"the decision refers to entry {b.submission}, which is not a submission of a pre-registered run",
            )
        ]
    out: list[Finding] = []
    if sub.decision is not None:
        # The plan: once approved, the regulator has no power over how a model is used.
        why = "; an approval cannot be withdrawn or restricted" if sub.outcome == "approved" else ""
        out.append(
            refused(
                "S10",
                (sub.decision, index),
                f"submission {sub.index} already has a decision (entry {sub.decision}){why}",
            )
        )
    for r in b.eval_results:
        if st.results.get(r, (None,))[0] != sub.index:
            out.append(
                refused(
                    "S6",
                    (r, index),
                    f"the decision cites evaluation result {r}, which is not about submission {sub.index}",
                )
            )
    for r in b.findings:
        contest = st.contests.get(st.resolutions.get(r, -1))
        if contest is None or contest.submission != sub.index:
            out.append(
                refused(
                    "S6",
                    (r, index),
                    f"the decision cites contest resolution {r}, which resolves no finding about submission {sub.index}",
                )
            )
    out += _timing(st, index, sub, logged_ms)
    if b.outcome == "approved":
        out += _approval(st, index, b, sub)
    elif sub.decision is None:
        out += offered_before(st, sub.model_digest, index, f"decision {index} rejects them")
    return out


def _timing(st: PolicyState, index: int, sub: Sub, logged_ms: int) -> list[Finding]:
    """S8 for an on-time submission, S9 for a late one."""
    start, end = st.cal.decision_day(sub.cycle)
    if sub.on_time:
        if logged_ms < start:
            return [
                refused(
                    "S8",
                    (sub.index, index),
                    f"submission {sub.index} was on time and is decided on {fmt_date(logged_ms)}, before the decision date {fmt_date(start)}",
                )
            ]
        if logged_ms >= end:
            return [
                violation(
                    "S8",
                    (sub.index, index),
                    f"submission {sub.index} was on time and is decided on {fmt_date(logged_ms)}, after the decision date {fmt_date(start)}",
                )
            ]
        return []
    out: list[Finding] = []
    if logged_ms < start:
        out.append(
            refused(
                "S9",
                (sub.index, index),
                f"late submission {sub.index} is decided on {fmt_date(logged_ms)}, before its batch's decision date {fmt_date(start)}",
            )
        )
    for earlier in st.late.get(sub.cycle, []):
        if earlier == sub.index:
            break
        if st.subs[earlier].decision is None:  # one finding per earlier one undecided
            out.append(
                refused(
                    "S9",
                    (earlier, sub.index, index),
                    f"late submission {sub.index} is decided before the earlier late submission {earlier}",
                )
            )
    limit = st.rules_at(sub.logged_ms).late_decision_limit_days
    # Counted from the end of the decision day: the decision date is the whole day.
    due = max(end, sub.logged_ms) + limit * DAY_MS
    if logged_ms > due:
        out.append(
            violation(
                "S9",
                (sub.index, index),
                f"late submission {sub.index} is decided {(logged_ms - due) // DAY_MS + 1} days after its {limit}-day limit",
            )
        )
    return out


def _approval(st: PolicyState, index: int, b: Decision, sub: Sub) -> list[Finding]:
    """S7: a passing evaluation from a timely suite, nothing failing, no open contest."""
    out: list[Finding] = []
    deadline = st.cal.window_closes_ms(sub.cycle)
    cited = b.eval_results or tuple(sub.results)
    passing = [
        r
        for r in cited
        if st.results.get(r, (-1, 0, ""))[0] == sub.index
        and st.results[r][2] == "pass"
        and r not in st.unsound_results
        and st.suites.get(st.results[r][1], deadline) < deadline
    ]
    # Every failing result of the submission counts, cited or not: citing only the
    # passing ones cannot hide a failure any more than citing nothing can. So does
    # every failing result of another submission of the same weights: submitting them
    # again does not leave the failure behind (the model is its weights). A pass that
    # lists a failing category is a failing result.
    failing = sorted(
        {
            r
            for r in (*cited, *sub.results)
            if st.results.get(r, (0, 0, ""))[2] == "fail" or st.unsound_results.get(r) == "fail"
        }.union(st.failed.get(sub.model_digest, ()))
    )
    if not passing:
        out.append(
            refused(
                "S7",
                (sub.index, index),
                f"submission {sub.index} is approved without a passing evaluation from a suite published before the {sub.cycle} submission deadline",
            )
        )
    if failing:
        # Named as the same weights only when they are: a cited result of another
        # model (S6) is a failing result cited, not a failure of these weights.
        first = st.results[failing[0]][0]
        again = first != sub.index and st.subs[first].model_digest == sub.model_digest
        whose = (
            f"the same weights failed evaluation as submission {first}"
            if again
            else "it failed evaluation"
        )
        out.append(
            refused(
                "S7",
                (*failing, index),
                f"submission {sub.index} is approved although {whose} (entry {failing[0]})",
            )
        )
    # The findings about this submission, and about any other submission of the same
    # model (digest): a finding is about the model, and submitting the same weights
    # again does not escape it (docs/policy-notes.md, "Contests and remedies").
    # st.contested holds the submission's own findings too, in log order.
    for ci in st.contested.get(sub.model_digest, ()):
        c = st.contests[ci]
        about = (
            f"contest finding {ci}"
            if c.submission == sub.index
            else f"contest finding {ci} (about the same model, submitted as entry {c.submission})"
        )
        if c.resolution is None:
            out.append(
                refused(
                    "S7",
                    (ci, index),
                    f"submission {sub.index} is approved with {about} unresolved",
                )
            )
        elif c.outcome in ("upheld", "upheld_in_part"):
            out.append(
                refused(
                    "S7",
                    (ci, c.resolution, index),
                    f"submission {sub.index} is approved although {about} was upheld (entry {c.resolution}): the approval would cover the very model the finding is about; a remedied model is a new submission, evaluated and decided itself",
                )
            )
    if sub.remedies is not None:
        prereg = st.runs[sub.prereg]
        if st.remedied_submission(prereg.index, sub.model_digest, sub.remedies) is None:
            out.append(
                refused(
                    "S7",
                    (sub.remedies, sub.index, index),
                    f"submission {sub.index} claims to remedy entry {sub.remedies}, which is not an upheld contest finding's resolution about another model of the same run",
                )
            )
    return out + _breaches(st, index, sub)


def _breaches(st: PolicyState, index: int, sub: Sub) -> list[Finding]:
    """S6: no approval rests on a run that broke S1-S5 (the chain's last link): neither
    the submission's own run nor any run that submitted the same weights before it did
    (the model is its weights: weights trained off the schedule do not become clean by
    being submitted again under a clean run). A run that submits them only after the
    approved run first did says nothing of where they came from: a digest, once
    submitted, is public, and anyone can submit it again."""
    own = st.runs[sub.prereg].root
    first = next(i for d, i in st.runs[own].digests if d == sub.model_digest)
    roots = [own, *(r for r, i in st.tainted.get(sub.model_digest, ()) if r != own and i < first)]
    broken = [(st.runs[r], st.runs[r].breaches) for r in roots if st.runs[r].breaches]
    if not broken:
        return []
    rules = sorted({rule for _, b in broken for rule, _ in b}, key=lambda r: int(r[1:]))
    entries = sorted({i for _, b in broken for _, named in b for i in named})
    listed = ", ".join(str(i) for i in entries)
    run = st.runs[sub.prereg]
    others = [r for r, _ in broken if r.index != own]
    if not others:
        which = f"run {run.run_id}, which broke"
    else:
        own_broke = any(r.index == own for r, _ in broken)
        which = (
            f"run {run.run_id} with weights {sub.model_digest[:12]}…, which were also "
            f"submitted under run {', '.join(r.run_id for r in others)} (pre-registered "
            f"as entry {', '.join(str(r.index) for r in others)}); "
            + ("the runs" if own_broke else "that run" if len(others) == 1 else "those runs")
            + " broke"
        )
    return [
        refused(
            "S6",
            (*entries, index),
            f"decision {index} approves submission {sub.index} of {which} {', '.join(rules)} (entries {listed}): an approval cannot rest on such a run",
        )
    ]


def apply_decision(st: PolicyState, index: int, b: Decision, logged_ms: int) -> None:
    sub = st.subs.get(b.submission)
    if sub is None:
        return
    st.decided[index] = sub.index
    if sub.decision is None:
        sub.decision, sub.outcome = index, b.outcome
        if b.outcome == "rejected":
            st.rejected[sub.model_digest] = index
        else:
            st.rejected.pop(sub.model_digest, None)
    if b.outcome == "approved":
        st.approvals.append((logged_ms, sub.level, index))


def broken_submission_link(
    index: int, decision: Decision, entry_type: Callable[[int], str]
) -> Finding | None:
    """S6, link 1, for a decision that failed admission: it names as its submission an
    entry that is not one (docs/policy-notes.md, "The chain of an approval").
    *entry_type* gives the type of an earlier entry ("invalid" if it failed its checks)."""
    target = decision.submission
    what = "an approval" if decision.outcome == "approved" else "a rejection"
    if target >= index:
        return refused(
            "S6",
            (index,),
            f"decision {index} ({what}) names entry {target} as its submission, but entry {target} is not before it",
        )
    kind = entry_type(target)
    if kind == "submission":
        return None
    found = (
        "an entry that failed its own checks and has no effect"
        if kind == "invalid"
        else f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind.replace('_', ' ')}"
    )
    return refused(
        "S6",
        (target, index),
        f"decision {index} ({what}) names entry {target} as its submission, but entry {target} is {found}",
    )
