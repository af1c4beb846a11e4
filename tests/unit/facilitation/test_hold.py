"""``--hold``: how long faults may be held, and which rule windows are stretched."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gameday.errors import ExitCode, InvalidInputError
from gameday.facilitation.hold import (
    HOLD_MARGIN_S,
    held_rules,
    hold_deadline,
    observe_after_faults,
)
from gameday.faults.rules import Rule, resolve_rules
from gameday.scenario.loader import parse_scenario
from gameday.scenario.models import Scenario


def _scenario(faults: str, *, observe_max: str, max_duration: str, regions: str = "") -> Scenario:
    return parse_scenario(
        Path("hold.yaml"),
        "apiVersion: gameday/v1\n"
        "metadata: {name: hold}\n"
        f"target: {{regions: [{regions or 'us-east-1'}]}}\n"
        f"faults: {faults}\n"
        "probes: [{name: api, kind: http, url: '{app}/health'}]\n"
        "objectives: [{kind: human_ttm, target: 5m}]\n"
        f"observe: {{max: {observe_max}}}\n"
        f"guardrails: {{max_duration: {max_duration}}}\n",
    )


TWO_FAULTS = (
    "[{kind: identity-loss, name: idp, mode: unavailable, start_after: 5s, duration: 20s}, "
    "{kind: logging-loss, name: logs, mode: throttle, start_after: 10s, duration: 20s, "
    "ramp: [{after: 0s, probability: 0.25}, {after: 5s, probability: 0.5}, "
    "{after: 12s, probability: 1}]}]"
)


def test_the_deadline_leaves_the_planned_observation_and_a_margin() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="60s", max_duration="5m")
    rules = resolve_rules(scenario)
    # The faults end at 30 s; the scenario observes 60 - 30 = 30 s after them.
    assert observe_after_faults(scenario, rules) == 30.0
    assert HOLD_MARGIN_S == 1.0
    assert hold_deadline(scenario, rules) == 300.0 - 30.0 - 1.0


def test_observing_exactly_until_the_faults_end_leaves_everything_to_the_hold() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="30s", max_duration="100s")
    rules = resolve_rules(scenario)
    assert observe_after_faults(scenario, rules) == 0.0
    assert hold_deadline(scenario, rules) == 99.0


def test_no_room_to_hold_is_refused_with_what_to_change() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="60s", max_duration="61s")
    with pytest.raises(InvalidInputError) as caught:
        hold_deadline(scenario, resolve_rules(scenario))
    # 61 - 30 - 1 = 30: exactly the planned end, so not a second of hold.
    assert str(caught.value) == (
        "--hold: hold: guardrails.max_duration (61s) leaves no time to hold the faults beyond "
        "their planned end (30s) and the 30s observed after them"
    )
    assert caught.value.hint == (
        "raise guardrails.max_duration in the scenario; it bounds how long faults may be held"
    )
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_a_little_room_is_enough() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="60s", max_duration="61500ms")
    assert hold_deadline(scenario, resolve_rules(scenario)) == 30.5


def _windows(rules: list[Rule]) -> list[tuple[str, float, float]]:
    return [(r.id, r.start_s, r.end_s) for r in rules]


def test_held_rules_stretch_only_the_last_window_of_each_fault() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="60s", max_duration="5m")
    rules = resolve_rules(scenario)
    assert _windows(rules) == [
        ("idp", 5.0, 25.0),
        ("logs#1", 10.0, 15.0),
        ("logs#2", 15.0, 22.0),
        ("logs#3", 22.0, 30.0),
    ]
    held = held_rules(rules, 269.0)
    # The ramp keeps its earlier steps; only the end of each fault moves to the deadline.
    assert _windows(held) == [
        ("idp", 5.0, 269.0),
        ("logs#1", 10.0, 15.0),
        ("logs#2", 15.0, 22.0),
        ("logs#3", 22.0, 269.0),
    ]
    assert held[0] == replace(rules[0], end_s=269.0)
    assert held[1:3] == rules[1:3]
    # The TTL follows the window: a killed runner leaves nothing past the deadline + margin.
    assert held[0].ttl_s == 269.0 - 5.0 + 2.0


def test_every_rule_that_ends_with_its_fault_is_held() -> None:
    # A lost region with its global services resolves into two rules per window: both are held,
    # else the region itself would come back on schedule while the hold went on.
    faults = (
        "[{kind: region-loss, name: west, region: eu-west-1, include_global: true, "
        "start_after: 2s, duration: 10s, ramp: [{after: 0s, probability: 0.5}, "
        "{after: 4s, probability: 1}]}]"
    )
    scenario = _scenario(faults, observe_max="60s", max_duration="5m", regions="eu-west-1")
    held = held_rules(resolve_rules(scenario), 100.0)
    assert [(r.id, r.regions, r.start_s, r.end_s) for r in held] == [
        ("west#1.1", ("eu-west-1",), 2.0, 6.0),
        ("west#1.2", ("us-east-1",), 2.0, 6.0),
        ("west#2.1", ("eu-west-1",), 6.0, 100.0),
        ("west#2.2", ("us-east-1",), 6.0, 100.0),
    ]


def test_a_deadline_before_a_window_ends_never_shortens_it() -> None:
    scenario = _scenario(TWO_FAULTS, observe_max="60s", max_duration="5m")
    rules = resolve_rules(scenario)
    assert held_rules(rules, 10.0) == rules
