"""How late the ``destructive_calls`` guardrail fires (issue 17).

Not a timed test: run it by hand (`.venv/bin/python bench/destructive_guard.py --runs 5`) and
read the figures. Each run is a real drill through the installed `gameday` command (embedded:
moto, the gateway, tests/fixtures/apps/destroyer_app.py, which deletes its table after three
failed reads) with `abort_when: [{destructive_calls: 1}]`. The lateness of one run is the
abort event's offset minus the destructive call's (the gateway's answer to it). Goal on the
2-core reference machine: at most 100 ms (one 50 ms poll of the gateway, plus its answer).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "fixtures" / "apps" / "destroyer_app.py"
SCENARIO = f"""\
apiVersion: gameday/v1
metadata: {{name: guard-lateness}}
target:
  app: {{command: ['{sys.executable}', '{APP}'], health_url: 'http://127.0.0.1:{{port}}/ready'}}
  setup: [{{kind: table, name: orders}}]
faults: [{{kind: api-fault, services: [dynamodb], operations: [GetItem], start_after: 500ms,
          duration: 1500ms}}]
probes: [{{name: api, kind: http, url: '{{app}}/health', interval: 100ms, timeout: 1s}}]
objectives: [{{kind: destructive_calls, target: 0}}]
guardrails: {{abort_when: [{{destructive_calls: 1}}]}}
observe: {{max: 4s, recovery_window: 500ms}}
"""


def _lateness_s(folder: Path) -> float:
    scenario = folder / "drill.yaml"
    scenario.write_text(SCENARIO)
    gameday = shutil.which("gameday", path=str(Path(sys.executable).parent)) or "gameday"
    done = subprocess.run(
        [gameday, "run", str(scenario), "--report-dir", str(folder / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if done.returncode != 4:
        raise SystemExit(f"expected exit 4 (aborted), got {done.returncode}:\n{done.stdout}")
    (path,) = (folder / "out").glob("*/result.json")
    result = json.loads(path.read_text())
    (call,) = result["calls"]["destructive"]
    abort = next(e["at"] for e in result["events"] if e["kind"] == "abort")
    return float(abort - call["at"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    late = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            late.append(_lateness_s(Path(folder)))
    ms = sorted(round(s * 1000, 1) for s in late)
    print(f"guardrail lateness over {len(ms)} drills (ms): {ms}")
    print(f"median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
