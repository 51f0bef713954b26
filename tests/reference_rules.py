"""A second, deliberately plain implementation of Frontier Ledger's audit rules.

Written from the documents alone: design/POLICY.md (the rules), docs/policy-notes.md
(their readings, the tables "Evidence: which entries a finding names" and "Evidence
for S15-S19", the fields and entry types added to v1), design/FORMATS.md (leaf, DSSE
envelope, payload), verifier/entries/payloads.py (field names and types, TYPES) and
verifier/entries/fields.py (value formats, roles).
It does not use the project's policy engine or replay; where the two disagree,
one of them is wrong.

    reference_audit(origin, leaves, now_ms, blobs) -> {(rule, severity, indices)}

covers L2, L3, L4 and S1-S19 (L1 and L5 concern checkpoints and witnesses).

How it is written: every question is answered by scanning the list of entries
again ("was run R's pre-registration logged before index i?" scans entries[:i]).
The only pass that remembers anything is admission: whether entry *i* is admitted
is decided from the entries before it and their own verdicts, in index order,
because the key set at *i* is "what the entries before i say it is" (POLICY.md).
"As the log stands before entry i" is ``standing(log, i)``: the same log cut
after entry i-1.

Readings I had to choose
========================

Each item quotes the sentence that left a choice open and says what this file does.
Where the engine and this file disagreed and the documents allowed both readings, the
reading was settled and written into docs/policy-notes.md; those items say "Settled"
and where the notes now state it, and both implementations follow them.

Admission (L3, L4)
------------------
A1. "An entry that fails any of that is an L3 (or L4 for a reference problem)
    violation." One finding per failing entry; the checks run in this order and
    the first failure names the rule: leaf / envelope / payload shape (L3),
    ``payload.log`` = origin (L3), every signature verifies under a key in force
    (L3), references (L4), roles and quorum (L3). References come before roles
    because a lab entry's organisation and a reveal's committer are read from the
    entry referenced; an entry whose signatures do not verify is reported as L3
    only, whatever it refers to.
A2. "each entry's DSSE signatures must be by keys granted ... holding the role":
    every signature on an envelope must be by a key in force at that index and
    verify, and every signer must hold the required role: a signature by any other
    key is not skipped (as signed notes skip unknown keys) but fails the entry.
    Quorums count distinct key ids (the envelope already forbids two signatures
    with one key id).
A3. Board keys: "regulator board (root keys, m-of-n)" and roles include ``board``.
    The keys holding ``board`` are the charter's root keys plus any key granted
    the ``board`` role; key_grant, key_revoke and log_key_change need
    ``board_quorum`` signatures, all by board keys.
A4. "not revoked before it": a revocation is final; a later key_grant of the same
    key id does not bring it back. Settled (notes, "Rule by rule", L3): a key_revoke
    must name a key in force at its index (a root key, or granted and not revoked);
    revoking a key never granted, or one already revoked, is an L3 violation.
    Settled (notes, L3): a key id is granted once. A key_grant naming a key id that a
    root key has or an earlier admitted key_grant granted (in force or revoked) is an
    L3 violation, and has no effect: the key keeps the roles and holder of its first
    grant. (This file merged a second grant's roles into the key's until 2026-12-07.)
A5. A key_grant whose ``keyid`` is not the hex SHA-256 of its ``public_key`` is an
    L3 violation, as is a charter root key with that mismatch (FORMATS.md: "keyid =
    hex SHA-256 of the raw Ed25519 public key").
A6. log_key_change: its ``new_vkey`` (and ``new_mldsa_vkey``) must be named by the
    origin, carry signature type 0x01 (0x06) and the C2SP key ID
    SHA-256(name || 0x0A || type || key)[:4] (fields.py: "The key itself (type
    byte, key ID, name) is checked when the entry is replayed"); otherwise L3.
    ``old_key_hash`` and ``overlap_end`` are not checked (the auditor has no log key).
A7. A charter anywhere but index 0 is an L3 violation. If entry 0 is not an
    admitted charter, the findings are L3 violation (0), L3 not_auditable () and
    L2; nothing else is judged (no key can be trusted). An empty log has no findings.
A8. The envelope's payloadType version must be 1, like the payload's ``v``.
A9. Roles: ``contester:<org>`` of any organisation may sign a contest_finding (the
    finding names no organisation); ``log`` signs schedule markers; a reveal's
    signers must each have signed the entry it reveals and be in force at the
    reveal. No ``organisation`` entry is required before a ``lab:<org>`` key signs.
A10. L2 compares every leaf that parses; an entry logged out of order is still
    admitted and its own ``logged_at`` is used as its time.

Calendar and levels
-------------------
C1. A calendar month-day that does not exist in a year (02-29) is read as the last
    day of February. The deadline of cycle Y is the first deadline month-day on or
    after the lift day of Y, the decision day the first decision month-day on or
    after that deadline (with the default calendar: all in year Y).
C2. A day ends at the start of the next day, so the submission window is open while
    logged_at < end of the deadline day, and "after the decision day" means at or
    after its end. A limit counted from an instant ("after its limit", "after the
    reply limit", "after the reveal deadline") is passed only strictly after that
    instant: a late decision is in time while logged_at <= the later of (end of the
    decision day, the submission) + limit; a reply while logged_at <= finding + reply
    limit; the reveal warning and the "undecided" and "unresolved" findings fire once
    now_ms is beyond the bound. (The notes' table words these as "after" the limit;
    an instant equal to the limit is not after it.)
C3. Marker deadlines: ``submission_window_closed`` is due at the end of the deadline
    day, ``lift_date`` at the start of the lift day. Settled (notes, S8):
    ``decision_due`` is due at the start of the decision day, when decisions become
    due.
C4. The cycle of a submission is the ``cycle`` of the preregistration it names
    (not the cycle in which it was logged).
C5. The frontier level before the first cycle's lift is initial_frontier_level - 1;
    from it, the initial level, raised by each lift that takes effect. Settled (notes,
    S11): a threshold_schedule that breaks S11 (not on a lift date, skipping a level,
    a lift into a cycle postponed by a postponement logged before it) takes no
    effect: no frontier, no cap. Each schedule is judged once, as the log stands
    before it (in the admission pass, like a verdict): whether it is a lift (its
    level above the frontier just before its date) and its S11 findings. A lift
    takes effect only if its cycle was not postponed by a postponement logged before
    its date, and a lift that does not happen sets no cap either; a schedule at or
    below the frontier is a change of that level's cap, which a postponement does
    not stop ("A lift whose cycle was postponed ... does not happen": postponements
    concern lifts). Schedules that break S12 (notice) still take effect.
C11. Settled (notes, S11): the frontier rises one level at a time. Taking the
    schedules in effect (C5) in date order, a lift raises the frontier only to the
    level just above it; a lift further up (the lift below it lapsed, C10, or was
    postponed, C6, after it was scheduled) is stranded: it raises nothing, its level
    is not lifted by it (S2), and its cap is not in force (C7).
C6. Postponements postpone the lift of every cycle C with from_cycle <= C <
    to_cycle; their ``level`` field is informative and not compared (settled, notes
    S11: lifts are matched by cycle, for any lift). A postponed lift never takes
    effect: the lift in to_cycle needs a schedule of its own.
C7. The cap of level L at time t: the latest schedule for L in effect by t, else
    the charter's level table (first row for L), else no cap. A level below the
    initial frontier is always lifted; a level above it is lifted from the first
    schedule for it that takes effect.
C8. Deregulated level in force at t: the highest level of a deregulation in force
    by t, or -1 (nothing deregulated) when there is none: with no deregulation
    every run is "above the deregulated level".
C9. "As the log stands when the question is asked": for a finding about entry i,
    the entries before i (plus i). For findings that depend on now_ms, the whole log.
C10. Settled (notes, S11): a threshold schedule takes effect only while its date is a
    lift date by the calendar as the log stands (G4): one a calendar amendment leaves
    off a lift date lapses (no lift, no cap), and takes effect again if a later
    amendment puts its date back on a lift date. Whether it was a lift is still judged
    once, when it is logged (C5). The amendment that leaves it off gets an S11 notice
    naming T and X: T admitted before X, with no S11 finding of its own, its date a
    lift date before X and not after.

Rules
-----
R1. S1 lead time: "counted from the pre-registration's logged_at to the claimed
    start" and "start (start as above)" in the table: the start used is
    min(claimed, logged_at). P is the version the training_started names.
R2. S1 submission without a start: the deregulated level is taken at the
    submission's logged_at; "any version" is any version of the run. Settled (notes,
    "The chain of an approval"): a run is its first pre-registration and every
    version that supersedes it, directly or transitively; an entry naming any
    version belongs to the whole run. P is the version the submission names.
R3. S2 applies to every pre-registration and every start (deregulated levels too).
    The cap for S2's pre-registration check is the cap in force at planned_start as
    the log stands at the pre-registration. A level with no cap is reported on the
    pre-registration only ("P at a level with no cap"); a start is judged against the
    level's lift and, when the level has a cap in force, that cap ("plan above the cap
    in force at the start"): with no cap there is nothing for the plan to be above.
R4. S3 applies to every run; its cap is, as the notes read it, the version's level's
    cap of the latest threshold schedule taking effect (C5, C11) logged before the
    event, even one dated later, else the charter's table; with no cap only the plan
    is compared (S2 reports the missing cap). (Until 2026-12-07 this auditor took the
    cap in force at the event's logged_at, which the notes do not say; a found
    schedule, a level-3 run halted before a lift scheduled a cycle early, told them
    apart.)
R5. S4 "after any version of the run started": a training_started logged (by index)
    before the amendment on any version of the run (R2). Settled (notes, S4): when
    several amendments of P precede, A' is the first of them (one finding each A).
R6. S5 is read literally from the table: a halt H naming the very version P the
    submission names, logged before it; H is the first such halt.
R7. S6 link 3: S1-S5 violations found by auditing the log cut just before D; a
    finding is "on an entry of that run" when it names any of: the named version,
    its earlier versions, training events naming those versions, the submission.
    All of them and D make one finding. The run is every version of its first
    pre-registration (R2), with the training events and submissions naming them.
    Settled (notes, chain link 1): S6 link 1 is reported only when the decision
    fails admission with the L4 verdict and its ``submission`` reference is at fault
    (see A1 for the order); a decision failing its own checks (L3) is that alone.
R8. S6 link 2 and S10 apply to every decision, approval or rejection.
R30. S1's lead time runs from the plan in force at the start: the last version of
    the run (in log order, logged before the start report) whose logged_at is not
    after the start, when that is the named version or one after it. A start naming
    a version an amendment had already superseded is judged against the amendment;
    the finding names that version and the start. (Until 2026-12-07 the named
    version: naming the superseded plan escaped the lead time.)
R31. S1 on a provider's evidence: a compute attestation naming a run of its own
    organisation, for a valid period that ended before the lead time after the plan in
    force at the period's end (R30's choice, the period's end for the start), is an S1
    violation naming that version and the attestation, for a run above the level
    deregulated at the period's end. The period's end is the latest the run can have
    started. Only an attestation of more FLOP than the compute tolerance of that plan
    proves a start (a provider's nil return, or a pipeline test, does not). The same
    period ending before the level of that version was lifted is an S2 violation
    naming the same two entries (s2_attested_before_lift). (Until 2026-12-07 only the
    lab's own start report was judged.)
R32. S1 link 4 (a submitted run must have reported its start) applies to a run above
    the level deregulated at the earliest planned start among the run's versions
    (logged before the submission) that were still the plan in force at their own
    planned start (R30's choice), or the submission's logged_at if earlier: with no
    start reported, the plans' starts are the only word on when it trained, and an
    amendment logged after a planned start does not undo it. (Until 2026-12-07 the
    submission's time alone, so a run planned to start before its level was
    deregulated, never reporting a start and submitted after, passed.)
R33. The frontier before the first lift (notes, S2: the initial level is trainable
    from the first cycle's lift date) is the initial level minus one; a schedule of
    the initial level on the first lift date changes its cap and lifts nothing (the
    charter lifts it), and a schedule above it on that date skips a level.
R34. S3 and S4 on a provider's evidence (the notes, "S1 on a provider's evidence"):
    the compute attested for a run's training in all, up to and with attestation A
    (periods that began before the run's first completion logged before A; none if A's
    own began after it), above the plan in force at A's period end (R30's choice) with
    the compute tolerance, or above the level's cap as S3 reads it for a report, with
    no halt of the run logged before A,
    is an S3 violation naming that version and A; an amendment logged after the end
    of a period that proves the run trained (R31's evidence) is an S4 violation naming
    the version it supersedes, the amendment and the attestation, whichever was
    logged first.
R35. Provider evidence counted at least, against the version then (R31, R34 revised
    the same day): the version an attestation is judged against is the run's version
    in force at its period's end (the last logged by then, else the first), whichever
    version it names; compute is summed over the run's attestations (split into small
    pieces it is the same compute), but periods of one provider and cluster that
    overlap (a report to date, a restated period) count once, at the largest. A start
    is proved by the compute of the periods that ended by the attestation's end.
R29. S6 link 3 and the weights: the approval rests on the run of every admitted
    submission of the same model digest logged before the approved run's own first
    submission of it, not only its own run (notes: "the model is its weights"): weights
    first submitted under a run that broke S1-S5 and submitted again under a clean run
    are an S6 violation on the approval, naming the entries of those violations. A
    submission of the digest after the approved run first submitted it does not count
    (the digest was public by then: anyone could submit it). (Until 2026-12-07 only
    the submission's own run.)
R9. S7: a cited result about another submission does not count as passing; every
    failing cited result is named, whichever submission it is about. Settled (notes,
    S7): an approval citing no results cites all the submission's results logged
    before it, for both clauses (a passing one needed, no failing one among them).
    A contest is judged by its first resolution logged before D. The suite's level
    list is not compared with the run's level (S7 does not ask for it).
R10. S7 "unresolved" means no resolution logged before the approval; a decision
    need not cite the resolutions (``findings``) for them to count.
R11. S8: any admitted ``submission_window_closed`` marker of the cycle logged
    before a submission makes it late, even a marker logged too early.
R12. S8/S9 judge every decision of a submission (the first and any repeats); S10
    reports the repeats. "Undecided" means no decision in the whole log.
R13. S9 "earlier late E of its cycle": a late submission of the same cycle with a
    lower index, not decided before D; one finding per such E (settled, notes S9).
R14. S10: a repeated decision or resolution is named against the first one;
    "resolved by R after it" looks at the first resolution only; a result after
    the decision is named against the first decision of S.
R15. S11 "a decision date passed with a lift T scheduled next": for each schedule T
    on the lift date of cycle Y+1 that raises the level (level above the frontier
    just before its date), once the decision day of cycle Y has passed: no
    approval (any admitted decision "approved") of a submission whose version has
    level T.level - 1 logged by the end of that decision day, and no postponement
    covering cycle Y+1 logged before the lift. T need not have been logged before
    the decision date. A postponement logged after the decision day is only the
    S11 warning. Settled (notes, S11): a schedule that breaks S11 when logged (its
    own S11 finding, e.g. a lift into a cycle already postponed) takes no effect, so
    it is not a lift scheduled next either.
R16. S11 "postponement P logged after the decision date before the lift": P's
    logged_at is at or after the end of the decision day of from_cycle - 1 (also
    when it comes after the lift). With the default calendar (decision 12-31, lift
    01-01) the decision day ends at the lift instant, so "after the decision date,
    before the lift" is an empty window.
R17. S11 "lift T into a cycle postponed by P": P logged (by index) before T, T's
    date in a cycle P postpones, and T a lift (its level above the frontier just
    before its date, as the log stands before T).
R18. S12 applies to threshold_schedule, deregulation and charter_amendment (the
    "rule change"); a postponement is exempt.
R19. S13 retroactive: the start of the effective date is before the entry's
    logged_at, with no slack (settled, notes S13). "Above frontier - lag" is judged
    as the log stands at X; it may fire together with the (P, X) finding, which needs
    P logged before the lift on X's date took effect (settled).
R20. S13 "P freezes X logged before it": X would be in force as the log stands just
    before P and is not once P is counted (settled, notes "Postponements and
    deregulation").
R21. S14: a sealed document is any Document with ``sealed`` true (plan, public and
    secret suite documents, report, evidence). A reveal matches when the revealed
    content recomputes one of the entry's sealed commitments; an entry with no
    sealed document cannot match (violation even without the blob); a blob that
    does not hash to ``content_sha256`` counts as unavailable (not_auditable).
R28. Settled (notes, S14): an entry that sealed several documents is revealed when as
    many reveals naming it, of different documents (content digests), are admitted;
    one reveal does not clear the warning for the others.
R22. S14 "unrevealed after the reveal deadline": judged at now_ms like the other
    time-dependent findings: now_ms is beyond the commitment's logged_at +
    reveal_deadline_days and no admitted reveal naming the entry is in the log
    (a reveal counts whether or not it matches; a mismatch is its own violation).
    A reveal logged after the deadline therefore clears the warning; nothing
    reports it as late. The documents do not say from when the reveal deadline
    is counted; this file counts it from the commitment entry's logged_at. One
    warning per entry, even when it holds two sealed documents.

R23. S14's warning for an unrevealed document is given only for entries of the types
    a reveal may name (payloads.py, ``Reveal.commitment``: preregistration,
    eval_suite, eval_result, contest_finding). A sealed document of another type
    (an observer statement's document, research access terms) could never be
    revealed, so the warning could never clear; it is not given.

R24. Settled (notes, "Contests and remedies"): only a finding's first resolution
    takes effect; a remedy naming a second resolution of its finding is not valid
    (so it is on time or late by its own logged_at, and its approval is S7).

R25. Settled (notes, "Contests and remedies"): a contest finding is about the model,
    by its model_digest. The same weights submitted again (another submission, with
    or without ``remedies``) are bound by every finding about any submission of that
    digest logged before the approval: unresolved or upheld, it is S7 on the
    approval, named as for the submission's own findings (C, D or C, R, D).

R26. Settled (notes, S7): "An approval cannot hide a failing result by citing
    nothing" -- nor by citing only the passing ones: every failing result of the
    submission logged before the approval counts, cited or not (R..., D).
R27. Settled (notes, S7): a result whose outcome is pass but which lists a failing
    category, or lists no category, is not a passing result; the first is a failing
    one. Either is an S7 warning on the result itself (R). A failing result of any
    submission of the same model_digest logged before the approval is a failing
    result of the approved submission too (D with the failing results).

Admission of the new types (L3)
-------------------------------
A11. Notes, the type table: "model_update | lab:<org> (the run's)", "compute_attestation
    | compute:<provider>", "charter_amendment | the board's quorum", "observer_statement
    | observer:<org>", "staff_declaration | regulator", "research_access | regulator".
    Every signer of an attestation must hold ``compute:<payload.provider>``; an
    observer statement may be signed by ``observer:<org>`` of any organisation (the
    statement names none); a model_update needs ``lab:`` of the org of the
    pre-registration it names; a charter_amendment needs board_quorum board keys.
A12. Entries the notes say are "refused" (an amendment without notice, S12; an access
    too short or for a decision that approved nothing, S17; a lab key for former
    staff, S19) are, when a log holds them anyway, treated like the refused entries
    of S6-S13 before them: admitted, reported under their S rule, and in effect (the
    amendment's values apply, the granted key may sign).
A13. A log whose entry 0 is not a valid charter grants no key any role: every later
    entry fails its checks too (L3 on each, "the log has no charter"), as admission
    refuses each; the schedule is not auditable.

Charter amendments: which value applies
---------------------------------------
G1. "a limit counted from an event (a late submission's decision limit, ...) is the
    one in force at that event": for S9 the event is the late submission, so its
    limit is the one in force when the submission is logged, although the limit is
    counted from the later of the decision date and the submission.
G2. "in force at that event" / "in force when the entry judged is logged": the value
    in force at that entry's logged_at, as the log stood before that entry
    (``in_force_at``); an amendment logged later never counts, even if its
    effective date is earlier ("An amendment never moves a deadline already
    running"). Events: the pre-registration (lead time), the contest finding (reply
    limit), the commitment entry (reveal deadline), the approval (research access
    limit), the access entry (its minimum length), a provider's last attestation
    (attestation interval), the departure (cooling-off, H3). Judged entries: the
    changing entry (notice period, S12), the training event or submission (compute
    tolerance, S3), the attestation (compute tolerance, S16), the update
    (thresholds and reporting tolerance, S15), the result (scope, S18), the entry
    claiming a time (reporting tolerance, S1/S3/S8).
G3. An amendment takes effect at the start (00:00 UTC) of its effective_date. When
    several that change one value are in effect, the latest effective date wins,
    then the higher index. An amendment that breaks S12 still takes effect (as a
    schedule does, C5).
G4. "the calendar, for the cycles from calendar_from_cycle on": every admitted
    amendment naming both, in index order (a later one overrides an earlier one for
    the cycles it covers), sets the calendar of the cycles >= calendar_from_cycle;
    its effective_date plays no part in the calendar. Everything drawn from the
    calendar (lift, deadline and decision days, the cycle containing a date, marker
    deadlines, the first cycle's lift) uses each cycle's own calendar. An amendment
    naming a cycle already under way (its lift, by the calendars of the amendments
    logged before, has come when it is logged) changes that cycle too; it is an S12
    violation.
G6. Settled (notes, "Charter amendments"): a calendar's month-days must come in
    order within a year, lift < submission deadline < decision. A charter whose
    calendar does not is no charter (entry 0 fails, L3); an amendment whose calendar
    does not is an S12 violation and changes no cycle's calendar (its other changes
    apply).
G5. "a new calendar the notice period before its first cycle's lift": the lift of
    calendar_from_cycle under the new calendar. A calendar without
    calendar_from_cycle, or the reverse, names no cycle to take effect from: an S12
    violation, and no calendar changes. An amendment failing both notice checks is
    one finding.

Models (S15)
------------
M1. The significant/lesser findings are about "the model approved by D": they judge
    only updates whose decision approved a model of the update's run. "approved no
    model of that run": the decision was a rejection, or its submission's run (first
    version through supersedes) is another run; such an update gets only that
    violation (D, U). Settled (notes, S15): a decision's outcome is what it says, so
    a second decision on a submission (S10) that approves it is an approval here too.
M2. "raises the per-task inference ceiling above the evaluated one": the evaluated
    ceiling is that of the submission decided by the update's decision; a submission
    without ``inference`` counts as 0. ``added_posttraining_flop`` is compared per
    update, not summed over earlier lesser updates. Both thresholds are strict
    ("more than"), in force when the update is logged.
M3. "exactly the updated weights and configuration": the same run, the same
    model_digest and an equal ``inference`` (every field). An ``evaluated_as`` that
    is the updated model but has no approval logged (by index) before the update is
    the first row ("without a valid evaluated_as": D, U); the second row (D, S', U)
    is for an ``evaluated_as`` that is not the updated model of the run.
M4. "An offered_from earlier than the update's logging, beyond the reporting
    tolerance": logged_at - offered_from > tolerance; a later offered_from is fine.
M5. Settled (notes, S15): "a significant one is evaluated and decided anew": an
    ``evaluated_as`` naming the submission the updated decision approved (the model
    before the update) is no new evaluation: violation D, U, besides D, S', U when it
    is not the updated model either.
M6. Settled (notes, S15): "adds more post-training compute than the threshold": the
    post-training declared by U and by the lesser updates of the same decision before
    it, in all, or the post-training U's configuration lists beyond the approved
    submission's, whichever is more.
M7. Settled (notes, S15): an update may not bring back weights that were last
    rejected: when the latest first decision on a submission of U's model_digest
    (logged before U) is a rejection X, it is S15 (D, X, U), significant or not.
M8. Settled (notes, S15): the same when the rejection comes after the update: a
    first decision X rejecting a submission of U's model_digest, logged after U, is
    S15 (D, X, U); the model was on offer while its decision was pending.
M9. Settled (notes, S15): an update whose weights a contest finding C was upheld
    against (C about any submission of that model_digest, its first resolution R
    upheld or upheld in part) is S15 (D, C, R, U) when R is logged before U, and
    (D, R, U) when R is logged after U.
M10. Settled (notes, S15): "its configuration lists beyond the approved one's": the
    FLOP of the post-training steps U's configuration lists that the approved
    submission's does not, each step (method, FLOP, description) matching at most one
    equal step there: a step swapped for another of equal FLOP is listed beyond.

Compute (S16)
-------------
K1. "the cap of the deregulated level in force at the period's start": the
    deregulated level at period_start (reading C8, as the log stands before the
    attestation) and its cap at period_start (C7); 0 when no level is deregulated
    or that level has no cap. "Compute above": flop_delivered > that cap.
K2. "covered by a run the organisation pre-registered (logged) before the period
    started, planning at least that compute (within the compute tolerance) — the
    named run if the attestation names one": a pre-registration (any version)
    admitted before the attestation, of ``org`` = the attestation's organisation,
    with logged_at < period_start and planned_flop x (1 + compute tolerance) >=
    flop_delivered. With a named run only the pre-registration named counts (not the
    other versions of its run: a later version's plan replaces an earlier one, and
    the attestation names the version it served), so a named run of another
    organisation covers nothing (two violations).
K3. "A run whose largest reported cumulative compute is below the compute its
    providers attest for it by more than attestation_tolerance": per run (its first
    version and every version through supersedes), the attestations naming any
    version are summed; reports are the training events' cumulative_flop and the
    submissions' final_flop; R is the first report with the largest value; the
    warning fires when largest < attested x (1 - tolerance). A run with no report has
    no R and gets no warning. The tolerance is the one in force when the latest of the
    named entries is logged. Judged on the whole log.
K4. "A provider that has not attested for more than attestation_interval_days": a
    provider is a ``provider`` value of an admitted attestation; its last attestation
    (by index) A; the notice once now_ms > A's logged_at + the interval in force at A
    ("more than": silent for exactly the interval is not yet silent, unlike the
    deadlines of C2). A provider key that never attested is not shown (the finding
    names A).
K5. Settled (notes, S16): "a run still under way when the period started": a run is
    over at an instant t when a training_completed or training_halted naming any of
    its versions, admitted before the attestation, was logged at or before t. K2's
    covering pre-registration must belong to a run not over at period_start.
K6. Settled (notes, S16): "the run it names, against all the compute attested for
    it": for an attestation A naming pre-registration P of A's organisation, the
    attestations admitted up to A (A included) to that organisation naming a version
    of P's run that is also that organisation's sum to T; when T > the free cap (K1,
    at A's period_start) and P's planned_flop x (1 + compute tolerance at A) < T, A is
    an S16 violation (whether or not P was under way: K2's question, of A alone).
K7. Settled (notes, S16): "the organisation's compute over the periods that overlap
    this one" (since K10 and K12, the window's): for every A, the attestations to A's
    organisation admitted before A, naming one of its runs or not (K12), whose periods
    overlap A's ([start, end) each:
    b.start < a.end and a.start < b.end), and A, sum to T; the runs of that
    organisation under way at A's period_start (a first
    version whose run is not over then, K5, with some version of the organisation's
    admitted before A and logged before period_start) each plan the most any such
    version plans; when T > the free cap and their sum x (1 + tolerance) < T, A is an
    S16 violation.
K9. Settled (notes, S16): a run is under way (K2, K5) only once its training is
    reported started: a training_started naming any of its versions admitted before
    the attestation, whatever time it claims. Its plan (K2's covering, K6, K7) is
    that of its latest version of the organisation logged before period_start (in
    index order), smaller or larger than earlier ones; K6 for a named run not under
    way then takes the named version's plan.
K8. Settled (notes, S16): an attestation whose period_end is not after its
    period_start is an S16 violation (refused at admission): an empty or reversed
    period overlaps nothing and would escape K7.
K12. Settled (notes, S16): K7's sum takes every attestation to the organisation,
    naming one of its runs or not, A included whatever it names: a run's plan cannot
    cover the same compute once named and once not, and compute named for a
    pre-registration that is not under way is not hidden from the organisation's sum.
    The runs it is held to are those under way at some time from the earliest start
    of the periods summed (or the window's start, if earlier) to A's period start.
K11. Settled (notes, S16): an organisation is registered at entry E when an
    organisation entry with its org_id, or a key_grant whose roles hold lab:<org>, is
    admitted before E (a later revocation does not unregister it). K7's sum for an A
    whose organisation is not registered at A takes, instead of that organisation's
    attestations, those to every organisation not registered at each one (naming no
    run of its own organisation), against the runs of A's organisation (K10).
K10. Settled (notes, S16): W is compute_window_days in force at A (days, G2).
    A run (K5) is also not under way at t when t >= the planned_end of its version
    that K9 takes the plan of (or the start of 1 January after that version's cycle,
    if earlier), + W: a run never reported over stops covering compute one window
    after its planned end. A version admitted after a completion or halt
    of its run (by index) is not one the run ran under: K9 passes over it. K7's sum
    takes the attestations whose periods overlap [min(start, end - W), end) instead
    of A's period, against the runs under way at some time in that window up to
    period_start: K9's runs, not over (K5) by the window's start and not W past the
    planned end by then.

Access, scope, staff (S17, S18, S19)
------------------------------------
H1. "each access must last at least research_access_min_days": from its opening
    ("the later of access_from and the entry's logging") to the start of
    access_until (the day named is not included).
H2. "Each approved model's access must open within research_access_limit_days ... of
    its approval": every admitted approval decision, counted from its logged_at,
    with the limit in force then. The model's access opens when its first access
    opens: "first access X" is the admitted research_access naming D that opens
    earliest (then the lower index), not the first logged. "Within" the limit
    includes its last instant (C2: the limit itself is not after it): access is late
    when it opens after approval + limit, and with none the violation (D) appears
    once now_ms is beyond that bound (the table: "no access after the limit").
H3. "A key_grant of a lab's role to a holder of the same name within
    cooling_off_days ... after a departure": a grant holding any ``lab:`` role (not
    only the organisation the declaration names), whose ``holder`` is the
    declaration's ``staff`` (up to case and spacing, H6), logged after a
    ``departure`` declaration (by index) and before the start of its ``date`` + the
    cooling-off in force then (as the log stood before the declaration); a grant
    between the declaration and the date is held into the cooling-off (H6).
    Conflicts and divestments start no cooling-off.
H4. S18: a result is outside the scope when any of its ``results[].category`` is not
    in the non-empty scope in force when the result is logged.
H5. S10 "an approval cannot be withdrawn": no new finding; a second decision on any
    decided submission is already S10 (R14), whatever the outcomes.
H6. Settled (notes, S19): "a holder of the same name" is the same name up to case and
    white space ("Evaluation Officer 7 " is "Evaluation officer 7"), and a lab key
    granted after the departure was declared but before its date is held into the
    cooling-off: both are S19 (L, G), as H3's grant after the date.
H7. Settled (notes, S19): one key may not hold a ``lab:`` role together with
    ``board``, ``regulator``, ``evaluator``, ``observer:*`` or ``compute:*``: such a
    grant is S19 (G), refused; if forced in, the key holds both.
H8. Settled (notes, S19): the reason of H7 is the person's. A key_grant whose holder is
    the holder (as H6 compares names) of a key in force at the grant -- a root key (its
    ``name``, holding ``board``, granted at 0) or an admitted grant before it, not
    revoked by an admitted key_revoke before it -- is S19 (K, G) when one of the two
    holds a ``lab:`` role and the other an H7 overseeing role, whichever came first.
    Refused, like H7.
H9. Settled (notes, S19): a departure is dated by the log as well as by the
    declaration. The person is "in post" while they hold a key (as H8) with
    ``board``, ``regulator`` or ``evaluator``: at the declaration L if such a key is
    in force then, else at the latest admitted revocation R before L of such a key
    (by logged_at, then index). The cooling-off runs from the later of the start of
    the declared ``date`` and that time (H3's value in force at that instant). When
    that time is more than the reporting tolerance (in force at L) after the start of
    the date, S19 warning: (R, L), or (L) when a staff key is in force at L.
H10. Settled (notes, S19): a key with a ``lab:`` role granted to the person (as H8)
    before their departure L was declared is S19 (K, L) when it is in force at some
    instant of the cooling-off (H9) no later than now_ms: in force from its grant's
    logged_at until its first admitted revocation's logged_at (excluded), or for
    good. A key revoked before the departure's start is not.

Where the documents disagree with each other
--------------------------------------------
D1. POLICY.md's charter row lists "the roles each entry type requires"; the
    Charter payload has no such field and payloads.py says "The charter may not
    override these". This file uses TYPES.
D2. POLICY.md's key_grant row lists "organisation"; the payload has ``holder`` (a
    name) and the organisation lives in the role (``lab:<org>``).
D3. POLICY.md's S1 says "the claimed start", the notes' S1 says "counted from the
    pre-registration's logged_at to the claimed start", but the evidence table and
    "Claimed times" say the start counts at min(claimed, logged). Reading R1.
D4. S12 in POLICY.md requires notice for a postponement; the notes exempt it.
    The notes win (R18).
D5. payloads.py has ``Submission.updates`` ("This submission evaluates an update of
    an approved model"), which the notes do not mention; S15 links the update to
    the submission through ``evaluated_as``, which must be approved before the
    update, while ``updates`` must name an earlier update. This file checks
    ``updates`` as a reference only (L4).
D6. POLICY.md's actors and roles list no compute provider or observer; the notes
    and fields.py add ``compute:<org>`` and ``observer:<org>``. The notes win.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier.core.leaf import pae, parse_leaf
from verifier.entries.codec import parse_payload, references
from verifier.entries.fields import parse_date, parse_flop, parse_time
from verifier.entries.payloads import TYPES, Calendar, Charter, Document

Finding = tuple[str, str, tuple[int, ...]]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
COMMITMENT_PREFIX = b"frontier-ledger/commitment/v1\n"
TRAINING_EVENTS = ("training_started", "training_halted", "training_completed")
UPHELD = ("upheld", "upheld_in_part")
#: payloads.py, Reveal.commitment: the types of entry a reveal may name (reading R23).
REVEALABLE = ("preregistration", "eval_suite", "eval_result", "contest_finding")
NO_BLOBS: Mapping[str, bytes] = MappingProxyType({})


def finding(rule: str, severity: str, *indices: int) -> Finding:
    """'a finding names ... the entry indices that prove it ... in ascending order
    without repeats' (notes, "Evidence")."""
    return (rule, severity, tuple(sorted(set(indices))))


