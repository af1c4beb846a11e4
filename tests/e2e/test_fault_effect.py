"""A drill must test something (issue 15, "Fault effect"), through the installed command, the
real gateway and moto: a fault that matched none of the app's calls makes the run
``inconclusive`` (exit 3, no score), unless it says ``expect_calls: false``; every result and
report says how many calls each fault matched.

The app is ``truth_app.py`` riding through: its /health calls STS and nothing else, so an ECR
fault meets none of its calls and an identity fault meets every one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "truth_app.py"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _drill(tmp_path: Path, fault: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: fault-effect}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], env: {{MODE: ride-through}}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 15s}\n"
        f"faults: [{fault}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 20s, recovery_window: 500ms}\n"
    )
    return path


def _run(tmp_path: Path, fault: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    out = tmp_path / "out"
    done = subprocess.run(
        [_script(), "run", str(_drill(tmp_path, fault)), "--report-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    (path,) = out.glob("*/result.json")
    result: dict[str, object] = json.loads(path.read_text())
    return done, result


def _faults(result: dict[str, object]) -> list[dict[str, object]]:
    faults = result["faults"]
    assert isinstance(faults, list)
    return faults


ECR_DOWN = "{name: ecr-down, kind: registry-loss, start_after: 500ms, duration: 1s"


def test_a_fault_that_matched_no_call_makes_the_run_inconclusive_with_exit_3(
    tmp_path: Path,
) -> None:
    done, result = _run(tmp_path, ECR_DOWN + "}")

    assert done.returncode == 3, done.stdout + done.stderr
    assert (result["status"], result["score"], result["grade"]) == ("inconclusive", None, None)
    reason = str(result["reason"])
    assert reason.startswith("fault 'ecr-down' (it waited for calls to ecr, ")
    assert "(any operation) in us-east-1) matched no call while in force" in reason
    assert "expect_calls: false" in reason
    assert [f["matched_calls"] for f in _faults(result)] == [0]
    # The app was healthy throughout: the objective is kept as evidence, not as a grade.
    objectives = result["objectives"]
    assert isinstance(objectives, list) and objectives[0]["met"] is True
    assert "fault-effect: inconclusive" in done.stdout
    assert f"  reason: {reason}" in done.stdout
    assert "  fault ecr-down: 0 call(s) matched while in force" in done.stdout
    assert "score 100" not in done.stdout


def test_expect_calls_false_grades_a_fault_that_matched_nothing_as_before(
    tmp_path: Path,
) -> None:
    done, result = _run(tmp_path, ECR_DOWN + ", expect_calls: false}")

    assert done.returncode == 0, done.stdout + done.stderr
    assert result["status"] == "passed"
    assert result["score"] == 100.0 and result["grade"] == "A"
    (fault,) = _faults(result)
    assert (fault["matched_calls"], fault["expect_calls"]) == (0, False)
    assert "none expected (expect_calls: false)" in done.stdout


def test_matched_calls_are_the_calls_the_gateway_failed_and_every_report_shows_them(
    tmp_path: Path,
) -> None:
    done, result = _run(
        tmp_path, "{name: sts-down, kind: identity-loss, start_after: 500ms, duration: 1s}"
    )

    assert done.returncode == 0, done.stdout + done.stderr
    (fault,) = _faults(result)
    matched = fault["matched_calls"]
    # What the gateway's own request log saw: every STS call it answered with an error.
    gateway = result["gateway"]
    assert isinstance(gateway, dict)
    failed = sum(
        n for service, _, outcome, n in gateway["calls"] if (service, outcome) == ("sts", "error")
    )
    assert isinstance(matched, int) and matched == failed > 0
    assert f"  fault sts-down: {matched} call(s) matched while in force" in done.stdout

    rule = fault["id"]
    reports = {
        fmt: subprocess.run(
            [_script(), "report", str(tmp_path / "out"), "--format", fmt],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for fmt in ("md", "html", "junit", "json", "prom")
    }
    assert re.search(rf"\| sts-down \|.*\| {matched} \|", reports["md"])
    assert f'<td class="num">{matched}</td>' in reports["html"]
    assert f'<property name="matched_calls.{rule}" value="{matched}"' in reports["junit"]
    assert f'"matched_calls": {matched}' in reports["json"]
    assert (
        f'gameday_fault_matched_calls{{fault="sts-down",rule="{rule}",scenario="fault-effect"}} '
        f"{float(matched)}"
    ) in reports["prom"]
