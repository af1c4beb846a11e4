"""Objective targets given as a Resilience Hub policy ARN (``target_from.resiliency_policy``).

An ARN is read from AWS with ``DescribeResiliencyPolicy``, so it is a network call made with
the runner's own credentials: allowed on a real account only, after approval (DESIGN.md
"Safety" 1). A path to a JSON file of the same shape is read from disk, anywhere. This module
only finds the ARNs; ``gameday.engine.plan`` decides where they are refused and
``gameday.fis.resilience_hub`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.scenario.locate import Loc
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import TargetFrom

_ARN_PREFIX = "arn:"


def is_policy_arn(resiliency_policy: str) -> bool:
    """Whether ``resiliency_policy`` names a policy in an account (else: a file path)."""
    return resiliency_policy.startswith(_ARN_PREFIX)


@dataclass(frozen=True, slots=True)
class PolicyArn:
    """One objective whose target is read from AWS, and where the ARN stands in the file."""

    objective: str
    arn: str
    disruption: str
    loc: Loc


def policy_arns(scenario: Scenario) -> list[PolicyArn]:
    """Every objective of ``scenario`` whose ``target_from`` names a policy ARN."""
    found = []
    for index, (name, objective) in enumerate(
        zip(scenario.objective_names(), scenario.objectives, strict=True)
    ):
        # getattr: ``target_from`` is a field of the time objectives only.
        source = getattr(objective, "target_from", None)
        if isinstance(source, TargetFrom) and is_policy_arn(source.resiliency_policy):
            loc: Loc = ("objectives", index, "target_from", "resiliency_policy")
            found.append(PolicyArn(name, source.resiliency_policy, source.disruption.value, loc))
    return found


def has_target_from(scenario: Scenario) -> bool:
    """Whether any objective reads its target from a resiliency policy (file or ARN)."""
    return any(getattr(o, "target_from", None) is not None for o in scenario.objectives)