# == The log as read =========================================================


@dataclass
class Entry:
    """One leaf as read: its time, its typed payload, its signatures, and the
    admission verdict (set once, in index order)."""

    index: int
    logged_at: int | None = None  # milliseconds; None when the leaf does not parse
    type: str | None = None  # None when the leaf or payload does not parse
    log: str = ""
    body: Any = None
    payload_type: str = ""
    payload: bytes = b""
    signatures: tuple[tuple[str, bytes], ...] = ()  # (keyid, signature)
    parse_error: str | None = None
    verdict: tuple[str, str] | None = None  # (rule, reason) when not admitted
    admitted: bool = False
    #: A threshold schedule as judged when it was logged (reading C5): whether it
    #: raises the level above the frontier just before its date, and its S11 findings.
    lift: bool = False
    s11: frozenset[Finding] = frozenset()


@dataclass
class Log:
    origin: str
    entries: list[Entry]
    now_ms: int
    blobs: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def charter(self) -> Charter:
        return self.entries[0].body


def read_entry(index: int, data: bytes) -> Entry:
    """FORMATS.md "Leaf": '{"envelope": {DSSE}, "logged_at": ..., "v": 1}'; "Envelope":
    payloadType 'application/vnd.frontier-ledger.<type>.v1+json'; "Payload": 'Unknown
    types and versions fail closed'."""
    try:
        leaf = parse_leaf(data)
    except ValueError as exc:
        return Entry(index, parse_error=f"not a valid leaf: {exc}")
    env = leaf.envelope
    entry = Entry(
        index,
        logged_at=leaf.logged_at_ms,
        payload_type=env.payload_type,
        payload=env.payload,
        signatures=tuple((s.keyid, s.sig) for s in env.signatures),
    )
    if env.type_version != 1:
        entry.parse_error = f"payloadType version {env.type_version} is not 1"
        return entry
    try:
        payload = parse_payload(env.payload, expected_type=env.entry_type)
    except ValueError as exc:
        entry.parse_error = f"payload: {exc}"
        return entry
    entry.type, entry.log, entry.body = payload.type, payload.log, payload.body
    return entry


