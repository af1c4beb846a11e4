"""When faults end and observation stops: the plan's own times, or people's (``--hold``).

The drill holds a ``Pace`` and never asks which one: ``gameday.facilitation.hold`` wraps the
planned pace for a facilitated run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from gameday.faults.rules import Rule
from gameday.scenario.models import Scenario


class Pace(Protocol):
    """The rules as timed for this run, the event that ends them early, the end of observation.

    >>> rules = pace.rules(stage.rules); FaultSchedule(rules, injector, recorder, pace.end)
    >>> while now < pace.observe_limit(start, now) and not (faults_done and pace.decided()): ...
    """

    end: asyncio.Event | None

    def rules(self, rules: Sequence[Rule]) -> list[Rule]:
        """``rules`` as this run applies them."""
        ...

    def observe_limit(self, start: float, now: float) -> float:
        """The run-clock time at which observation stops, seen at ``now``."""
        ...

    def decided(self) -> bool:
        """Whatever people decide is decided (always, for an unattended run)."""
        ...


class PlannedPace:
    """The scenario's own times: faults on their windows, observation until ``observe.max``."""

    end: asyncio.Event | None = None

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario

    def rules(self, rules: Sequence[Rule]) -> list[Rule]:
        return list(rules)

    def observe_limit(self, start: float, now: float) -> float:
        del now
        return start + self.scenario.observe.max

    def decided(self) -> bool:
        return True
