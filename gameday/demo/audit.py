"""The audit log: ``audit marker=...`` lines shipped to CloudWatch Logs in the background.

Every line is acknowledged at once and shipped in batches with PutLogEvents. What happens to a
batch that fails to ship is the switch: the spool (the secondary log path) keeps it on local
disk and replays it after the outage; the naive in-memory buffer drops it, and an acknowledged
line is lost.

>>> audit = AuditLog(config, alerts, spool_dir=Path(tmp))
>>> audit.write("m-0001")                  # 202 for the caller
>>> await audit.run(clients, stop)         # ships every GAMEDAY_DEMO_SHIP_S; last flush on stop
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gameday.demo.alerts import AlertSink
from gameday.demo.aws import AWS_ERRORS, AwsClients, describe_error, error_code
from gameday.demo.config import DemoConfig
from gameday.demo.health import ComponentHealth, DependencyWatch, ServingWindow
from gameday.demo.logs import fields
from gameday.demo.timing import Clock, sleep_unless_stopped

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

log = logging.getLogger(__name__)

# PutLogEvents takes at most 10,000 events and 1,048,576 bytes, counting 26 bytes per event.
MAX_BATCH_EVENTS = 1000
MAX_BATCH_BYTES = 1_000_000
_EVENT_OVERHEAD = 26
# Rewrite the spool once this much of its head is shipped, so that under steady traffic (when
# it never drains completely) it does not grow without end.
COMPACT_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class AuditEvent:
    timestamp_ms: int
    message: str

    @property
    def size(self) -> int:
        return len(self.message.encode()) + _EVENT_OVERHEAD


class Backlog(Protocol):
    """Events acknowledged but not yet in CloudWatch Logs, oldest first."""

    def add(self, event: AuditEvent) -> None: ...
    def batch(self) -> list[AuditEvent]:
        """The oldest events, within PutLogEvents' limits; they stay until shipped or failed."""
        ...

    def shipped(self, count: int) -> None: ...
    def failed(self, count: int) -> int:
        """The last batch could not be shipped; returns how many events were lost."""
        ...

    def __len__(self) -> int: ...


def _take(events: list[AuditEvent], event: AuditEvent, size: int) -> bool:
    return len(events) < MAX_BATCH_EVENTS and size + event.size <= MAX_BATCH_BYTES


class MemoryBacklog:
    """The naive path: events in memory; a batch that fails to ship is dropped."""

    def __init__(self) -> None:
        self._events: deque[AuditEvent] = deque()

    def add(self, event: AuditEvent) -> None:
        self._events.append(event)

    def batch(self) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        size = 0
        for event in self._events:
            if not _take(events, event, size):
                break
            events.append(event)
            size += event.size
        return events

    def shipped(self, count: int) -> None:
        for _ in range(count):
            self._events.popleft()

    def failed(self, count: int) -> int:
        self.shipped(count)
        return count

    def __len__(self) -> int:
        return len(self._events)


class SpoolBacklog:
    """The secondary log path: JSON lines in a local file, removed only once shipped.

    Lines are flushed to the OS, not fsynced: the spool covers an outage of the log service,
    not a crash of the host, and an fsync per request would cost more than the request.
    """

    def __init__(self, path: Path, *, compact_bytes: int = COMPACT_BYTES) -> None:
        self.path = path
        self._compact_bytes = compact_bytes
        self._writer = path.open("ab")
        self._reader = path.open("rb")
        self._head = 0
        self._batch_end = 0
        self._pending = 0

    def add(self, event: AuditEvent) -> None:
        line = json.dumps({"t": event.timestamp_ms, "m": event.message}) + "\n"
        self._writer.write(line.encode())
        self._writer.flush()
        self._pending += 1

    def batch(self) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        size = 0
        self._reader.seek(self._head)
        offset = self._head
        while line := self._reader.readline():
            record = json.loads(line)
            event = AuditEvent(int(record["t"]), str(record["m"]))
            if not _take(events, event, size):
                break
            events.append(event)
            size += event.size
            offset += len(line)
        self._batch_end = offset
        return events

    def shipped(self, count: int) -> None:
        self._head = self._batch_end
        self._pending -= count
        end = os.fstat(self._writer.fileno()).st_size
        if self._head >= end:
            self._writer.truncate(0)
            self._head = self._batch_end = 0
        elif self._head > self._compact_bytes:
            self._compact()

    def failed(self, count: int) -> int:
        return 0

    def close(self) -> None:
        self._writer.close()
        self._reader.close()

    def __len__(self) -> int:
        return self._pending

    def _compact(self) -> None:
        self._reader.seek(self._head)
        tail = self._reader.read()
        temporary = self.path.with_suffix(".compact")
        temporary.write_bytes(tail)
        self.close()
        os.replace(temporary, self.path)
        self._writer = self.path.open("ab")
        self._reader = self.path.open("rb")
        self._head = self._batch_end = 0


