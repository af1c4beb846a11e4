"""The ``gameday`` command: parse, call one function, render, exit (DESIGN.md "CLI").

Heavy modules (boto3, moto, aiohttp, rich) are imported inside the commands that use them, so
that ``gameday --help`` and ``gameday validate`` stay fast.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from gameday import __version__
from gameday.errors import ExitCode, GameDayError, InvalidInputError

if TYPE_CHECKING:
    from gameday.scenario.loader import LoadedScenario

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="gameday",
    help="GameDay drills for AWS control-plane failures: lose identity, logging, the registry "
    "or a region, on an embedded emulator, LocalStack or a real account, and grade the "
    "recovery.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class OutputFormat(StrEnum):
    """Output for people (text) or machines (json)."""

    TEXT = "text"
    JSON = "json"


class EnvChoice(StrEnum):
    """Where faults land."""

    EMBEDDED = "embedded"
    LOCALSTACK = "localstack"
    AWS = "aws"


def _fail(error: GameDayError) -> typer.Exit:
    from gameday.redact import redact  # an error may quote a probe URL or a command line

    typer.echo(redact(f"error: {error.message}"), err=True)
    if error.hint:
        typer.echo(redact(f"hint: {error.hint}"), err=True)
    return typer.Exit(int(error.exit_code))


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the GameDayError family into its message and exit code; let bugs show as bugs."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except GameDayError as error:
            raise _fail(error) from None

    return run


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gameday {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """GameDay drills for AWS control-plane failures."""


Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Scenario files, or folders searched for *.yaml / *.yml.", show_default=False
    ),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="text for people, json for machines.")
]


@app.command()
@guarded
def validate(paths: Paths, output: FormatOption = OutputFormat.TEXT) -> None:
    """Check scenario files: YAML, every field, and the rules across fields.

    Each problem is printed as FILE:LINE:COL: FIELD: MESSAGE. Exit 0 when every file is valid,
    2 otherwise.

    Examples:

        gameday validate scenarios/

        gameday validate scenarios/identity-loss.yaml --format json
    """
    from gameday.scenario.loader import validate_files

    verdicts = validate_files(paths)
    bad = [v for v in verdicts if v.problems]
    if output is OutputFormat.JSON:
        payload = [
            {
                "file": str(v.path),
                "valid": not v.problems,
                "scenario": v.loaded.scenario.metadata.name if v.loaded else None,
                "problems": v.problems,
            }
            for v in verdicts
        ]
        typer.echo(json.dumps({"files": payload, "valid": not bad}, indent=2))
    else:
        for verdict in verdicts:
            if verdict.loaded is not None:
                s = verdict.loaded.scenario
                typer.echo(
                    f"ok    {verdict.path}  ({s.metadata.name}: {len(s.faults)} fault(s), "
                    f"{len(s.probes)} probe(s), {len(s.objectives)} objective(s))"
                )
            for problem in verdict.problems:
                typer.echo(f"error: {problem}", err=True)
        good = len(verdicts) - len(bad)
        summary = f"{good} valid, {len(bad)} invalid" if bad else f"{good} scenario(s) valid"
        typer.echo(summary, err=bool(bad))
    if bad:
        raise typer.Exit(int(ExitCode.INVALID_INPUT))


AwsConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--aws-config",
        help="Environment file for real accounts (see scenarios/aws.example.yaml).",
        exists=True,
        dir_okay=False,
        show_default=False,
    ),
]


def _plan_aws(loaded: list[LoadedScenario], aws_config: Path | None, output: OutputFormat) -> None:
    """``plan --env aws``: the exact FIS template of each scenario (or, with ``injector:
    egress``, the proxy's rules and decrypted hosts), and the real-account checks."""
    from gameday.engine.real_account import plan_dict, plan_real_account, plan_text
    from gameday.fis.aws_config import load_aws_environment

    environment = load_aws_environment(aws_config) if aws_config else None
    plans = [plan_real_account(each, environment, run_id="plan") for each in loaded]
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"plans": [plan_dict(p) for p in plans]}, indent=2))
    else:
        typer.echo("\n".join(plan_text(p) for p in plans), nl=False)
    failed = [p.scenario.metadata.name for p in plans if not p.ok]
    if failed:
        raise GameDayError(
            f"safety checks failed for: {', '.join(failed)}",
            hint="see the 'fail' rows above; nothing was created",
        )


