"""A circuit breaker: after repeated failures, stop paying for a path that is down.

>>> breaker = CircuitBreaker(time.monotonic, failures=2, open_s=5.0)
>>> breaker.failed(); breaker.failed()     # True: open, skip the path for 5 s
>>> breaker.open_for_s                     # 5.0, counting down
"""

from __future__ import annotations

from gameday.demo.timing import Clock

BREAKER_FAILURES = 2
BREAKER_OPEN_S = 5.0


class CircuitBreaker:
    """Opens after ``failures`` consecutive failures; lets a trial call through after
    ``open_s``; closes on the first success."""

    def __init__(
        self, clock: Clock, failures: int = BREAKER_FAILURES, open_s: float = BREAKER_OPEN_S
    ) -> None:
        self._clock = clock
        self._failures = failures
        self._open_s = open_s
        self._consecutive = 0
        self._open_until: float | None = None

    @property
    def open_for_s(self) -> float:
        """Seconds until a trial call is let through; 0 when closed or ready for a trial."""
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def succeeded(self) -> None:
        self._consecutive = 0
        self._open_until = None

    def failed(self) -> bool:
        """Count a failure; True when this one opened (or re-opened) the breaker."""
        self._consecutive += 1
        if self._consecutive >= self._failures and self.open_for_s == 0.0:
            self._open_until = self._clock() + self._open_s
            return True
        return False