def _put_events(
    logs: CloudWatchLogsClient, group: str, stream: str, events: list[AuditEvent]
) -> dict[str, int]:
    """Ship one batch; returns CloudWatch Logs' report of events it rejected (too old or new)."""
    # A batch must be in time order; the wall clock may have stepped back between lines.
    ordered = sorted(events, key=lambda event: event.timestamp_ms)
    log_events: list[InputLogEventTypeDef] = [
        {"timestamp": event.timestamp_ms, "message": event.message} for event in ordered
    ]
    response = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=log_events)
    rejected = response.get("rejectedLogEventsInfo", {})
    return {key: int(value) for key, value in rejected.items() if isinstance(value, int)}


def _create_stream(logs: CloudWatchLogsClient, group: str, stream: str) -> None:
    """Create this process's stream, and the group too if it is missing."""
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        return
    except logs.exceptions.ResourceAlreadyExistsException:
        return
    except logs.exceptions.ResourceNotFoundException:
        pass
    # Already there: created meanwhile by someone else, which is what we wanted.
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


class AuditLog:
    """Accepts audit lines at once and ships them to one log stream of this process."""

    def __init__(
        self,
        config: DemoConfig,
        alerts: AlertSink,
        spool_dir: Path | None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._config = config
        self._spool = SpoolBacklog(spool_dir / "audit.spool") if spool_dir else None
        # Not `self._spool or ...`: an empty spool has length 0 and is falsy.
        self._backlog: Backlog = MemoryBacklog() if self._spool is None else self._spool
        self.stream = f"gameday-demo/{os.getpid()}/{uuid.uuid4().hex[:12]}"
        self._stream_ready = False
        self.watch = DependencyWatch("audit_log", alerts, clock)
        self._accepted = ServingWindow(clock)
        self._delivered = ServingWindow(clock)
        self.shipped_total = 0
        self.dropped_total = 0

    def write(self, marker: str) -> None:
        """Acknowledge one audit line; OSError when the spool cannot take it."""
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        try:
            self._backlog.add(AuditEvent(now_ms, f"audit marker={marker}"))
        except OSError as error:
            self._accepted.record(False, f"spool write failed: {error}")
            raise
        self._accepted.record(True)

    async def run(self, clients: AwsClients, stop: asyncio.Event) -> None:
        """Ship every ``ship_s`` until ``stop`` is set, then once more to flush what it can."""
        await self._ensure_stream(clients)
        while not await sleep_unless_stopped(stop, self._config.ship_s):
            # Until the stream exists, try each tick even with nothing to ship, so that a
            # start-up failure clears (and alerts recovery) as soon as Logs answers.
            if not self._stream_ready:
                await self._ensure_stream(clients)
            await self.ship(clients)
        await self.ship(clients)

    async def ship(self, clients: AwsClients) -> None:
        """Ship batches until the backlog is empty or a batch fails."""
        while events := self._backlog.batch():
            if not self._stream_ready and not await self._ensure_stream(clients):
                self._ship_failed(len(events), self.watch.last_error or "no log stream")
                return
            group, stream = self._config.log_group, self.stream
            try:
                rejected = await clients.call(_put_events, clients.logs, group, stream, events)
            except AWS_ERRORS as error:
                if error_code(error) == "ResourceNotFoundException":
                    self._stream_ready = False  # deleted under us: make it again next time
                self._ship_failed(len(events), f"PutLogEvents failed: {describe_error(error)}")
                return
            if rejected:
                log.error("CloudWatch Logs rejected audit lines", extra=fields(**rejected))
            self._backlog.shipped(len(events))
            self.shipped_total += len(events)
            self.watch.succeeded()
            self._delivered.record(True)

    async def _ensure_stream(self, clients: AwsClients) -> bool:
        group, stream = self._config.log_group, self.stream
        try:
            await clients.call(_create_stream, clients.logs, group, stream)
        except AWS_ERRORS as error:
            self.watch.failed(f"CreateLogStream failed: {describe_error(error)}")
            return False
        self._stream_ready = True
        self.watch.succeeded()
        return True

    def _ship_failed(self, count: int, error: str) -> None:
        self.watch.failed(error)
        lost = self._backlog.failed(count)
        if lost:
            self.dropped_total += lost
            self._delivered.record(False, f"{lost} audit lines dropped: {error}")
            log.error("audit lines dropped", extra=fields(count=lost, error=error))
        else:
            log.warning("audit lines kept in the spool", extra=fields(count=count, error=error))

    @property
    def pending(self) -> int:
        """Lines acknowledged and not yet shipped."""
        return len(self._backlog)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def health(self) -> ComponentHealth:
        serving = self._accepted.ok and self._delivered.ok
        pending = len(self._backlog)
        if not self._accepted.ok:
            detail = self._accepted.last_failure or "spool write failed"
        elif self.watch.failing and self._spool is not None:
            detail = f"ok (spooling {pending} lines, shipping failing)"
        elif self.watch.failing:
            detail = f"shipping failing: {self.dropped_total} lines dropped so far"
        else:
            detail = f"ok ({pending} lines pending)" if pending else "ok"
        return ComponentHealth(serving, detail, self.watch.state, self.watch.last_error)
