"""``gameday plan``: resolve a scenario into rules and run the safety checks, with no side
effects and no network (DESIGN.md "One run", step 2; "Safety", rule 2)."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.engine.safety import Check, Outcome, safety_checks
from gameday.faults.catalog import KIND_CAPABILITY
from gameday.faults.rules import Rule, resolve_rules
from gameday.kinds import Capability
from gameday.scenario.loader import LoadedScenario
from gameday.scenario.models import Environment


@dataclass(frozen=True)
class Plan:
    """What a run of one scenario would do, before it does anything."""

    loaded: LoadedScenario
    environment: Environment
    rules: list[Rule]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """No safety check failed."""
        return all(check.outcome is not Outcome.FAIL for check in self.checks)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the drill takes away, for the suite's per-capability roll-up."""
        kinds = {fault.kind for fault in self.loaded.scenario.faults}
        return frozenset(c for k in kinds if (c := KIND_CAPABILITY[k]) is not None)


def make_plan(loaded: LoadedScenario, environment: Environment | None = None) -> Plan:
    """Plan ``loaded`` for ``environment`` (default: the scenario's own)."""
    scenario = loaded.scenario
    chosen = environment or scenario.target.environment
    rules = resolve_rules(scenario)
    return Plan(
        loaded=loaded,
        environment=chosen,
        rules=rules,
        checks=safety_checks(scenario, rules, chosen),
    )
