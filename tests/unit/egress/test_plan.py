"""The egress plan: which hosts each fault kind decrypts, its checks and its limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.checks import CheckOutcome
from gameday.egress.hosts import scope_of
from gameday.egress.plan import egress_plan_text, plan_egress
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.template import rules_for
from gameday.scenario.loader import load_scenario

SCENARIO = """apiVersion: gameday/v1
metadata: {{name: p}}
target: {{regions: [{regions}]}}
faults: [{fault}]
probes: [{{name: api, kind: http, url: 'http://127.0.0.1:1/health'}}]
objectives: [{{kind: steady, probe: api}}]
"""
ENV = {
    "accounts": ["123456789012"],
    "stop_conditions": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"],
    "injector": "egress",
    "egress": {"url": "http://127.0.0.1:4580"},
}


def _plan(tmp_path: Path, fault: str, regions: str = "us-east-1", **env: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(fault=fault, regions=regions))
    scenario = load_scenario(path).scenario
    merged = merge_environment(scenario, AwsEnvironment.model_validate({**ENV, **env}))
    return plan_egress(scenario, merged, rules_for(scenario), environ={})


@pytest.mark.parametrize(
    ("fault", "present", "absent"),
    [
        (
            "{kind: identity-loss, duration: 1s}",
            {"sts.us-east-1.amazonaws.com", "sts.amazonaws.com", "iam.amazonaws.com"},
            {"logs.us-east-1.amazonaws.com"},
        ),
        (
            "{kind: logging-loss, duration: 1s}",
            {"logs.us-east-1.amazonaws.com", "cloudtrail.us-east-1.amazonaws.com"},
            {"sts.us-east-1.amazonaws.com", "logs.amazonaws.com"},
        ),
        (
            "{kind: registry-loss, duration: 1s}",
            {"api.ecr.us-east-1.amazonaws.com", "*.dkr.ecr.us-east-1.amazonaws.com"},
            {"sts.us-east-1.amazonaws.com"},
        ),
        (
            "{kind: region-loss, region: us-east-1, duration: 1s}",
            {"*.us-east-1.amazonaws.com (every service)"},
            set(),
        ),
    ],
)
def test_each_kind_decrypts_its_own_hosts(
    tmp_path: Path, fault: str, present: set[str], absent: set[str]
) -> None:
    plan = _plan(tmp_path, fault)
    assert present <= set(plan.hosts)
    assert not absent & set(plan.hosts)
    assert plan.ok, plan.checks


def test_every_listed_host_is_one_the_proxy_decrypts(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "{kind: identity-loss, duration: 1s}", regions="us-east-1, eu-west-1")
    for host in plan.hosts:
        scope = scope_of(host.replace("*", "x"))
        assert scope is not None and scope.names, host
    assert "sts.eu-west-1.amazonaws.com" in plan.hosts


def test_limits_name_what_the_proxy_cannot_reach(tmp_path: Path) -> None:
    text = egress_plan_text(_plan(tmp_path, "{kind: registry-loss, duration: 1s}"))
    assert "image pulls run in the container runtime" in text
    assert "JavaScript SDK v3" in text
    logging = egress_plan_text(_plan(tmp_path, "{kind: logging-loss, duration: 1s}"))
    assert "log drivers" in logging and "image pulls" not in logging


def test_checks_fail_without_a_proxy_or_a_token_off_loopback(tmp_path: Path) -> None:
    fault = "{kind: identity-loss, duration: 1s}"
    missing = _plan(tmp_path, fault, egress=None)
    assert not missing.ok
    remote = _plan(tmp_path, fault, egress={"url": "http://10.0.0.5:4580"})
    (proxy,) = [c for c in remote.checks if c.name == "egress proxy"]
    assert proxy.outcome is CheckOutcome.FAIL and "GAMEDAY_GATEWAY_TOKEN" in proxy.detail
    no_alarm = _plan(tmp_path, fault, stop_conditions=[])
    assert not no_alarm.ok


def test_fis_action_faults_do_not_map_onto_the_proxy(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        "{kind: fis-action, action_id: 'aws:ec2:stop-instances', duration: 1m, "
        "targets: {Instances: {resource_type: 'aws:ec2:instance', tags: {app: x}}}}",
    )
    assert not plan.ok


def test_the_shipped_example_s_egress_lines_load(tmp_path: Path) -> None:
    import re

    from gameday.fis.aws_config import load_aws_environment

    example = Path(__file__).parents[3] / "scenarios" / "aws.example.yaml"
    text = re.sub(r"^# (injector|egress|  url|  token_env)", r"\1", example.read_text(), flags=re.M)
    assert text != example.read_text()
    path = tmp_path / "aws.yaml"
    path.write_text(text)
    env = load_aws_environment(path)
    assert env.injector == "egress"
    assert env.egress is not None and env.egress.url == "http://127.0.0.1:4580"
