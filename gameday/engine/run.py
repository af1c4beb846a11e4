"""``gameday run``: validate, plan, run each drill, record history, write reports and metrics.

The CLI parses arguments into a ``RunRequest`` and calls ``run``; everything a run does
besides the drills themselves (history, report files, metrics exports) happens here, once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.engine.drill import RunOptions
from gameday.engine.guard import GUARDRAIL
from gameday.engine.parallel import check_parallel
from gameday.engine.plan import (
    POLICY_ARN_HINT,
    load_all,
    plan_scenarios,
    policy_arn_problems,
)
from gameday.engine.real_account import plan_real_account, require_run_approval
from gameday.engine.suite import SuiteOutcome, exit_code_for, run_suite
from gameday.environments.localstack_coverage import REFUSAL_HINT
from gameday.errors import (
    EnvironmentFailure,
    ExitCode,
    GameDayError,
    InvalidInputError,
    ScenarioError,
)
from gameday.facilitation.rules import check_facilitation
from gameday.faults.plan import Plan
from gameday.fis.aws_config import load_aws_environment
from gameday.history import HistoryStore
from gameday.kinds import RunStatus
from gameday.probes.http import unset_header_variables
from gameday.recorder import Listener
from gameday.reports.prom import MetricsExportError, push, write_textfile
from gameday.reports.render import TREND_RUNS, ReportFormat, write_junit, write_reports
from gameday.result import RunResult
from gameday.scenario.loader import LoadedScenario
from gameday.scenario.models import Environment

LOCALSTACK = Environment.LOCALSTACK

if TYPE_CHECKING:
    from gameday.facilitation.session import FacilitationOptions
    from gameday.fis.aws_config import AwsEnvironment


@dataclass
class RunRequest:
    """Everything ``gameday run`` was asked to do."""

    paths: Sequence[Path]
    environment: Environment | None = None
    report_dir: Path = Path("gameday-reports")
    seed: int | None = None
    store: Path | str | None = None
    """The history store: a SQLite path or a PostgreSQL URL (``history.store_location``)."""
    formats: Sequence[str] = ()
    junit: Path | None = None
    metrics_textfile: Path | None = None
    pushgateway: str | None = None
    approve: bool = False
    aws_config: Path | None = None
    listeners: list[Listener] = field(default_factory=list)
    facilitation: FacilitationOptions | None = None
    parallel: int = 1
    """Drills run at once, each in a worker process of its own (``engine.parallel``)."""


def _refused_on_aws(plans: Sequence[Plan], aws_environment: AwsEnvironment | None) -> list[str]:
    """Scenarios whose plan (FIS, or the egress proxy's) fails a check (approval is asked
    at run, not here)."""
    return [
        p.loaded.scenario.metadata.name
        for p in plans
        if not plan_real_account(p.loaded, aws_environment, run_id="plan").ok
    ]


def check_probe_variables(loaded: Sequence[LoadedScenario], environ: Mapping[str, str]) -> None:
    """InvalidInputError (exit 2) naming each probe header variable that ``environ`` does not
    set, before anything starts: a drill never runs with a probe that cannot authenticate."""
    unset = [
        f"{scenario.path}: {line}"
        for scenario in loaded
        for line in unset_header_variables(scenario.scenario, environ)
    ]
    if unset:
        raise InvalidInputError(
            "\n".join(unset),
            hint="export each variable before gameday starts; its value is sent with the "
            "probe's requests and never stored",
        )


def plan_all(
    paths: Sequence[Path],
    environment: Environment | None,
    aws_environment: AwsEnvironment | None = None,
) -> list[Plan]:
    """Validate and plan every scenario; nothing runs unless all are valid and safe.

    A probe header's ``${NAME}`` must be set in gameday's environment (exit 2 otherwise).
    For aws, each scenario's FIS plan must pass its checks too (``aws_environment``: the
    environment file given with ``--aws-config``). On embedded or localstack, an objective
    whose ``target_from`` names a policy ARN is refused (ScenarioError, exit 2, located):
    reading it would reach AWS.

    For localstack, LocalStack must answer first (EnvironmentFailure, exit 3, after a bounded
    wait), and each plan is judged by what it serves. A scenario it cannot serve is not
    unsafe: when every scenario is such, nothing runs (EnvironmentFailure, exit 3); otherwise
    the others run, and each refused one ends as an error when its environment comes up,
    before anything is started or injected.
    """
    loaded = load_all(paths)
    check_probe_variables(loaded, os.environ)
    plans = plan_scenarios(loaded, environment, wait_for_localstack=True)
    # Each located, rather than as a failed check: the fix is in the file, at that line.
    isolated = [line for p in plans for line in policy_arn_problems(p.loaded, p.environment)]
    if isolated:
        raise ScenarioError(isolated, hint=POLICY_ARN_HINT)
    refused = [p.loaded.scenario.metadata.name for p in plans if not p.safe]
    on_aws = [p for p in plans if p.safe and p.environment is Environment.AWS]
    if on_aws:
        refused += _refused_on_aws(on_aws, aws_environment)
    if refused:
        raise GameDayError(
            f"safety checks failed for: {', '.join(refused)}",
            hint="run `gameday plan` to see them; nothing was run",
        )
    refusals = [p.refusal for p in plans if p.refusal is not None]
    if plans and len(refusals) == len(plans):
        raise EnvironmentFailure("\n".join(refusals), hint=REFUSAL_HINT)
    return plans


def command_exit_code(outcome: SuiteOutcome, *, exit_zero_on_miss: bool = False) -> ExitCode:
    """The exit code of ``gameday run``: DESIGN.md's (``SuiteOutcome.exit_code``), except that
    with ``exit_zero_on_miss`` a suite that ran and was graded exits 0.

    Graded includes a drill a guardrail stopped: the app caused that abort (it destroyed
    something, or stayed down too long), and the drill is graded as a finding. A drill that
    could not run (3), an abort by a signal (4), and a failed rollback (5) still fail.
    """
    if not exit_zero_on_miss:
        return outcome.exit_code
    graded = [
        r.model_copy(update={"status": RunStatus.FAILED}) if _stopped_by_guardrail(r) else r
        for r in outcome.results
    ]
    code = exit_code_for(graded)
    return ExitCode.OK if code is ExitCode.OBJECTIVE_MISSED else code


def _stopped_by_guardrail(result: RunResult) -> bool:
    return result.status is RunStatus.ABORTED and (result.reason or "").startswith(GUARDRAIL)


def run(
    request: RunRequest,
    on_result: Callable[[RunResult, Path], None],
    on_warning: Callable[[str], None],
    on_reports: Callable[[Sequence[Path]], None] | None = None,
) -> SuiteOutcome:
    """Run every scenario of the request; history, reports and metrics as asked.

    Nothing starts, and nothing is written, when a drill on a real account is not approved
    (``ApprovalRequired``, exit 2). ``on_reports`` gets the suite report files written
    (``request.formats``), none when no drill finished. A metrics export that fails is
    reported through ``on_warning`` and does not change the drills' outcome: the drills ran
    and were recorded.
    """
    check_parallel(request.parallel, facilitated=request.facilitation is not None)
    aws_environment = None
    if request.aws_config is not None:
        aws_environment = load_aws_environment(request.aws_config)
    plans = plan_all(request.paths, request.environment, aws_environment)
    if request.facilitation is not None:
        check_facilitation(plans, request.facilitation)
    # Before the history store and the first drill: an unapproved run leaves no trace.
    require_run_approval(plans, aws_environment, approve=request.approve)
    report_dir = request.report_dir.resolve()
    with HistoryStore(request.store) as history:

        def finished(result: RunResult, path: Path) -> None:
            history.finish_run(result)
            on_result(result, path)
            if request.pushgateway:
                try:
                    push([result], request.pushgateway, run_counts=history.outcome_counts())
                except MetricsExportError as error:
                    on_warning(error.message)

        options = RunOptions(
            seed=request.seed,
            listeners=request.listeners,
            approve=request.approve,
            aws_environment=aws_environment,
            on_start=history.start_run,
            facilitation=request.facilitation,
        )
        outcome = run_suite(
            plans,
            options,
            report_dir,
            clock=time.monotonic,
            on_result=finished,
            parallel=request.parallel,
        )
        counts = history.outcome_counts()
        # A signal before the first drill finished leaves nothing to report on.
        if request.formats and outcome.results:
            names = [r.scenario.name for r in outcome.results]
            written = write_reports(
                outcome.results,
                report_dir,
                [ReportFormat(f) for f in request.formats],
                history=history.trend(names, limit=TREND_RUNS),
                run_counts=counts,
            )
            if on_reports is not None:
                on_reports(written)
        if request.junit is not None:
            write_junit(outcome.results, request.junit)
        if request.metrics_textfile is not None:
            try:
                write_textfile(outcome.results, request.metrics_textfile, run_counts=counts)
            except MetricsExportError as error:
                on_warning(error.message)
    return outcome
