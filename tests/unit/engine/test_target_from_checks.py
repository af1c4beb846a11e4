"""What ``plan`` says about policy ARN targets on each environment, and the approval ``run``
asks before any drill: pure planning, no network (nothing here has an endpoint to reach)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.checks import Check, CheckOutcome
from gameday.engine.plan import make_plan, policy_arn_problems
from gameday.engine.real_account import (
    plan_real_account,
    require_run_approval,
)
from gameday.environments.localstack_coverage import ServedServices
from gameday.errors import ExitCode
from gameday.faults.plan import Plan
from gameday.fis.aws_config import AwsEnvironment
from gameday.fis.safety import ApprovalRequired
from gameday.scenario.loader import LoadedScenario, load_scenario
from gameday.scenario.models import Environment

ARN = "arn:aws:resiliencehub:us-east-1:123456789012:resiliency-policy/gold"
SCENARIO = """apiVersion: gameday/v1
metadata: {{name: {name}}}
faults: [{{kind: identity-loss, start_after: 1s, duration: 1m}}]
probes: [{{name: api, kind: http, url: 'http://127.0.0.1:9/health', interval: 1s}}]
objectives:
  - {{kind: steady, probe: api}}
  - kind: rto
    probe: api
    {target}
guardrails: {{max_duration: 10m}}
observe: {{max: 3m}}
"""
BY_ARN = f"target_from: {{resiliency_policy: '{ARN}', disruption: Region}}"
BY_FILE = "target_from: {resiliency_policy: policy.json, disruption: AZ}"
SERVED = ServedServices(
    url="http://127.0.0.1:9",
    services=dict.fromkeys(("sts", "iam", "sso", "cognito-identity"), "running"),
    live=False,
)
ENV_FILE = {
    "apiVersion": "gameday/v1",
    "kind": "AwsEnvironment",
    "accounts": ["123456789012"],
    "region": "us-east-1",
    "role_arn": "arn:aws:iam::123456789012:role/gameday-fis",
    "stop_conditions": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx"],
    "compute": {"ec2": {"tags": {"app": "orders"}}},
}
AWS = AwsEnvironment.model_validate(ENV_FILE)


def _loaded(tmp_path: Path, target: str, name: str = "hub") -> LoadedScenario:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, target=target))
    return load_scenario(path)


def _target_checks(checks: list[Check] | tuple[Check, ...]) -> list[Check]:
    return [c for c in checks if c.name == "target_from"]


@pytest.mark.parametrize("environment", [Environment.EMBEDDED, Environment.LOCALSTACK])
def test_a_policy_arn_fails_the_plan_of_an_isolated_drill(
    tmp_path: Path, environment: Environment
) -> None:
    loaded = _loaded(tmp_path, BY_ARN)
    plan = make_plan(loaded, environment, served=SERVED)
    located = (
        f"{loaded.path}:9:38: objectives[1].target_from.resiliency_policy: {ARN!r} is a "
        f"Resilience Hub policy ARN, read from AWS; a drill on {environment.value} never "
        "reaches beyond loopback"
    )
    assert _target_checks(plan.checks) == [
        Check(
            "target_from",
            CheckOutcome.FAIL,
            f"{located} (give a JSON file of the policy, or run with --env aws)",
        )
    ]
    assert not plan.safe
    assert policy_arn_problems(loaded, environment) == [located]


def test_on_aws_a_policy_arn_is_read_at_run(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, BY_ARN)
    plan = make_plan(loaded, Environment.AWS)
    at_run = Check(
        "target_from",
        CheckOutcome.AT_RUN,
        f"rto-api from {ARN} (Region): resolved at run time, after approval and the account check",
    )
    assert _target_checks(plan.checks) == [at_run]
    assert _target_checks(plan_real_account(loaded, AWS, run_id="plan").checks) == [at_run]
    assert policy_arn_problems(loaded, Environment.AWS) == []


def test_policy_files_pass_everywhere_and_plain_targets_add_no_check(tmp_path: Path) -> None:
    by_file = _loaded(tmp_path, BY_FILE, name="file")
    for environment in Environment:
        checks = _target_checks(make_plan(by_file, environment, served=SERVED).checks)
        assert [c.outcome for c in checks] == [CheckOutcome.PASS], environment
    plain = _loaded(tmp_path, "target: 5s", name="plain")
    assert _target_checks(make_plan(plain, Environment.EMBEDDED).checks) == []


def test_a_file_gone_since_it_was_loaded_still_names_the_field(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, BY_ARN)
    loaded.path.unlink()
    (problem,) = policy_arn_problems(loaded, Environment.EMBEDDED)
    assert problem.startswith(f"{loaded.path}: objectives[1].target_from.resiliency_policy: ")


def _plans(tmp_path: Path, *environments: Environment) -> list[Plan]:
    return [
        make_plan(_loaded(tmp_path, "target: 5s", name=f"d{i}"), environment)
        for i, environment in enumerate(environments)
    ]


def test_an_unapproved_run_is_refused_naming_every_drill_on_aws(tmp_path: Path) -> None:
    plans = _plans(tmp_path, Environment.EMBEDDED, Environment.AWS, Environment.AWS)
    with pytest.raises(ApprovalRequired) as refused:
        require_run_approval(plans, AWS, approve=False)
    assert refused.value.exit_code is ExitCode.INVALID_INPUT
    assert refused.value.message == (
        "not approved: run d1 as an FIS experiment in us-east-1 (1 actions, 1m); "
        "run d2 as an FIS experiment in us-east-1 (1 actions, 1m)"
    )
    assert refused.value.hint == (
        "pass --approve (or answer yes on a terminal) to run against a real account"
    )
    require_run_approval(plans, AWS, approve=True)
    require_run_approval(plans[:1], AWS, approve=False)  # nothing on a real account
