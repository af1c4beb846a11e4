"""Issue 15: the app's life is part of the record, and the tool's failures are not the app's.

Each test runs the installed `gameday` command with the real gateway and a real moto server:
an app that exits before any fault (an error, not an F), one that exits during the fault (a
finding, graded), and an emulator killed in the middle of the drill (an error naming the
upstream failures, not a guardrail F). The app's output is kept as app.log beside the result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
APP = FIXTURES / "apps" / "exit_app.py"
MOTO_EDGE = FIXTURES / "moto_edge.py"
TOKEN = "s3cr3t-app-token-4242"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _scenario(tmp_path: Path, *, env: str, fault: str, extra: str = "") -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: app-life}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], "
        f"env: {{API_TOKEN: '{TOKEN}', {env}}}, "
        "health_url: 'http://127.0.0.1:{port}/ready', ready_timeout: 20s}\n"
        f"faults: [{{kind: identity-loss, {fault}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 4s, recovery_window: 500ms}\n" + extra
    )
    return path


def _run(
    tmp_path: Path, scenario: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), "run", str(scenario), "--report-dir", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def _result(tmp_path: Path) -> tuple[dict[str, Any], Path]:
    (path,) = (tmp_path / "out").glob("*/result.json")
    return json.loads(path.read_text()), path.parent


def _events(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in result["events"] if e["kind"] == kind]


def _app_log(result: dict[str, Any], folder: Path) -> str:
    assert result["app_log"] == "app.log"
    text = (folder / "app.log").read_text()
    assert TOKEN not in text and "api_token=[redacted]" in text
    return text


def test_an_app_that_exits_before_any_fault_is_an_error_with_its_log(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        env="EXIT_AFTER_READY_S: '0.5', EXIT_CODE: '7'",
        fault="start_after: 2s, duration: 1s",
        extra="guardrails: {abort_when: [{probe: api, consecutive_failures: 5}]}\n",
    )
    done = _run(tmp_path, scenario, "--format", "md", "--format", "html")
    assert done.returncode == 3, done.stdout + done.stderr
    result, folder = _result(tmp_path)
    assert result["status"] == "error"
    assert result["reason"] == "the app exited with code 7 before any fault (see app.log)"
    assert result["score"] is None and result["grade"] is None
    (fault,) = result["faults"]
    assert fault["injected_at"] is None
    (exit_event,) = _events(result, "app-exit")
    assert exit_event["detail"] == "the app exited with code 7 before any fault"
    assert result["app_exit"]["code"] == 7
    assert "exiting with code 7" in _app_log(result, folder)
    assert f"app log: {folder / 'app.log'}" in done.stdout
    run_id = folder.name
    assert f"]({run_id}/app.log)" in (tmp_path / "out" / "report.md").read_text()
    assert f'href="{run_id}/app.log"' in (tmp_path / "out" / "report.html").read_text()


def test_an_app_that_exits_during_the_fault_is_graded_and_says_so(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        env="EXIT_ON_STS_FAILURE: '1', EXIT_CODE: '9'",
        fault="start_after: 500ms, duration: 1s",
    )
    done = _run(tmp_path, scenario)
    assert done.returncode == 1, done.stdout + done.stderr
    result, folder = _result(tmp_path)
    assert result["status"] == "failed" and result["grade"] == "F"
    (fault,) = result["faults"]
    app_exit = result["app_exit"]
    assert app_exit["code"] == 9
    assert fault["injected_at"] <= app_exit["at"] <= fault["removed_at"]
    assert app_exit["fault"] == fault["id"]
    reason = str(result["reason"])
    assert reason.startswith(f"the app exited with code 9 at t={app_exit['at']:.1f} s ")
    assert reason.endswith(f"during fault {fault['id']} (see app.log)")
    (exit_event,) = _events(result, "app-exit")
    assert abs(exit_event["at"] - app_exit["at"]) < 0.01
    assert "STS failed" in _app_log(result, folder)
    assert f"app log: {folder / 'app.log'}" in done.stdout


@pytest.fixture
def moto_process() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A real moto server in its own process, for a test to kill."""
    process = subprocess.Popen([sys.executable, str(MOTO_EDGE)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield process, url
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_a_killed_emulator_is_an_error_naming_the_upstream_failures(
    tmp_path: Path, moto_process: tuple[subprocess.Popen[str], str]
) -> None:
    moto, url = moto_process
    out = tmp_path / "out"
    scenario = _scenario(
        tmp_path,
        env="EXIT_CODE: '7'",
        fault="start_after: 500ms, duration: 1s",
        extra="guardrails: {abort_when: [{probe: api, consecutive_failures: 20}]}\n",
    )
    process = subprocess.Popen(
        [_script(), "run", str(scenario), "--env", "localstack", "--report-dir", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "LOCALSTACK_HOST": url.removeprefix("http://")},
    )
    try:
        assert process.stderr is not None
        seen, deadline = "", time.monotonic() + 60
        while "inject" not in seen and time.monotonic() < deadline and process.poll() is None:
            seen += process.stderr.readline()
        assert "inject" in seen, seen
        moto.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # a failed test leaves no runner behind
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=60)
    assert process.returncode == 3, stdout + seen + stderr
    result, _ = _result(tmp_path)
    assert result["status"] == "error" and result["grade"] is None
    gateway = result["gateway"]
    failed = sum(c[3] for c in gateway["calls"] if c[2] == "upstream-error")
    assert failed > 0
    first = gateway["first_upstream_error_at"]
    assert isinstance(first, float)
    (fault,) = result["faults"]
    assert first >= fault["injected_at"]
    assert result["reason"] == (
        f"the emulator stopped answering: {failed} call(s) through the gateway failed "
        f"upstream (first at t={first:.1f} s)"
    )
