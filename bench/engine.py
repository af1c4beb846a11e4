"""The drill engine's own costs, measured in one run (not a timed test).

- environment up: emulator + gateway + setup + the demo service ready (goal <= 3 s);
- runner overhead per scenario: wall time of a whole run minus the scenario's own drill time
  (from the first probe tick to the end of observation; goal <= 2 s).

    .venv/bin/python bench/engine.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.engine.drill import RunOptions, run_drill  # noqa: E402
from gameday.engine.plan import make_plan  # noqa: E402
from gameday.scenario.loader import LoadedScenario, parse_scenario  # noqa: E402

SCENARIO = """
apiVersion: gameday/v1
metadata: {name: bench}
target:
  app: demo
  setup:
    - {kind: role, name: demo-app}
    - {kind: table, name: orders}
    - {kind: log-group, name: /gameday/demo/audit}
    - {kind: repository, name: demo/app, images: [v1]}
faults: [{kind: identity-loss, start_after: 500ms, duration: 1s}]
probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms}]
objectives: [{kind: rto, probe: api, target: 5s}, {kind: steady, probe: api}]
observe: {max: 5s, recovery_window: 500ms}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = ROOT / "bench" / "bench.yaml"
    plan = make_plan(LoadedScenario(path, parse_scenario(path, SCENARIO)))
    up, overhead = [], []
    for _ in range(args.runs):
        start = time.monotonic()
        result = run_drill(plan, RunOptions(seed=1), time.monotonic)
        wall = time.monotonic() - start
        phases = {e.detail: e.at for e in result.events if e.kind == "phase"}
        up.append(phases["steady before"] - phases["environment up"])
        drill = phases["rollback"] - phases["drill"]
        overhead.append(wall - drill)
        print(f"run {result.run_id}: {result.status.value}, wall {wall:.2f}s, drill {drill:.2f}s")
    for label, values, goal in (("environment up", up, 3), ("runner overhead", overhead, 2)):
        print(
            f"{label:<16} median {statistics.median(values):.2f}s "
            f"(min {min(values):.2f}, max {max(values):.2f}; goal <= {goal} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
