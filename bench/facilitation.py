"""What facilitation costs a drill: key-to-mark latency, POST /marks latency, view frames.

Not a timed test: run it by hand (`.venv/bin/python bench/facilitation.py`) and read the
figures. Marks must land within a probe interval of the key press (issue 9; the shipped drills
sample every 500 ms, tests every 100 ms); the live view redraws 4 times a second in rich's
thread, so its frame cost is CPU the drill's event loop (probes, gateway) does not get.

- keys: a byte written to a real pseudo-terminal's master side, read by ``read_keys`` on the
  slave side through the running loop, until the mark is on the timeline;
- http: ``POST /marks`` from an aiohttp client to ``serve_marks`` on 127.0.0.1, one at a time;
- view: ``render`` of a drill with 4 probes x 400 samples, an 8-step checklist and 40 marks,
  drawn by rich to a 160-column in-memory console.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pty
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.facilitation.keys import read_keys  # noqa: E402
from gameday.facilitation.marks_api import serve_marks  # noqa: E402
from gameday.facilitation.session import FacilitationOptions, Facilitator  # noqa: E402
from gameday.facilitation.view import render  # noqa: E402
from gameday.grading.timeline import Sample  # noqa: E402
from gameday.kinds import MarkKind  # noqa: E402
from gameday.recorder import Recorder  # noqa: E402
from gameday.scenario.runbook import RunbookStep  # noqa: E402

REFRESH_PER_S = 4


def _facilitator(steps: int = 8) -> Facilitator:
    recorder = Recorder(clock=time.monotonic, origin=time.monotonic())
    text = "do what the runbook says, and say so in the incident channel"
    checklist = [RunbookStep(n, f"step {n}: {text}", n) for n in range(1, steps + 1)]
    return Facilitator(FacilitationOptions(author="bench", keys=False), recorder, checklist)


def _summary(name: str, values_s: list[float]) -> str:
    values = sorted(v * 1000 for v in values_s)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return (
        f"{name:<6} n={len(values):<5} p50 {statistics.median(values):7.3f} ms   "
        f"p99 {p99:7.3f} ms   max {values[-1]:7.3f} ms"
    )


async def _keys(presses: int) -> list[float]:
    facilitator = _facilitator()
    primary, secondary = pty.openpty()
    latencies = []
    try:
        with read_keys(facilitator, secondary):
            for _ in range(presses):
                before = len(facilitator.marks)
                sent = time.perf_counter()
                os.write(primary, b"n")  # a note: typed, then Enter marks it
                os.write(primary, b"x\r")
                while len(facilitator.marks) == before:
                    await asyncio.sleep(0)
                latencies.append(time.perf_counter() - sent)
    finally:
        os.close(primary)
        os.close(secondary)
    return latencies


async def _http(posts: int) -> list[float]:
    import aiohttp

    facilitator = _facilitator()
    latencies = []
    async with serve_marks(facilitator, "127.0.0.1", 0) as url, aiohttp.ClientSession() as client:
        for i in range(posts):
            sent = time.perf_counter()
            async with client.post(url, json={"kind": "note", "note": f"n{i}"}) as answer:
                assert answer.status == 201, await answer.text()
            latencies.append(time.perf_counter() - sent)
    return latencies


def _frames(frames: int) -> list[float]:
    from rich.console import Console

    facilitator = _facilitator()
    recorder = facilitator.recorder
    for probe in ("api", "credentials", "orders", "pager"):
        recorder.samples[probe] = [
            Sample(offset_s=i * 0.5, ok=i % 7 != 0, latency_s=0.002, detail="200")
            for i in range(400)
        ]
    for i in range(40):
        facilitator.mark(MarkKind.NOTE, note=f"note {i}: something people saw")
    console = Console(file=io.StringIO(), width=160, force_terminal=True, color_system="truecolor")
    timings = []
    for _ in range(frames):
        started = time.perf_counter()
        console.print(render("gameday run", facilitator))
        timings.append(time.perf_counter() - started)
        console.file = io.StringIO()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="presses, posts and frames")
    count = parser.parse_args().count
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(_summary("keys", asyncio.run(_keys(count))))
    print(_summary("http", asyncio.run(_http(count))))
    frames = _frames(count)
    print(_summary("frame", frames))
    share = statistics.median(frames) * REFRESH_PER_S
    print(f"view at {REFRESH_PER_S} frames/s: {share:.1%} of one core (median frame)")


if __name__ == "__main__":
    main()
