"""The demo's automation and alert-path options: from the scenario, through the environment
variables the engine sets, to the configuration the demo reads."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from gameday.demo.config import DemoConfig, DemoConfigError, SelfHeal
from gameday.environments.app import demo_environment
from gameday.errors import ScenarioError
from gameday.scenario.loader import parse_scenario
from gameday.scenario.target import DemoApp

SCENARIO = """\
apiVersion: gameday/v1
metadata: {{name: options}}
target:
  app:
    demo: {demo}
faults:
  - {{kind: api-fault, services: [dynamodb], duration: 1s}}
probes:
  - {{name: api, kind: http, url: '{{app}}/health'}}
objectives:
  - {{kind: steady, probe: api}}
"""


def test_the_scenario_offers_exactly_the_modes_the_demo_knows() -> None:
    offered = typing.get_args(DemoApp.model_fields["self_heal"].annotation)
    assert set(offered) == {mode.value for mode in SelfHeal}


@pytest.mark.parametrize("mode", list(SelfHeal))
def test_options_reach_the_demo_unchanged(mode: SelfHeal) -> None:
    demo = DemoApp(self_heal=mode.value, alert_topic="demo-pager", alert_fallback=False)
    config = DemoConfig.from_env(demo_environment(demo, ("eu-west-1",)))
    assert config.self_heal is mode
    assert config.alert_topic_arn == "arn:aws:sns:eu-west-1:123456789012:demo-pager"
    assert config.alert_fallback is False


def test_the_defaults_are_no_automation_and_the_webhook_alone() -> None:
    config = DemoConfig.from_env(demo_environment(DemoApp(), ("us-east-1",)))
    assert config.self_heal is SelfHeal.OFF
    assert config.alert_topic_arn is None
    assert config.alert_fallback is True


def test_an_unknown_mode_names_the_variable_and_the_modes() -> None:
    with pytest.raises(DemoConfigError) as refused:
        DemoConfig.from_env({"GAMEDAY_DEMO_SELF_HEAL": "aggressive"})
    assert refused.value.message == (
        "GAMEDAY_DEMO_SELF_HEAL='aggressive' is not one of off, naive, resilient"
    )


def test_a_topic_arn_is_not_a_topic_name() -> None:
    with pytest.raises(DemoConfigError) as refused:
        DemoConfig.from_env({"GAMEDAY_DEMO_ALERT_TOPIC": "arn:aws:sns:us-east-1:1:x"})
    assert "is not an SNS topic name" in refused.value.message


def test_a_misspelt_mode_in_a_scenario_names_file_line_and_field(tmp_path: Path) -> None:
    text = SCENARIO.format(demo="{self_heal: agressive}")
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(tmp_path / "s.yaml", text)
    assert str(refused.value).endswith(
        "s.yaml:5:23: target.app.demo.self_heal: unknown value 'agressive'; "
        "expected one of: off, naive, resilient"
    )
