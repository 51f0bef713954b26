"""The runs under way when a period started (S16's question), from the schedule state.

An attestation is covered by runs its organisation pre-registered before the period
started, reported started, had not completed or halted by then, and that were not past
their planned end by more than the allowed overrun, each with the plan of its latest
version logged before then; the organisation's sum asks the same of a window before
the period (runs under way at some time in it). The state answers from the runs not
over yet plus the runs that ended after the period's (or window's) start
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

#: ("version", org, run, ms, plan, planned end) or ("end", run, ms): run is a small
#: number naming a first version; a version of a run whose first version was another
#: org's is allowed.
events_strategy = st.lists(
    st.one_of(
        st.tuples(
            st.just("version"),
            st.sampled_from(ORGS),
            st.integers(0, 5),
            st.integers(0, 40),
            st.integers(0, 1_000),
            st.integers(0, 40),
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
            _, org, run, ms, plan, planned_end = event
            state.note_version(org, roots[run], ms, plan, planned_end)
        else:
            state.note_run_end(roots[event[1]], event[2], 1000 + len(state.run_ends))


def _walk(
    events: list[tuple], started: frozenset[int], org: str, ms: int, *, overrun: int, since: int
) -> dict[int, int]:
    """What the notes say, over every event: per run of *org* with training started,
    logged before *ms*, not over by *since* (its first end by order noted, at or before
    *since*) and not more than *overrun* past the planned end by *since*, the plan of
    its latest version logged before *ms* (whose planned end counts)."""
    first_end: dict[int, int] = {}
    versions: dict[int, list[tuple[int, int, int]]] = {}
    for event in events:
        if event[0] == "version":
            _, o, run, at, plan, planned_end = event
            # A version noted after its run ended is not one that covers anything.
            if run not in first_end and o == org:
                versions.setdefault(run, []).append((at, plan, planned_end))
        else:
            first_end.setdefault(event[1], event[2])
    out: dict[int, int] = {}
    for run, noted in versions.items():
        if run not in started or (run in first_end and first_end[run] <= since):
            continue
        latest = [(plan, end) for at, plan, end in noted if at < ms]
        if latest and latest[-1][1] + overrun > since:
            out[run] = latest[-1][0]
    return out


@settings(max_examples=300, deadline=None)
@given(
    events=events_strategy,
    started=st.frozensets(st.sampled_from(RUNS)),
    in_order=st.booleans(),
    spilled=st.booleans(),
    overrun_and_window=st.tuples(st.sampled_from((0, 5, 100)), st.sampled_from((0, 3, 50))),
)
def test_plans_under_way_equal_the_walk_over_every_run(
    events: list[tuple],
    started: frozenset[int],
    in_order: bool,
    spilled: bool,
    overrun_and_window: tuple[int, int],
) -> None:
    overrun, window = overrun_and_window
    if in_order:
        events = sorted(events, key=lambda e: e[3] if e[0] == "version" else e[2])
    state = PolicyState()
    if spilled:
        spill(state, hot=2)  # most records on disk, as audit --low-memory keeps them
    _replay(events, state, _roots(state, started))
    for org in (*ORGS, "lab-without-runs"):
        for ms in range(-1, 43):
            at = state.plans_under_way(org, ms, overrun)
            assert at == _walk(events, started, org, ms, overrun=overrun, since=ms), (org, ms)
            since = ms - window
            within = state.plans_under_way(org, ms, overrun, since=since)
            walked = _walk(events, started, org, ms, overrun=overrun, since=since)
            assert within == walked, (org, ms, since)


def test_a_run_that_ended_before_the_period_covers_none_of_it() -> None:
    state = PolicyState()
    roots = _roots(state, frozenset({1, 2}))
    _replay(
        [("version", "lab-a", 1, 10, 500, 100), ("version", "lab-a", 2, 12, 300, 100)], state, roots
    )
    _replay([("end", 1, 20)], state, roots)
    assert state.plans_under_way("lab-a", 15, 0) == {1: 500, 2: 300}  # both under way
    assert state.plans_under_way("lab-a", 20, 0) == {2: 300}  # run 1 ended at 20: over
    assert state.plans_under_way("lab-a", 11, 0) == {1: 500}  # run 2 not logged yet
    assert state.plans_under_way("lab-a", 10, 0) == {}  # logged at the instant: not before
    assert state.live_runs == {"lab-a": {2: [(12, 300, 100)]}}
    assert [(end, org, root) for _, end, org, root, _ in state.run_ends] == [(20, "lab-a", 1)]


def test_a_run_never_started_or_cut_by_a_later_version() -> None:
    state = PolicyState()
    roots = _roots(state, frozenset({1}))
    events = [
        ("version", "lab-a", 1, 10, 500, 100),
        ("version", "lab-a", 1, 14, 200, 100),  # a later version cuts the plan
        ("version", "lab-a", 2, 12, 900, 100),  # never started
    ]
    _replay(events, state, roots)
    assert state.plans_under_way("lab-a", 13, 0) == {1: 500}
    assert state.plans_under_way("lab-a", 15, 0) == {1: 200}


def test_ends_out_of_time_order_stop_the_walk_exactly() -> None:
    """Runs ending at 30, 10 and 20, noted in that order (a log L2 reports): at 20 the
    first is under way, the third ended at that instant, the second before; the walk
    from the newest end stops only where no earlier end is later than the question."""
    state = PolicyState()
    roots = _roots(state, frozenset({1, 2, 3}))
    _replay([("version", "lab-a", run, 1, 100 * run, 100) for run in (1, 2, 3)], state, roots)
    _replay([("end", 1, 30), ("end", 2, 10), ("end", 3, 20)], state, roots)
    assert state.plans_under_way("lab-a", 20, 0) == {1: 100}
    assert state.plans_under_way("lab-a", 15, 0) == {1: 100, 3: 300}
    assert [latest for latest, *_ in state.run_ends] == [30, 30, 30]


def test_a_run_never_reported_over_covers_until_its_planned_end_and_the_overrun() -> None:
    """A run planned to end at 20, never reported over, with an overrun of 10: under
    way up to 30 (not at it), and in a window that starts before 30."""
    state = PolicyState()
    roots = _roots(state, frozenset({1}))
    _replay([("version", "lab-a", 1, 10, 500, 20)], state, roots)
    assert state.plans_under_way("lab-a", 29, 10) == {1: 500}
    assert state.plans_under_way("lab-a", 30, 10) == {}
    assert state.plans_under_way("lab-a", 40, 10, since=29) == {1: 500}
    assert state.plans_under_way("lab-a", 40, 10, since=30) == {}
    assert state.planned_end("lab-a", 1, 11) == 20
    assert state.planned_end("lab-a", 1, 10) is None  # not logged before 10


def test_a_window_counts_a_run_that_ended_inside_it() -> None:
    state = PolicyState()
    roots = _roots(state, frozenset({1, 2}))
    _replay(
        [("version", "lab-a", 1, 1, 500, 90), ("version", "lab-a", 2, 2, 300, 90)], state, roots
    )
    _replay([("end", 1, 20)], state, roots)
    assert state.plans_under_way("lab-a", 30, 0) == {2: 300}
    assert state.plans_under_way("lab-a", 30, 0, since=19) == {1: 500, 2: 300}
    assert state.plans_under_way("lab-a", 30, 0, since=20) == {2: 300}  # over at 20
    assert state.planned_end("lab-a", 1, 30) == 90  # from the runs over, too
