"""Clocks and interruptible waits shared by the demo service's background loops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds on a monotonic clock; ``time.monotonic`` unless a test passes its own."""


async def sleep_unless_stopped(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait ``delay_s`` or until ``stop`` is set; True when stopped, so loops end at once."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
    return stop.is_set()
