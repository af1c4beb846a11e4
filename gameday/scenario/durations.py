"""Durations as people write them in scenarios: ``250ms``, ``30s``, ``5m``, ``1h``, ``1m30s``."""

from __future__ import annotations

import re
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


Duration = Annotated[
    float,
    BeforeValidator(lambda v: _non_negative(parse_duration(v))),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["250ms", "30s", "5m", "1h"]}
    ),
]
"""Seconds, written in YAML with a unit and dumped back the same way."""
