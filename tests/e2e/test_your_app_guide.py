"""docs/your-app.md as a reader follows it (issue 15, "Drill your own app"): the example app
and drill it quotes are the files in docs/examples/your-app/, word for word, and its commands,
run as written in an empty folder through the installed `gameday`, end in a graded drill.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "your-app.md"
EXAMPLE = ROOT / "docs" / "examples" / "your-app"
_QUOTED = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
_COMMANDS = re.compile(r"<!-- run: [^>]*-->\n```sh\n(.*?)```", re.S)


def _quoted_files() -> dict[str, str]:
    return {path: body for path, body in _QUOTED.findall(GUIDE.read_text())}


def _commands() -> list[list[str]]:
    (block,) = _COMMANDS.findall(GUIDE.read_text())
    lines = (line.split("#")[0].strip() for line in block.splitlines())
    return [shlex.split(line) for line in lines if line]


def test_the_guide_quotes_the_example_files_word_for_word() -> None:
    quoted = _quoted_files()
    assert sorted(quoted) == sorted(
        str(path.relative_to(ROOT)) for path in EXAMPLE.iterdir() if path.is_file()
    )
    for path, body in quoted.items():
        assert body == (ROOT / path).read_text(), f"docs/your-app.md quotes {path} out of date"


def test_the_guides_commands_take_the_example_to_a_graded_drill(tmp_path: Path) -> None:
    folder = tmp_path / "orders"  # the reader's empty folder, with the two files written
    folder.mkdir()
    for path in _quoted_files():
        shutil.copy(ROOT / path, folder)
    # The reader's activated virtualenv: `python` and `gameday` are this test's own.
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    env.pop("GAMEDAY_STORE", None)

    commands = _commands()
    assert [c[:2] for c in commands] == [
        ["gameday", "validate"],
        ["gameday", "plan"],
        ["gameday", "run"],
    ]
    validate, plan, run = (
        subprocess.run(
            command,
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        for command in commands
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "read back from {app}/orders/{marker} (no flush, settle 2s (default)" in plan.stdout
    # Graded: exit 0 (every objective met) or 1 (one missed), never 3 (error, inconclusive).
    assert run.returncode in (0, 1), run.stdout + run.stderr
    (result_file,) = (folder / "gameday-reports").glob("*/result.json")
    result = json.loads(result_file.read_text())
    assert result["status"] in ("passed", "failed"), result.get("reason")
    assert result["score"] is not None and result["grade"] is not None
    assert [f["matched_calls"] for f in result["faults"]] != [0]
    (probe,) = result["probes"]
    assert sum(1 for marker in probe["markers"] if marker[2]) >= 5  # orders acknowledged
    assert probe["read_back"]["unverified"] == 0
    assert (result_file.parent / "app.log").exists()
    assert f"{result['scenario']['name']}: {result['status']}, score" in run.stdout
