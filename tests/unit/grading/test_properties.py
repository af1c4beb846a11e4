"""Properties that must hold for every timeline and every set of objectives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.grading import (
    ScenarioEntry,
    credit,
    grade_objective,
    is_met,
    measure_availability,
    measure_recovery,
    measure_rpo,
    nearest_rank,
    score_scenario,
    suite_score,
)
from gameday.kinds import TIME_OBJECTIVES, Capability, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult
from tests.unit.grading.builders import markers, samples

# No example database: unit tests write no files.
FAST = settings(database=None, max_examples=100, deadline=None)

times = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
targets = st.floats(min_value=0.0, max_value=1e4, allow_nan=False)
measurements = st.none() | times
kinds = st.sampled_from(list(ObjectiveKind))


@st.composite
def graded_objectives(draw: st.DrawFn) -> ObjectiveResult:
    return grade_objective(
        draw(st.text(max_size=5)),
        draw(kinds),
        "api",
        draw(targets),
        draw(measurements),
        weight=draw(st.floats(min_value=0.01, max_value=100.0)),
        critical=draw(st.booleans()),
    )


@FAST
@given(st.lists(graded_objectives(), min_size=1, max_size=12), st.booleans())
def test_scenario_score_is_always_between_0_and_100(
    objectives: list[ObjectiveResult], steady_after_ok: bool
) -> None:
    result = score_scenario(objectives, steady_after_ok)
    assert result.score is not None
    assert 0.0 <= result.score <= 100.0


@FAST
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=100.0),
            st.floats(min_value=0.01, max_value=100.0),
            st.frozensets(st.sampled_from(list(Capability))),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_suite_score_is_always_between_0_and_100(
    rows: list[tuple[float, float, frozenset[Capability]]],
) -> None:
    entries = [
        ScenarioEntry(str(i), score, weight, caps, RunStatus.FAILED)
        for i, (score, weight, caps) in enumerate(rows)
    ]
    suite = suite_score(entries)
    assert suite.score is not None
    assert 0.0 <= suite.score <= 100.0
    assert all(0.0 <= value <= 100.0 for value in suite.by_capability.values())


@FAST
@given(kinds, st.booleans(), measurements, targets)
def test_credit_is_between_0_and_1(
    kind: ObjectiveKind, met: bool, measured: float | None, target: float
) -> None:
    assert 0.0 <= credit(kind, met, measured, target) <= 1.0


@FAST
@given(st.sampled_from(sorted(TIME_OBJECTIVES)), times, times, targets)
def test_credit_never_rises_as_the_measurement_gets_worse(
    kind: ObjectiveKind, first: float, second: float, target: float
) -> None:
    better, worse = sorted((first, second))
    # With met decided from the measurement, as the engine does, and with a fixed miss.
    assert credit(kind, is_met(kind, better, target), better, target) >= credit(
        kind, is_met(kind, worse, target), worse, target
    )
    assert credit(kind, False, better, target) >= credit(kind, False, worse, target)
    assert credit(kind, False, worse, target) >= credit(kind, False, None, target)


timelines = st.text(alphabet="HUM", max_size=40)


@FAST
@given(timelines, st.integers(min_value=1, max_value=5), st.floats(min_value=0.0, max_value=45))
def test_rto_is_never_negative(pattern: str, stable: int, observe_end_s: float) -> None:
    recovery = measure_recovery(
        samples(pattern, start_s=1.0), 0.0, 20.0, observe_end_s=observe_end_s, stable=stable
    )
    if recovery.rto_s is not None:
        assert recovery.rto_s >= 0.0
    if recovery.impacted:
        assert recovery.time_to_impact_s is not None
        assert recovery.time_to_impact_s >= 0.0
        assert (recovery.rto_s is None) == (recovery.recovered_at_s is None)
    else:
        # No impact is an RTO of 0, unless nothing was observed at all.
        assert recovery.rto_s == (0.0 if recovery.observed else None)


@FAST
@given(st.text(alphabet="DLRN", max_size=40), st.floats(min_value=0.001, max_value=60.0))
def test_rpo_is_zero_when_nothing_is_lost(pattern: str, interval_s: float) -> None:
    loss = measure_rpo(markers(pattern, interval_s=interval_s))
    assert 0.0 <= loss.least_s <= loss.most_s
    assert (loss.rpo_s is None) == (loss.least_s != loss.most_s)
    if loss.lost == 0:
        assert loss.least_s == 0.0
    if loss.least_s > 0:
        assert loss.lost > 0
    if loss.unverified == 0:
        assert loss.rpo_s == loss.least_s
    assert loss.lost == pattern.count("L")
    assert loss.refused == pattern.count("R")
    assert sum(run.last_seq - run.first_seq + 1 for run in loss.runs) == loss.lost


@FAST
@given(timelines)
def test_availability_is_a_ratio(pattern: str) -> None:
    availability = measure_availability(samples(pattern), 0.0, 100.0)
    assert availability.healthy == pattern.count("H")
    assert availability.total == len(pattern) - pattern.count("M")
    if availability.ratio is not None:
        assert 0.0 <= availability.ratio <= 1.0


@FAST
@given(
    st.lists(times, min_size=1, max_size=50),
    st.floats(min_value=0.01, max_value=100.0),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_nearest_rank_is_an_observed_value_monotone_in_p(
    values: list[float], first: float, second: float
) -> None:
    low, high = sorted((first, second))
    assert nearest_rank(values, low) in values
    assert nearest_rank(values, low) <= nearest_rank(values, high)
