"""Alerts to the runner's alert sink: posted in order, in the background, never in the way.

>>> sink = AlertSink("http://127.0.0.1:8100/alerts")
>>> sink.start()
>>> sink.post(Alert("credentials", AlertState.DEGRADED, "AssumeRole failed", datetime.now(UTC)))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import aiohttp

from gameday.demo.logs import fields

log = logging.getLogger(__name__)

_MAX_QUEUED = 100


class AlertState(StrEnum):
    DEGRADED = "degraded"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class Alert:
    """A dependency of one component started failing, or recovered, at ``at`` (UTC)."""

    component: str
    state: AlertState
    message: str
    at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "component": self.component,
            "state": self.state.value,
            "message": self.message,
            "at": self.at.isoformat(),
        }


class AlertSink:
    """Queues alerts and posts them one at a time, so that a recovery never overtakes the
    degradation it ends. A slow or dead sink costs at most ``timeout_s`` per alert, in the
    background; it never blocks or fails the caller."""

    def __init__(self, url: str | None, *, timeout_s: float = 1.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=_MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sender; call from inside the running event loop."""
        if self.url is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send_all())

    def post(self, alert: Alert) -> None:
        """Log the alert and queue it for the sink; returns at once."""
        level = logging.WARNING if alert.state is AlertState.DEGRADED else logging.INFO
        log.log(
            level,
            "alert",
            extra=fields(component=alert.component, state=alert.state.value, detail=alert.message),
        )
        if self.url is None:
            return
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.error(
                "alert queue full: oldest alert dropped",
                extra=fields(component=dropped.component, state=dropped.state.value),
            )
        self._queue.put_nowait(alert)

    async def close(self, drain_s: float = 0.5) -> None:
        """Give queued alerts up to ``drain_s`` to go out, then stop the sender."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_s)
        if self._queue.qsize():
            log.error("alerts not delivered at exit", extra=fields(count=self._queue.qsize()))
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _send_all(self) -> None:
        assert self.url is not None
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                alert = await self._queue.get()
                try:
                    await self._send(session, self.url, alert)
                finally:
                    self._queue.task_done()

    async def _send(self, session: aiohttp.ClientSession, url: str, alert: Alert) -> None:
        try:
            async with session.post(url, json=alert.to_json()) as response:
                if response.status >= 300:
                    log.error(
                        "alert sink refused an alert",
                        extra=fields(status=response.status, component=alert.component),
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            log.error(
                "alert sink unreachable",
                extra=fields(url=url, component=alert.component, error=repr(error)),
            )
