"""The data probe: writes through a real app that drops and refuses some, read back two ways."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import boto3
from aiohttp import web

from gameday.grading.timeline import Marker, Sample
from gameday.probes import DataProbe, build_probe, run_schedule
from tests.integration.probes._support import context, serving, spec


class OrdersApp:
    """Write n: n % 4 == 1 is refused (503); n % 4 == 2 is acknowledged (201) but dropped."""

    def __init__(self) -> None:
        self.stored: set[str] = set()
        self.bodies: list[Any] = []
        self.app = web.Application()
        self.app.router.add_post("/orders/{marker}", self.write)
        self.app.router.add_get("/orders/{marker}", self.read)
        self.app.router.add_get("/broken/{marker}", self.broken)

    async def write(self, request: web.Request) -> web.Response:
        n = len(self.bodies)
        self.bodies.append(await request.json())
        if n % 4 == 1:
            return web.Response(status=503, text="store unavailable")
        if n % 4 != 2:
            self.stored.add(request.match_info["marker"])
        return web.Response(status=201)

    async def read(self, request: web.Request) -> web.Response:
        found = request.match_info["marker"] in self.stored
        return web.Response(status=200 if found else 404)

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500)


def orders_spec(read: dict[str, str], name: str = "orders") -> Any:
    # No settle and a short deadline unless a test says otherwise: these apps store at once.
    read = {"settle": "0s", "deadline": "300ms", **read}
    return spec("data", name=name, interval="50ms", write_url="{app}/orders/{marker}", read=read)


async def write_markers(probe: DataProbe, count: int) -> None:
    for _ in range(count):
        await probe.sample()


def test_markers_are_written_acknowledged_or_refused_and_read_back_through_the_app() -> None:
    async def main() -> None:
        orders = OrdersApp()
        async with serving(orders.app) as base, context(app_url=base) as ctx:
            probe = build_probe(orders_spec({"url": "{app}/orders/{marker}"}), ctx)
            samples: list[Sample] = []
            await run_schedule(
                probe, clock=ctx.clock, origin_s=ctx.origin_s, until=0.4, on_sample=samples.append
            )
            assert len(samples) == 8 and not any(s.missed for s in samples)
            assert [s.ok for s in samples] == [True, False, True, True] * 2
            assert samples[0].detail == "marker orders-run1-0 acknowledged (201)"
            assert samples[1].detail == "marker orders-run1-1 refused (503)"
            assert orders.bodies[3] == {"marker": "orders-run1-3"}
            written = probe.markers
            assert [m.seq for m in written] == list(range(8))
            assert all(m.found is None for m in written)
            # A marker is stamped when its write starts, on the run clock.
            for marker, sample in zip(written, samples, strict=True):
                assert 0 <= marker.written_at_s - sample.offset_s < 0.005

            result = await probe.read_back()
            assert result.problems == ()
            assert [(m.acknowledged, m.found) for m in result.markers] == [
                (True, True),
                (False, None),
                (True, False),
                (True, True),
            ] * 2
            assert result.markers == probe.markers
            assert [m.seq for m in result.markers if m.lost] == [2, 6]

    asyncio.run(main())


def test_an_unreachable_app_refuses_the_write_and_the_marker_is_kept() -> None:
    async def main() -> None:
        async with context(app_url="http://127.0.0.1:9") as ctx:
            probe = build_probe(orders_spec({"url": "{app}/orders/{marker}"}), ctx)
            observation = await probe.sample()
            assert not observation.ok
            assert observation.detail.startswith("marker orders-run1-0 refused: ")
            assert probe.markers == (Marker(0, probe.markers[0].written_at_s, False, None),)

    asyncio.run(main())


def test_read_back_that_cannot_tell_leaves_markers_unverified_and_says_why() -> None:
    async def main() -> None:
        orders = OrdersApp()
        async with serving(orders.app) as base, context(app_url=base) as ctx:
            probe = build_probe(orders_spec({"url": "{app}/broken/{marker}"}), ctx)
            await write_markers(probe, 3)
            result = await probe.read_back()
            assert [m.found for m in result.markers] == [None, None, None]
            assert len(result.problems) == 1
            assert result.problems[0].startswith(
                "probe 'orders': 2 marker(s) unverified, still unread after retrying for 300ms: "
                f"GET {base}/broken/orders-run1-"
            )
            assert result.problems[0].endswith(": status 500, expected 200 or 404 (and 1 more)")

    asyncio.run(main())


def test_read_back_from_cloudwatch_logs_finds_exactly_the_shipped_markers(moto_url: str) -> None:
    group = f"/gameday/audit-{time.monotonic_ns()}"
    logs = boto3.client("logs", endpoint_url=moto_url, region_name="us-east-1")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")

    async def main() -> tuple[Marker, ...]:
        orders = OrdersApp()
        async with (
            serving(orders.app) as base,
            context(app_url=base, aws_endpoint_url=moto_url) as ctx,
        ):
            probe: DataProbe = build_probe(orders_spec({"log_group": group}), ctx)
            await write_markers(probe, 8)
            # The app's audit log: one line per order it kept, plus lines that look alike.
            now_ms = int(time.time() * 1000)
            lines = [f"order stored id={marker}" for marker in sorted(orders.stored)]
            lines += ["order stored id=orders-run2-2", "order stored id=xorders-run1-6"]
            lines += ["order stored id=orders-run1-62"]
            logs.put_log_events(
                logGroupName=group,
                logStreamName="app",
                logEvents=[{"timestamp": now_ms + i, "message": m} for i, m in enumerate(lines)],
            )
            result = await probe.read_back()
            assert result.problems == ()
            return result.markers

    markers = asyncio.run(main())
    logs.close()
    assert [(m.acknowledged, m.found) for m in markers] == [
        (True, True),
        (False, None),
        (True, False),
        (True, True),
    ] * 2


def test_a_missing_log_group_leaves_markers_unverified_and_says_why(moto_url: str) -> None:
    async def main() -> None:
        orders = OrdersApp()
        async with (
            serving(orders.app) as base,
            context(app_url=base, aws_endpoint_url=moto_url) as ctx,
        ):
            probe = build_probe(orders_spec({"log_group": "/gameday/never-made"}), ctx)
            await write_markers(probe, 2)
            result = await probe.read_back()
            assert [m.found for m in result.markers] == [None, None]
            assert len(result.problems) == 1
            assert result.problems[0].startswith(
                "probe 'orders': cannot read log group '/gameday/never-made' (retried for 300ms): "
            )
            assert result.problems[0].endswith("; 1 marker(s) unverified")
            assert "ResourceNotFoundException" in result.problems[0]

    asyncio.run(main())
