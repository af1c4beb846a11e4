"""`gameday report --posture` as people run it: the installed command on a seeded store, its
formats and file output, and exit 2 with a message for what it cannot read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gameday.cli import app
from tests.unit.reports.posture_history import seed_history

runner = CliRunner()


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert script, "the gameday console script is not installed next to this Python"
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GAMEDAY_STORE", None)
    return subprocess.run(
        [script, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("posture") / "history.db"
    seed_history(path, runs=300)
    return path


def test_the_posture_in_json_and_html_from_the_real_command(store: Path, tmp_path: Path) -> None:
    done = _gameday("report", "--posture", "--store", str(store), "--since", "365d",
                    "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [g["name"] for g in document["capabilities"]] == [
        "identity",
        "logging",
        "registry",
        "region",
    ]
    assert document["runs"] == 300 and len(document["scenarios"]) == 50
    assert sum(g["drills"] for g in document["owners"]) > 0
    page = tmp_path / "out" / "posture.html"
    done = _gameday("report", "--posture", "--store", str(store), "--stale-after", "2w",
                    "--format", "html", "--out", str(page))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", f"wrote {page}\n")
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "decay = 1 up to 2w" in html


def test_a_bad_since_exits_2_with_the_option_named(store: Path) -> None:
    done = _gameday("report", "--posture", "--store", str(store), "--since", "last quarter")
    assert done.returncode == 2
    assert done.stderr.splitlines()[0] == "error: --since: cannot read 'last quarter' as a date"
    assert "Traceback" not in done.stderr + done.stdout and done.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stale-after", "0d"], "error: --stale-after: cannot read '0d' as an age above 0"),
        (["--stale-after", "2026-01-01"], "error: --stale-after: cannot read '2026-01-01' as"),
        (["--format", "junit"], "error: --posture renders html, md or json, not junit"),
        (["result.json"], "error: --posture reads the whole history store, not 'result.json'"),
    ],
)
def test_what_the_posture_cannot_use_exits_2(store: Path, args: list[str], message: str) -> None:
    done = runner.invoke(app, ["report", "--posture", "--store", str(store), *args])
    assert done.exit_code == 2, done.output
    assert done.stderr.startswith(message)


def test_report_without_source_or_posture_and_since_without_posture_exit_2(store: Path) -> None:
    done = runner.invoke(app, ["report", "--store", str(store)])
    assert done.exit_code == 2
    assert done.stderr.startswith("error: gameday report needs SOURCE, or --posture")
    done = runner.invoke(app, ["report", "some-run", "--since", "7d"])
    assert done.exit_code == 2
    assert done.stderr.startswith("error: --since and --stale-after go with --posture")


def test_a_store_that_does_not_exist_has_every_capability_never_drilled(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "history.db"
    done = runner.invoke(app, ["report", "--posture", "--store", str(missing), "-f", "md"])
    assert done.exit_code == 0, done.output
    for capability in ("identity", "logging", "registry", "region"):
        assert f"| {capability} | 0 | never | - | stale | 0 | 0 |" in done.stdout
    assert not missing.exists()
