"""The generated template, pinned per loss kind and per kind of compute (golden JSON files).

Each golden holds the exact ``create_experiment_template`` request, the notes ``plan`` shows
and each fault's window on FIS. Every request also passes botocore's own validation of the
operation's input shape. ``GAMEDAY_UPDATE_GOLDEN=1`` rewrites the files after a deliberate
change; review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from botocore.session import get_session
from botocore.validate import validate_parameters

from gameday.fis.aws_config import AwsEnvironment
from gameday.fis.plan import plan_aws
from gameday.scenario.loader import LoadedScenario
from tests.unit.fis.builders import APP_ROLE, environment, scenario

GOLDEN = Path(__file__).parent / "golden"

IDENTITY = """
- {name: sts-down, kind: identity-loss, start_after: 5s, duration: 2m}
"""
LOGGING = """
- {name: logs-down, kind: logging-loss, mode: throttle, include: [kinesis], start_after: 0s,
   duration: 90s}
"""
REGISTRY = """
- name: ecr-down
  kind: registry-loss
  mode: internal
  start_after: 10s
  duration: 3m
  ramp:
    - {after: 0s, probability: 0.5}
    - {after: 1m, probability: 1.0}
"""
REGION = """
- {name: east-down, kind: region-loss, region: us-east-1, mode: blackhole, start_after: 5s,
   duration: 5m}
"""
API_EC2 = """
- name: ec2-throttled
  kind: api-fault
  services: [ec2]
  operations: [DescribeInstances, RunInstances]
  mode: throttle
  start_after: 0s
  duration: 4m
  ramp:
    - {after: 0s, probability: 0.25}
    - {after: 2m, probability: 1.0}
"""
API_KINESIS = """
- {name: logs-down, kind: logging-loss, start_after: 0s, duration: 2m}
- {name: kinesis-down, kind: api-fault, services: [kinesis], operations: [PutRecords],
   mode: unavailable, probability: 0.5, start_after: 2m, duration: 3m}
"""
REGION_GLOBAL = """
- {name: ireland-down, kind: region-loss, region: eu-west-1, include_global: true,
   start_after: 0s, duration: 3m}
"""
OUTAGE = """
- {name: identity, kind: identity-loss, start_after: 5s, duration: 3m}
- {name: logging, kind: logging-loss, mode: throttle, start_after: 5s, duration: 3m}
- {name: registry, kind: registry-loss, start_after: 2m, duration: 2m}
"""
LATENCY = """
- {name: slow-sts, kind: identity-loss, mode: latency, latency: 200ms..300ms, start_after: 0s,
   duration: 2m}
"""
PASSTHROUGH = """
- {name: sts-down, kind: identity-loss, start_after: 5s, duration: 2m}
- name: pause-io
  kind: fis-action
  action_id: aws:ebs:pause-volume-io
  targets:
    Volumes: {resource_type: "aws:ec2:ebs-volume", tags: {app: orders}, selection: "COUNT(1)"}
  start_after: 3m
  duration: 2m
"""

EC2 = "compute: {ec2: {tags: {app: orders}, filters: [{path: State.Name, values: [running]}]}}"
ECS = "compute: {ecs: {cluster: orders, service: api}}"
ECS_TAGS = "compute: {ecs: {tags: {app: orders}, fargate: false}}"
EKS = """
compute:
  eks: {cluster: prod, namespace: orders, selector_value: app=orders, service_account: fis-sa}
"""
ENDPOINTS = """
vpc_endpoints:
  - {services: [sts, sso-oidc], tags: {endpoint: identity}}
  - {services: [logs], arns: ["arn:aws:ec2:us-west-2:123456789012:vpc-endpoint/vpce-0abc"]}
"""
REGION_ENV = """
compute: {ec2: {tags: {app: orders}}}
network:
  subnets: {tags: {tier: app}}
  transit_gateways: {arns: ["arn:aws:ec2:us-west-2:123456789012:transit-gateway/tgw-0abc"]}
replication:
  s3_buckets: {tags: {replicated: "true"}}
  dynamodb_tables: {tags: {global: "true"}}
logs: {cloudwatch_log_group_arn: "arn:aws:logs:us-west-2:123456789012:log-group:fis:*",
       s3_bucket: fis-logs, s3_prefix: gameday/}
report: {s3_bucket: fis-reports, dashboards: ["arn:aws:cloudwatch::123456789012:dashboard/api"],
         pre_experiment: 5m, post_experiment: 5m}
"""
REGISTRY_ENV = ECS + "\nnetwork: {subnets: {tags: {tier: app}}}\nregistry: {block_s3_layers: true}"

CASES: dict[str, tuple[str, str, dict[str, object]]] = {
    "identity-ec2": (IDENTITY, EC2, {}),
    "identity-ecs": (IDENTITY, ECS, {}),
    "identity-eks": (IDENTITY, EKS, {}),
    "identity-vpc-endpoints": (IDENTITY, ENDPOINTS, {}),
    "logging-ec2-and-endpoints": (LOGGING, EC2 + "\n" + ENDPOINTS, {}),
    "logging-ecs-ec2-launch-type": (LOGGING, ECS_TAGS, {}),
    "registry-ecs-block-s3": (REGISTRY, REGISTRY_ENV, {}),
    "registry-eks": (REGISTRY, EKS, {"registry": {"accounts": ["210987654321"]}}),
    "region-loss-full": (REGION, REGION_ENV, {}),
    "api-fault-ec2-ramp": (API_EC2, "", {"app_roles": [APP_ROLE]}),
    "api-fault-kinesis-later": (API_KINESIS, ECS, {"app_roles": [APP_ROLE]}),
    "region-loss-global-services": (
        REGION_GLOBAL,
        EC2
        + '\nnetwork: {subnets: {arns: ["arn:aws:ec2:us-west-2:123456789012:subnet/subnet-1"]}}',
        {},
    ),
    "outage-overlapping-ec2": (OUTAGE, EC2, {}),
    "latency-eks": (LATENCY, EKS, {}),
    "fis-action-later": (PASSTHROUGH, EC2, {}),
}


def _golden(loaded: LoadedScenario, env: AwsEnvironment) -> dict[str, object]:
    plan = plan_aws(loaded, env, run_id="golden-run")
    assert plan.fis.problems == () and plan.fis.refused == ()
    return {
        "template": plan.fis.template.to_request(),
        "notes": list(plan.fis.notes),
        "windows": {n: [w.start_s, w.end_s] for n, w in plan.fis.windows.items()},
        "length_s": plan.fis.length_s,
        "starts_at_s": plan.fis.offset_s,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_template_matches_its_golden_file(case: str) -> None:
    faults, extra, fields = CASES[case]
    found = _golden(scenario(faults, name=case), environment(extra, **fields))
    path = GOLDEN / f"{case}.json"
    if os.environ.get("GAMEDAY_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(found, indent=2) + "\n")
    assert found == json.loads(path.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_template_passes_botocore_validation(case: str) -> None:
    shape = get_session().get_service_model("fis").operation_model("CreateExperimentTemplate")
    golden = json.loads((GOLDEN / f"{case}.json").read_text())
    assert shape.input_shape is not None
    validate_parameters(golden["template"], shape.input_shape)


def test_every_golden_file_belongs_to_a_case() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(CASES)