def standing(log: Log, n: int) -> Log:
    """The log as it stood before entry *n* was appended: entries[:n]."""
    return Log(log.origin, log.entries[:n], log.now_ms, log.blobs)


def admitted(log: Log, *types: str, before: int | None = None) -> list[Entry]:
    """Admitted entries of the given types (all types if none), in index order."""
    end = len(log.entries) if before is None else before
    return [e for e in log.entries[:end] if e.admitted and (not types or e.type in types)]


def at(log: Log, index: int) -> Entry:
    return log.entries[index]


# == Time and the calendar ===================================================


def start_of(day: dt.date) -> int:
    """Milliseconds at 00:00:00 UTC of *day*."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def end_of(day: dt.date) -> int:
    """The end of *day*: 00:00:00 UTC of the next day (exclusive)."""
    return start_of(day + dt.timedelta(days=1))


def month_day(year: int, mmdd: str) -> dt.date:
    """MM-DD in *year*; 02-29 in a common year is read as 02-28 (reading C1)."""
    month, day = int(mmdd[:2]), int(mmdd[3:])
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return dt.date(year, month, day)


def first_on_or_after(day: dt.date, mmdd: str) -> dt.date:
    candidate = month_day(day.year, mmdd)
    return candidate if candidate >= day else month_day(day.year + 1, mmdd)


def calendar_of(log: Log, cycle: int) -> Calendar:
    """Notes: a charter amendment changes 'the calendar, for the cycles from
    calendar_from_cycle on (cycles under way keep their dates)'; 'a calendar amendment
    changes the calendar of cycles from calendar_from_cycle on' (reading G4: the
    amendments admitted in *log*, later ones over earlier ones, whatever their notice)."""
    cal = log.charter.calendar
    for a in admitted(log, "charter_amendment"):
        changes = a.body.changes
        if changes.calendar is not None and changes.calendar_from_cycle is not None:
            if not in_order(changes.calendar):
                continue  # G6: no calendar at all
            cal = changes.calendar if cycle >= changes.calendar_from_cycle else cal
    return cal


def in_order(calendar: Any) -> bool:
    """G6: 'lift, then submission deadline, then decision, within the cycle's year'."""
    days = [
        (int(d[:2]), int(d[3:]))
        for d in (calendar.lift, calendar.submission_deadline, calendar.decision)
    ]
    return days[0] < days[1] < days[2]


def lift_day(log: Log, cycle: int) -> dt.date:
    """'Cycle Y is named by the year of its lift date.'"""
    return month_day(cycle, calendar_of(log, cycle).lift)


def deadline_day(log: Log, cycle: int) -> dt.date:
    deadline = calendar_of(log, cycle).submission_deadline
    return first_on_or_after(lift_day(log, cycle), deadline)


def decision_day(log: Log, cycle: int) -> dt.date:
    return first_on_or_after(deadline_day(log, cycle), calendar_of(log, cycle).decision)


def window_close(log: Log, cycle: int) -> int:
    """'the submission window closes at the end of the deadline day'."""
    return end_of(deadline_day(log, cycle))


def is_lift_date(log: Log, day: dt.date) -> bool:
    return day == lift_day(log, day.year)


def cycle_containing(log: Log, day: dt.date) -> int:
    """The cycle whose lift day is the last one on or before *day*."""
    return day.year if day >= lift_day(log, day.year) else day.year - 1


# == Charter values in force =================================================


def value_in_force(log: Log, name: str, t: int) -> Any:
    """Notes: 'a charter_amendment entry ... changes the charter's rules from its
    effective_date'. The charter's value of *name*, changed by every amendment admitted
    in *log* that names it and whose effective date has begun by *t*, in order of
    effective date, then index (reading G3)."""
    value = getattr(log.charter, name)
    amendments = sorted(
        admitted(log, "charter_amendment"), key=lambda a: (effective_ms(a), a.index)
    )
    for a in amendments:
        changed = getattr(a.body.changes, name)
        if changed is not None and effective_ms(a) <= t:
            value = changed
    return value


def in_force_at(log: Log, name: str, e: Entry) -> Any:
    """Notes, "Which value applies": 'a limit counted from an event ... is the one in
    force at that event; every other value is the one in force when the entry judged
    is logged.' Either way: the value in force at *e*'s logged_at, as the log stood
    before *e* (reading G2; the caller passes the event or the judged entry)."""
    return value_in_force(standing(log, e.index), name, e.logged_at)


def days_in_force(log: Log, name: str, e: Entry) -> int:
    """A number of days in force at *e* (in_force_at), in milliseconds."""
    return in_force_at(log, name, e) * DAY_MS


def effective_date(e: Entry) -> dt.date:
    return parse_date(e.body.effective_date, "effective_date")


def effective_ms(e: Entry) -> int:
    """A threshold change or deregulation takes effect at the start of its date."""
    return start_of(effective_date(e))


def claimed_ms(e: Entry) -> int:
    """The time a payload claims: ``time`` of a training event, ``submitted_at``."""
    text = e.body.submitted_at if e.type == "submission" else e.body.time
    return parse_time(text, "claimed time")


def start_ms(t: Entry) -> int:
    """'A start counts at the earlier of its claimed time and the logged_at of its
    training_started entry'."""
    return min(claimed_ms(t), t.logged_at)


def tolerance_ms(log: Log, e: Entry) -> int:
    """'report_tolerance_hours, 48 hours when the charter does not say', in force when
    *e* is logged."""
    return in_force_at(log, "report_tolerance_hours", e) * HOUR_MS


def claim_is_far(log: Log, e: Entry) -> bool:
    """'A claimed time more than the charter's reporting tolerance ... before or after
    its entry's logged_at is a warning'."""
    return abs(claimed_ms(e) - e.logged_at) > tolerance_ms(log, e)


# == Admission: L3 and L4 ====================================================


def b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def signature_verifies(public_key: bytes, e: Entry, sig: bytes) -> bool:
    """FORMATS.md: 'Signatures are over PAE = "DSSEv1 " + len(type) + " " + type + " "
    + len(body) + " " + body'."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(sig, pae(e.payload_type, e.payload))
    except (InvalidSignature, ValueError):
        return False
    return True


def granted_key_ids(log: Log, i: int) -> set[str]:
    """Every key id the charter or an admitted key_grant before *i* granted (A4)."""
    roots = {root.keyid for root in log.charter.root_keys}
    return roots | {g.body.keyid for g in admitted(log, "key_grant", before=i)}


def keys_in_force(log: Log, i: int) -> dict[str, tuple[bytes, set[str]]]:
    """POLICY.md: 'Every key is granted in the log before it signs anything, with the
    roles it may sign for ...; revocation is an entry too. ... The key set at index i
    is what the entries before i say it is'. Root keys hold ``board`` (A3); a
    revocation is final (A4). Returns keyid -> (public key, roles)."""
    keys: dict[str, tuple[bytes, set[str]]] = {}
    for root in log.charter.root_keys:
        keys[root.keyid] = (b64(root.public_key), {"board"})
    for grant in admitted(log, "key_grant", before=i):  # one grant per key id (A4)
        keys[grant.body.keyid] = (b64(grant.body.public_key), set(grant.body.roles))
    for revoke in admitted(log, "key_revoke", before=i):
        keys.pop(revoke.body.keyid, None)
    return keys


def charter_problem(log: Log) -> str | None:  # noqa: PLR0911 - one return per check
    """POLICY.md: "charter | board (index 0)", with "root keys and quorum"; L3: "key
    management entries meet the board quorum". Entry 0 must be a charter for this
    origin signed by board_quorum of its own root keys (reading A5)."""
    e = at(log, 0)
    if e.parse_error:
        return e.parse_error
    if e.type != "charter":
        return "entry 0 is not a charter"
    if e.log != log.origin:
        return "the charter is for another log"
    roots: dict[str, bytes] = {}
    for root in e.body.root_keys:
        public_key = b64(root.public_key)
        if hashlib.sha256(public_key).hexdigest() != root.keyid:
            return f"root key {root.name}: keyid is not the SHA-256 of its public key"
        roots[root.keyid] = public_key
    for keyid, sig in e.signatures:
        if keyid not in roots:
            return "the charter is signed by a key that is not one of its root keys"
        if not signature_verifies(roots[keyid], e, sig):
            return "a signature on the charter does not verify"
    if len(e.signatures) < e.body.board_quorum:
        return "the charter lacks the board quorum of root-key signatures"
    if not in_order(e.body.calendar):
        return "the charter's calendar days are out of order (G6)"
    return None


def vkey_problem(vkey: str, origin: str, sig_type: int) -> str | None:
    """FORMATS.md: 'vkey = <name>+<8 lowercase hex keyid>+<base64(type || pubkey)>';
    'key ID = SHA-256(name || 0x0A || type || pubkey)[:4]'; 'the log key's name = the
    origin' (reading A6)."""
    name, keyid, key_b64 = vkey.split("+", 2)
    key = b64(key_b64)
    if name != origin:
        return "the new log key is not named by the origin"
    if key[0] != sig_type:
        return f"the new log key is not of signature type {sig_type:#04x}"
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != keyid:
        return "the new log key's key ID does not match the key"
    return None


def content_problem(log: Log, e: Entry) -> str | None:
    """Checks of a payload's own fields that the parser cannot make (readings A5, A6)."""
    if e.type == "key_grant" and hashlib.sha256(b64(e.body.public_key)).hexdigest() != (
        e.body.keyid
    ):
        return "key_grant: keyid is not the SHA-256 of public_key"
    if e.type == "key_grant" and e.body.keyid in granted_key_ids(log, e.index):
        return "key_grant: the key was granted before (reading A4)"
    if e.type == "log_key_change":
        problem = vkey_problem(e.body.new_vkey, log.origin, 0x01)
        if problem is None and e.body.new_mldsa_vkey is not None:
            problem = vkey_problem(e.body.new_mldsa_vkey, log.origin, 0x06)
        return problem
    return None


def reference_problem(log: Log, e: Entry, field_name: str | None = None) -> str | None:
    """L4: 'references point backwards to an entry of the right type'; the table: 'a
    reference in i is not backwards, or to a wrong type, or to an entry that failed
    its checks'. With *field_name*, only the references in that field."""
    for path, target, allowed in references(e.body):
        if field_name is not None and path.split("[")[0] != field_name:
            continue
        if target >= e.index:
            return f"{path} names entry {target}, which is not earlier"
        referenced = at(log, target)
        if not referenced.admitted:
            return f"{path} names entry {target}, which failed its own checks"
        if referenced.type not in allowed:
            return f"{path} names entry {target}, a {referenced.type}, not a {'/'.join(allowed)}"
    return None


def lab_org(log: Log, e: Entry) -> str:
    """'the org of a preregistration is its org field; training events and submissions
    take the org of the preregistration they reference'; a model_update is signed by
    "lab:<org> (the run's)", the org of the preregistration it names."""
    if e.type == "preregistration":
        return e.body.org
    return at(log, e.body.preregistration).body.org


def role_problem(log: Log, e: Entry, keys: dict[str, tuple[bytes, set[str]]]) -> str | None:
    """POLICY.md: 'A lab key signs only for its own organisation'; TYPES gives the role
    each type requires; 'key management entries meet the board quorum'; "decision |
    regulator (quorum if the charter says so)"; "reveal | the committer". Notes:
    "model_update | lab:<org> (the run's)", "compute_attestation | compute:<provider>",
    "charter_amendment | the board's quorum", "observer_statement | observer:<org>"
    (reading A11)."""
    required = TYPES[e.type][1]
    signers = [keyid for keyid, _ in e.signatures]
    charter = log.charter
    if required == "committer":
        committers = {keyid for keyid, _ in at(log, e.body.commitment).signatures}
        if not set(signers) <= committers:
            return "a reveal must be signed by a key that signed the entry it reveals"
        return None
    if required == "lab":
        role = f"lab:{lab_org(log, e)}"
    elif required == "compute":
        role = f"compute:{e.body.provider}"
    elif required in ("contester", "observer"):
        role = f"{required}:"
    else:
        role = required
    for keyid in signers:
        roles = keys[keyid][1]
        holds = any(r.startswith(role) for r in roles) if role.endswith(":") else role in roles
        if not holds:
            return f"{e.type} signed by a key without the role {role}"
    if required == "board" and len(signers) < charter.board_quorum:
        return f"{e.type} lacks the board quorum ({charter.board_quorum})"
    if e.type == "decision" and len(signers) < charter.decision_quorum:
        return f"decision lacks the decision quorum ({charter.decision_quorum})"
    return None


