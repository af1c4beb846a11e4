"""The demo's automation: what it does when the orders table's calls keep failing.

Real outages have two halves: the control plane went away, and automation reacted. This is
the second half, switchable (``GAMEDAY_DEMO_SELF_HEAL``):

- ``naive``: after ``HEAL_AFTER`` consecutive failures in the home region it deletes the
  table and creates it again (DeleteTable, CreateTable, through the gateway), as automation
  that "fixes" an outage by rebuilding. Every order in the table is gone if that works.
- ``resilient``: it checks the table with a read (DescribeTable), pages a person once per
  episode, and backs off between checks; it never deletes anything.
- ``off``: nothing but the orders alert.

>>> healer = SelfHealer(config, alerts)
>>> healer.failed("PutItem in us-east-1 failed: AccessDeniedException")  # from Orders
>>> await healer.run(clients, stop)                                       # the background loop
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gameday.demo.alerts import Alert, AlertSink, AlertState
from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error, error_code
from gameday.demo.config import DemoConfig, SelfHeal
from gameday.demo.logs import fields
from gameday.demo.timing import sleep_unless_stopped

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

COMPONENT = "self_heal"
HEAL_AFTER = 3
"""Consecutive failed calls to the home region's table before the automation acts."""
NAIVE_COOLDOWN_S = 5.0
"""Between two rebuilds: automation like this has a cooldown, not a brake."""
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
_GONE_CHECKS = 20
_GONE_WAIT_S = 0.25


def _delete(dynamodb: DynamoDBClient, table: str) -> None:
    dynamodb.delete_table(TableName=table)


def _create(dynamodb: DynamoDBClient, table: str) -> None:
    # The shape Orders uses and `setup: {kind: table}` creates: a string hash key "id".
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _status(dynamodb: DynamoDBClient, table: str) -> str:
    return str(dynamodb.describe_table(TableName=table)["Table"].get("TableStatus", "UNKNOWN"))


class SelfHealer:
    """Counts the home region's consecutive table failures and reacts as configured."""

    def __init__(self, config: DemoConfig, alerts: AlertSink) -> None:
        self.mode = config.self_heal
        self._table = config.table
        self._home = config.home_region
        self._alerts = alerts
        self._consecutive = 0
        self._last_error = ""
        self._paged = False
        self._due = asyncio.Event()
        self.rebuilds = 0
        """Tables deleted and created again: what the naive mode has destroyed."""

    def failed(self, error: str) -> None:
        """A call to the home region's table failed."""
        if self.mode is SelfHeal.OFF:
            return
        self._consecutive += 1
        self._last_error = error
        if self._consecutive >= HEAL_AFTER:
            self._due.set()

    def succeeded(self) -> None:
        """A call to the home region's table worked: the episode, if any, is over."""
        self._consecutive = 0
        self._due.clear()
        if self._paged:
            self._paged = False
            self._alerts.post(self._alert(AlertState.RECOVERED, "orders table answering again"))

    async def run(self, clients: AwsClients, stop: asyncio.Event) -> None:
        """Wait for repeated failures and react, until ``stop`` is set."""
        if self.mode is SelfHeal.OFF:
            return
        backoff_s = BACKOFF_FIRST_S
        while not stop.is_set():
            if not await self._wait_due(stop):
                return
            if self.mode is SelfHeal.NAIVE:
                await self._rebuild(clients)
                delay_s = NAIVE_COOLDOWN_S
            else:
                await self._diagnose(clients)
                delay_s, backoff_s = backoff_s, min(backoff_s * 2, BACKOFF_MAX_S)
            if not self._due.is_set():
                backoff_s = BACKOFF_FIRST_S
            if await sleep_unless_stopped(stop, delay_s):
                return

    async def _wait_due(self, stop: asyncio.Event) -> bool:
        """True once the automation is due to act; False when stopped first."""
        due = asyncio.ensure_future(self._due.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({due, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            due.cancel()
            stopped.cancel()
        return not stop.is_set()

    async def _rebuild(self, clients: AwsClients) -> None:
        dynamodb = clients.dynamodb(self._home)
        table = self._table
        log.warning(
            "self-heal: deleting and recreating the table",
            extra=fields(table=table, region=self._home, after=self._last_error),
        )
        try:
            await clients.call(_delete, dynamodb, table)
        except AWS_ERRORS as error:
            log.error("self-heal: DeleteTable failed", extra=fields(error=describe_error(error)))
            return
        await self._wait_gone(clients, dynamodb, table)
        try:
            await clients.call(_create, dynamodb, table)
        except AWS_ERRORS as error:
            log.error(
                "self-heal: CreateTable failed: the table is gone",
                extra=fields(error=describe_error(error)),
            )
            return
        self.rebuilds += 1
        self._consecutive = 0
        self._due.clear()
        log.warning("self-heal: table recreated, empty", extra=fields(table=table))

    async def _wait_gone(self, clients: AwsClients, dynamodb: DynamoDBClient, table: str) -> None:
        # DynamoDB deletes a table asynchronously (DELETING); CreateTable of the same name
        # fails with ResourceInUseException until it is gone.
        for _ in range(_GONE_CHECKS):
            try:
                await clients.call(_status, dynamodb, table)
            except AWS_ERRORS as error:
                if error_code(error) == "ResourceNotFoundException":
                    return
            await asyncio.sleep(_GONE_WAIT_S)

    async def _diagnose(self, clients: AwsClients) -> None:
        try:
            status = await clients.call(_status, clients.dynamodb(self._home), self._table)
            finding = f"table {status}"
        except AWS_ERRORS as error:
            finding = f"DescribeTable failed: {describe_error(error)}"
        log.warning(
            "self-heal: orders table failing; backing off, not rebuilding",
            extra=fields(failures=self._consecutive, finding=finding, error=self._last_error),
        )
        if not self._paged:
            self._paged = True
            message = (
                f"{self._consecutive} calls to {self._table} in {self._home} failed "
                f"({self._last_error}); {finding}. Not recreating it: a person decides."
            )
            self._alerts.post(self._alert(AlertState.DEGRADED, message))

    def _alert(self, state: AlertState, message: str) -> Alert:
        return Alert(COMPONENT, state, message, datetime.now(UTC))
