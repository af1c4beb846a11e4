"""Aborted runs: a guardrail's abort is an F, any other abort has no score; the objectives an
abort left undecided are not measured; the steady objective says before and after apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.engine.grade import SteadyHeld, grade_objectives
from gameday.engine.guard import GUARDRAIL
from gameday.grading import (
    GUARDRAIL_PREFIX,
    NOT_MEASURED_ABORTED,
    ScenarioEntry,
    cut_short,
    grade_aborted,
    grade_objective,
    is_cut_short,
    measure_recovery,
    suite_score,
)
from gameday.kinds import Capability, Grade, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult
from gameday.scenario.loader import parse_scenario
from tests.unit.grading.builders import samples

SIGNAL = "signal SIGTERM"
DIED = "the runner (pid 4242 on ci-7) ended without finishing the run; found at 2026-11-22T03:00Z"
GUARDRAIL_REASON = "guardrail: probe 'api' failed 5 times in a row"


def _objective(kind: ObjectiveKind, target: float, measured: float | None) -> ObjectiveResult:
    return grade_objective(kind.value, kind, "api", target, measured, detail="as measured")


@pytest.mark.parametrize("reason", [SIGNAL, "signal SIGINT", DIED])
def test_an_abort_that_is_not_a_guardrails_has_no_score_and_no_grade(reason: str) -> None:
    verdict = grade_aborted(reason, [_objective(ObjectiveKind.STEADY, 1.0, 1.0)])
    assert (verdict.score, verdict.grade, verdict.status) == (None, None, RunStatus.ABORTED)
    assert verdict.caps == (
        f"aborted, not by a guardrail ({reason}): not scored, as the stop was not the app's",
    )


def test_a_guardrail_abort_stays_an_f_with_score_zero() -> None:
    verdict = grade_aborted(GUARDRAIL_REASON)
    assert (verdict.score, verdict.grade, verdict.status) == (0.0, Grade.F, RunStatus.ABORTED)
    assert verdict.caps == ("aborted by guardrail: score set to 0",)


def test_the_guardrail_prefix_is_the_one_the_guardrails_write() -> None:
    # Grading cannot import the engine (layers): the two spellings must not drift apart.
    assert GUARDRAIL_PREFIX == GUARDRAIL


def test_a_suite_leaves_a_signal_abort_out_and_counts_a_guardrail_abort_as_zero() -> None:
    def entry(name: str, score: float | None, status: RunStatus) -> ScenarioEntry:
        return ScenarioEntry(name, score, 1.0, frozenset({Capability.IDENTITY}), status)

    suite = suite_score(
        [
            entry("graded", 80.0, RunStatus.FAILED),
            entry("guardrail", 0.0, RunStatus.ABORTED),
            entry("ctrl-c", grade_aborted(SIGNAL).score, RunStatus.ABORTED),
        ]
    )
    assert suite.score == 40.0  # (80 + 0) / 2, not (80 + 0 + 0) / 3
    assert suite.by_capability == {Capability.IDENTITY: 40.0}
    assert (suite.counted, suite.excluded) == (("graded", "guardrail"), ("ctrl-c",))


def _rto(pattern: str, target: float = 5.0) -> ObjectiveResult:
    # T0 at 0 s, faults removed at 2 s (the abort), one sample per second.
    recovery = measure_recovery(samples(pattern), 0.0, 2.0, observe_end_s=len(pattern) - 1.0)
    graded = grade_objective("api-rto", ObjectiveKind.RTO, "api", target, recovery.rto_s)
    return graded.model_copy(update={"impact_start": recovery.impact_start_s})


def test_an_abort_leaves_undecided_objectives_not_measured() -> None:
    undecided = [
        _rto("HH"),  # no impact yet: an RTO of 0 that the rest of the fault could undo
        _rto("UU"),  # not recovered yet
        _objective(ObjectiveKind.AVAILABILITY, 0.9, 1.0),  # 100 % of 2 s of a 20 s fault
        _objective(ObjectiveKind.LATENCY, 0.5, 0.1),
        _objective(ObjectiveKind.DESTRUCTIVE_CALLS, 0.0, 0.0),  # none yet
        _objective(ObjectiveKind.TTD, 30.0, None),  # no alert yet
        _objective(ObjectiveKind.RPO, 5.0, None),  # writes left unverified by the read-back
    ]
    for before, after in zip(undecided, cut_short(undecided, 2.04), strict=True):
        assert (after.measured, after.met, after.credit) == (None, False, 0.0), before
        assert after.detail.startswith(f"{NOT_MEASURED_ABORTED}: the drill stopped at t=2.0 s")
        assert is_cut_short(after) and not is_cut_short(before)
    assert cut_short(undecided[2:3], 2.0)[0].detail == (
        "not measured (aborted): the drill stopped at t=2.0 s; seen: as measured"
    )


def test_an_abort_keeps_what_had_already_been_decided() -> None:
    decided = [
        _rto("UHHH"),  # recovered: 1 s, whatever came later
        _rto("UUUUUUUHHH"),  # recovered after 7 s: a miss that stands
        _objective(ObjectiveKind.TTD, 30.0, 12.0),  # the first alert came
        _objective(ObjectiveKind.DESTRUCTIVE_CALLS, 0.0, 2.0),  # over the target: only grows
        _objective(ObjectiveKind.RPO, 1.0, 0.0),  # every write made was read back
        _objective(ObjectiveKind.STEADY, 1.0, 0.0),  # checked after the rollback
    ]
    assert cut_short(decided, 2.0) == decided
    assert [o.met for o in decided] == [True, False, True, False, True, False]


HEADER = (
    "apiVersion: gameday/v1\n"
    "metadata: {name: steady}\n"
    "faults: [{kind: identity-loss, start_after: 1s, duration: 10s}]\n"
    "probes: [{name: api, kind: http, url: '{app}/health'}]\n"
    "objectives: [{kind: steady, probe: api}]\n"
)


@pytest.mark.parametrize(
    ("held", "met", "detail"),
    [
        (SteadyHeld(True, True), True, "held before and after"),
        (
            SteadyHeld(True, False, "HTTP 503, 5.0 s after the rollback"),
            False,
            "held before; did not hold after the faults were removed "
            "(HTTP 503, 5.0 s after the rollback)",
        ),
        (SteadyHeld(True, None), False, "held before; not checked after"),
        (SteadyHeld(False, None), False, "did not hold before the faults"),
    ],
)
def test_the_steady_objective_says_before_and_after_apart(
    held: SteadyHeld, met: bool, detail: str
) -> None:
    scenario = parse_scenario(Path("steady.yaml"), HEADER)
    (steady,) = grade_objectives(
        scenario,
        samples={"api": samples("H" * 20)},
        markers={},
        alerts={},
        t0=1.0,
        tend=11.0,
        observe_end=19.0,
        steady={"api": held},
    )
    assert (steady.met, steady.detail) == (met, detail)
