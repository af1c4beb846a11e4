"""gameday against a real LocalStack, through the gateway (DESIGN.md "Environments").

The identity-loss and logging-loss drills run end to end (copies of the shipped scenarios
with short windows) and are graded; registry-loss, which needs ECR, is refused by ``run``
with exit 3 before anything is started, and ``plan`` names ECR.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gameday.engine.plan import make_plan
from gameday.environments.localstack import LocalStackEnvironment, served_services
from gameday.environments.localstack_coverage import SERVING_STATES
from gameday.environments.setup import boto3_clients, create_setup
from gameday.environments.stage import StageRequest
from gameday.errors import EnvironmentFailure
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment
from tests.integration.localstack.conftest import LocalStack

pytestmark = pytest.mark.localstack

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "scenarios"


def _gameday(
    localstack: LocalStack, *args: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert script, "the gameday console script is not installed next to this Python"
    return subprocess.run(
        [script, *args],
        env={**os.environ, **localstack.env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _short_copy(name: str, folder: Path) -> Path:
    """The shipped scenario with its fault 2 s in, for 4 s, and at most 16 s of observation."""
    yaml = YAML()
    document: Any = yaml.load((SCENARIOS / f"{name}.yaml").read_text())
    for fault in document["faults"]:
        fault["start_after"] = "2s"
        fault["duration"] = "4s"
    document["observe"]["max"] = "16s"
    document["observe"]["recovery_window"] = "4s"
    document["metadata"].pop("runbook", None)
    path = folder / f"{name}.yaml"
    with path.open("w") as out:
        yaml.dump(document, out)
    return path


def _results(report_dir: Path) -> dict[str, dict[str, Any]]:
    results = {}
    for path in report_dir.glob("*/result.json"):
        result = json.loads(path.read_text())
        results[result["scenario"]["name"]] = result
    return results


def _calls(result: dict[str, Any], service: str, operation: str, outcome: str) -> int:
    return sum(
        count
        for s, o, out, count in result["gateway"]["calls"]
        if (s, o, out) == (service, operation, outcome)
    )


def test_health_names_what_the_drills_use(localstack: LocalStack) -> None:
    services = served_services(localstack.url)
    for service in ("sts", "iam", "logs", "dynamodb"):
        assert services.get(service) in SERVING_STATES, f"{service}: {services.get(service)}"


def test_setup_tolerates_what_already_exists(localstack: LocalStack) -> None:
    scenario = load_scenario(SCENARIOS / "identity-loss.yaml").scenario
    clients = boto3_clients(localstack.url)
    assert create_setup(scenario, clients).count == 3
    # A LocalStack outlives runs: the second setup finds everything there and is content.
    assert create_setup(scenario, clients).count == 3


def test_plan_names_ecr(free_edition: LocalStack) -> None:
    done = _gameday(free_edition, "plan", str(SCENARIOS / "registry-loss.yaml"), "-e", "localstack")
    assert done.returncode == 2, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines()]
    ecr = next(line for line in lines if line.startswith("FAIL  localstack: ecr "))
    assert f"at {free_edition.url}; needed by fault ecr-down (registry-loss), setup[3] " in ecr
    assert ecr.endswith("repository demo/app")
    assert "none answered" not in done.stdout  # judged by the live LocalStack, not assumed


def test_run_refuses_a_drill_that_needs_ecr(free_edition: LocalStack, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = _gameday(
        free_edition,
        "run",
        str(SCENARIOS / "registry-loss.yaml"),
        "--env",
        "localstack",
        "--report-dir",
        str(reports),
        "--store",
        str(tmp_path / "history.db"),
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith("error: registry-loss: LocalStack ")
    assert (
        f"at {free_edition.url} does not serve what this drill needs: ecr (fault ecr-down "
        "(registry-loss), setup[3] repository demo/app); ecr-public (fault ecr-down "
        "(registry-loss))\n" in done.stderr
    )
    assert "hint: LocalStack's free edition has no ECR, CloudTrail or FIS" in done.stderr
    assert not reports.exists()  # refused before any drill started


def test_a_refused_drill_starts_nothing(
    free_edition: LocalStack, localstack_env: LocalStack, tmp_path: Path
) -> None:
    # In a suite, a drill LocalStack cannot serve is refused as its environment comes up.
    plan = make_plan(load_scenario(SCENARIOS / "registry-loss.yaml"), Environment.LOCALSTACK)
    notes: list[tuple[str, str]] = []
    failures: list[str] = []
    request = StageRequest(
        plan=plan,
        run_id="refused",
        workdir=tmp_path,
        seed=1,
        alert_url=None,
        now=time.monotonic,
        note=lambda kind, detail: notes.append((kind, detail)),
        fail=failures.append,
    )

    async def bring_up() -> None:
        with ExitStack() as stack:
            await LocalStackEnvironment().bring_up(request, stack)

    with pytest.raises(EnvironmentFailure, match=r"does not serve what this drill needs: ecr"):
        asyncio.run(bring_up())
    # Only LocalStack's health was read: no gateway, no setup, no app.
    assert [kind for kind, _ in notes] == ["environment"]
    assert notes[0][1].startswith(f"LocalStack {free_edition.served.version} at ")
    assert not (tmp_path / "app.log").exists()


def test_identity_and_logging_drills_run_end_to_end(localstack: LocalStack, tmp_path: Path) -> None:
    paths = [_short_copy(name, tmp_path) for name in ("identity-loss", "logging-loss")]
    reports = tmp_path / "reports"
    done = _gameday(
        localstack,
        "run",
        *map(str, paths),
        "--env",
        "localstack",
        "--seed",
        "7",
        "--report-dir",
        str(reports),
        "--store",
        str(tmp_path / "history.db"),
        timeout_s=150,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = _results(reports)
    assert set(results) == {"identity-loss", "logging-loss"}
    for name, result in results.items():
        assert result["environment"] == "localstack"
        assert result["status"] == "passed", f"{name}: {result['reason']}"
        assert result["grade"] == "A"
        for objective in result["objectives"]:
            assert objective["met"], f"{name}: {objective}"
            if objective["kind"] != "steady":
                assert objective["measured"] is not None, f"{name}: {objective}"
    # The faults reached LocalStack's traffic through the gateway, and the rest went through.
    identity, logging = results["identity-loss"], results["logging-loss"]
    assert _calls(identity, "sts", "AssumeRole", "error") > 0
    assert _calls(identity, "sts", "AssumeRole", "forwarded") > 0
    assert _calls(identity, "dynamodb", "PutItem", "forwarded") > 0
    assert _calls(logging, "logs", "PutLogEvents", "error") > 0
    assert _calls(logging, "logs", "PutLogEvents", "forwarded") > 0