@app.command()
@guarded
def plan(
    paths: Paths,
    env: Annotated[
        EnvChoice | None,
        typer.Option("--env", "-e", help="Plan for this environment (default: the scenario's)."),
    ] = None,
    output: FormatOption = OutputFormat.TEXT,
    aws_config: AwsConfigOption = None,
) -> None:
    """Show what a run would do, with no side effects and no network (with --env localstack,
    one read of LocalStack's health; with --env aws, the exact FIS template).

    For each scenario: every resolved rule (fault, mode, services, regions, operations,
    probability, window, TTL), the probes, the objectives and their targets, and the outcome
    of each safety check. Exit 2 when a file is invalid or a safety check fails.

    Examples:

        gameday plan scenarios/region-loss.yaml

        gameday plan scenarios/ --env aws --format json
    """
    from gameday.engine.plan import load_all, plan_scenarios
    from gameday.reports.plan import plan_to_dict, render_plan
    from gameday.scenario.models import Environment

    loaded = load_all(paths)
    environment = Environment(env.value) if env else None
    if environment is Environment.AWS:
        _plan_aws(loaded, aws_config, output)
        return
    plans = plan_scenarios(loaded, environment)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps({"plans": [plan_to_dict(p) for p in plans]}, indent=2))
    else:
        typer.echo("\n".join(render_plan(each) for each in plans), nl=False)
    failed = [p.loaded.scenario.metadata.name for p in plans if not p.ok]
    if failed:
        raise GameDayError(
            f"safety checks failed for: {', '.join(failed)}",
            hint="see the 'fail' rows above; nothing was run",
        )


class ReportChoice(StrEnum):
    """Report formats."""

    HTML = "html"
    MD = "md"
    JUNIT = "junit"
    JSON = "json"
    PROM = "prom"
    IAM = "iam"


StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="History store: a SQLite file, or postgresql://USER@HOST/DB for a fleet (the "
        "password from PGPASSWORD or ~/.pgpass) (default: $GAMEDAY_STORE, else "
        ".gameday/history.db).",
        show_default=False,
    ),
]


