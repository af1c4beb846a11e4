"""The fixed-rate scheduler where time is the subject: a fake clock and a fake sleep.

Everything that is not about when ticks happen (timeouts, retries against a server,
cancellation mid-request) is tested with the real clock in tests/integration/probes.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence

import pytest

from gameday.grading.timeline import Sample
from gameday.probes import (
    MISSED_DETAIL,
    Observation,
    RetryPolicy,
    run_probes,
    run_schedule,
    take_sample,
)


class FakeTime:
    """A clock that moves only when something sleeps or works."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        # Let other tasks (the stop watcher) run, as a real sleep would.
        await asyncio.sleep(0)


class ScriptedProbe:
    """Each sample takes the next scripted duration of fake time and reports the next outcome."""

    def __init__(
        self,
        time: FakeTime,
        durations: Sequence[float],
        outcomes: Sequence[bool] = (),
        *,
        interval_s: float = 1.0,
        retries: RetryPolicy | None = None,
    ) -> None:
        self.name = "scripted"
        self.interval_s = interval_s
        self.timeout_s = 60.0
        self.retries = retries or RetryPolicy()
        self.calls = 0
        self._time = time
        self._durations = list(durations)
        self._outcomes = list(outcomes)

    async def sample(self) -> Observation:
        index = self.calls
        self.calls += 1
        duration = self._durations[index] if index < len(self._durations) else 0.01
        ok = self._outcomes[index] if index < len(self._outcomes) else True
        self._time.now += duration
        await asyncio.sleep(0)
        return Observation(ok, duration, f"call {index}")


def run(
    probe: ScriptedProbe, time: FakeTime, origin_s: float, deadline_s: float
) -> tuple[list[Sample], list[float]]:
    samples: list[Sample] = []
    lateness: list[float] = []
    asyncio.run(
        run_schedule(
            probe,
            clock=time.clock,
            origin_s=origin_s,
            until=deadline_s,
            on_sample=samples.append,
            on_lateness=lateness.append,
            sleep=time.sleep,
        )
    )
    return samples, lateness


def offsets(samples: Sequence[Sample]) -> list[float]:
    return [round(s.offset_s, 9) for s in samples]


def test_a_slow_sample_does_not_shift_later_ticks() -> None:
    time = FakeTime()
    probe = ScriptedProbe(time, [0.1, 0.7, 0.1, 0.1])
    samples, lateness = run(probe, time, origin_s=time.now, deadline_s=4.0)
    assert offsets(samples) == [0.0, 1.0, 2.0, 3.0]
    assert [s.missed for s in samples] == [False] * 4
    assert [round(s.latency_s or 0, 9) for s in samples] == [0.1, 0.7, 0.1, 0.1]
    assert lateness == [0.0, 0.0, 0.0, 0.0]


def test_ticks_falling_due_during_an_overrun_are_recorded_as_missed_at_their_due_offsets() -> None:
    time = FakeTime()
    probe = ScriptedProbe(time, [0.1, 2.5, 0.1, 0.1])
    samples, _ = run(probe, time, origin_s=time.now, deadline_s=6.0)
    assert offsets(samples) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [s.missed for s in samples] == [False, False, True, True, False, False]
    missed = samples[2]
    assert missed == Sample(
        missed.offset_s, ok=False, latency_s=None, missed=True, detail=MISSED_DETAIL
    )
    assert MISSED_DETAIL == "missed: previous sample still running"
    # The overrunning sample keeps its own outcome: it is not the one marked missed.
    assert samples[1].ok and samples[1].detail == "call 1"
    assert probe.calls == 4


def test_a_sample_ending_exactly_on_the_next_due_time_misses_nothing() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(time, [0.25, 1.0, 0.25])
    samples, lateness = run(probe, time, origin_s=0.0, deadline_s=3.0)
    assert offsets(samples) == [0.0, 1.0, 2.0]
    assert not any(s.missed for s in samples)
    assert lateness == [0.0, 0.0, 0.0]


