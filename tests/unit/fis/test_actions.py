"""The allow-list: destructive, unknown and LocalStack-only actions are refused by name, and
every parameter and target of an allowed action is checked (moto accepts anything, so the
check must be ours)."""

from __future__ import annotations

import pytest

from gameday.errors import ExitCode
from gameday.fis.actions import ALLOWED, REFUSED, RefusedActionError, action_problems, check_actions
from gameday.fis.plan import export_template, plan_aws
from tests.unit.fis.builders import environment, scenario

PACKET_LOSS_DOC = "arn:aws:ssm:us-west-2::document/AWSFIS-Run-Network-Packet-Loss-Sources"


@pytest.mark.parametrize(
    ("action_id", "reason"),
    [
        ("aws:ec2:terminate-instances", "terminates EC2 instances"),
        ("aws:eks:terminate-nodegroup-instances", "terminates the instances of an EKS node group"),
        ("aws:eks:pod-delete", "deletes Kubernetes pods"),
        ("aws:ecs:stop-task", "stops ECS tasks, which are then replaced by new ones"),
    ],
)
def test_destructive_actions_are_refused_naming_the_action(action_id: str, reason: str) -> None:
    assert action_problems("kill", action_id, {}, {}) == [
        f"kill: {action_id} is refused: it {reason}"
    ]


def test_every_refused_action_is_refused_and_none_is_also_allowed() -> None:
    assert not set(REFUSED) & set(ALLOWED)
    for action_id in REFUSED:
        assert action_problems("a", action_id, {}, {}) == [
            f"a: {action_id} is refused: it {REFUSED[action_id]}"
        ]


def test_unknown_and_localstack_actions_are_refused() -> None:
    assert action_problems("a", "aws:ec2:melt", {}, {}) == [
        "a: aws:ec2:melt is not a known reversible FIS action"
    ]
    assert action_problems("b", "localstack:generic:api-error", {}, {}) == [
        "b: localstack:generic:api-error is a LocalStack-only action; FIS in AWS has no such action"
    ]


def test_parameters_must_be_known_and_required_ones_present() -> None:
    problems = action_problems(
        "cut", "aws:network:disrupt-connectivity", {"scope": "all", "blast": "max"}, {}
    )
    assert problems == [
        "cut: aws:network:disrupt-connectivity has no parameter 'blast'; it takes duration, "
        "prefixListIdentifier, scope",
        "cut: aws:network:disrupt-connectivity needs the parameter 'duration'",
    ]


def test_targets_must_have_the_right_key_and_resource_type() -> None:
    parameters = {"duration": "PT1M"}
    assert action_problems(
        "v", "aws:network:disrupt-vpc-endpoint", parameters, {"Subnets": "aws:ec2:subnet"}
    ) == ["v: aws:network:disrupt-vpc-endpoint has no target 'Subnets'; it takes VPCEndpoints"]
    assert action_problems(
        "v", "aws:network:disrupt-vpc-endpoint", parameters, {"VPCEndpoints": "aws:ec2:subnet"}
    ) == [
        "v: aws:network:disrupt-vpc-endpoint target 'VPCEndpoints' must be of type "
        "aws:ec2:vpc-endpoint, not aws:ec2:subnet"
    ]


def test_ssm_runs_only_aws_fis_reversible_documents() -> None:
    targets = {"Instances": "aws:ec2:instance"}
    ok = {"documentArn": PACKET_LOSS_DOC, "duration": "PT1M"}
    assert action_problems("n", "aws:ssm:send-command", ok, targets) == []
    custom = {
        "documentArn": "arn:aws:ssm:us-west-2:123456789012:document/StopIISAppPool",
        "duration": "PT5M",
    }
    assert action_problems("iis", "aws:ssm:send-command", custom, targets) == [
        "iis: aws:ssm:send-command documentArn 'arn:aws:ssm:us-west-2:123456789012:document/"
        "StopIISAppPool' is not an AWS FIS document ARN (arn:aws:ssm:REGION::document/AWSFIS-...)"
        ": gameday runs only AWS FIS's own reversible documents"
    ]
    kill = {
        "documentArn": "arn:aws:ssm:us-west-2::document/AWSFIS-Run-Kill-Process",
        "duration": "PT1M",
    }
    [problem] = action_problems("k", "aws:ssm:send-command", kill, targets)
    assert problem.startswith("k: aws:ssm:send-command document 'AWSFIS-Run-Kill-Process' is not")


def test_stopped_instances_must_be_started_again() -> None:
    assert action_problems("s", "aws:ec2:stop-instances", {}, {}) == [
        "s: aws:ec2:stop-instances needs the parameter 'startInstancesAfterDuration'"
    ]


def test_check_actions_raises_with_every_problem_and_exit_2() -> None:
    with pytest.raises(RefusedActionError) as caught:
        check_actions(
            {
                "a": ("aws:ec2:terminate-instances", {}, {}),
                "b": ("aws:fis:wait", {"duration": "PT1M"}, {}),
                "c": ("aws:eks:pod-delete", {}, {}),
            }
        )
    assert caught.value.message.splitlines() == [
        "a: aws:ec2:terminate-instances is refused: it terminates EC2 instances",
        "c: aws:eks:pod-delete is refused: it deletes Kubernetes pods",
    ]
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_a_destructive_fis_action_fault_is_refused_in_plan_and_export() -> None:
    loaded = scenario(
        """
        - name: kill-half
          kind: fis-action
          action_id: aws:ec2:terminate-instances
          targets:
            Instances: {resource_type: "aws:ec2:instance", tags: {app: orders}}
          duration: 1m
        """
    )
    plan = plan_aws(loaded, environment(), run_id="r")
    assert plan.fis.refused == (
        "kill-half: aws:ec2:terminate-instances is refused: it terminates EC2 instances",
    )
    assert not plan.ok
    with pytest.raises(RefusedActionError, match="aws:ec2:terminate-instances is refused"):
        export_template(plan)
