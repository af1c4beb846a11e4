"""Scenario + rules + environment file -> the FIS experiment template (issue 7's mapping).

- identity, logging and registry loss: network loss from the app's compute to the endpoint
  host names of the kind's services (``network.py``), and the interface VPC endpoints that
  serve them blocked; registry loss also blocks S3 from the subnets when asked (image layers);
- region loss: FIS's "Cross-Region: Connectivity" shape, route tables (and transit gateways)
  cut toward the lost region, with replication paused when asked;
- api-fault on ec2 or kinesis: aws:fis:inject-api-{unavailable,throttle,internal}-error on
  the app's IAM roles;
- fis-action: the action as written;
- fault windows: ISO 8601 ``duration``s, later starts behind ``aws:fis:wait``, ramp steps and
  overlapping network faults one after another through ``startAfter``.

Mapping problems are collected, not raised, so that ``plan`` can show them all next to the
template; ``FisPlan.problems`` lists them, ``FisPlan.refused`` the actions off the allow-list,
and nothing runs or exports while either is not empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

from gameday.errors import InvalidInputError
from gameday.faults.modes import Mode
from gameday.faults.rules import Rule, resolve_rules
from gameday.fis.actions import ALLOWED, action_problems
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.endpoints import endpoint_hosts
from gameday.fis.iso import iso_duration
from gameday.fis.network import (
    LOSS,
    Demand,
    Segment,
    Step,
    compute_steps,
    durations,
    ecs_parameters,
    eks_parameters,
    intervals,
    selector_target,
    slices,
)
from gameday.fis.regional import api_fault_segments, region_loss_segments
from gameday.fis.spec import (
    MANAGED_BY_TAG,
    RUN_ID_TAG,
    SCENARIO_TAG,
    ExperimentTemplate,
    FisPlan,
    TemplateAction,
    TemplateTarget,
    Window,
)
from gameday.scenario.durations import format_duration
from gameday.scenario.fault_models import FisAction
from gameday.scenario.models import (
    ApiFault,
    FaultVariant,
    IdentityLoss,
    LoggingLoss,
    RegionLoss,
    RegistryLoss,
    Scenario,
)

LossFault = IdentityLoss | LoggingLoss | RegistryLoss


def rules_for(scenario: Scenario) -> list[Rule]:
    """The gateway rules of every fault but ``fis-action`` ones, which have none."""
    kept = tuple(f for f in scenario.faults if not isinstance(f, FisAction))
    return resolve_rules(scenario.model_copy(update={"faults": kept}))


class _Builder:
    """Accumulates targets, actions and notes for one template."""

    def __init__(self, scenario: Scenario, env: AwsEnvironment) -> None:
        self.scenario = scenario
        self.env = env
        self.region = env.region_for(scenario)
        self.base_s = min(f.start_after for f in scenario.faults)
        self.targets: dict[str, TemplateTarget] = {}
        self.actions: dict[str, TemplateAction] = {}
        self.notes: list[str] = []
        self.problems: list[str] = []

    def note(self, text: str) -> None:
        """Record where FIS differs from the scenario as written."""
        if text not in self.notes:
            self.notes.append(text)

    def target(self, name: str, target: TemplateTarget) -> str:
        """Add a template target (once) and return its name."""
        self.targets.setdefault(name, target)
        return name

    def effective(self, action_id: str, seconds: float, what: str) -> int:
        """Whole seconds an action runs for: ``seconds``, or FIS's documented minimum."""
        spec = ALLOWED.get(action_id)
        floor = spec.min_duration_s if spec else 0.0
        whole = max(math.ceil(seconds - 1e-9), math.ceil(floor))
        if whole > seconds + 1e-9 and floor > seconds:
            self.note(
                f"{what}: {action_id} lasts at least {format_duration(floor)} on FIS, so "
                f"{format_duration(seconds)} becomes {format_duration(whole)}"
            )
        return whole

    def _add(self, name: str, action: TemplateAction) -> str:
        unique, n = name[:64], 2
        while unique in self.actions:
            suffix = f"-{n}"
            unique, n = name[: 64 - len(suffix)] + suffix, n + 1
        self.actions[unique] = action
        return unique

    def _wait(self, name: str, seconds: float, after: tuple[str, ...], what: str) -> str:
        whole = self.effective("aws:fis:wait", seconds, what)
        action = TemplateAction(
            "aws:fis:wait",
            f"{what}: wait {format_duration(whole)}",
            {"duration": iso_duration(whole)},
            start_after=after,
        )
        return self._add(name, action)

    def _from_start(self, start_s: float, what: str) -> tuple[str, ...]:
        offset = start_s - self.base_s
        if offset <= 0:
            return ()
        name = f"wait-{iso_duration(offset).lower()}"
        if name in self.actions:
            return (name,)
        return (self._wait(name, offset, (), f"{what} starts {format_duration(offset)} in"),)

    def chain(self, key: str, segments: Sequence[Segment]) -> None:
        """Place ``segments`` one after another: the first behind a wait from the start, each
        next behind the one before (and a wait across any gap)."""
        previous: tuple[str, ...] = ()
        previous_end: float | None = None
        for k, segment in enumerate(segments):
            if previous_end is None:
                after = self._from_start(segment.start_s, key)
            elif segment.start_s > previous_end:
                gap = segment.start_s - previous_end
                after = (self._wait(f"{key}-gap-{k}", gap, previous, f"{key}: gap"),)
            else:
                after = previous
            if segment.steps:
                previous = tuple(self._step(step, after) for step in segment.steps)
            else:
                previous = (self._wait(f"{key}-hold-{k}", segment.duration_s, after, key),)
            previous_end = segment.end_s

    def _step(self, step: Step, after: tuple[str, ...]) -> str:
        action = TemplateAction(
            step.action_id,
            step.description,
            step.parameters,
            step.targets,
            after,
            step.faults,
        )
        return self._add(step.name, action)


