"""The ``destructive_calls`` objective, guardrail and ``target.deny_destructive`` (issue 17):
how a scenario says them, what a mistake in them reads like, how they are graded, and when the
guardrail fires."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.engine.guard import check_guardrails, destructive_guard, watches_calls
from gameday.errors import ScenarioError
from gameday.grading import count_destructive, credit, grade_objective, is_met
from gameday.kinds import ObjectiveKind
from gameday.recorder import Recorder
from gameday.result import DestructiveCall
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import (
    AbortOnDestructive,
    AbortWhen,
    DestructiveCallsObjective,
    Scenario,
)

BASE = (
    "apiVersion: gameday/v1\n"
    "metadata: {name: automation}\n"
    "faults: [{kind: identity-loss, duration: 1s}]\n"
    "probes: [{name: api, kind: http, url: 'http://127.0.0.1:1/'}]\n"
)
D = ObjectiveKind.DESTRUCTIVE_CALLS


def _load(tmp_path: Path, rest: str) -> Scenario:
    path = tmp_path / "drill.yaml"
    path.write_text(BASE + rest)
    return load_scenario(path).scenario


def _problems(tmp_path: Path, rest: str) -> list[str]:
    path = tmp_path / "drill.yaml"
    path.write_text(BASE + rest)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return [problem.removeprefix(f"{path}:") for problem in caught.value.problems]


def test_the_names_the_shipped_drills_use(tmp_path: Path) -> None:
    scenario = _load(
        tmp_path,
        "target: {deny_destructive: true}\n"
        "objectives: [{kind: destructive_calls, target: 0}, {kind: steady, probe: api}]\n"
        "guardrails: {abort_when: [{destructive_calls: 1}, {probe: api, "
        "consecutive_failures: 3}]}\n",
    )
    assert scenario.target.deny_destructive
    objective = scenario.objectives[0]
    assert isinstance(objective, DestructiveCallsObjective) and objective.target == 0
    assert objective.probe == ""
    assert scenario.objective_names() == ["destructive_calls", "steady-api"]
    rails = scenario.guardrails
    assert isinstance(rails.abort_when[0], AbortOnDestructive)
    assert isinstance(rails.abort_when[1], AbortWhen)
    assert rails.destructive_limit == 1
    assert watches_calls(scenario)


def test_the_target_defaults_to_zero_and_nothing_watches_by_default(tmp_path: Path) -> None:
    scenario = _load(tmp_path, "objectives: [{kind: destructive_calls}]\n")
    assert scenario.objectives[0].target == 0
    plain = _load(tmp_path, "objectives: [{kind: steady, probe: api}]\n")
    assert not plain.target.deny_destructive
    assert plain.guardrails.destructive_limit is None
    assert not watches_calls(plain)


def test_mistakes_read_in_the_words_of_the_form_they_meant(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "objectives: [{kind: destructive_calls, target: -1, probe: api}]\n"
        "guardrails: {abort_when: [{destructive_calls: 0}, {destructive_call: 1}]}\n",
    )
    assert problems == [
        "5:48: objectives[0].target: must be at least 0, got -1",
        "5:52: objectives[0].probe: unknown key 'probe'; allowed keys: critical, kind, name, "
        "target, weight",
        "6:47: guardrails.abort_when[0].destructive_calls: must be at least 1, got 0",
        "6:51: guardrails.abort_when[1].destructive_calls: required field is missing",
        "6:52: guardrails.abort_when[1].destructive_call: unknown key 'destructive_call' (did "
        "you mean 'destructive_calls'?); allowed keys: destructive_calls",
    ]


def test_a_probe_guardrail_still_reads_as_one(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "objectives: [{kind: steady, probe: api}]\n"
        "guardrails: {abort_when: [{max_unhealthy: 0.5}]}\n",
    )
    assert problems[0] == "6:27: guardrails.abort_when[0].probe: required field is missing"


def test_graded_as_a_count_at_or_under_its_target_with_no_partial_credit() -> None:
    assert is_met(D, 0.0, 0.0) and is_met(D, 2.0, 2.0)
    assert not is_met(D, 1.0, 0.0) and not is_met(D, None, 0.0)
    assert credit(D, False, 3.0, 2.0) == 0.0
    graded = grade_objective("x", D, "", 2.0, 1.0)
    assert graded.met and graded.credit == 1.0


def test_calls_are_counted_from_t0_to_the_end_of_observation() -> None:
    assert count_destructive([0.5, 1.0, 2.0, 9.0, None], t0_s=1.0, observe_end_s=5.0) == 3
    assert count_destructive([], t0_s=1.0, observe_end_s=5.0) == 0


def _call(at: float | None, resource: str | None = "orders") -> DestructiveCall:
    return DestructiveCall(
        at=at, service="dynamodb", operation="DeleteTable", resource=resource, outcome="denied"
    )


def test_the_guardrail_fires_at_its_count_since_t0_naming_the_last_call(tmp_path: Path) -> None:
    scenario = _load(
        tmp_path,
        "objectives: [{kind: steady, probe: api}]\n"
        "guardrails: {abort_when: [{destructive_calls: 2}]}\n",
    )
    guard = destructive_guard
    assert guard(scenario, None, [_call(1.0), _call(2.0)]) is None
    assert guard(scenario, 1.5, [_call(1.0), _call(2.0)]) is None
    reason = guard(scenario, 1.5, [_call(1.0), _call(2.0), _call(3.25, None)])
    assert reason == (
        "guardrail: the app made 2 destructive call(s) (abort at 2), the last dynamodb "
        "DeleteTable at t=3.2 s (denied)"
    )
    # Before the first injection (no T0) nothing the app did aborts the drill.
    recorder = Recorder(clock=lambda: 1.0, origin=0.0)
    assert check_guardrails(scenario, recorder, 0.0, [_call(0.2), _call(0.5)]) is None
