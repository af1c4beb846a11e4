"""Network faults on the app's own compute and VPC endpoints: the FIS form of a loss kind.

FIS cannot take STS, Logs or ECR away by service (its API-error actions cover only ec2 and
kinesis), so a loss is realized where the app runs: packet loss (or latency) from its EC2
instances, ECS tasks or EKS pods to the service's endpoint host names, and the interface VPC
endpoints it reaches the service through blocked (aws:network:disrupt-vpc-endpoint).

One host takes one network fault at a time: "The following documents cannot run in parallel:
AWSFIS-Run-Network-Latency-Sources, ... AWSFIS-Run-Network-Packet-Loss-Sources"
(https://docs.aws.amazon.com/fis/latest/userguide/actions-ssm-agent.html), and ECS tasks take
"either one network latency fault or one network packet loss fault" at a time
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fault-injection-endpoints.html).
So overlapping faults are cut into segments, each one action whose sources are the union of
the faults in force, run one after another.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from gameday.errors import InvalidInputError
from gameday.fis.aws_config import AwsEnvironment, EcsCompute, EksCompute, Selector
from gameday.fis.endpoints import sources_text
from gameday.fis.iso import iso_duration
from gameday.fis.spec import TemplateTarget

LOSS = ("loss",)


@dataclass(frozen=True, slots=True)
class Demand:
    """One fault window's need for network impairment from the app's compute."""

    fault: str
    start_s: float
    end_s: float
    hosts: tuple[str, ...]
    services: tuple[str, ...]
    regions: tuple[str, ...]
    effect: tuple[str, ...] | tuple[str, int, int]
    probability: float
    via_endpoints: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    """An action to place in time: everything but its ``startAfter``."""

    name: str
    action_id: str
    description: str
    parameters: dict[str, str]
    targets: dict[str, str]
    faults: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time and the steps that run for all of it (none: only time passes)."""

    start_s: float
    end_s: float
    steps: tuple[Step, ...]

    @property
    def duration_s(self) -> float:
        """How long the segment lasts as written."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Slice:
    """A stretch of time with the demands in force during all of it."""

    start_s: float
    end_s: float
    demands: tuple[Demand, ...]


def slices(demands: list[Demand]) -> list[Slice]:
    """Cut overlapping demands into consecutive slices with one set of demands each.

    A slice whose demands ask for different effects or probabilities cannot be one action, and
    two actions cannot run at once on one host: that is an error naming the faults.
    """
    active = [d for d in demands if d.probability > 0]
    points = sorted({d.start_s for d in active} | {d.end_s for d in active})
    found: list[Slice] = []
    for start, end in pairwise(points):
        during = tuple(d for d in active if d.start_s <= start and d.end_s >= end)
        if not during:
            continue
        if len({(d.effect, d.probability) for d in during}) > 1:
            names = ", ".join(sorted({d.fault for d in during}))
            raise InvalidInputError(
                f"faults {names} overlap from {start:g}s to {end:g}s with different modes or "
                "probabilities; on FIS one host takes one network fault at a time",
                hint="give overlapping faults the same mode and probability, or separate them",
            )
        previous = found[-1] if found else None
        if previous and previous.end_s == start and _same(previous.demands, during):
            found[-1] = Slice(previous.start_s, end, previous.demands)
        else:
            found.append(Slice(start, end, during))
    return found


def _same(a: tuple[Demand, ...], b: tuple[Demand, ...]) -> bool:
    return _hosts(a) == _hosts(b) and (a[0].effect, a[0].probability) == (
        b[0].effect,
        b[0].probability,
    )


def _hosts(demands: tuple[Demand, ...]) -> tuple[str, ...]:
    return tuple(sorted({h for d in demands for h in d.hosts}))


def _faults(demands: tuple[Demand, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(d.fault for d in demands))


def percent(probability: float) -> str:
    """A probability as FIS's whole percentage, never 0 for a fault that is in force."""
    return str(max(1, round(probability * 100)))