def admission_problem(log: Log, i: int) -> tuple[str, str] | None:  # noqa: PLR0911 - one per check
    """L3: 'every entry's envelope verifies under a key granted for that role at that
    index, not revoked before it; key management entries meet the board quorum.'
    L4: 'references point backwards to an entry of the right type.' Order: A1."""
    e = at(log, i)
    if e.parse_error:
        return ("L3", e.parse_error)
    if e.type == "charter":
        return ("L3", "a charter may only be entry 0")
    if e.log != log.origin:
        return ("L3", f"payload.log is {e.log!r}, not this log's origin")
    problem = content_problem(log, e)
    if problem:
        return ("L3", problem)
    keys = keys_in_force(log, i)
    for keyid, sig in e.signatures:
        if keyid not in keys:
            return ("L3", f"signed by key {keyid[:12]}…, which is not in force at {i}")
        if not signature_verifies(keys[keyid][0], e, sig):
            return ("L3", f"the signature of key {keyid[:12]}… does not verify")
    if e.type == "key_revoke" and e.body.keyid not in keys:
        return ("L3", "key_revoke: the key is not in force (never granted, or revoked before)")
    problem = reference_problem(log, e)
    if problem:
        return ("L4", problem)
    problem = role_problem(log, e, keys)
    if problem:
        return ("L3", problem)
    return None


def read_log(origin: str, leaves: Sequence[bytes], now_ms: int, blobs: Mapping[str, bytes]) -> Log:
    """Read every leaf, then decide admission in index order: each verdict is a
    function of the entries before it and their verdicts."""
    log = Log(origin, [read_entry(i, data) for i, data in enumerate(leaves)], now_ms, blobs)
    problem = charter_problem(log)
    if problem:
        # Reading A13: without a valid charter no key is granted any role, so every
        # entry fails its checks (L3), the charter first.
        log.entries[0].verdict = ("L3", problem)
        for e in log.entries[1:]:
            e.verdict = ("L3", "the log has no charter")
        return log
    log.entries[0].admitted = True
    for i in range(1, len(log.entries)):
        e = log.entries[i]
        verdict = admission_problem(log, i)
        e.verdict = verdict
        e.admitted = verdict is None
        if e.admitted and e.type == "threshold_schedule":
            e.lift, e.s11 = judge_schedule(standing(log, i), e)
    return log


def l2_findings(log: Log) -> set[Finding]:
    """L2: '`logged_at` never decreases with the index.' Table: 'entry i logged before
    the latest logged_at so far' names j, i, where j is the first entry logged at that
    latest time."""
    out = set()
    for e in log.entries:
        earlier = [p for p in log.entries[: e.index] if p.logged_at is not None]
        if e.logged_at is None or not earlier:
            continue
        latest = max(p.logged_at for p in earlier)  # type: ignore[type-var]
        if e.logged_at < latest:
            j = min(p.index for p in earlier if p.logged_at == latest)
            out.add(finding("L2", "violation", j, e.index))
    return out


def admission_findings(log: Log) -> set[Finding]:
    """Table: 'L3 violation: i is not a valid leaf, or fails its signature, schema,
    origin, role or quorum checks'; 'L4 violation: a reference in i is not backwards,
    or to a wrong type, or to an entry that failed its checks'."""
    return {finding(e.verdict[0], "violation", e.index) for e in log.entries if e.verdict}


# == Runs ====================================================================


def prereg_of(log: Log, e: Entry) -> Entry:
    """The preregistration a training event or submission names."""
    return at(log, e.body.preregistration)


def first_version(log: Log, p: Entry) -> Entry:
    """'the same first pre-registration through supersedes'."""
    while p.body.supersedes is not None:
        p = at(log, p.body.supersedes)
    return p


def run_versions(log: Log, p: Entry) -> list[Entry]:
    """Notes: 'A run is its first pre-registration together with every version that
    supersedes it, directly or transitively; an entry naming any version belongs to the
    whole run.' Every admitted version of p's run in *log*, in index order."""
    root = first_version(log, p).index
    return [v for v in admitted(log, "preregistration") if first_version(log, v).index == root]


def reported_flop(e: Entry) -> int:
    text = e.body.final_flop if e.type == "submission" else e.body.cumulative_flop
    return parse_flop(text, "flop")


def sealed_documents(e: Entry) -> list[Document]:
    """Every Document with ``sealed`` true in a payload (reading R21)."""
    docs = [getattr(e.body, f.name) for f in dataclasses.fields(e.body)]
    return [d for d in docs if isinstance(d, Document) and d.sealed]


# == Thresholds, the frontier, caps, deregulation ===========================


def postponements_of_cycle(log: Log, cycle: int, logged_before: int) -> list[Entry]:
    """Postponements (admitted in *log*) logged before *logged_before* that postpone
    the lift of *cycle*: from_cycle <= cycle < to_cycle (reading C6)."""
    return [
        p
        for p in admitted(log, "threshold_postponement")
        if p.logged_at is not None
        and p.logged_at < logged_before
        and p.body.from_cycle <= cycle < p.body.to_cycle
    ]


def frontier_from(log: Log, lifts: list[Entry], t: int) -> int:
    """The frontier level at instant *t* given the schedules that take effect: raised
    by each lift among them (reading C5)."""
    charter = log.charter
    first_lift = start_of(lift_day(log, charter.first_cycle))
    level = (
        charter.initial_frontier_level if t >= first_lift else charter.initial_frontier_level - 1
    )
    for lift in lifts:  # in date order
        # Reading C11: one level at a time; a lift further up is stranded.
        if lift.lift and effective_ms(lift) <= t and lift.body.level == level + 1:
            level = lift.body.level
    return level


def stranded(log: Log, s: Entry) -> bool:
    """Reading C11: a lift in effect to a level more than one above the frontier just
    before its date (the lift below it lapsed or was postponed)."""
    return s.lift and s.body.level > frontier_at(log, effective_ms(s) - 1) + 1


def judge_schedule(before: Log, t: Entry) -> tuple[bool, frozenset[Finding]]:
    """A threshold schedule as the log stands before it (*before*): whether it is a lift
    (its level above the frontier just before its date) and its S11 findings. S11: 'a
    lift to level L+1 takes effect only on a lift date'; table: 'threshold change T not
    on a lift date, or skipping a level' -> T; 'lift T into a cycle postponed by P' ->
    P, T (reading R17: P logged before T, whatever level it names)."""
    day = effective_date(t)
    if not is_lift_date(before, day):
        return False, frozenset({finding("S11", "violation", t.index)})
    frontier = frontier_at(before, effective_ms(t) - 1)
    charter = before.charter
    if t.body.level == charter.initial_frontier_level and day == lift_day(
        before, charter.first_cycle
    ):
        # Reading R33: the charter lifts the initial level on the first lift date.
        frontier = charter.initial_frontier_level
    if t.body.level <= frontier:
        return False, frozenset()  # a change of a lifted level's cap, not a lift
    found = set()
    if t.body.level > frontier + 1:
        found.add(finding("S11", "violation", t.index))
    cycle = cycle_containing(before, day)
    for p in admitted(before, "threshold_postponement"):
        if p.body.from_cycle <= cycle < p.body.to_cycle:
            found.add(finding("S11", "violation", p.index, t.index))
    return True, frozenset(found)


def schedules_in_effect(log: Log) -> list[Entry]:
    """Notes: 'A threshold schedule that breaks S11 ... takes no effect'; 'A lift whose
    cycle was postponed (before it took effect) does not happen' (neither the level nor
    its cap). Reading C5: the admitted schedules without an S11 finding when logged,
    less the lifts whose cycle a postponement logged before their date postpones."""
    in_effect = [
        t
        for t in admitted(log, "threshold_schedule")
        if not t.s11
        and is_lift_date(log, effective_date(t))  # reading C10: not lapsed
        and not (
            t.lift
            and postponements_of_cycle(
                log, cycle_containing(log, effective_date(t)), effective_ms(t)
            )
        )
    ]
    return sorted(in_effect, key=lambda t: (effective_ms(t), t.index))


def frontier_at(log: Log, t: int) -> int:
    """The level in force at instant *t*, 'given every postponement logged before'."""
    return frontier_from(log, schedules_in_effect(log), t)


#: An instant after every date a log can hold: "whenever it takes effect".
FAR_FUTURE_MS = 2**62


def cap_at(log: Log, level: int, t: int) -> int | None:
    """'the cap in force for its level' at *t* (reading C7); None: the level has no cap."""
    scheduled = [
        s
        for s in schedules_in_effect(log)
        if s.body.level == level and effective_ms(s) <= t and not stranded(log, s)
    ]
    if scheduled:
        latest = max(scheduled, key=lambda s: (effective_ms(s), s.index))
        return parse_flop(latest.body.cap_flop, "cap_flop")
    for row in log.charter.levels:
        if row.level == level:
            return parse_flop(row.cap_flop, "cap_flop")
    return None


def level_lifted_at(log: Log, level: int, t: int) -> bool:
    """Notes S2: 'the start against the level's lift (the initial frontier level is
    trainable from the first cycle's lift date; lower levels always)'."""
    charter = log.charter
    if level < charter.initial_frontier_level:
        return True
    if level == charter.initial_frontier_level:
        return t >= start_of(lift_day(log, charter.first_cycle))
    return any(
        s.lift
        and s.body.level == level
        and effective_ms(s) <= t
        and frontier_at(log, effective_ms(s) - 1) + 1 == level
        for s in schedules_in_effect(log)
    )


def on_postponed_lift_date(log: Log, x: Entry) -> list[Entry]:
    """The postponements (logged before the lift took effect) of the lift on x's date,
    if x's effective date is a lift date."""
    day = effective_date(x)
    if not is_lift_date(log, day):
        return []
    return postponements_of_cycle(log, cycle_containing(log, day), effective_ms(x))


def deregulation_in_force_rule(log: Log, x: Entry) -> bool:
    """Notes: 'counting only deregulations that, as the log stands when the question is
    asked, do not take effect on a lift date whose lift was postponed (before it took
    effect), and deregulate at most frontier - lag, the frontier being the level in
    force on their effective date given every postponement logged before that date.'"""
    if on_postponed_lift_date(log, x):
        return False
    return x.body.level <= frontier_at(log, effective_ms(x)) - log.charter.deregulation_lag


def deregulated_level_at(log: Log, t: int) -> int:
    """'The deregulated level in force at a time t is the highest level of a
    deregulation that took effect by t' (-1: none, reading C8)."""
    levels = [
        x.body.level
        for x in admitted(log, "deregulation")
        if effective_ms(x) <= t and deregulation_in_force_rule(log, x)
    ]
    return max(levels, default=-1)


# == S1 ======================================================================


def s1_start_without_lead_time(log: Log) -> set[Finding]:
    """S1: 'every run above the deregulated cap has a pre-registration logged before its
    training_started (by index and by time), at least the charter's pre-registration
    lead time before the claimed start.' Notes: 'applies to runs above the deregulated
    level on the day they start'; table: 'started (start as above) before its
    pre-registration P was logged, or less than the lead time after' -> P, start."""
    out = set()
    for t in admitted(log, "training_started"):
        p = prereg_of(log, t)
        start = start_ms(t)
        if start >= p.logged_at:
            # Reading R30: the plan in force at the start, the last version of the run
            # (by index, before the start report) logged by the start.
            p = [
                v
                for v in run_versions(log, p)
                if v.index < t.index and v.logged_at <= start and v.index >= p.index
            ][-1]
        if p.body.level <= deregulated_level_at(standing(log, t.index), start):
            continue
        if start < p.logged_at + days_in_force(log, "preregistration_lead_days", p):
            out.add(finding("S1", "violation", p.index, t.index))
    return out


def period_of(a: Entry) -> tuple[int, int]:
    return (
        parse_time(a.body.period_start, "period_start"),
        parse_time(a.body.period_end, "period_end"),
    )


def version_then(log: Log, named: Entry, before: int, t: int) -> Entry:
    """Reading R35: the run's version in force at *t*, whichever version was named: the
    last admitted version of the run (index below *before*) logged by *t*, or its first
    version if none was."""
    versions = [v for v in run_versions(log, named) if v.index < before]
    logged = [v for v in versions if v.logged_at <= t]
    return logged[-1] if logged else first_version(log, named)


def least_delivered(attestations: list[Entry]) -> int:
    """Reading R35: the compute *attestations* prove, at least. Per provider and cluster,
    the periods are chained while each starts before the latest end so far; a chain
    counts once, at its largest amount (overlapping periods may be the same compute);
    chains, providers and clusters add up."""
    total = 0
    sources = {(a.body.provider, a.body.cluster) for a in attestations}
    for source in sources:
        mine = sorted(
            (*period_of(a), parse_flop(a.body.flop_delivered, "flop_delivered"))
            for a in attestations
            if (a.body.provider, a.body.cluster) == source
        )
        chains: list[list[int]] = []  # [reach, largest]
        for start, end, amount in mine:
            if chains and start < chains[-1][0]:
                chains[-1] = [max(chains[-1][0], end), max(chains[-1][1], amount)]
            else:
                chains.append([end, amount])
        total += sum(largest for _, largest in chains)
    return total


def run_attestations(log: Log, named: Entry, through: int) -> list[Entry]:
    """The admitted attestations up to index *through* naming a version of *named*'s
    run, each for the organisation of the version it names, with a period not empty."""
    versions = {v.index for v in run_versions(log, named)}
    out = []
    for x in admitted(log, "compute_attestation", before=through + 1):
        if x.body.run not in versions or at(log, x.body.run).body.org != x.body.organisation:
            continue
        start, end = period_of(x)
        if end > start:
            out.append(x)
    return out


def provider_evidence(log: Log, a: Entry) -> tuple[Entry, int] | None:
    """Readings R31, R35: what attestation *a* proves of the run it names, as (the run's
    version in force at its period's end, that end), or None. It proves the run trained
    by the end of its period when it names a run of its own organisation, its period is
    not empty, and the compute attested for the run over periods that ended by then
    (least_delivered, with the earlier attestations) is more than the compute tolerance
    (in force when *a* is logged) of that version's plan."""
    if a.body.run is None:
        return None
    named = at(log, a.body.run)
    start, end = period_of(a)
    if named.body.org != a.body.organisation or end <= start:
        return None
    p = version_then(log, named, a.index, end)
    ended = [x for x in run_attestations(log, named, a.index) if period_of(x)[1] <= end]
    planned = parse_flop(p.body.planned_flop, "planned_flop")
    if least_delivered(ended) <= planned * Fraction(in_force_at(log, "compute_tolerance", a)):
        return None
    return p, end


def s1_attested_before_lead_time(log: Log) -> set[Finding]:
    """Reading R31: compute a provider attests for a run over a period that ended
    before the lead time after the plan in force at the period's end proves the run
    trained before it could start: S1 -> that version, A."""
    out = set()
    for a in admitted(log, "compute_attestation"):
        proved = provider_evidence(log, a)
        if proved is None:
            continue
        p, end = proved
        if p.body.level <= deregulated_level_at(standing(log, a.index), end):
            continue
        if end < p.logged_at + days_in_force(log, "preregistration_lead_days", p):
            out.add(finding("S1", "violation", p.index, a.index))
    return out


def s2_attested_before_lift(log: Log) -> set[Finding]:
    """Reading R31, for S2: compute attested for a run over a period that ended before
    the level of the plan in force then was lifted -> that version, A."""
    out = set()
    for a in admitted(log, "compute_attestation"):
        proved = provider_evidence(log, a)
        if proved is None:
            continue
        p, end = proved
        if not level_lifted_at(standing(log, a.index), p.body.level, end):
            out.add(finding("S2", "violation", p.index, a.index))
    return out


