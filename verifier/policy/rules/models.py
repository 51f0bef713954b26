"""What a model is: an approval covers the weights and the inference configuration
evaluated; a change to an approved model is declared before it is offered, and a
significant one is evaluated and decided anew first (S15)."""

from __future__ import annotations

from verifier.entries.payloads import ModelUpdate
from verifier.policy.findings import Finding, fmt_flop, violation
from verifier.policy.rules.runs import claimed_time_gap, config_digest, posttraining_not_in
from verifier.policy.state import PolicyState, Update, flop


def significant(st: PolicyState, b: ModelUpdate, logged_ms: int) -> str | None:
    """Why an update needs a new evaluation and decision (None: a lesser update)."""
    rules = st.rules_at(logged_ms)
    threshold = flop(rules.posttraining_update_threshold_flop)
    approved = st.subs.get(_approved_submission(st, b.decision) or -1)
    added = flop(b.added_posttraining_flop)
    # Post-training adds up: the lesser updates of the same approval before this one
    # count with it (five of 0.99x the threshold are not five lesser changes), and the
    # configuration it declares cannot list more post-training than it says it adds:
    # every step the approved configuration does not list, a step swapped for another
    # of equal FLOP included, is post-training added.
    earlier = st.lesser_added.get(b.decision, 0)
    listed = posttraining_not_in(b.inference, approved.posttraining if approved else ())
    if max(added + earlier, listed) > threshold:
        if added + earlier >= listed:
            total = (
                f", {fmt_flop(added + earlier)} with the lesser updates before it"
                if earlier
                else ""
            )
            return (
                f"it adds {fmt_flop(added)} FLOP of post-training{total}, above the "
                f"charter's {fmt_flop(threshold)}"
            )
        return (
            f"its configuration lists {fmt_flop(listed)} FLOP of post-training that the "
            f"approved one does not, above the charter's {fmt_flop(threshold)}"
        )
    before = approved.max_inference_flop if approved is not None else 0
    after = flop(b.inference.max_inference_flop_per_task)
    if after - before > flop(rules.inference_update_threshold_flop):
        return (
            f"it raises the per-task inference ceiling from {fmt_flop(before)} to "
            f"{fmt_flop(after)} FLOP, by more than the charter's "
            f"{fmt_flop(flop(rules.inference_update_threshold_flop))}"
        )
    return None


def _approved_submission(st: PolicyState, decision: int) -> int | None:
    """The submission *decision* approved (None if it approved nothing). A decision's
    outcome is what it says, a second decision on a submission included (S10 reports
    that one; the reference auditor's reading M1)."""
    sub = st.subs.get(st.decided.get(decision, -1))
    return sub.index if sub is not None and st.approval_ms(decision) is not None else None


def check_model_update(
    st: PolicyState, index: int, b: ModelUpdate, logged_ms: int
) -> list[Finding]:
    out = claimed_time_gap(
        st, "S15", index, logged_ms, what="offer date", claimed=b.offered_from, before_only=True
    )
    run = st.runs.get(b.preregistration)
    approved = _approved_of_its_run(st, b)
    if run is None or approved is None:
        return [
            *out,
            violation(
                "S15",
                (b.decision, index),
                f"the update names decision {b.decision}, which approved no model of run "
                f"{run.run_id if run else b.preregistration}: only an approved model is updated",
            ),
        ]
    rejected = st.rejected.get(b.model_digest)
    if rejected is not None:
        # Weights last rejected cannot come back as a change to an approved model.
        out.append(
            violation(
                "S15",
                (b.decision, rejected, index),
                f"the update's weights are those decision {rejected} rejected: a rejected "
                "model is not offered as a change to an approved one",
            )
        )
    for contest, resolution in upheld_against(st, b.model_digest):
        out.append(
            violation(
                "S15",
                (b.decision, contest, resolution, index),
                f"the update's weights are those contest finding {contest} was upheld "
                f"against (entry {resolution}): a model a finding was upheld against is "
                "not offered as a change to an approved one",
            )
        )
    why = significant(st, b, logged_ms)
    if why is None:
        # A lesser update is a fact the register and the model's page show; it breaks
        # nothing, so it is not a finding (policy-notes, S15).
        return out
    evaluated = st.subs.get(b.evaluated_as) if b.evaluated_as is not None else None
    if evaluated is not None and evaluated.index == approved:
        # The approval being updated is not a new evaluation of the update: naming it
        # would let any change ride on the evaluation of the model before it.
        out.append(
            violation(
                "S15",
                (b.decision, index),
                f"the update is significant ({why}), yet the evaluation it names is that of "
                f"submission {approved}, the model before the update, not a new evaluation "
                "and decision of the updated model",
            )
        )
    elif evaluated is None or evaluated.outcome != "approved" or evaluated.decision is None:
        return [
            *out,
            violation(
                "S15",
                (b.decision, index),
                f"the update is significant ({why}), yet it is offered without a new "
                "evaluation and decision of the updated model",
            ),
        ]
    same = (
        evaluated.model_digest == b.model_digest
        and evaluated.config == config_digest(b.inference)
        and st.runs[evaluated.prereg].root == run.root
    )
    if not same:
        return [
            *out,
            violation(
                "S15",
                (b.decision, evaluated.index, index),
                f"the update is significant ({why}); submission {evaluated.index}, which it "
                "names as evaluated, is not the updated model and configuration of this run",
            ),
        ]
    return out


def _approved_of_its_run(st: PolicyState, b: ModelUpdate) -> int | None:
    """The submission the update's decision approved, if it is a model of the update's
    own run (None otherwise)."""
    run = st.runs.get(b.preregistration)
    approved = _approved_submission(st, b.decision)
    if run is None or approved is None or st.runs[st.subs[approved].prereg].root != run.root:
        return None
    return approved


def upheld_against(st: PolicyState, digest: str) -> list[tuple[int, int]]:
    """(contest finding, its first resolution) of each finding upheld, in whole or in
    part, against a submission of the weights *digest*."""
    out = []
    for ci in st.contested.get(digest, ()):
        c = st.contests[ci]
        if c.resolution is not None and c.outcome in ("upheld", "upheld_in_part"):
            out.append((ci, c.resolution))
    return out


def offered_before(st: PolicyState, digest: str, index: int, why: str) -> list[Finding]:
    """S15 for each update of an approved model that offered the weights *digest*
    before entry *index*, which rejects them or upholds a finding against them (*why*):
    a model offered before it was rejected was offered all the same."""
    return [
        violation(
            "S15",
            (decision, index, update),
            f"update {update} offered these weights as a change to the model decision "
            f"{decision} approved, and {why}: a rejected or contested model was on offer",
        )
        for update, decision in st.offered.get(digest, ())
    ]


def apply_model_update(st: PolicyState, index: int, b: ModelUpdate, logged_ms: int) -> None:
    lesser = significant(st, b, logged_ms) is None
    st.updates[index] = Update(index, b.preregistration, b.decision, logged_ms, not lesser)
    if _approved_of_its_run(st, b) is None:
        return
    st.offered.setdefault(b.model_digest, []).append((index, b.decision))
    if lesser:
        # Only an update of the model the decision approved adds to that model's total:
        # one naming another run's (or no) approval changes nothing of it.
        st.lesser_added[b.decision] = st.lesser_added.get(b.decision, 0) + flop(
            b.added_posttraining_flop
        )
