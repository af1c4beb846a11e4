"""RTO, impact and recovery on synthetic timelines (DESIGN.md "Measurements")."""

from __future__ import annotations

import random

import pytest

from gameday.grading import Sample, measure_recovery
from tests.unit.grading.builders import samples

T0 = 10.0
TEND = 40.0
END = 100.0


def test_no_impact_is_an_rto_of_zero() -> None:
    recovery = measure_recovery(samples("HHHHHH", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.rto_s == 0.0
    assert recovery.impact_start_s is None
    assert recovery.recovered_at_s is None
    assert recovery.time_to_impact_s is None
    assert recovery.recovered_during_fault is None
    assert not recovery.impacted
    assert recovery.recovered
    assert recovery.detail == "no impact: no unhealthy sample after T0"
    assert recovery.observed == 6


@pytest.mark.parametrize("pattern", ["", "MMMM"])
def test_nothing_observed_is_not_a_perfect_rto(pattern: str) -> None:
    # Absence of evidence: a probe that never ran must not meet an RTO objective.
    recovery = measure_recovery(samples(pattern, start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.rto_s is None
    assert recovery.impact_start_s is None
    assert recovery.observed == 0
    assert not recovery.recovered
    assert recovery.detail == (
        "no sample observed between T0 and the end of observation: nothing measured"
    )


def test_unhealthy_samples_before_t0_are_not_impact() -> None:
    timeline = samples("UUUU", start_s=5.0) + samples("HHHH", start_s=T0)
    assert measure_recovery(timeline, T0, TEND, observe_end_s=END).impact_start_s is None


def test_never_recovered_has_no_rto() -> None:
    recovery = measure_recovery(samples("HUUUUU", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.rto_s is None
    assert recovery.recovered_at_s is None
    assert recovery.impact_start_s == 11.0
    assert recovery.time_to_impact_s == 1.0
    assert recovery.recovered_during_fault is False
    assert not recovery.recovered
    assert recovery.detail == (
        "impact 1 s after T0; not recovered: no run of 3 healthy samples before observation "
        "ended at 100 s"
    )


def test_flapping_recovers_at_the_start_of_the_first_stable_run() -> None:
    # unhealthy, healthy x2, unhealthy, healthy x3: the pair of healthy samples is not enough.
    recovery = measure_recovery(samples("UHHUHHH", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.impact_start_s == 10.0
    assert recovery.recovered_at_s == 14.0
    assert recovery.rto_s == 4.0


def test_a_run_ending_exactly_at_observation_end_counts() -> None:
    recovery = measure_recovery(samples("UHHH", start_s=T0), T0, TEND, observe_end_s=13.0)
    assert recovery.recovered_at_s == 11.0
    assert recovery.rto_s == 1.0


def test_a_stable_run_cut_off_by_observation_end_is_not_recovery() -> None:
    # The third healthy sample exists but comes after observation ended.
    recovery = measure_recovery(samples("UHHH", start_s=T0), T0, TEND, observe_end_s=12.5)
    assert recovery.rto_s is None
    assert "not recovered" in recovery.detail


def test_recovery_exactly_at_tend_is_not_during_the_fault() -> None:
    # DESIGN.md: recovered_during_fault = recovered_at < Tend (strictly).
    recovery = measure_recovery(samples("UUUHHH", start_s=T0), T0, 13.0, observe_end_s=END)
    assert recovery.recovered_at_s == 13.0
    assert recovery.recovered_during_fault is False
    assert recovery.detail == (
        "impact 0 s after T0; recovered only after the fault was lifted (0 s after Tend): no "
        "resilience shown; RTO 3 s"
    )


def test_recovery_before_tend_is_during_the_fault() -> None:
    recovery = measure_recovery(samples("UUUHHH", start_s=T0), T0, 13.5, observe_end_s=END)
    assert recovery.recovered_during_fault is True
    assert recovery.detail == "impact 0 s after T0; recovered during the fault; RTO 3 s"


def test_recovery_after_tend_says_so() -> None:
    timeline = samples("HUUUUUHHH", start_s=T0, interval_s=0.5)
    recovery = measure_recovery(timeline, T0, 12.0, observe_end_s=END)
    assert recovery.impact_start_s == 10.5
    assert recovery.recovered_at_s == 13.0
    assert recovery.rto_s == 2.5
    assert recovery.time_to_impact_s == 0.5
    assert "only after the fault was lifted (1 s after Tend)" in recovery.detail


def test_a_missed_tick_breaks_a_healthy_run() -> None:
    recovery = measure_recovery(samples("UHHMHHH", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.recovered_at_s == 14.0


def test_a_missed_tick_is_not_impact() -> None:
    recovery = measure_recovery(samples("HMMHHH", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.impact_start_s is None
    recovery = measure_recovery(samples("MMUHHH", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.impact_start_s == 12.0


def test_an_unhealthy_sample_after_recovery_does_not_change_the_rto() -> None:
    recovery = measure_recovery(samples("UHHHUUU", start_s=T0), T0, TEND, observe_end_s=END)
    assert recovery.rto_s == 1.0


def test_stable_is_configurable() -> None:
    timeline = samples("UHUHH", start_s=T0)
    assert measure_recovery(timeline, T0, TEND, observe_end_s=END, stable=1).rto_s == 1.0
    assert measure_recovery(timeline, T0, TEND, observe_end_s=END, stable=2).rto_s == 3.0
    assert measure_recovery(timeline, T0, TEND, observe_end_s=END, stable=3).rto_s is None


def test_sample_order_does_not_matter() -> None:
    timeline = samples("HUHHUHHHU", start_s=T0)
    shuffled = list(timeline)
    random.Random(4).shuffle(shuffled)
    assert measure_recovery(shuffled, T0, TEND, observe_end_s=END) == measure_recovery(
        timeline, T0, TEND, observe_end_s=END
    )


def test_impact_is_read_from_t0_even_between_ticks() -> None:
    # T0 falls between two ticks: the first unhealthy sample at or after it is the impact.
    timeline = [Sample(9.5, ok=False, latency_s=None), *samples("HUHHH", start_s=10.2)]
    recovery = measure_recovery(timeline, T0, TEND, observe_end_s=END)
    assert recovery.impact_start_s == pytest.approx(11.2)
    assert recovery.time_to_impact_s == pytest.approx(1.2)


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="stable must be at least 1 sample"):
        measure_recovery([], T0, TEND, observe_end_s=END, stable=0)
    with pytest.raises(ValueError, match=r"tend_s \(5.0\) is before T0 \(10.0\)"):
        measure_recovery([], T0, 5.0, observe_end_s=END)
    with pytest.raises(ValueError, match=r"observe_end_s \(9.0\) is before T0 \(10.0\)"):
        measure_recovery([], T0, TEND, observe_end_s=9.0)