def _by_fault(rules: Sequence[Rule]) -> dict[str, list[Rule]]:
    """Each fault's rules, one per window (region loss has one rule per target)."""
    found: dict[str, list[Rule]] = {}
    for rule in rules:
        windows = found.setdefault(rule.fault, [])
        if not any((r.start_s, r.end_s) == (rule.start_s, rule.end_s) for r in windows):
            windows.append(rule)
    return found


def _check_network_fault(fault: LossFault) -> None:
    if isinstance(fault, IdentityLoss) and fault.federation_only:
        raise InvalidInputError(
            "federation_only needs per-operation faults on sts; FIS can only cut the network "
            "to STS, which takes every operation"
        )
    if fault.operations:
        raise InvalidInputError("'operations': a network fault cannot pick API operations")
    if fault.error is not None:
        raise InvalidInputError("'error': a network fault sends no error response to override")


def _effect(fault: FaultVariant) -> tuple[str, ...] | tuple[str, int, int]:
    latency = fault.latency_range_s()
    if latency is None:
        return LOSS
    low_ms, high_ms = round(latency[0] * 1000), round(latency[1] * 1000)
    return ("latency", low_ms, high_ms - low_ms)


def _loss_demands(b: _Builder, fault: LossFault, name: str, rules: list[Rule]) -> list[Demand]:
    _check_network_fault(fault)
    if fault.mode is not Mode.LATENCY:
        b.note(
            f"{name}: mode {fault.mode.value!r} becomes 100% packet loss on FIS: the app's calls "
            "time out instead of getting an error response"
        )
    accounts = b.env.registry.accounts or b.env.accounts
    effect = _effect(fault)
    demands = [
        Demand(
            name,
            rule.start_s,
            rule.end_s,
            endpoint_hosts(rule.services, rule.regions, accounts),
            rule.services,
            rule.regions,
            effect,
            rule.probability,
        )
        for rule in rules
    ]
    _check_reach(b, name, demands)
    return demands


def _check_reach(b: _Builder, name: str, demands: list[Demand]) -> None:
    if b.env.compute.configured:
        return
    services = {s for d in demands for s in d.services}
    served = {
        s
        for entry in b.env.vpc_endpoints
        for s in entry.services
        if any(b.region in d.regions for d in demands)
    }
    if not services & served:
        raise InvalidInputError(
            f"the environment file names no compute (compute.ec2, .ecs, .eks) and no VPC "
            f"endpoint in {b.region} for {', '.join(sorted(services))}"
        )
    spared = sorted(services - served)
    if spared:
        b.note(f"{name}: only the VPC endpoints are cut; {', '.join(spared)} stay reachable")


