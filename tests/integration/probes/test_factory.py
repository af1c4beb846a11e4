"""build_probe: one probe type per kind, and the shared context's life cycle."""

from __future__ import annotations

import asyncio
from typing import Any

from gameday.probes import AlertSink, DataProbe, Probe, build_probe, open_probe_context
from gameday.probes.aws import AwsProbe
from gameday.probes.command import CommandProbe
from gameday.probes.dns import DnsProbe
from gameday.probes.http import HttpProbe
from gameday.probes.prometheus import PrometheusProbe
from tests.integration.probes._support import spec


def test_each_kind_builds_its_probe_with_the_spec_timing() -> None:
    kinds: dict[str, tuple[type[Probe], dict[str, Any]]] = {
        "http": (HttpProbe, {"url": "{app}/health"}),
        "aws": (AwsProbe, {"service": "sts", "call": "get_caller_identity"}),
        "command": (CommandProbe, {"command": ["true"]}),
        "prometheus": (PrometheusProbe, {"url": "http://127.0.0.1:9090", "query": "up"}),
        "dns": (DnsProbe, {"hostname": "localhost"}),
        "data": (DataProbe, {"write_url": "{app}/o/{marker}", "read": {"url": "{app}/o/{marker}"}}),
    }

    async def main() -> None:
        async with open_probe_context(
            run_id="r", origin_s=0.0, app_url="http://127.0.0.1:8080/"
        ) as ctx:
            for kind, (expected, fields) in kinds.items():
                probe = build_probe(
                    spec(
                        kind,
                        name=kind,
                        interval="250ms",
                        timeout="1s",
                        retries={"attempts": 2, "backoff": "50ms"},
                        **fields,
                    ),
                    ctx,
                )
                assert isinstance(probe, expected), kind
                assert not isinstance(probe, AlertSink)
                assert (probe.name, probe.interval_s, probe.timeout_s) == (kind, 0.25, 1.0)
                assert (probe.retries.attempts, probe.retries.backoff_s) == (2, 0.05)
            http = build_probe(spec("http", url="{app}/health"), ctx)
            assert isinstance(http, HttpProbe)
            assert http.url == "http://127.0.0.1:8080/health"
            assert isinstance(build_probe(spec("alert"), ctx), AlertSink)

    asyncio.run(main())


def test_the_context_closes_its_session_on_exit() -> None:
    async def main() -> None:
        async with open_probe_context(run_id="r", origin_s=0.0) as ctx:
            assert not ctx.session.closed
        assert ctx.session.closed

    asyncio.run(main())
