"""A scenario planned for an environment: its concrete rules and safety checks, before
anything is done (DESIGN.md "One run", step 2). Made by ``gameday.engine.plan.make_plan``."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.checks import Check, CheckOutcome
from gameday.faults.catalog import KIND_CAPABILITY
from gameday.faults.rules import Rule
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
    environment_checks: tuple[Check, ...] = ()
    """What the environment serves of the drill's needs (localstack); also among ``checks``."""
    refusal: str | None = None
    """Why the environment cannot run this drill: LocalStack lacks a service it needs."""

    @property
    def ok(self) -> bool:
        """No safety check failed."""
        return all(check.outcome is not CheckOutcome.FAIL for check in self.checks)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the drill takes away, for the suite's per-capability roll-up."""
        kinds = {fault.kind for fault in self.loaded.scenario.faults}
        return frozenset(c for k in kinds if (c := KIND_CAPABILITY[k]) is not None)

    @property
    def safe(self) -> bool:
        """No safety check failed, leaving aside what the environment does not serve."""
        return all(
            check.outcome is not CheckOutcome.FAIL
            for check in self.checks
            if check not in self.environment_checks
        )
