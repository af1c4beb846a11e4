"""An RPO objective over unverified writes: measured when they cannot change it or the target is
met whichever way they went, *not measured* only when they decide it (issue 15)."""

from __future__ import annotations

from pathlib import Path

from gameday.engine.grade import grade_objectives
from gameday.result import ObjectiveResult
from gameday.scenario.loader import parse_scenario
from tests.unit.grading.builders import markers


def _graded(pattern: str, target: str) -> ObjectiveResult:
    scenario = parse_scenario(
        Path("orders.yaml"),
        "apiVersion: gameday/v1\n"
        "metadata: {name: orders}\n"
        "faults: [{kind: api-fault, services: [dynamodb], start_after: 1s, duration: 5s}]\n"
        "probes: [{name: orders, kind: data, write_url: '{app}/o/{marker}', "
        "read: {url: '{app}/o/{marker}'}}]\n"
        f"objectives: [{{kind: rpo, probe: orders, target: {target}}}]\n",
    )
    (graded,) = grade_objectives(
        scenario,
        samples={},
        markers={"orders": markers(pattern)},
        alerts={},
        t0=1.0,
        tend=6.0,
        observe_end=10.0,
        steady={},
    )
    return graded


def test_nothing_unverified_is_measured_with_its_counts() -> None:
    rpo = _graded("DDLLDD", "5s")
    assert (rpo.measured, rpo.met) == (2.0, True)
    assert rpo.detail.endswith("; 4 read back, 2 lost, 0 unverified")


def test_unverified_writes_that_cannot_change_the_rpo_leave_it_measured() -> None:
    rpo = _graded("DLLLDDND", "1s")
    assert (rpo.measured, rpo.met) == (3.0, False)
    assert "4 read back, 3 lost, 1 unverified" in rpo.detail
    assert rpo.detail.endswith("the unverified writes cannot change the RPO")


def test_met_whichever_way_the_unverified_writes_went_is_measured_at_its_worst() -> None:
    rpo = _graded("DDNDD", "5s")
    assert (rpo.measured, rpo.met, rpo.credit) == (1.0, True, 1.0)
    assert rpo.detail == (
        "no acknowledged write lost (4 read back, 0 lost, 1 unverified); RPO between 0 s and "
        "1 s depending on the unverified writes; at most 1 s: met either way"
    )


def test_unverified_writes_that_decide_the_objective_leave_it_not_measured() -> None:
    rpo = _graded("DDNDD", "500ms")
    assert (rpo.measured, rpo.met, rpo.credit) == (None, False, 0.0)
    assert rpo.detail.startswith("not measured: no acknowledged write lost (4 read back, ")
