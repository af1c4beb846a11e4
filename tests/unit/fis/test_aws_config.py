"""The environment file: the shipped example loads, problems are located at file:line:col, and
it merges over the scenario's target.aws."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.fis.aws_config import (
    AwsEnvironment,
    load_aws_environment,
    merge_environment,
    parse_aws_environment,
)
from gameday.scenario.loader import find_scenario_files
from tests.unit.fis.builders import ACCOUNT, ALARM, ROLE, scenario

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "scenarios" / "aws.example.yaml"


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_aws_environment(Path("env.yaml"), text)
    return caught.value.problems


def test_the_shipped_example_loads_and_is_complete() -> None:
    env = load_aws_environment(EXAMPLE)
    assert env.accounts == (ACCOUNT,)
    assert env.region == "us-west-2"
    assert env.compute.ec2 is not None and env.compute.ecs is not None
    assert env.compute.eks is not None and env.compute.eks.service_account == "fis-experiment"
    assert [e.services for e in env.vpc_endpoints] == [("sts",), ("logs",)]
    assert env.logs is not None and env.report is not None


def test_the_scenario_folder_scan_skips_the_environment_file() -> None:
    assert EXAMPLE not in find_scenario_files([ROOT / "scenarios"])


def test_an_unknown_key_is_located_with_a_suggestion() -> None:
    text = "kind: AwsEnvironment\ncompute:\n  ec2:\n    tagz: {app: x}\n"
    [problem] = _problems(text)
    assert problem.startswith(
        "env.yaml:4:5: compute.ec2.tagz: unknown key 'tagz' (did you mean 'tags'?); allowed keys:"
    )


def test_value_problems_are_located() -> None:
    text = (
        "accounts: ['12345']\n"
        "compute:\n"
        "  ec2: {tags: {a: b}, arns: [x], selection: SOME}\n"
        "vpc_endpoints:\n"
        "  - {services: [dynamodb], tags: {a: b}}\n"
    )
    problems = _problems(text)
    assert problems[0] == "env.yaml:1:12: accounts[0]: String should match pattern '^\\d{12}$'"
    assert (
        "env.yaml:3:45: compute.ec2.selection: selection 'SOME' is not ALL, COUNT(n) or PERCENT(n)"
        in problems
    )
    assert any("no interface endpoint service 'dynamodb'" in p for p in problems)


def test_tags_and_arns_together_and_no_selector_are_refused() -> None:
    [both] = _problems("compute: {ec2: {tags: {a: b}, arns: [x]}}\n")
    assert both.endswith("give either 'tags' or 'arns', not both (FIS takes one or the other)")
    [none] = _problems("compute: {ec2: {}}\n")
    assert none.endswith("instance needs 'tags' or 'arns': gameday never targets every instance")


def test_a_document_of_another_kind_is_refused() -> None:
    [problem] = _problems("apiVersion: gameday/v1\nkind: Scenario\n")
    assert problem.startswith("env.yaml:2:7: kind: ")


def test_the_file_wins_over_target_aws_and_fills_the_region() -> None:
    loaded = scenario(
        "- {kind: logging-loss, duration: 1m}",
        regions="[eu-west-1]",
    )
    defaults = loaded.scenario.model_copy(
        update={
            "target": loaded.scenario.target.model_copy(
                update={
                    "aws": loaded.scenario.target.aws.model_copy(
                        update={"accounts": ("111111111111",), "role_arn": ROLE}
                    )
                }
            )
        }
    )
    merged = merge_environment(defaults, AwsEnvironment(stop_conditions=(ALARM,)))
    assert merged.accounts == ("111111111111",)
    assert merged.role_arn == ROLE
    assert merged.stop_conditions == (ALARM,)
    assert merged.region == "eu-west-1"
    overridden = merge_environment(defaults, AwsEnvironment(accounts=(ACCOUNT,)))
    assert overridden.accounts == (ACCOUNT,)
