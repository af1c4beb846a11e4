"""RPO from data-probe markers (DESIGN.md "Measurements": lost runs and their windows)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.grading import LostRun, Marker, measure_rpo
from tests.unit.grading.builders import markers


def test_no_loss_is_an_rpo_of_zero() -> None:
    loss = measure_rpo(markers("DDDD"))
    assert loss.rpo_s == 0.0
    assert (loss.lost, loss.refused, loss.unverified, loss.read, loss.runs) == (0, 0, 0, 4, ())
    assert loss.detail == "no acknowledged write lost (4 read back, 0 lost, 0 unverified)"


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
    assert loss.detail == (
        "no acknowledged write lost (2 read back, 0 lost, 0 unverified); "
        "3 write(s) refused (unavailability, not loss)"
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
        "5 acknowledged write(s) lost in 3 run(s); largest window 3 s (markers 3..5); "
        "3 read back, 5 lost, 0 unverified"
    )


def test_a_refused_write_splits_a_run_but_not_its_window() -> None:
    loss = measure_rpo(markers("DLRLD"))
    assert loss.runs == (LostRun(1, 1, 1.0), LostRun(3, 3, 3.0))
    assert loss.rpo_s == 3.0


def test_unverified_writes_that_could_change_the_rpo_leave_it_unmeasured() -> None:
    # Marker 1 kept: the window of lost marker 2 starts at marker 1 (1 s); marker 1 lost: the
    # run 1..2 reaches back to marker 0 (2 s).
    loss = measure_rpo(markers("DNLD"))
    assert loss.runs == (LostRun(2, 2, 1.0),)
    assert (loss.rpo_s, loss.least_s, loss.most_s) == (None, 1.0, 2.0)
    assert (loss.read, loss.lost, loss.unverified) == (2, 1, 1)
    assert loss.detail == (
        "1 acknowledged write(s) lost in 1 run(s); largest window 1 s (markers 2..2); "
        "2 read back, 1 lost, 1 unverified; RPO between 1 s and 2 s depending on the "
        "unverified writes"
    )


def test_an_unverified_write_alone_is_not_measured() -> None:
    loss = measure_rpo(markers("DDND"))
    assert (loss.rpo_s, loss.least_s, loss.most_s, loss.lost) == (None, 0.0, 1.0, 0)


def test_unverified_writes_that_cannot_change_the_rpo_leave_it_measured() -> None:
    # A 3 s loss elsewhere outweighs anything marker 7 could add (1 s at most).
    loss = measure_rpo(markers("DLLLDDDND"))
    assert (loss.rpo_s, loss.least_s, loss.most_s) == (3.0, 3.0, 3.0)
    assert loss.unverified == 1
    assert loss.detail.endswith("; the unverified writes cannot change the RPO")
    # With no durable write before it, an unverified first write is a 0 s window either way.
    assert measure_rpo(markers("NDD")).rpo_s == 0.0


def test_marker_order_does_not_matter() -> None:
    written = markers("DLLDRL")
    assert measure_rpo(reversed(written)) == measure_rpo(written)


def test_duplicate_markers_are_rejected() -> None:
    with pytest.raises(ValueError, match="marker 1 appears twice"):
        measure_rpo([Marker(1, 1.0, True, True), Marker(1, 2.0, True, True)])


def test_markers_must_be_written_in_order() -> None:
    with pytest.raises(ValueError, match=r"marker 2 is written at 1\.0, not after marker 1"):
        measure_rpo([Marker(1, 1.0, True, True), Marker(2, 1.0, True, True)])


@settings(database=None, max_examples=200, deadline=None)
@given(st.text(alphabet="DLRN", max_size=12))
def test_the_rpo_bounds_hold_for_every_way_the_unverified_writes_went(pattern: str) -> None:
    loss = measure_rpo(markers(pattern))
    unknown = [i for i, char in enumerate(pattern) if char == "N"]
    seen = set()
    for mask in range(2 ** len(unknown)):
        chars = list(pattern)
        for bit, index in enumerate(unknown):
            chars[index] = "L" if mask >> bit & 1 else "D"
        decided = measure_rpo(markers("".join(chars)))
        assert decided.rpo_s is not None
        assert loss.least_s <= decided.rpo_s <= loss.most_s
        seen.add(decided.rpo_s)
    # The worst case happens in one of the ways; the least is a bound, not always reached.
    assert loss.most_s == max(seen)
    if loss.rpo_s is not None:
        assert seen == {loss.rpo_s}
