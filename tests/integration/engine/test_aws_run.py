"""`run --env aws` end to end against a real moto server (FIS, STS) over HTTP: the safety
checks, the experiment's lifecycle, and what the result records. No real account is reached:
AWS_ENDPOINT_URL points every client at moto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.fis.aws_config import load_aws_environment
from gameday.kinds import RunStatus
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment

ENV_FILE = """apiVersion: gameday/v1
kind: AwsEnvironment
accounts: ["123456789012"]
region: us-east-1
role_arn: arn:aws:iam::123456789012:role/gameday-fis
stop_conditions: [arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx]
compute: {ec2: {tags: {app: orders}}}
app_url: {app_url}
"""

SCENARIO = """apiVersion: gameday/v1
metadata: {name: aws-drill}
faults: [{kind: identity-loss, start_after: 1s, duration: 1m}]
probes: [{name: api, kind: http, url: '{app}/health', interval: 200ms}]
objectives: [{kind: rto, probe: api, target: 5s}, {kind: steady, probe: api}]
guardrails: {max_duration: 10m}
observe: {max: 3m, recovery_window: 500ms}
"""


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app_url() -> Iterator[str]:
    """The app in the "account": a real HTTP server on loopback."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def files(tmp_path: Path, app_url: str) -> tuple[Path, Path]:
    scenario, env = tmp_path / "drill.yaml", tmp_path / "aws.yaml"
    scenario.write_text(SCENARIO)
    env.write_text(ENV_FILE.replace("{app_url}", app_url))
    return scenario, env


@pytest.fixture
def at_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url


def _fis(moto_url: str) -> object:
    return boto3.client("fis", region_name="us-east-1", endpoint_url=moto_url)


def _templates(moto_url: str) -> list[dict[str, object]]:
    fis = boto3.client("fis", region_name="us-east-1", endpoint_url=moto_url)
    return list(fis.list_experiment_templates()["experimentTemplates"])


def test_a_drill_runs_as_an_fis_experiment(at_moto: str, files: tuple[Path, Path]) -> None:
    scenario, env = files
    before = len(_templates(at_moto))
    plan = make_plan(load_scenario(scenario), Environment.AWS)
    options = RunOptions(approve=True, aws_environment=load_aws_environment(env))
    result = run_drill(plan, options, time.monotonic)
    assert result.status is RunStatus.PASSED, result.reason
    assert result.fis is not None
    assert result.fis["state"] == "completed"
    assert result.fis["template_deleted"] is True
    assert result.fis_experiments == [result.fis["experiment_id"]]
    assert len(_templates(at_moto)) == before  # the template it made is gone
    kinds = [e.kind for e in result.events]
    assert "approval" in kinds and "inject" in kinds
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None


def test_without_approval_nothing_is_created(at_moto: str, files: tuple[Path, Path]) -> None:
    scenario, env = files
    before = len(_templates(at_moto))
    plan = make_plan(load_scenario(scenario), Environment.AWS)
    options = RunOptions(aws_environment=load_aws_environment(env))
    result = run_drill(plan, options, time.monotonic)
    assert result.status is RunStatus.ERROR
    assert "approve" in (result.reason or "")
    assert result.fis is None
    assert len(_templates(at_moto)) == before


def test_sigint_stops_the_experiment(
    at_moto: str, files: tuple[Path, Path], tmp_path: Path
) -> None:
    scenario, env = files
    script = Path(sys.executable).parent / "gameday"
    process = subprocess.Popen(
        [
            str(script),
            "run",
            str(scenario),
            "--env",
            "aws",
            "--aws-config",
            str(env),
            "--approve",
            "--report-dir",
            str(tmp_path / "out"),
            "--store",
            str(tmp_path / "h.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AWS_ENDPOINT_URL": at_moto},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "inject" in line or not line:
            break
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 4, stdout + stderr
    import json

    (path,) = (tmp_path / "out").glob("*/result.json")
    result = json.loads(path.read_text())
    assert result["status"] == "aborted"
    assert result["fis"]["state"] in ("stopped", "completed")
    assert result["fis"]["template_deleted"] is True


def test_abort_stops_running_experiments_tagged_by_gameday(
    at_moto: str, files: tuple[Path, Path]
) -> None:
    from gameday.fis.plan import plan_aws

    scenario, env = files
    plan = plan_aws(load_scenario(scenario), load_aws_environment(env), run_id="abort-test")
    fis = boto3.client("fis", region_name="us-east-1", endpoint_url=at_moto)
    template = fis.create_experiment_template(**plan.fis.template.to_request())
    started = fis.start_experiment(
        clientToken="abort-test",
        experimentTemplateId=template["experimentTemplate"]["id"],
        tags={"managed-by": "gameday"},
    )
    experiment_id = started["experiment"]["id"]
    script = Path(sys.executable).parent / "gameday"
    done = subprocess.run(
        [str(script), "abort", "--env", "aws", "--region", "us-east-1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AWS_ENDPOINT_URL": at_moto},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert experiment_id in done.stdout
    state = fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"]
    assert state in ("stopping", "stopped")
    fis.delete_experiment_template(id=template["experimentTemplate"]["id"])
