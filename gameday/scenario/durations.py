"""Durations as people write them in scenarios: ``250ms``, ``30s``, ``5m``, ``1h``, ``1m30s``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = r"(\d+(?:\.\d+)?)(ms|s|m|h)"
_DURATION = re.compile(rf"^(?:{_PART})+$")
_PARTS = re.compile(_PART)
DURATION_PATTERN = rf"^(?:{_PART})+$"


def parse_duration(value: object) -> float:
    """Return the seconds in ``value``; a bare number is refused because its unit is a guess."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            f"expected a duration such as 250ms, 30s, 5m or 1h, got {value!r}"
            + (" (add a unit)" if isinstance(value, int | float) else "")
        )
    text = value.strip().replace(" ", "")
    if not _DURATION.match(text):
        raise ValueError(f"expected a duration such as 250ms, 30s, 5m or 1h, got {value!r}")
    return sum(float(number) * _UNIT_S[unit] for number, unit in _PARTS.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest exact text for ``seconds`` that ``parse_duration`` reads back."""
    millis = round(seconds * 1000)
    if millis % 1000:
        return f"{millis}ms"
    whole = millis // 1000
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def _non_negative(seconds: float) -> float:
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": DURATION_PATTERN, "examples": ["250ms", "30s", "5m", "1h"]}
)
_SERIALIZER = PlainSerializer(format_duration, return_type=str)

Duration = Annotated[
    float,
    BeforeValidator(lambda v: _non_negative(parse_duration(v))),
    _SERIALIZER,
    _SCHEMA,
]
"""Seconds, written in YAML with a unit and dumped back the same way."""


@dataclass(frozen=True, slots=True)
class Floor:
    """The least a duration may be where a smaller one does harm, and why."""

    seconds: float
    what: str
    why: str
    zero: str | None = None
    """The message for zero, where the field has always said it its own way."""

    def check(self, written: object) -> float:
        """The seconds in ``written``; refused below the floor, with the value as written."""
        seconds = _non_negative(parse_duration(written))
        if seconds >= self.seconds:
            return seconds
        if seconds == 0 and self.zero is not None:
            raise ValueError(self.zero)
        floor = format_duration(self.seconds)
        raise ValueError(
            f"{str(written).strip()} is below the {floor} floor for {self.what}: {self.why}; "
            f"use {floor} or more"
        )


PROBE_INTERVAL = Floor(
    0.010,
    "a probe's interval",
    "every tick is recorded, as a sample or as missed while the previous sample runs, so a "
    "shorter interval fills memory faster than any probe answers",
)
PROBE_TIMEOUT = Floor(
    0.010,
    "a probe's timeout",
    "no sample completes in less, so every one would fail and the drill would grade nothing",
)
FAULT_DURATION = Floor(
    0.100,
    "a fault's duration",
    "a shorter fault ends before the calls it should fail can meet it (adding and removing "
    "it takes longer)",
    zero="a fault needs a duration above zero",
)
OBSERVE_MAX = Floor(
    1.0,
    "how long a drill is observed",
    "a drill observed for less cannot take the samples its objectives are graded on",
)
FLOORS = (PROBE_INTERVAL, PROBE_TIMEOUT, FAULT_DURATION, OBSERVE_MAX)
"""Every duration floor, in one place (docs/scenario.md "Limits" lists them)."""


# Each a ``Duration`` refused below its floor: the same YAML, schema and dump.
ProbeInterval = Annotated[float, BeforeValidator(PROBE_INTERVAL.check), _SERIALIZER, _SCHEMA]
ProbeTimeout = Annotated[float, BeforeValidator(PROBE_TIMEOUT.check), _SERIALIZER, _SCHEMA]
FaultDuration = Annotated[float, BeforeValidator(FAULT_DURATION.check), _SERIALIZER, _SCHEMA]
ObserveMax = Annotated[float, BeforeValidator(OBSERVE_MAX.check), _SERIALIZER, _SCHEMA]


MAX_SAMPLES_PER_PROBE = 100_000
"""The most samples one probe may take in a drill: ``guardrails.max_duration / interval``.

Every sample is held to the end of a run, several times over (the recorder's samples, the
result, its JSON, the HTML report's bars): about 0.3 KB for a healthy sample and 0.7 KB for a
failing one in all (``bench/probe_samples.py``), so a probe at the cap costs 30-70 MB. It
lets the 10 ms interval floor run for the default max_duration (15 minutes: 90,000 samples),
and a 1 s interval for a day."""


def too_many_samples(interval_s: float, max_duration_s: float) -> str | None:
    """Why a probe sampling every ``interval_s`` for ``max_duration_s`` would take too many
    samples, with the interval or max_duration that fits; None when it fits."""
    if interval_s <= 0 or max_duration_s / interval_s <= MAX_SAMPLES_PER_PROBE:
        return None
    count = max_duration_s / interval_s
    least_ms = math.ceil(max_duration_s * 1000 / MAX_SAMPLES_PER_PROBE)
    most_s = math.floor(interval_s * MAX_SAMPLES_PER_PROBE * 1000) / 1000
    return (
        f"interval {format_duration(interval_s)} over guardrails.max_duration "
        f"({format_duration(max_duration_s)}) is {count:,.0f} samples, over the limit of "
        f"{MAX_SAMPLES_PER_PROBE:,} per probe (each is kept to the end of the run: memory "
        f"grows with them); use interval: {format_duration(least_ms / 1000)} or more, or "
        f"guardrails.max_duration: {format_duration(most_s)} or less"
    )
