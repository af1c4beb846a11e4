"""RPO from data-probe markers (DESIGN.md "Measurements": lost runs and their windows)."""

from __future__ import annotations

import pytest

from gameday.grading import LostRun, Marker, measure_rpo
from tests.unit.grading.builders import markers


def test_no_loss_is_an_rpo_of_zero() -> None:
    loss = measure_rpo(markers("DDDD"))
    assert loss.rpo_s == 0.0
    assert (loss.lost, loss.refused, loss.unverified, loss.runs) == (0, 0, 0, ())
    assert loss.detail == "no acknowledged write lost"


def test_no_markers_is_no_loss() -> None:
    loss = measure_rpo([])
    assert loss.rpo_s == 0.0
    assert loss.detail == "no marker written: nothing to lose"


def test_a_lost_first_write_is_a_zero_window_but_still_lost() -> None:
    # DESIGN.md: with no durable write before the run, t_(a-1) = t_a. The window is 0 s, and
    # the loss still shows in `lost` and the detail.
    loss = measure_rpo(markers("LDDD"))
    assert loss.runs == (LostRun(0, 0, 0.0),)
    assert loss.rpo_s == 0.0
    assert loss.lost == 1
    assert loss.detail.startswith("1 acknowledged write(s) lost in 1 run(s)")


def test_lost_writes_from_the_first_one() -> None:
    loss = measure_rpo(markers("LLLD", interval_s=2.0))
    assert loss.runs == (LostRun(0, 2, 4.0),)


def test_a_lost_last_write_reaches_back_to_the_last_durable_write() -> None:
    loss = measure_rpo(markers("DDDL"))
    assert loss.runs == (LostRun(3, 3, 1.0),)
    assert loss.rpo_s == 1.0


def test_window_is_from_the_last_durable_write_to_the_last_lost_one() -> None:
    # t_(a-1) = 2 (marker 1, durable), t_b = 9.5 (marker 4).
    written = [
        Marker(0, 1.0, True, True),
        Marker(1, 2.0, True, True),
        Marker(2, 3.0, True, False),
        Marker(3, 7.0, True, False),
        Marker(4, 9.5, True, False),
        Marker(5, 10.0, True, True),
    ]
    loss = measure_rpo(written)
    assert loss.runs == (LostRun(2, 4, 7.5),)


def test_refused_writes_are_unavailability_not_loss() -> None:
    loss = measure_rpo(markers("DRRRD"))
    assert loss.rpo_s == 0.0
    assert loss.lost == 0
    assert loss.refused == 3
    assert (
        loss.detail == "no acknowledged write lost; 3 write(s) refused (unavailability, not loss)"
    )


def test_refused_writes_before_a_loss_are_not_durable() -> None:
    # d0 r1 r2 L3 d4: the window reaches back to marker 0, the last durable write.
    loss = measure_rpo(markers("DRRLD"))
    assert loss.runs == (LostRun(3, 3, 3.0),)
    assert (loss.lost, loss.refused) == (1, 2)


def test_a_refused_write_found_anyway_is_not_durable() -> None:
    written = [
        Marker(0, 0.0, True, True),
        Marker(1, 1.0, False, True),
        Marker(2, 2.0, True, False),
    ]
    assert measure_rpo(written).runs == (LostRun(2, 2, 2.0),)


def test_the_largest_of_several_lost_runs_wins() -> None:
    loss = measure_rpo(markers("DLDLLLDL"))
    assert loss.runs == (LostRun(1, 1, 1.0), LostRun(3, 5, 3.0), LostRun(7, 7, 1.0))
    assert loss.rpo_s == 3.0
    assert loss.lost == 5
    assert loss.detail == (
        "5 acknowledged write(s) lost in 3 run(s); largest window 3 s (markers 3..5)"
    )


def test_a_refused_write_splits_a_run_but_not_its_window() -> None:
    loss = measure_rpo(markers("DLRLD"))
    assert loss.runs == (LostRun(1, 1, 1.0), LostRun(3, 3, 3.0))
    assert loss.rpo_s == 3.0


def test_unverified_writes_are_neither_lost_nor_durable() -> None:
    loss = measure_rpo(markers("DNLD"))
    assert loss.runs == (LostRun(2, 2, 2.0),)
    assert loss.unverified == 1
    assert loss.detail.endswith("; 1 acknowledged write(s) not read back")


def test_marker_order_does_not_matter() -> None:
    written = markers("DLLDRL")
    assert measure_rpo(reversed(written)) == measure_rpo(written)


def test_duplicate_markers_are_rejected() -> None:
    with pytest.raises(ValueError, match="marker 1 appears twice"):
        measure_rpo([Marker(1, 1.0, True, True), Marker(1, 2.0, True, True)])


def test_markers_must_be_written_in_order() -> None:
    with pytest.raises(ValueError, match=r"marker 2 is written at 1\.0, not after marker 1"):
        measure_rpo([Marker(1, 1.0, True, True), Marker(2, 1.0, True, True)])
