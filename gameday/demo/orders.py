"""Orders in DynamoDB: written in the home region, optionally failing over to a second one.

An order is acknowledged (201) only after a region stored it. With a failover region, a failed
home write is written there instead, and a circuit breaker sends writes straight to the
failover region for ``BREAKER_OPEN_S`` after ``BREAKER_FAILURES`` consecutive home failures,
so that a blackholed home region does not cost every request an SDK timeout.

>>> orders = Orders(config, alerts)
>>> order = await orders.create(clients, "m-0001")     # Order(region="us-east-1", ...)
>>> await orders.get(clients, "m-0001")
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gameday.demo.alerts import AlertSink
from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error
from gameday.demo.breaker import BREAKER_OPEN_S, CircuitBreaker
from gameday.demo.config import DemoConfig
from gameday.demo.health import ComponentHealth, DependencyWatch, ServingWindow
from gameday.demo.logs import fields
from gameday.demo.self_heal import SelfHealer
from gameday.demo.timing import Clock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)


class NoRegionAvailableError(Exception):
    """No region could store (or, for a read, answer for) the order."""


@dataclass(frozen=True)
class Order:
    id: str
    created_at: str
    region: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "created_at": self.created_at, "region": self.region}


def _put(dynamodb: DynamoDBClient, table: str, order_id: str, created_at: str) -> None:
    dynamodb.put_item(
        TableName=table, Item={"id": {"S": order_id}, "created_at": {"S": created_at}}
    )


def _get(dynamodb: DynamoDBClient, table: str, order_id: str) -> str | None:
    """The order's ``created_at``, or None when the table has no such order."""
    # Consistent: a read right after an acknowledged write in the same region must see it.
    response = dynamodb.get_item(TableName=table, Key={"id": {"S": order_id}}, ConsistentRead=True)
    item = response.get("Item")
    if item is None:
        return None
    return item.get("created_at", {}).get("S", "")


class Orders:
    """Writes and reads orders, in the home region first unless the breaker is open."""

    def __init__(
        self,
        config: DemoConfig,
        alerts: AlertSink,
        *,
        healer: SelfHealer | None = None,
        clock: Clock = time.monotonic,
    ):
        self._config = config
        self._healer = healer
        self._home = config.home_region
        self._failover = config.failover_region
        self._breaker = CircuitBreaker(clock)
        self.watch = DependencyWatch("orders", alerts, clock)
        self._serving = ServingWindow(clock)

    def _regions(self) -> list[str]:
        if self._failover is None:
            return [self._home]
        if self._breaker.open_for_s > 0:
            return [self._failover, self._home]
        return [self._home, self._failover]

    async def create(self, clients: AwsClients, order_id: str) -> Order:
        """Store the order in the first region that takes it; NoRegionAvailableError if none."""
        created_at = datetime.now(UTC).isoformat()
        table = self._config.table
        errors: list[str] = []
        for region in self._regions():
            dynamodb = clients.dynamodb(region)
            try:
                await clients.call(_put, dynamodb, table, order_id, created_at)
            except AWS_ERRORS as error:
                errors.append(self._failed(region, f"PutItem in {region}", error))
                continue
            self._succeeded(region)
            self._serving.record(True)
            if region != self._home:
                log.info("order written to the failover region", extra=fields(region=region))
            return Order(order_id, created_at, region)
        self._serving.record(False, "; ".join(errors))
        raise NoRegionAvailableError("; ".join(errors))

    async def get(self, clients: AwsClients, order_id: str) -> Order | None:
        """The order from any region; None only when every region answered that it has none."""
        table = self._config.table
        errors: list[str] = []
        for region in self._regions():
            dynamodb = clients.dynamodb(region)
            try:
                created_at = await clients.call(_get, dynamodb, table, order_id)
            except AWS_ERRORS as error:
                errors.append(self._failed(region, f"GetItem in {region}", error))
                continue
            self._succeeded(region)
            if created_at is not None:
                self._serving.record(True)
                return Order(order_id, created_at, region)
        if errors:
            # A region we could not read may hold the order: "not found" would be a guess.
            self._serving.record(False, "; ".join(errors))
            raise NoRegionAvailableError("; ".join(errors))
        self._serving.record(True)
        return None

    def _succeeded(self, region: str) -> None:
        if region == self._home:
            self._breaker.succeeded()
            self.watch.succeeded()
            if self._healer is not None:
                self._healer.succeeded()

    def _failed(self, region: str, call: str, error: BaseException) -> str:
        description = f"{call} failed: {describe_error(error)}"
        if region == self._home:
            self.watch.failed(description)
            if self._healer is not None:
                self._healer.failed(description)
            if self._failover is not None and self._breaker.failed():
                log.warning(
                    "home region breaker open: writing to the failover region",
                    extra=fields(home=self._home, failover=self._failover, open_s=BREAKER_OPEN_S),
                )
        else:
            log.warning("failover region failed", extra=fields(error=description))
        return description

    def health(self) -> ComponentHealth:
        home, failover = self._home, self._failover
        if not self._serving.ok:
            detail = self._serving.last_failure or "orders failing"
        elif failover is not None and self._breaker.open_for_s > 0:
            detail = (
                f"ok (writing to {failover}: {home} failing, "
                f"retried in {self._breaker.open_for_s:.1f} s)"
            )
        elif self.watch.failing and failover is not None:
            detail = f"ok (failing over to {failover}: {home} failing)"
        elif self.watch.failing:
            detail = f"ok (no request failed lately; {home} failing)"
        else:
            detail = "ok"
        return ComponentHealth(self._serving.ok, detail, self.watch.state, self.watch.last_error)
