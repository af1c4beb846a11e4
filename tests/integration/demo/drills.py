"""The shipped drills, run whole by the engine on the embedded environment, with their
durations scaled down so that a test takes seconds: the same faults, probes and objectives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.result import ObjectiveResult, RunResult
from gameday.scenario.loader import load_scenario

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


def run(path: Path) -> RunResult:
    """Run the scenario at ``path`` through the whole engine."""
    return run_drill(make_plan(load_scenario(path)), RunOptions(seed=1), time.monotonic)


def objective(result: RunResult, name: str) -> ObjectiveResult:
    return next(o for o in result.objectives if o.name == name)


def window(document: dict[str, Any], *, start: str, duration: str, observe: str) -> None:
    """Every fault from ``start`` for ``duration``; observation ends at ``observe``."""
    for fault in document["faults"]:
        fault["start_after"], fault["duration"] = start, duration
    document["observe"]["max"] = observe
    document["observe"]["recovery_window"] = "1s"