@app.command()
@guarded
def run(
    paths: Paths,
    env: Annotated[
        EnvChoice | None,
        typer.Option("--env", "-e", help="Where faults land (default: the scenario's, embedded)."),
    ] = None,
    report_dir: Annotated[
        Path,
        typer.Option(
            "--report-dir",
            help="Each drill writes REPORT_DIR/<run-id>/result.json; the suite report goes to "
            "REPORT_DIR/report.html.",
        ),
    ] = Path("gameday-reports"),
    seed: Annotated[
        int | None, typer.Option(help="Seed for fault probability draws, for reproducible runs.")
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            "-j",
            min=1,
            help="Drills run at once, each in its own process with its own emulator, gateway, "
            "app and ports (default: 4 per CPU core; 1 with --facilitate). Results, history "
            "and exit code are those of a run one after another.",
            show_default=False,
        ),
    ] = None,
    formats: Annotated[
        list[ReportChoice] | None,
        typer.Option(
            "--format",
            "-f",
            help="The suite report's formats, written in REPORT_DIR (repeatable; default: html, "
            "REPORT_DIR/report.html). Given, they replace the default.",
        ),
    ] = None,
    no_report: Annotated[
        bool,
        typer.Option(
            "--no-report", help="Write no suite report (each drill's result.json still is)."
        ),
    ] = False,
    exit_zero_on_miss: Annotated[
        bool,
        typer.Option(
            "--exit-zero-on-miss",
            help="Exit 0 when the drills ran and were graded (make demo): missed objectives "
            "and guardrail aborts are findings. Codes 2, 3, a signal's 4 and 5 are kept.",
        ),
    ] = False,
    junit: Annotated[
        Path | None, typer.Option(help="Write JUnit XML here (a test case per objective).")
    ] = None,
    store: StoreOption = None,
    metrics_textfile: Annotated[
        Path | None,
        typer.Option(help="Write Prometheus metrics here (node_exporter textfile collector)."),
    ] = None,
    pushgateway: Annotated[
        str | None, typer.Option(help="Push metrics to this Pushgateway URL after each run.")
    ] = None,
    approve: Annotated[
        bool,
        typer.Option(
            "--approve", help="With --env aws: yes, run FIS experiments in the real account."
        ),
    ] = False,
    aws_config: AwsConfigOption = None,
    facilitate: Annotated[
        bool,
        typer.Option(
            "--facilitate",
            help="A facilitated GameDay: a live view where keys mark the timeline (d detected, "
            "m mitigation, r recovered, n note, 1-9 runbook step, e end held faults) and a "
            "loopback POST /marks endpoint; grades human_ttd and human_ttm. Needs a terminal.",
        ),
    ] = False,
    hold: Annotated[
        bool,
        typer.Option(
            "--hold",
            help="With --facilitate: faults stay until you press e (or max_duration nears), "
            "so people perform the recovery and RTO is measured on it.",
        ),
    ] = False,
    author: Annotated[
        str | None,
        typer.Option(
            "--as", help="With --facilitate: who marks (default: the OS user).", show_default=False
        ),
    ] = None,
    marks_listen: Annotated[
        str,
        typer.Option(help="With --facilitate: HOST:PORT of the marks API (loopback; 0: any)."),
    ] = "127.0.0.1:0",
    marks_token: Annotated[
        str | None,
        typer.Option(
            help="With --facilitate: bearer token the marks API requires "
            "(default: $GAMEDAY_MARKS_TOKEN; none: no token).",
            envvar="GAMEDAY_MARKS_TOKEN",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run drills: bring the environment up, hold steady, inject, observe, roll back, grade.

    One scenario, or a folder (a suite: up to --parallel drills at once, each isolated).
    Prints each objective's target, measured value and credit with the reasons for misses,
    then the score (a suite's with its roll-up per capability), the report's path
    (REPORT_DIR/report.html unless --no-report or --format says otherwise) and the `gameday
    explain` command that shows how the score was computed. Every run is recorded in the
    history store. Ctrl-C or SIGTERM rolls every running drill back and records it as aborted.

    Exit codes: 0 every objective met; 1 an objective missed (0 with --exit-zero-on-miss, as is a
    guardrail's 4); 2 invalid input; 3 the drill could not run (environment, not steady, an
    injector's API or the emulator failed, the app exited before any fault) or tested nothing
    (inconclusive); 4 aborted (guardrail or signal); 5 rollback failed: a fault may still be
    in force (it overrides every other code). A suite exits with its most serious outcome.

    Examples:

        gameday run scenarios/

        gameday run scenarios/ --exit-zero-on-miss      # what make demo runs

        gameday run scenarios/ --parallel 1             # one drill after another

        gameday run scenarios/identity-loss.yaml --format html --junit junit.xml --seed 7

        gameday run scenarios/region-loss.yaml --facilitate --hold --as alice
    """
    import sys
    from contextlib import nullcontext
    from dataclasses import replace

    from gameday.engine.run import RunRequest, command_exit_code
    from gameday.engine.run import run as run_drills
    from gameday.facilitation.rules import facilitation_options
    from gameday.redact import redact
    from gameday.reports.live import live_view, plain_listener
    from gameday.reports.terminal import render_closing, render_result
    from gameday.result import RunResult
    from gameday.scenario.models import Environment

    def report(result: RunResult, path: Path) -> None:
        typer.echo(render_result(result, result_path=path) + f"  result: {path}\n")

    def warn(message: str) -> None:
        typer.secho(redact(f"warning: {message}"), err=True, fg="yellow")

    from gameday.engine.parallel import check_parallel, default_parallel

    drills_at_once = parallel or (1 if facilitate else default_parallel())
    check_parallel(drills_at_once, facilitated=facilitate)
    if no_report and formats:
        raise InvalidInputError(
            "--no-report and --format were both given",
            hint="--format chooses the suite report's formats; --no-report writes none",
        )
    report_formats = [] if no_report else [f.value for f in formats or [ReportChoice.HTML]]
    if env is EnvChoice.AWS and not approve and sys.stdin.isatty() and sys.stderr.isatty():
        # Asked here, before the live view takes the terminal and before any network call;
        # never implied without a terminal (the drill refuses then).
        approve = typer.confirm(
            "Run FIS experiments in a real AWS account (see `gameday plan --env aws`)?",
            default=False,
            err=True,
        )
    facilitation = facilitation_options(
        facilitate, hold, author, marks_listen, marks_token, terminal=(sys.stdin, sys.stderr)
    )
    if facilitation is not None:
        from gameday.facilitation.view import facilitated_view

        view: Any = facilitated_view("gameday run")
    elif sys.stderr.isatty():
        view = live_view("gameday run", [])
    else:
        view = nullcontext(plain_listener())
    with view as listener:
        if facilitation is not None:
            facilitation = replace(facilitation, on_ready=listener.attach)
        request = RunRequest(
            paths=paths,
            environment=Environment(env.value) if env else None,
            report_dir=report_dir,
            seed=seed,
            store=store,
            formats=report_formats,
            junit=junit,
            metrics_textfile=metrics_textfile,
            pushgateway=pushgateway,
            approve=approve,
            aws_config=aws_config,
            listeners=[listener],
            facilitation=facilitation,
            parallel=drills_at_once,
        )
        written: list[Path] = []
        outcome = run_drills(request, on_result=report, on_warning=warn, on_reports=written.extend)
    typer.echo(
        render_closing(
            outcome.suite,
            outcome.results,
            report=_shown_path(_main_report(written)) if written else None,
            explain=_explain_command(outcome.paths, report_dir),
        ),
        nl=False,
    )
    raise typer.Exit(int(command_exit_code(outcome, exit_zero_on_miss=exit_zero_on_miss)))


def _main_report(written: list[Path]) -> Path:
    """The report people open: the HTML one when it was written, else the first."""
    return next((p for p in written if p.suffix == ".html"), written[0])


def _shown_path(path: Path) -> str:
    """A path as the terminal shows it: relative to the working folder when under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _explain_command(results: list[Path], report_dir: Path) -> str:
    """``gameday explain`` for what this run wrote: its one result, or the report folder."""
    from shlex import quote

    source = results[0] if len(results) == 1 else report_dir
    return f"gameday explain {quote(_shown_path(source))}"


@app.command()
@guarded
def report(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A run id (from history), a result.json, or a folder of them.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        ReportChoice, typer.Option("--format", "-f", help="The report's format.")
    ] = ReportChoice.MD,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    store: StoreOption = None,
    posture: Annotated[
        bool,
        typer.Option(
            "--posture",
            help="The fleet's posture from the history store instead of SOURCE: per "
            "capability and owner, last drill, drills, RTO/RPO/TTD, trend, staleness "
            "(html, md or json).",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="With --posture: the period, from a date (2026-01-01) or an age (90d, 12w); "
            "default 90d.",
            show_default=False,
        ),
    ] = None,
    stale_after: Annotated[
        str | None,
        typer.Option(
            help="With --posture: not drilled within this age (30d, 2w) is stale and its "
            "score decays; default 30d.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Render a report from results: HTML, Markdown, JUnit XML, JSON, Prometheus text, or
    the least-privilege IAM policy of the app's calls (iam); or, with --posture, the posture
    of every capability and owner from the history store.

    A folder renders the suite report (every result.json under it); a run id is looked up in
    the history store.

    Examples:

        gameday report gameday-reports/ --format html --out report.html

        gameday report 20261122T074501Z-identity-loss-3f9a --format junit

        gameday report --posture --since 90d --stale-after 30d --format html --out posture.html
    """
    from gameday.history import past_runs, stored_result
    from gameday.reports.render import TREND_RUNS, ReportFormat, load_results, produce_report

    if posture:
        text = _posture_report(source, output, out, store, since, stale_after)
    else:
        if source is None:
            raise InvalidInputError(
                "gameday report needs SOURCE, or --posture",
                hint="give a result.json, a report folder or a run id, or --posture",
            )
        if since is not None or stale_after is not None:
            raise InvalidInputError(
                "--since and --stale-after go with --posture",
                hint="gameday report --posture --since 90d --stale-after 30d",
            )
        results = load_results(source, lambda run_id: stored_result(run_id, store))
        past = past_runs(store, [r.scenario.name for r in results], TREND_RUNS)
        fmt = ReportFormat(output.value)
        text = produce_report(results, fmt, out=out, history=past.trend, run_counts=past.run_counts)
    if out is None:
        typer.echo(text, nl=False)
    else:
        typer.echo(f"wrote {out}", err=True)


def _posture_report(
    source: str | None,
    output: ReportChoice,
    out: Path | None,
    store: str | None,
    since: str | None,
    stale_after: str | None,
) -> str:
    """``gameday report --posture``: every run of the store, its posture in ``output``."""
    from datetime import UTC, datetime

    from gameday.history import parse_age, parse_since, read_finished_runs
    from gameday.reports.posture import (
        DEFAULT_SINCE,
        DEFAULT_STALE_AFTER,
        POSTURE_KINDS,
        PostureRules,
        build_posture,
        format_age,
    )
    from gameday.reports.posture_render import PostureFormat, produce_posture

    if source is not None:
        raise InvalidInputError(
            f"--posture reads the whole history store, not {source!r}",
            hint="drop SOURCE, or drop --posture to report on it",
        )
    if output.value not in {f.value for f in PostureFormat}:
        raise InvalidInputError(
            f"--posture renders html, md or json, not {output.value}",
            hint="gameday report --posture --format html --out posture.html",
        )
    now = datetime.now(UTC)
    start = parse_since(since or format_age(DEFAULT_SINCE), now)
    stale = DEFAULT_STALE_AFTER if stale_after is None else parse_age(stale_after, "--stale-after")
    runs = read_finished_runs(store, POSTURE_KINDS)
    found = build_posture(runs, now=now, since=start, rules=PostureRules(stale))
    return produce_posture(found, PostureFormat(output.value), out)


@app.command()
@guarded
def explain(
    source: Annotated[
        str, typer.Argument(help="A run id (from history), a result.json, or a folder of them.")
    ],
    store: StoreOption = None,
) -> None:
    """Explain a score: each objective's credit with its formula and numbers, the score
    written out, the grade and its caps; for a folder of several scenarios, the suite score and
    each capability's roll-up; then the scoring rules the result was graded with.

    SOURCE is resolved as `gameday report` resolves it: a result.json, a folder (every
    result.json under it, the latest run of each scenario counting for the suite), or a run id
    looked up in the history store.

    Examples:

        gameday explain gameday-reports/

        gameday explain gameday-reports/20261122T074501Z-identity-loss-3f9a/result.json

        gameday explain 20261122T074501Z-identity-loss-3f9a
    """
    from gameday.history import stored_result
    from gameday.reports.explain import render_explanation
    from gameday.reports.render import load_results

    results = load_results(source, lambda run_id: stored_result(run_id, store))
    typer.echo(render_explanation(results), nl=False)


class HistoryChoice(StrEnum):
    """History output."""

    TABLE = "table"
    JSON = "json"


history_app = typer.Typer()
app.add_typer(history_app, name="history")


@history_app.callback(invoke_without_command=True)
@guarded
def history(
    ctx: typer.Context,
    scenario: Annotated[
        str | None, typer.Option(help="Only runs of this scenario.", show_default=False)
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only runs since a date (2026-11-01) or an age (7d, 12h).", show_default=False
        ),
    ] = None,
    output: Annotated[
        HistoryChoice, typer.Option("--format", "-f", help="table for people, json for machines.")
    ] = HistoryChoice.TABLE,
    store: StoreOption = None,
) -> None:
    """List past runs with score, grade, key measurements and the trend against the
    previous run of the same scenario. `gameday history copy` moves a history between stores.

    Examples:

        gameday history

        gameday history --scenario identity-loss --since 30d --format json

        gameday history --store postgresql://drills@db.internal/gameday
    """
    if ctx.invoked_subcommand is not None:
        return
    from gameday.history import read_runs
    from gameday.reports.history_table import HistoryFormat, render_history

    rows = read_runs(store, scenario, since)
    typer.echo(render_history(rows, HistoryFormat(output.value)), nl=False)


@history_app.command("copy")
@guarded
def history_copy(
    target: Annotated[
        str,
        typer.Option(
            "--to",
            help="The store to copy into: a SQLite file or a postgresql:// URL.",
            show_default=False,
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="The store to copy from (default: $GAMEDAY_STORE, else .gameday/history.db).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Copy the finished runs and skipped fire times of one history store into another:
    a laptop's SQLite file into the fleet's PostgreSQL store, or back. Runs the target has
    already are left as they are, so copying twice adds nothing; runs still running are
    left out (docs/fleet.md).

    Examples:

        gameday history copy --to postgresql://drills@db.internal/gameday

        gameday history copy --from postgresql://drills@db.internal/gameday --to fleet.db
    """
    from gameday.history.copy import copy_history
    from gameday.history.location import store_location

    counts = copy_history(source, target)
    typer.echo(
        f"copied {counts.runs} run(s) and {counts.skips} skipped fire time(s) into "
        f"{store_location(target)}; {counts.present} run(s) were there already"
        + (f"; {counts.running} still running, left out" if counts.running else "")
    )


def _abort_aws(region: str | None, aws_config: Path | None) -> None:
    from gameday.fis.aws_config import load_aws_environment
    from gameday.fis.lifecycle import abort_experiments

    if region is None and aws_config is not None:
        region = load_aws_environment(aws_config).region
    if region is None:
        raise GameDayError(
            "gameday abort --env aws needs a region", hint="give --region or --aws-config"
        )
    stopped = abort_experiments(region)
    typer.echo(f"stopped {len(stopped)} FIS experiment(s) in {region}: {', '.join(stopped)}")


@app.command()
@guarded
def abort(
    gateway_urls: Annotated[
        list[str] | None,
        typer.Option(
            "--gateway",
            help="A gateway to clear (repeatable; default also $GAMEDAY_GATEWAY_URL).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Admin token (default: $GAMEDAY_GATEWAY_TOKEN).", show_default=False),
    ] = None,
    env: Annotated[
        EnvChoice | None,
        typer.Option("--env", "-e", help="aws: stop gameday's running FIS experiments too."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(help="With --env aws: the region (default: the --aws-config file's)."),
    ] = None,
    aws_config: AwsConfigOption = None,
) -> None:
    """The kill switch: remove every fault from every gateway gameday can find.

    Clears the gateway of every drill of yours running on this machine (run folders that are
    not yours, or not mode 0700, are ignored and listed), and the gateways named with
    --gateway or GAMEDAY_GATEWAY_URL. Exit 0 when every gateway was cleared (or none was
    found), 3 when one could not be reached.

    Examples:

        gameday abort

        gameday abort --gateway http://127.0.0.1:4567
    """
    import os

    from gameday.abort import abort as clear_all

    named = list(gateway_urls or [])
    if not named and os.environ.get("GAMEDAY_GATEWAY_URL"):
        named.append(os.environ["GAMEDAY_GATEWAY_URL"])
    if env is EnvChoice.AWS:
        _abort_aws(region, aws_config)
    done = clear_all(named, token)
    results = done.cleared
    for ignored in done.ignored:
        typer.echo(f"ignored {ignored} (not trusted: its gateway was not contacted)", err=True)
    if not results:
        typer.echo("no gateway found: no drill is running here and none was named")
    for cleared in results:
        if cleared.error is None:
            typer.echo(f"cleared {cleared.removed} fault(s) at {cleared.gateway}")
        else:
            typer.echo(f"error: {cleared.error}", err=True)
    if any(c.error for c in results):
        raise typer.Exit(int(ExitCode.COULD_NOT_RUN))


@app.command()
@guarded
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of a scenario, for editors and CI linters.

    Put this line at the top of a scenario for completion in editors with the YAML language
    server:

        # yaml-language-server: $schema=../docs/scenario.schema.json

    Example:

        gameday schema --out docs/scenario.schema.json
    """
    from gameday.scenario.schema import scenario_schema_text

    text = scenario_schema_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}", err=True)


@app.command()
@guarded
def gateway(
    upstream: Annotated[
        str, typer.Option(help="The one endpoint requests go to: a moto server, LocalStack...")
    ],
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:4567",
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token for the admin API (default: $GAMEDAY_GATEWAY_TOKEN).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for probability draws, for reproducible runs.")
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Listen beyond loopback without a token (anyone can then inject faults).",
        ),
    ] = False,
    deny_destructive: Annotated[
        bool,
        typer.Option(
            "--deny-destructive",
            help="Answer every destructive call (Delete*, Terminate*...) with AccessDenied, "
            "never forwarded, for as long as it runs; each is counted as denied.",
        ),
    ] = False,
    region: Annotated[
        str | None,
        typer.Option(
            help="The region the app's SDK is configured with: requests that name none "
            "(unsigned, such as AssumeRoleWithWebIdentity; SigV2 presigned URLs) are taken to "
            "be in it, so faults scoped by region match them. Default: they have no region.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the fault gateway: an AWS-aware proxy that fails the calls active faults match.

    Point an app at it with AWS_ENDPOINT_URL=http://HOST:PORT; manage faults through its admin
    API under /_gameday/ (see docs/gateway.md). Listening beyond loopback needs a token, or
    --allow-unauthenticated. A drill refuses destructive calls for its own run only, with a
    watch (PUT /_gameday/watches/ID); --deny-destructive refuses them for the gateway's life.

    Example:

        gameday gateway --upstream http://localhost:4566 --listen 127.0.0.1:4567 --region us-east-1
    """
    from gameday.gateway.process import run_gateway

    run_gateway(
        upstream,
        listen=listen,
        token=token,
        seed=seed,
        allow_unauthenticated=allow_unauthenticated,
        deny_destructive=deny_destructive,
        region=region,
    )


@app.command()
@guarded
def egress(
    ca_dir: Annotated[
        Path,
        typer.Option(
            "--ca-dir",
            help="Folder for the run's CA (made 0700): ca-key.pem (0600), ca-bundle.pem, "
            "truststore.p12 (Java).",
        ),
    ],
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on (loopback).")] = (
        "127.0.0.1:4580"
    ),
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token for the admin API (default: $GAMEDAY_GATEWAY_TOKEN).",
            show_default=False,
        ),
    ] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(
            help="PATTERN=URL: send matching hosts to https://HOST:PORT instead (a testing "
            "aid, e.g. an emulator over TLS; repeatable).",
            show_default=False,
        ),
    ] = None,
    route_ca: Annotated[
        Path | None,
        typer.Option(help="PEM certificates to trust for --route targets.", show_default=False),
    ] = None,
    deny_destructive: Annotated[
        bool,
        typer.Option(
            "--deny-destructive",
            help="Answer every destructive AWS call (Delete*, Terminate*...) with AccessDenied, "
            "never forwarded, for as long as it runs. To see them it decrypts every AWS host "
            "all the time, not only those a fault targets: each AWS call pays the decrypted "
            "cost (under a millisecond, docs/egress.md).",
        ),
    ] = False,
) -> None:
    """Run the egress proxy: faults for a real account's AWS calls, through HTTPS_PROXY.

    An HTTP CONNECT proxy (HTTP/1.1 and HTTP/2 inside): hosts an active fault may match
    are decrypted with a per-run, AWS-only CA, and their calls failed or forwarded with
    their own signatures; every other host is tunnelled blind, unless a drill's watch (or
    --deny-destructive) asks to see every AWS call. Faults go in through the gateway's admin
    API under /_gameday/. Run it beside the app (docs/recipes/); a drill uses it with
    `injector: egress` in the environment file (docs/egress.md, docs/aws.md).

    Example:

        gameday egress --ca-dir run/egress-ca --listen 127.0.0.1:4580
    """
    from gameday.egress.serve import run_egress

    run_egress(
        ca_dir,
        listen=listen,
        token=token,
        routes=route or (),
        route_ca=route_ca,
        deny_destructive=deny_destructive,
    )


export_app = typer.Typer(help="Export what gameday would create, for review.", no_args_is_help=True)
import_app = typer.Typer(help="Import drills written for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


@export_app.command("fis")
@guarded
def export_fis(
    scenario: Annotated[Path, typer.Argument(help="The scenario file.", show_default=False)],
    aws_config: AwsConfigOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the FIS experiment template a run on aws would create (for a pull request).

    Example:

        gameday export fis scenarios/identity-loss.yaml --aws-config aws.yaml --out fis.json
    """
    from gameday.fis.aws_config import load_aws_environment
    from gameday.fis.plan import export_template, plan_aws
    from gameday.scenario.loader import load_scenario

    environment = load_aws_environment(aws_config) if aws_config else None
    text = export_template(plan_aws(load_scenario(scenario), environment, run_id="export"))
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out}", err=True)


@import_app.command("fis")
@guarded
def import_fis(
    template: Annotated[
        Path,
        typer.Argument(help="An FIS experiment template (JSON/YAML) or a CloudFormation one."),
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the scenario here.")
    ] = None,
) -> None:
    """Turn an FIS experiment template into a gameday scenario.

    Actions gameday can map become faults; the rest become fis-action faults that run as
    written on aws. What cannot run on the emulator is listed on stderr.

    Example:

        gameday import fis template.json --out scenarios/imported.yaml
    """
    from gameday.fis.importer import import_fis_template

    result = import_fis_template(template)
    for action in result.localstack_only:
        typer.echo(f"note: {action}: a LocalStack-only action", err=True)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if out is None:
        typer.echo(result.text, nl=False)
    else:
        out.write_text(result.text)
        typer.echo(
            f"wrote {out}: {len(result.mapped)} mapped, {len(result.passthrough)} passed "
            "through as fis-action",
            err=True,
        )


schedule_app = typer.Typer(
    name="schedule",
    help="Scheduled drills: run them when due, list the next run times, export Kubernetes "
    "CronJobs.",
    no_args_is_help=True,
)
app.add_typer(schedule_app)

ScheduleDir = Annotated[
    Path,
    typer.Argument(
        help="Folder searched for scenarios; those with a schedule: block are scheduled.",
        show_default=False,
    ),
]


@schedule_app.command("run")
@guarded
def schedule_run(
    directory: ScheduleDir,
    store: StoreOption = None,
    metrics_listen: Annotated[
        str, typer.Option(help="HOST:PORT for /metrics and /healthz, or off.")
    ] = "127.0.0.1:9464",
    metrics_token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token every /metrics and /healthz request must carry "
            "(default: $GAMEDAY_METRICS_TOKEN; none: no token).",
            show_default=False,
        ),
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated",
            help="Serve /metrics beyond loopback without a token (anyone can read results).",
        ),
    ] = False,
    report_dir: Annotated[
        Path | None,
        typer.Option(help="Each run also writes REPORT_DIR/<run-id>/result.json."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for the jitter draws, for reproducible start times.")
    ] = None,
) -> None:
    """Run the scheduled scenarios of a folder when due, one at a time.

    The folder is read again when a file changes; an invalid file is reported and skipped
    until it is fixed. Every run is recorded in the history store; a drill that falls due
    while another runs is recorded as skipped (busy). One scheduler per store: a second one
    exits 2. SIGTERM or Ctrl-C rolls the running drill back, records it as aborted, and exits 0.
    /metrics listens on loopback; beyond it, it needs --metrics-token (or
    --allow-unauthenticated).

    Examples:

        gameday schedule run scenarios/

        gameday schedule run scenarios/ --store /var/lib/gameday/history.db --seed 7
    """
    import random

    from gameday.reports.live import plain_listener
    from gameday.schedule.scheduler import run_scheduler

    code = run_scheduler(
        directory,
        store=store,
        metrics_listen=metrics_listen,
        metrics_token=metrics_token,
        allow_unauthenticated=allow_unauthenticated,
        report_dir=report_dir,
        rng=random.Random(seed),
        listeners=[plain_listener()],
    )
    raise typer.Exit(code)


@schedule_app.command("list")
@guarded
def schedule_list(
    directory: ScheduleDir,
    count: Annotated[int, typer.Option("--count", "-n", help="Run times per scenario.")] = 5,
) -> None:
    """Print the next run times of each scheduled scenario.

    Each time is shown in the scenario's timezone and in UTC, blackout windows applied.

    Examples:

        gameday schedule list scenarios/

        gameday schedule list scenarios/ --count 10
    """
    from gameday.schedule.listing import list_schedule

    typer.echo(list_schedule(directory, count), nl=False)


@schedule_app.command("export")
@guarded
def schedule_export(
    directory: ScheduleDir,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the manifests.")],
    k8s: Annotated[
        bool, typer.Option("--k8s", help="Kubernetes CronJobs (the one export format).")
    ] = False,
    image: Annotated[
        str | None,
        typer.Option(
            help="Container image with gameday installed.", show_default="gameday:VERSION"
        ),
    ] = None,
    pushgateway: Annotated[
        str | None, typer.Option(help="Each drill pushes its metrics to this Pushgateway URL.")
    ] = None,
    reports_pvc: Annotated[
        str | None,
        typer.Option(help="PersistentVolumeClaim for reports and history (default: emptyDir)."),
    ] = None,
    store_secret: Annotated[
        str | None,
        typer.Option(
            help="Secret whose GAMEDAY_STORE key (and optional PGPASSWORD) is the fleet's "
            "PostgreSQL store: every CronJob records its runs there (docs/fleet.md).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write a Kubernetes CronJob per scheduled scenario.

    Each file holds a ConfigMap with the scenario and a CronJob that runs it with
    `gameday run`, so that a cluster's own scheduler runs the drills (docs/scheduling.md).

    Examples:

        gameday schedule export --k8s scenarios/ --out k8s/

        gameday schedule export --k8s scenarios/ --out k8s/ --pushgateway http://pgw:9091

        gameday schedule export --k8s scenarios/ --out k8s/ --store-secret gameday-store
    """
    from gameday.schedule.k8s import export_k8s

    if not k8s:
        raise InvalidInputError(
            "give --k8s: Kubernetes CronJobs are the one export format",
            hint="gameday schedule export --k8s DIR --out DIR2",
        )
    written = export_k8s(
        directory, out, image, pushgateway, reports_pvc=reports_pvc, store_secret=store_secret
    )
    for path in written:
        typer.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
