"""When a scheduled drill starts: cron fire times, blackout windows, jitter. Pure functions of
the time given (no clock is read here), so every rule is testable to the second.

A fire time ``t`` is kept only when its whole start window ``[t, t + jitter]`` is clear of
every blackout window: whatever the jitter draw, no drill starts inside a blackout, and
``gameday schedule list`` shows exactly the fire times the scheduler will use.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from gameday.scenario.models import Schedule
from gameday.schedule.models import Blackout

STARTING_DEADLINE_S = 300.0
"""A fire time seen later than this (the machine slept, the clock jumped) is skipped as
``late`` rather than run at an hour nobody planned; the Kubernetes export sets the CronJob's
``startingDeadlineSeconds`` to the same."""
MAX_BLOCKED_FIRE_TIMES = 10_000
"""Fire times looked at (each blocked by a blackout) before a schedule is called never."""

_ONE_SECOND = timedelta(seconds=1)
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Window:
    """One blackout window, ``start`` included, ``end`` excluded (aware datetimes)."""

    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Timing:
    """A schedule made concrete: its cron, timezone, jitter and every blackout that applies."""

    cron: str
    timezone: ZoneInfo
    jitter_s: float
    blackouts: tuple[Blackout, ...] = ()

    @classmethod
    def of(cls, schedule: Schedule, extra: Sequence[Blackout] = ()) -> Timing:
        """The timing of ``schedule``: its own blackout windows and ``extra`` ones."""
        return cls(
            cron=schedule.cron,
            timezone=ZoneInfo(schedule.timezone),
            jitter_s=schedule.jitter,
            blackouts=(*schedule_blackouts(schedule), *extra),
        )


def schedule_blackouts(schedule: Schedule) -> tuple[Blackout, ...]:
    """The schedule's own ``blackout`` windows; none while the scenario model has no such
    field (the scheduler also takes windows that apply to every scenario)."""
    found = getattr(schedule, "blackout", None) or ()
    return tuple(each for each in found if isinstance(each, Blackout))


def _cron(expression: str, start: datetime) -> croniter:
    return croniter(expression, start, second_at_beginning=len(expression.split()) == 6)


def next_cron_time(expression: str, after: datetime) -> datetime | None:
    """The first match of ``expression`` strictly after ``after`` (in ``after``'s timezone);
    None when there is none (such as February 30)."""
    try:
        found: datetime = _cron(expression, after).get_next(datetime)
    except CroniterError:
        return None
    return found


def _last_cron_time(expression: str, at_or_before: datetime) -> datetime | None:
    try:
        found: datetime = _cron(expression, at_or_before + _TINY).get_prev(datetime)
    except CroniterError:
        return None
    return found


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def overlapping_window(
    blackout: Blackout, zone: ZoneInfo, first: datetime, last: datetime
) -> Window | None:
    """The window of ``blackout`` that overlaps ``[first, last]`` and ends last; None."""
    if blackout.start is not None and blackout.end is not None:
        start, end = _aware(blackout.start, zone), _aware(blackout.end, zone)
    elif blackout.cron is not None and blackout.duration is not None:
        # The latest opening at or before ``last`` ends last: openings only move forward.
        opened = _last_cron_time(blackout.cron, last.astimezone(zone))
        if opened is None:
            return None
        start, end = opened, opened + timedelta(seconds=blackout.duration)
    else:
        return None
    if start <= last and end > first:
        return Window(start, end, blackout.reason)
    return None


def blocking_window(timing: Timing, fire: datetime) -> Window | None:
    """The blackout window that would let a drill fired at ``fire`` start inside it (the
    one ending last), or None when ``[fire, fire + jitter]`` is clear."""
    last = fire + timedelta(seconds=timing.jitter_s)
    found = [
        window
        for blackout in timing.blackouts
        if (window := overlapping_window(blackout, timing.timezone, fire, last)) is not None
    ]
    return max(found, key=lambda window: window.end, default=None)


def _second_of_repeated_time(cron: str, fire: datetime) -> bool:
    """True for the second pass of a wall time that a fall-back repeats, when the cron names
    its hours: croniter fires at both, cron runs a job at a fixed time once (Vixie cron's
    rule); a cron over every hour (``*``, ``*/2``) fires in both hours, an hour apart."""
    fields = cron.split()
    hours = fields[2 if len(fields) == 6 else 1]
    return fire.fold == 1 and not hours.startswith("*")


def next_fire_time(timing: Timing, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after`` whose start window is clear of every
    blackout, in the schedule's timezone; None when there is none."""
    cursor = after.astimezone(timing.timezone)
    for _ in range(MAX_BLOCKED_FIRE_TIMES):
        fire = next_cron_time(timing.cron, cursor)
        if fire is None:
            return None
        if _second_of_repeated_time(timing.cron, fire):
            cursor = fire
            continue
        window = blocking_window(timing, fire)
        if window is None:
            return fire
        # Every fire time before the window's end, less a second of cron granularity, is
        # blocked by the same window: jump there rather than step through each one.
        cursor = max(fire, (window.end - _ONE_SECOND).astimezone(timing.timezone))
    return None


def upcoming(timing: Timing, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` clear fire times after ``after`` (fewer when the schedule ends)."""
    found: list[datetime] = []
    cursor = after
    while len(found) < count:
        fire = next_fire_time(timing, cursor)
        if fire is None:
            break
        found.append(fire)
        cursor = fire
    return found


def draw_jitter(jitter_s: float, rng: random.Random) -> float:
    """A delay in ``[0, jitter_s)`` (0 without jitter)."""
    return rng.random() * jitter_s if jitter_s > 0 else 0.0