def _compute_targets(b: _Builder) -> None:
    compute = b.env.compute
    if compute.ec2 is not None:
        b.target(
            "app-ec2-instances",
            selector_target(compute.ec2, "aws:ec2:instance"),
        )
    if compute.ecs is not None:
        b.target(
            "app-ecs-tasks",
            selector_target(compute.ecs, "aws:ecs:task", ecs_parameters(compute.ecs)),
        )
    if compute.eks is not None:
        b.target(
            "app-eks-pods",
            TemplateTarget(
                "aws:eks:pod",
                parameters=eks_parameters(compute.eks),
                selection=compute.eks.selection,
            ),
        )


def _network(b: _Builder, demands: list[Demand]) -> None:
    if not b.env.compute.configured or not demands:
        return
    found = slices(demands)
    if not found:
        return
    _compute_targets(b)
    segments = []
    for index, slice_ in enumerate(found, start=1):
        faults = ", ".join(dict.fromkeys(d.fault for d in slice_.demands))
        timing = durations(b, slice_.end_s - slice_.start_s, faults)
        steps = compute_steps(slice_, index, b.env, b.region, timing)
        segments.append(Segment(slice_.start_s, slice_.end_s, steps))
    b.chain("network", segments)


def _endpoints(b: _Builder, demands: list[Demand]) -> None:
    for i, entry in enumerate(b.env.vpc_endpoints):
        matching = [
            d
            for d in demands
            if d.via_endpoints and b.region in d.regions and set(d.services) & set(entry.services)
        ]
        for d in matching:
            if d.effect != LOSS:
                b.note(f"{d.fault}: VPC endpoints can only be cut, not slowed; they stay as is")
            elif d.probability < 1:
                b.note(
                    f"{d.fault}: aws:network:disrupt-vpc-endpoint blocks every call through the "
                    f"endpoint; probability {d.probability:g} cannot apply there"
                )
        cut = intervals([d for d in matching if d.effect == LOSS])
        if not cut:
            continue
        target = b.target(
            f"vpc-endpoints-{i}",
            selector_target(entry, "aws:ec2:vpc-endpoint"),
        )
        segments = [
            Segment(start, end, (_endpoint_step(b, i, k, start, end, faults, target),))
            for k, (start, end, faults) in enumerate(cut)
        ]
        b.chain(f"vpce-{i}", segments)


def _endpoint_step(
    b: _Builder, i: int, k: int, start: float, end: float, faults: tuple[str, ...], target: str
) -> Step:
    action = "aws:network:disrupt-vpc-endpoint"
    whole = b.effective(action, end - start, ", ".join(faults))
    return Step(
        f"vpce-{i}-{k}",
        action,
        f"block the interface VPC endpoints for {', '.join(b.env.vpc_endpoints[i].services)} "
        f"({', '.join(faults)})",
        {"duration": iso_duration(whole)},
        {"VPCEndpoints": target},
        faults,
    )


def _registry_s3(b: _Builder, demands: list[Demand]) -> None:
    if not b.env.registry.block_s3_layers or not demands:
        return
    subnets = b.env.network.subnets
    if subnets is None:
        b.problems.append("registry.block_s3_layers needs network.subnets (the app's subnets)")
        return
    target = b.target(
        "app-subnets",
        selector_target(subnets, "aws:ec2:subnet"),
    )
    action = "aws:network:disrupt-connectivity"
    segments = []
    for k, (start, end, faults) in enumerate(intervals(demands)):
        whole = b.effective(action, end - start, ", ".join(faults))
        step = Step(
            f"registry-s3-{k}",
            action,
            f"deny S3 from the app's subnets: image layers come from S3 ({', '.join(faults)})",
            {"duration": iso_duration(whole), "scope": "s3"},
            {"Subnets": target},
            faults,
        )
        segments.append(Segment(start, end, (step,)))
    b.chain("registry-s3", segments)


def _fis_action(b: _Builder, fault: FisAction, name: str) -> None:
    targets = {}
    for key, spec in fault.targets.items():
        target = TemplateTarget(
            spec.resource_type,
            spec.arns,
            dict(spec.tags),
            tuple((f.path, f.values) for f in spec.filters),
            dict(spec.parameters),
            spec.selection,
        )
        targets[key] = b.target(f"{name}-{key}".lower()[:64], target)
    parameters = dict(fault.parameters)
    known = ALLOWED.get(fault.action_id)
    if known is not None and known.duration_param is not None:
        parameters[known.duration_param] = iso_duration(
            b.effective(fault.action_id, fault.duration, name)
        )
    step = Step(name, fault.action_id, f"{fault.action_id} ({name})", parameters, targets, (name,))
    b.chain(name, [Segment(fault.start_after, fault.end_s, (step,))])


