"""TTD, availability and latency percentiles with known values."""

from __future__ import annotations

import pytest

from gameday.grading import (
    Alert,
    LatencyStats,
    Sample,
    format_seconds,
    measure_availability,
    measure_latency,
    measure_ttd,
    nearest_rank,
)
from tests.unit.grading.builders import samples


def test_ttd_is_from_t0_to_the_first_matching_alert() -> None:
    alerts = [Alert(25.0, True), Alert(14.0, False), Alert(17.5, True)]
    assert measure_ttd(alerts, 10.0) == 7.5


def test_ttd_ignores_alerts_before_t0() -> None:
    assert measure_ttd([Alert(9.9, True), Alert(12.0, True)], 10.0) == 2.0


def test_ttd_counts_an_alert_exactly_at_t0() -> None:
    assert measure_ttd([Alert(10.0, True)], 10.0) == 0.0


def test_ttd_is_none_without_a_matching_alert_after_t0() -> None:
    assert measure_ttd([], 10.0) is None
    assert measure_ttd([Alert(5.0, True), Alert(12.0, False)], 10.0) is None


def test_availability_counts_healthy_over_observed_samples_in_the_window() -> None:
    # Offsets 0..19; the window [10, 15] holds 10 H, 11 U, 12 M, 13 U, 14 H, 15 H.
    timeline = samples("U" * 10 + "HUMUHH" + "U" * 4)
    availability = measure_availability(timeline, 10.0, 15.0)
    assert availability.healthy == 3
    assert availability.total == 5
    assert availability.missed == 1
    assert availability.ratio == 0.6


def test_availability_includes_both_ends_of_the_window() -> None:
    timeline = samples("HUUH", start_s=10.0)
    assert measure_availability(timeline, 10.0, 13.0).ratio == 0.5
    assert measure_availability(timeline, 10.5, 12.5).ratio == 0.0


def test_availability_of_nothing_observed_is_none() -> None:
    availability = measure_availability(samples("MMM", start_s=10.0), 10.0, 20.0)
    assert availability.ratio is None
    assert (availability.healthy, availability.total, availability.missed) == (0, 0, 3)


def test_availability_window_must_not_end_before_t0() -> None:
    with pytest.raises(ValueError, match="until_s"):
        measure_availability([], 10.0, 9.0)


def test_nearest_rank_on_one_to_one_hundred() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert nearest_rank(values, 50) == 50.0
    assert nearest_rank(values, 95) == 95.0
    assert nearest_rank(values, 99) == 99.0
    assert nearest_rank(values, 100) == 100.0
    assert nearest_rank(values, 0.5) == 1.0


def test_nearest_rank_on_few_values_picks_an_observed_value() -> None:
    values = [0.5, 0.1, 0.4, 0.2, 0.3]
    # ranks: p50 -> ceil(2.5) = 3, p95 -> ceil(4.75) = 5, p20 -> ceil(1.0) = 1.
    assert nearest_rank(values, 50) == 0.3
    assert nearest_rank(values, 95) == 0.5
    assert nearest_rank(values, 20) == 0.1
    assert nearest_rank([7.0], 99) == 7.0


def test_nearest_rank_needs_values_and_a_percentile_in_range() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
        nearest_rank([1.0], 0)
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
        nearest_rank([1.0], 101)


def test_latency_percentiles_inside_the_fault_window() -> None:
    inside = [Sample(10.0 + i * 0.1, ok=True, latency_s=(i + 1) / 1000) for i in range(100)]
    outside = [
        Sample(9.9, ok=True, latency_s=5.0),
        Sample(20.0, ok=True, latency_s=5.0),  # at Tend: the fault is already removed
    ]
    stats = measure_latency(outside + inside, 10.0, 20.0)
    assert stats == LatencyStats(p50_s=0.05, p95_s=0.095, p99_s=0.099, count=100)


def test_latency_counts_failed_samples_and_skips_missed_and_unmeasured_ones() -> None:
    timeline = [
        Sample(10.0, ok=True, latency_s=0.1),
        Sample(11.0, ok=False, latency_s=2.0),  # timed out: the caller waited 2 s
        Sample(12.0, ok=False, latency_s=None, missed=True),
        Sample(13.0, ok=False, latency_s=None),
        Sample(14.0, ok=True, latency_s=0.3),
    ]
    stats = measure_latency(timeline, 10.0, 20.0)
    assert stats == LatencyStats(p50_s=0.3, p95_s=2.0, p99_s=2.0, count=3)


def test_latency_without_samples_is_none() -> None:
    assert measure_latency(samples("HH", start_s=30.0), 10.0, 20.0) == LatencyStats(
        None, None, None, 0
    )


@pytest.mark.parametrize(
    ("value_s", "text"),
    [(12.5, "12.5 s"), (0.25, "0.25 s"), (3.0, "3 s"), (0.0001, "0 s"), (-0.0001, "0 s")],
)
def test_format_seconds(value_s: float, text: str) -> None:
    assert format_seconds(value_s) == text
