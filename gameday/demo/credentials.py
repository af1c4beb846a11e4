"""Credentials from STS AssumeRole, refreshed on a schedule, optionally cached until expiry.

With the cache on, a failed refresh keeps the credentials in hand until their Expiration: an
STS outage shorter than their lifetime goes unnoticed by customers (but not by the pager).
With it off, a failed refresh drops them and every AWS-backed path fails until one succeeds.

>>> keeper = CredentialKeeper(config, alerts)
>>> clients = AwsClients(config, keeper.current, executor)
>>> await keeper.start(clients, stop)   # first AssumeRole, retried for up to 10 s
>>> await keeper.run(clients, stop)     # then every GAMEDAY_DEMO_REFRESH_S
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.credentials import ReadOnlyCredentials

from gameday.demo.alerts import AlertSink
from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error
from gameday.demo.config import DemoConfig
from gameday.demo.health import ComponentHealth, DependencyWatch
from gameday.demo.logs import fields
from gameday.demo.timing import Clock, sleep_unless_stopped

log = logging.getLogger(__name__)

SESSION_NAME = "gameday-demo"
STARTUP_DEADLINE_S = 10.0
STARTUP_RETRY_S = 0.5

WallClock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Held:
    credentials: ReadOnlyCredentials
    expires_at: datetime


class CredentialKeeper:
    """Holds the service's assumed-role credentials; ``current`` is safe from any thread."""

    def __init__(
        self,
        config: DemoConfig,
        alerts: AlertSink,
        *,
        clock: Clock = time.monotonic,
        wall: WallClock = _utc_now,
    ) -> None:
        self._config = config
        self._wall = wall
        self._clock = clock
        # Replaced whole, never mutated: worker threads read it while signing requests.
        self._held: _Held | None = None
        self.starting = True
        self.watch = DependencyWatch("credentials", alerts, clock)

    def current(self) -> ReadOnlyCredentials | None:
        """The credentials to sign with now; None when there are none or they expired."""
        held = self._held
        if held is None or held.expires_at <= self._wall():
            return None
        return held.credentials

    async def start(self, clients: AwsClients, stop: asyncio.Event) -> None:
        """Assume the role, retrying for up to ``STARTUP_DEADLINE_S``; then go on degraded."""
        deadline = self._clock() + STARTUP_DEADLINE_S
        try:
            while not await self.refresh(clients):
                if self._clock() >= deadline:
                    log.error(
                        "no credentials at start: serving degraded, refresh continues",
                        extra=fields(role_arn=self._config.role_arn, error=self.watch.last_error),
                    )
                    return
                if await sleep_unless_stopped(stop, STARTUP_RETRY_S):
                    return
        finally:
            self.starting = False

    async def run(self, clients: AwsClients, stop: asyncio.Event) -> None:
        """Refresh every ``refresh_s`` until ``stop`` is set."""
        while not await sleep_unless_stopped(stop, self._config.refresh_s):
            await self.refresh(clients)

    async def refresh(self, clients: AwsClients) -> bool:
        """One AssumeRole; True when it succeeded."""
        role_arn = self._config.role_arn
        try:
            response = await clients.call(
                clients.sts.assume_role, RoleArn=role_arn, RoleSessionName=SESSION_NAME
            )
        except AWS_ERRORS as error:
            self._refresh_failed(describe_error(error))
            return False
        issued = response["Credentials"]
        recovering = self.watch.failing or self._held is None
        self._held = _Held(
            ReadOnlyCredentials(
                issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]
            ),
            issued["Expiration"],
        )
        self.watch.succeeded()
        if recovering:
            log.info(
                "credentials obtained",
                extra=fields(role_arn=role_arn, expires_at=issued["Expiration"].isoformat()),
            )
        return True

    def _refresh_failed(self, error: str) -> None:
        self.watch.failed(f"AssumeRole failed: {error}")
        if self._held is not None and not self._config.cache_credentials:
            self._held = None
            log.warning("credentials dropped: the refresh failed and caching is off")
        else:
            log.warning("credential refresh failed", extra=fields(error=error))

    def health(self) -> ComponentHealth:
        held = self._held
        now = self._wall()
        if held is None or held.expires_at <= now:
            if self.starting:
                detail = "starting: assuming the role"
            elif held is not None:
                detail = "no credentials: expired and the refresh is failing"
            else:
                detail = "no credentials: the refresh is failing"
            return ComponentHealth(False, detail, self.watch.state, self.watch.last_error)
        if self.watch.failing:
            left_s = (held.expires_at - now).total_seconds()
            detail = f"ok (cached, refresh failing; they expire in {left_s:.0f} s)"
        else:
            detail = "ok"
        return ComponentHealth(True, detail, self.watch.state, self.watch.last_error)
