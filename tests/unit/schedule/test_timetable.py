"""Fire times, blackout windows and jitter, to the second, on times given (no clock read)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from gameday.scenario.models import Schedule
from gameday.schedule.models import Blackout
from gameday.schedule.timetable import (
    Timing,
    blocking_window,
    draw_jitter,
    next_fire_time,
    schedule_blackouts,
    upcoming,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def _at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    zone: ZoneInfo = UTC_ZONE,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


def _timing(cron: str, *blackouts: Blackout, jitter_s: float = 0.0, zone: str = "UTC") -> Timing:
    return Timing(cron, ZoneInfo(zone), jitter_s, blackouts)


def test_five_fields_fire_on_the_minute_in_the_schedules_timezone() -> None:
    timing = _timing("0 2 * * 2", zone="Europe/Berlin")
    times = upcoming(timing, _at(2026, 11, 22, 12), 2)
    assert times == [_at(2026, 11, 24, 2, zone=BERLIN), _at(2026, 12, 1, 2, zone=BERLIN)]
    assert times[0].astimezone(UTC) == _at(2026, 11, 24, 1)


def test_six_fields_have_seconds_first() -> None:
    timing = _timing("*/2 * * * * *")
    after = _at(2026, 1, 1, 12, 0, 0).replace(microsecond=500_000)
    assert upcoming(timing, after, 3) == [
        _at(2026, 1, 1, 12, 0, 2),
        _at(2026, 1, 1, 12, 0, 4),
        _at(2026, 1, 1, 12, 0, 6),
    ]


def test_fire_times_are_strictly_after_the_time_given() -> None:
    timing = _timing("0 * * * *")
    assert next_fire_time(timing, _at(2026, 1, 1, 12)) == _at(2026, 1, 1, 13)


def test_daylight_saving_changes_keep_one_run_a_day() -> None:
    timing = _timing("30 2 * * *", zone="Europe/Berlin")
    times = upcoming(timing, _at(2026, 3, 27, 12, zone=BERLIN), 4)
    days = [t.date().day for t in times]
    assert days == [28, 29, 30, 31]  # 02:30 does not exist on the 29th: croniter moves it
    assert all(b > a for a, b in pairwise(times))


def test_a_fixed_time_in_the_repeated_hour_runs_once_and_every_hour_crons_run_twice() -> None:
    daily = upcoming(_timing("30 2 * * *", zone="Europe/Berlin"), _at(2026, 10, 24, 12), 3)
    assert [(t.day, t.hour, t.minute) for t in daily] == [(25, 2, 30), (26, 2, 30), (27, 2, 30)]
    assert daily[0].utcoffset() == timedelta(hours=2)  # the first 02:30 (summer time)
    halves = upcoming(_timing("*/30 * * * *", zone="Europe/Berlin"), _at(2026, 10, 24, 23, 10), 4)
    assert [t.astimezone(UTC).strftime("%H:%M") for t in halves] == [
        "23:30",
        "00:00",
        "00:30",
        "01:00",
    ]  # 01:30, 02:00 summer time, 02:00 winter time: each half hour of real time
    assert [t.strftime("%H:%M") for t in halves] == ["01:30", "02:00", "02:30", "02:00"]


def test_a_cron_that_never_matches_has_no_fire_time() -> None:
    assert next_fire_time(_timing("0 0 30 2 *"), _at(2026, 1, 1)) is None


def test_a_fixed_blackout_moves_the_run_past_its_end() -> None:
    freeze = Blackout(start=datetime(2026, 12, 20), end=datetime(2027, 1, 4), reason="freeze")
    timing = _timing("0 2 * * 2", freeze)
    times = upcoming(timing, _at(2026, 12, 10), 3)
    assert times == [_at(2026, 12, 15, 2), _at(2027, 1, 5, 2), _at(2027, 1, 12, 2)]


def test_a_naive_blackout_is_read_in_the_schedules_timezone() -> None:
    # Naive 01:00-02:00 is Berlin time: 01:30 is blocked, 02:30 is clear. The same hours in
    # UTC are 02:00-03:00 in Berlin: then 01:30 is clear.
    naive = Blackout(start=datetime(2026, 11, 24, 1), end=datetime(2026, 11, 24, 2))
    timing = _timing("30 1,2 * * *", naive, zone="Europe/Berlin")
    midnight = _at(2026, 11, 24, 0, zone=BERLIN)
    assert next_fire_time(timing, midnight) == _at(2026, 11, 24, 2, 30, zone=BERLIN)
    aware = Blackout(start=_at(2026, 11, 24, 1), end=_at(2026, 11, 24, 2))
    timing = _timing("30 1,2 * * *", aware, zone="Europe/Berlin")
    assert upcoming(timing, midnight, 2) == [
        _at(2026, 11, 24, 1, 30, zone=BERLIN),
        _at(2026, 11, 25, 1, 30, zone=BERLIN),
    ]


def test_a_recurring_blackout_keeps_business_hours_free() -> None:
    hours = Blackout(cron="0 9 * * 1-5", duration="9h", reason="business hours")
    timing = _timing("0 * * * *", hours)
    monday = _at(2026, 11, 23, 7, 30)
    times = upcoming(timing, monday, 3)
    assert times == [_at(2026, 11, 23, 8), _at(2026, 11, 23, 18), _at(2026, 11, 23, 19)]


def test_the_end_of_a_window_is_outside_it() -> None:
    window = Blackout(start=datetime(2026, 1, 1, 12, 0, 0), end=datetime(2026, 1, 1, 12, 0, 4))
    timing = _timing("* * * * * *", window)
    assert next_fire_time(timing, _at(2026, 1, 1, 11, 59, 59)) == _at(2026, 1, 1, 12, 0, 4)


def test_the_whole_jitter_window_must_be_clear() -> None:
    # 11:55 + 10 min of jitter could start at 12:04, inside the window: 11:55 is dropped.
    window = Blackout(start=datetime(2026, 1, 1, 12), end=datetime(2026, 1, 1, 13))
    timing = _timing("55 * * * *", window, jitter_s=600)
    assert blocking_window(timing, _at(2026, 1, 1, 11, 55)) is not None
    assert blocking_window(timing, _at(2026, 1, 1, 10, 55)) is None
    assert next_fire_time(timing, _at(2026, 1, 1, 11)) == _at(2026, 1, 1, 13, 55)


def test_the_window_ending_last_decides() -> None:
    short = Blackout(start=datetime(2026, 1, 1, 12), end=datetime(2026, 1, 1, 12, 30))
    long = Blackout(start=datetime(2026, 1, 1, 12, 10), end=datetime(2026, 1, 1, 14), reason="x")
    timing = _timing("*/5 * * * *", short, long)
    window = blocking_window(timing, _at(2026, 1, 1, 12, 20))
    assert window is not None and window.end == _at(2026, 1, 1, 14) and window.reason == "x"


def test_a_long_blackout_over_a_per_second_cron_is_jumped_not_walked() -> None:
    freeze = Blackout(start=datetime(2026, 1, 1), end=datetime(2026, 1, 15))
    timing = _timing("* * * * * *", freeze)
    began = time.perf_counter()
    assert next_fire_time(timing, _at(2025, 12, 31, 23, 59, 59)) == _at(2026, 1, 15)
    assert time.perf_counter() - began < 1.0


def test_jitter_stays_in_its_bound_and_is_reproducible() -> None:
    draws = [draw_jitter(300.0, random.Random(7)) for _ in range(2)]
    assert draws[0] == draws[1] == random.Random(7).random() * 300.0
    rng = random.Random(11)
    many = [draw_jitter(2.5, rng) for _ in range(10_000)]
    assert all(0.0 <= d < 2.5 for d in many)
    assert max(many) > 2.4 and min(many) < 0.1  # the whole range is used
    assert draw_jitter(0.0, rng) == 0.0


def test_blackout_forms_are_checked() -> None:
    cases = [
        ({}, "give either 'start' and 'end'"),
        ({"start": "2026-01-01", "cron": "0 9 * * *", "duration": "1h"}, "give either"),
        ({"start": "2026-01-01"}, "a fixed window needs both"),
        ({"cron": "0 9 * * *"}, "a recurring window needs 'cron' and a 'duration'"),
        ({"start": "2026-01-02", "end": "2026-01-01"}, "'end' must come after 'start'"),
        ({"start": "2026-01-01T00:00Z", "end": "2026-01-02"}, "both carry an offset"),
        ({"cron": "0 9 * *", "duration": "1h"}, "has 4 fields; expected 5 or 6"),
        ({"cron": "0 25 * * *", "duration": "1h"}, "is not a valid expression"),
        ({"start": "2026-01-01", "end": "2026-01-02", "why": "x"}, "Extra inputs"),
    ]
    for given, message in cases:
        with pytest.raises(ValidationError) as caught:
            Blackout.model_validate(given)
        assert message in str(caught.value), given


def test_blackouts_describe_themselves() -> None:
    fixed = Blackout.model_validate(
        {"start": "2026-12-20", "end": "2027-01-04", "reason": "freeze"}
    )
    recurring = Blackout.model_validate({"cron": "0 9 * * 1-5", "duration": "9h"})
    assert fixed.describe() == "2026-12-20 00:00 .. 2027-01-04 00:00 (freeze)"
    assert recurring.describe() == 'every "0 9 * * 1-5" for 9h'
    assert fixed.start == datetime(2026, 12, 20) and recurring.duration == 9 * 3600.0


class _WiredSchedule(Schedule):
    """The scenario model once it carries ``blackout`` (the field the scheduler reads)."""

    blackout: tuple[Blackout, ...] = ()


def test_a_schedules_own_windows_join_the_shared_ones() -> None:
    own = Blackout(start=datetime(2026, 1, 1), end=datetime(2026, 1, 2))
    shared = Blackout(cron="0 9 * * *", duration="1h")
    schedule = _WiredSchedule(cron="0 2 * * *", blackout=(own,))
    assert schedule_blackouts(schedule) == (own,)
    assert schedule_blackouts(Schedule(cron="0 2 * * *")) == ()
    timing = Timing.of(schedule, [shared])
    assert timing.blackouts == (own, shared)
    assert next_fire_time(timing, _at(2025, 12, 31, 12)) == _at(2026, 1, 2, 2)


def test_upcoming_counts_and_stops() -> None:
    timing = _timing("0 0 1 1 *")
    assert len(upcoming(timing, _at(2026, 1, 1), 4)) == 4
    assert upcoming(_timing("0 0 30 2 *"), _at(2026, 1, 1), 4) == []
    assert upcoming(timing, _at(2026, 1, 1), 1)[0] - _at(2026, 1, 1) == timedelta(days=365)
