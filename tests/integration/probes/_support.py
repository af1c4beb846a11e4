"""Real servers on loopback for the probe tests, and probe specs from plain fields."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter

from gameday.probes import ProbeContext, open_probe_context
from gameday.scenario.probe_models import Probe, ProbeVariant

_SPECS: TypeAdapter[ProbeVariant] = TypeAdapter(Probe)


def spec(kind: str, name: str = "p", **fields: Any) -> Any:
    """A validated probe spec, written as in a scenario (durations with units)."""
    return _SPECS.validate_python({"kind": kind, "name": name, **fields})


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on 127.0.0.1, a port the OS picks; yields its base URL."""
    # Handlers are cancelled when their client goes away, so tests can see a probe give up;
    # a short shutdown keeps a hung handler from holding the test at clean-up.
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def context(
    app_url: str | None = None, aws_endpoint_url: str | None = None, **extra: Any
) -> AsyncIterator[ProbeContext]:
    async with open_probe_context(
        run_id="run1",
        origin_s=time.monotonic(),
        app_url=app_url,
        aws_endpoint_url=aws_endpoint_url,
        **extra,
    ) as ctx:
        yield ctx
