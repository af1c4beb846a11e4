"""Issue 17: an app whose automation deletes its table when DynamoDB keeps failing, run by the
installed `gameday` command with the real gateway and moto.

With ``abort_when: [{destructive_calls: 1}]`` the drill stops at the DeleteTable and rolls
back (exit 4); with ``target.deny_destructive`` the call is refused and the table is still
there (a describe_table probe holds after the drill); the call is named in every format.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
APP = FIXTURES / "apps" / "destroyer_app.py"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _scenario(tmp_path: Path, *, target: str = "", extra: str = "") -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: naive-self-heal}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], "
        "health_url: 'http://127.0.0.1:{port}/ready', ready_timeout: 20s}\n"
        "  setup: [{kind: table, name: orders}]\n"
        + target
        + "faults: [{kind: api-fault, services: [dynamodb], operations: [GetItem], "
        "start_after: 500ms, duration: 1500ms}]\n"
        "probes:\n"
        "  - {name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}\n"
        "  - {name: table, kind: aws, service: dynamodb, call: describe_table, "
        "params: {TableName: orders}, interval: 200ms}\n"
        "objectives:\n"
        "  - {kind: destructive_calls, target: 0}\n"
        "  - {kind: steady, probe: table}\n"
        "observe: {max: 4s, recovery_window: 500ms}\n" + extra
    )
    return path


def _run(tmp_path: Path, scenario: Path) -> subprocess.CompletedProcess[str]:
    formats = ["--format", "md", "--format", "html", "--format", "junit", "--format", "prom"]
    return subprocess.run(
        [_script(), "run", str(scenario), "--report-dir", str(tmp_path / "out"), *formats],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _result(tmp_path: Path) -> dict[str, Any]:
    (path,) = (tmp_path / "out").glob("*/result.json")
    return dict(json.loads(path.read_text()))


def _named_everywhere(tmp_path: Path, done: subprocess.CompletedProcess[str], outcome: str) -> None:
    out = tmp_path / "out"
    line = f"dynamodb DeleteTable orders ({outcome})"
    assert line in done.stdout
    assert "What the app did" in (out / "report.md").read_text()
    assert "| dynamodb DeleteTable | orders | " + outcome in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert "What the app did" in html and "<td>dynamodb DeleteTable</td><td>orders</td>" in html
    junit = ElementTree.parse(out / "junit.xml").getroot()
    (case,) = [c for c in junit.iter("testcase") if c.get("name") == "destructive_calls"]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None and line in failure.text
    prom = (out / "metrics.prom").read_text()
    assert 'gameday_app_calls{class="destructive",scenario="naive-self-heal"} 1.0' in prom
    assert (
        f'gameday_app_destructive_calls{{outcome="{outcome}",scenario="naive-self-heal"}} 1.0'
        in (prom)
    )


def test_the_guardrail_stops_the_drill_at_the_first_destructive_call(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, extra="guardrails: {abort_when: [{destructive_calls: 1}]}\n")
    done = _run(tmp_path, scenario)
    assert done.returncode == 4, done.stdout + done.stderr
    result = _result(tmp_path)
    assert result["status"] == "aborted" and result["grade"] == "F"
    assert result["reason"].startswith("guardrail: the app made 1 destructive call(s) (abort at 1)")
    assert "dynamodb DeleteTable orders at t=" in result["reason"]
    (call,) = result["calls"]["destructive"]
    assert (call["service"], call["operation"], call["resource"], call["outcome"]) == (
        "dynamodb",
        "DeleteTable",
        "orders",
        "forwarded",
    )
    (fault,) = result["faults"]
    assert fault["injected_at"] <= call["at"]
    assert result["rollback"]["complete"] and fault["removed_at"] is not None
    aborted = [e for e in result["events"] if e["kind"] == "abort"]
    assert len(aborted) == 1 and aborted[0]["at"] >= call["at"]
    (objective,) = [o for o in result["objectives"] if o["kind"] == "destructive_calls"]
    assert objective["measured"] == 1 and not objective["met"]
    _named_everywhere(tmp_path, done, "forwarded")


def test_deny_destructive_refuses_the_call_and_the_table_survives(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, target="  deny_destructive: true\n")
    done = _run(tmp_path, scenario)
    assert done.returncode == 1, done.stdout + done.stderr  # the objective is missed
    result = _result(tmp_path)
    assert result["status"] == "failed"
    calls = result["calls"]
    assert calls["counted"] and calls["deny_destructive"]
    (call,) = calls["destructive"]
    assert (call["operation"], call["resource"], call["outcome"]) == (
        "DeleteTable",
        "orders",
        "denied",
    )
    by_objective = {o["kind"]: o for o in result["objectives"]}
    assert by_objective["destructive_calls"]["measured"] == 1
    assert "1 refused (deny_destructive)" in by_objective["destructive_calls"]["detail"]
    # The table is still in the emulator: describe_table held before and after the drill.
    assert by_objective["steady"]["met"]
    table_failures = next(p for p in result["probes"] if p["name"] == "table")["failures"]
    assert table_failures == []
    counts = {(c["service"], c["operation"], c["outcome"]): c for c in calls["counts"]}
    assert counts[("dynamodb", "DeleteTable", "denied")]["call_class"] == "destructive"
    # DescribeTable is the `table` probe's, counted apart from the app's calls.
    assert ("dynamodb", "DescribeTable", "forwarded") not in counts
    probes = {(c["service"], c["operation"], c["outcome"]): c for c in calls["probe_counts"]}
    assert probes[("dynamodb", "DescribeTable", "forwarded")]["call_class"] == "read"
    _named_everywhere(tmp_path, done, "denied")
