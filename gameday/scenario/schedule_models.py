"""Blackout windows: times in which no scheduled drill starts (docs/scheduling.md).

Two forms, each in the schedule's timezone::

    blackout:
      - {start: 2026-12-20, end: 2027-01-04, reason: year-end change freeze}
      - {cron: "0 9 * * 1-5", duration: 9h, reason: business hours}

A fixed window runs from ``start`` (included) to ``end`` (excluded); a date alone is its
midnight, a time without an offset is read in the schedule's timezone. A recurring window
opens at every match of ``cron`` (5 fields, or 6 with seconds first) and lasts ``duration``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from gameday.scenario.base import Model
from gameday.scenario.durations import Duration, format_duration

Moment = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "examples": ["2026-12-20", "2026-12-20T09:00", "2026-12-20T09:00:00+01:00"],
        }
    ),
]
"""A date or a date and time (ISO 8601); without an offset, in the schedule's timezone."""


def check_cron(value: str) -> str:
    """A cron expression croniter reads: 5 fields, or 6 with seconds first."""
    # croniter takes ~20 ms to import; only scenarios with a schedule or a cron blackout need it.
    from croniter import croniter  # noqa: PLC0415

    fields = value.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"cron {value!r} has {len(fields)} fields; expected 5 or 6")
    if not croniter.is_valid(value, second_at_beginning=len(fields) == 6):
        raise ValueError(f"cron {value!r} is not a valid expression")
    return value


class Blackout(Model):
    """A window in which no scheduled drill starts: fixed (``start``..``end``) or recurring
    (``cron`` + ``duration``), in the schedule's timezone."""

    start: Moment | None = Field(
        default=None, description="Fixed window: first moment inside (a date means midnight)."
    )
    end: Moment | None = Field(default=None, description="Fixed window: first moment after.")
    cron: str | None = Field(
        default=None, description="Recurring window: opens at each match (5 or 6 fields)."
    )
    duration: Duration | None = Field(
        default=None, description="Recurring window: how long it stays open after each match."
    )
    reason: str = Field(default="", description="Shown by `gameday schedule list` and in logs.")

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_cron(value)

    @model_validator(mode="after")
    def _one_form(self) -> Blackout:
        fixed = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.duration is not None
        if fixed == recurring:
            raise ValueError(
                "give either 'start' and 'end' (a fixed window) or 'cron' and 'duration' "
                "(a recurring window)"
            )
        if fixed and (self.start is None or self.end is None):
            raise ValueError("a fixed window needs both 'start' and 'end'")
        if recurring and (self.cron is None or not self.duration):
            raise ValueError("a recurring window needs 'cron' and a 'duration' above zero")
        if self.start is not None and self.end is not None:
            if (self.start.tzinfo is None) != (self.end.tzinfo is None):
                raise ValueError("'start' and 'end' must both carry an offset, or neither")
            if self.end <= self.start:
                raise ValueError("'end' must come after 'start'")
        return self

    def describe(self) -> str:
        """``2026-12-20 00:00 .. 2027-01-04 00:00 (year-end freeze)``, or
        ``every "0 9 * * 1-5" for 9h (business hours)``."""
        if self.cron is not None and self.duration is not None:
            text = f'every "{self.cron}" for {format_duration(self.duration)}'
        else:
            text = f"{_short(self.start)} .. {_short(self.end)}"
        return f"{text} ({self.reason})" if self.reason else text


def _short(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return moment.isoformat(sep=" ", timespec="seconds" if moment.second else "minutes")
