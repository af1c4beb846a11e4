"""The http probe, and the scheduler's timeout, retries and cancellation, with the real clock."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from aiohttp import web

from gameday.grading.timeline import Sample
from gameday.probes import ProbeError, build_probe, run_schedule, take_sample
from tests.integration.probes._support import context, serving, spec


def scheduler_tasks() -> list[asyncio.Task[object]]:
    """Tasks the scheduler made that are still alive (the servers' own tasks are not ours)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(("probe ", "stop probe "))]


class App:
    """A small real web app whose answers the tests choose."""

    def __init__(self) -> None:
        self.flaky_calls = 0
        self.hung = asyncio.Event()
        self.hung_cancelled = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/ok", self.ok)
        self.app.router.add_post("/ok", self.ok)
        self.app.router.add_get("/status/{code}", self.status)
        self.app.router.add_get("/slow/{ms}", self.slow)
        self.app.router.add_get("/flaky", self.flaky)
        self.app.router.add_get("/hang", self.hang)

    async def ok(self, request: web.Request) -> web.Response:
        return web.Response(text=f"hello from {request.method}")

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="nope")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="late")

    async def flaky(self, request: web.Request) -> web.Response:
        self.flaky_calls += 1
        if self.flaky_calls <= 2:
            return web.Response(status=503, text="not yet")
        return web.Response(text="ready")

    async def hang(self, request: web.Request) -> web.Response:
        self.hung.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.hung_cancelled.set()
            raise
        return web.Response(text="never")


def test_a_matching_status_and_body_is_healthy() -> None:
    async def main() -> None:
        async with serving(App().app) as base, context(app_url=base + "/") as ctx:
            probe = build_probe(
                spec("http", url="{app}/ok", expect={"body_contains": "hello"}), ctx
            )
            observation = await probe.sample()
            assert observation.ok
            assert observation.detail == "200"
            assert 0 < observation.latency_s < 1
            posted = await build_probe(spec("http", url="{app}/ok", method="POST"), ctx).sample()
            assert posted.ok

    asyncio.run(main())


def test_unexpected_status_body_and_latency_are_unhealthy_with_the_reason() -> None:
    async def main() -> None:
        async with serving(App().app) as base, context(app_url=base) as ctx:
            status = await build_probe(spec("http", url="{app}/status/503"), ctx).sample()
            assert (status.ok, status.detail) == (False, "status 503, expected 200")
            accepted = spec("http", url="{app}/status/503", expect={"status": [200, 503]})
            assert (await build_probe(accepted, ctx).sample()).ok
            body = spec("http", url="{app}/ok", expect={"body_contains": "goodbye"})
            observation = await build_probe(body, ctx).sample()
            assert (observation.ok, observation.detail) == (
                False,
                "status 200, body lacks 'goodbye'",
            )
            slow = spec("http", url="{app}/slow/120", expect={"max_latency": "50ms"})
            observation = await build_probe(slow, ctx).sample()
            assert not observation.ok
            assert observation.latency_s >= 0.12
            assert observation.detail.startswith("status 200 in ")
            assert observation.detail.endswith("ms, over 50ms")

    asyncio.run(main())


def test_a_refused_connection_is_unhealthy() -> None:
    # Bound but not listening: connections are refused, and no other test can take the port.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]

        async def main() -> None:
            async with context() as ctx:
                url = f"http://127.0.0.1:{port}/"
                observation = await build_probe(spec("http", url=url), ctx).sample()
                assert not observation.ok
                assert observation.detail.startswith("ClientConnectorError: ")

        asyncio.run(main())


def test_app_placeholder_without_an_app_is_a_probe_error() -> None:
    async def main() -> None:
        async with context() as ctx:
            with pytest.raises(ProbeError) as raised:
                build_probe(spec("http", name="web", url="{app}/health"), ctx)
            assert str(raised.value) == (
                "probe 'web': url '{app}/health' uses '{app}' but the target has no app"
            )
            assert raised.value.hint == "give the scenario a target.app, or write the full URL"

    asyncio.run(main())


