"""The newcomer's path (issue 16): the README's first command is `make demo`; it ends green when
the drills ran and were graded, missed objectives included, fails when they could not run,
writes report.html and names it; CI runs exactly the README's test command.

`make demo` itself runs here, the Makefile's real target, with two variables: VENV at this
test's virtualenv (so nothing is installed) and SCENARIOS at a short drill instead of the
shipped suite (minutes long: `scripts/report-screenshot.sh` runs that one). It runs in an
empty folder, as in a fresh clone: no earlier reports, no history.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = ROOT / "Makefile"
README = ROOT / "README.md"
APP = ROOT / "tests" / "fixtures" / "apps" / "truth_app.py"
VENV = Path(sys.executable).parent.parent
STAMP = VENV / ".installed"

pytestmark = pytest.mark.slow


def _quickstart_commands() -> list[str]:
    """The commands of the README's Quickstart block, comments stripped."""
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the Quickstart has no sh block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _make(
    target: str, cwd: Path, *variables: str, dry_run: bool = False
) -> subprocess.CompletedProcess[str]:
    # -o: the stamp is this virtualenv's; make must not try to build it again.
    command = ["make", "--no-print-directory", "-f", str(MAKEFILE), "-o", str(STAMP), target]
    command += [f"VENV={VENV}", *variables] + (["-n"] if dry_run else [])
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GAMEDAY_STORE", None)
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False, env=env
    )


def _drill(folder: Path, name: str, app: str, *, duration: str = "1s") -> Path:
    """A drill of a few seconds; its RTO target (1 s) is missed by the recover-after app."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        f"metadata: {{name: {name}}}\n"
        f"target:\n  app: {{{app}, health_url: 'http://127.0.0.1:{{port}}/health', "
        "ready_timeout: 15s}\n"
        f"faults: [{{kind: identity-loss, start_after: 500ms, duration: {duration}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 30s, recovery_window: 1s}\n"
    )
    return path


def _slow_recovery_app() -> str:
    return f"command: ['{sys.executable}', '{APP}'], env: {{MODE: recover-after, RECOVER_S: '1.5'}}"


def test_the_readme_starts_with_make_demo_and_ci_runs_its_test_command() -> None:
    commands = _quickstart_commands()
    assert commands[0] == "make demo"
    test_command = next(c for c in commands if c.startswith("make test"))
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    run_lines = [line.strip() for line in ci if line.strip() and not line.startswith("#")]
    assert run_lines[-1] == test_command  # the last thing CI does is the README's command
    assert run_lines.count(test_command) == 1


def test_make_demo_runs_the_shipped_suite_with_misses_as_findings() -> None:
    done = _make("demo", ROOT, dry_run=True)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"{VENV}/bin/gameday run scenarios/ ")
    assert "--exit-zero-on-miss" in line.split()
    readme = README.read_text()
    assert "gameday-reports/report.html" in readme[readme.index("## Quickstart") :]


def test_make_demo_exits_0_with_missed_objectives_and_names_its_report(tmp_path: Path) -> None:
    folder = tmp_path / "drills"
    _drill(folder, "misses", _slow_recovery_app())
    done = _make("demo", tmp_path, f"SCENARIOS={folder}")
    assert done.returncode == 0, done.stdout + done.stderr
    (result_file,) = (tmp_path / "gameday-reports").glob("*/result.json")
    assert json.loads(result_file.read_text())["status"] == "failed"  # a miss, and still green
    report = tmp_path / "gameday-reports" / "report.html"
    assert report.read_text().startswith("<!DOCTYPE html>")
    last = done.stdout.splitlines()[-3:]
    assert re.fullmatch(r"misses: score \d+\.\d \([A-F]\)", last[0]), last
    assert last[1] == "report: gameday-reports/report.html"
    assert last[2] == (
        f"how the score was computed: gameday explain "
        f"gameday-reports/{result_file.parent.name}/result.json"
    )
    assert "suite score" not in done.stdout and "scoring" not in done.stdout


def test_make_demo_fails_when_a_drill_could_not_run(tmp_path: Path) -> None:
    folder = tmp_path / "drills"
    _drill(folder, "misses", _slow_recovery_app())
    _drill(folder, "no-app", f"command: ['{sys.executable}', '-c', 'raise SystemExit(7)']")
    done = _make("demo", tmp_path, f"SCENARIOS={folder}")
    assert done.returncode != 0
    assert "Error 3" in done.stderr, done.stderr  # gameday's exit 3, through make
    statuses = sorted(
        json.loads(p.read_text())["status"] for p in (tmp_path / "gameday-reports").glob("*/*.json")
    )
    assert statuses == ["error", "failed"]
    assert "report: gameday-reports/report.html" in done.stdout


def test_make_demo_fails_on_invalid_input(tmp_path: Path) -> None:
    bad = tmp_path / "drills" / "bad.yaml"
    bad.parent.mkdir()
    bad.write_text("apiVersion: gameday/v1\nmetadata: {name: bad}\n")
    done = _make("demo", tmp_path, f"SCENARIOS={bad.parent}")
    assert "Error 2" in done.stderr and done.returncode != 0, done.stderr
    assert f"error: {bad}" in done.stderr
    assert not (tmp_path / "gameday-reports").exists()
