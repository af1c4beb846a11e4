"""The data probe's read-back waits, flushes and retries (issue 15): real apps on loopback, and
CloudWatch Logs read through the real gateway in front of a real moto server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import boto3
from aiohttp import web

from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultSpec
from gameday.gateway.thread import Gateway
from gameday.probes import DataProbe, build_probe
from tests.integration.probes._support import context, serving, spec


class BatchingApp:
    """Acknowledges every write, keeps it only when it ships: after ``ship_after_s``, or on
    POST /flush. GET /orders/{m} fails the first ``fail_reads`` reads of each marker (500)."""

    def __init__(self, *, ship_after_s: float = 3600.0, fail_reads: int = 0) -> None:
        self.ship_after_s = ship_after_s
        self.fail_reads = fail_reads
        self.buffered: list[str] = []
        self.stored: set[str] = set()
        self.reads: dict[str, int] = {}
        self.flushes = 0
        self.app = web.Application()
        self.app.router.add_post("/orders/{marker}", self.write)
        self.app.router.add_get("/orders/{marker}", self.read)
        self.app.router.add_post("/flush", self.flush)
        self.app.router.add_post("/broken-flush", self.broken_flush)

    async def write(self, request: web.Request) -> web.Response:
        marker = request.match_info["marker"]
        self.buffered.append(marker)
        asyncio.get_running_loop().call_later(self.ship_after_s, self.stored.add, marker)
        return web.Response(status=201)

    async def read(self, request: web.Request) -> web.Response:
        marker = request.match_info["marker"]
        self.reads[marker] = self.reads.get(marker, 0) + 1
        if self.reads[marker] <= self.fail_reads:
            return web.Response(status=500)
        return web.Response(status=200 if marker in self.stored else 404)

    async def flush(self, request: web.Request) -> web.Response:
        self.flushes += 1
        self.stored.update(self.buffered)
        return web.Response(status=204)

    async def broken_flush(self, request: web.Request) -> web.Response:
        self.flushes += 1
        return web.Response(status=503)


def data_spec(**read: str | None) -> Any:
    fields = {"url": "{app}/orders/{marker}", "settle": "0s", "deadline": "2s", **read}
    return spec(
        "data", name="orders", interval="50ms", write_url="{app}/orders/{marker}", read=fields
    )


async def written(probe: DataProbe, count: int) -> None:
    for _ in range(count):
        assert (await probe.sample()).ok


def test_a_read_that_fails_once_is_retried_and_every_marker_is_read() -> None:
    async def main() -> None:
        app = BatchingApp(ship_after_s=0.0, fail_reads=1)
        async with serving(app.app) as base, context(app_url=base) as ctx:
            probe = build_probe(data_spec(), ctx)
            await written(probe, 5)
            result = await probe.read_back()
            assert [m.found for m in result.markers] == [True] * 5
            assert result.problems == ()
            assert result.notes == ("probe 'orders': 5 marker(s) read only after a retry",)
            assert set(app.reads.values()) == {2}

    asyncio.run(main())


def test_without_settle_unshipped_writes_read_as_lost_and_with_it_they_do_not() -> None:
    async def main(settle: str) -> list[bool | None]:
        app = BatchingApp(ship_after_s=0.3)
        async with serving(app.app) as base, context(app_url=base) as ctx:
            probe = build_probe(data_spec(settle=settle), ctx)
            await written(probe, 4)
            started = time.monotonic()
            result = await probe.read_back()
            if settle != "0s":
                assert time.monotonic() - started >= 0.6
            return [m.found for m in result.markers]

    assert asyncio.run(main("0s")) == [False] * 4
    assert asyncio.run(main("600ms")) == [True] * 4


def test_flush_url_is_posted_once_before_read_back() -> None:
    async def main() -> None:
        app = BatchingApp()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            probe = build_probe(data_spec(flush_url="{app}/flush"), ctx)
            await written(probe, 3)
            result = await probe.read_back()
            assert [m.found for m in result.markers] == [True] * 3
            assert (result.flushed, app.flushes) == (True, 1)
            assert result.notes == (f"probe 'orders': flushed: POST {base}/flush answered 204",)

    asyncio.run(main())


def test_a_failed_flush_is_retried_then_reported_and_read_back_goes_on() -> None:
    async def main() -> None:
        app = BatchingApp()
        async with serving(app.app) as base, context(app_url=base) as ctx:
            spec_ = data_spec(flush_url="{app}/broken-flush", deadline="400ms")
            probe = build_probe(spec_, ctx)
            await written(probe, 2)
            result = await probe.read_back()
            assert result.flushed is False and app.flushes >= 2
            assert [m.found for m in result.markers] == [False, False]
            (problem,) = result.problems
            assert problem == (
                "probe 'orders': flush failed, read back without it: "
                f"POST {base}/broken-flush: status 503, expected 2xx"
            )

    asyncio.run(main())


def test_a_log_group_read_denied_once_through_the_gateway_is_retried(moto_url: str) -> None:
    group = f"/gameday/retry-{time.monotonic_ns()}"
    logs = boto3.client("logs", endpoint_url=moto_url, region_name="us-east-1")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")

    async def main(gateway_url: str) -> None:
        app = BatchingApp(ship_after_s=0.0)
        async with (
            serving(app.app) as base,
            context(app_url=base, aws_endpoint_url=gateway_url) as ctx,
        ):
            probe = build_probe(data_spec(url=None, log_group=group), ctx)
            await written(probe, 3)
            now_ms = int(time.time() * 1000)
            events: list[Any] = [
                {"timestamp": now_ms, "message": f"stored {m}"} for m in app.buffered[:2]
            ]
            logs.put_log_events(logGroupName=group, logStreamName="app", logEvents=events)
            result = await probe.read_back()
            assert [m.found for m in result.markers] == [True, True, False]
            assert result.problems == ()
            assert result.notes == ("probe 'orders': the log group was read only after a retry",)

    with Gateway(moto_url, seed=1) as gateway:
        admin = GatewayClient(gateway.url)
        # AccessDenied: botocore does not retry it itself, so only read-back's retry can help.
        once = {
            "id": "filter-once",
            "match": {"services": ["logs"], "operations": ["FilterLogEvents"], "max_hits": 1},
            "effect": {"mode": "denied"},
            "ttl_seconds": 60,
        }
        admin.add(FaultSpec.model_validate(once))
        asyncio.run(main(gateway.url))
        (spent,) = admin.list()
        assert spent.hits == 1
    logs.close()
