"""Alerts to the pager: posted in order, in the background, never in the way.

Two paths. The webhook (``GAMEDAY_ALERT_URL``: the runner's alert sink) alone by default. With
an SNS topic (``GAMEDAY_DEMO_ALERT_TOPIC``) the primary path is a Publish to that topic in the
home region, which the webhook is subscribed to, as a paging service would be: that path goes
down with the region. The webhook is then the secondary path, used when a Publish fails (and
``GAMEDAY_DEMO_ALERT_FALLBACK`` is on); without it, an alert that cannot be published is lost.

>>> sink = AlertSink("http://127.0.0.1:8100/alerts", topic_arn=None)
>>> sink.start()
>>> sink.post(Alert("credentials", AlertState.DEGRADED, "AssumeRole failed", datetime.now(UTC)))
>>> await sink.attach(clients)     # the primary path (SNS) can be used from now on
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import aiohttp

from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error
from gameday.demo.breaker import CircuitBreaker
from gameday.demo.logs import fields
from gameday.demo.timing import Clock

log = logging.getLogger(__name__)

_MAX_QUEUED = 100
# One failed Publish opens the breaker: while the region is gone, each alert would otherwise
# wait out two SDK timeouts before it takes the webhook.
_PRIMARY_FAILURES = 1
_PRIMARY_OPEN_S = 10.0


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
    """Queues alerts and sends them one at a time, so that a recovery never overtakes the
    degradation it ends. A slow or dead path costs at most ``timeout_s`` per alert (two SDK
    timeouts for a Publish), in the background; it never blocks or fails the caller."""

    def __init__(
        self,
        url: str | None,
        *,
        topic_arn: str | None = None,
        fallback: bool = True,
        timeout_s: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.topic_arn = topic_arn
        self._fallback = fallback
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=_MAX_QUEUED)
        self._task: asyncio.Task[None] | None = None
        self._clients: AwsClients | None = None
        self._subscribed = False
        self._primary = CircuitBreaker(clock, _PRIMARY_FAILURES, _PRIMARY_OPEN_S)

    def start(self) -> None:
        """Start the sender; call from inside the running event loop."""
        if (self.url is not None or self.topic_arn is not None) and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._send_all())

    async def attach(self, clients: AwsClients) -> None:
        """Use ``clients`` for the primary path (until then, without credentials, it is down)
        and subscribe the webhook to the topic now, so the path is whole before any alert."""
        self._clients = clients
        if self.topic_arn is not None:
            try:
                await self._subscribe(clients, self.topic_arn)
            except AWS_ERRORS as error:
                # Tried again before the next Publish.
                log.error(
                    "webhook not subscribed to the alert topic",
                    extra=fields(topic_arn=self.topic_arn, error=describe_error(error)),
                )

    async def _subscribe(self, clients: AwsClients, topic_arn: str) -> None:
        if self._subscribed or self.url is None:
            return
        protocol = "https" if self.url.startswith("https:") else "http"
        await clients.call(
            clients.sns.subscribe,
            TopicArn=topic_arn,
            Protocol=protocol,
            Endpoint=self.url,
            ReturnSubscriptionArn=True,
        )
        self._subscribed = True

    def post(self, alert: Alert) -> None:
        """Log the alert and queue it for the pager; returns at once."""
        level = logging.WARNING if alert.state is AlertState.DEGRADED else logging.INFO
        log.log(
            level,
            "alert",
            extra=fields(component=alert.component, state=alert.state.value, detail=alert.message),
        )
        if self.url is None and self.topic_arn is None:
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
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                alert = await self._queue.get()
                try:
                    await self._deliver(session, alert)
                finally:
                    self._queue.task_done()

    async def _deliver(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        if self.topic_arn is not None:
            if await self._publish(self.topic_arn, alert):
                return
            if not self._fallback or self.url is None:
                log.error(
                    "alert lost: the primary path failed and there is no fallback",
                    extra=fields(component=alert.component, state=alert.state.value),
                )
                return
            log.warning("alert sent through the fallback webhook", extra=fields(url=self.url))
        if self.url is not None:
            await self._send(session, self.url, alert)

    async def _publish(self, topic_arn: str, alert: Alert) -> bool:
        """Publish to the topic; False when the primary path is down (or known to be)."""
        clients = self._clients
        if clients is None:
            log.warning("primary alert path not ready: no credentials yet")
            return False
        if self._primary.open_for_s > 0:
            return False
        try:
            await self._subscribe(clients, topic_arn)
            await clients.call(
                clients.sns.publish,
                TopicArn=topic_arn,
                Subject=f"{alert.component} {alert.state.value}",
                Message=json.dumps(alert.to_json()),
            )
        except AWS_ERRORS as error:
            self._primary.failed()
            log.error(
                "primary alert path failed",
                extra=fields(topic_arn=topic_arn, error=describe_error(error)),
            )
            return False
        self._primary.succeeded()
        return True

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
