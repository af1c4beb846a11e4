"""The input records: what the engine may and may not hand to grading."""

from __future__ import annotations

import math

import pytest

from gameday.grading import FaultWindow, Marker, Sample, fault_span


def test_a_missed_tick_is_neither_healthy_nor_unhealthy() -> None:
    missed = Sample(3.0, ok=False, latency_s=None, missed=True)
    assert not missed.healthy
    assert not missed.unhealthy


def test_observed_samples_are_healthy_or_unhealthy() -> None:
    assert Sample(1.0, ok=True, latency_s=0.2).healthy
    assert Sample(1.0, ok=False, latency_s=0.2).unhealthy


def test_a_missed_tick_with_an_outcome_is_rejected() -> None:
    with pytest.raises(ValueError, match="a missed tick has no outcome"):
        Sample(1.0, ok=True, latency_s=None, missed=True)
    with pytest.raises(ValueError, match="a missed tick has no outcome"):
        Sample(1.0, ok=False, latency_s=0.5, missed=True)


@pytest.mark.parametrize("latency_s", [-0.1, math.nan, math.inf])
def test_a_latency_must_be_a_finite_non_negative_number(latency_s: float) -> None:
    with pytest.raises(ValueError, match="latency_s"):
        Sample(1.0, ok=True, latency_s=latency_s)


def test_an_offset_must_be_finite() -> None:
    with pytest.raises(ValueError, match="offset_s must be a finite number of seconds"):
        Sample(math.nan, ok=True, latency_s=None)


def test_records_are_frozen() -> None:
    sample = Sample(1.0, ok=True, latency_s=None)
    with pytest.raises(AttributeError):
        sample.ok = False  # type: ignore[misc]  # proving the dataclass is frozen


def test_fault_span_is_first_injection_to_last_removal() -> None:
    windows = [FaultWindow(20.0, 50.0), FaultWindow(10.0, 30.0), FaultWindow(15.0, 60.0)]
    assert fault_span(windows) == (10.0, 60.0)


def test_fault_span_needs_a_fault() -> None:
    with pytest.raises(ValueError, match="no fault windows"):
        fault_span([])


def test_a_fault_cannot_be_removed_before_it_was_injected() -> None:
    with pytest.raises(ValueError, match="cannot be removed"):
        FaultWindow(10.0, 9.0)


@pytest.mark.parametrize(
    ("acknowledged", "found", "lost", "durable", "unverified"),
    [
        (True, True, False, True, False),
        (True, False, True, False, False),
        (True, None, False, False, True),
        (False, None, False, False, False),
        # A refused write that read-back finds anyway is still not a durable write.
        (False, True, False, False, False),
        (False, False, False, False, False),
    ],
)
def test_marker_states(
    acknowledged: bool, found: bool | None, lost: bool, durable: bool, unverified: bool
) -> None:
    marker = Marker(0, 1.0, acknowledged, found)
    assert (marker.lost, marker.durable, marker.unverified) == (lost, durable, unverified)