def _fault(b: _Builder, fault: FaultVariant, name: str, rules: list[Rule]) -> list[Demand]:
    """Map one fault; network demands are returned to be cut into slices with the others."""
    if isinstance(fault, FisAction):
        _fis_action(b, fault, name)
        return []
    if isinstance(fault, ApiFault):
        b.chain(name, api_fault_segments(b, fault, name, rules))
        return []
    if isinstance(fault, RegionLoss):
        segments, demands = region_loss_segments(b, fault, name, rules)
        b.chain(name, segments)
        return demands
    return _loss_demands(b, fault, name, rules)


def _map_faults(b: _Builder, rules: Sequence[Rule]) -> None:
    windows = _by_fault(rules)
    demands: list[Demand] = []
    registry: list[Demand] = []
    for name, fault in zip(b.scenario.fault_names(), b.scenario.faults, strict=True):
        try:
            found = _fault(b, fault, name, windows.get(name, []))
        except InvalidInputError as error:
            b.problems.append(f"fault {name}: {error.message}")
            continue
        demands += found
        if isinstance(fault, RegistryLoss):
            registry += found
    b.problems += _overlapping_region_losses(b.scenario)
    for step in (_network, _endpoints):
        try:
            step(b, demands)
        except InvalidInputError as error:
            b.problems.append(error.message)
    _registry_s3(b, registry)


def _overlapping_region_losses(scenario: Scenario) -> list[str]:
    losses = [
        (name, fault)
        for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True)
        if isinstance(fault, RegionLoss)
    ]
    return [
        f"faults {a} and {b} are region losses at the same time: FIS swaps the subnets' route "
        "tables for one region at a time"
        for (a, fa), (b, fb) in combinations(losses, 2)
        if fa.start_after < fb.end_s and fb.start_after < fa.end_s
    ]


def _timing(b: _Builder) -> tuple[dict[str, Window], float]:
    """Each fault's effective window and the experiment's length, from the action graph."""
    ends: dict[str, float] = {}
    windows: dict[str, Window] = {}
    for name, action in b.actions.items():
        start = max((ends[a] for a in action.start_after), default=0.0)
        spec = ALLOWED.get(action.action_id)
        ends[name] = start + action.duration_s(spec.duration_param if spec else "duration")
        for fault in action.faults:
            known = windows.get(fault)
            windows[fault] = Window(
                min(start, known.start_s) if known else start,
                max(ends[name], known.end_s) if known else ends[name],
            )
    return windows, max(ends.values(), default=0.0)


def _refusals(b: _Builder) -> list[str]:
    found = []
    for name, action in b.actions.items():
        types = {
            key: b.targets[target].resource_type if target in b.targets else "(no such target)"
            for key, target in action.targets.items()
        }
        found += action_problems(name, action.action_id, action.parameters, types)
    return found


def build_fis_plan(
    scenario: Scenario,
    rules: Sequence[Rule],
    env: AwsEnvironment | None,
    *,
    run_id: str,
) -> FisPlan:
    """The FIS template for ``scenario`` on the account ``env`` describes (merged over the
    scenario's ``target.aws``), with the notes and refusals ``plan`` shows."""
    merged = merge_environment(scenario, env)
    b = _Builder(scenario, merged)
    _map_faults(b, rules)
    windows, length_s = _timing(b)
    name = scenario.metadata.name
    faults = ", ".join(scenario.fault_names())
    tags = {**merged.tags, MANAGED_BY_TAG[0]: MANAGED_BY_TAG[1]}
    tags |= {RUN_ID_TAG: run_id, SCENARIO_TAG: name}
    template = ExperimentTemplate(
        description=f"gameday {name}: {faults} (run {run_id})"[:512],
        role_arn=merged.role_arn,
        stop_conditions=merged.stop_conditions,
        targets=dict(b.targets),
        actions=dict(b.actions),
        tags=tags,
        client_token=f"gameday-{run_id}"[:64],
        logs=merged.logs,
        report=merged.report,
    )
    return FisPlan(
        template=template,
        region=b.region,
        offset_s=b.base_s,
        windows=windows,
        length_s=length_s,
        notes=tuple(b.notes),
        problems=tuple(b.problems),
        refused=tuple(_refusals(b)),
    )
