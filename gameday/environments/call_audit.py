"""What the app did through a gateway, for the result and the guardrail (docs/audit.md); what
gameday's own probes did there, apart.

The gateway stamps calls on the wall clock; the run's offsets are on the monotonic one, so an
offset is the run clock now minus how long ago the call was.

>>> watch = CallWatch(client, now=recorder.now)
>>> watch.poll()  # the destructive calls since the last poll, with their offsets
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from gameday.environments.stage import Note
from gameday.errors import GameDayError
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import CallCountRecord, DestructiveCallRecord
from gameday.kinds import CallClass
from gameday.result import CallAudit, CallCount, DestructiveCall


def read_call_audit(
    client: GatewayClient,
    note: Note,
    *,
    now: Callable[[], float],
    baseline: CallAudit | None = None,
) -> CallAudit:
    """Every call of the app the gateway counted, by class, and its destructive calls, with
    the probes' own calls apart; an empty audit with its ``read_error``, said through
    ``note``, when the admin API does not answer. ``baseline``: the counts before the run,
    taken off, for a gateway that outlives runs."""
    try:
        page = client.calls(since=0)
    except GameDayError as error:
        why = f"could not read the app's calls: {error.message}"
        note("note", why)
        return CallAudit(read_error=why)
    counts = _made(page.counts, baseline.counts if baseline else [])
    probe_counts = _made(page.probe_counts, baseline.probe_counts if baseline else [])
    destructive = [destructive_call(record, now) for record in page.destructive]
    if baseline is not None:  # the run clock starts at 0: older calls were another run's
        destructive = [call for call in destructive if call.at is None or call.at >= 0]
    return CallAudit(
        counted=True,
        counts=counts,
        probe_counts=probe_counts,
        destructive=destructive,
        destructive_dropped=page.dropped,
        deny_destructive=page.deny_destructive,
    )


def _made(rows: Iterable[CallCountRecord], baseline: Iterable[CallCount]) -> list[CallCount]:
    """The gateway's counts as the result keeps them, less what ``baseline`` had counted."""
    before = {_key(c): c.count for c in baseline}
    counts = []
    for row in rows:
        key = (row.service or "unclassified", row.operation or "-", row.outcome.value)
        made = row.count - before.get((*key, row.call_class), 0)
        if made > 0:
            service, operation, outcome = key
            counts.append(
                CallCount(
                    service=service,
                    operation=operation,
                    outcome=outcome,
                    call_class=row.call_class,
                    count=made,
                )
            )
    return sorted(counts, key=lambda c: (c.service, c.operation, c.outcome))


def _key(count: CallCount) -> tuple[str, str, str, CallClass]:
    return (count.service, count.operation, count.outcome, count.call_class)


def destructive_call(record: DestructiveCallRecord, now: Callable[[], float]) -> DestructiveCall:
    """One gateway record as the result keeps it, placed on the run clock."""
    return DestructiveCall(
        at=round(now() - (time.time() - record.time), 3),
        service=record.service or "unclassified",
        operation=record.operation or "-",
        resource=record.resource,
        outcome=record.outcome.value,
        region=record.region,
    )


class CallWatch:
    """The destructive calls a gateway sees, as they happen: what a ``destructive_calls``
    guardrail polls. ``poll`` blocks on the admin API (call it from a worker thread)."""

    def __init__(self, client: GatewayClient, *, now: Callable[[], float], since: int = 0) -> None:
        self._client = client
        self._now = now
        self._since = since
        """The calls ring's last record already seen (a gateway that outlives runs)."""
        self._lock = threading.Lock()

    def poll(self) -> list[DestructiveCall]:
        """The destructive calls since the last poll, oldest first. GameDayError when the
        gateway does not answer."""
        with self._lock:
            page = self._client.calls(since=self._since)
            self._since = page.last_seq
        return [destructive_call(record, self._now) for record in page.destructive]
