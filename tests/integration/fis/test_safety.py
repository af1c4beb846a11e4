"""Every real-account refusal, one test each, and that nothing was created when refused.

``attempt`` does what the engine does at the start of a drill on aws: the checks, then the
template and the experiment. A refusal must come before either exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from gameday.errors import ExitCode, GameDayError
from gameday.fis.actions import RefusedActionError
from gameday.fis.clients import AwsClients
from gameday.fis.lifecycle import FisExperiment
from gameday.fis.plan import AwsPlan, plan_aws
from gameday.fis.safety import (
    AccountNotAllowed,
    ApprovalRequired,
    Clearance,
    ConfigurationMissing,
    DurationExceeded,
    clear_for_real_account,
)
from tests.integration.fis.conftest import Recorder
from tests.integration.fis.helpers import EC2, REGION, experiments_of, identity_plan, templates_of
from tests.unit.fis.builders import ACCOUNT, environment, scenario

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient

pytestmark = pytest.mark.usefixtures("on_moto")


def attempt(
    plan: AwsPlan,
    *,
    approve: bool = True,
    interactive: bool = False,
    ask: Callable[[str], bool] | None = None,
) -> Clearance:
    """The start of a drill on aws: checks first, then create and start."""
    clearance = clear_for_real_account(
        plan.fis,
        plan.scenario,
        plan.environment,
        approve=approve,
        interactive=interactive,
        ask=ask,
        sts=lambda: AwsClients(REGION).sts(),
    )
    with FisExperiment(plan.fis.template, AwsClients(REGION).fis(), sleep=lambda _: None) as e:
        e.start()
        e.stop("test over")
    return clearance


def refused(client: FISClient, run_id: str, plan: AwsPlan, **options: object) -> GameDayError:
    with pytest.raises(GameDayError) as caught:
        attempt(plan, **options)  # type: ignore[arg-type]  # the options are attempt's keywords
    assert templates_of(client, run_id) == []
    assert experiments_of(client, run_id) == []
    return caught.value


def test_all_checks_passed_the_drill_starts(client: FISClient, run_id: str) -> None:
    assert attempt(identity_plan(run_id)) == Clearance(account=ACCOUNT, region=REGION)
    assert len(experiments_of(client, run_id)) == 1
    assert templates_of(client, run_id) == []


def test_approval_is_checked_before_any_network_call(recorder: Recorder, run_id: str) -> None:
    with pytest.raises(ApprovalRequired) as caught:
        attempt(identity_plan(run_id), approve=False)
    assert recorder.seen == []
    assert caught.value.exit_code is ExitCode.INVALID_INPUT
    assert caught.value.message.startswith(
        "not approved: run drill as an FIS experiment in us-west-2"
    )
    # The recorder does see the STS call once the drill is approved: it was listening.
    with pytest.raises(GameDayError, match="STS GetCallerIdentity failed"):
        attempt(identity_plan(run_id))
    assert recorder.seen and recorder.seen[0].startswith("POST /")


def test_no_approval_without_a_terminal_even_with_a_prompt(client: FISClient, run_id: str) -> None:
    asked: list[str] = []

    def yes(question: str) -> bool:
        asked.append(question)
        return True

    error = refused(client, run_id, identity_plan(run_id), approve=False, ask=yes)
    assert isinstance(error, ApprovalRequired) and asked == []


def test_an_interactive_no_is_a_refusal_and_a_yes_is_approval(
    client: FISClient, run_id: str
) -> None:
    error = refused(
        client, run_id, identity_plan(run_id), approve=False, interactive=True, ask=lambda _: False
    )
    assert isinstance(error, ApprovalRequired)
    other = f"{run_id}-yes"
    attempt(identity_plan(other), approve=False, interactive=True, ask=lambda _: True)
    assert len(experiments_of(client, other)) == 1


def test_an_account_outside_the_allow_list_is_refused_with_exit_3(
    client: FISClient, run_id: str
) -> None:
    plan = identity_plan(run_id, accounts=["111122223333"])
    error = refused(client, run_id, plan)
    assert isinstance(error, AccountNotAllowed) and error.exit_code is ExitCode.COULD_NOT_RUN
    assert error.message == f"account {ACCOUNT} is not in the allow-list (111122223333)"


def test_an_empty_allow_list_is_refused(client: FISClient, run_id: str) -> None:
    error = refused(client, run_id, identity_plan(run_id, accounts=[]))
    assert isinstance(error, ConfigurationMissing) and error.exit_code is ExitCode.INVALID_INPUT
    assert error.message == "no account allow-list: no account is allowed"


def test_no_stop_condition_is_refused(client: FISClient, run_id: str) -> None:
    error = refused(client, run_id, identity_plan(run_id, stop_conditions=[]))
    assert isinstance(error, ConfigurationMissing)
    assert error.message.startswith("no stop condition: FIS needs at least one CloudWatch alarm")


def test_an_experiment_past_max_duration_is_refused(client: FISClient, run_id: str) -> None:
    # As written the faults end at 110s; FIS runs each for at least 1m: 60 + 70 + 60 = 190s.
    loaded = scenario(
        """
        - {name: a, kind: identity-loss, duration: 20s}
        - {name: b, kind: identity-loss, start_after: 90s, duration: 20s}
        """,
        observe="2m",
        max_duration="2m",
    )
    plan = plan_aws(loaded, environment(EC2), run_id=run_id)
    error = refused(client, run_id, plan)
    assert isinstance(error, DurationExceeded) and error.exit_code is ExitCode.INVALID_INPUT
    assert error.message == "the FIS experiment runs 190s, past guardrails.max_duration 2m"


def test_an_experiment_past_the_observation_is_refused(client: FISClient, run_id: str) -> None:
    loaded = scenario("- {name: f, kind: identity-loss, duration: 20s}", observe="30s")
    error = refused(client, run_id, plan_aws(loaded, environment(EC2), run_id=run_id))
    assert isinstance(error, DurationExceeded)
    assert error.message.startswith("the FIS experiment runs 1m, past observe.max 30s")


def test_no_fis_role_is_refused(client: FISClient, run_id: str) -> None:
    error = refused(client, run_id, identity_plan(run_id, role_arn=None))
    assert isinstance(error, ConfigurationMissing)
    assert error.message == "no FIS role: FIS needs an IAM role to run the experiment"


def test_a_destructive_action_is_refused(client: FISClient, run_id: str) -> None:
    loaded = scenario(
        """
        - name: kill
          kind: fis-action
          action_id: aws:ec2:terminate-instances
          targets: {Instances: {resource_type: "aws:ec2:instance", tags: {app: orders}}}
          duration: 1m
        """
    )
    error = refused(client, run_id, plan_aws(loaded, environment(), run_id=run_id))
    assert isinstance(error, RefusedActionError) and error.exit_code is ExitCode.INVALID_INPUT
    assert (
        error.message == "kill: aws:ec2:terminate-instances is refused: it terminates EC2 instances"
    )


def test_a_fault_fis_cannot_express_is_refused(client: FISClient, run_id: str) -> None:
    loaded = scenario("- {name: f, kind: logging-loss, duration: 2m}")
    error = refused(client, run_id, plan_aws(loaded, environment(), run_id=run_id))
    assert error.exit_code is ExitCode.INVALID_INPUT
    assert error.message.startswith("fault f: the environment file names no compute")
