"""The real-account checks of DESIGN.md "Safety", run before anything is created.

In this order, each refusal naming what is missing and creating nothing:

1. approval: ``--approve``, or an interactive yes on a TTY; never implied without a TTY. It
   comes first, before any client is made, so a drill that was not approved sends nothing
   (``gameday run`` checks it for every drill before the first one starts:
   ``engine.real_account.require_run_approval``; each drill checks it again here);
2. the account: the caller's account from STS ``GetCallerIdentity`` is in the allow-list;
3. stop conditions: at least one CloudWatch alarm;
4. durations: the experiment, with FIS's minimum durations applied, ends within
   ``guardrails.max_duration`` and within ``observe.max``;
5. then the template itself: an FIS role, every fault mapped, every action on the allow-list,
   and botocore's own validation of the ``create_experiment_template`` request.

Only once all have passed does the drill read an objective's ``target_from`` policy ARN from
Resilience Hub (``fis.resilience_hub``): the runner's credentials reach AWS after approval and
the account check, never before.

Exit codes: a missing approval or missing configuration is invalid input or usage (2); an
account outside the allow-list, or credentials STS rejects, means the drill could not run in
this environment (3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from gameday.errors import EnvironmentFailure, InvalidInputError
from gameday.fis.actions import RefusedActionError
from gameday.fis.aws_config import AwsEnvironment
from gameday.fis.spec import FisPlan
from gameday.fis.validate import validate_request
from gameday.scenario.durations import format_duration
from gameday.scenario.models import Scenario

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

Ask = Callable[[str], bool]


class ApprovalRequired(InvalidInputError):
    """No ``--approve`` and no interactive yes (exit 2)."""


class ConfigurationMissing(InvalidInputError):
    """The environment file (or ``target.aws``) lacks a setting a real account needs (exit 2)."""


class DurationExceeded(InvalidInputError):
    """The experiment would outlast the scenario's limits (exit 2)."""


class AccountNotAllowed(EnvironmentFailure):
    """The credentials belong to an account outside the allow-list (exit 3)."""


@dataclass(frozen=True, slots=True)
class Clearance:
    """The outcome of passed checks: the account and region the drill may touch."""

    account: str
    region: str


def require_approval(approve: bool, *, interactive: bool, ask: Ask | None, summary: str) -> None:
    """Pass with ``--approve``, or with a yes from ``ask`` on a TTY; refuse otherwise."""
    if approve:
        return
    if interactive and ask is not None and ask(summary):
        return
    raise ApprovalRequired(
        f"not approved: {summary}",
        hint="pass --approve (or answer yes on a terminal) to run against a real account",
    )


def approval_summary(plan: FisPlan, scenario: Scenario) -> str:
    """What a person approves: the drill, as the FIS experiment it becomes."""
    return (
        f"run {scenario.metadata.name} as an FIS experiment in {plan.region} "
        f"({len(plan.template.actions)} actions, {format_duration(plan.length_s)})"
    )


def caller_account(sts: STSClient) -> str:
    """The account id the credentials belong to, from STS ``GetCallerIdentity``."""
    try:
        return sts.get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise EnvironmentFailure(
            f"STS GetCallerIdentity failed: {error}",
            hint="check the AWS credentials and region this run uses",
        ) from None


def check_account(env: AwsEnvironment, sts: Callable[[], STSClient]) -> str:
    """The caller's account, refused unless it is in the allow-list."""
    if not env.accounts:
        raise ConfigurationMissing(
            "no account allow-list: no account is allowed",
            hint="list the account ids under 'accounts' in the environment file",
        )
    account = caller_account(sts())
    if account not in env.accounts:
        raise AccountNotAllowed(
            f"account {account} is not in the allow-list ({', '.join(env.accounts)})",
            hint="use credentials for an allowed account, or add it to 'accounts' on purpose",
        )
    return account


def check_stop_conditions(env: AwsEnvironment) -> None:
    """At least one CloudWatch alarm must be able to stop the experiment."""
    if not env.stop_conditions:
        raise ConfigurationMissing(
            "no stop condition: FIS needs at least one CloudWatch alarm to stop the experiment",
            hint="list alarm ARNs under 'stop_conditions' in the environment file",
        )


def check_durations(plan: FisPlan, scenario: Scenario) -> None:
    """The experiment, as FIS will run it, ends within the scenario's limits."""
    length = plan.length_s
    limit = scenario.guardrails.max_duration
    if length > limit:
        raise DurationExceeded(
            f"the FIS experiment runs {format_duration(length)}, past guardrails.max_duration "
            f"{format_duration(limit)}",
            hint="FIS runs most actions for at least 1m: see the notes of 'gameday plan'",
        )
    if length > scenario.observe.max:
        raise DurationExceeded(
            f"the FIS experiment runs {format_duration(length)}, past observe.max "
            f"{format_duration(scenario.observe.max)}: the drill would stop watching first",
            hint="raise observe.max (and guardrails.max_duration) for the aws environment",
        )


def check_template(plan: FisPlan) -> None:
    """An FIS role, only allowed actions, and a request botocore accepts."""
    if plan.template.role_arn is None:
        raise ConfigurationMissing(
            "no FIS role: FIS needs an IAM role to run the experiment",
            hint="set 'role_arn' in the environment file (or target.aws.role_arn)",
        )
    if plan.problems:
        raise InvalidInputError(
            "\n".join(plan.problems), hint="see the problems 'gameday plan --env aws' lists"
        )
    if plan.refused:
        raise RefusedActionError(
            "\n".join(plan.refused),
            hint="gameday runs only FIS actions that undo themselves (DESIGN.md 'Safety')",
        )
    validate_request(plan.template.to_request())


def clear_for_real_account(
    plan: FisPlan,
    scenario: Scenario,
    env: AwsEnvironment,
    *,
    approve: bool,
    interactive: bool,
    ask: Ask | None,
    sts: Callable[[], STSClient],
) -> Clearance:
    """Run every check in order; return the clearance or raise the first refusal.

    ``env`` is the merged environment (``merge_environment``); ``sts`` makes the STS client,
    and is called only once approval is given.
    """
    summary = approval_summary(plan, scenario)
    require_approval(approve, interactive=interactive, ask=ask, summary=summary)
    account = check_account(env, sts)
    check_stop_conditions(env)
    check_durations(plan, scenario)
    check_template(plan)
    return Clearance(account=account, region=plan.region)
