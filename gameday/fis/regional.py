"""Region loss and API faults on FIS: the actions that need no access to the app's compute.

Region loss takes the shape of FIS's "Cross-Region: Connectivity" scenario
(https://docs.aws.amazon.com/fis/latest/userguide/cross-region-scenario.html): route tables of
the app's subnets (and transit gateways) stop carrying traffic to the lost region, and
cross-region replication of S3 buckets and DynamoDB global tables is paused when asked. API
faults use aws:fis:inject-api-*-error, whose ``service`` "supported value is ec2 and kinesis"
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html).
"""

from __future__ import annotations

from typing import Protocol

from gameday.errors import InvalidInputError
from gameday.faults.catalog import GLOBAL_HOME_REGION, GLOBAL_SERVICES
from gameday.faults.modes import Mode
from gameday.faults.rules import Rule
from gameday.fis.aws_config import AwsEnvironment
from gameday.fis.endpoints import endpoint_hosts
from gameday.fis.iso import iso_duration
from gameday.fis.network import LOSS, Demand, Segment, Step, percent, selector_target
from gameday.fis.spec import TemplateTarget
from gameday.scenario.botocore_data import service_operations
from gameday.scenario.models import ApiFault, RegionLoss

API_SERVICES = ("ec2", "kinesis")
API_MODES = {
    Mode.UNAVAILABLE: "aws:fis:inject-api-unavailable-error",
    Mode.THROTTLE: "aws:fis:inject-api-throttle-error",
    Mode.INTERNAL: "aws:fis:inject-api-internal-error",
}
_SCENARIO_DOC = "https://docs.aws.amazon.com/fis/latest/userguide/cross-region-scenario.html"
_ACTIONS_DOC = "https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html"


class Context(Protocol):
    """What the mappings need from the template being built."""

    env: AwsEnvironment
    region: str

    def note(self, text: str) -> None:
        """Record where FIS differs from the scenario as written."""
        ...

    def effective(self, action_id: str, seconds: float, what: str) -> int:
        """Whole seconds ``action_id`` runs for when asked for ``seconds``."""
        ...

    def target(self, name: str, target: TemplateTarget) -> str:
        """Add a template target once; its name."""
        ...


def _check_region_loss(b: Context, fault: RegionLoss) -> None:
    if fault.mode is Mode.LATENCY:
        raise InvalidInputError(
            "mode 'latency': FIS's cross-region actions cut traffic, they cannot delay it"
        )
    if fault.region == b.region:
        raise InvalidInputError(
            f"the lost region {fault.region} is the experiment region: FIS cuts traffic from "
            "the experiment region to another one",
            hint="run the experiment from a surviving region ('region' in the environment file)",
        )
    if fault.error is not None or fault.operations:
        raise InvalidInputError("'error' and 'operations' do not apply to a cut route")


def _region_limits(b: Context, fault: RegionLoss, name: str) -> None:
    quota = 350 if fault.region == "us-east-1" else 250
    b.note(
        f"{name}: outbound only: traffic that starts in the app's subnets toward {fault.region} "
        f"is cut; stateless inbound traffic from {fault.region} and traffic of AWS managed "
        f"services may not be ({_SCENARIO_DOC})"
    )
    b.note(
        f"{name}: route quota: FIS creates route tables with every route to {fault.region}; "
        f"raise the VPC quota 'routes per route table' to {quota} plus your existing routes "
        f"({_ACTIONS_DOC}#route-table-disrupt-cross-region-connectivity)"
    )
    if fault.region == GLOBAL_HOME_REGION and not fault.global_services_fail:
        b.note(
            f"{name}: include_global: false cannot hold on FIS: every {GLOBAL_HOME_REGION} "
            "address is cut, the global endpoints homed there included"
        )


def _region_targets(b: Context, name: str) -> dict[str, tuple[str, str]]:
    """Action id -> (target key, target name) for each region-loss action the file enables."""
    env = b.env
    if env.network.subnets is None:
        raise InvalidInputError(
            "region loss needs network.subnets (the app's subnets) in the environment file"
        )
    found = {
        "aws:network:route-table-disrupt-cross-region-connectivity": (
            "Subnets",
            b.target("app-subnets", selector_target(env.network.subnets, "aws:ec2:subnet")),
        )
    }
    if env.network.transit_gateways is not None:
        found["aws:network:transit-gateway-disrupt-cross-region-connectivity"] = (
            "TransitGateways",
            b.target(
                "transit-gateways",
                selector_target(env.network.transit_gateways, "aws:ec2:transit-gateway"),
            ),
        )
    replication = env.replication
    if replication.s3_buckets is not None:
        found["aws:s3:bucket-pause-replication"] = (
            "Buckets",
            b.target(
                "replicated-buckets", selector_target(replication.s3_buckets, "aws:s3:bucket")
            ),
        )
        b.note(
            f"{name}: S3: existing objects may continue to be replicated for up to one hour "
            f"after the pause begins ({_ACTIONS_DOC}#bucket-pause-replication)"
        )
    if replication.dynamodb_tables is not None:
        found["aws:dynamodb:global-table-pause-replication"] = (
            "Tables",
            b.target(
                "global-tables",
                selector_target(replication.dynamodb_tables, "aws:dynamodb:global-table"),
            ),
        )
        b.note(
            f"{name}: DynamoDB: tables may continue to be replicated for up to 5 minutes after "
            f"the pause begins ({_ACTIONS_DOC}#global-table-pause-replication)"
        )
    return found


