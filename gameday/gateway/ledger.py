"""What the app did through the gateway: every call counted by service, operation, outcome and
class, and each destructive call kept with its time and resource (docs/audit.md).

Exact, unlike the ring of recent requests (``store.RequestLog``), which drops the oldest: the
counts are one dict entry per kind of call, and destructive calls are rare.

>>> ledger = CallLedger()
>>> ledger.record(info, CallClass.DESTRUCTIVE, Outcome.DENIED, "orders")
>>> ledger.page(since=0)  # counts, and the destructive calls after seq 0
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import dropwhile

from gameday.gateway.classify import RequestInfo
from gameday.gateway.models import CallCountRecord, CallsPage, DestructiveCallRecord, Outcome
from gameday.kinds import CallClass

MAX_DESTRUCTIVE = 10_000
"""Destructive calls kept; an app that makes more has the oldest dropped (and counted)."""


class CallLedger:
    """Counts and destructive calls since the gateway started."""

    def __init__(
        self,
        *,
        deny_destructive: bool = False,
        wall_clock: Callable[[], float] = time.time,
        size: int = MAX_DESTRUCTIVE,
    ) -> None:
        self.deny_destructive = deny_destructive
        self._wall_clock = wall_clock
        self._counts: Counter[tuple[str | None, str | None, Outcome, CallClass]] = Counter()
        self._destructive: deque[DestructiveCallRecord] = deque(maxlen=size)
        self.last_seq = 0

    def record(
        self, info: RequestInfo, call_class: CallClass, outcome: Outcome, resource: str | None
    ) -> None:
        """Count one call as it ended; keep it too when it is destructive."""
        self._counts[(info.service, info.operation, outcome, call_class)] += 1
        if call_class is not CallClass.DESTRUCTIVE:
            return
        self.last_seq += 1
        self._destructive.append(
            DestructiveCallRecord(
                seq=self.last_seq,
                time=self._wall_clock(),
                service=info.service,
                region=info.region,
                operation=info.operation,
                resource=resource,
                outcome=outcome,
            )
        )

    def page(self, since: int = 0) -> CallsPage:
        """Every count, and the destructive calls with ``seq > since``."""
        kept = self._destructive
        first_seq = kept[0].seq if kept else self.last_seq + 1
        dropped = max(0, first_seq - since - 1) if since < self.last_seq else 0
        return CallsPage(
            counts=tuple(
                CallCountRecord(service=s, operation=o, outcome=out, call_class=c, count=n)
                for (s, o, out, c), n in self._counts.items()
            ),
            destructive=tuple(dropwhile(lambda r: r.seq <= since, kept)),
            last_seq=self.last_seq,
            dropped=dropped,
            deny_destructive=self.deny_destructive,
        )
