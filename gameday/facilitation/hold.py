"""``--hold``: faults stay in place until the facilitator ends them (key e) or the drill's
``guardrails.max_duration`` comes near, so that people perform the recovery themselves.

Held faults are ordinary rules whose last window is stretched to the hold deadline: the
gateway's TTL follows the rule, so even a runner killed with SIGKILL leaves no fault behind
past the deadline, and key e removes them early through the same schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from gameday.errors import InvalidInputError
from gameday.faults.rules import Rule
from gameday.kinds import HUMAN_MARKS
from gameday.scenario.models import HumanObjective, Scenario

if TYPE_CHECKING:
    from gameday.facilitation.session import Facilitator

HOLD_MARGIN_S = 1.0
"""The hold ends this long before the hard stop, so the observation after it ends on time
rather than as a max_duration abort."""


def observe_after_faults(scenario: Scenario, rules: list[Rule]) -> float:
    """How long the scenario observes after its last fault ends (observe.max - last end)."""
    return max(0.0, scenario.observe.max - max(r.end_s for r in rules))


def hold_deadline(scenario: Scenario, rules: list[Rule]) -> float:
    """The drill-start offset at which held faults end by themselves: max_duration, less the
    observation the scenario plans after its faults and a margin. InvalidInputError (exit 2)
    when that leaves no time to hold beyond the planned windows."""
    last_end = max(r.end_s for r in rules)
    rails = scenario.guardrails
    deadline = rails.max_duration - observe_after_faults(scenario, rules) - HOLD_MARGIN_S
    if deadline <= last_end:
        raise InvalidInputError(
            f"--hold: {scenario.metadata.name}: guardrails.max_duration "
            f"({rails.max_duration:g}s) leaves no time to hold the faults beyond their planned "
            f"end ({last_end:g}s) and the {observe_after_faults(scenario, rules):g}s observed "
            "after them",
            hint="raise guardrails.max_duration in the scenario; it bounds how long faults "
            "may be held",
        )
    return deadline


def held_rules(rules: list[Rule], deadline: float) -> list[Rule]:
    """``rules`` with each fault's last window stretched to ``deadline`` (a ramp's earlier
    steps keep their times: only the end of the fault is held)."""
    # Every rule that ends with its fault is held, not one: a fault can resolve into several
    # rules over the same window (a lost region and, with include_global, the global services).
    last_end: dict[str, float] = {}
    for rule in rules:
        last_end[rule.fault] = max(rule.end_s, last_end.get(rule.fault, rule.end_s))
    return [
        replace(r, end_s=max(r.end_s, deadline)) if r.end_s == last_end[r.fault] else r
        for r in rules
    ]


def humans_decided(scenario: Scenario, facilitator: Facilitator) -> bool:
    """True when every human objective has its mark since the first injection (observing
    longer cannot change them)."""
    t0 = facilitator.recorder.t0
    if t0 is None:
        return False
    times = facilitator.times()
    return all(
        any(at >= t0 for at in times.get(HUMAN_MARKS[o.kind], ()))
        for o in scenario.objectives
        if isinstance(o, HumanObjective)
    )


class FacilitatedPace:
    """The pace of a facilitated run (``gameday.engine.pace.Pace``): under --hold, every
    fault is held until key e or the deadline, and the observation planned after the faults
    follows from then; observation also waits for people's marks."""

    def __init__(self, facilitator: Facilitator, scenario: Scenario, planned: list[Rule]):
        self.facilitator = facilitator
        self.scenario = scenario
        self.planned = planned
        held = facilitator.hold_deadline is not None
        self.end: asyncio.Event | None = facilitator.ended if held else None

    def rules(self, rules: Sequence[Rule]) -> list[Rule]:
        deadline = self.facilitator.hold_deadline
        return list(rules) if deadline is None else held_rules(list(rules), deadline)

    def observe_limit(self, start: float, now: float) -> float:
        """``observe.max`` from the drill's start; under --hold, the observation planned
        after the faults, from when the hold ended (key e, or its deadline, reached now)."""
        facilitator = self.facilitator
        if facilitator.hold_deadline is None:
            return start + self.scenario.observe.max
        if not facilitator.ended.is_set() and now >= start + facilitator.hold_deadline:
            facilitator.hold_expired()
        ended = facilitator.hold_ended_at
        end = ended - start if ended is not None else facilitator.hold_deadline
        return start + end + observe_after_faults(self.scenario, self.planned)

    def decided(self) -> bool:
        return humans_decided(self.scenario, self.facilitator)
