"""Every fault kind resolves into concrete rules: services x regions x operations x mode x
probability x window."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.faults.catalog import GLOBAL_SERVICES, KIND_SERVICES
from gameday.faults.modes import Mode
from gameday.faults.rules import TTL_MARGIN_S, Rule, resolve_rules
from gameday.scenario.loader import parse_scenario
from gameday.scenario.models import FaultKind


def _rules(fault_yaml: str, regions: str = "[us-east-1, us-west-2]") -> list[Rule]:
    text = (
        "apiVersion: gameday/v1\n"
        "metadata: {name: t}\n"
        f"target: {{regions: {regions}}}\n"
        "faults:\n"
        f"  - {fault_yaml}\n"
        "probes: [{name: p, kind: http, url: 'http://127.0.0.1:1/'}]\n"
        "objectives: [{kind: rto, probe: p, target: 1s}]\n"
    )
    scenario = parse_scenario(Path("t.yaml"), text)
    return resolve_rules(scenario)


def test_identity_loss_takes_every_identity_service_in_every_target_region() -> None:
    (rule,) = _rules("{kind: identity-loss, start_after: 2s, duration: 10s}")
    assert rule.services == KIND_SERVICES[FaultKind.IDENTITY_LOSS]
    assert set(rule.services) == {
        "sts", "iam", "sso", "sso-oidc", "identitystore", "sso-admin", "cognito-identity"
    }  # fmt: skip
    assert rule.regions == ("us-east-1", "us-west-2")
    assert rule.operations == ()
    assert (rule.mode, rule.probability, rule.start_s, rule.end_s) == (Mode.UNAVAILABLE, 1, 2, 12)
    assert rule.ttl_s == 10 + TTL_MARGIN_S


def test_federation_only_is_sts_federated_sign_in() -> None:
    (rule,) = _rules("{kind: identity-loss, federation_only: true, duration: 5s}")
    assert rule.services == ("sts",)
    assert rule.operations == ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")


def test_logging_loss_with_a_pipeline() -> None:
    (rule,) = _rules(
        "{kind: logging-loss, include: [firehose, monitoring], regions: [us-west-2], "
        "mode: throttle, probability: 0.25, duration: 5s}"
    )
    assert rule.services == ("logs", "cloudtrail", "firehose", "monitoring")
    assert rule.regions == ("us-west-2",)
    assert (rule.mode, rule.probability) == (Mode.THROTTLE, 0.25)


def test_registry_loss_includes_the_v2_registry_api() -> None:
    (rule,) = _rules("{kind: registry-loss, duration: 5s}")
    assert rule.services == ("ecr", "ecr-public", "registry")


def test_region_loss_of_us_east_1_takes_everything_there_by_default() -> None:
    (rule,) = _rules("{kind: region-loss, region: us-east-1, duration: 5s}")
    assert (rule.services, rule.regions, rule.exclude_services) == ((), ("us-east-1",), ())


def test_region_loss_of_us_east_1_can_spare_the_global_services() -> None:
    (rule,) = _rules("{kind: region-loss, region: us-east-1, include_global: false, duration: 5s}")
    assert rule.exclude_services == GLOBAL_SERVICES


def test_region_loss_elsewhere_keeps_global_services_unless_asked() -> None:
    (rule,) = _rules("{kind: region-loss, region: us-west-2, duration: 5s}")
    assert (rule.services, rule.regions) == ((), ("us-west-2",))
    regional, global_ = _rules(
        "{kind: region-loss, region: us-west-2, include_global: true, duration: 5s}"
    )
    assert regional.regions == ("us-west-2",)
    assert (global_.services, global_.regions) == (GLOBAL_SERVICES, ("us-east-1",))
    assert (regional.id, global_.id) == ("region-loss-0.1", "region-loss-0.2")


def test_api_fault_names_its_services_and_operations() -> None:
    (rule,) = _rules(
        "{kind: api-fault, name: slow-logs, services: [logs], operations: [PutLogEvents], "
        "mode: latency, latency: 1s..3s, duration: 5s}"
    )
    assert (rule.id, rule.services, rule.operations) == ("slow-logs", ("logs",), ("PutLogEvents",))
    assert rule.latency_s == (1.0, 3.0)


def test_ramp_becomes_consecutive_windows() -> None:
    rules = _rules(
        "{kind: registry-loss, name: ecr, start_after: 10s, duration: 30s, ramp: "
        "[{after: 0s, probability: 0.1}, {after: 10s, probability: 0.5}, "
        "{after: 20s, probability: 1}]}"
    )
    assert [(r.id, r.start_s, r.end_s, r.probability) for r in rules] == [
        ("ecr#1", 10, 20, 0.1),
        ("ecr#2", 20, 30, 0.5),
        ("ecr#3", 30, 40, 1.0),
    ]


def test_error_override_travels_with_the_rule() -> None:
    (rule,) = _rules(
        "{kind: api-fault, services: [dynamodb], error: {status: 400, "
        "code: ProvisionedThroughputExceededException}, mode: throttle, duration: 5s}"
    )
    assert rule.error == (400, "ProvisionedThroughputExceededException")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("{kind: identity-loss, duration: 0s}", "a fault needs a duration above zero"),
        (
            "{kind: identity-loss, duration: 5s, probability: 0.5, "
            "ramp: [{after: 0s, probability: 1}]}",
            "give either 'probability' or 'ramp', not both",
        ),
        (
            "{kind: identity-loss, duration: 5s, ramp: [{after: 1s, probability: 1}]}",
            "the first ramp step must start 'after: 0s'",
        ),
        (
            "{kind: identity-loss, duration: 5s, mode: denied, latency: 1s}",
            "'latency' is only for mode 'latency', not 'denied'",
        ),
        (
            "{kind: api-fault, services: [s3], mode: latency, latency: 3s..1s, duration: 5s}",
            "latency range '3s..1s' has its minimum above its maximum",
        ),
    ],
)
def test_bad_fault_fields(fault: str, message: str) -> None:
    from gameday.errors import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        _rules(fault)
    assert caught.value.problems[0].endswith(message)