def test_the_grid_is_anchored_at_the_origin_and_starts_at_start_s() -> None:
    time = FakeTime(now=502.5)
    probe = ScriptedProbe(time, [], interval_s=1.0)
    samples: list[Sample] = []
    asyncio.run(
        run_schedule(
            probe,
            clock=time.clock,
            origin_s=500.0,
            until=6.0,
            on_sample=samples.append,
            sleep=time.sleep,
            start_s=2.5,
        )
    )
    # Ticks 0-2 were due before the probe started: not taken, and not charged as missed.
    assert offsets(samples) == [3.0, 4.0, 5.0]


def test_a_first_tick_already_past_is_taken_at_once_and_reported_late() -> None:
    time = FakeTime(now=500.25)
    probe = ScriptedProbe(time, [0.1, 0.1])
    samples, lateness = run(probe, time, origin_s=500.0, deadline_s=2.0)
    assert offsets(samples) == [0.25, 1.0]
    assert lateness == pytest.approx([0.25, 0.0])


def test_a_schedule_started_late_takes_the_latest_tick_and_charges_none_before_it() -> None:
    time = FakeTime(now=502.3)
    probe = ScriptedProbe(time, [0.1, 0.1])
    samples, lateness = run(probe, time, origin_s=500.0, deadline_s=4.0)
    assert offsets(samples) == [2.3, 3.0]
    assert not any(s.missed for s in samples)
    assert lateness == pytest.approx([0.3, 0.0])


def test_the_deadline_lets_the_last_sample_finish_and_charges_no_tick_after_it() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(time, [0.1, 3.5])
    samples, _ = run(probe, time, origin_s=0.0, deadline_s=3.0)
    assert offsets(samples) == [0.0, 1.0, 2.0]
    assert [s.missed for s in samples] == [False, False, True]
    assert time.now == pytest.approx(4.5)


def test_a_late_wake_up_is_reported_as_lateness_and_shifts_nothing() -> None:
    time = FakeTime(now=0.0)

    async def late_sleep(seconds: float) -> None:
        time.now += seconds + 0.004
        await asyncio.sleep(0)

    probe = ScriptedProbe(time, [0.1, 0.1, 0.1])
    samples: list[Sample] = []
    lateness: list[float] = []
    asyncio.run(
        run_schedule(
            probe,
            clock=time.clock,
            origin_s=0.0,
            until=3.0,
            on_sample=samples.append,
            on_lateness=lateness.append,
            sleep=late_sleep,
        )
    )
    assert offsets(samples) == [0.0, 1.004, 2.004]
    assert lateness == pytest.approx([0.0, 0.004, 0.004])


def test_an_event_stops_the_schedule() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(time, [], interval_s=0.5)

    async def main() -> list[Sample]:
        stop = asyncio.Event()
        samples: list[Sample] = []

        def on_sample(sample: Sample) -> None:
            samples.append(sample)
            if len(samples) == 3:
                stop.set()

        await run_schedule(
            probe, clock=time.clock, origin_s=0.0, until=stop, on_sample=on_sample, sleep=time.sleep
        )
        return samples

    samples = asyncio.run(main())
    assert offsets(samples) == [0.0, 0.5, 1.0]


def test_retries_make_one_sample_whose_latency_includes_the_backoff() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(
        time,
        [0.1, 0.1, 0.1],
        [False, False, True],
        retries=RetryPolicy(attempts=3, backoff_s=0.5),
    )
    sample = asyncio.run(take_sample(probe, time.clock, 7.0, time.sleep))
    assert sample.ok
    assert sample.offset_s == 7.0
    assert sample.latency_s == pytest.approx(0.1 * 3 + 0.5 * 2)
    assert sample.detail == "call 2 (attempt 3 of 3)"
    assert probe.calls == 3