def s1_submission_without_start(log: Log) -> set[Finding]:
    """Notes: 'a submission whose run (any version) has no training_started logged
    before it is an S1 violation' (for 'A run above the deregulated level that is
    submitted'); table: -> P, S (reading R2)."""
    out = set()
    for s in admitted(log, "submission"):
        p = prereg_of(log, s)
        # Reading R32: judged at the earliest planned start of a version still in force
        # at its own planned start, or the submission if earlier.
        versions = [v for v in run_versions(log, p) if v.index < s.index]
        when = s.logged_at
        for u in versions:
            ps = parse_time(u.body.planned_start, "planned_start")
            by_then = [v for v in versions if v.logged_at <= ps and v.index >= u.index]
            if ps < u.logged_at or by_then[-1].index == u.index:
                when = min(when, ps)
        if p.body.level <= deregulated_level_at(standing(log, s.index), when):
            continue
        versions = {v.index for v in run_versions(log, p)}
        starts = [
            t
            for t in admitted(log, "training_started", before=s.index)
            if t.body.preregistration in versions
        ]
        if not starts:
            out.add(finding("S1", "violation", p.index, s.index))
    return out


def s1_claimed_start_far(log: Log) -> set[Finding]:
    """Table: 'training_started T claims a time beyond the reporting tolerance from its
    logged_at' -> warning T."""
    return {
        finding("S1", "warning", t.index)
        for t in admitted(log, "training_started")
        if claim_is_far(log, t)
    }


# == S2 ======================================================================


def s2_plan_above_cap(log: Log) -> set[Finding]:
    """S2: 'planned FLOP <= the cap in force for its level on the start date'. Table:
    'pre-registration P at a level with no cap, or planning more than the cap at its
    planned start' -> P."""
    out = set()
    for p in admitted(log, "preregistration"):
        planned_start = parse_time(p.body.planned_start, "planned_start")
        cap = cap_at(standing(log, p.index), p.body.level, planned_start)
        if cap is None or parse_flop(p.body.planned_flop, "planned_flop") > cap:
            out.add(finding("S2", "violation", p.index))
    return out


def s2_start_before_lift_or_above_cap(log: Log) -> set[Finding]:
    """S2: 'training starts on or after that level's effective date.' Table: 'start T
    before the level's lift, or plan above the cap in force at the start' -> P, T."""
    out = set()
    for t in admitted(log, "training_started"):
        p = prereg_of(log, t)
        before_t = standing(log, t.index)
        start = start_ms(t)
        cap = cap_at(before_t, p.body.level, start)
        planned = parse_flop(p.body.planned_flop, "planned_flop")
        above_cap = cap is not None and planned > cap
        if not level_lifted_at(before_t, p.body.level, start) or above_cap:
            out.add(finding("S2", "violation", p.index, t.index))
    return out


# == S3 ======================================================================


def exceeds_plan_or_cap(log: Log, e: Entry) -> bool:
    """S3: 'actual cumulative FLOP (submission, halts) <= planned x (1 + tolerance) and
    <= the cap' (reading R4)."""
    p = prereg_of(log, e)
    flop = reported_flop(e)
    allowed = parse_flop(p.body.planned_flop, "planned_flop") * (
        1 + Fraction(in_force_at(log, "compute_tolerance", e))
    )
    # Notes S3: "the level's cap of the latest threshold schedule logged before the
    # report, even one that takes effect later" (reading R4).
    cap = cap_at(standing(log, e.index), p.body.level, FAR_FUTURE_MS)
    return flop > allowed or (cap is not None and flop > cap)


def s3_excess(log: Log) -> set[Finding]:
    """Table: 'a training event or submission E reports cumulative FLOP above plan x
    (1 + tolerance) or above the cap, and E is not a halt' -> violation P, E; 'a halt H
    reports such an excess (the required reaction)' -> notice P, H."""
    out = set()
    for e in admitted(log, *TRAINING_EVENTS, "submission"):
        if exceeds_plan_or_cap(log, e):
            severity = "notice" if e.type == "training_halted" else "violation"
            out.add(finding("S3", severity, prereg_of(log, e).index, e.index))
    return out


def s3_claimed_time_far(log: Log) -> set[Finding]:
    """Table: 'a halt or completion E claims a time beyond the reporting tolerance' ->
    warning E."""
    return {
        finding("S3", "warning", e.index)
        for e in admitted(log, "training_halted", "training_completed")
        if claim_is_far(log, e)
    }


# == S4 ======================================================================


def amendments_of(log: Log, p: Entry, before: int) -> list[Entry]:
    return [
        a for a in admitted(log, "preregistration", before=before) if a.body.supersedes == p.index
    ]


def s4_amendment_after_start(log: Log) -> set[Finding]:
    """S4: 'amendments (supersedes) only before training starts'. Notes: 'forbids
    amendments once any version of the run has started'. Table: 'amendment A of P
    after any version of the run started' -> P, A (reading R5)."""
    out = set()
    for a in admitted(log, "preregistration"):
        if a.body.supersedes is None:
            continue
        p = at(log, a.body.supersedes)
        versions = {v.index for v in run_versions(log, p)}
        started = [
            t
            for t in admitted(log, "training_started", before=a.index)
            if t.body.preregistration in versions
        ]
        if started:
            out.add(finding("S4", "violation", p.index, a.index))
    return out


def s4_amended_after_proven_start(log: Log) -> set[Finding]:
    """Reading R34: an amendment A of a run logged after the end of a period over which
    a provider attests compute proving the run trained (provider_evidence), whichever
    of the two was logged first: S4 -> A's superseded version, A, the attestation."""
    out = set()
    proofs = [
        (x, proved[1])
        for x in admitted(log, "compute_attestation")
        if (proved := provider_evidence(log, x)) is not None
    ]
    for a in admitted(log, "preregistration"):
        if a.body.supersedes is None:
            continue
        root = first_version(log, a).index
        for x, end in proofs:
            if first_version(log, at(log, x.body.run)).index == root and end < a.logged_at:
                out.add(finding("S4", "violation", a.body.supersedes, a.index, x.index))
    return out


def s3_attested_beyond_plan(log: Log) -> set[Finding]:
    """Readings R34, R35, for S3: the compute attested for a run's training, at least
    (least_delivered of its attestations up to and with A, for periods that began before
    the run's first completion logged before A; none if A's own began after it), above
    the plan of the run's version in force at A's period end x (1 + the compute
    tolerance in force at A), or above the level's cap as S3 reads it for a report,
    while no version of the run halted before A: S3 -> that version, A."""
    out = set()
    for a in admitted(log, "compute_attestation"):
        if a.body.run is None:
            continue
        named = at(log, a.body.run)
        start, end = period_of(a)
        if named.body.org != a.body.organisation or end <= start:
            continue
        versions = {v.index for v in run_versions(log, named)}
        if any(
            h.body.preregistration in versions
            for h in admitted(log, "training_halted", before=a.index)
        ):
            continue
        ends = [
            e.logged_at
            for e in admitted(log, "training_completed", before=a.index)
            if e.body.preregistration in versions
        ]
        over = min(ends) if ends else None
        if over is not None and start >= over:
            continue  # not the run's training (S16 asks what covers it)
        counted = [
            x
            for x in run_attestations(log, named, a.index)
            if over is None or period_of(x)[0] < over
        ]
        total = least_delivered(counted)
        p = version_then(log, named, a.index, end)
        allowed = parse_flop(p.body.planned_flop, "planned_flop") * (
            1 + Fraction(in_force_at(log, "compute_tolerance", a))
        )
        cap = cap_at(standing(log, a.index), p.body.level, FAR_FUTURE_MS)
        if total > allowed or (cap is not None and total > cap):
            out.add(finding("S3", "violation", p.index, a.index))
    return out


def s4_amendment_of_amended(log: Log) -> set[Finding]:
    """Notes: 'an amendment of an already-amended version is a warning'. Table:
    'amendment A of a version P already amended by A'' -> P, A', A."""
    out = set()
    for a in admitted(log, "preregistration"):
        if a.body.supersedes is None:
            continue
        p = at(log, a.body.supersedes)
        earlier = amendments_of(log, p, a.index)
        if earlier:
            out.add(finding("S4", "warning", p.index, earlier[0].index, a.index))
    return out


def s4_event_on_amended_version(log: Log) -> set[Finding]:
    """Table: 'a training event E refers to a version P amended by A'' -> P, A', E."""
    out = set()
    for e in admitted(log, *TRAINING_EVENTS):
        p = prereg_of(log, e)
        earlier = amendments_of(log, p, e.index)
        if earlier:
            out.add(finding("S4", "warning", p.index, earlier[0].index, e.index))
    return out


def s4_second_start(log: Log) -> set[Finding]:
    """Table: 'a second training_started T2 for the same version (first T1)' -> T1, T2."""
    out = set()
    for t in admitted(log, "training_started"):
        earlier = [
            u
            for u in admitted(log, "training_started", before=t.index)
            if u.body.preregistration == t.body.preregistration
        ]
        if earlier:
            out.add(finding("S4", "warning", earlier[0].index, t.index))
    return out


# == S5 ======================================================================


def s5_halted_submitted(log: Log) -> set[Finding]:
    """S5: 'a halted run is not submitted unless a new pre-registration is logged.'
    Table: 'submission S of a version P with a halt H' -> P, H, S (reading R6)."""
    out = set()
    for s in admitted(log, "submission"):
        halts = [
            h
            for h in admitted(log, "training_halted", before=s.index)
            if h.body.preregistration == s.body.preregistration
        ]
        if halts:
            out.add(finding("S5", "violation", s.body.preregistration, halts[0].index, s.index))
    return out


def s1_to_s5_violations(log: Log) -> set[Finding]:
    """Every violation of S1-S5 in *log* (warnings and notices are not violations)."""
    found = (
        s1_start_without_lead_time(log)
        | s1_attested_before_lead_time(log)
        | s1_submission_without_start(log)
        | s2_plan_above_cap(log)
        | s2_start_before_lift_or_above_cap(log)
        | s2_attested_before_lift(log)
        | s3_excess(log)
        | s4_amendment_after_start(log)
        | s4_amended_after_proven_start(log)
        | s3_attested_beyond_plan(log)
        | s5_halted_submitted(log)
    )
    return {f for f in found if f[1] == "violation"}


# == Submissions: cycle, remedies, on time ==================================


def decisions_of(log: Log, s: Entry, before: int | None = None) -> list[Entry]:
    return [d for d in admitted(log, "decision", before=before) if d.body.submission == s.index]


def resolutions_of(log: Log, c: Entry, before: int | None = None) -> list[Entry]:
    return [
        r for r in admitted(log, "contest_resolution", before=before) if r.body.finding == c.index
    ]


def approvals(log: Log) -> list[Entry]:
    return [d for d in admitted(log, "decision") if d.body.outcome == "approved"]


def cycle_of(log: Log, s: Entry) -> int:
    """Reading C4: the cycle of the preregistration the submission names."""
    return prereg_of(log, s).body.cycle


def remedy_problem(log: Log, s: Entry) -> str | None:
    """Notes: 'a remedy is valid when remedies names a resolution whose outcome is upheld
    or upheld_in_part, whose finding is about a submission S0 that names a version of
    the same run (the same first pre-registration through supersedes), and the
    remedy's model_digest differs from S0's'. None: valid."""
    r = at(log, s.body.remedies)
    if resolutions_of(log, at(log, r.body.finding))[0].index != r.index:
        return "it names a second resolution of the finding: only the first takes effect"
    if r.body.outcome not in UPHELD:
        return "the resolution it remedies was not upheld"
    s0 = at(log, at(log, r.body.finding).body.submission)
    if first_version(log, prereg_of(log, s0)).index != first_version(log, prereg_of(log, s)).index:
        return "the remedied submission is of another run"
    if s0.body.model_digest == s.body.model_digest:
        return "the remedy submits the same model"
    return None


def is_valid_remedy(log: Log, s: Entry) -> bool:
    return s.body.remedies is not None and remedy_problem(log, s) is None


def remedied_submission(log: Log, s: Entry) -> Entry:
    """S0 of a valid remedy S'."""
    return at(log, at(log, at(log, s.body.remedies).body.finding).body.submission)


def is_on_time(log: Log, s: Entry) -> bool:
    """Notes: 'A submission is on time if it was logged before the window closed and
    before the cycle's submission_window_closed marker'; 'a valid remedy keeps S0's
    on-time status'; otherwise 'such a submission is on time or late by its own
    logged_at' (reading R11)."""
    if is_valid_remedy(log, s):
        return is_on_time(log, remedied_submission(log, s))
    cycle = cycle_of(log, s)
    markers = [
        m
        for m in admitted(log, "schedule_marker", before=s.index)
        if m.body.marker == "submission_window_closed" and m.body.cycle == cycle
    ]
    return s.logged_at < window_close(log, cycle) and not markers


def late_decision_due(log: Log, s: Entry) -> int:
    """Notes S9: 'a late submission's decision is due by the later of its decision date
    and its submission, plus the late-decision limit' (reading C2); the limit is the one
    in force when the late submission is logged (reading G1)."""
    decision_end = end_of(decision_day(log, cycle_of(log, s)))
    return max(decision_end, s.logged_at) + days_in_force(log, "late_decision_limit_days", s)


# == S6 ======================================================================


def s6_decision_without_submission(log: Log) -> set[Finding]:
    """Notes, chain link 1: 'The decision names an earlier entry that is an admitted
    submission. If it names a later entry, an entry of another type, or an entry that
    failed its own checks, the decision fails admission (L4) and is reported under
    S6'. Table: -> X, D (only D if X >= D)."""
    out = set()
    for d in log.entries:
        if d.type != "decision" or d.verdict is None or d.verdict[0] != "L4":
            continue
        if reference_problem(log, d, "submission") is None:
            continue
        x = d.body.submission
        out.add(
            finding("S6", "violation", d.index)
            if x >= d.index
            else finding("S6", "violation", x, d.index)
        )
    return out


def s6_cites_other_submission(log: Log) -> set[Finding]:
    """Chain link 2: 'Every evaluation result the decision cites is about that
    submission; every contest resolution it cites resolves a finding about that
    submission.' Table: 'decision D cites result or resolution R about another
    submission' -> R, D."""
    out = set()
    for d in admitted(log, "decision"):
        for r in d.body.eval_results:
            if at(log, r).body.submission != d.body.submission:
                out.add(finding("S6", "violation", r, d.index))
        for r in d.body.findings:
            contest = at(log, at(log, r).body.finding)
            if contest.body.submission != d.body.submission:
                out.add(finding("S6", "violation", r, d.index))
    return out


def s6_approval_of_broken_run(log: Log) -> set[Finding]:
    """Chain link 3: 'If any violation of S1, S2, S3, S4 or S5 was found, at the time
    the decision is logged, on an entry of that run (its versions, its training events,
    the submission itself), the approval is an S6 violation that names the decision
    and the entries of each of those violations.' (reading R7)"""
    out = set()
    for d in approvals(log):
        s = at(log, d.body.submission)
        # Reading R29: the model is its weights; the runs of every submission of the
        # same digest logged before D are runs the approval rests on.
        own_versions = {v.index for v in run_versions(log, prereg_of(log, s))}
        own_first = min(
            x.index
            for x in admitted(log, "submission", before=d.index)
            if x.body.model_digest == s.body.model_digest and x.body.preregistration in own_versions
        )
        same_weights = [
            x
            for x in admitted(log, "submission", before=own_first)
            if x.body.model_digest == s.body.model_digest
        ]
        run_entries: set[int] = set()
        for sub in {s.index: s, **{x.index: x for x in same_weights}}.values():
            versions = {v.index for v in run_versions(log, prereg_of(log, sub))}
            events = {
                e.index
                for e in admitted(log, *TRAINING_EVENTS, before=d.index)
                if e.body.preregistration in versions
            }
            run_entries |= versions | events | {sub.index}
        broken = [f for f in s1_to_s5_violations(standing(log, d.index)) if run_entries & set(f[2])]
        if broken:
            named = [i for f in broken for i in f[2]]
            out.add(finding("S6", "violation", *named, d.index))
    return out


