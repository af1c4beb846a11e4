"""The allow-list of FIS actions gameday may put in a template (DESIGN.md "Safety", rule 3).

gameday never deletes, terminates or recreates a user's resources. Every action id and every
parameter of a template is checked here before anything is sent: moto (and any emulator)
accepts any action id, so the check must be ours. An action is allowed when FIS undoes it by
itself at the end of its ``duration`` (``timed``), or when it interrupts without destroying and
the resource comes back by itself (``transient``: a reboot, a database failover), or when it
touches nothing (``none``). Everything else is refused with the reason, and an action this table
does not know is refused too.

Facts (resource types, parameters, duration ranges) come from the AWS FIS actions reference,
https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html, and, for the SSM
documents, https://docs.aws.amazon.com/fis/latest/userguide/actions-ssm-agent.html.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gameday.errors import InvalidInputError

HOUR_S = 3600.0
MAX_DURATION_S = 12 * HOUR_S
"""Every FIS action with a duration runs for at most 12 hours (actions reference)."""


class Effect(StrEnum):
    """What an allowed action does to the resources it targets."""

    TIMED = "timed"
    TRANSIENT = "transient"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One allowed FIS action: its target, its parameters and the range of its duration."""

    effect: Effect
    targets: Mapping[str, str] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    min_duration_s: float = 0.0
    duration_param: str | None = "duration"

    @property
    def parameters(self) -> frozenset[str]:
        """Every parameter the action takes."""
        return self.required | self.optional


def _spec(
    effect: Effect,
    targets: Mapping[str, str] | None = None,
    required: str = "",
    optional: str = "",
    min_duration_s: float = 0.0,
    duration_param: str | None = "duration",
) -> ActionSpec:
    return ActionSpec(
        effect=effect,
        targets=targets or {},
        required=frozenset(required.split()),
        optional=frozenset(optional.split()),
        min_duration_s=min_duration_s,
        duration_param=duration_param,
    )


_T = Effect.TIMED
_ONE_MINUTE = 60.0  # "The duration, from one minute to 12 hours" in the actions reference.
_API = "duration service percentage operations"
_ECS_NET = "duration flowsPercent sources installDependencies useEcsFaultInjectionEndpoints"
_EKS_COMMON = (
    "fisPodContainerImage maxErrorsPercent fisPodLabels fisPodAnnotations fisPodSecurityPolicy"
)
_EKS_NET = f"interface flowsPercent sources {_EKS_COMMON}"
_ROLE = {"Roles": "aws:iam:role"}
_TASKS = {"Tasks": "aws:ecs:task"}
_PODS = {"Pods": "aws:eks:pod"}
_SUBNETS = {"Subnets": "aws:ec2:subnet"}

