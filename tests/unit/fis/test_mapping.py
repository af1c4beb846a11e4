"""What cannot map onto FIS is said plainly, and where FIS differs from the scenario is noted."""

from __future__ import annotations

import json

import pytest

from gameday.checks import CheckOutcome
from gameday.errors import InvalidInputError
from gameday.fis.plan import export_template, fis_plan_dict, fis_plan_text, plan_aws
from tests.unit.fis.builders import APP_ROLE, environment, scenario

EC2 = "compute: {ec2: {tags: {app: orders}}}"


def _problems(faults: str, extra: str = EC2, **fields: object) -> tuple[str, ...]:
    return plan_aws(scenario(faults), environment(extra, **fields), run_id="r").fis.problems


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (
            "- {name: f, kind: identity-loss, federation_only: true, duration: 2m}",
            "fault f: federation_only needs per-operation faults on sts; FIS can only cut the "
            "network to STS, which takes every operation",
        ),
        (
            "- {name: f, kind: logging-loss, operations: [PutLogEvents], duration: 2m}",
            "fault f: 'operations': a network fault cannot pick API operations",
        ),
        (
            "- {name: f, kind: api-fault, services: [dynamodb], operations: [GetItem], "
            "duration: 2m}",
            "fault f: FIS injects API errors for ec2 and kinesis only, not dynamodb",
        ),
        (
            "- {name: f, kind: api-fault, services: [ec2], operations: [RunInstances], "
            "mode: denied, duration: 2m}",
            "fault f: mode 'denied': FIS injects only unavailable, throttle and internal errors",
        ),
        (
            "- {name: f, kind: api-fault, services: [ec2], duration: 2m}",
            "fault f: FIS needs the API operations to fault: list them in 'operations'",
        ),
        (
            "- {name: f, kind: region-loss, region: us-west-2, duration: 2m}",
            "fault f: the lost region us-west-2 is the experiment region: FIS cuts traffic from "
            "the experiment region to another one",
        ),
        (
            "- {name: f, kind: region-loss, region: us-east-1, duration: 2m}",
            "fault f: region loss needs network.subnets (the app's subnets) in the environment "
            "file",
        ),
    ],
)
def test_faults_fis_cannot_express_are_problems(fault: str, problem: str) -> None:
    assert _problems(fault) == (problem,)


def test_api_fault_needs_the_apps_roles() -> None:
    fault = (
        "- {name: f, kind: api-fault, services: [ec2], operations: [RunInstances], duration: 2m}"
    )
    assert _problems(fault) == (
        "fault f: api-fault needs the app's IAM roles: set app_roles in the environment file",
    )
    assert _problems(fault, app_roles=[APP_ROLE]) == ()


def test_a_loss_needs_compute_or_an_endpoint() -> None:
    assert _problems("- {name: f, kind: logging-loss, duration: 2m}", "") == (
        "fault f: the environment file names no compute (compute.ec2, .ecs, .eks) and no VPC "
        "endpoint in us-west-2 for cloudtrail, logs",
    )


def test_overlapping_network_faults_with_different_modes_are_a_problem() -> None:
    faults = """
    - {name: a, kind: identity-loss, duration: 2m}
    - {name: b, kind: logging-loss, mode: latency, latency: 1s, start_after: 1m, duration: 2m}
    """
    assert _problems(faults) == (
        "faults a, b overlap from 60s to 120s with different modes or probabilities; on FIS one "
        "host takes one network fault at a time",
    )


def test_overlapping_region_losses_are_a_problem() -> None:
    faults = """
    - {name: a, kind: region-loss, region: us-east-1, duration: 2m}
    - {name: b, kind: region-loss, region: eu-west-1, start_after: 1m, duration: 2m}
    """
    extra = EC2 + "\nnetwork: {subnets: {tags: {tier: app}}}"
    assert _problems(faults, extra) == (
        "faults a and b are region losses at the same time: FIS swaps the subnets' route tables "
        "for one region at a time",
    )


def test_short_windows_are_stretched_to_fis_minimums_and_noted() -> None:
    loaded = scenario(
        """
        - {name: a, kind: identity-loss, start_after: 5s, duration: 20s}
        - {name: b, kind: registry-loss, start_after: 10s, duration: 20s}
        """
    )
    plan = plan_aws(loaded, environment(EC2), run_id="r")
    assert "a: aws:ssm:send-command lasts at least 1m on FIS, so 5s becomes 1m" in plan.fis.notes
    assert plan.fis.windows["a"].end_s == 120.0 and plan.fis.length_s == 180.0
    checks = {c.name: c for c in plan.checks}
    assert checks["observation covers the experiment"].outcome is CheckOutcome.PASS
    short = scenario("- {name: a, kind: identity-loss, duration: 20s}", observe="30s")
    plan = plan_aws(short, environment(EC2), run_id="r")
    assert {c.name: c.outcome for c in plan.checks}["observation covers the experiment"] is (
        CheckOutcome.FAIL
    )


def test_plan_text_has_the_checks_windows_notes_and_exact_template() -> None:
    plan = plan_aws(
        scenario("- {name: sts-down, kind: identity-loss, start_after: 5s, duration: 2m}"),
        environment(EC2),
        run_id="plan",
    )
    text = fis_plan_text(plan)
    assert text.startswith(
        "scenario drill on aws: one FIS experiment in us-west-2, started 5s into the drill, "
        "running 2m\nchecks:\n  at-run  approval: run needs --approve or a yes on a terminal\n"
    )
    assert "  sts-down: 0s..2m on FIS (as written: 0s..2m)\n" in text
    template = text.split("template (the create_experiment_template request):\n", 1)[1]
    assert json.loads(template) == plan.fis.template.to_request()
    assert json.loads(export_template(plan)) == plan.fis.template.to_request()
    data = fis_plan_dict(plan)
    assert data["ok"] is True and data["template"] == plan.fis.template.to_request()


def test_export_refuses_a_plan_with_problems_or_without_a_role() -> None:
    loaded = scenario("- {name: f, kind: logging-loss, duration: 2m}")
    with pytest.raises(InvalidInputError, match="names no compute"):
        export_template(plan_aws(loaded, environment(), run_id="r"))
    with pytest.raises(InvalidInputError, match="no FIS role: the template needs one"):
        export_template(plan_aws(loaded, environment(EC2, role_arn=None), run_id="r"))
