"""The shipped suite one drill after another and with the default parallelism, in one run.

Not a timed test: run it by hand (`.venv/bin/python bench/suite.py`) and read the figures. It
runs `gameday run scenarios/` twice as a user would (each in a fresh process, with its own
report folder and history store in a temporary folder): with `--parallel 1`, then with the
default (or `--parallel N`). It prints the wall time of each, the longest single drill (from
the sequential run's results: a drill with the machine to itself) and the ratios. Goal on the
2-core reference machine: the parallel suite within 1.5x its longest drill. Other work on the
machine stretches both: the load average is printed next to the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.engine.parallel import default_parallel  # noqa: E402

GOAL_RATIO = 1.5


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def _seconds(result: dict[str, str]) -> float:
    def at(stamp: str) -> datetime:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))

    return (at(result["ended_at"]) - at(result["started_at"])).total_seconds()


def run_suite(scenarios: Path, parallel: int, work: Path) -> tuple[float, dict[str, float]]:
    """Wall time of one `gameday run`, and each drill's own duration by scenario name."""
    out = work / f"parallel-{parallel}"
    argv = [sys.executable, "-m", "gameday", "run", str(scenarios), "--parallel", str(parallel)]
    argv += ["--report-dir", str(out), "--store", str(out / "history.db")]
    argv += ["--exit-zero-on-miss"]  # as make demo: misses and guardrail stops are findings
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"gameday run --parallel {parallel} exited {done.returncode}")
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    return wall, {r["scenario"]["name"]: _seconds(r) for r in results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    parser.add_argument(
        "--parallel",
        type=int,
        nargs="+",
        default=[default_parallel()],
        help="one or more degrees to compare in the same run (default: gameday's default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-suite-") as folder:
        work = Path(folder)
        load_before = load()
        sequential_s, alone = run_suite(args.scenarios, 1, work)
        parallel = {n: run_suite(args.scenarios, n, work) for n in args.parallel}
    longest_name, longest_s = max(alone.items(), key=lambda item: item[1])
    print(f"load average before {load_before}, after {load()}")
    heads = "".join(f"{f'--parallel {n}':>16}" for n in parallel)
    print(f"{'drill':<24}{'alone':>10}{heads}")
    for name in sorted(alone):
        beside = "".join(f"{runs.get(name, float('nan')):>15.1f}s" for _, runs in parallel.values())
        print(f"{name:<24}{alone[name]:>9.1f}s{beside}")
    print(f"suite, one after another (--parallel 1): {sequential_s:.1f} s")
    print(f"longest single drill: {longest_name}, {longest_s:.1f} s")
    ok = True
    for n, (wall_s, _) in parallel.items():
        ratio = wall_s / longest_s
        ok = ok and ratio <= GOAL_RATIO
        print(
            f"suite, --parallel {n}: {wall_s:.1f} s; ratios: parallel/longest {ratio:.2f}x, "
            f"sequential/parallel {sequential_s / wall_s:.2f}x; goal parallel <= "
            f"{GOAL_RATIO:g}x longest: {'ok' if ratio <= GOAL_RATIO else 'OVER GOAL'}"
        )
    print(f"sequential/longest {sequential_s / longest_s:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