def partition_of(region: str) -> str:
    """The ARN partition of ``region``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _ssm_parameters(
    slice_: Slice, region: str, duration: str, seconds: int, sources: str
) -> dict[str, str]:
    first = slice_.demands[0]
    latency = first.effect != LOSS
    kind = "Latency" if latency else "Packet-Loss"
    document = f"AWSFIS-Run-Network-{kind}-Sources"
    # TrafficType defaults to ingress in both documents: the app's own calls are egress.
    arguments = {
        "DurationSeconds": str(seconds),
        "InstallDependencies": "True",
        "Sources": sources,
        "TrafficType": "egress",
    }
    if latency:
        arguments["DelayMilliseconds"] = str(first.effect[1])
        arguments["JitterMilliseconds"] = str(first.effect[2])
    else:
        arguments["LossPercent"] = "100"
    if first.probability < 1:
        arguments["FlowsPercent"] = percent(first.probability)
    return {
        "documentArn": f"arn:{partition_of(region)}:ssm:{region}::document/{document}",
        "documentParameters": json.dumps(arguments, sort_keys=True, separators=(",", ":")),
        "duration": duration,
    }


def _container_parameters(slice_: Slice, duration: str, sources: str) -> dict[str, str]:
    first = slice_.demands[0]
    parameters = {"duration": duration, "sources": sources}
    if first.effect == LOSS:
        parameters["lossPercent"] = "100"
    else:
        parameters["delayMilliseconds"] = str(first.effect[1])
        parameters["jitterMilliseconds"] = str(first.effect[2])
    if first.probability < 1:
        parameters["flowsPercent"] = percent(first.probability)
    return parameters


def _what(slice_: Slice, faults: tuple[str, ...]) -> str:
    verb = "delay" if slice_.demands[0].effect != LOSS else "drop"
    services = sorted({s for d in slice_.demands for s in d.services})
    return (
        f"{verb} the app's traffic to the endpoints of {', '.join(services)} ({', '.join(faults)})"
    )


@dataclass(frozen=True, slots=True)
class _Context:
    slice_: Slice
    index: int
    region: str
    sources: str
    what: str
    faults: tuple[str, ...]
    duration: Callable[[str], tuple[str, int]]

    @property
    def kind(self) -> str:
        return "latency" if self.slice_.demands[0].effect != LOSS else "packet-loss"


def _ec2_step(c: _Context) -> Step:
    iso, seconds = c.duration("aws:ssm:send-command")
    return Step(
        f"network-{c.index}-ec2",
        "aws:ssm:send-command",
        f"EC2: {c.what}"[:512],
        _ssm_parameters(c.slice_, c.region, iso, seconds, c.sources),
        {"Instances": "app-ec2-instances"},
        c.faults,
    )


def _ecs_step(c: _Context, ecs: EcsCompute) -> Step:
    action = f"aws:ecs:task-network-{c.kind}"
    parameters = _container_parameters(c.slice_, c.duration(action)[0], c.sources)
    parameters["useEcsFaultInjectionEndpoints"] = str(ecs.fargate).lower()
    return Step(
        f"network-{c.index}-ecs",
        action,
        f"ECS: {c.what}"[:512],
        parameters,
        {"Tasks": "app-ecs-tasks"},
        c.faults,
    )


def _eks_step(c: _Context, eks: EksCompute) -> Step:
    action = f"aws:eks:pod-network-{c.kind}"
    parameters = _container_parameters(c.slice_, c.duration(action)[0], c.sources)
    parameters["kubernetesServiceAccount"] = eks.service_account
    return Step(
        f"network-{c.index}-eks",
        action,
        f"EKS: {c.what}"[:512],
        parameters,
        {"Pods": "app-eks-pods"},
        c.faults,
    )


def compute_steps(
    slice_: Slice,
    index: int,
    env: AwsEnvironment,
    region: str,
    duration: Callable[[str], tuple[str, int]],
) -> tuple[Step, ...]:
    """One step per kind of compute for ``slice_``; ``duration`` gives an action id's
    (ISO duration, whole seconds) for the slice once FIS's minimum is applied."""
    faults = _faults(slice_.demands)
    sources = sources_text(_hosts(slice_.demands), ", ".join(faults))
    context = _Context(slice_, index, region, sources, _what(slice_, faults), faults, duration)
    compute = env.compute
    steps = [_ec2_step(context)] if compute.ec2 is not None else []
    if compute.ecs is not None:
        steps.append(_ecs_step(context, compute.ecs))
    if compute.eks is not None:
        steps.append(_eks_step(context, compute.eks))
    return tuple(steps)


def selector_target(
    selector: Selector, resource_type: str, parameters: dict[str, str] | None = None
) -> TemplateTarget:
    """The template target a ``Selector`` describes."""
    return TemplateTarget(
        resource_type,
        selector.arns,
        dict(selector.tags),
        tuple((f.path, f.values) for f in selector.filters),
        parameters or {},
        selector.selection,
    )


def ecs_parameters(ecs: EcsCompute) -> dict[str, str]:
    """Target parameters that find ECS tasks by cluster and service."""
    found = {"cluster": ecs.cluster, "service": ecs.service}
    return {k: v for k, v in found.items() if v is not None}


def eks_parameters(eks: EksCompute) -> dict[str, str]:
    """Target parameters that find EKS pods (aws:eks:pod takes parameters, not tags)."""
    found = {
        "clusterIdentifier": eks.cluster,
        "namespace": eks.namespace,
        "selectorType": eks.selector_type,
        "selectorValue": eks.selector_value,
        "targetContainerName": eks.container,
    }
    return {k: v for k, v in found.items() if v is not None}


class Timing(Protocol):
    """What a step maker needs to know of durations: FIS's minimum for an action."""

    def effective(self, action_id: str, seconds: float, what: str) -> int:
        """Whole seconds ``action_id`` runs for when asked for ``seconds``."""
        ...


def durations(timing: Timing, seconds: float, what: str) -> Callable[[str], tuple[str, int]]:
    """(ISO duration, whole seconds) per action id, for a stretch of ``seconds``."""

    def duration(action_id: str) -> tuple[str, int]:
        whole = timing.effective(action_id, seconds, what)
        return iso_duration(whole), whole

    return duration


def intervals(demands: list[Demand]) -> list[tuple[float, float, tuple[str, ...]]]:
    """The union of the demands' windows, as (start, end, faults) in time order."""
    merged: list[tuple[float, float, tuple[str, ...]]] = []
    for d in sorted((d for d in demands if d.probability > 0), key=lambda d: d.start_s):
        if merged and d.start_s <= merged[-1][1]:
            start, end, faults = merged[-1]
            merged[-1] = (start, max(end, d.end_s), tuple(dict.fromkeys((*faults, d.fault))))
        else:
            merged.append((d.start_s, d.end_s, (d.fault,)))
    return merged
