"""``gameday plan``: resolve a scenario into rules and run the safety checks, with no side
effects and no network (DESIGN.md "One run", step 2; "Safety", rule 2). The one exception:
for localstack, LocalStack's health is read once to learn which services it serves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gameday.checks import Check, CheckOutcome
from gameday.engine.safety import localstack_checks, safety_checks
from gameday.environments.localstack_coverage import (
    ServedServices,
    check_coverage,
    refusal_message,
)
from gameday.errors import ScenarioError
from gameday.faults.plan import Plan
from gameday.faults.rules import resolve_rules
from gameday.scenario.loader import LoadedScenario, locate_fields, validate_files
from gameday.scenario.models import Environment
from gameday.scenario.policy_targets import has_target_from, policy_arns

TARGET_FROM = "target_from"
POLICY_ARN_HINT = (
    "save the policy as JSON (aws resiliencehub describe-resiliency-policy --policy-arn ARN "
    "> policy.json) and give that file as resiliency_policy, or run the drill on a real "
    "account with --env aws (the ARN is read there after approval)"
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
    checks = safety_checks(scenario, rules, chosen) + target_from_checks(loaded, chosen)
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


def policy_arn_problems(loaded: LoadedScenario, environment: Environment) -> list[str]:
    """Each ``target_from`` of ``loaded`` that names a policy ARN, located in its file, when
    ``environment`` is isolated (embedded, localstack): reading it is a call to AWS with the
    runner's own credentials, and an isolated drill never reaches beyond loopback (DESIGN.md
    "Safety" 1). Empty on aws, where it is read after approval."""
    found = policy_arns(loaded.scenario)
    if environment is Environment.AWS or not found:
        return []
    places = locate_fields(loaded.path, [arn.loc for arn in found])
    return [
        f"{place}: {arn.arn!r} is a Resilience Hub policy ARN, read from AWS; a drill on "
        f"{environment.value} never reaches beyond loopback"
        for place, arn in zip(places, found, strict=True)
    ]


def target_from_checks(loaded: LoadedScenario, environment: Environment) -> list[Check]:
    """What ``plan`` shows for objective targets read from a resiliency policy: a policy ARN
    fails on an isolated environment and is read at run, after approval, on aws; nothing
    when no objective has ``target_from``. No check calls anything."""
    scenario = loaded.scenario
    if not has_target_from(scenario):
        return []
    refused = policy_arn_problems(loaded, environment)
    if refused:
        detail = "; ".join(refused) + " (give a JSON file of the policy, or run with --env aws)"
        return [Check(TARGET_FROM, CheckOutcome.FAIL, detail)]
    arns = policy_arns(scenario)
    if arns:
        read = ", ".join(f"{a.objective} from {a.arn} ({a.disruption})" for a in arns)
        detail = f"{read}: resolved at run time, after approval and the account check"
        return [Check(TARGET_FROM, CheckOutcome.AT_RUN, detail)]
    return [Check(TARGET_FROM, CheckOutcome.PASS, "policy files, read before anything starts")]


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