ALLOWED: Mapping[str, ActionSpec] = {
    # Fault injection actions: undone at the end of the duration.
    "aws:fis:inject-api-internal-error": _spec(_T, _ROLE, _API, min_duration_s=_ONE_MINUTE),
    "aws:fis:inject-api-throttle-error": _spec(_T, _ROLE, _API, min_duration_s=_ONE_MINUTE),
    "aws:fis:inject-api-unavailable-error": _spec(_T, _ROLE, _API, min_duration_s=_ONE_MINUTE),
    "aws:fis:wait": _spec(Effect.NONE, None, "duration", min_duration_s=_ONE_MINUTE),
    "aws:cloudwatch:assert-alarm-state": _spec(
        Effect.NONE, None, "alarmArns alarmStates", duration_param=None
    ),
    "aws:arc:start-zonal-autoshift": _spec(
        _T,
        None,
        "duration availabilityZoneIdentifier",
        "managedResourceTypes zonalAutoshiftStatus",
    ),
    "aws:dynamodb:global-table-pause-replication": _spec(
        _T, {"Tables": "aws:dynamodb:global-table"}, "duration"
    ),
    "aws:dsql:cluster-connection-failure": _spec(
        _T, None, "duration percentage", min_duration_s=_ONE_MINUTE
    ),
    "aws:ebs:pause-volume-io": _spec(
        _T, {"Volumes": "aws:ec2:ebs-volume"}, "duration", min_duration_s=1.0
    ),
    "aws:ebs:volume-io-latency": _spec(
        _T,
        {"Volumes": "aws:ec2:ebs-volume"},
        "duration",
        "readIOPercentage readIOLatencyMilliseconds writeIOPercentage writeIOLatencyMilliseconds",
        min_duration_s=1.0,
    ),
    "aws:ec2:api-insufficient-instance-capacity-error": _spec(
        _T, _ROLE, "duration availabilityZoneIdentifiers percentage"
    ),
    "aws:ec2:asg-insufficient-instance-capacity-error": _spec(
        _T,
        {"AutoScalingGroups": "aws:ec2:autoscaling-group"},
        "duration availabilityZoneIdentifiers",
        "percentage",
    ),
    "aws:ec2:reboot-instances": _spec(
        Effect.TRANSIENT, {"Instances": "aws:ec2:instance"}, duration_param=None
    ),
    # Stopped instances are started again only with startInstancesAfterDuration: required here.
    "aws:ec2:stop-instances": _spec(
        _T,
        {"Instances": "aws:ec2:instance"},
        "startInstancesAfterDuration",
        "completeIfInstancesTerminated",
        min_duration_s=_ONE_MINUTE,
        duration_param="startInstancesAfterDuration",
    ),
    "aws:ecs:drain-container-instances": _spec(
        _T,
        {"Clusters": "aws:ecs:cluster"},
        "drainagePercentage duration",
        min_duration_s=_ONE_MINUTE,
    ),
    "aws:ecs:task-cpu-stress": _spec(_T, _TASKS, "duration", "percent workers installDependencies"),
    "aws:ecs:task-io-stress": _spec(_T, _TASKS, "duration", "percent workers installDependencies"),
    "aws:ecs:task-network-blackhole-port": _spec(
        _T,
        _TASKS,
        "duration port trafficType",
        "protocol installDependencies useEcsFaultInjectionEndpoints",
    ),
    "aws:ecs:task-network-latency": _spec(
        _T, _TASKS, "duration", f"delayMilliseconds jitterMilliseconds {_ECS_NET}"
    ),
    "aws:ecs:task-network-packet-loss": _spec(_T, _TASKS, "duration", f"lossPercent {_ECS_NET}"),
    "aws:eks:pod-cpu-stress": _spec(
        _T, _PODS, "duration kubernetesServiceAccount", f"percent workers {_EKS_COMMON}"
    ),
    "aws:eks:pod-io-stress": _spec(
        _T, _PODS, "duration kubernetesServiceAccount", f"percent workers {_EKS_COMMON}"
    ),
    "aws:eks:pod-memory-stress": _spec(
        _T, _PODS, "duration kubernetesServiceAccount", f"percent workers {_EKS_COMMON}"
    ),
    "aws:eks:pod-network-blackhole-port": _spec(
        _T,
        _PODS,
        "duration protocol trafficType port kubernetesServiceAccount",
        _EKS_COMMON,
    ),
    "aws:eks:pod-network-latency": _spec(
        _T,
        _PODS,
        "duration kubernetesServiceAccount",
        f"delayMilliseconds jitterMilliseconds {_EKS_NET}",
    ),
    "aws:eks:pod-network-packet-loss": _spec(
        _T, _PODS, "duration kubernetesServiceAccount", f"lossPercent {_EKS_NET}"
    ),
    # Power returns at the end of the duration; ElastiCache's own recovery then replaces the
    # nodes, as after a real AZ event. The replication group itself is never deleted.
    "aws:elasticache:interrupt-cluster-az-power": _spec(
        _T, {"ReplicationGroups": "aws:elasticache:redis-replicationgroup"}, "duration"
    ),
    "aws:elasticache:replicationgroup-interrupt-az-power": _spec(
        _T, {"ReplicationGroups": "aws:elasticache:replicationgroup"}, "duration"
    ),
    "aws:kinesis:stream-provisioned-throughput-exception": _spec(
        _T, None, "duration percentage", min_duration_s=_ONE_MINUTE
    ),
    "aws:kinesis:stream-expired-iterator-exception": _spec(
        _T, None, "duration percentage", min_duration_s=_ONE_MINUTE
    ),
    "aws:lambda:invocation-add-delay": _spec(
        _T, None, "duration", "invocationPercentage startupDelayMilliseconds"
    ),
    "aws:lambda:invocation-error": _spec(
        _T, None, "duration preventExecution", "invocationPercentage"
    ),
    "aws:lambda:invocation-http-integration-response": _spec(
        _T,
        None,
        "contentTypeHeader duration preventExecution statusCode",
        "invocationPercentage",
    ),
    "aws:memorydb:multi-region-cluster-pause-replication": _spec(
        _T,
        {"MultiRegionClusters": "aws:memorydb:multi-region-cluster"},
        "duration",
        "region",
        min_duration_s=_ONE_MINUTE,
    ),
    "aws:network:disrupt-connectivity": _spec(
        _T, _SUBNETS, "scope duration", "prefixListIdentifier", min_duration_s=_ONE_MINUTE
    ),
    "aws:network:route-table-disrupt-cross-region-connectivity": _spec(
        _T, _SUBNETS, "region duration"
    ),
    "aws:network:transit-gateway-disrupt-cross-region-connectivity": _spec(
        _T, {"TransitGateways": "aws:ec2:transit-gateway"}, "region duration"
    ),
    "aws:network:disrupt-vpc-endpoint": _spec(
        _T, {"VPCEndpoints": "aws:ec2:vpc-endpoint"}, "duration"
    ),
    "aws:rds:failover-db-cluster": _spec(
        Effect.TRANSIENT, {"Clusters": "aws:rds:cluster"}, duration_param=None
    ),
    "aws:rds:reboot-db-instances": _spec(
        Effect.TRANSIENT, {"DBInstances": "aws:rds:db"}, "", "forceFailover", duration_param=None
    ),
    "aws:s3:bucket-pause-replication": _spec(
        _T,
        {"Buckets": "aws:s3:bucket"},
        "duration region",
        "destinationBuckets prefixes",
        min_duration_s=_ONE_MINUTE,
    ),
    # The document decides what runs: only AWS FIS's own reversible documents (below) pass.
    "aws:ssm:send-command": _spec(
        _T,
        {"Instances": "aws:ec2:instance"},
        "documentArn duration",
        "documentParameters documentVersion",
        min_duration_s=_ONE_MINUTE,
    ),
    "aws:directconnect:virtual-interface-disconnect": _spec(
        _T,
        {"VirtualInterfaces": "aws:directconnect:virtual-interface"},
        "duration",
        min_duration_s=600.0,
    ),
}
"""Known reversible actions, by id."""

