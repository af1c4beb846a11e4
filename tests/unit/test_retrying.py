"""The retry helper every injector API goes through, on a fake clock: no test sleeps."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from gameday.retrying import Backoff, retry_call


class Transient(Exception):
    """A failure worth another try."""


class Permanent(Exception):
    """A failure that another try would only repeat."""


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A call that raises ``errors`` one per attempt, then returns ``result``."""
    calls: list[int] = []
    pending = list(errors)

    def call() -> str:
        calls.append(len(calls) + 1)
        if pending:
            raise pending.pop(0)
        return result

    return call, calls


def is_transient(error: BaseException) -> bool:
    return isinstance(error, Transient)


def test_a_transient_failure_is_retried_until_the_call_succeeds() -> None:
    fake = FakeTime()
    call, calls = failing(Transient("1"), Transient("2"))
    seen: list[tuple[str, int, float]] = []
    result = retry_call(
        call,
        transient=is_transient,
        backoff=Backoff(deadline_s=30, first_delay_s=1.0, max_delay_s=8.0),
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(3),
        on_retry=lambda error, attempt, delay: seen.append((str(error), attempt, delay)),
    )
    assert result == "ok"
    assert calls == [1, 2, 3]
    assert [(e, a) for e, a, _ in seen] == [("1", 1), ("2", 2)]
    assert [d for _, _, d in seen] == fake.sleeps
    # Full jitter under a doubling cap: the first sleep under 1 s, the second under 2 s.
    assert 0 <= fake.sleeps[0] <= 1.0 and 0 <= fake.sleeps[1] <= 2.0


def test_a_permanent_failure_is_raised_at_once_unchanged() -> None:
    fake = FakeTime()
    error = Permanent("denied")
    call, calls = failing(error)
    with pytest.raises(Permanent) as caught:
        retry_call(call, transient=is_transient, sleep=fake.sleep, clock=fake.clock)
    assert caught.value is error
    assert calls == [1] and fake.sleeps == []


def test_past_the_deadline_the_last_error_is_raised() -> None:
    fake = FakeTime()
    errors = [Transient(f"attempt {n}") for n in range(1, 100)]
    call, calls = failing(*errors)
    with pytest.raises(Transient, match=r"^attempt \d+$") as caught:
        retry_call(
            call,
            transient=is_transient,
            backoff=Backoff(deadline_s=10, first_delay_s=1.0, max_delay_s=2.0),
            sleep=fake.sleep,
            clock=fake.clock,
            rng=random.Random(1),
        )
    assert str(caught.value) == f"attempt {len(calls)}"  # the last error, not the first
    assert 2 < len(calls) < 99
    # The sleep before the last attempt is cut to end on the deadline: never past it.
    assert fake.now == pytest.approx(110.0)


def test_the_attempts_bound_stops_before_the_deadline() -> None:
    fake = FakeTime()
    call, calls = failing(*(Transient(str(n)) for n in range(10)))
    with pytest.raises(Transient, match=r"^2$"):
        retry_call(
            call,
            transient=is_transient,
            backoff=Backoff(deadline_s=None, max_attempts=3),
            sleep=fake.sleep,
            clock=fake.clock,
        )
    assert calls == [1, 2, 3] and len(fake.sleeps) == 2


def test_a_deadline_of_zero_means_one_attempt() -> None:
    fake = FakeTime()
    call, calls = failing(Transient("once"))
    with pytest.raises(Transient):
        retry_call(
            call,
            transient=is_transient,
            backoff=Backoff(deadline_s=0),
            sleep=fake.sleep,
            clock=fake.clock,
        )
    assert calls == [1]


def test_a_backoff_needs_a_bound() -> None:
    with pytest.raises(ValueError, match="needs a deadline_s or max_attempts"):
        Backoff(deadline_s=None, max_attempts=None)
    with pytest.raises(ValueError, match="max_attempts must be 1 or more, not 0"):
        Backoff(max_attempts=0)


def test_a_long_run_of_attempts_keeps_its_delay_capped() -> None:
    fake = FakeTime()
    call, calls = failing(*(Transient(str(n)) for n in range(2000)))
    retry_call(
        call,
        transient=is_transient,
        backoff=Backoff(deadline_s=None, max_attempts=2001, first_delay_s=0.0, max_delay_s=0.0),
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert len(calls) == 2001 and max(fake.sleeps) == 0.0
