"""The scheduler's loop on a clock the test moves (no drill runs here): fire times that pass
unseen are skipped as late, a file whose schedule did not change keeps its fire time, and no
drill starts while the store's lock cannot be confirmed (a lock that says so on demand; the
real PostgreSQL lock is tested in tests/integration/schedule/test_postgresql_lock.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.engine.signals import SignalGuard
from gameday.errors import GameDayError, InvalidInputError
from gameday.history import HistoryStore, SkipReason
from gameday.schedule.lock import SchedulerLockLostError
from gameday.schedule.scheduler import LOCK_CHECK_S, Scheduler, SchedulerSettings
from gameday.schedule.serve import Board, Status, health
from tests.unit.schedule.scenarios import scenario_text, write_scenario


class Clock:
    """Unix seconds that move only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[tuple[Scheduler, Clock, list[str]]]:
    clock = Clock(datetime(2026, 11, 22, 10, 59, tzinfo=UTC))
    lines: list[str] = []
    settings = SchedulerSettings(
        tmp_path / "in", clock=clock, rng=random.Random(3), log=lines.append
    )
    (tmp_path / "in").mkdir()
    with ExitStack() as stack:
        history = stack.enter_context(HistoryStore(tmp_path / "h.db"))
        board = Board(Status(started_at=clock(), last_loop=clock()))
        yield Scheduler(settings, history, board, SignalGuard()), clock, lines


def test_fire_times_that_pass_unseen_are_skipped_as_late(
    loop: tuple[Scheduler, Clock, list[str]], tmp_path: Path
) -> None:
    scheduler, clock, lines = loop
    write_scenario(tmp_path / "in", "hourly", "{cron: '0 * * * *'}")
    scheduler.step()
    entry = scheduler.entries["hourly"]
    assert entry.fire == datetime(2026, 11, 22, 11, tzinfo=UTC)
    clock.now = datetime(2026, 11, 22, 12, 30, tzinfo=UTC).timestamp()  # the machine slept
    scheduler.step()
    skipped = scheduler.history.skips()
    assert [(s.due_at, s.reason) for s in skipped] == [
        ("2026-11-22T11:00:00.000Z", SkipReason.LATE),
        ("2026-11-22T12:00:00.000Z", SkipReason.LATE),
    ]
    assert skipped[0].detail == "seen 5400s after it fell due (the scheduler was stalled)"
    assert entry.fire == datetime(2026, 11, 22, 13, tzinfo=UTC)
    assert scheduler.history.runs() == []  # nothing ran at an hour nobody planned
    assert "skipped: late: hourly: 2 fire time(s) from 2026-11-22T11:00:00.000Z" in lines[-1]
    assert scheduler.board.status.skip_counts == {("hourly", SkipReason.LATE): 2}


def test_an_edit_that_keeps_the_schedule_keeps_the_fire_time(
    loop: tuple[Scheduler, Clock, list[str]], tmp_path: Path
) -> None:
    scheduler, clock, lines = loop
    path = write_scenario(tmp_path / "in", "daily", "{cron: '0 2 * * *', jitter: 1h}")
    scheduler.step()
    before = scheduler.entries["daily"]
    first = (before.fire, before.start)
    path.write_text(scenario_text("daily", "{cron: '0 2 * * *', jitter: 1h}", fault="duration: 1s"))
    clock.now += 2
    scheduler.step()
    after = scheduler.entries["daily"]
    assert (after.fire, after.start) == first  # the jitter draw is not drawn again
    assert after.scheduled.plan is not before.scheduled.plan  # but the new content is used
    path.write_text(scenario_text("daily", "{cron: '0 3 * * *'}"))
    clock.now += 2
    scheduler.step()
    assert scheduler.entries["daily"].fire == datetime(2026, 11, 23, 3, tzinfo=UTC)
    assert sum(line.startswith("scheduled daily") for line in lines) == 2


class Lock:
    """A scheduler lock whose answer the test sets: held (None), or the error to raise."""

    what = "postgresql://drills@db.internal/gameday"

    def __init__(self) -> None:
        self.answer: GameDayError | None = None
        self.asked = 0

    def confirm(self) -> None:
        self.asked += 1
        if self.answer is not None:
            raise self.answer


def test_no_drill_starts_while_the_lock_cannot_be_confirmed(
    loop: tuple[Scheduler, Clock, list[str]], tmp_path: Path
) -> None:
    scheduler, clock, lines = loop
    lock = Lock()
    scheduler.lock = lock
    write_scenario(tmp_path / "in", "hourly", "{cron: '0 * * * *'}")
    scheduler.step()
    assert lock.asked == 1 and lines[-1].startswith("scheduled hourly")
    assert scheduler.board.status.problem is None
    lock.answer = InvalidInputError(f"{lock.what}: the history store failed: gone")
    clock.now = datetime(2026, 11, 22, 11, 0, 1, tzinfo=UTC).timestamp()  # hourly is due
    for _ in range(3):  # turns within LOCK_CHECK_S: asked once, said once
        scheduler.step()
        clock.now += LOCK_CHECK_S / 4
    assert lock.asked == 2
    assert lines[-1] == (
        f"error: cannot confirm the scheduler lock: {lock.answer.message}; "
        "no drill starts until it is confirmed"
    )
    clock.now += LOCK_CHECK_S
    scheduler.step()
    assert lock.asked == 3 and sum("cannot confirm" in line for line in lines) == 1
    assert scheduler.board.status.problem == lock.answer.message  # /healthz: 503 at once
    assert health(scheduler.board.status, clock.now)[0] is False
    assert scheduler.history.runs() == [] and scheduler.history.skips() == []
    assert scheduler.entries["hourly"].fire == datetime(2026, 11, 22, 11, tzinfo=UTC)  # kept

    lock.answer = SchedulerLockLostError("lost the scheduler lock: taken by pid 7")
    clock.now += LOCK_CHECK_S
    with pytest.raises(SchedulerLockLostError):
        scheduler.step()
    assert lines[-1] == "stopping: lost the scheduler lock: taken by pid 7; no drill is running"
    assert scheduler.history.runs() == []
