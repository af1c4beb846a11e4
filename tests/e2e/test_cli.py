"""The CLI, in-process through typer's CliRunner and as the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gameday.cli import app
from gameday.scenario.loader import find_scenario_files

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
# The shipped drills, as the loader finds them (aws.example.yaml is an environment file).
SHIPPED = sorted(p.stem for p in find_scenario_files([SCENARIOS]))
INVALID = ROOT / "tests" / "fixtures" / "invalid"
runner = CliRunner()


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found, "the gameday console script is not installed next to this Python"
    return found


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == "gameday 0.1.0\n"


@pytest.mark.parametrize(
    "command",
    ["validate", "plan", "run", "report", "explain", "history", "abort", "schema", "gateway"],
)
def test_every_command_has_help_with_examples(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_validate_the_shipped_suite() -> None:
    result = runner.invoke(app, ["validate", str(SCENARIOS)])
    assert result.exit_code == 0, result.output
    assert len(SHIPPED) >= 8
    assert result.output.count("ok    ") == len(SHIPPED)
    assert result.output.endswith(f"{len(SHIPPED)} scenario(s) valid\n")


def test_validate_json_for_machines() -> None:
    result = runner.invoke(app, ["validate", str(SCENARIOS), "--format", "json"])
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert {f["scenario"] for f in payload["files"]} >= {"identity-loss", "region-loss"}


def test_validate_invalid_exits_2_with_located_errors() -> None:
    bad = INVALID / "unknown-mode.yaml"
    result = runner.invoke(app, ["validate", str(SCENARIOS / "identity-loss.yaml"), str(bad)])
    assert result.exit_code == 2
    assert f"error: {bad}:10:11: faults[0].mode: unknown value 'throtle'" in result.stderr
    assert "1 valid, 1 invalid" in result.stderr


def test_validate_json_lists_problems() -> None:
    bad = INVALID / "unknown-probe.yaml"
    result = runner.invoke(app, ["validate", str(bad), "--format", "json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["files"][0]["problems"] == [
        f"{bad}:24:12: objectives[0].probe: unknown probe 'apii'; probes are: api, orders"
    ]


def test_validate_missing_path() -> None:
    result = runner.invoke(app, ["validate", "no/such/dir"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no/such/dir: no such file or folder\nhint: give scenario files or folders of them\n"
    )


def test_plan_text_shows_rules_probes_objectives_and_checks() -> None:
    result = runner.invoke(app, ["plan", str(SCENARIOS / "region-loss.yaml")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "us-east-1-down: blackhole, p=1, 5s -> 25s, ttl 22s" in out
    assert "services    every service" in out
    assert "failover-rto         rto           orders  <= 10s" in out
    assert "PASS  every fault expires" in out
    assert "N/A   approval" in out


def test_plan_json_for_the_whole_suite() -> None:
    result = runner.invoke(app, ["plan", str(SCENARIOS), "--format", "json"])
    assert result.exit_code == 0
    plans = {p["scenario"]: p for p in json.loads(result.stdout)["plans"]}
    assert (
        set(plans)
        == set(SHIPPED)
        >= {
            "alert-path-loss",
            "automation-under-outage",
            "break-glass",
            "control-plane-outage",
            "identity-loss",
            "logging-loss",
            "region-loss",
            "registry-loss",
        }
    )
    assert plans["control-plane-outage"]["capabilities"] == ["identity", "logging", "registry"]
    assert [r["id"] for r in plans["registry-loss"]["rules"]] == ["ecr-down#1", "ecr-down#2"]
    assert all(p["ok"] for p in plans.values())


def test_plan_for_aws_fails_the_real_account_checks() -> None:
    result = runner.invoke(app, ["plan", str(SCENARIOS / "identity-loss.yaml"), "--env", "aws"])
    assert result.exit_code == 2
    assert "fail    account allow-list: no account is allowed" in result.stdout
    assert "fail    stop conditions: none: FIS needs at least one CloudWatch alarm" in result.stdout
    assert "at-run  approval: run needs --approve" in result.stdout
    assert '"managed-by": "gameday"' in result.stdout  # the exact template is shown
    assert "error: safety checks failed for: identity-loss" in result.stderr


def test_plan_and_export_for_aws_with_an_environment_file() -> None:
    config = str(SCENARIOS / "aws.example.yaml")
    scenario = str(SCENARIOS / "identity-loss.yaml")
    result = runner.invoke(app, ["plan", scenario, "--env", "aws", "--aws-config", config])
    assert "pass    account allow-list" in result.stdout, result.output
    exported = runner.invoke(app, ["export", "fis", scenario, "--aws-config", config])
    assert exported.exit_code == 0, exported.output
    template = json.loads(exported.stdout)
    assert template["tags"]["managed-by"] == "gameday"
    assert template["stopConditions"][0]["source"] == "aws:cloudwatch:alarm"


def test_import_fis_writes_a_valid_scenario(tmp_path: Path) -> None:
    shared = ROOT.parent / "shared" / "fis-templates"
    templates = sorted(p for p in shared.glob("*.json") if not p.name.startswith("_"))
    if not templates:
        pytest.skip(f"{shared} is not here")
    out = tmp_path / "imported.yaml"
    result = runner.invoke(app, ["import", "fis", str(templates[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr
    checked = runner.invoke(app, ["validate", str(out)])
    assert checked.exit_code == 0, checked.output


def test_plan_refuses_invalid_files() -> None:
    result = runner.invoke(app, ["plan", str(INVALID / "bad-region.yaml")])
    assert result.exit_code == 2
    assert "target.regions[1]: unknown region 'us-wst-2'" in result.stderr


def test_schema_to_stdout_is_the_committed_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "docs" / "scenario.schema.json").read_text()


def test_usage_error_exits_2() -> None:
    result = runner.invoke(app, ["plan", "--env", "mars", str(SCENARIOS)])
    assert result.exit_code == 2


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    return subprocess.run(
        [_script(), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_console_script_validates_the_suite() -> None:
    done = _run("validate", str(SCENARIOS))
    assert done.returncode == 0, done.stderr
    assert f"{len(SHIPPED)} scenario(s) valid" in done.stdout


def test_console_script_reports_a_bad_file_without_traceback() -> None:
    bad = INVALID / "yaml-syntax.yaml"
    done = _run("validate", str(bad))
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == (
        f"error: {bad}:3:15: invalid YAML: mapping values are not allowed here"
    )
    assert "Traceback" not in done.stderr + done.stdout


def test_console_script_help_lists_the_commands() -> None:
    done = _run("--help")
    assert done.returncode == 0
    for command in ("validate", "plan", "schema", "gateway"):
        assert command in done.stdout


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from gameday.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['validate', sys.argv[1]])\n"
        "heavy = [m for m in ('boto3', 'botocore', 'moto', 'aiohttp') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(SCENARIOS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == ""
