"""Probe scheduling jitter: 100 http probes at 10 Hz against one local aiohttp server.

Not a timed test: run it by hand (`.venv/bin/python bench/probes.py`) and read the figures.
Goal on the 2-core reference machine: p99 tick lateness (the actual start of a sample minus
its due time on the fixed-rate grid) at most 5 ms. The server runs in its own process, as the
app under test does in a drill; every probe runs in this process's one event loop, through
`run_probes`, as in a run. Other work on the machine shows up as outliers: the load average
is printed next to the figures.

`--drills N` measures the same while N real drills run beside it (`gameday run --parallel N`
over the shipped scenarios, each drill in its own process with its emulator, gateway, app and
probes): the probes here stand for one more drill's. The measurement starts once every drill
has injected its faults, and the drills are stopped (Ctrl-C: rolled back) after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gameday.grading.timeline import Sample  # noqa: E402
from gameday.probes import (  # noqa: E402
    Probe,
    build_probe,
    open_probe_context,
    run_probes,
    run_schedule,
)
from gameday.scenario.probe_models import HttpProbe  # noqa: E402

GOAL_P99_MS = 5.0


@dataclass
class Run:
    """What one benchmark run saw."""

    lateness_ms: list[float]
    samples: list[Sample]
    elapsed_s: float
    cpu_s: float


def serve() -> None:
    """The server process: answer GET /health with 200, print the bound port, run until EOF."""

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


async def schedule_all(
    probes: list[Probe], origin: float, seconds: float, aligned: bool, run: Run
) -> None:
    def on_lateness(lateness_s: float) -> None:
        run.lateness_ms.append(lateness_s * 1000)

    if not aligned:
        await run_probes(
            probes,
            clock=time.monotonic,
            origin_s=origin,
            until=seconds,
            on_sample=lambda name, sample: run.samples.append(sample),
            on_lateness=on_lateness,
        )
        return
    await asyncio.gather(
        *(
            run_schedule(
                probe,
                clock=time.monotonic,
                origin_s=origin,
                until=seconds,
                on_sample=run.samples.append,
                on_lateness=on_lateness,
            )
            for probe in probes
        )
    )


async def drive(url: str, args: argparse.Namespace) -> Run:
    run = Run([], [], 0.0, 0.0)
    interval = f"{args.interval_ms:g}ms"
    async with open_probe_context(run_id="bench", origin_s=time.monotonic()) as ctx:
        probes = [
            build_probe(
                HttpProbe.model_validate(
                    {"kind": "http", "name": f"p{i}", "url": url, "interval": interval}
                ),
                ctx,
            )
            for i in range(args.probes)
        ]
        if not args.no_gc_freeze:
            # Everything made so far (modules, models, clients) lives for the whole run:
            # moving it out of the collector's reach turns a 20-40 ms full collection in the
            # middle of the observation into a short one. The engine should do the same once
            # a run is set up.
            gc.collect()
            gc.freeze()
        # Tick 0 a little ahead, so that starting the tasks is not counted as lateness.
        origin = time.monotonic() + 0.2
        cpu_start = time.process_time()
        await schedule_all(probes, origin, args.seconds, args.aligned, run)
        run.elapsed_s = time.monotonic() - origin
        run.cpu_s = time.process_time() - cpu_start
    return run


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def report(run: Run, args: argparse.Namespace, load_before: str) -> bool:
    late = run.lateness_ms
    observed = [s for s in run.samples if not s.missed]
    latencies = [s.latency_s * 1000 for s in observed if s.latency_s is not None]
    p99 = percentile(late, 99)
    print(
        f"load average before {load_before}, after {load()}; this process used "
        f"{run.cpu_s / run.elapsed_s:.0%} of one core"
    )
    beside = f", {args.drills} drill(s) running beside" if args.drills else ""
    print(
        f"{args.probes} http probes every {args.interval_ms:g} ms for {args.seconds:g} s"
        f"{' (aligned)' if args.aligned else ''}{beside}: {len(late)} ticks, "
        f"{len(observed) / run.elapsed_s:.0f} samples/s, "
        f"{len(run.samples) - len(observed)} missed, {sum(s.unhealthy for s in observed)} "
        f"unhealthy, sample latency p50 {percentile(latencies, 50):.2f} ms"
    )
    print(
        f"tick lateness: p50 {percentile(late, 50):.2f} ms, p95 {percentile(late, 95):.2f} ms, "
        f"p99 {p99:.2f} ms, max {max(late):.2f} ms (mean {statistics.fmean(late):.2f} ms); "
        f"goal p99 <= {GOAL_P99_MS:g} ms: {'ok' if p99 <= GOAL_P99_MS else 'OVER GOAL'}"
    )
    return p99 <= GOAL_P99_MS


DRILLS_READY_S = 180.0
"""How long the background drills have to reach their fault window."""


@contextlib.contextmanager
def drills_running(count: int, scenarios: Path) -> Iterator[None]:
    """``count`` drills in their fault window for the ``with`` block (none for 0): the
    shipped scenarios in turn, run by `gameday run --parallel COUNT`, then Ctrl-C."""
    if count == 0:
        yield
        return
    shipped = sorted(p for p in scenarios.glob("*.yaml") if "example" not in p.name)
    with tempfile.TemporaryDirectory(prefix="gameday-bench-probes-") as folder:
        suite = Path(folder) / "suite"
        suite.mkdir()
        # The scenarios name their runbooks as ../runbooks/NAME.md.
        (Path(folder) / "runbooks").symlink_to(scenarios.resolve().parent / "runbooks")
        for i in range(count):
            source = shipped[i % len(shipped)]
            shutil.copy(source, suite / f"{i:02d}-{source.name}")
        argv = [sys.executable, "-m", "gameday", "run", str(suite), "--parallel", str(count)]
        argv += ["--report-dir", str(Path(folder) / "out"), "--store", f"{folder}/history.db"]
        runner = subprocess.Popen(
            argv,
            cwd=scenarios.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        injecting = threading.Event()

        def follow() -> None:
            # Read every line, so that the runner never blocks on a full pipe.
            assert runner.stderr is not None
            seen = 0
            for line in runner.stderr:
                seen += ": phase    drill" in line
                if seen >= count:
                    injecting.set()

        threading.Thread(target=follow, daemon=True).start()
        try:
            if not injecting.wait(DRILLS_READY_S) or runner.poll() is not None:
                raise SystemExit(f"the {count} background drills did not reach their drill phase")
            time.sleep(6.0)  # past start_after (5 s in every shipped scenario): faults in force
            yield
        finally:
            runner.send_signal(signal.SIGINT)
            runner.wait(timeout=120)


def load() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--interval-ms", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--aligned", action="store_true", help="every probe on one grid, no phase spreading"
    )
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="leave set-up objects to the collector"
    )
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument(
        "--drills",
        type=int,
        default=0,
        help="measure while this many real drills run beside (gameday run --parallel N)",
    )
    parser.add_argument("--scenarios", type=Path, default=ROOT / "scenarios")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    with drills_running(args.drills, args.scenarios):
        return measure(args)


def measure(args: argparse.Namespace) -> int:
    """Start the server, run the probes for ``args.seconds``, print the figures."""
    load_before = load()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/health"
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        run = asyncio.run(drive(url, args))
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        server.stdout.close()
    return 0 if report(run, args, load_before) else 1


if __name__ == "__main__":
    sys.exit(main())
