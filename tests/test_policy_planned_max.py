"""The per-organisation record of the most compute its runs planned (S16's question).

An attestation with no run named is covered when any run its organisation
pre-registered by the attested period's start plans enough compute; the state
answers that with one bisect (``PolicyState.most_planned_before``) instead of a walk over
every run. These tests hold it to the walk it replaces, runs noted in any order.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.policy.state import PolicyState

ORGS = ("lab-a", "lab-b", "lab-c")

runs_strategy = st.lists(
    st.tuples(st.sampled_from(ORGS), st.integers(0, 50), st.integers(0, 1_000)),
    max_size=60,
)


def _walk(runs: list[tuple[str, int, int]], org: str, ms: int) -> int:
    # Before the period starts: strictly earlier (docs/policy-notes.md, S16).
    return max((flop for o, at, flop in runs if o == org and at < ms), default=0)


@settings(max_examples=300, deadline=None)
@given(runs=runs_strategy, in_order=st.booleans())
def test_most_planned_equals_the_walk_over_every_run(
    runs: list[tuple[str, int, int]], in_order: bool
) -> None:
    noted = sorted(runs, key=lambda r: r[1]) if in_order else runs
    state = PolicyState()
    for org, at, flop in noted:
        state.note_planned(org, at, flop)
    for org in (*ORGS, "lab-without-runs"):
        for ms in range(-1, 53):
            assert state.most_planned_before(org, ms) == _walk(runs, org, ms), (org, ms)
        steps = state.planned_max.get(org, [])
        # Both rising: only the runs that raised the maximum are kept.
        assert all(a[0] <= b[0] and a[1] < b[1] for a, b in pairwise(steps))


def test_runs_in_time_order_keep_only_the_steps_that_raise_the_maximum() -> None:
    state = PolicyState()
    for at, flop in ((10, 5), (20, 3), (30, 8), (40, 8), (50, 9)):
        state.note_planned("lab-a", at, flop)
    assert state.planned_max == {"lab-a": [(10, 5), (30, 8), (50, 9)]}
    got = [state.most_planned_before("lab-a", ms) for ms in (10, 11, 30, 31, 50, 51)]
    assert got == [0, 5, 5, 8, 8, 9]
