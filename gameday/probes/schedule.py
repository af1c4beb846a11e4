"""The fixed-rate scheduler: tick k of a probe is due at ``origin_s + phase_s + k * interval_s``.

DESIGN.md "Probes": "Probes tick at a fixed rate on the monotonic clock: a slow sample does not
shift the schedule, and a tick missed because the previous sample ran over is recorded as
missed, never dropped silently." A probe has at most one sample in flight; the ticks that fall
due while it runs are recorded, once it ends, as missed ``Sample``s at their due offsets (see
``gameday.grading.timeline`` for how grading treats them). ``run_probes`` runs a whole
scenario's probes, each on its own phase of the interval::

    stop = asyncio.Event()
    await run_probes(probes, clock=time.monotonic, origin_s=origin, until=stop,
                     on_sample=lambda name, sample: timeline[name].append(sample))
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt, wait_fixed

from gameday.grading.timeline import Sample, timeout_detail
from gameday.probes.base import Clock, Observation, Probe

Sleep = Callable[[float], Awaitable[None]]
MISSED_DETAIL = "missed: previous sample still running"
# Float error in origin + k * interval must not turn "due now" into "due one tick later".
_DUE_EPSILON_S = 1e-9


async def run_schedule(
    probe: Probe,
    *,
    clock: Clock,
    origin_s: float,
    until: asyncio.Event | float,
    on_sample: Callable[[Sample], None],
    on_lateness: Callable[[float], None] | None = None,
    sleep: Sleep = asyncio.sleep,
    start_s: float = 0.0,
    phase_s: float = 0.0,
) -> None:
    """Sample ``probe`` at a fixed rate until ``until``; report each tick to ``on_sample``.

    - Ticks sit on the grid ``origin_s + phase_s + k * probe.interval_s`` (``origin_s`` is the
      run start on ``clock``; ``phase_s``, in [0, interval), shifts this probe's grid so that
      many probes do not all fire at once: see ``run_probes``). The first tick taken is the
      first grid point at or after ``start_s`` (an offset): a probe started mid-run is not
      charged with ticks from before it started. When that tick is already past at the call,
      the latest tick due by then is taken at once, late, and the ones before it are not
      charged either: nobody was sampling yet.
    - A sample's ``offset_s`` is its actual start minus ``origin_s``; ``on_lateness`` receives
      each taken tick's actual start minus its due time (the scheduling jitter).
    - ``until`` as an ``asyncio.Event``: stop when it is set, cancelling the sample in flight
      (it is not recorded: the observation ended before it did). As a number: a deadline offset
      from ``origin_s``; ticks due before it are taken, and the last sample runs to its end.
    - Cancelling the task that runs this cancels the sample in flight and returns nothing more.
    - ``sleep`` waits that many seconds of ``clock``: ``asyncio.sleep`` for ``time.monotonic``
      (the loop's clock), a fake in tests where time is the subject.
    """
    grid = _Grid.starting(origin_s, phase_s, probe.interval_s, start_s, now=clock())
    if isinstance(until, float | int):
        deadline = origin_s + until
        await _tick(probe, clock, grid, deadline, None, on_sample, on_lateness, sleep)
        return
    ticking = asyncio.create_task(
        _tick(probe, clock, grid, None, until, on_sample, on_lateness, sleep),
        name=f"probe {probe.name}",
    )
    stopping = asyncio.create_task(until.wait(), name=f"stop probe {probe.name}")
    try:
        await asyncio.wait((ticking, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        ticking.cancel()
        stopping.cancel()
        await asyncio.wait((ticking, stopping))
    if not ticking.cancelled() and (error := ticking.exception()) is not None:
        raise error


async def run_probes(
    probes: Sequence[Probe],
    *,
    clock: Clock,
    origin_s: float,
    until: asyncio.Event | float,
    on_sample: Callable[[str, Sample], None],
    on_lateness: Callable[[float], None] | None = None,
    sleep: Sleep = asyncio.sleep,
    start_s: float = 0.0,
) -> None:
    """``run_schedule`` for every probe at once; ``on_sample`` gets the probe's name too.

    Probe i of n ticks at phase ``interval * i / n``: without it every probe with the same
    interval falls due at the same instant, and the last one started in that burst is late
    by the time it took to start all the others (Prometheus spreads its scrapes over the
    interval for the same reason). A failing probe's bug cancels the others and is raised.
    """
    count = len(probes)
    async with asyncio.TaskGroup() as group:
        for index, probe in enumerate(probes):
            group.create_task(
                run_schedule(
                    probe,
                    clock=clock,
                    origin_s=origin_s,
                    until=until,
                    on_sample=functools.partial(on_sample, probe.name),
                    on_lateness=on_lateness,
                    sleep=sleep,
                    start_s=start_s,
                    phase_s=probe.interval_s * index / count,
                ),
                name=f"schedule {probe.name}",
            )


@dataclass(frozen=True, slots=True)
class _Grid:
    origin_s: float
    phase_s: float
    interval_s: float
    first: int

    @classmethod
    def starting(
        cls, origin_s: float, phase_s: float, interval_s: float, start_s: float, now: float
    ) -> _Grid:
        first = max(0, math.ceil((start_s - phase_s) / interval_s - _DUE_EPSILON_S))
        latest_due = math.floor((now - origin_s - phase_s) / interval_s + _DUE_EPSILON_S)
        return cls(origin_s, phase_s, interval_s, max(first, latest_due))

    def due(self, k: int) -> float:
        return self.origin_s + self.phase_s + k * self.interval_s


async def _tick(
    probe: Probe,
    clock: Clock,
    grid: _Grid,
    deadline: float | None,
    stop: asyncio.Event | None,
    on_sample: Callable[[Sample], None],
    on_lateness: Callable[[float], None] | None,
    sleep: Sleep,
) -> None:
    origin_s = grid.origin_s
    k = grid.first
    while True:
        due = grid.due(k)
        if deadline is not None and due >= deadline:
            return
        delay = due - clock()
        if delay > 0:
            await sleep(delay)
        # Checked here too, not only by the watcher task: once the event is set no sample
        # starts, however the wake-ups of this task and the watcher are ordered.
        if stop is not None and stop.is_set():
            return
        started = clock()
        if on_lateness is not None:
            on_lateness(started - due)
        on_sample(await take_sample(probe, clock, started - origin_s, sleep))
        finished = clock()
        k += 1
        due = grid.due(k)
        # Every tick that fell due while the sample ran was not observed: say so, in order.
        while due < finished and (deadline is None or due < deadline):
            on_sample(
                Sample(due - origin_s, ok=False, latency_s=None, missed=True, detail=MISSED_DETAIL)
            )
            k += 1
            due = grid.due(k)


async def take_sample(probe: Probe, clock: Clock, offset_s: float, sleep: Sleep) -> Sample:
    """One sample of ``probe``: its timeout on every attempt, and its retries.

    With one attempt the latency is the probe's own measurement; with retries it is the time
    the whole sample took on ``clock``, backoff included: what a caller that retries waits.
    """
    attempts = probe.retries.attempts
    if attempts <= 1:
        observation = await _attempt(probe, clock)
        return Sample(offset_s, observation.ok, observation.latency_s, detail=observation.detail)
    start = clock()
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait_fixed(probe.retries.backoff_s),
        retry=retry_if_result(_unhealthy),
        retry_error_callback=_last_result,
        sleep=sleep,
    )
    observation = await retrying(_attempt, probe, clock)
    used = retrying.statistics.get("attempt_number", attempts)
    detail = f"{observation.detail} (attempt {used} of {attempts})"
    return Sample(offset_s, observation.ok, max(0.0, clock() - start), detail=detail)


async def _attempt(probe: Probe, clock: Clock) -> Observation:
    start = clock()
    try:
        async with asyncio.timeout(probe.timeout_s):
            return await probe.sample()
    except TimeoutError:
        return Observation(False, max(0.0, clock() - start), timeout_detail(probe.timeout_s))


def _unhealthy(observation: Observation) -> bool:
    return not observation.ok


def _last_result(state: RetryCallState) -> Observation:
    # Called when the last attempt was unhealthy too: record that attempt, do not raise.
    assert state.outcome is not None
    result: Observation = state.outcome.result()
    return result
