"""The alert sink: a real server on loopback, real POSTs."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gameday.grading.timeline import Alert
from gameday.probes import ALERT_URL_ENV, AlertSink, build_probe
from gameday.probes.alert import MAX_BODY_BYTES
from tests.integration.probes._support import context, spec


class Ticks:
    """A clock the test sets by hand: alert times are then exact."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_every_post_is_recorded_at_its_offset_and_matched_on_the_filter() -> None:
    clock = Ticks(100.0)

    async def main() -> tuple[Alert, ...]:
        sink = AlertSink("pager", "checkout degraded", clock=clock, origin_s=90.0)
        async with sink, aiohttp.ClientSession() as session:
            assert sink.url.startswith("http://127.0.0.1:")
            statuses = []
            clock.now = 112.5
            async with session.post(sink.url, json={"text": "checkout degraded: sts"}) as r:
                statuses.append(r.status)
            clock.now = 113.0
            async with session.post(sink.url + "/other/path", data=b"disk full") as r:
                statuses.append(r.status)
            clock.now = 114.0
            # The match text past the size limit is not seen: only the head of a body counts.
            big = b"x" * MAX_BODY_BYTES + b"checkout degraded"
            async with session.post(sink.url, data=big) as r:
                statuses.append(r.status)
            async with session.get(sink.url) as r:
                statuses.append(r.status)
            assert statuses == [204, 204, 204, 405]
        return sink.alerts

    alerts = asyncio.run(main())
    assert alerts == (Alert(22.5, True), Alert(23.0, False), Alert(24.0, False))


def test_without_a_filter_every_alert_matches_and_the_sink_is_built_from_the_spec() -> None:
    async def main() -> None:
        async with context() as ctx:
            sink = build_probe(spec("alert", name="pager"), ctx)
            assert isinstance(sink, AlertSink)
            with pytest.raises(RuntimeError, match="alert sink 'pager' is not started"):
                _ = sink.url
            async with sink:
                async with ctx.session.post(sink.url, data="anything") as response:
                    assert response.status == 204
                url = sink.url
            assert [a.matched for a in sink.alerts] == [True]
            assert 0 <= sink.alerts[0].received_at_s < 5
            # Stopped: nothing listens any more, and what was received stays readable.
            with pytest.raises(aiohttp.ClientConnectionError):
                async with ctx.session.post(url, data="late"):
                    pass
            assert len(sink.alerts) == 1

    asyncio.run(main())
    assert ALERT_URL_ENV == "GAMEDAY_ALERT_URL"
