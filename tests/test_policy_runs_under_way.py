"""The runs under way when a period started (S16's question), from the schedule state.

An attestation is covered by runs its organisation pre-registered before the period
started, reported started, and had not completed or halted by then, each with the plan
of its latest version logged before then. The state answers from the runs not over
yet plus the runs that ended after the period's start
(``PolicyState.plans_under_way``), never walking every run; these tests hold it to
that walk, with events noted in time order or not (a log out of time order is
reported by L2 and still judged), and with the records spilled to disk as
``audit --low-memory`` keeps them.
"""

from __future__ import annotations

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


RUNS = range(6)


def _roots(state: PolicyState, started: frozenset[int]) -> dict[int, Run]:
    """The first versions, as the rules keep them (state.runs, in index order), each
    with training reported started or not."""
    for run in RUNS:
        state.runs[run] = Run(run, "lab-a", f"run-{run}", 1, 2027, 0, 0, run)
        state.runs[run].chain_started = run in started
    return {run: state.runs[run] for run in RUNS}


def _replay(events: list[tuple], state: PolicyState, roots: dict[int, Run]) -> None:
    for event in events:
        if event[0] == "version":
            _, org, run, ms, plan = event
            state.note_version(org, roots[run], ms, plan)
        else:
            state.note_run_end(roots[event[1]], event[2], 1000 + len(state.run_ends))


def _walk(events: list[tuple], started: frozenset[int], org: str, ms: int) -> dict[int, int]:
    """What the notes say, over every event: per run of *org* with training started,
    logged before *ms* and not over by *ms* (its first end by order noted, at or before
    *ms*), the plan of its latest version logged before *ms*."""
    first_end: dict[int, int] = {}
    versions: dict[int, list[tuple[int, int]]] = {}
    for event in events:
        if event[0] == "version":
            _, o, run, at, plan = event
            # A version noted after its run ended is not one that covers anything.
            if run not in first_end and o == org:
                versions.setdefault(run, []).append((at, plan))
        else:
            first_end.setdefault(event[1], event[2])
    out: dict[int, int] = {}
    for run, noted in versions.items():
        if run not in started or (run in first_end and first_end[run] <= ms):
            continue
        plans = [plan for at, plan in noted if at < ms]
        if plans:
            out[run] = plans[-1]
    return out


@settings(max_examples=300, deadline=None)
@given(
    events=events_strategy,
    started=st.frozensets(st.sampled_from(RUNS)),
    in_order=st.booleans(),
    spilled=st.booleans(),
)
def test_plans_under_way_equal_the_walk_over_every_run(
    events: list[tuple], started: frozenset[int], in_order: bool, spilled: bool
) -> None:
    if in_order:
        events = sorted(events, key=lambda e: e[3] if e[0] == "version" else e[2])
    state = PolicyState()
    if spilled:
        spill(state, hot=2)  # most records on disk, as audit --low-memory keeps them
    _replay(events, state, _roots(state, started))
    for org in (*ORGS, "lab-without-runs"):
        for ms in range(-1, 43):
            assert state.plans_under_way(org, ms) == _walk(events, started, org, ms), (org, ms)


def test_a_run_that_ended_before_the_period_covers_none_of_it() -> None:
    state = PolicyState()
    roots = _roots(state, frozenset({1, 2}))
    _replay([("version", "lab-a", 1, 10, 500), ("version", "lab-a", 2, 12, 300)], state, roots)
    _replay([("end", 1, 20)], state, roots)
    assert state.plans_under_way("lab-a", 15) == {1: 500, 2: 300}  # both under way
    assert state.plans_under_way("lab-a", 20) == {2: 300}  # run 1 ended at 20: over
    assert state.plans_under_way("lab-a", 11) == {1: 500}  # run 2 not logged yet
    assert state.plans_under_way("lab-a", 10) == {}  # logged at the instant: not before
    assert state.live_runs == {"lab-a": {2: [(12, 300)]}}
    assert [(end, org, root) for _, end, org, root, _ in state.run_ends] == [(20, "lab-a", 1)]


def test_a_run_never_started_or_cut_by_a_later_version() -> None:
    state = PolicyState()
    roots = _roots(state, frozenset({1}))
    events = [
        ("version", "lab-a", 1, 10, 500),
        ("version", "lab-a", 1, 14, 200),  # a later version cuts the plan
        ("version", "lab-a", 2, 12, 900),  # never started
    ]
    _replay(events, state, roots)
    assert state.plans_under_way("lab-a", 13) == {1: 500}
    assert state.plans_under_way("lab-a", 15) == {1: 200}


def test_ends_out_of_time_order_stop_the_walk_exactly() -> None:
    """Runs ending at 30, 10 and 20, noted in that order (a log L2 reports): at 20 the
    first is under way, the third ended at that instant, the second before; the walk
    from the newest end stops only where no earlier end is later than the question."""
    state = PolicyState()
    roots = _roots(state, frozenset({1, 2, 3}))
    _replay([("version", "lab-a", run, 1, 100 * run) for run in (1, 2, 3)], state, roots)
    _replay([("end", 1, 30), ("end", 2, 10), ("end", 3, 20)], state, roots)
    assert state.plans_under_way("lab-a", 20) == {1: 100}
    assert state.plans_under_way("lab-a", 15) == {1: 100, 3: 300}
    assert [latest for latest, *_ in state.run_ends] == [30, 30, 30]
