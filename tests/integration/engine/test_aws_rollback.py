"""`run --env aws` when FIS's own API fails mid-drill: the installed command, a real gateway in
front of the real moto server (FIS, STS) that denies GetExperiment and throttles
StopExperiment, every AWS client of the runner pointed at the gateway. The rollback still
reaches StopExperiment and DeleteExperimentTemplate, a result and a finalised history row
exist, and the exit code says what happened. No real account is reached."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultEffect, FaultMatch, FaultSpec
from gameday.gateway.thread import Gateway
from tests.integration.engine.test_aws_run import ENV_FILE, SCENARIO, app_url  # noqa: F401


@pytest.fixture
def gateway(moto_url: str) -> Iterator[Gateway]:
    with Gateway(moto_url, seed=13) as running:
        yield running


def _fault(name: str, operation: str, mode: Mode, hits: int) -> FaultSpec:
    return FaultSpec(
        id=name,
        match=FaultMatch(services=("fis",), operations=(operation,), max_hits=hits),
        effect=FaultEffect(mode=mode),
        ttl_seconds=300,
    )


def test_a_denied_get_experiment_mid_drill_still_stops_and_deletes(
    tmp_path: Path,
    moto_url: str,
    gateway: Gateway,
    app_url: str,  # noqa: F811
) -> None:
    scenario, env = tmp_path / "drill.yaml", tmp_path / "aws.yaml"
    scenario.write_text(SCENARIO)
    env.write_text(ENV_FILE.replace("{app_url}", app_url))
    admin = GatewayClient(gateway.url)
    # The follower's first read of the experiment is denied (a permission removed mid-drill),
    # and so are the next two; StopExperiment is throttled twice before it goes through.
    admin.add(_fault("get-denied", "GetExperiment", Mode.DENIED, 3))
    admin.add(_fault("stop-throttled", "StopExperiment", Mode.THROTTLE, 2))
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "gameday"),
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
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={
            **os.environ,
            "AWS_ENDPOINT_URL": gateway.url,
            "AWS_MAX_ATTEMPTS": "1",  # only gameday's own retries count
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3, done.stdout + done.stderr  # could not run as planned

    (path,) = (tmp_path / "out").glob("*/result.json")
    result = json.loads(path.read_text())
    assert result["status"] == "error"
    assert "could not follow the FIS experiment" in result["reason"]
    assert "AccessDenied" in result["reason"]
    assert result["rollback"] == {"complete": True, "problems": []}
    experiment_id = result["fis"]["experiment_id"]
    assert result["fis_experiments"] == [experiment_id]
    assert result["fis"]["state"] == "stopped"
    assert result["fis"]["template_deleted"] is True

    with sqlite3.connect(tmp_path / "h.db") as db:
        rows = db.execute("SELECT run_id, status FROM runs").fetchall()
    assert rows == [(result["run_id"], "error")]  # finalised, not left 'running'

    calls = [
        (r.operation, r.status)
        for r in admin.requests().requests
        if r.service == "fis" and r.operation in ("StopExperiment", "DeleteExperimentTemplate")
    ]
    assert calls == [
        ("StopExperiment", 400),
        ("StopExperiment", 400),
        ("StopExperiment", 200),
        ("DeleteExperimentTemplate", 200),
    ]
    fis = boto3.client("fis", region_name="us-east-1", endpoint_url=moto_url)
    state = fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"]
    assert state == "stopped"
    templates = fis.list_experiment_templates()["experimentTemplates"]
    assert result["fis"]["template_id"] not in [t["id"] for t in templates]