REFUSED: Mapping[str, str] = {
    "aws:ec2:terminate-instances": "terminates EC2 instances",
    "aws:ec2:send-spot-instance-interruptions": "terminates or stops Spot Instances for good",
    "aws:eks:terminate-nodegroup-instances": "terminates the instances of an EKS node group",
    "aws:eks:pod-delete": "deletes Kubernetes pods",
    "aws:ecs:stop-task": "stops ECS tasks, which are then replaced by new ones",
    "aws:ecs:task-kill-process": "kills a process inside ECS tasks",
    "aws:eks:inject-kubernetes-custom-resource": (
        "runs an arbitrary Chaos Mesh or Litmus resource that gameday cannot check"
    ),
    "aws:ssm:start-automation-execution": (
        "runs an arbitrary SSM Automation document that gameday cannot check"
    ),
}
"""Actions that delete, terminate or recreate, or whose effect gameday cannot check."""

REVERSIBLE_DOCUMENTS: frozenset[str] = frozenset(
    {
        "AWSFIS-Run-CPU-Stress",
        "AWSFIS-Run-Memory-Stress",
        "AWSFIS-Run-IO-Stress",
        "AWSFIS-Run-Disk-Fill",
        "AWSFIS-Run-Network-Blackhole-Port",
        "AWSFIS-Run-Network-Latency",
        "AWSFIS-Run-Network-Latency-Sources",
        "AWSFIS-Run-Network-Packet-Loss",
        "AWSFIS-Run-Network-Packet-Loss-Sources",
    }
)
"""AWS FIS's pre-configured SSM documents that undo themselves (each writes a rollback script
before it injects, per the SSM documents page). AWSFIS-Run-Kill-Process is not among them."""

