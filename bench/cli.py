"""CLI start-up cost: wall time of `gameday --help` and `gameday validate scenarios/`.

Not a timed test: run it by hand (`make bench` or `.venv/bin/python bench/cli.py`) and read
the medians. Goals on the 2-core reference machine: --help under 0.3 s, validating the shipped
suite under 0.5 s. Each command runs as a fresh process, as a user would start it.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS_S = {"--help": 0.3, "validate scenarios/": 0.5}


def _time(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    args = parser.parse_args()
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    if script is None:
        print("gameday is not installed next to this Python; run `make bench`", file=sys.stderr)
        return 2
    commands = {
        "--help": [script, "--help"],
        "validate scenarios/": [script, "validate", "scenarios/"],
    }
    baseline = statistics.median(_time([sys.executable, "-c", "pass"], args.runs))
    print(f"python start-up alone: median {baseline * 1000:.0f} ms ({args.runs} runs)")
    print(f"{'command':<22}{'median':>10}{'min':>10}{'max':>10}{'goal':>10}  verdict")
    failed = False
    for name, argv in commands.items():
        times = _time(argv, args.runs)
        median = statistics.median(times)
        goal = GOALS_S[name]
        verdict = "ok" if median <= goal else "OVER GOAL"
        failed |= median > goal
        print(
            f"gameday {name:<14}{median * 1000:>8.0f}ms{min(times) * 1000:>8.0f}ms"
            f"{max(times) * 1000:>8.0f}ms{goal * 1000:>8.0f}ms  {verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