# == S7 ======================================================================


def s7_no_passing_result(log: Log) -> set[Finding]:
    """S7: 'an approval has a passing eval_result for that submission, from a suite
    published before the submission deadline of its cycle'. Notes: 'a passing result,
    among those the decision cites (all the submission's results if it cites none),
    from a suite logged before the cycle's submission deadline'; table -> S, D."""
    out = set()
    for d in approvals(log):
        s = at(log, d.body.submission)
        close = window_close(log, cycle_of(log, s))
        if d.body.eval_results:
            candidates = [at(log, r) for r in d.body.eval_results]
        else:
            candidates = [
                r
                for r in admitted(log, "eval_result", before=d.index)
                if r.body.submission == s.index
            ]
        passing = [
            r
            for r in candidates
            if r.body.submission == s.index
            and says_pass(r)
            and at(log, r.body.suite).logged_at < close
        ]
        if not passing:
            out.add(finding("S7", "violation", s.index, d.index))
    return out


def says_pass(r: Entry) -> bool:
    """R27: outcome pass, at least one category, and every category passed."""
    return (
        r.body.outcome == "pass"
        and len(r.body.results) > 0
        and all(c.outcome == "pass" for c in r.body.results)
    )


def says_fail(r: Entry) -> bool:
    """R27: outcome fail, or a failing category whatever the outcome says."""
    return r.body.outcome == "fail" or any(c.outcome == "fail" for c in r.body.results)


def s7_result_contradicts_itself(log: Log) -> set[Finding]:
    """R27: an eval_result whose outcome is pass with a failing category or none -> R."""
    return {
        finding("S7", "warning", r.index)
        for r in admitted(log, "eval_result")
        if r.body.outcome == "pass" and not says_pass(r)
    }


def s7_failing_cited(log: Log) -> set[Finding]:
    """Notes S7: 'no failing cited result', and an approval that cites none cites all
    the submission's results (logged before it), for this clause too; table: 'approval
    D citing failing results R...' -> R..., D."""
    out = set()
    for d in approvals(log):
        own = [
            r.index
            for r in admitted(log, "eval_result", before=d.index)
            if r.body.submission == d.body.submission
        ]
        cited = d.body.eval_results or own
        digest = at(log, d.body.submission).body.model_digest
        same_weights = [
            r.index
            for r in admitted(log, "eval_result", before=d.index)
            if at(log, r.body.submission).body.model_digest == digest
        ]
        # Reading R26: the submission's failing results count whether cited or not;
        # R27: so do those of every submission of the same weights.
        failing = sorted({r for r in (*cited, *own, *same_weights) if says_fail(at(log, r))})
        if failing:
            out.add(finding("S7", "violation", *failing, d.index))
    return out


def contests_on(log: Log, s: Entry, before: int) -> list[Entry]:
    """Notes: 'A contest finding that is upheld ... is upheld against the model that was
    submitted. That model cannot then be approved': the findings about *s* and about any
    submission of the same model_digest, logged before *before* (reading R25)."""
    return [
        c
        for c in admitted(log, "contest_finding", before=before)
        if at(log, c.body.submission).body.model_digest == s.body.model_digest
    ]


def s7_unresolved_contest(log: Log) -> set[Finding]:
    """S7: 'no unresolved or upheld-unremedied contest finding'; table: 'approval D with
    contest finding C on S unresolved' -> C, D."""
    out = set()
    for d in approvals(log):
        for c in contests_on(log, at(log, d.body.submission), d.index):
            if not resolutions_of(log, c, before=d.index):
                out.add(finding("S7", "violation", c.index, d.index))
    return out


def s7_upheld_contest(log: Log) -> set[Finding]:
    """Notes: 'A contest finding that is upheld (in whole or in part) is upheld against
    the model that was submitted. That model cannot then be approved — whether or not
    the resolution says "remedied"'. Table -> C, R, D (reading R9: first resolution)."""
    out = set()
    for d in approvals(log):
        for c in contests_on(log, at(log, d.body.submission), d.index):
            resolutions = resolutions_of(log, c, before=d.index)
            if resolutions and resolutions[0].body.outcome in UPHELD:
                out.add(finding("S7", "violation", c.index, resolutions[0].index, d.index))
    return out


def s7_invalid_remedy(log: Log) -> set[Finding]:
    """Notes: 'an approval of a remedy that is not valid is an S7 violation'; table:
    'approval D of remedy submission S' whose remedies R is not a valid remedy' ->
    R, S', D."""
    out = set()
    for d in approvals(log):
        s = at(log, d.body.submission)
        if s.body.remedies is not None and remedy_problem(log, s) is not None:
            out.add(finding("S7", "violation", s.body.remedies, s.index, d.index))
    return out


# == S8 ======================================================================


def s8_on_time_decided_off_day(log: Log) -> set[Finding]:
    """S8: 'on-time submissions ... are decided on the decision date: not earlier (no
    racing), not later'. Notes: 'the decision date is the whole decision day'. Table:
    'on-time S decided by D before the decision day or after it' -> S, D."""
    out = set()
    for d in admitted(log, "decision"):
        s = at(log, d.body.submission)
        if not is_on_time(log, s):
            continue
        day = decision_day(log, cycle_of(log, s))
        if not start_of(day) <= d.logged_at < end_of(day):
            out.add(finding("S8", "violation", s.index, d.index))
    return out


def s8_on_time_undecided(log: Log) -> set[Finding]:
    """Table: 'on-time S undecided after its decision day' -> S (judged at now_ms)."""
    out = set()
    for s in admitted(log, "submission"):
        if not is_on_time(log, s):
            continue
        day_end = end_of(decision_day(log, cycle_of(log, s)))
        if log.now_ms >= day_end and not decisions_of(log, s):
            out.add(finding("S8", "violation", s.index))
    return out


def marker_due(log: Log, m: Entry) -> int:
    """Reading C3: when each marker's deadline has passed."""
    cycle = m.body.cycle
    if m.body.marker == "submission_window_closed":
        return window_close(log, cycle)
    if m.body.marker == "decision_due":
        return start_of(decision_day(log, cycle))
    return start_of(lift_day(log, cycle))


def s8_marker_early(log: Log) -> set[Finding]:
    """Table: 'schedule marker M logged before its deadline' -> M."""
    return {
        finding("S8", "violation", m.index)
        for m in admitted(log, "schedule_marker")
        if m.logged_at < marker_due(standing(log, m.index), m)  # C9: as the log stood
    }


def s8_marker_repeated(log: Log) -> set[Finding]:
    """Table: 'marker M2 repeats M1' -> notice M1, M2."""
    out = set()
    for m in admitted(log, "schedule_marker"):
        earlier = [
            e
            for e in admitted(log, "schedule_marker", before=m.index)
            if (e.body.marker, e.body.cycle) == (m.body.marker, m.body.cycle)
        ]
        if earlier:
            out.add(finding("S8", "notice", earlier[0].index, m.index))
    return out


def s8_claimed_submission_far(log: Log) -> set[Finding]:
    """Table: 'submission S claims submitted_at beyond the reporting tolerance' ->
    warning S."""
    return {
        finding("S8", "warning", s.index)
        for s in admitted(log, "submission")
        if claim_is_far(log, s)
    }


# == S9 ======================================================================


def s9_late_decided_out_of_time(log: Log) -> set[Finding]:
    """S9: 'late submissions are decided in submission order, none before the batch's
    decision date, each within the late-decision limit.' Table: 'late S decided by D
    before its batch's decision day, or after its limit' -> S, D."""
    out = set()
    for d in admitted(log, "decision"):
        s = at(log, d.body.submission)
        if is_on_time(log, s):
            continue
        batch_day = start_of(decision_day(log, cycle_of(log, s)))
        if d.logged_at < batch_day or d.logged_at > late_decision_due(log, s):
            out.add(finding("S9", "violation", s.index, d.index))
    return out


def s9_decided_out_of_order(log: Log) -> set[Finding]:
    """Notes: 'earlier late submissions of the same cycle must be decided first'. Table:
    'late S decided by D while the earlier late E of its cycle is undecided' ->
    E, S, D."""
    out = set()
    for d in admitted(log, "decision"):
        s = at(log, d.body.submission)
        if is_on_time(log, s):
            continue
        for e in admitted(log, "submission", before=s.index):
            if is_on_time(log, e) or cycle_of(log, e) != cycle_of(log, s):
                continue
            if not decisions_of(log, e, before=d.index):
                out.add(finding("S9", "violation", e.index, s.index, d.index))
    return out


def s9_late_undecided(log: Log) -> set[Finding]:
    """Table: 'late S undecided after its limit' -> S (judged at now_ms)."""
    return {
        finding("S9", "violation", s.index)
        for s in admitted(log, "submission")
        if not is_on_time(log, s)
        and log.now_ms > late_decision_due(log, s)
        and not decisions_of(log, s)
    }


# == S10 =====================================================================


def s10_second_decision(log: Log) -> set[Finding]:
    """S10: 'each submission gets at most one decision'; table: 'S already decided by D1
    gets D2' -> D1, D2."""
    out = set()
    for d in admitted(log, "decision"):
        earlier = decisions_of(log, at(log, d.body.submission), before=d.index)
        if earlier:
            out.add(finding("S10", "violation", earlier[0].index, d.index))
    return out


def s10_result_after_decision(log: Log) -> set[Finding]:
    """Table: 'result R about S logged after S's decision D' -> warning D, R."""
    out = set()
    for r in admitted(log, "eval_result"):
        earlier = decisions_of(log, at(log, r.body.submission), before=r.index)
        if earlier:
            out.add(finding("S10", "warning", earlier[0].index, r.index))
    return out


def s10_second_resolution(log: Log) -> set[Finding]:
    """Table: 'finding C resolved by R1 gets R2' -> C, R1, R2."""
    out = set()
    for r in admitted(log, "contest_resolution"):
        c = at(log, r.body.finding)
        earlier = resolutions_of(log, c, before=r.index)
        if earlier:
            out.add(finding("S10", "violation", c.index, earlier[0].index, r.index))
    return out


def s10_reply_late(log: Log) -> set[Finding]:
    """S10: 'contest findings get a resolution within the reply limit.' Table: 'finding
    C unresolved after the reply limit / resolved by R after it' -> C / C, R."""
    out = set()
    for c in admitted(log, "contest_finding"):
        due = c.logged_at + days_in_force(log, "contest_reply_limit_days", c)
        resolutions = resolutions_of(log, c)
        if not resolutions:
            if log.now_ms > due:
                out.add(finding("S10", "violation", c.index))
        elif resolutions[0].logged_at > due:
            out.add(finding("S10", "violation", c.index, resolutions[0].index))
    return out


# == S11 =====================================================================


def s11_schedule_refused(log: Log) -> set[Finding]:
    """S11 findings of each threshold schedule, judged as the log stood before it
    (judge_schedule): not on a lift date, skipping a level, into a postponed cycle."""
    return {f for t in admitted(log, "threshold_schedule") for f in t.s11}


def s11_postponement_backwards(log: Log) -> set[Finding]:
    """Table: 'postponement P whose to_cycle is not after from_cycle' -> P."""
    return {
        finding("S11", "violation", p.index)
        for p in admitted(log, "threshold_postponement")
        if p.body.to_cycle <= p.body.from_cycle
    }


def s11_postponement_late(log: Log) -> set[Finding]:
    """S11: 'otherwise a postponement is logged by that decision date'. Table:
    'postponement P logged after the decision date before the lift' -> warning P."""
    return {
        finding("S11", "warning", p.index)
        for p in admitted(log, "threshold_postponement")
        if p.logged_at >= end_of(decision_day(log, p.body.from_cycle - 1))
    }


def s11_lift_without_approval(log: Log) -> set[Finding]:
    """S11: 'a lift to level L+1 takes effect ... only if some level-L model was
    approved on or before the previous decision date; otherwise a postponement is
    logged by that decision date.' Notes: 'judged when a decision date passes'. Table:
    'a decision date passed with a lift T scheduled next, no approval at the frontier
    level and no postponement' -> T (reading R15)."""
    out = set()
    for t in admitted(log, "threshold_schedule"):
        day = effective_date(t)
        if not is_lift_date(log, day):
            continue
        cycle = cycle_containing(log, day)
        decided_by = end_of(decision_day(log, cycle - 1))
        if log.now_ms < decided_by or t.body.level <= frontier_at(log, effective_ms(t) - 1):
            continue
        charter = log.charter
        if t.body.level == charter.initial_frontier_level and day == lift_day(
            log, charter.first_cycle
        ):
            continue  # reading R33: the charter lifts the initial level; a cap change
        if t.s11:
            continue  # it breaks S11 itself, so takes no effect: no lift is scheduled (R15)
        approved = [
            d
            for d in approvals(log)
            if d.logged_at < decided_by
            and prereg_of(log, at(log, d.body.submission)).body.level == t.body.level - 1
        ]
        if not approved and not postponements_of_cycle(log, cycle, effective_ms(t)):
            out.add(finding("S11", "violation", t.index))
    return out


# == S12 =====================================================================


def s12_short_notice(log: Log) -> set[Finding]:
    """S12: 'every threshold change, postponement or rule change is logged at least the
    notice period before it takes effect'. Notes: 'threshold changes and deregulations
    need the charter's notice period. A postponement is exempt'; a charter amendment
    'must be logged the notice period (in force when it is logged) before it takes
    effect'. Table -> X (the notice period in force when X is logged, reading G2)."""
    return {
        finding("S12", "violation", x.index)
        for x in admitted(log, "threshold_schedule", "deregulation", "charter_amendment")
        if effective_ms(x) - x.logged_at < days_in_force(log, "notice_period_days", x)
    }


def s12_calendar_short_notice(log: Log) -> set[Finding]:
    """Notes: a charter amendment changes 'the calendar, for the cycles from
    calendar_from_cycle on'; '... and a new calendar the notice period before its first
    cycle's lift: otherwise S12'. Table: 'charter amendment X logged less than the
    notice period before it (or its calendar) takes effect' -> X. A calendar without
    calendar_from_cycle, or the reverse, names no cycle to take effect from: also X
    (reading G5)."""
    out = set()
    for x in admitted(log, "charter_amendment"):
        changes = x.body.changes
        if (changes.calendar is None) != (changes.calendar_from_cycle is None):
            out.add(finding("S12", "violation", x.index))
        elif changes.calendar is not None:
            first_lift = start_of(month_day(changes.calendar_from_cycle, changes.calendar.lift))
            if first_lift - x.logged_at < days_in_force(log, "notice_period_days", x):
                out.add(finding("S12", "violation", x.index))
            if not in_order(changes.calendar):
                out.add(finding("S12", "violation", x.index))  # G6
            # G4: the cycle named is under way when its lift, by the calendars of the
            # amendments logged before this one, has come.
            before = standing(log, x.index)
            if start_of(lift_day(before, changes.calendar_from_cycle)) <= x.logged_at:
                out.add(finding("S12", "violation", x.index))
    return out


# == S13 =====================================================================


def s11_schedule_lapsed(log: Log) -> set[Finding]:
    """Notes S11: a schedule whose date a calendar amendment leaves off a lift date
    lapses; 'the amendment gets an S11 notice naming each schedule it leaves off a lift
    date'. Table -> notice T, X (reading C10)."""
    out = set()
    for x in admitted(log, "charter_amendment"):
        without_x, with_x = standing(log, x.index), standing(log, x.index + 1)
        for t in admitted(without_x, "threshold_schedule"):
            day = effective_date(t)
            if not t.s11 and is_lift_date(without_x, day) and not is_lift_date(with_x, day):
                out.add(finding("S11", "notice", t.index, x.index))
    return out


def s13_retroactive_or_above_lag(log: Log) -> set[Finding]:
    """S13: 'deregulation follows the lift: sizes at or below frontier - lag; never
    retroactive'. Table: 'deregulation X retroactive, or above frontier - lag' -> X
    (reading R19)."""
    out = set()
    for x in admitted(log, "deregulation"):
        frontier = frontier_at(standing(log, x.index), effective_ms(x))
        retroactive = effective_ms(x) < x.logged_at
        if retroactive or x.body.level > frontier - log.charter.deregulation_lag:
            out.add(finding("S13", "violation", x.index))
    return out


