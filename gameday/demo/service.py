"""The demo service's components, wired together, with their background work and shutdown.

>>> service = await DemoService.create(DemoConfig.from_env(os.environ))
>>> await service.start()          # AssumeRole, image warm-up, refresher, audit shipper
>>> service.health()               # Health(started=True, components={...})
>>> await service.stop()           # last audit flush, alerts drained, spool removed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path

from gameday.demo.alerts import AlertSink
from gameday.demo.audit import AuditLog
from gameday.demo.aws import AwsClients, DaemonExecutor
from gameday.demo.config import DemoConfig
from gameday.demo.credentials import CredentialKeeper
from gameday.demo.health import ComponentHealth
from gameday.demo.logs import fields
from gameday.demo.orders import Orders
from gameday.demo.registry import Registry
from gameday.demo.self_heal import SelfHealer

log = logging.getLogger(__name__)

COMPONENTS = ("credentials", "audit_log", "registry", "orders")

# Shares of the 2 s a stop may take (SIGTERM to exit): the audit log's last flush gets most.
_FLUSH_S = 0.8
_ALERT_DRAIN_S = 0.3


@dataclass(frozen=True)
class Health:
    """The service as ``/health`` shows it."""

    started: bool
    components: dict[str, ComponentHealth]

    @property
    def degraded(self) -> list[str]:
        return [name for name, component in self.components.items() if not component.serving]

    @property
    def ok(self) -> bool:
        return self.started and not self.degraded

    def to_json(self) -> dict[str, object]:
        status = "ok" if self.ok else ("starting" if not self.started else "degraded")
        body: dict[str, object] = {
            "status": status,
            "components": {name: c.to_json() for name, c in self.components.items()},
        }
        if self.degraded:
            body["degraded"] = self.degraded
        return body


class DemoService:
    """Owns the components, the worker threads, the spool directory and the background tasks."""

    def __init__(
        self,
        config: DemoConfig,
        alerts: AlertSink,
        credentials: CredentialKeeper,
        clients: AwsClients,
        executor: DaemonExecutor,
    ) -> None:
        self.config = config
        self.alerts = alerts
        self.credentials = credentials
        self.spool_dir = (
            Path(tempfile.mkdtemp(prefix="gameday-demo-")) if config.log_spool else None
        )
        self.audit = AuditLog(config, self.alerts, self.spool_dir)
        self.registry = Registry(config, self.alerts)
        self.healer = SelfHealer(config, self.alerts)
        self.orders = Orders(config, self.alerts, healer=self.healer)
        self.clients = clients
        self._executor = executor
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._shipper: asyncio.Task[None] | None = None
        self.started = False

    @classmethod
    async def create(cls, config: DemoConfig) -> DemoService:
        """Make the boto3 clients in a worker thread (loading service models takes a while)."""
        executor = DaemonExecutor()
        alerts = AlertSink(
            config.alert_url, topic_arn=config.alert_topic_arn, fallback=config.alert_fallback
        )
        credentials = CredentialKeeper(config, alerts)
        clients = await asyncio.get_running_loop().run_in_executor(
            executor, AwsClients, config, credentials.current, executor
        )
        return cls(config, alerts, credentials, clients, executor)

    async def start(self) -> None:
        """Start the background work; returns at once (``health().started`` tells when done)."""
        self.alerts.start()
        self._spawn(self._boot(), "boot")

    async def _boot(self) -> None:
        await self.credentials.start(self.clients, self._stop)
        await self.alerts.attach(self.clients)
        self._spawn(self.healer.run(self.clients, self._stop), "self-heal")
        # Only now: before credentials exist every call would fail and page someone for nothing.
        self._shipper = self._spawn(self.audit.run(self.clients, self._stop), "audit-shipper")
        if self.credentials.current() is not None:
            # Without credentials it could only fail; the first deploy that works fills it.
            await self.registry.warm(self.clients)
        self.started = True
        details = {name: c.detail for name, c in self.health().components.items()}
        log.info("ready", extra=fields(components=details))
        await self.credentials.run(self.clients, self._stop)

    def _spawn(self, work: Coroutine[None, None, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        task.add_done_callback(_report_crash)
        self._tasks.append(task)
        return task

    def health(self) -> Health:
        return Health(
            started=self.started,
            components={
                "credentials": self.credentials.health(),
                "audit_log": self.audit.health(),
                "registry": self.registry.health(),
                "orders": self.orders.health(),
            },
        )

    async def stop(self) -> None:
        """Flush what can be flushed within the stop budget, then release everything."""
        self._stop.set()
        if self._shipper is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._shipper), _FLUSH_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.alerts.close(_ALERT_DRAIN_S)
        # Calls still stuck on a dead endpoint run on daemon threads: they end with the process.
        self._executor.shutdown(wait=False)
        self.audit.close()
        unshipped = self.audit.pending
        if unshipped:
            log.error("audit lines not shipped at exit", extra=fields(count=unshipped))
        if self.spool_dir is not None:
            try:
                shutil.rmtree(self.spool_dir)
            except OSError as error:
                log.error(
                    "spool directory not removed",
                    extra=fields(path=str(self.spool_dir), error=str(error)),
                )


def _report_crash(task: asyncio.Task[None]) -> None:
    # A background loop that dies would leave health frozen at its last state: say so loudly.
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background task crashed", exc_info=error, extra=fields(task=task.get_name()))
