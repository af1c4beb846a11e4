"""The ``alert`` probe: a webhook sink the runner hosts, for time-to-detect (TTD).

It has no periodic samples: it does not poll anything, it waits to be told. The app's alerting
is given ``sink.url`` (as ``GAMEDAY_ALERT_URL``) and POSTs to it; every POST is recorded as an
``Alert`` at its offset on the run clock, ``matched`` when the body contains the probe's
``match`` text (or always, with no ``match``). The sink answers 204 to every POST, whatever the
body, so that the app's alerting never sees an error from the runner itself.
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from gameday.grading.timeline import Alert
from gameday.probes.base import Clock, ProbeContext
from gameday.scenario.probe_models import AlertProbe as AlertProbeSpec

ALERT_URL_ENV = "GAMEDAY_ALERT_URL"
"""The environment variable that hands the sink's URL to the app."""
# Only the head of a body is matched: an alert's text is short, and a sink that buffered any
# size of body could be made to hold the runner's memory.
MAX_BODY_BYTES = 64 * 1024


class AlertSink:
    """An HTTP server on 127.0.0.1 (a port the OS picks) that records alerts.

    >>> async with AlertSink.from_spec(spec, ctx) as sink:
    ...     start_app(env={ALERT_URL_ENV: sink.url})
    ...     ...
    >>> sink.alerts  # [Alert(received_at_s=12.3, matched=True)]
    """

    def __init__(
        self,
        name: str,
        match: str | None,
        *,
        clock: Clock,
        origin_s: float,
        host: str = "127.0.0.1",
    ) -> None:
        self.name = name
        self.match = match
        self._clock = clock
        self._origin_s = origin_s
        self._host = host
        self._alerts: list[Alert] = []
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @classmethod
    def from_spec(cls, spec: AlertProbeSpec, ctx: ProbeContext) -> AlertSink:
        """A sink for ``spec``; only the run clock is taken from ``ctx``."""
        return cls(spec.name, spec.match, clock=ctx.clock, origin_s=ctx.origin_s)

    @property
    def url(self) -> str:
        """Where to POST alerts; known once the sink has started."""
        if self._url is None:
            raise RuntimeError(f"alert sink {self.name!r} is not started")
        return self._url

    @property
    def alerts(self) -> tuple[Alert, ...]:
        """Every POST received so far, in arrival order."""
        return tuple(self._alerts)

    async def start(self) -> None:
        """Bind and start serving; ``url`` is valid from here on."""
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, 0).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        # Port 0 and reading the bound port back: binding, closing and re-binding races.
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}/alert"

    async def stop(self) -> None:
        """Stop serving; the alerts received stay readable."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> AlertSink:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _receive(self, request: web.Request) -> web.Response:
        received_at_s = self._clock() - self._origin_s
        head = await _head(request, MAX_BODY_BYTES)
        matched = self.match is None or self.match in head.decode("utf-8", errors="replace")
        self._alerts.append(Alert(received_at_s, matched))
        return web.Response(status=204)


async def _head(request: web.Request, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; a read may return less than is coming, so loop."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await request.content.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
