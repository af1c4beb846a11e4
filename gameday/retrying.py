"""Retry one call while its failure is transient, within bounds.

Every injector API (FIS, the gateway's admin API) goes through ``retry_call``, and the data
probe's read-back through ``retry_async``: a failure the ``transient`` predicate accepts is
retried with exponential backoff and full jitter, until the call succeeds, the deadline passes
or the attempts run out; then the last error is raised as it was. Anything else is raised at
once.

>>> retry_call(lambda: fis.stop_experiment(id=experiment_id), transient=is_transient_aws,
...            backoff=Backoff(deadline_s=30), sleep=time.sleep, clock=time.monotonic)

Time and randomness are parameters (``sleep``, ``clock``, ``rng``): unit tests pass fakes and
run in milliseconds; nothing is patched.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# tenacity, not a loop of our own: it is already a dependency (probe retries,
# gameday/probes/schedule.py), and its stop/wait/retry strategies compose the three bounds we
# need (predicate, deadline, attempts) with tested attempt accounting and ``reraise``. Its own
# stop_after_delay and wait_random_exponential read time.monotonic and the global random
# module, so the deadline and the jitter below are ours, on the injected clock and rng.
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception

T = TypeVar("T")

Transient = Callable[[BaseException], bool]
OnRetry = Callable[[BaseException, int, float], None]
"""Called before each sleep with the error, the attempt that failed (1, 2, ...) and the sleep."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long and how often to retry; None leaves a bound out (one must be set)."""

    deadline_s: float | None = 30.0
    """No attempt starts later than this after the first one; the sleep before the last
    attempt is cut short to end on the deadline."""
    max_attempts: int | None = None
    """Attempts in all, the first included."""
    first_delay_s: float = 0.25
    """The cap of the first sleep; each next cap doubles, up to ``max_delay_s``."""
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.deadline_s is None and self.max_attempts is None:
            raise ValueError("Backoff needs a deadline_s or max_attempts (or both)")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be 1 or more, not {self.max_attempts}")


def retry_call(
    call: Callable[[], T],
    *,
    transient: Transient,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """``call()``, retried while ``transient(error)``; the last error is raised unchanged."""
    retrying = Retrying(sleep=sleep, **_strategies(transient, backoff, clock, rng, on_retry))
    return retrying(call)


async def retry_async(
    call: Callable[[], Awaitable[T]],
    *,
    transient: Transient,
    backoff: Backoff = Backoff(),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """``await call()``, retried as ``retry_call`` retries, sleeping without blocking the loop.

    >>> await retry_async(lambda: read(marker), transient=is_unreadable,
    ...                   backoff=Backoff(deadline_s=10), clock=ctx.clock)
    """

    async def attempt() -> T:
        # tenacity awaits only what a coroutine function returns; ``call`` may be a lambda.
        return await call()

    retrying = AsyncRetrying(sleep=sleep, **_strategies(transient, backoff, clock, rng, on_retry))
    return await retrying(attempt)


def _strategies(
    transient: Transient,
    backoff: Backoff,
    clock: Callable[[], float],
    rng: random.Random | None,
    on_retry: OnRetry | None,
) -> dict[str, Any]:
    """tenacity's retry, wait, stop and before_sleep for one call under ``backoff``."""
    draw = rng or random.Random()
    deadline = None if backoff.deadline_s is None else clock() + backoff.deadline_s

    def wait(state: RetryCallState) -> float:
        # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform
        # draw under a cap that doubles, so many runners retrying at once spread out.
        doublings = min(state.attempt_number - 1, 64)  # 2.0 ** 1100 would overflow
        cap = min(backoff.max_delay_s, backoff.first_delay_s * 2.0**doublings)
        delay = draw.uniform(0.0, cap)
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - clock()))
        return delay

    def stop(state: RetryCallState) -> bool:
        if backoff.max_attempts is not None and state.attempt_number >= backoff.max_attempts:
            return True
        return deadline is not None and clock() >= deadline

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                on_retry(error, state.attempt_number, state.upcoming_sleep)

    return {
        "retry": retry_if_exception(transient),
        "wait": wait,
        "stop": stop,
        "before_sleep": before_sleep,
        "reraise": True,
    }
