"""The runs under way when a period started (S16's question), from the schedule state.

An attestation is covered by runs its organisation pre-registered before the period
started and had not completed or halted by then. The state answers from the runs
not over yet plus the runs that ended after the period's start
(``PolicyState.plans_under_way``), never walking every run; these tests hold it to
that walk, with events noted in time order or not (a log out of time order is
reported by L2 and still judged), and with the records spilled to disk as
``audit --low-memory`` keeps them.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.policy.spill import spill
from verifier.policy.state import PolicyState, Run

ORGS = ("lab-a", "lab-b")

#: ("version", org, run, ms, plan) or ("end", run, ms): run is a small number naming a
#: first version; a version of a run whose first version was another org's is allowed.
events_strategy = st.lists(
    st.one_of(
        st.tuples(
            st.just("version"),
            st.sampled_from(ORGS),
            st.integers(0, 5),
            st.integers(0, 40),
            st.integers(0, 1_000),
        ),
        st.tuples(st.just("end"), st.integers(0, 5), st.integers(0, 40)),
    ),
    max_size=40,
)


def _replay(events: list[tuple], state: PolicyState, roots: dict[int, Run]) -> None:
    # The first versions are the rules' records (state.runs); here they are kept
    # aside: only the state's S16 structures are under test.
    for event in events:
        if event[0] == "version":
            _, org, run, ms, plan = event
            root = roots.setdefault(run, Run(run, org, f"run-{run}", 1, 2027, plan, ms, run))
            state.note_version(org, root, ms, plan)
        elif event[1] in roots:
            state.note_run_end(roots[event[1]], event[2], 1000 + len(state.run_ends))


def _walk(events: list[tuple], org: str, ms: int) -> Counter[int]:
    """What the notes say, over every event: per run of *org* logged before *ms* and not
    over by *ms* (its first end by order noted, at or before *ms*), its largest plan."""
    first_end: dict[int, int] = {}
    seen: set[int] = set()
    versions: dict[int, list[tuple[int, int]]] = {}
    for event in events:
        if event[0] == "version":
            _, o, run, at, plan = event
            seen.add(run)
            # A version noted after its run ended is not one that covers anything.
            if run not in first_end and o == org:
                versions.setdefault(run, []).append((at, plan))
        elif event[1] in seen:
            first_end.setdefault(event[1], event[2])
    out: Counter[int] = Counter()
    for run, noted in versions.items():
        if run in first_end and first_end[run] <= ms:
            continue
        plans = [plan for at, plan in noted if at < ms]
        if plans:
            out[max(plans)] += 1
    return out


@settings(max_examples=300, deadline=None)
@given(events=events_strategy, in_order=st.booleans(), spilled=st.booleans())
def test_plans_under_way_equal_the_walk_over_every_run(
    events: list[tuple], in_order: bool, spilled: bool
) -> None:
    if in_order:
        events = sorted(events, key=lambda e: e[3] if e[0] == "version" else e[2])
    state = PolicyState()
    if spilled:
        spill(state, hot=2)  # most records on disk, as audit --low-memory keeps them
    _replay(events, state, {})
    for org in (*ORGS, "lab-without-runs"):
        for ms in range(-1, 43):
            got = Counter(state.plans_under_way(org, ms))
            assert got == _walk(events, org, ms), (org, ms)


def test_a_run_that_ended_before_the_period_covers_none_of_it() -> None:
    state, roots = PolicyState(), {}
    _replay([("version", "lab-a", 1, 10, 500), ("version", "lab-a", 2, 12, 300)], state, roots)
    _replay([("end", 1, 20)], state, roots)
    assert sorted(state.plans_under_way("lab-a", 15)) == [300, 500]  # both under way
    assert state.plans_under_way("lab-a", 20) == [300]  # run 1 ended at 20: over
    assert state.plans_under_way("lab-a", 11) == [500]  # run 2 not logged yet
    assert state.plans_under_way("lab-a", 10) == []  # logged at the instant: not before
    assert state.live_runs == {"lab-a": {2: [(12, 300)]}}
    assert [(end, org) for _, end, org, _ in state.run_ends] == [(20, "lab-a")]
