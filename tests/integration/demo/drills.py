"""The shipped drills, run whole by the real CLI on the embedded environment, with their
durations scaled down so that a test takes seconds: the same faults, probes and objectives.

Each drill runs in a process of its own: the embedded environment resets moto's state, which
is per process, and would wipe what this test session's moto server holds for other tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gameday.result import ObjectiveResult, RunResult

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

Edit = Callable[[dict[str, Any]], None]


def scaled(name: str, folder: Path, edit: Edit) -> Path:
    """A copy of ``scenarios/<name>`` in ``folder`` changed by ``edit`` (the YAML as plain
    data), without its runbook link (relative to the original) or its schedule."""
    document: dict[str, Any] = YAML(typ="safe").load((SCENARIOS / name).read_text())
    document["metadata"].pop("runbook", None)
    document.pop("schedule", None)
    edit(document)
    path = folder / name
    # JSON is YAML: no YAML writer needed for a document of plain values.
    path.write_text(json.dumps(document))
    return path


def run(path: Path) -> tuple[RunResult, int]:
    """Run the scenario at ``path`` with ``gameday run``: its result (read from its file) and
    the command's exit code."""
    reports = path.parent / "reports"
    argv = [sys.executable, "-m", "gameday", "run", str(path), "--seed", "1"]
    argv += ["--report-dir", str(reports), "--store", str(path.parent / "history.db")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    results = list(reports.glob("*/result.json"))
    assert len(results) == 1, f"exit {done.returncode}: {done.stdout}\n{done.stderr}"
    return RunResult.model_validate_json(results[0].read_text()), done.returncode


def objective(result: RunResult, name: str) -> ObjectiveResult:
    return next(o for o in result.objectives if o.name == name)


def window(document: dict[str, Any], *, start: str, duration: str, observe: str) -> None:
    """Every fault from ``start`` for ``duration``; observation ends at ``observe``."""
    for fault in document["faults"]:
        fault["start_after"], fault["duration"] = start, duration
    document["observe"]["max"] = observe
    document["observe"]["recovery_window"] = "1s"
