"""``gameday schedule list``: the next run times of each scheduled scenario, blackouts applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.durations import format_duration
from gameday.schedule.catalog import Scheduled, read_catalog
from gameday.schedule.models import Blackout
from gameday.schedule.timetable import upcoming


def _local(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M:%S %Z")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _section(scheduled: Scheduled, now: datetime, count: int) -> list[str]:
    timing = scheduled.timing
    lines = [f"{scheduled.name}  ({scheduled.path})"]
    rule = f'  cron "{timing.cron}" in {timing.timezone.key}'
    if timing.jitter_s > 0:
        rule += f"; each drill starts up to {format_duration(timing.jitter_s)} after its time"
    lines.append(rule)
    lines.extend(f"  blackout: {blackout.describe()}" for blackout in timing.blackouts)
    times = upcoming(timing, now, count)
    if not times:
        lines.append("  never: the cron never matches outside the blackout windows")
    width = max((len(_local(t)) for t in times), default=0)
    lines.extend(f"  {_local(t):<{width}}  =  {_utc(t)}" for t in times)
    return lines


def list_schedule(
    directory: Path,
    count: int = 5,
    *,
    now: datetime | None = None,
    blackouts: Sequence[Blackout] = (),
) -> str:
    """The next ``count`` run times of each scheduled scenario under ``directory``, in its
    timezone and in UTC, after ``now`` (default: the current time), with its blackout windows
    and ``blackouts`` applied. An invalid file raises ``ScenarioError`` with every problem."""
    if count < 1:
        raise InvalidInputError(f"--count: {count} is not a positive number", hint="give 1 or more")
    catalog = read_catalog(directory, blackouts)
    if catalog.invalid:
        raise ScenarioError([p for problems in catalog.invalid.values() for p in problems])
    moment = now or datetime.now(UTC)
    sections = [_section(each, moment, count) for each in catalog.scheduled]
    lines = [line for section in sections for line in [*section, ""]]
    for why in catalog.refused.values():
        lines.append(f"not scheduled: {why}")
    if catalog.unscheduled:
        lines.append(f"{len(catalog.unscheduled)} scenario(s) without a schedule: block")
    if not catalog.scheduled:
        lines.insert(0, f"no scheduled scenarios in {directory}")
    return "\n".join(lines).rstrip("\n") + "\n"
