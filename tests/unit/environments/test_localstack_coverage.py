"""What a LocalStack does not serve of a scenario's needs, and how plan and run say so: pure,
against the free edition's known services or a given map (no LocalStack needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.checks import CheckOutcome as Outcome
from gameday.engine.plan import make_plan
from gameday.environments.localstack_coverage import (
    FREE_EDITION_SERVICES,
    ServedServices,
    check_coverage,
    known_free_edition,
    localstack_name,
    refusal_message,
)
from gameday.scenario.loader import load_scenario, parse_scenario
from gameday.scenario.models import Environment, Scenario

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "scenarios"
URL = "http://localhost:4566"
FREE = known_free_edition(URL)


def _shipped(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml").scenario


def _scenario(tmp_path: Path, body: str) -> Scenario:
    text = "apiVersion: gameday/v1\nmetadata: {name: custom}\n" + body
    return parse_scenario(tmp_path / "custom.yaml", text)


_PROBES = """
probes:
  - {name: api, kind: http, url: "{app}/health"}
objectives:
  - {kind: steady, probe: api}
"""


def test_registry_loss_needs_ecr_for_its_fault_and_its_repository() -> None:
    coverage = check_coverage(_shipped("registry-loss"), FREE)
    assert not coverage.ok
    assert coverage.missing == {
        "ecr": ("fault ecr-down (registry-loss)", "setup[3] repository demo/app"),
        "ecr-public": ("fault ecr-down (registry-loss)",),
    }


def test_control_plane_outage_is_refused_for_its_registry_part() -> None:
    coverage = check_coverage(_shipped("control-plane-outage"), FREE)
    assert set(coverage.missing) == {"ecr", "ecr-public"}
    assert coverage.missing["ecr"] == (
        "fault registry (registry-loss)",
        "setup[3] repository demo/app",
    )


@pytest.mark.parametrize(
    ("name", "moot"),
    [
        (
            "identity-loss",
            {
                "fault sts-and-iam-down (identity-loss)": (
                    "sso",
                    "sso-oidc",
                    "identitystore",
                    "sso-admin",
                    "cognito-identity",
                )
            },
        ),
        ("logging-loss", {"fault logs-down (logging-loss)": ("cloudtrail",)}),
        ("region-loss", {}),
    ],
)
def test_drills_that_still_take_away_served_services_run(
    name: str, moot: dict[str, tuple[str, ...]]
) -> None:
    coverage = check_coverage(_shipped(name), FREE)
    assert coverage.ok
    assert coverage.missing == {}
    assert coverage.moot == moot


def test_probes_and_setup_calls_name_their_services(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """
target:
  setup:
    - {kind: call, service: glue, call: create_database, params: {DatabaseInput: {Name: d}}}
    - {kind: bucket, name: gameday-bucket}
faults:
  - {kind: api-fault, services: [monitoring, fis], duration: 5s}
probes:
  - {name: trail, kind: aws, service: cloudtrail, call: describe_trails}
  - {name: audit, kind: data, write_url: "{app}/audit/{marker}", read: {log_group: /a}}
objectives:
  - {kind: steady, probe: trail}
""",
    )
    coverage = check_coverage(scenario, FREE)
    assert coverage.missing == {
        "glue": ("setup[0] call glue.create_database",),
        "cloudtrail": ("probe trail (aws cloudtrail.describe_trails)",),
    }
    # monitoring is CloudWatch, which the free edition serves: fis is only noted.
    assert coverage.moot == {"fault api-fault-0 (api-fault)": ("fis",)}


def test_a_data_probe_reading_a_log_group_needs_logs(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """
faults:
  - {kind: api-fault, services: [sts], duration: 5s}
probes:
  - {name: audit, kind: data, write_url: "{app}/audit/{marker}", read: {log_group: /a}}
objectives:
  - {kind: rpo, probe: audit, target: 0s}
""",
    )
    served = ServedServices(URL, {"sts": "running", "logs": "disabled"}, live=True)
    assert check_coverage(scenario, served).missing == {
        "logs": ("probe audit (data, read from log group)",)
    }


def test_only_serving_states_count() -> None:
    served = ServedServices(
        URL,
        {"sts": "running", "iam": "available", "logs": "starting", "s3": "error", "sqs": "stopped"},
        live=True,
    )
    assert [s for s in ("sts", "iam", "logs", "s3", "sqs", "ecr") if served.serves(s)] == [
        "sts",
        "iam",
        "logs",
    ]


def test_gateway_names_map_to_localstack_names() -> None:
    assert localstack_name("monitoring") == "cloudwatch"
    assert localstack_name("registry") == "ecr"
    assert localstack_name("dynamodb") == "dynamodb"


def test_free_edition_lacks_what_design_says() -> None:
    for service in ("ecr", "cloudtrail", "fis"):
        assert service not in FREE_EDITION_SERVICES
    for service in ("sts", "iam", "logs", "dynamodb", "s3", "cloudwatch"):
        assert service in FREE_EDITION_SERVICES


def test_the_refusal_names_each_service_and_what_needs_it() -> None:
    scenario = _shipped("registry-loss")
    served = ServedServices(URL, {"sts": "available"}, live=True, version="2026.3.0")
    message = refusal_message(scenario, check_coverage(scenario, served), served)
    assert message == (
        "registry-loss: LocalStack 2026.3.0 at http://localhost:4566 does not serve what this "
        "drill needs: ecr (fault ecr-down (registry-loss), setup[3] repository demo/app); "
        "ecr-public (fault ecr-down (registry-loss)); iam (setup[0] role demo-app); "
        "dynamodb (setup[1] table orders); logs (setup[2] log-group /gameday/demo/audit)"
    )


def test_plan_for_localstack_fails_a_check_per_missing_service() -> None:
    loaded = load_scenario(SCENARIOS / "registry-loss.yaml")
    plan = make_plan(loaded, Environment.LOCALSTACK, served=FREE)
    failed = [c for c in plan.checks if c.outcome is Outcome.FAIL]
    assert [c.name for c in failed] == ["localstack: ecr", "localstack: ecr-public"]
    assert failed[0].detail == (
        "not served by the LocalStack free edition (2026.3.0's services; none answered at "
        "http://localhost:4566); needed by fault ecr-down (registry-loss), "
        "setup[3] repository demo/app"
    )
    assert not plan.ok
    assert plan.safe  # nothing unsafe: the environment lacks a service
    assert plan.refusal is not None and "ecr (fault ecr-down" in plan.refusal


def test_plan_for_localstack_passes_and_notes_what_changes_nothing() -> None:
    loaded = load_scenario(SCENARIOS / "logging-loss.yaml")
    plan = make_plan(loaded, Environment.LOCALSTACK, served=FREE)
    check = plan.checks[-1]
    assert check.name == "localstack services"
    assert check.outcome is Outcome.PASS
    assert check.detail.endswith(
        "not served there, so failing them changes nothing: fault logs-down (logging-loss) "
        "lists cloudtrail"
    )
    assert plan.ok and plan.safe and plan.refusal is None


def test_plan_for_other_environments_has_no_localstack_check() -> None:
    plan = make_plan(load_scenario(SCENARIOS / "registry-loss.yaml"), Environment.EMBEDDED)
    assert not [c for c in plan.checks if c.name.startswith("localstack")]
    assert plan.ok and plan.environment_checks == ()
