"""Objective targets read back from Resilience Hub policies created in a real moto server."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.fis.clients import AwsClients
from gameday.fis.resilience_hub import policy_target
from gameday.kinds import ObjectiveKind
from gameday.scenario.probe_models import Disruption, TargetFrom

pytestmark = pytest.mark.usefixtures("on_moto")


def _policy(region: str) -> str:
    hub = AwsClients(region).session.client("resiliencehub", region_name=region)
    created = hub.create_resiliency_policy(
        policyName="orders-gold",
        tier="MissionCritical",
        policy={
            "Software": {"rtoInSecs": 300, "rpoInSecs": 30},
            "Hardware": {"rtoInSecs": 600, "rpoInSecs": 30},
            "AZ": {"rtoInSecs": 900, "rpoInSecs": 60},
            "Region": {"rtoInSecs": 3600, "rpoInSecs": 900},
        },
    )
    arn: str = created["policy"]["policyArn"]
    return arn


@pytest.mark.parametrize(
    ("disruption", "kind", "seconds"),
    [
        (Disruption.REGION, ObjectiveKind.RTO, 3600.0),
        (Disruption.REGION, ObjectiveKind.RPO, 900.0),
        (Disruption.SOFTWARE, ObjectiveKind.RTO, 300.0),
        (Disruption.AZ, ObjectiveKind.RPO, 60.0),
    ],
)
def test_targets_are_read_from_a_policy_by_arn(
    disruption: Disruption, kind: ObjectiveKind, seconds: float
) -> None:
    arn = _policy("eu-west-1")
    target = policy_target(
        TargetFrom(resiliency_policy=arn, disruption=disruption), kind, base_dir=Path()
    )
    assert target.seconds == seconds
    field = "rtoInSecs" if kind is ObjectiveKind.RTO else "rpoInSecs"
    assert target.source.startswith(f"Resilience Hub policy {arn}, {disruption.value} {field}=")


def test_an_unknown_policy_arn_is_invalid_input() -> None:
    missing = "arn:aws:resiliencehub:eu-west-1:123456789012:resiliency-policy/nope"
    source = TargetFrom(resiliency_policy=missing, disruption=Disruption.AZ)
    with pytest.raises(InvalidInputError, match=f"no resiliency policy {missing}"):
        policy_target(source, ObjectiveKind.RTO, base_dir=Path())
