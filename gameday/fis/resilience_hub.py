"""Objective targets from an AWS Resilience Hub resiliency policy.

``target_from: {resiliency_policy: ARN|FILE, disruption: Software|Hardware|AZ|Region}`` on an
``rto`` or ``rpo`` objective reads the policy's ``rtoInSecs`` or ``rpoInSecs`` for that
disruption type, from ``DescribeResiliencyPolicy`` (an ARN) or from a JSON file of the same
shape (a path, relative to the scenario file). The policy format is the ``ResiliencyPolicy``
of the Resilience Hub API: ``{"policy": {"Software": {"rtoInSecs": 300, "rpoInSecs": 60},
...}}``, where "Region" is optional.

An ARN is a call to AWS with the runner's credentials: the engine reads files before anything
starts and ARNs only on a real account, once the drill is approved and its account cleared
(DESIGN.md "Safety" 1); ``gameday.engine.plan`` refuses an ARN on an isolated environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import EnvironmentFailure, InvalidInputError
from gameday.fis.clients import AwsClients, ResiliencyPolicyReader
from gameday.kinds import ObjectiveKind
from gameday.scenario.durations import format_duration
from gameday.scenario.models import Scenario
from gameday.scenario.policy_targets import is_policy_arn
from gameday.scenario.probe_models import TargetFrom

_FIELD = {ObjectiveKind.RTO: "rtoInSecs", ObjectiveKind.RPO: "rpoInSecs"}


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    """A target read from a policy, and the words the report shows for where it came from."""

    seconds: float
    source: str


def _policy_of(document: Any, where: str) -> Mapping[str, Any]:
    """The disruption map from a DescribeResiliencyPolicy answer or a ResiliencyPolicy."""
    policy = document.get("policy") if isinstance(document, Mapping) else None
    if isinstance(policy, Mapping) and isinstance(policy.get("policy"), Mapping):
        policy = policy["policy"]
    if not isinstance(policy, Mapping):
        raise InvalidInputError(
            f'{where}: not a resiliency policy (expected {{"policy": {{"Software": ...}}}})'
        )
    return policy


def _read_file(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot read: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path}:{error.lineno}:{error.colno}: invalid JSON") from None
    return _policy_of(document, str(path))


def _read_api(arn: str, reader: ResiliencyPolicyReader) -> Mapping[str, Any]:
    try:
        answer = reader.describe_resiliency_policy(policyArn=arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise InvalidInputError(f"no resiliency policy {arn}") from None
        raise EnvironmentFailure(f"DescribeResiliencyPolicy {arn} failed: {error}") from None
    except BotoCoreError as error:
        raise EnvironmentFailure(f"DescribeResiliencyPolicy {arn} failed: {error}") from None
    return _policy_of(answer, arn)


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[2] != "resiliencehub" or not parts[3]:
        raise InvalidInputError(f"{arn!r} is not a Resilience Hub resiliency policy ARN")
    return parts[3]


def policy_target(
    target_from: TargetFrom,
    kind: ObjectiveKind,
    *,
    base_dir: Path,
    reader: Callable[[str], ResiliencyPolicyReader] | None = None,
) -> PolicyTarget:
    """The target of an ``rto`` or ``rpo`` objective from its resiliency policy.

    ``reader`` makes a Resilience Hub client for a region (default: boto3's, which honours
    ``AWS_ENDPOINT_URL``); it is used only for an ARN.
    """
    field = _FIELD.get(kind)
    if field is None:
        raise InvalidInputError(
            f"target_from reads recovery targets: it applies to rto and rpo, not {kind.value}"
        )
    given = target_from.resiliency_policy
    if is_policy_arn(given):
        region = _region_of(given)
        make = reader or (lambda r: AwsClients(r).resiliencehub(r))
        policy, where = _read_api(given, make(region)), f"Resilience Hub policy {given}"
    else:
        path = Path(given) if Path(given).is_absolute() else base_dir / given
        policy, where = _read_file(path), f"resiliency policy file {given}"
    disruption = target_from.disruption.value
    entry = policy.get(disruption)
    if not isinstance(entry, Mapping) or not isinstance(entry.get(field), int | float):
        present = ", ".join(k for k in policy if isinstance(policy[k], Mapping)) or "none"
        raise InvalidInputError(
            f"{where} has no {disruption}.{field} (disruption types present: {present})"
        )
    seconds = float(entry[field])
    return PolicyTarget(
        seconds=seconds,
        source=f"{where}, {disruption} {field}={entry[field]} ({format_duration(seconds)})",
    )


def resolve_policy_targets(
    scenario: Scenario,
    base_dir: Path,
    *,
    reader: Callable[[str], ResiliencyPolicyReader] | None = None,
    arns: bool = True,
) -> tuple[Scenario, dict[str, str]]:
    """Fill in the target of every objective with ``target_from``; the engine calls this
    before grading. Returns the scenario and, per objective name, where each target filled
    in here came from (for the report).

    Objectives without ``target_from``, or whose target is already filled in, are kept as
    they are; so are those that name a policy ARN when ``arns`` is false (files only: no
    network call is made then)."""
    sources: dict[str, str] = {}
    objectives = []
    for name, objective in zip(scenario.objective_names(), scenario.objectives, strict=True):
        # getattr: ``target_from`` is a field of the time objectives only.
        target_from = getattr(objective, "target_from", None)
        if (
            not isinstance(target_from, TargetFrom)
            or getattr(objective, "target", None) is not None
            or (not arns and is_policy_arn(target_from.resiliency_policy))
        ):
            objectives.append(objective)
            continue
        found = policy_target(target_from, objective.kind, base_dir=base_dir, reader=reader)
        objectives.append(objective.model_copy(update={"target": found.seconds}))
        sources[name] = found.source
    return scenario.model_copy(update={"objectives": tuple(objectives)}), sources
