"""Stop conditions the runner watches itself: where no FIS experiment does it (the egress
proxy), an alarm in ALARM must still end the faults at once (DESIGN.md "Safety").

>>> watch = AlarmWatch(clients, env.stop_conditions)
>>> watch.fired()   # "stop condition api-5xx (us-east-1) is in ALARM: ...", or None
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import GameDayError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


def alarm_parts(arn: str) -> tuple[str, str]:
    """(region, alarm name) of ``arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME``."""
    parts = arn.split(":", 6)
    return parts[3], parts[6]


class AlarmWatch:
    """Reads the stop-condition alarms at most once per ``interval_s``; thread-safe.

    A read that fails raises GameDayError: nobody would see an alarm fire, so the drill must
    stop rather than go on unguarded.
    """

    def __init__(
        self,
        client_for: Callable[[str], CloudWatchClient],
        arns: Sequence[str],
        *,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_for = client_for
        self._by_region: dict[str, list[str]] = {}
        for arn in arns:
            region, name = alarm_parts(arn)
            self._by_region.setdefault(region, []).append(name)
        self._interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def fired(self) -> str | None:
        """Why the drill must stop (an alarm in ALARM), or None; reads at most once per
        interval, else answers None at once."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self._interval_s:
                return None
            self._last = now
            for region, names in self._by_region.items():
                reason = self._read(region, names)
                if reason is not None:
                    return reason
            return None

    def _read(self, region: str, names: list[str]) -> str | None:
        try:
            pages = self._client_for(region).get_paginator("describe_alarms")
            found: set[str] = set()
            for page in pages.paginate(
                AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            ):
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found.add(alarm["AlarmName"])
                    if alarm.get("StateValue") == "ALARM":
                        why = alarm.get("StateReason", "")
                        return f"stop condition {alarm['AlarmName']} ({region}) is in ALARM: {why}"
        except (BotoCoreError, ClientError) as error:
            raise GameDayError(
                f"could not read the stop-condition alarms in {region}: {error}"
            ) from None
        missing = sorted(set(names) - found)
        if missing:
            raise GameDayError(
                f"stop-condition alarm(s) not found in {region}: {', '.join(missing)}",
                hint="list alarms that exist under 'stop_conditions'",
            )
        return None
