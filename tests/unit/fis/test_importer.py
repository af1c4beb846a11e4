"""``gameday import fis``: the 22 public templates in ../shared/fis-templates import, validate
(with the fis-action kind) and plan; native equivalents become native faults; LocalStack-only
actions are reported; CloudFormation is read with its parameter defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gameday.errors import GameDayError, InvalidInputError
from gameday.fis.importer import import_fis_template
from gameday.fis.plan import fis_plan_text, plan_aws
from gameday.scenario.loader import parse_scenario
from tests.unit.fis.builders import environment
from tests.unit.fis.models import load_with_fis_actions

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "fis-templates"
if not (CORPUS / "_index.json").is_file():
    pytest.skip(
        f"the shared FIS templates are not beside the project ({CORPUS})", allow_module_level=True
    )
TEMPLATES = sorted(p for p in CORPUS.glob("*") if not p.name.startswith("_"))


def _corpus(part: str) -> Path:
    [path] = [p for p in TEMPLATES if part in p.name]
    return path


INDEX = {entry["file"]: entry for entry in json.loads((CORPUS / "_index.json").read_text())}


def test_the_corpus_has_its_22_templates() -> None:
    assert len(TEMPLATES) == 22
    assert {p.name for p in TEMPLATES} == set(INDEX)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name[:70])
def test_every_template_imports_validates_and_plans(path: Path) -> None:
    result = import_fis_template(path)
    loaded = load_with_fis_actions(path.with_suffix(".scenario.yaml"), result.text)
    plan = plan_aws(loaded, None, run_id="import")
    text = fis_plan_text(plan)
    assert text.startswith(f"scenario {loaded.scenario.metadata.name} on aws:")
    kept = [a for a in INDEX[path.name]["action_ids"] if a != "aws:fis:wait"]
    assert len(result.mapped) + len(result.passthrough) + len(result.localstack_only) >= len(
        set(kept)
    )


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name[:70])
def test_templates_without_fis_actions_validate_with_the_real_loader(path: Path) -> None:
    result = import_fis_template(path)
    if result.passthrough:
        assert "fis-action faults (aws only, not on the emulator)" in result.text
        return
    scenario = parse_scenario(path.with_suffix(".scenario.yaml"), result.text)
    assert scenario.faults


def test_api_error_actions_become_api_faults() -> None:
    path = _corpus("fis-throttle-error")
    result = import_fis_template(path)
    assert result.mapped == ["ThrottleError"]
    [fault] = YAML(typ="safe").load(result.text)["faults"]
    assert fault == {
        "name": "throttle-error",
        "kind": "api-fault",
        "mode": "throttle",
        "services": ["ec2"],
        "operations": ["DescribeInstances", "DescribeVolumes"],
        "probability": 1.0,
        "start_after": "0s",
        "duration": "5m",
    }
    assert any("list the app's roles under app_roles" in note for note in result.notes)


def test_localstack_only_actions_are_reported_and_mapped() -> None:
    outage = import_fis_template(_corpus("region-outage-experiment"))
    assert outage.localstack_only == ["regionUnavailable-us-west-1"]
    assert "localstack:generic:api-error is a LocalStack-only action" in outage.text
    [fault] = YAML(typ="safe").load(outage.text)["faults"]
    assert fault["kind"] == "region-loss" and fault["region"] == "us-west-1"
    assert fault["mode"] == "unavailable" and fault["duration"] == "1m"
    ddb = import_fis_template(_corpus("experiment-ddb"))
    [fault] = YAML(typ="safe").load(ddb.text)["faults"]
    assert fault["kind"] == "api-fault" and fault["services"] == ["dynamodb"]
    assert fault["error"] == {"status": 500, "code": "DynamoDbException"}


def test_localstack_faults_cannot_run_on_aws_and_plan_says_why() -> None:
    ddb = import_fis_template(_corpus("experiment-ddb"))
    loaded = load_with_fis_actions(Path("/s/ddb.yaml"), ddb.text)
    plan = plan_aws(loaded, environment(), run_id="x")
    assert plan.fis.problems == (
        "fault test-action-1: FIS injects API errors for ec2 and kinesis only, not dynamodb",
    )


def test_start_after_chains_and_waits_become_start_offsets() -> None:
    path = CORPUS / (
        "aws-samples__fis-template-library__aurora-postgres-cluster-loadtest-failover__"
        "aurora-postgres-cluster-loadtest-failover-template.json"
    )
    result = import_fis_template(path)
    faults = {f["name"]: f for f in YAML(typ="safe").load(result.text)["faults"]}
    assert faults["failover-cluster"]["start_after"] == "5m"
    assert faults["run-load-test"]["start_after"] == "0s"
    assert faults["failover-cluster"]["kind"] == "fis-action"
    loaded = load_with_fis_actions(Path("/s/a.yaml"), result.text)
    plan = plan_aws(loaded, environment(), run_id="x")
    assert plan.fis.windows["failover-cluster"].start_s == 300.0
    assert plan.fis.refused == (
        "run-load-test: aws:ssm:send-command documentArn 'arn:aws:ssm:<YOUR REGION>:<YOUR AWS "
        "ACCOUNT>:document/aurora-cluster-loadtest-document' is not an AWS FIS document ARN "
        "(arn:aws:ssm:REGION::document/AWSFIS-...): gameday runs only AWS FIS's own reversible "
        "documents",
    )


def test_cloudformation_parameters_defaults_fill_the_template() -> None:
    path = _corpus("networkdisrupt.yaml")
    result = import_fis_template(path)
    document = YAML(typ="safe").load(result.text)
    [fault] = document["faults"]
    assert fault["action_id"] == "aws:network:disrupt-connectivity"
    assert fault["duration"] == "2m"  # PT${FISActionHours}H${FISActionMins}M... with defaults
    assert fault["parameters"] == {"scope": "all"}
    assert "CloudFormation left unresolved: AWS::Partition, AWS::Region" in result.text.replace(
        "\n# ", " "
    )
    assert "(CloudFormation resource ExperimentTemplate)" in result.text.replace("\n# ", " ")


def test_a_destructive_action_imports_but_cannot_run() -> None:
    path = CORPUS / (
        "aws-samples__aws-fault-injection-simulator-workshop-v2__intro-experiment__"
        "intro-experiment-template.json"
    )
    loaded = load_with_fis_actions(Path("/s/i.yaml"), import_fis_template(path).text)
    plan = plan_aws(loaded, environment(), run_id="x")
    assert plan.fis.refused == (
        "fis-workshop-asg-terminate-instances: aws:ec2:terminate-instances is refused: it "
        "terminates EC2 instances",
    )


def test_files_that_are_not_templates_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "t.json"
    broken.write_text("{\n  actions: 1\n}")
    with pytest.raises(GameDayError, match=r"t.json:2:3: invalid JSON"):
        import_fis_template(broken)
    stack = tmp_path / "stack.yaml"
    stack.write_text("Resources:\n  Bucket: {Type: AWS::S3::Bucket}\n")
    with pytest.raises(InvalidInputError, match="no AWS::FIS::ExperimentTemplate resource"):
        import_fis_template(stack)
