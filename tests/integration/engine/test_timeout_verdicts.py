"""A probe's timeout in plain sight, end to end (issue 15, item 5): an app slowed by a latency
fault on STS answers every request, later than the probe waits. The drill's RTO is then the
timeout's verdict, and the objective's detail says so and names the field to raise; with a
timeout above the app's slowest answer, the same drill sees no impact.

A real moto server, the real gateway, a real app process (tests/fixtures/apps/truth_app.py in
ride-through mode: /health calls STS, whose client gives up after 0.5 s, and answers 200).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "truth_app.py"
STS_SLOW = (
    "[{kind: api-fault, services: [sts], mode: latency, latency: 800ms, start_after: 500ms, "
    "duration: 2s}]"
)


def _run(tmp_path: Path, timeout: str) -> RunResult:
    path = tmp_path / f"slow-{timeout}.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: slow-answers}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        "    env: {MODE: ride-through}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        f"faults: {STS_SLOW}\n"
        "probes:\n"
        "  - {name: steady, kind: http, url: '{app}/health', interval: 200ms, timeout: 2s}\n"
        f"  - {{name: api, kind: http, url: '{{app}}/health', interval: 100ms, "
        f"timeout: {timeout}}}\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 6s, recovery_window: 1s}\n"
    )
    return run_drill(make_plan(load_scenario(path)), RunOptions(seed=1), time.monotonic)


def test_rto_decided_by_timeouts_says_so(tmp_path: Path) -> None:
    result = _run(tmp_path, "250ms")
    (rto,) = result.objectives
    api = next(p for p in result.probes if p.name == "api")
    timeouts = [d for _, d in api.failures if d.startswith("timeout after 0.25s")]
    assert timeouts, api.failures  # the latency fault slowed /health past the probe's timeout
    assert rto.impact_start is not None
    note = re.search(
        r"(\d+) of (\d+) failed samples were timeouts after 0\.25 s; raise probes\[1\]\.timeout "
        r"if your SLO allows slower answers",
        rto.detail,
    )
    assert note is not None, rto.detail
    assert int(note.group(1)) == len(timeouts)
    assert api.timeout_s == 0.25


def test_a_timeout_above_the_slowest_answer_sees_no_impact(tmp_path: Path) -> None:
    result = _run(tmp_path, "2s")
    (rto,) = result.objectives
    api = next(p for p in result.probes if p.name == "api")
    assert api.failures == []
    assert (rto.measured, rto.met) == (0.0, True)
    assert "timeouts" not in rto.detail
