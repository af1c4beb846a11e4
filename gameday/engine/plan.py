"""``gameday plan``: resolve a scenario into rules and run the safety checks, with no side
effects and no network (DESIGN.md "One run", step 2; "Safety", rule 2). The one exception:
for localstack, LocalStack's health is read once to learn which services it serves."""

from __future__ import annotations

from dataclasses import dataclass

from gameday.engine.safety import Check, Outcome, localstack_checks, safety_checks
from gameday.environments.localstack_coverage import (
    ServedServices,
    check_coverage,
    refusal_message,
)
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
    environment_checks: tuple[Check, ...] = ()
    """What the environment serves of the drill's needs (localstack); also among ``checks``."""
    refusal: str | None = None
    """Why the environment cannot run this drill: LocalStack lacks a service it needs."""

    @property
    def ok(self) -> bool:
        """No safety check failed."""
        return all(check.outcome is not Outcome.FAIL for check in self.checks)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the drill takes away, for the suite's per-capability roll-up."""
        kinds = {fault.kind for fault in self.loaded.scenario.faults}
        return frozenset(c for k in kinds if (c := KIND_CAPABILITY[k]) is not None)

    @property
    def safe(self) -> bool:
        """No safety check failed, leaving aside what the environment does not serve."""
        return all(
            check.outcome is not Outcome.FAIL
            for check in self.checks
            if check not in self.environment_checks
        )


def make_plan(
    loaded: LoadedScenario,
    environment: Environment | None = None,
    *,
    served: ServedServices | None = None,
) -> Plan:
    """Plan ``loaded`` for ``environment`` (default: the scenario's own).

    For localstack, ``served`` is what LocalStack serves; when not given, LocalStack's health
    is asked once (a loopback GET, read only), or the free edition's services are assumed.
    """
    scenario = loaded.scenario
    chosen = environment or scenario.target.environment
    rules = resolve_rules(scenario)
    checks = safety_checks(scenario, rules, chosen)
    environment_checks: list[Check] = []
    refusal = None
    if chosen is Environment.LOCALSTACK:
        from gameday.environments.localstack import served_or_known

        served = served or served_or_known()
        coverage = check_coverage(scenario, served)
        environment_checks = localstack_checks(coverage, served)
        if not coverage.ok:
            refusal = refusal_message(scenario, coverage, served)
    return Plan(
        loaded=loaded,
        environment=chosen,
        rules=rules,
        checks=checks + environment_checks,
        environment_checks=tuple(environment_checks),
        refusal=refusal,
    )
