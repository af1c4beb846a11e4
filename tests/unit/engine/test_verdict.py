"""The verdict on a drill that tested nothing (issue 15, "Fault effect"): through the engine's
seam with recording fakes (the injector's backend reports how many calls each rule matched),
and the rule itself on recorded faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.suite import exit_code_for
from gameday.engine.verdict import inconclusive_reason
from gameday.environments.stage import Evidence, Stage, StageRequest
from gameday.errors import ExitCode
from gameday.grading import ScenarioEntry, suite_score
from gameday.kinds import RunStatus
from gameday.result import FaultRecord, RunResult
from tests.unit.engine.fakes import (
    FakeEnvironment,
    FaultyApp,
    RecordingInjector,
    plan_for,
    scenario_file,
    serving,
)

IDENTITY_SERVICES = "sts, iam, sso, sso-oidc, identitystore, sso-admin, cognito-identity"


@pytest.fixture
def app() -> Iterator[FaultyApp]:
    with serving() as server:
        yield server


@dataclass
class CountingEnvironment:
    """The fake environment, whose backend says how many calls each rule matched (None: it
    does not count them, as FIS)."""

    inner: FakeEnvironment
    matched: dict[str, int] | None
    unknown: str = "FIS does not report which calls a fault matched"

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        stage = await self.inner.bring_up(request, stack)
        evidence = Evidence(matched_calls=self.matched, matched_calls_unknown=self.unknown)
        return replace(stage, evidence=lambda: evidence)


def _run(path: Path, app: FaultyApp, matched: dict[str, int] | None) -> RunResult:
    environment = CountingEnvironment(FakeEnvironment(RecordingInjector(app)), matched)
    return run_drill(plan_for(path), RunOptions(environment=environment), time.monotonic)


def test_a_fault_that_matched_no_call_makes_the_run_inconclusive(
    tmp_path: Path, app: FaultyApp
) -> None:
    result = _run(scenario_file(tmp_path), app, {"sts-down": 0})

    assert result.status is RunStatus.INCONCLUSIVE
    assert (result.score, result.grade, result.caps) == (None, None, ())
    assert result.reason == (
        f"fault 'sts-down' (it waited for calls to {IDENTITY_SERVICES} (any operation) in "
        "us-east-1) matched no call while in force, so the drill tested nothing; make the app "
        "call what the fault breaks during its window, or set 'expect_calls: false' on a fault "
        "the app is meant not to depend on"
    )
    assert [o.met for o in result.objectives] == [True, True]  # kept as evidence
    assert [(f.matched_calls, f.expect_calls) for f in result.faults] == [(0, True)]
    assert exit_code_for([result]) is ExitCode.COULD_NOT_RUN
    entry = ScenarioEntry("exits", result.score, 1.0, frozenset(), result.status)
    assert suite_score([entry]).excluded == ("exits",)


def test_a_fault_that_matched_calls_is_graded(tmp_path: Path, app: FaultyApp) -> None:
    result = _run(scenario_file(tmp_path), app, {"sts-down": 7})

    assert result.status is RunStatus.PASSED, result.reason
    assert result.score == 100.0
    assert [f.matched_calls for f in result.faults] == [7]


def test_expect_calls_false_keeps_the_grade_of_a_fault_that_matched_nothing(
    tmp_path: Path, app: FaultyApp
) -> None:
    faults = (
        "[{name: sts-down, kind: identity-loss, start_after: 50ms, duration: 150ms, "
        "expect_calls: false}]"
    )
    result = _run(scenario_file(tmp_path, faults=faults), app, {"sts-down": 0})

    assert result.status is RunStatus.PASSED, result.reason
    assert [(f.matched_calls, f.expect_calls) for f in result.faults] == [(0, False)]
    assert exit_code_for([result]) is ExitCode.OK


def test_a_backend_that_does_not_count_matches_leaves_them_unknown_and_grades(
    tmp_path: Path, app: FaultyApp
) -> None:
    result = _run(scenario_file(tmp_path), app, None)

    assert result.status is RunStatus.PASSED, result.reason
    (fault,) = result.faults
    assert fault.matched_calls is None
    assert fault.matched_calls_unknown == "FIS does not report which calls a fault matched"


def test_an_abort_stays_an_abort_whatever_the_faults_matched(
    tmp_path: Path, app: FaultyApp
) -> None:
    app.suffers = True
    path = scenario_file(
        tmp_path,
        guardrails="{abort_when: [{probe: api, consecutive_failures: 2}]}",
        faults="[{name: sts-down, kind: identity-loss, start_after: 50ms, duration: 2s}]",
    )
    result = _run(path, app, {"sts-down": 0})

    assert result.status is RunStatus.ABORTED
    assert exit_code_for([result]) is ExitCode.ABORTED


def _record(
    rule: str,
    matched: int | None,
    *,
    injected: bool = True,
    expect_calls: bool = True,
    operations: tuple[str, ...] = (),
) -> FaultRecord:
    return FaultRecord(
        id=rule,
        fault=rule.partition("#")[0],
        kind="api-fault",
        mode="unavailable",
        services=("ecr",),
        regions=("us-east-1", "eu-west-1"),
        operations=operations,
        probability=0.5,
        planned_start=1.0,
        planned_end=2.0,
        injected_at=1.0 if injected else None,
        removed_at=2.0 if injected else None,
        matched_calls=matched,
        expect_calls=expect_calls,
    )


def test_a_ramp_is_one_fault_tested_when_any_of_its_steps_matched() -> None:
    assert inconclusive_reason([_record("pull#1", 0), _record("pull#2", 3)]) is None
    assert inconclusive_reason([_record("pull#1", 0), _record("pull#2", 0)]) == (
        "fault 'pull' (it waited for calls to ecr (any operation) in us-east-1, eu-west-1) "
        "matched no call while in force, so the drill tested nothing; make the app call what "
        "the fault breaks during its window, or set 'expect_calls: false' on a fault the app "
        "is meant not to depend on"
    )


def test_every_untested_fault_is_named_with_the_operations_it_waited_for() -> None:
    reason = inconclusive_reason(
        [
            _record("pull", 0),
            _record("auth", 0, operations=("GetAuthorizationToken", "BatchGetImage")),
            _record("tested", 2),
        ]
    )
    assert reason is not None
    assert reason.startswith(
        "faults 'pull' (it waited for calls to ecr (any operation) in us-east-1, eu-west-1), "
        "'auth' (it waited for calls to ecr GetAuthorizationToken or BatchGetImage in "
        "us-east-1, eu-west-1) matched no call while in force"
    )


@pytest.mark.parametrize(
    "record",
    [
        _record("never", 0, injected=False),
        _record("fis", None),
        _record("not-expected", 0, expect_calls=False),
    ],
    ids=["never-injected", "not-counted", "expect-calls-false"],
)
def test_a_fault_that_was_not_in_force_not_counted_or_not_expected_is_no_reason(
    record: FaultRecord,
) -> None:
    assert inconclusive_reason([record]) is None