_DOCUMENT_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+::document/(?P<name>[A-Za-z0-9_.-]+)$")


class RefusedActionError(InvalidInputError):
    """A template holds an action gameday does not run (exit 2): destructive, unknown, or with
    parameters outside the allow-list."""


def is_localstack_action(action_id: str) -> bool:
    """LocalStack's own chaos actions (``localstack:...``) exist in no AWS account."""
    return action_id.startswith("localstack:")


def _document_problems(name: str, parameters: Mapping[str, str]) -> list[str]:
    document = parameters.get("documentArn", "")
    match = _DOCUMENT_ARN.match(document)
    if match is None:
        return [
            f"{name}: aws:ssm:send-command documentArn {document!r} is not an AWS FIS document "
            "ARN (arn:aws:ssm:REGION::document/AWSFIS-...): gameday runs only AWS FIS's own "
            "reversible documents"
        ]
    if match["name"] not in REVERSIBLE_DOCUMENTS:
        return [
            f"{name}: aws:ssm:send-command document {match['name']!r} is not one of AWS FIS's "
            f"reversible documents ({', '.join(sorted(REVERSIBLE_DOCUMENTS))})"
        ]
    return []


def _target_problems(
    name: str, action_id: str, spec: ActionSpec, targets: Mapping[str, str]
) -> list[str]:
    problems = []
    for key, resource_type in targets.items():
        expected = spec.targets.get(key)
        if spec.targets and expected is None:
            problems.append(
                f"{name}: {action_id} has no target {key!r}; it takes {', '.join(spec.targets)}"
            )
        elif expected is not None and resource_type != expected:
            problems.append(
                f"{name}: {action_id} target {key!r} must be of type {expected}, "
                f"not {resource_type}"
            )
    return problems


def action_problems(
    name: str, action_id: str, parameters: Mapping[str, str], targets: Mapping[str, str]
) -> list[str]:
    """Why the action ``name`` may not run; empty when it may.

    ``targets`` maps each of the action's target keys to the resource type of the template
    target it names.
    """
    if is_localstack_action(action_id):
        return [f"{name}: {action_id} is a LocalStack-only action; FIS in AWS has no such action"]
    if action_id in REFUSED:
        return [f"{name}: {action_id} is refused: it {REFUSED[action_id]}"]
    spec = ALLOWED.get(action_id)
    if spec is None:
        return [f"{name}: {action_id} is not a known reversible FIS action"]
    problems = [
        f"{name}: {action_id} has no parameter {p!r}; it takes {', '.join(sorted(spec.parameters))}"
        for p in sorted(set(parameters) - spec.parameters)
    ]
    problems += [
        f"{name}: {action_id} needs the parameter {p!r}"
        for p in sorted(spec.required - set(parameters))
    ]
    problems += _target_problems(name, action_id, spec, targets)
    if action_id == "aws:ssm:send-command":
        problems += _document_problems(name, parameters)
    return problems


def check_actions(actions: Mapping[str, tuple[str, Mapping[str, str], Mapping[str, str]]]) -> None:
    """Raise ``RefusedActionError`` naming every action that may not run.

    ``actions`` maps each action name to (action id, parameters, target key -> resource type).
    """
    problems = [
        problem
        for name, (action_id, parameters, targets) in actions.items()
        for problem in action_problems(name, action_id, parameters, targets)
    ]
    if problems:
        raise RefusedActionError(
            "\n".join(problems),
            hint="gameday runs only FIS actions that undo themselves (DESIGN.md 'Safety')",
        )
