"""What each component knows about its own health, from the outcomes of real calls.

Two views per component. The *dependency* (the AWS API behind it) is failing or not, by the
outcome of its last call; its edges raise alerts, even while the component rides through.
*Serving* says whether the customer-facing path works: a failed customer request marks the
component unhealthy until a request succeeds, or until ``memory_s`` passes without one, so
that one old failure does not pin /health down on a service that gets no traffic.

>>> watch = DependencyWatch("orders", sink, clock=time.monotonic)
>>> watch.failed("PutItem in us-east-1: ServiceUnavailable")   # alert: degraded
>>> watch.succeeded()                                           # alert: recovered
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gameday.demo.alerts import Alert, AlertSink, AlertState
from gameday.demo.timing import Clock

log = logging.getLogger(__name__)

HEALTH_MEMORY_S = 2.0
"""How long a failed customer request keeps a component unhealthy without newer traffic."""


class DependencyState(StrEnum):
    UNKNOWN = "unknown"
    """No call has finished yet."""
    OK = "ok"
    FAILING = "failing"


class Status(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"


@dataclass(frozen=True)
class ComponentHealth:
    """One component as ``/health`` shows it."""

    serving: bool
    detail: str
    dependency: DependencyState
    last_error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "status": (Status.OK if self.serving else Status.DEGRADED).value,
            "detail": self.detail,
            "dependency": self.dependency.value,
            "last_error": self.last_error,
        }


class DependencyWatch:
    """The state of one component's AWS dependency; alerts on each change, not each call."""

    def __init__(self, component: str, alerts: AlertSink, clock: Clock) -> None:
        self.component = component
        self.state = DependencyState.UNKNOWN
        self.last_error: str | None = None
        self._alerts = alerts
        self._clock = clock
        self._failing_since: float | None = None

    @property
    def failing(self) -> bool:
        return self.state is DependencyState.FAILING

    def succeeded(self) -> None:
        if self.state is DependencyState.FAILING and self._failing_since is not None:
            down_s = self._clock() - self._failing_since
            self._alerts.post(self._alert(AlertState.RECOVERED, f"recovered after {down_s:.1f} s"))
        self.state = DependencyState.OK
        self._failing_since = None

    def failed(self, error: str) -> None:
        self.last_error = error
        if self.state is not DependencyState.FAILING:
            self._failing_since = self._clock()
            self._alerts.post(self._alert(AlertState.DEGRADED, error))
        self.state = DependencyState.FAILING

    def _alert(self, state: AlertState, message: str) -> Alert:
        return Alert(self.component, state, message, datetime.now(UTC))


class ServingWindow:
    """The outcome of the last customer request, remembered for ``memory_s``."""

    def __init__(self, clock: Clock, memory_s: float = HEALTH_MEMORY_S) -> None:
        self._clock = clock
        self._memory_s = memory_s
        self._failed_at: float | None = None
        self.last_failure: str | None = None

    def record(self, ok: bool, detail: str | None = None) -> None:
        if ok:
            self._failed_at = None
        else:
            self._failed_at = self._clock()
            self.last_failure = detail

    @property
    def ok(self) -> bool:
        return self._failed_at is None or self._clock() - self._failed_at > self._memory_s