def s13_on_postponed_lift_date(log: Log) -> set[Finding]:
    """Notes S13: 'not on a lift date whose lift was postponed'. Table: 'deregulation X
    on a lift date postponed by P' -> P, X."""
    return {
        finding("S13", "violation", p.index, x.index)
        for x in admitted(log, "deregulation")
        for p in on_postponed_lift_date(standing(log, x.index), x)
    }


def s13_postponement_freezes(log: Log) -> set[Finding]:
    """Notes: 'a postponement logged later freezes it'; 'The postponement itself gets an
    S13 notice naming each deregulation it freezes.' Table: 'postponement P freezes
    deregulation X logged before it' -> notice X, P (reading R20)."""
    out = set()
    for p in admitted(log, "threshold_postponement"):
        without_p, with_p = standing(log, p.index), standing(log, p.index + 1)
        for x in admitted(log, "deregulation", before=p.index):
            if deregulation_in_force_rule(without_p, x) and not deregulation_in_force_rule(
                with_p, x
            ):
                out.add(finding("S13", "notice", x.index, p.index))
    return out


# == S14 =====================================================================


def s14_reveal(log: Log) -> set[Finding]:
    """S14: 'sealed commitments that are revealed match'. Notes: 'needs the revealed
    document itself (a blob) to recompute SHA-256("frontier-ledger/commitment/v1\\n" ||
    salt || content); without it the finding is not_auditable.' Table -> C, V."""
    out = set()
    for v in admitted(log, "reveal"):
        c = at(log, v.body.commitment)
        commitments = {d.sha256 for d in sealed_documents(c)}
        content = log.blobs.get(v.body.content_sha256)
        if not commitments:
            out.add(finding("S14", "violation", c.index, v.index))
        elif content is None or hashlib.sha256(content).hexdigest() != v.body.content_sha256:
            out.add(finding("S14", "not_auditable", c.index, v.index))
        elif (
            hashlib.sha256(COMMITMENT_PREFIX + b64(v.body.salt) + content).hexdigest()
            not in commitments
        ):
            out.add(finding("S14", "violation", c.index, v.index))
    return out


def s14_unrevealed(log: Log) -> set[Finding]:
    """S14: 'unrevealed past the charter's reveal deadline is a warning.' Table: 'sealed
    document of C unrevealed after the reveal deadline' -> warning C (readings R22,
    R23)."""
    out = set()
    for c in admitted(log, *REVEALABLE):
        if not sealed_documents(c):
            continue
        deadline = c.logged_at + days_in_force(log, "reveal_deadline_days", c)
        shown = {
            v.body.content_sha256 for v in admitted(log, "reveal") if v.body.commitment == c.index
        }
        # R28: as many different documents revealed as the entry sealed.
        if log.now_ms > deadline and len(shown) < len(sealed_documents(c)):
            out.add(finding("S14", "warning", c.index))
    return out


# == S15 =====================================================================


def same_run(log: Log, p: Entry, q: Entry) -> bool:
    """Two pre-registrations are versions of one run: 'the same first pre-registration
    through supersedes'."""
    return first_version(log, p).index == first_version(log, q).index


def approved_no_model_of_its_run(log: Log, u: Entry) -> bool:
    """Notes S15: 'An update naming a decision that approved no model of that run'."""
    d = at(log, u.body.decision)
    if d.body.outcome != "approved":
        return True
    return not same_run(log, prereg_of(log, at(log, d.body.submission)), prereg_of(log, u))


def updates_of_approved_models(log: Log) -> list[Entry]:
    """Notes S15: 'After approval, every change is declared by the lab in a model_update
    entry'; the significant/lesser findings are about 'the model approved by D', so
    they judge only updates whose decision approved a model of their run (reading
    M1)."""
    return [u for u in admitted(log, "model_update") if not approved_no_model_of_its_run(log, u)]


def is_significant(log: Log, u: Entry) -> bool:
    """Notes S15: 'An update is significant when it adds more post-training compute than
    the charter's posttraining_update_threshold_flop (default 1e24), or raises the
    per-task inference ceiling above the evaluated one by more than
    inference_update_threshold_flop (default 1e18).' Thresholds in force when U is
    logged; the evaluated ceiling is that of the submission U's decision approved
    (reading M2). Reading M6: the lesser updates of the same approved model before U add
    up with U, and U's configuration cannot list more post-training (over the approved
    one's) than that."""
    added = parse_flop(u.body.added_posttraining_flop, "flop") + lesser_before(log, u)
    return significant_with(log, u, added)


def lesser_before(log: Log, u: Entry) -> int:
    """M6: the post-training declared by the lesser updates of the model U's decision
    approved (updates of approved models only, M1) logged before U, in all. Each earlier
    one is judged with the total before it, in log order (one pass, no recursion)."""
    total = 0
    for v in updates_of_approved_models(log):
        if v.index >= u.index:
            break
        if v.body.decision != u.body.decision:
            continue
        own = parse_flop(v.body.added_posttraining_flop, "flop")
        if not significant_with(log, v, own + total):
            total += own
    return total


def significant_with(log: Log, u: Entry, added: int) -> bool:
    """is_significant for U with *added* as its post-training in all."""
    posttraining = parse_flop(in_force_at(log, "posttraining_update_threshold_flop", u), "flop")
    inference = parse_flop(in_force_at(log, "inference_update_threshold_flop", u), "flop")
    evaluated = at(log, at(log, u.body.decision).body.submission).body.inference
    evaluated_ceiling = (
        0 if evaluated is None else parse_flop(evaluated.max_inference_flop_per_task, "flop")
    )
    ceiling = parse_flop(u.body.inference.max_inference_flop_per_task, "flop")
    listed = listed_beyond(u.body.inference, evaluated)
    return max(added, listed) > posttraining or ceiling - evaluated_ceiling > inference


def listed_beyond(config: Any, approved: Any) -> int:
    """M10: the FLOP of the steps *config* lists that *approved* does not (multisets of
    (method, FLOP, description))."""

    def steps(c: Any) -> Counter[tuple[str, int, str]]:
        return Counter(
            (p.method, parse_flop(p.flop, "flop"), p.description)
            for p in (c.post_training if c is not None else ())
        )

    return sum(step[1] * n for step, n in (steps(config) - steps(approved)).items())


def is_updated_model(log: Log, u: Entry, s: Entry) -> bool:
    """Notes S15: 'a submission of the same run with exactly the updated weights and
    configuration'."""
    return (
        same_run(log, prereg_of(log, s), prereg_of(log, u))
        and s.body.model_digest == u.body.model_digest
        and s.body.inference == u.body.inference
    )


def approved_before(log: Log, s: Entry, before: int) -> bool:
    return any(d.body.outcome == "approved" for d in decisions_of(log, s, before=before))


def s15_update_of_no_approved_model(log: Log) -> set[Finding]:
    """Notes S15: 'An update naming a decision that approved no model of that run is an
    S15 violation.' Table: 'update U names decision D that approved no model of its run'
    -> D, U."""
    return {
        finding("S15", "violation", u.body.decision, u.index)
        for u in admitted(log, "model_update")
        if approved_no_model_of_its_run(log, u)
    }


def s15_significant_without_evaluation(log: Log) -> set[Finding]:
    """Notes S15: 'A significant update must name (evaluated_as) a submission of the same
    run with exactly the updated weights and configuration, approved by a decision
    logged before the update; otherwise it is an S15 violation'. Table: 'significant
    update U of the model approved by D without a valid evaluated_as' -> D, U (reading
    M3: no evaluated_as, or one naming the updated model that was not approved before
    U; M5: or one naming the submission D approved, the model before the update, which
    is no new evaluation)."""
    out = set()
    for u in updates_of_approved_models(log):
        if not is_significant(log, u):
            continue
        s = None if u.body.evaluated_as is None else at(log, u.body.evaluated_as)
        if (
            s is None
            or s.index == at(log, u.body.decision).body.submission
            or (is_updated_model(log, u, s) and not approved_before(log, s, u.index))
        ):
            out.add(finding("S15", "violation", u.body.decision, u.index))
    return out


def s15_evaluated_as_another_model(log: Log) -> set[Finding]:
    """Table: '... whose evaluated_as S' is not the updated model of the run' -> D, S',
    U."""
    out = set()
    for u in updates_of_approved_models(log):
        if u.body.evaluated_as is None or not is_significant(log, u):
            continue
        if not is_updated_model(log, u, at(log, u.body.evaluated_as)):
            out.add(finding("S15", "violation", u.body.decision, u.body.evaluated_as, u.index))
    return out


def s15_rejected_after_update(log: Log) -> set[Finding]:
    """M8: a first decision X rejecting a submission of U's weights, logged after U ->
    D, X, U."""
    out = set()
    for u in updates_of_approved_models(log):
        for s in admitted(log, "submission"):
            if s.body.model_digest != u.body.model_digest:
                continue
            ds = decisions_of(log, s)
            if ds and ds[0].index > u.index and ds[0].body.outcome == "rejected":
                out.add(finding("S15", "violation", u.body.decision, ds[0].index, u.index))
    return out


def s15_update_to_contested_weights(log: Log) -> set[Finding]:
    """M9: a contest finding C upheld (first resolution R) against U's weights -> D, C, R,
    U when R is before U; D, R, U when R is after U."""
    out = set()
    for u in updates_of_approved_models(log):
        for c in admitted(log, "contest_finding"):
            if at(log, c.body.submission).body.model_digest != u.body.model_digest:
                continue
            rs = resolutions_of(log, c)
            if not rs or rs[0].body.outcome not in UPHELD:
                continue
            if rs[0].index < u.index:
                out.add(finding("S15", "violation", u.body.decision, c.index, rs[0].index, u.index))
            else:
                out.add(finding("S15", "violation", u.body.decision, rs[0].index, u.index))
    return out


def s15_update_to_rejected_weights(log: Log) -> set[Finding]:
    """Reading M7: an update whose model_digest is that of a submission whose first
    decision, the latest such before U among the submissions of that digest, rejected
    it -> D, X (that rejection), U."""
    out = set()
    for u in updates_of_approved_models(log):
        firsts = [
            ds[0]
            for s in admitted(log, "submission", before=u.index)
            if s.body.model_digest == u.body.model_digest
            and (ds := decisions_of(log, s, before=u.index))
        ]
        if firsts:
            last = max(firsts, key=lambda d: d.index)
            if last.body.outcome == "rejected":
                out.add(finding("S15", "violation", u.body.decision, last.index, u.index))
    return out


def s15_offered_before_logged(log: Log) -> set[Finding]:
    """Notes S15: 'An offered_from earlier than the update's logging, beyond the
    reporting tolerance, is an S15 warning (offered before it was declared).' Table ->
    warning U."""
    return {
        finding("S15", "warning", u.index)
        for u in admitted(log, "model_update")
        if u.logged_at - parse_time(u.body.offered_from, "offered_from") > tolerance_ms(log, u)
    }


# == S16 =====================================================================


def free_cap(log: Log, t: int) -> int:
    """Notes S16: 'Compute above what a deregulated run may use (the cap of the
    deregulated level in force at the period's start; nothing while no level is
    deregulated)' (reading K1)."""
    level = deregulated_level_at(log, t)
    cap = cap_at(log, level, t) if level >= 0 else None
    return 0 if cap is None else cap


def run_over_by(log: Log, p: Entry, t: int, before: int) -> bool:
    """Reading K5: a completion or halt naming a version of p's run, admitted before
    entry *before*, logged at or before *t*."""
    return any(
        e.logged_at <= t and same_run(log, at(log, e.body.preregistration), p)
        for e in admitted(log, "training_completed", "training_halted", before=before)
        if at(log, e.body.preregistration).type == "preregistration"
    )


def run_started(log: Log, p: Entry, before: int) -> bool:
    """Reading K9: a training_started naming a version of p's run, admitted before
    entry *before* (whenever it says training started)."""
    return any(
        same_run(log, at(log, e.body.preregistration), p)
        for e in admitted(log, "training_started", before=before)
        if at(log, e.body.preregistration).type == "preregistration"
    )


def ended_before(log: Log, p: Entry) -> bool:
    """Reading K10: a completion or halt naming a version of p's run admitted before p
    (by index): p was logged after its run was over, and is not a plan it ran under."""
    return any(
        same_run(log, at(log, e.body.preregistration), p)
        for e in admitted(log, "training_completed", "training_halted", before=p.index)
        if at(log, e.body.preregistration).type == "preregistration"
    )


def compute_window_start(log: Log, a: Entry) -> int:
    """Reading K10: the window ends with A's period and is at least A's period."""
    start = parse_time(a.body.period_start, "period_start")
    end = parse_time(a.body.period_end, "period_end")
    return min(start, end - days_in_force(log, "compute_window_days", a))


def runs_under_way(log: Log, a: Entry, since: int | None = None) -> dict[int, int]:
    """Readings K5, K9, K10: the runs of A's organisation under way at A's
    period_start (or, with *since*, at some time from *since* to then), each first
    version with the plan of its latest version of that organisation (admitted before
    A) logged before period_start, and not after the run was over: started, not over
    (by *since*), and not past that version's planned end by the compute window."""
    org = a.body.organisation
    start = parse_time(a.body.period_start, "period_start")
    t = start if since is None else since
    window = days_in_force(log, "compute_window_days", a)
    latest: dict[int, Entry] = {}
    for p in admitted(log, "preregistration", before=a.index):
        if p.body.org == org and p.logged_at < start and not ended_before(log, p):
            latest[first_version(log, p).index] = p
    out: dict[int, int] = {}
    for root, p in latest.items():
        if run_over_by(log, p, t, a.index) or not run_started(log, p, a.index):
            continue
        cycle_end = start_of(dt.date(p.body.cycle + 1, 1, 1))
        if min(parse_time(p.body.planned_end, "planned_end"), cycle_end) + window <= t:
            continue
        out[root] = parse_flop(p.body.planned_flop, "planned_flop")
    return out


def is_covered(log: Log, a: Entry) -> bool:
    """Notes S16: 'must be covered by a run the organisation pre-registered (logged)
    before the period started, planning at least that compute (within the compute
    tolerance) — the named run if the attestation names one' (readings K2, K5, K9)."""
    delivered = parse_flop(a.body.flop_delivered, "flop_delivered")
    tolerance = 1 + Fraction(in_force_at(log, "compute_tolerance", a))
    under_way = runs_under_way(log, a)
    if a.body.run is None:
        return bool(under_way) and max(under_way.values()) * tolerance >= delivered
    p = at(log, a.body.run)
    root = first_version(log, p).index
    period_start = parse_time(a.body.period_start, "period_start")
    named = p.body.org == a.body.organisation and p.logged_at < period_start
    return named and root in under_way and under_way[root] * tolerance >= delivered


def run_attested_beyond_plan(log: Log, a: Entry) -> bool:
    """Reading K6: the compute attested for the run A names, in all, above the free cap
    and above its plan (K9: its latest version's when it is under way, else the named
    version's)."""
    if a.body.run is None:
        return False
    p = at(log, a.body.run)
    if p.body.org != a.body.organisation:
        return False
    total = sum(
        parse_flop(b.body.flop_delivered, "flop_delivered")
        for b in admitted(log, "compute_attestation", before=a.index + 1)
        if b.body.run is not None
        and b.body.organisation == a.body.organisation == at(log, b.body.run).body.org
        and same_run(log, at(log, b.body.run), p)
    )
    period_start = parse_time(a.body.period_start, "period_start")
    tolerance = 1 + Fraction(in_force_at(log, "compute_tolerance", a))
    planned = runs_under_way(log, a).get(
        first_version(log, p).index, parse_flop(p.body.planned_flop, "planned_flop")
    )
    return total > free_cap(standing(log, a.index), period_start) and planned * tolerance < total


def names_own_run(log: Log, a: Entry) -> bool:
    """Reading K7: an attestation naming a pre-registration of the organisation it
    attests for (held to that run's plan, K6, and left out of the organisation's sum)."""
    return a.body.run is not None and at(log, a.body.run).body.org == a.body.organisation


