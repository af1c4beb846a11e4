"""The posture report over a fleet-sized history: 10,000 runs, 50 scenarios, 5 owners.

Not a timed test: run it by hand (`.venv/bin/python bench/posture.py`) and read the figures.
It seeds a store in a temporary folder through the store's API (the tests' deterministic
seed, tests/unit/reports/posture_history.py), then, for each format (html, md, json):

- in process: reading every finished run from the store (``HistoryStore.finished_runs``),
  building the posture, rendering it (the best of ``--repeat`` rounds, with the read / build /
  render split);
- the real command: `gameday report --posture --store ... --format F --out FILE` in a fresh
  process, as a person or a CronJob runs it (interpreter start-up included).

Goal on the 2-core reference machine: each format under 2 s as the real command. Other work on
the machine stretches every figure: the load average is printed next to them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.history import HistoryStore  # noqa: E402
from gameday.reports.posture import POSTURE_KINDS, build_posture  # noqa: E402
from gameday.reports.posture_render import PostureFormat, render_posture  # noqa: E402
from tests.unit.reports.posture_history import NOW, seed_history  # noqa: E402

GOAL_S = 2.0


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def in_process(store: Path, fmt: PostureFormat) -> tuple[float, float, float, int]:
    """(read, build, render) seconds and the report's size in bytes."""
    started = time.perf_counter()
    with HistoryStore(store, clock=lambda: NOW) as history:
        rows = history.finished_runs(POSTURE_KINDS)
    read = time.perf_counter()
    posture = build_posture(rows, now=NOW, since=NOW - timedelta(days=90))
    built = time.perf_counter()
    text = render_posture(posture, fmt)
    done = time.perf_counter()
    return read - started, built - read, done - built, len(text.encode())


def command(store: Path, fmt: PostureFormat, out: Path) -> float:
    gameday = Path(sys.executable).parent / "gameday"
    started = time.perf_counter()
    subprocess.run(
        [str(gameday), "report", "--posture", "--store", str(store), "--format", fmt.value,
         "--out", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-posture-") as folder:
        store = Path(folder) / "history.db"
        started = time.perf_counter()
        seed_history(store, runs=args.runs)
        seeded = time.perf_counter() - started
        print(f"seeded {args.runs} runs through HistoryStore.finish_run in {seeded:.2f} s "
              f"(load {load()})")  # fmt: skip
        worst = 0.0
        for fmt in PostureFormat:
            rounds = [in_process(store, fmt) for _ in range(args.repeat)]
            read, build, render, size = min(rounds, key=lambda r: sum(r[:3]))
            wall = min(command(store, fmt, Path(folder) / f"posture.{fmt.value}")
                       for _ in range(args.repeat))  # fmt: skip
            worst = max(worst, wall)
            print(
                f"{fmt.value:<4} in process {read + build + render:.3f} s (read {read:.3f}, "
                f"build {build:.3f}, render {render:.3f}; {size / 1024:.0f} KiB); "
                f"gameday report --posture {wall:.3f} s (load {load()})"
            )
    verdict = "within" if worst < GOAL_S else "OVER"
    print(f"slowest command {worst:.3f} s: {verdict} the {GOAL_S:g} s goal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
