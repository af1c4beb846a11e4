"""``gameday plan``: resolve a scenario into rules and run the safety checks, with no side
effects and no network (DESIGN.md "One run", step 2; "Safety", rule 2). The one exception:
for localstack, LocalStack's health is read once to learn which services it serves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gameday.checks import Check
from gameday.engine.safety import localstack_checks, safety_checks
from gameday.environments.localstack_coverage import (
    ServedServices,
    check_coverage,
    refusal_message,
)
from gameday.errors import ScenarioError
from gameday.faults.plan import Plan
from gameday.faults.rules import resolve_rules
from gameday.scenario.loader import LoadedScenario, validate_files
from gameday.scenario.models import Environment


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
        # Lazy: environments.localstack imports boto3 (~150 ms); only LocalStack plans need it.
        from gameday.environments.localstack import served_or_known  # noqa: PLC0415

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


def load_all(paths: Sequence[Path]) -> list[LoadedScenario]:
    """Load every scenario under ``paths``; ScenarioError with every problem of every file
    when any is invalid (nothing is planned then)."""
    verdicts = validate_files(paths)
    problems = [p for v in verdicts for p in v.problems]
    if problems:
        raise ScenarioError(problems)
    return [v.loaded for v in verdicts if v.loaded is not None]


def plan_scenarios(
    loaded: Sequence[LoadedScenario],
    environment: Environment | None,
    *,
    wait_for_localstack: bool = False,
) -> list[Plan]:
    """Plan each scenario. For localstack, what it serves is read once for all of them:
    after a bounded wait for it to answer (``wait_for_localstack``, for a run:
    EnvironmentFailure when it never does), or at once, falling back to the free edition's
    known services (for ``gameday plan``)."""
    served = None
    if any(
        (environment or s.scenario.target.environment) is Environment.LOCALSTACK for s in loaded
    ):
        # Lazy: environments.localstack imports boto3 (~150 ms); only LocalStack plans need it.
        from gameday.environments.localstack import (  # noqa: PLC0415
            localstack_url,
            served_or_known,
        )
        from gameday.environments.localstack import (  # noqa: PLC0415
            wait_for_localstack as wait,
        )

        served = wait(localstack_url()) if wait_for_localstack else served_or_known()
    return [make_plan(each, environment, served=served) for each in loaded]