def test_a_hung_request_times_out_as_an_unhealthy_sample() -> None:
    async def main() -> None:
        app = App()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            probe = build_probe(spec("http", url="{app}/hang", timeout="200ms"), ctx)
            start = time.monotonic()
            sample = await take_sample(probe, time.monotonic, 1.5, asyncio.sleep)
            elapsed = time.monotonic() - start
            assert (sample.ok, sample.detail, sample.offset_s) == (
                False,
                "timeout after 0.2s",
                1.5,
            )
            assert sample.latency_s is not None
            assert 0.2 <= sample.latency_s < 0.5
            assert elapsed < 0.5
            # The client really gave up: the server saw the connection go.
            await asyncio.wait_for(app.hung_cancelled.wait(), 2)

    asyncio.run(main())


def test_a_server_that_fails_twice_then_answers_gives_one_healthy_sample() -> None:
    async def main() -> None:
        app = App()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            retried = spec("http", url="{app}/flaky", retries={"attempts": 3, "backoff": "20ms"})
            probe = build_probe(retried, ctx)
            sample = await take_sample(probe, time.monotonic, 0.0, asyncio.sleep)
            assert sample.ok
            assert sample.detail == "200 (attempt 3 of 3)"
            assert sample.latency_s is not None and sample.latency_s >= 0.04
            assert app.flaky_calls == 3

    asyncio.run(main())


def test_real_clock_schedule_keeps_the_rate_and_records_overruns_as_missed() -> None:
    async def main() -> tuple[list[Sample], list[Sample]]:
        async with serving(App().app) as base, context(app_url=base) as ctx:
            # 60 ms samples every 200 ms miss nothing; 300 ms samples miss every other tick.
            fast = build_probe(spec("http", url="{app}/slow/60", interval="200ms"), ctx)
            slow = build_probe(spec("http", url="{app}/slow/300", interval="200ms"), ctx)
            fast_samples: list[Sample] = []
            slow_samples: list[Sample] = []
            origin = time.monotonic()
            await asyncio.gather(
                run_schedule(
                    fast,
                    clock=time.monotonic,
                    origin_s=origin,
                    until=1.2,
                    on_sample=fast_samples.append,
                ),
                run_schedule(
                    slow,
                    clock=time.monotonic,
                    origin_s=origin,
                    until=1.2,
                    on_sample=slow_samples.append,
                ),
            )
            return fast_samples, slow_samples

    fast_samples, slow_samples = asyncio.run(main())
    assert [s.missed for s in fast_samples] == [False] * 6
    for k, sample in enumerate(fast_samples):
        # On the grid, not drifting by the 60 ms each sample took.
        assert k * 0.2 <= sample.offset_s < k * 0.2 + 0.05
    assert [s.missed for s in slow_samples] == [False, True] * 3
    assert [round(s.offset_s, 6) for s in slow_samples if s.missed] == [0.2, 0.6, 1.0]


def test_cancelling_the_schedule_mid_request_is_clean() -> None:
    async def main() -> None:
        app = App()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            probe = build_probe(spec("http", url="{app}/hang", interval="50ms", timeout="10s"), ctx)
            samples: list[Sample] = []
            task = asyncio.create_task(
                run_schedule(
                    probe,
                    clock=time.monotonic,
                    origin_s=time.monotonic(),
                    until=asyncio.Event(),
                    on_sample=samples.append,
                )
            )
            await asyncio.wait_for(app.hung.wait(), 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(app.hung_cancelled.wait(), 2)
            assert samples == []
            assert scheduler_tasks() == []

    asyncio.run(main())


def test_an_event_stops_the_schedule_and_cancels_the_sample_in_flight() -> None:
    async def main() -> None:
        app = App()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            ok = build_probe(spec("http", url="{app}/ok", interval="50ms"), ctx)
            hung = build_probe(spec("http", url="{app}/hang", interval="50ms", timeout="10s"), ctx)
            stop = asyncio.Event()
            ok_samples: list[Sample] = []
            hung_samples: list[Sample] = []
            origin = time.monotonic()
            runs = asyncio.gather(
                run_schedule(
                    ok,
                    clock=time.monotonic,
                    origin_s=origin,
                    until=stop,
                    on_sample=ok_samples.append,
                ),
                run_schedule(
                    hung,
                    clock=time.monotonic,
                    origin_s=origin,
                    until=stop,
                    on_sample=hung_samples.append,
                ),
            )
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.wait_for(runs, 1)
            # About six ticks in 300 ms; a loaded machine may miss some, never fail one.
            assert 3 <= len(ok_samples) <= 8
            assert not any(s.unhealthy for s in ok_samples)
            assert hung_samples == []
            await asyncio.wait_for(app.hung_cancelled.wait(), 2)
            assert scheduler_tasks() == []

    asyncio.run(main())
