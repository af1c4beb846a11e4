"""`gameday run` as the installed command: exit codes, signals, and nothing left behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "truth_app.py"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _scenario(tmp_path: Path, *, env: str, duration: str, extra: str = "") -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: e2e}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], env: {{{env}}}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 15s}\n"
        f"faults: [{{kind: identity-loss, start_after: 500ms, duration: {duration}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 60s, recovery_window: 1s}\n" + extra
    )
    return path


def _start(tmp_path: Path, scenario: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        [_script(), "run", str(scenario), "--report-dir", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(process: subprocess.Popen[str], text: str, timeout_s: float = 30) -> str:
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if text in line:
            return seen
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{text!r} not seen; stderr so far:\n{seen}")


def _result(tmp_path: Path) -> dict[str, object]:
    (path,) = (tmp_path / "out").glob("*/result.json")
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_missed_objective_exits_1(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, env="MODE: recover-after, RECOVER_S: '1.5'", duration="1s")
    done = subprocess.run(
        [
            _script(),
            "run",
            str(scenario),
            "--report-dir",
            str(tmp_path / "out"),
            "--format",
            "html",
            "--format",
            "md",
            "--junit",
            str(tmp_path / "junit.xml"),
            "--store",
            str(tmp_path / "history.db"),
            "--metrics-textfile",
            str(tmp_path / "gameday.prom"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "e2e: failed" in done.stdout
    assert (tmp_path / "out" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "# " in (tmp_path / "out" / "report.md").read_text()
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()
    assert "gameday_scenario_score" in (tmp_path / "gameday.prom").read_text()
    listed = subprocess.run(
        [_script(), "history", "--store", str(tmp_path / "history.db"), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (row,) = json.loads(listed.stdout)
    assert row["scenario"] == "e2e" and row["status"] == "failed"
    assert "rto-api *" not in done.stdout  # not critical
    # One drill: its score and the report close the output; no suite lines, no scoring rules.
    assert "suite score" not in done.stdout and "scoring" not in done.stdout
    assert done.stdout.splitlines()[-2] == f"report: {tmp_path / 'out' / 'report.html'}"
    result = _result(tmp_path)
    assert result["status"] == "failed"
    assert result["schema_version"] == 1


def test_sigint_rolls_back_and_exits_4(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, env="MODE: ride-through", duration="30s")
    process = _start(tmp_path, scenario)
    _wait_for(process, "inject")
    process.send_signal(signal.SIGINT)
    _wait_for(process, "abort")
    process.send_signal(signal.SIGINT)  # a second Ctrl-C must not skip the rollback
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 4, stdout + stderr
    assert "Traceback" not in stderr
    result = _result(tmp_path)
    assert result["status"] == "aborted"
    assert result["reason"] == "signal SIGINT"
    (fault,) = result["faults"]  # type: ignore[misc]
    assert fault["removed_at"] is not None
    kinds = [e["kind"] for e in result["events"]]  # type: ignore[attr-defined]
    assert kinds.index("abort") < kinds.index("remove")
    assert "rollback-failed" not in kinds


def test_a_guardrail_aborts_with_exit_4(tmp_path: Path) -> None:
    scenario = _scenario(
        tmp_path,
        env="MODE: recover-after, RECOVER_S: '0'",
        duration="20s",
        extra="guardrails: {abort_when: [{probe: api, consecutive_failures: 5}]}\n",
    )
    done = subprocess.run(
        [_script(), "run", str(scenario), "--report-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    result = _result(tmp_path)
    assert result["status"] == "aborted"
    assert result["grade"] == "F"
    assert result["reason"] == "guardrail: probe 'api' failed 5 times in a row"
    (fault,) = result["faults"]  # type: ignore[misc]
    assert fault["removed_at"] - fault["injected_at"] < 5  # type: ignore[operator]


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_of_the_runner_leaves_no_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    scenario = _scenario(
        tmp_path, env=f"MODE: ride-through, PID_FILE: '{pid_file}'", duration="30s"
    )
    process = _start(tmp_path, scenario)
    _wait_for(process, "inject")
    app_pid = int(pid_file.read_text())
    assert _alive(app_pid)
    process.kill()
    process.communicate(timeout=10)
    deadline = time.monotonic() + 5
    while _alive(app_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(app_pid), "the app outlived a SIGKILLed runner"
    # Its scratch folder could not be removed by the dead runner: the next run removes it.
    from gameday.environments.workdir import sweep_stale

    stale = [p for p in sweep_stale() if p.name.startswith(f"gameday-run-{process.pid}-")]
    assert len(stale) == 1 and not stale[0].exists()


def test_invalid_scenario_exits_2_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: gameday/v1\nmetadata: {name: x}\n")
    done = subprocess.run(
        [_script(), "run", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad}:")
    assert "Traceback" not in done.stderr


def test_abort_clears_the_gateway_of_a_running_drill(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, env="MODE: ride-through", duration="30s")
    process = _start(tmp_path, scenario)
    try:
        _wait_for(process, "inject")
        done = subprocess.run(
            [_script(), "abort"], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        assert re.search(r"^cleared 1 fault\(s\) at http://127\.0\.0\.1:\d+$", done.stdout, re.M)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 4


def test_abort_names_a_gateway_it_cannot_reach(tmp_path: Path) -> None:
    done = subprocess.run(
        [_script(), "abort", "--gateway", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("error: cannot reach the gateway at http://127.0.0.1:9")


def test_a_terminal_gets_the_live_view(tmp_path: Path) -> None:
    import pty
    import select

    scenario = _scenario(tmp_path, env="MODE: ride-through", duration="1s")
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [_script(), "run", str(scenario), "--report-dir", str(tmp_path / "out")],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    process.wait(timeout=30)
    text = screen.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "last samples (█ ok, ▁ failed, · missed)" in text
    assert "[drill]" in text
    assert "inject" in text and "identity-loss-0" in text
    assert "e2e: passed, score 100.0 (A)" in text