def registered(log: Log, org: str, before: int) -> bool:
    """Reading K11: an organisation entry with org_id *org*, or a key_grant whose roles
    hold lab:<org>, admitted before entry *before*."""
    return any(e.body.org_id == org for e in admitted(log, "organisation", before=before)) or any(
        f"lab:{org}" in e.body.roles for e in admitted(log, "key_grant", before=before)
    )


def in_same_sum(log: Log, a: Entry, b: Entry) -> bool:
    """Readings K7, K11: earlier attestation B is summed with A's organisation's
    compute: B is to A's organisation (naming one of its runs or not), or, when A's
    organisation is not registered before A, to any organisation not registered
    before B."""
    if registered(log, a.body.organisation, a.index):
        return b.body.organisation == a.body.organisation
    return not registered(log, b.body.organisation, b.index)


def org_attested_beyond_runs(log: Log, a: Entry) -> bool:
    """Readings K7, K10, K11: the organisation's compute (or, for one the log does
    not register, every such organisation's) over periods overlapping the compute
    window ending with A's, above the free cap and above what all its runs under way
    at some time in that window up to A's period start plan."""
    start = parse_time(a.body.period_start, "period_start")
    window_start = compute_window_start(log, a)
    end = parse_time(a.body.period_end, "period_end")
    total = parse_flop(a.body.flop_delivered, "flop_delivered")
    since = window_start
    for b in admitted(log, "compute_attestation", before=a.index):
        b_start = parse_time(b.body.period_start, "period_start")
        b_end = parse_time(b.body.period_end, "period_end")
        if in_same_sum(log, a, b) and b_start < end and window_start < b_end:
            total += parse_flop(b.body.flop_delivered, "flop_delivered")
            since = min(since, b_start)
    planned = sum(runs_under_way(log, a, since=since).values())
    tolerance = 1 + Fraction(in_force_at(log, "compute_tolerance", a))
    return total > free_cap(standing(log, a.index), start) and planned * tolerance < total


def s16_undeclared_large_run(log: Log) -> set[Finding]:
    """Notes S16: 'Otherwise it is an S16 violation: an undeclared large run.' Table:
    'attestation A above the free cap with no covering run' -> A (readings K1, K2, K5,
    K6, K7); and 'an attested period that ends no later than it starts' -> A (K8)."""
    out = set()
    for a in admitted(log, "compute_attestation"):
        period_start = parse_time(a.body.period_start, "period_start")
        delivered = parse_flop(a.body.flop_delivered, "flop_delivered")
        alone = delivered > free_cap(standing(log, a.index), period_start) and not is_covered(
            log, a
        )
        reversed_period = parse_time(a.body.period_end, "period_end") <= period_start
        beyond = run_attested_beyond_plan(log, a) or org_attested_beyond_runs(log, a)
        if alone or beyond or reversed_period:
            out.add(finding("S16", "violation", a.index))
    return out


def s16_run_of_another_org(log: Log) -> set[Finding]:
    """Notes S16: 'An attestation naming a run of another organisation is an S16
    violation.' Table -> P, A."""
    return {
        finding("S16", "violation", a.body.run, a.index)
        for a in admitted(log, "compute_attestation")
        if a.body.run is not None and at(log, a.body.run).body.org != a.body.organisation
    }


def s16_reports_far_less_than_attested(log: Log) -> set[Finding]:
    """Notes S16: 'A run whose largest reported cumulative compute is below the compute
    its providers attest for it by more than attestation_tolerance (default 25%) is an
    S16 warning.' Table: 'run P (first version) reports at R far less than attestations
    A...' -> warning P, A..., R (reading K3)."""
    out = set()
    for p in admitted(log, "preregistration"):
        if p.body.supersedes is not None:
            continue
        versions = {v.index for v in admitted(log, "preregistration") if same_run(log, v, p)}
        attestations = [a for a in admitted(log, "compute_attestation") if a.body.run in versions]
        reports = [
            e
            for e in admitted(log, *TRAINING_EVENTS, "submission")
            if e.body.preregistration in versions
        ]
        if not attestations or not reports:
            continue
        largest = max(reported_flop(e) for e in reports)
        r = next(e for e in reports if reported_flop(e) == largest)
        attested = sum(parse_flop(a.body.flop_delivered, "flop_delivered") for a in attestations)
        latest = at(log, max([p.index, r.index] + [a.index for a in attestations]))
        tolerance = Fraction(in_force_at(log, "attestation_tolerance", latest))
        if largest < attested * (1 - tolerance):
            out.add(finding("S16", "warning", p.index, *[a.index for a in attestations], r.index))
    return out


def s16_silent_provider(log: Log) -> set[Finding]:
    """Notes S16: 'A provider that has not attested for more than
    attestation_interval_days (default 90) gets an S16 notice'. Table: 'provider silent
    since its last attestation A' -> notice A (judged at now_ms, reading K4)."""
    out = set()
    attestations = admitted(log, "compute_attestation")
    for provider in {a.body.provider for a in attestations}:
        last = [a for a in attestations if a.body.provider == provider][-1]
        interval = days_in_force(log, "attestation_interval_days", last)
        if log.now_ms > last.logged_at + interval:
            out.add(finding("S16", "notice", last.index))
    return out


# == S17 =====================================================================


def access_opens(x: Entry) -> int:
    """Notes S17: 'Access opens at the later of access_from and the entry's logging (the
    log cannot prove an earlier opening).'"""
    return max(start_of(parse_date(x.body.access_from, "access_from")), x.logged_at)


def s17_access_too_short(log: Log) -> set[Finding]:
    """Notes S17: 'each access must last at least research_access_min_days (default
    365): otherwise S17'. Table: 'access X shorter than the minimum (refused)' -> X
    (reading H1)."""
    out = set()
    for x in admitted(log, "research_access"):
        until = start_of(parse_date(x.body.access_until, "access_until"))
        if until - access_opens(x) < days_in_force(log, "research_access_min_days", x):
            out.add(finding("S17", "violation", x.index))
    return out


def s17_access_for_non_approval(log: Log) -> set[Finding]:
    """Notes S17: 'Access for a decision that approved nothing ... is refused'. Table:
    'access X for decision D that approved nothing (refused)' -> D, X."""
    return {
        finding("S17", "violation", d, x.index)
        for x in admitted(log, "research_access")
        for d in x.body.decisions
        if at(log, d).body.outcome != "approved"
    }


def s17_access_late_or_never(log: Log) -> set[Finding]:
    """Notes S17: 'Each approved model's access must open within
    research_access_limit_days (default 30) of its approval'; 'access that never
    opened, or opened late, is reported.' Table: 'approval D with no access after the
    limit / first access X opening late' -> D / D, X (reading H2)."""
    out = set()
    for d in approvals(log):
        due = d.logged_at + days_in_force(log, "research_access_limit_days", d)
        accesses = [x for x in admitted(log, "research_access") if d.index in x.body.decisions]
        if not accesses:
            if log.now_ms > due:  # "within" the limit: opening at the due instant is on time
                out.add(finding("S17", "violation", d.index))
            continue
        first = min(accesses, key=lambda x: (access_opens(x), x.index))
        if access_opens(first) > due:
            out.add(finding("S17", "violation", d.index, first.index))
    return out


# == S18 =====================================================================


def s18_outside_scope(log: Log) -> set[Finding]:
    """Notes S18: 'An evaluation result with a category outside it is an S18 violation
    (an empty scope allows any category).' Table -> R (scope in force when R is
    logged)."""
    out = set()
    for r in admitted(log, "eval_result"):
        scope = in_force_at(log, "evaluation_scope", r)
        if scope and any(c.category not in scope for c in r.body.results):
            out.add(finding("S18", "violation", r.index))
    return out


# == S19 =====================================================================


def same_person(a: str, b: str) -> bool:
    """Reading H6: names compared without regard to case or white space."""
    return a.casefold().split() == b.casefold().split()


def s19_lab_and_oversight_on_one_key(log: Log) -> set[Finding]:
    """Reading H7: a key_grant giving one key a ``lab:`` role and the board's, the
    regulator's, an evaluator's, an observer's or a compute provider's -> G."""
    oversight = ("board", "regulator", "evaluator", "observer:", "compute:")
    return {
        finding("S19", "violation", g.index)
        for g in admitted(log, "key_grant")
        if any(r.startswith("lab:") for r in g.body.roles)
        and any(
            r == o or (o.endswith(":") and r.startswith(o)) for r in g.body.roles for o in oversight
        )
    }


def is_overseeing(role: str) -> bool:
    """Reading H7's roles: the board's, the regulator's, an evaluator's, an observer's,
    a compute provider's."""
    return role in ("board", "regulator", "evaluator") or role.startswith(("observer:", "compute:"))


def held(log: Log, before: int) -> list[tuple[int, str, str, set[str], int]]:
    """Reading H8: (grant index, key id, holder, roles, in force from ms) of every key
    granted before *before*: the root keys, then the admitted grants."""
    roots = [(0, r.keyid, r.name, {"board"}, 0) for r in log.charter.root_keys]
    return roots + [
        (g.index, g.body.keyid, g.body.holder, set(g.body.roles), g.logged_at)
        for g in admitted(log, "key_grant", before=before)
    ]


def revocation(log: Log, keyid: str, before: int | None = None) -> Entry | None:
    """The first admitted key_revoke of *keyid* (before *before*)."""
    found = [r for r in admitted(log, "key_revoke", before=before) if r.body.keyid == keyid]
    return found[0] if found else None


def s19_one_person_lab_and_oversight(log: Log) -> set[Finding]:
    """Reading H8: one person holding, at once, a lab's key and an overseeing one -> K, G."""
    out = set()
    for g in admitted(log, "key_grant"):
        lab = any(r.startswith("lab:") for r in g.body.roles)
        oversee = any(is_overseeing(r) for r in g.body.roles)
        for index, keyid, holder, roles, _ in held(log, g.index):
            if not same_person(holder, g.body.holder) or revocation(log, keyid, g.index):
                continue
            if (lab and any(is_overseeing(r) for r in roles)) or (
                oversee and any(r.startswith("lab:") for r in roles)
            ):
                out.add(finding("S19", "violation", index, g.index))
    return out


def departed(log: Log, leaving: Entry) -> tuple[int, int, Entry | None]:
    """Reading H9: (the start of the declared date, the last time the log shows the
    person in post or that start, the revocation that shows it or None)."""
    claimed = start_of(parse_date(leaving.body.date, "date"))
    staff = [
        keyid
        for _, keyid, holder, roles, _ in held(log, leaving.index)
        if same_person(holder, leaving.body.staff) and roles & {"board", "regulator", "evaluator"}
    ]
    revoked = [revocation(log, keyid, leaving.index) for keyid in staff]
    if not staff:
        return claimed, claimed, None
    if any(r is None for r in revoked):
        return claimed, max(claimed, leaving.logged_at), None
    last = max((r for r in revoked if r is not None), key=lambda r: (r.logged_at, r.index))
    return claimed, max(claimed, last.logged_at), last


def departures(log: Log) -> list[tuple[Entry, int, int]]:
    """Admitted departure declarations with their start (H9) and cooling-off days (H3)."""
    out = []
    for leaving in admitted(log, "staff_declaration"):
        if leaving.body.kind != "departure":
            continue
        _, start, _ = departed(log, leaving)
        cooling = value_in_force(standing(log, leaving.index), "cooling_off_days", start)
        out.append((leaving, start, cooling))
    return out


def s19_cooling_off(log: Log) -> set[Finding]:
    """Notes S19: 'A key_grant of a lab's role to a holder of the same name within
    cooling_off_days (default 365) after a departure is an S19 violation, refused.'
    Table: 'key grant G of a lab role to a holder who left at declaration L within the
    cooling-off' -> L, G (readings H3, H9)."""
    out = set()
    for leaving, start, cooling in departures(log):
        for g in admitted(log, "key_grant"):
            if g.index < leaving.index or not same_person(leaving.body.staff, g.body.holder):
                continue
            if not any(role.startswith("lab:") for role in g.body.roles):
                continue
            if g.logged_at < start + cooling * DAY_MS:  # reading H6: before it, too
                out.add(finding("S19", "violation", leaving.index, g.index))
    return out


def s19_backdated_departure(log: Log) -> set[Finding]:
    """Reading H9: a departure dated more than the tolerance before the log shows the
    person in post -> (R, L) or (L), warning."""
    out = set()
    for leaving in admitted(log, "staff_declaration"):
        if leaving.body.kind != "departure":
            continue
        claimed, seen, shown_by = departed(log, leaving)
        if seen - claimed > tolerance_ms(log, leaving):
            named = (leaving.index,) if shown_by is None else (shown_by.index, leaving.index)
            out.add(finding("S19", "warning", *named))
    return out


def s19_lab_key_into_cooling_off(log: Log) -> set[Finding]:
    """Reading H10: a lab key granted before the departure was declared and in force
    in the cooling-off -> K, L."""
    out = set()
    for leaving, start, cooling in departures(log):
        for index, keyid, holder, roles, since in held(log, leaving.index):
            if not same_person(holder, leaving.body.staff):
                continue
            if not any(r.startswith("lab:") for r in roles):
                continue
            revoked = revocation(log, keyid)
            until = start + cooling * DAY_MS
            if revoked is not None:
                until = min(until, revoked.logged_at)
            first = max(since, start)
            if first < until and first <= log.now_ms:
                out.add(finding("S19", "violation", index, leaving.index))
    return out


# == The audit ===============================================================

RULES = (
    s1_start_without_lead_time,
    s1_attested_before_lead_time,
    s1_submission_without_start,
    s1_claimed_start_far,
    s2_plan_above_cap,
    s2_start_before_lift_or_above_cap,
    s2_attested_before_lift,
    s3_excess,
    s3_claimed_time_far,
    s4_amendment_after_start,
    s4_amended_after_proven_start,
    s3_attested_beyond_plan,
    s4_amendment_of_amended,
    s4_event_on_amended_version,
    s4_second_start,
    s5_halted_submitted,
    s6_decision_without_submission,
    s6_cites_other_submission,
    s6_approval_of_broken_run,
    s7_no_passing_result,
    s7_failing_cited,
    s7_result_contradicts_itself,
    s7_unresolved_contest,
    s7_upheld_contest,
    s7_invalid_remedy,
    s8_on_time_decided_off_day,
    s8_on_time_undecided,
    s8_marker_early,
    s8_marker_repeated,
    s8_claimed_submission_far,
    s9_late_decided_out_of_time,
    s9_decided_out_of_order,
    s9_late_undecided,
    s10_second_decision,
    s10_result_after_decision,
    s10_second_resolution,
    s10_reply_late,
    s11_schedule_refused,
    s11_postponement_backwards,
    s11_postponement_late,
    s11_lift_without_approval,
    s11_schedule_lapsed,
    s12_short_notice,
    s12_calendar_short_notice,
    s13_retroactive_or_above_lag,
    s13_on_postponed_lift_date,
    s13_postponement_freezes,
    s14_reveal,
    s14_unrevealed,
    s15_update_of_no_approved_model,
    s15_significant_without_evaluation,
    s15_evaluated_as_another_model,
    s15_offered_before_logged,
    s15_update_to_rejected_weights,
    s15_rejected_after_update,
    s15_update_to_contested_weights,
    s16_undeclared_large_run,
    s16_run_of_another_org,
    s16_reports_far_less_than_attested,
    s16_silent_provider,
    s17_access_too_short,
    s17_access_for_non_approval,
    s17_access_late_or_never,
    s18_outside_scope,
    s19_cooling_off,
    s19_one_person_lab_and_oversight,
    s19_backdated_departure,
    s19_lab_key_into_cooling_off,
    s19_lab_and_oversight_on_one_key,
)


def reference_audit(
    origin: str, leaves: Sequence[bytes], now_ms: int, blobs: Mapping[str, bytes] = NO_BLOBS
) -> set[Finding]:
    """Every finding of rules L2, L3, L4 and S1-S14 on the log *leaves* of *origin*,
    judged at *now_ms*; *blobs* maps SHA-256 hex to revealed documents (S14)."""
    if not leaves:
        return set()
    log = read_log(origin, leaves, now_ms, blobs)
    out = l2_findings(log) | admission_findings(log)
    if not log.entries[0].admitted:
        return out | {finding("L3", "not_auditable")}  # reading A7
    for rule in RULES:
        out |= rule(log)
    return out