def test_retries_give_up_after_the_declared_attempts_with_the_last_outcome() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(
        time, [0.1] * 5, [False] * 5, retries=RetryPolicy(attempts=2, backoff_s=0.0)
    )
    sample = asyncio.run(take_sample(probe, time.clock, 0.0, time.sleep))
    assert not sample.ok
    assert sample.detail == "call 1 (attempt 2 of 2)"
    assert probe.calls == 2


def test_a_bug_in_a_probe_is_raised_not_recorded() -> None:
    time = FakeTime(now=0.0)

    class Broken(ScriptedProbe):
        async def sample(self) -> Observation:
            raise ZeroDivisionError("bug")

    async def main() -> None:
        await run_schedule(
            Broken(time, []),
            clock=time.clock,
            origin_s=0.0,
            until=asyncio.Event(),
            on_sample=lambda s: None,
            sleep=time.sleep,
        )

    with pytest.raises(ZeroDivisionError, match="bug"):
        asyncio.run(main())


class SharedFakeTime(FakeTime):
    """Fake time for several sleepers: time jumps to the earliest wake-up once all are idle."""

    def __init__(self, now: float = 0.0) -> None:
        super().__init__(now)
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._count += 1
        heapq.heappush(self._waiters, (self.now + max(0.0, seconds), self._count, future))
        await future

    async def advance_forever(self) -> None:
        while True:
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            if self._waiters:
                wake, _, future = heapq.heappop(self._waiters)
                self.now = max(self.now, wake)
                future.set_result(None)


def test_run_probes_spreads_the_probes_over_the_interval_and_names_their_samples() -> None:
    time = SharedFakeTime(now=0.0)
    probes = [ScriptedProbe(time, [], interval_s=1.0) for _ in range(4)]
    for index, probe in enumerate(probes):
        probe.name = f"p{index}"
    seen: list[tuple[str, float]] = []

    async def main() -> None:
        advancing = asyncio.create_task(time.advance_forever())
        try:
            await run_probes(
                probes,
                clock=time.clock,
                origin_s=0.0,
                until=2.0,
                on_sample=lambda name, sample: seen.append((name, round(sample.offset_s, 9))),
                sleep=time.sleep,
            )
        finally:
            advancing.cancel()

    asyncio.run(main())
    assert seen == [
        ("p0", 0.0),
        ("p1", 0.25),
        ("p2", 0.5),
        ("p3", 0.75),
        ("p0", 1.0),
        ("p1", 1.25),
        ("p2", 1.5),
        ("p3", 1.75),
    ]


def test_a_phase_moves_the_grid_and_missed_ticks_stay_on_it() -> None:
    time = FakeTime(now=0.0)
    probe = ScriptedProbe(time, [1.6, 0.1])
    samples: list[Sample] = []
    asyncio.run(
        run_schedule(
            probe,
            clock=time.clock,
            origin_s=0.0,
            until=3.5,
            on_sample=samples.append,
            sleep=time.sleep,
            phase_s=0.5,
        )
    )
    assert offsets(samples) == [0.5, 1.5, 2.5]
    assert [s.missed for s in samples] == [False, True, False]


def test_a_bug_in_one_of_run_probes_stops_them_all_and_is_raised() -> None:
    time = SharedFakeTime(now=0.0)

    class Broken(ScriptedProbe):
        async def sample(self) -> Observation:
            raise ZeroDivisionError("bug")

    healthy = ScriptedProbe(time, [])
    seen: list[str] = []

    async def main() -> None:
        advancing = asyncio.create_task(time.advance_forever())
        try:
            await run_probes(
                [healthy, Broken(time, [])],
                clock=time.clock,
                origin_s=0.0,
                until=asyncio.Event(),
                on_sample=lambda name, sample: seen.append(name),
                sleep=time.sleep,
            )
        finally:
            advancing.cancel()

    with pytest.raises(ExceptionGroup) as raised:
        asyncio.run(main())
    assert [type(e) for e in raised.value.exceptions] == [ZeroDivisionError]
    assert seen == ["scripted"]
