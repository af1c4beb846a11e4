"""Objective targets from a resiliency policy in a JSON file (the API's shape)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.fis.resilience_hub import policy_target, resolve_policy_targets
from gameday.kinds import ObjectiveKind
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import Disruption, TargetFrom
from tests.unit.fis.builders import scenario

POLICY = {
    "Software": {"rtoInSecs": 300, "rpoInSecs": 60},
    "Hardware": {"rtoInSecs": 600, "rpoInSecs": 60},
    "AZ": {"rtoInSecs": 900, "rpoInSecs": 120},
}


def _write(tmp_path: Path, document: object, name: str = "policy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "document",
    [
        {"policy": {"policy": POLICY, "policyName": "gold", "tier": "Critical"}},  # Describe...
        {"policy": POLICY, "policyName": "gold"},  # a ResiliencyPolicy
    ],
)
def test_rto_and_rpo_come_from_the_file_relative_to_the_scenario(
    tmp_path: Path, document: object
) -> None:
    _write(tmp_path, document)
    source = TargetFrom(resiliency_policy="policy.json", disruption=Disruption.AZ)
    rto = policy_target(source, ObjectiveKind.RTO, base_dir=tmp_path)
    assert rto.seconds == 900.0
    assert rto.source == "resiliency policy file policy.json, AZ rtoInSecs=900 (15m)"
    assert policy_target(source, ObjectiveKind.RPO, base_dir=tmp_path).seconds == 120.0


def test_a_missing_disruption_type_is_named(tmp_path: Path) -> None:
    _write(tmp_path, {"policy": POLICY})
    source = TargetFrom(resiliency_policy="policy.json", disruption=Disruption.REGION)
    with pytest.raises(InvalidInputError) as caught:
        policy_target(source, ObjectiveKind.RTO, base_dir=tmp_path)
    assert caught.value.message == (
        "resiliency policy file policy.json has no Region.rtoInSecs "
        "(disruption types present: Software, Hardware, AZ)"
    )


def test_only_rto_and_rpo_take_a_policy_target(tmp_path: Path) -> None:
    source = TargetFrom(resiliency_policy="policy.json", disruption=Disruption.AZ)
    with pytest.raises(InvalidInputError, match="it applies to rto and rpo, not ttd"):
        policy_target(source, ObjectiveKind.TTD, base_dir=tmp_path)


def test_unreadable_and_malformed_files_are_refused(tmp_path: Path) -> None:
    source = TargetFrom(resiliency_policy="nope.json", disruption=Disruption.AZ)
    with pytest.raises(InvalidInputError, match=r"nope.json: cannot read"):
        policy_target(source, ObjectiveKind.RTO, base_dir=tmp_path)
    (tmp_path / "bad.json").write_text("{\n  x")
    bad = TargetFrom(resiliency_policy="bad.json", disruption=Disruption.AZ)
    with pytest.raises(InvalidInputError, match=r"bad.json:2:3: invalid JSON"):
        policy_target(bad, ObjectiveKind.RTO, base_dir=tmp_path)
    _write(tmp_path, {"tier": "Critical"}, "odd.json")
    odd = TargetFrom(resiliency_policy="odd.json", disruption=Disruption.AZ)
    with pytest.raises(InvalidInputError, match="not a resiliency policy"):
        policy_target(odd, ObjectiveKind.RTO, base_dir=tmp_path)


def test_an_arn_of_another_service_is_refused(tmp_path: Path) -> None:
    source = TargetFrom(
        resiliency_policy="arn:aws:iam::123456789012:role/x", disruption=Disruption.AZ
    )
    with pytest.raises(InvalidInputError, match="is not a Resilience Hub resiliency policy ARN"):
        policy_target(source, ObjectiveKind.RTO, base_dir=tmp_path)


def test_policy_targets_are_filled_in_before_grading(tmp_path: Path) -> None:
    _write(tmp_path, {"policy": POLICY})
    loaded = scenario("- {kind: logging-loss, duration: 1m}")
    document = loaded.scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)
    document["objectives"] = [
        {"name": "fixed", "kind": "rto", "probe": "api", "target": "30s"},
        {
            "name": "from-policy",
            "kind": "rpo",
            "probe": "api",
            "target_from": {"resiliency_policy": "policy.json", "disruption": "Software"},
        },
    ]
    with_policy = Scenario.model_validate(document)
    resolved, sources = resolve_policy_targets(with_policy, tmp_path)
    assert [getattr(o, "target", None) for o in resolved.objectives] == [30.0, 60.0]
    assert sources == {
        "from-policy": "resiliency policy file policy.json, Software rpoInSecs=60 (1m)"
    }
