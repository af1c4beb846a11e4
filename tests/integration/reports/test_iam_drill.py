"""The least-privilege report of a real drill: a real moto server, the real gateway, and a
loopback app (tests/fixtures/apps/iam_app.py) that calls dynamodb PutItem and GetItem, logs
PutLogEvents and sts GetCallerIdentity, while a fault throttles STS; then the real CLI
(`gameday report RESULT --format iam`) in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.reports.iam import least_privilege
from gameday.result import RunResult, write_result
from gameday.scenario.loader import load_scenario
from tests.unit.reports.iam_policy import policy_problems

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "iam_app.py"
GAMEDAY = Path(sys.executable).with_name("gameday")
APP_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "logs:PutLogEvents",
    "sts:GetCallerIdentity",
]
"""What iam_app.py calls: the operations of its code, as their IAM actions."""

ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Orders", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
        {"Effect": "Allow", "Action": ["logs:PutLogEvents", "s3:GetObject"], "Resource": "*"},
        {"Effect": "Deny", "Action": "dynamodb:Delete*", "Resource": "*"},
    ],
}


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    folder = tmp_path_factory.mktemp("iam")
    (folder / "role.json").write_text(json.dumps(ROLE_POLICY, indent=2))
    scenario = folder / "drill.yaml"
    scenario.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: least-privilege}\n"
        "target:\n"
        "  role_policy: role.json\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        "    env: {TABLE: orders, LOG_GROUP: /app/orders}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        "  setup:\n"
        "    - {kind: table, name: orders}\n"
        "    - {kind: log-group, name: /app/orders}\n"
        "    - {kind: call, service: logs, call: create_log_stream,\n"
        "       params: {logGroupName: /app/orders, logStreamName: app}}\n"
        "faults: [{kind: api-fault, services: [sts], mode: throttle, start_after: 300ms,\n"
        "          duration: 500ms}]\n"
        "probes: [{name: work, kind: http, url: '{app}/work', interval: 100ms}]\n"
        "objectives: [{kind: availability, probe: work, target: 0.5}]\n"
        "observe: {max: 2s, recovery_window: 200ms}\n"
    )
    result = run_drill(make_plan(load_scenario(scenario)), RunOptions(seed=1), time.monotonic)
    path = folder / "result.json"
    write_result(result, path)
    return result, path


def test_the_policy_lists_exactly_the_actions_the_app_called(
    drilled: tuple[RunResult, Path],
) -> None:
    result, _ = drilled
    assert result.gateway.read_error is None
    outcomes = {(s, o): out for s, o, out, _ in result.gateway.calls}
    # The throttled calls were attempted all the same: they count.
    assert ("sts", "GetCallerIdentity") in outcomes
    assert any(s == "sts" and out == "error" for s, _, out, _ in result.gateway.calls), (
        result.gateway.calls
    )
    report = least_privilege([result])
    assert policy_problems(report["policy"]) == []
    (statement,) = report["policy"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    assert statement["Action"] == APP_ACTIONS
    calls = {a["action"]: a["calls"] for a in report["actions"]}
    for action in APP_ACTIONS:
        service, operation = action.split(":")
        assert calls[action] == sum(
            n for s, o, _, n in result.gateway.calls if (s, o) == (service, operation)
        )
    assert report["no_action"] == [] and report["unseen"] == []


def test_the_role_policy_is_compared_with_what_was_used(drilled: tuple[RunResult, Path]) -> None:
    result, _ = drilled
    (compared,) = least_privilege([result])["role_policies"]
    assert compared["runs"] == [result.run_id]
    assert compared["used_not_granted"] == [
        {"action": "sts:GetCallerIdentity", "why": "no Allow statement names it"}
    ]
    unused = {entry["granted"]: entry for entry in compared["granted_unused"]}
    assert set(unused) == {"dynamodb:*", "s3:GetObject"}
    dynamodb = unused["dynamodb:*"]
    assert dynamodb["used"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert "dynamodb:Scan" in dynamodb["unused"] and "dynamodb:GetItem" not in dynamodb["unused"]
    # Denied everywhere by the third statement: not granted, so not "granted but unused".
    assert not any(a.startswith("dynamodb:Delete") for a in dynamodb["unused"])
    assert unused["s3:GetObject"]["unused"] == ["s3:GetObject"]


def test_gameday_report_format_iam_prints_the_report(drilled: tuple[RunResult, Path]) -> None:
    result, path = drilled
    done = subprocess.run(
        [str(GAMEDAY), "report", str(path), "--format", "iam"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GAMEDAY_STORE": str(path.parent / "history.db")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed == least_privilege([result])
    assert printed["policy"]["Statement"][0]["Action"] == APP_ACTIONS
