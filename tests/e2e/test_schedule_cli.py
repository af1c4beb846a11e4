"""`gameday schedule run|list|export` through the CLI: typer's CliRunner for the arguments, and
the installed command for a scheduler that is stopped by SIGTERM and refuses a second one."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gameday.cli import app
from gameday.scenario.loader import find_scenario_files
from tests.unit.schedule.scenarios import write_scenario

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

pytestmark = pytest.mark.skipif(
    runner.invoke(app, ["schedule", "--help"]).exit_code != 0,
    reason="`gameday schedule` is not wired in gameday/cli.py yet (issue 8)",
)


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found, "the gameday console script is not installed next to this Python"
    return found


@pytest.mark.parametrize("command", ["run", "list", "export"])
def test_each_schedule_command_has_help_with_examples(command: str) -> None:
    result = runner.invoke(app, ["schedule", command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_list_the_shipped_schedules() -> None:
    result = runner.invoke(app, ["schedule", "list", str(ROOT / "scenarios"), "--count", "2"])
    assert result.exit_code == 0, result.output
    scheduled = len(list(find_scenario_files([ROOT / "scenarios"])))  # every shipped drill
    assert result.output.count(" UTC  =  ") == 2 * scheduled
    assert "identity-loss  (" in result.output and 'cron "0 2 * * 2" in UTC' in result.output


def test_export_writes_one_manifest_per_scheduled_scenario(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["schedule", "export", "--k8s", str(ROOT / "scenarios"), "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    scheduled = len(list(find_scenario_files([ROOT / "scenarios"])))
    assert len(list(tmp_path.glob("gameday-*.yaml"))) == scheduled
    assert result.output.count("wrote ") == scheduled


def test_export_without_a_format_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schedule", "export", str(ROOT / "scenarios"), "--out", "x"])
    assert result.exit_code == 2
    assert "error: give --k8s" in result.output


def test_a_six_field_cron_is_refused_on_export(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "fast", "{cron: '*/2 * * * * *'}")
    result = runner.invoke(
        app, ["schedule", "export", "--k8s", str(tmp_path / "in"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "fires on seconds '*/2'" in result.output


def _start(directory: Path, store: Path) -> subprocess.Popen[str]:
    command = [_script(), "schedule", "run", str(directory), "--store", str(store)]
    return subprocess.Popen(
        [*command, "--metrics-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_the_installed_scheduler_refuses_a_second_and_stops_on_sigterm(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "yearly", "{cron: '0 0 1 1 *'}")
    store = tmp_path / "h.db"
    first = _start(tmp_path / "in", store)
    try:
        assert first.stderr is not None
        seen = ""
        deadline = time.monotonic() + 20
        while "serving /metrics" not in seen and time.monotonic() < deadline:
            seen += first.stderr.readline()
        assert "scheduled yearly" in seen or "serving /metrics" in seen, seen
        second = _start(tmp_path / "in", store)
        _, errors = second.communicate(timeout=30)
        assert second.returncode == 2
        assert errors.startswith(
            f"error: another scheduler is running on this store: {store.resolve()} is "
            f"locked by pid {first.pid}\n"
        )
        assert "hint: one scheduler per history store" in errors
        first.send_signal(signal.SIGTERM)
        _, rest = first.communicate(timeout=15)
        assert first.returncode == 0
        assert "stopping: signal SIGTERM" in rest
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
