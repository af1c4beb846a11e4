"""A drill's audit counts the app's calls only (embedded: a real moto server, the real gateway,
a loopback app, real probes): an ``aws`` probe and ``command`` probes call AWS through the
same gateway, signed with the probes' own key, and their calls land in ``calls.probe_counts``,
not in what the app did. A command probe that deletes a table is refused by
``deny_destructive`` like anyone, and does not count against the app's ``destructive_calls``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.kinds import CallClass, ObjectiveKind
from gameday.reports.iam import least_privilege
from gameday.reports.markdown import render_markdown
from gameday.reports.terminal import render_result
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "iam_app.py"
APP_OPERATIONS = {
    ("dynamodb", "PutItem"),
    ("dynamodb", "GetItem"),
    ("logs", "PutLogEvents"),
    ("sts", "GetCallerIdentity"),
}
"""What iam_app.py calls, and nothing else does for it."""

LIST_TABLES = "import boto3; boto3.client('dynamodb').list_tables()"
DELETE_TABLE = "import boto3; boto3.client('dynamodb').delete_table(TableName='scratch')"


@pytest.fixture(scope="module")
def drilled(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    folder = tmp_path_factory.mktemp("probe-calls")
    scenario = folder / "drill.yaml"
    scenario.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: probe-calls}\n"
        "target:\n"
        "  deny_destructive: true\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        "    env: {TABLE: orders, LOG_GROUP: /app/orders}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        "  setup:\n"
        "    - {kind: table, name: orders}\n"
        "    - {kind: table, name: scratch}\n"
        "    - {kind: log-group, name: /app/orders}\n"
        "    - {kind: call, service: logs, call: create_log_stream,\n"
        "       params: {logGroupName: /app/orders, logStreamName: app}}\n"
        "faults: [{kind: api-fault, services: [sts], mode: throttle, start_after: 300ms,\n"
        "          duration: 500ms}]\n"
        "probes:\n"
        "  - {name: work, kind: http, url: '{app}/work', interval: 100ms}\n"
        "  - {name: groups, kind: aws, service: logs, call: describe_log_groups,\n"
        "     interval: 200ms}\n"
        f"  - {{name: tables, kind: command, command: ['{sys.executable}', '-c',\n"
        f'     "{LIST_TABLES}"], interval: 500ms, timeout: 10s}}\n'
        f"  - {{name: cleaner, kind: command, command: ['{sys.executable}', '-c',\n"
        f'     "{DELETE_TABLE}"], interval: 500ms, timeout: 10s, expect: {{exit_code: 1}}}}\n'
        "objectives:\n"
        "  - {kind: availability, probe: work, target: 0.5}\n"
        "  - {kind: destructive_calls, target: 0}\n"
        "observe: {max: 2500ms, recovery_window: 200ms}\n"
    )
    return run_drill(make_plan(load_scenario(scenario)), RunOptions(seed=1), time.monotonic)


def test_the_calls_are_the_apps_and_the_probes_are_counted_apart(drilled: RunResult) -> None:
    calls = drilled.calls
    assert calls.counted and calls.read_error is None, drilled.reason
    app = {(c.service, c.operation) for c in calls.counts}
    assert app == APP_OPERATIONS
    probes = {(c.service, c.operation) for c in calls.probe_counts}
    assert probes == {
        ("logs", "DescribeLogGroups"),
        ("dynamodb", "ListTables"),
        ("dynamodb", "DeleteTable"),
    }
    # The gateway saw them all: the probes' calls are set apart, not lost.
    seen = {(s, o) for s, o, _, _ in drilled.gateway.calls}
    assert probes | app <= seen
    # The least-privilege policy is the app's alone.
    (statement,) = least_privilege([drilled])["policy"]["Statement"]
    assert statement["Action"] == sorted(f"{s}:{o}" for s, o in APP_OPERATIONS)
    # Every report says how many calls the probes made, beside the app's.
    total = sum(c.count for c in calls.probe_counts)
    line = f"gameday's own probes made {total} call(s)"
    assert line in render_result(drilled)
    assert line in render_markdown([drilled])


def test_a_probes_destructive_call_is_denied_and_not_the_apps(drilled: RunResult) -> None:
    calls = drilled.calls
    deletes = [c for c in calls.probe_counts if c.operation == "DeleteTable"]
    assert deletes and all(
        (c.outcome, c.call_class) == ("denied", CallClass.DESTRUCTIVE) for c in deletes
    )
    assert calls.destructive == [] and calls.by_class()[CallClass.DESTRUCTIVE] == 0
    (objective,) = [o for o in drilled.objectives if o.kind is ObjectiveKind.DESTRUCTIVE_CALLS]
    assert objective.measured == 0 and objective.met, objective.detail
    # The probe itself saw the refusal: its command failed as it expected to.
    cleaner = next(p for p in drilled.probes if p.name == "cleaner")
    assert cleaner.samples and cleaner.failures == []
