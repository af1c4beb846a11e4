"""Small scenario files for the scheduler's tests; the app is tests/fixtures/apps/truth_app.py
(MODE=ride-through answers /health 200 whatever STS does), so a drill takes about a second."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "truth_app.py"


def scenario_text(
    name: str,
    schedule: str | None = "{cron: '0 2 * * 2'}",
    *,
    fault: str = "start_after: 100ms, duration: 200ms",
    observe: str = "{max: 3s, recovery_window: 100ms}",
    app: str | None = None,
    extra: str = "",
) -> str:
    """A valid scenario: an STS fault the app rides through, an availability objective."""
    command = app or f"['{sys.executable}', '{APP}']"
    text = (
        "apiVersion: gameday/v1\n"
        f"metadata: {{name: {name}}}\n"
        "target:\n"
        "  app:\n"
        f"    command: {command}\n"
        "    env: {MODE: ride-through}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 5s\n"
        # The scheduler's tests are about when drills run, not what a fault did: a 200 ms
        # window can miss the app's STS calls on a loaded machine (the drill would then be
        # inconclusive, exit 3).
        f"faults: [{{kind: api-fault, services: [sts], expect_calls: false, {fault}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: availability, probe: api, target: 0.5}]\n"
        f"observe: {observe}\n"
        f"{extra}"
    )
    if schedule is not None:
        text += f"schedule: {schedule}\n"
    return text


def write_scenario(
    folder: Path, name: str, schedule: str | None = "{cron: '0 2 * * 2'}", **options: str
) -> Path:
    """``folder/<name>.yaml`` with ``scenario_text``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(scenario_text(name, schedule, **options))
    return path