_SHORT = {
    "aws:network:route-table-disrupt-cross-region-connectivity": "route-tables",
    "aws:network:transit-gateway-disrupt-cross-region-connectivity": "transit-gateways",
    "aws:s3:bucket-pause-replication": "s3-replication",
    "aws:dynamodb:global-table-pause-replication": "dynamodb-replication",
}
_TAKES_REGION = {
    "aws:network:route-table-disrupt-cross-region-connectivity",
    "aws:network:transit-gateway-disrupt-cross-region-connectivity",
    "aws:s3:bucket-pause-replication",
}


def region_loss_segments(
    b: Context, fault: RegionLoss, name: str, rules: list[Rule]
) -> tuple[list[Segment], list[Demand]]:
    """One segment per window; and, when global services fail with a region other than
    us-east-1, the network demand that takes them from the app's compute."""
    _check_region_loss(b, fault)
    targets = _region_targets(b, name)
    _region_limits(b, fault, name)
    segments: list[Segment] = []
    for k, rule in enumerate(rules):
        if 0 < rule.probability < 1:
            b.note(f"{name}: probability {rule.probability:g} cannot apply to cut routes: all fail")
        steps: list[Step] = []
        for action_id, (key, target) in targets.items() if rule.probability > 0 else ():
            whole = b.effective(action_id, rule.end_s - rule.start_s, name)
            parameters = {"duration": iso_duration(whole)}
            if action_id in _TAKES_REGION:
                parameters["region"] = fault.region
            suffix = f"-{k}" if len(rules) > 1 else ""
            steps.append(
                Step(
                    f"{name}-{_SHORT[action_id]}{suffix}",
                    action_id,
                    f"{name}: cut {b.region} off from {fault.region} ({_SHORT[action_id]})",
                    parameters,
                    {key: target},
                    (name,),
                )
            )
        segments.append(Segment(rule.start_s, rule.end_s, tuple(steps)))
    return segments, _global_demands(b, fault, name, rules)


def _global_demands(b: Context, fault: RegionLoss, name: str, rules: list[Rule]) -> list[Demand]:
    if not fault.global_services_fail or fault.region == GLOBAL_HOME_REGION:
        return []
    if not b.env.compute.configured:
        b.note(f"{name}: the global services stay up: no compute is configured to cut them from")
        return []
    hosts = endpoint_hosts(GLOBAL_SERVICES, (GLOBAL_HOME_REGION,))
    return [
        Demand(
            name,
            rule.start_s,
            rule.end_s,
            hosts,
            GLOBAL_SERVICES,
            (GLOBAL_HOME_REGION,),
            LOSS,
            rule.probability,
            via_endpoints=False,
        )
        for rule in rules
    ]


def _operations_by_service(fault: ApiFault) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {s: [] for s in fault.services}
    for operation in fault.operations:
        owners = [s for s in fault.services if operation in (service_operations(s) or ())]
        if not owners:
            raise InvalidInputError(f"no {' or '.join(fault.services)} operation {operation!r}")
        for owner in owners:
            found[owner].append(operation)
    empty = [s for s, ops in found.items() if not ops]
    if empty:
        raise InvalidInputError(f"no operation of {empty[0]} is listed; FIS needs them by name")
    return found


def _check_api_fault(b: Context, fault: ApiFault) -> str:
    unsupported = [s for s in fault.services if s not in API_SERVICES]
    if unsupported:
        raise InvalidInputError(
            f"FIS injects API errors for ec2 and kinesis only, not {', '.join(unsupported)}",
            hint="use a loss kind (realized as network loss) or a fis-action fault",
        )
    action = API_MODES.get(fault.mode)
    if action is None:
        raise InvalidInputError(
            f"mode {fault.mode.value!r}: FIS injects only unavailable, throttle and internal errors"
        )
    if not fault.operations:
        raise InvalidInputError("FIS needs the API operations to fault: list them in 'operations'")
    if fault.error is not None:
        raise InvalidInputError("'error': FIS decides the error response, it cannot be overridden")
    if not b.env.app_roles:
        raise InvalidInputError(
            "api-fault needs the app's IAM roles: set app_roles in the environment file"
        )
    return action


def api_fault_segments(b: Context, fault: ApiFault, name: str, rules: list[Rule]) -> list[Segment]:
    """aws:fis:inject-api-*-error per service and window, on the app's roles."""
    action = _check_api_fault(b, fault)
    operations = _operations_by_service(fault)
    roles = b.target(
        "app-roles", TemplateTarget("aws:iam:role", arns=b.env.app_roles, selection="ALL")
    )
    segments = []
    for k, rule in enumerate(rules):
        if set(rule.regions) != {b.region}:
            b.note(f"{name}: FIS injects API errors in the experiment region {b.region} only")
        steps = []
        for service in fault.services if rule.probability > 0 else ():
            whole = b.effective(action, rule.end_s - rule.start_s, name)
            suffix = f"-{k}" if len(rules) > 1 else ""
            parameters = {
                "duration": iso_duration(whole),
                "operations": ",".join(operations[service]),
                "percentage": percent(rule.probability),
                "service": service,
            }
            steps.append(
                Step(
                    f"{name}-{service}{suffix}",
                    action,
                    f"{name}: {fault.mode.value} errors on {service} "
                    f"{', '.join(operations[service])}",
                    parameters,
                    {"Roles": roles},
                    (name,),
                )
            )
        segments.append(Segment(rule.start_s, rule.end_s, tuple(steps)))
    return segments
