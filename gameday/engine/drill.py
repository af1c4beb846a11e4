"""One run of one scenario, start to end (DESIGN.md "One run, start to end").

plan -> environment up -> steady before -> probes + faults -> observe -> rollback -> steady
after -> read back -> grade -> result. The drill holds an environment that brought itself up
and the injector its stage carries; it never asks which. Rollback sits in a ``finally`` that
covers everything after the environment came up: every injected fault is removed on every
way out (a guardrail, a signal, an error of the injector's own API, a bug), and a fault is
recorded as removed only once its removal succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import traceback
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.engine.causes import describe_app_exit
from gameday.engine.guard import (
    GUARDRAIL,
    check_guardrails,
    describe_call,
    destructive_guard,
    watches_calls,
)
from gameday.engine.injection import FaultSchedule
from gameday.engine.pace import Pace, PlannedPace
from gameday.engine.plan import POLICY_ARN_HINT, policy_arn_problems
from gameday.engine.probing import ProbeSet
from gameday.engine.signals import SignalGuard
from gameday.engine.verdict import Outcome, assemble_result
from gameday.environments import Environment, Stage, StageRequest, open_environment
from gameday.environments.app import RunningApp
from gameday.environments.app_log import app_secrets, keep_app_log
from gameday.environments.workdir import APP_LOG_FILE, run_workdir
from gameday.errors import AbortedError, EnvironmentFailure, GameDayError, InvalidInputError
from gameday.facilitation.hold import FacilitatedPace
from gameday.facilitation.keys import read_keys
from gameday.facilitation.marks_api import serve_marks
from gameday.facilitation.session import FacilitationOptions, Facilitator, open_facilitator
from gameday.faults.plan import Plan
from gameday.faults.rules import Rule
from gameday.fis.resilience_hub import resolve_policy_targets
from gameday.recorder import FaultWindowRecord, Listener, Recorder
from gameday.redact import redact
from gameday.result import AppExit, DestructiveCall, RunResult
from gameday.scenario.models import HumanObjective
from gameday.scenario.policy_targets import has_target_from

if TYPE_CHECKING:
    from gameday.fis.aws_config import AwsEnvironment

OBSERVE_TICK_S = 0.1
CALLS_POLL_S = 0.05
"""How often the drill asks the gateway for new destructive calls: the bound on how late a
``destructive_calls`` guardrail fires, beyond the gateway's own answer."""
APP_WATCH_S = 0.05
"""How often the drill looks whether the app has exited: the bound on an exit's time."""


def new_run_id(name: str, now: datetime | None = None) -> str:
    """``20261122T074501Z-identity-loss-3f9a``: sortable, readable, unique."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{name}-{secrets.token_hex(2)}"


@dataclass
class RunOptions:
    """How to run: with which seed, who listens to progress, where (for a real account)."""

    seed: int | None = None
    listeners: list[Listener] = field(default_factory=list)
    approve: bool = False
    """A real account: the person's yes, given on the command line or at its prompt."""
    aws_environment: AwsEnvironment | None = None
    on_start: Callable[[str, str, str, datetime], None] | None = None
    """(run id, scenario, environment, started at): called before anything is started, so
    that history holds a row even for a run that is killed (a failure here stops the run)."""
    facilitation: FacilitationOptions | None = None
    """``run --facilitate``: people mark the timeline; None for an unattended run."""
    environment: Environment | None = None
    """Where to run instead of the plan's environment (an embedding program, a test)."""
    log: Callable[[str], None] | None = None
    """Where a bug's traceback goes (default: stderr); the run still ends with a result."""
    report_dir: Path | None = None
    """Where each run's folder goes (``report_dir/<run id>/``): the app's output is kept
    there as ``app.log``, beside the result; None: not kept."""


class Drill:
    """Runs one planned scenario; ``request_abort`` may be called from a signal handler."""

    def __init__(self, plan: Plan, options: RunOptions, clock: Callable[[], float]) -> None:
        self.plan = plan
        self.scenario = plan.loaded.scenario
        self.options = options
        self.run_id = new_run_id(self.scenario.metadata.name)
        self.recorder = Recorder(clock=clock, origin=clock(), listeners=list(options.listeners))
        self.facilitator: Facilitator | None = None
        self.pace: Pace = PlannedPace(self.scenario)
        if options.facilitation is not None:
            self.facilitator = open_facilitator(plan, options.facilitation, self.recorder)
            self.pace = FacilitatedPace(self.facilitator, self.scenario, plan.rules)
        self._list_faults(plan.rules)  # from the start: a run that never injects says so
        self.abort_reason: str | None = None
        self._abort = asyncio.Event()
        self.app_exit: AppExit | None = None
        self.destructive: list[DestructiveCall] = []
        """The app's destructive calls as the gateway reported them (``watches_calls``)."""

    def _list_faults(self, rules: list[Rule]) -> None:
        self.recorder.faults.clear()
        for rule in self.pace.rules(rules):
            self.recorder.faults[rule.id] = FaultWindowRecord(rule)

    def request_abort(self, reason: str) -> None:
        """Stop the drill and roll back; a second request changes nothing (rollback runs)."""
        if self.abort_reason is None:
            self.abort_reason = reason
            self.recorder.event("abort", reason)
        else:
            self.recorder.event("abort", f"{reason} again: rolling back, please wait")
        self._abort.set()

    def _check_abort(self) -> None:
        if self.abort_reason is not None:
            raise AbortedError(self.abort_reason)

    async def run(self) -> RunResult:
        """Run the drill; always returns a result (the status says how it ended)."""
        started_at = datetime.now(UTC)
        if self.options.on_start is not None:
            self.options.on_start(
                self.run_id, self.scenario.metadata.name, self.plan.environment.value, started_at
            )
        outcome = Outcome(facilitator=self.facilitator)
        try:
            with run_workdir() as workdir:
                try:
                    with ExitStack() as stack:
                        async with AsyncExitStack() as astack:
                            if self.facilitator is not None:
                                await self._facilitate(self.facilitator, stack, astack)
                            await self._run_in(workdir, stack, astack, outcome)
                        self.recorder.enter("environment down")
                finally:
                    # The app has stopped; its log goes with the scratch folder next.
                    outcome.app_log = self._keep_app_log(workdir / APP_LOG_FILE)
        except AbortedError as error:
            outcome.aborted = error.message
        except GameDayError as error:
            outcome.error = error.message
            self.recorder.event("error", error.message)
        except Exception as error:  # a bug: the rollback has run; the run still has a result
            outcome.error = f"internal error: {type(error).__name__}: {error}"
            # Past the listeners (one of them may be what failed); the traceback shows the bug.
            self.recorder.events.append((round(self.recorder.now(), 6), "error", outcome.error))
            _log_bug(self.options, self.plan, outcome.error)
        return assemble_result(
            self.plan, self.run_id, self.recorder, outcome, started_at, datetime.now(UTC)
        )

    async def _run_in(
        self, workdir: Path, stack: ExitStack, astack: AsyncExitStack, outcome: Outcome
    ) -> None:
        recorder = self.recorder
        # ``gameday run`` refuses these before any drill; a drill started another way too.
        isolated = policy_arn_problems(self.plan.loaded, self.plan.environment)
        if isolated:
            raise InvalidInputError("\n".join(isolated), hint=POLICY_ARN_HINT)
        await self._resolve_targets(outcome, arns=False)  # files: nothing leaves the machine
        recorder.enter("environment up")
        probes = await ProbeSet.open(self.scenario, astack, recorder, run_id=self.run_id)
        environment = self.options.environment or open_environment(
            self.plan.environment,
            aws_environment=self.options.aws_environment,
            approve=self.options.approve,
        )
        request = StageRequest(
            plan=self.plan,
            run_id=self.run_id,
            workdir=workdir,
            seed=self.options.seed,
            alert_url=probes.alert_url,
            now=recorder.now,
            note=recorder.event,
            fail=recorder.fail,
        )
        stage = await environment.bring_up(request, stack)
        self._list_faults(list(stage.rules))
        schedule = FaultSchedule(
            self.pace.rules(stage.rules),
            stage.injector,
            recorder,
            self.pace.end,
            stopping=self._stopping,
        )
        watches: list[asyncio.Task[None]] = []
        try:
            # Policy ARNs only now: on a real account, bringing the stage up was approval and
            # the account check (DESIGN.md "Safety" 1), and no fault is in force yet.
            await self._resolve_targets(outcome, arns=True)
            if stage.app is not None:
                watch_app = self._watch_app(stage.app, outcome)
                watches.append(asyncio.create_task(watch_app, name="app"))
            if watches_calls(self.scenario):
                if stage.watch_calls is None:
                    raise GameDayError(
                        "this scenario counts or refuses destructive calls, and on "
                        f"{self.plan.environment.value} no gateway sees the app's calls",
                        hint="run it embedded, with localstack, or on aws with injector: egress "
                        "(the proxy then sees every AWS call); or drop the destructive_calls "
                        "guardrail, objective and target.deny_destructive",
                    )
                watch_calls = self._watch_calls(stage.watch_calls)
                watches.append(asyncio.create_task(watch_calls, name="calls"))
            if stage.stop_condition is not None:
                watch_stop = self._watch_stop_condition(stage.stop_condition)
                watches.append(asyncio.create_task(watch_stop, name="stop-condition"))
            await self._steady_and_drill(stage, probes, schedule, outcome)
        finally:
            for watch in watches:  # before the environment stops the app on purpose
                watch.cancel()
            await asyncio.gather(*watches, return_exceptions=True)
            # Covers every way out after the environment came up; a no-op when the drill's
            # own rollback already ran.
            outcome.rollback = await schedule.rollback()
            outcome.evidence = await asyncio.to_thread(stage.evidence)

    async def _resolve_targets(self, outcome: Outcome, *, arns: bool) -> None:
        """Fill in the targets read from resiliency policies: the files, or (``arns``) every
        one still missing."""
        if not has_target_from(self.scenario):
            return
        self.scenario, sources = await asyncio.to_thread(
            resolve_policy_targets, self.scenario, self.plan.loaded.base_dir, arns=arns
        )
        outcome.target_sources.update(sources)
        outcome.scenario = self.scenario
        for name, source in sources.items():  # the timeline shows when a policy was read
            self.recorder.event("target", f"{name}: {source}")

    async def _steady_and_drill(
        self, stage: Stage, probes: ProbeSet, schedule: FaultSchedule, outcome: Outcome
    ) -> None:
        recorder = self.recorder
        await probes.connect(stage)
        self._check_abort()
        recorder.enter("steady before")
        outcome.steady_before, detail = await probes.steady()
        if not outcome.steady_before:
            outcome.not_steady = detail
            return
        self._check_abort()
        await self._drill(probes, schedule, outcome)
        recorder.enter("steady after")
        outcome.steady_after, _ = await probes.steady()
        recorder.enter("read back")
        await probes.read_back()
        outcome.probes = probes

    async def _facilitate(
        self, facilitator: Facilitator, stack: ExitStack, astack: AsyncExitStack
    ) -> None:
        """Open the marks API and the keys for the whole run, marks before the injection
        included (they are shown, and do not count toward human objectives)."""
        options = facilitator.options
        url = await astack.enter_async_context(
            serve_marks(facilitator, options.marks_host, options.marks_port)
        )
        self.recorder.event(
            "marks", f"POST {url}" + (" (bearer token)" if options.marks_token else "")
        )
        if options.keys:
            stack.enter_context(read_keys(facilitator))
        if options.on_ready is not None:
            options.on_ready(facilitator)

    async def _drill(self, probes: ProbeSet, schedule: FaultSchedule, outcome: Outcome) -> None:
        recorder = self.recorder
        recorder.enter("drill")
        if self.facilitator is None and any(
            isinstance(o, HumanObjective) for o in self.scenario.objectives
        ):
            recorder.event(
                "note",
                "human_ttd/human_ttm not graded: nobody marks an unattended run "
                "(gameday run --facilitate)",
            )
        start = recorder.now()
        outcome.drill_start = start
        if self.facilitator is not None:
            self.facilitator.drill_start = start
        faults = asyncio.create_task(schedule.run(start), name="faults")
        try:
            sampling = probes.start(start)
            try:
                outcome.observe_end = await self._observe(start, faults, probes)
            finally:
                # Before anything else awaits: stopping the probes can take a while on a
                # loaded machine, and a fault still scheduled must not go in meanwhile
                # (an app that exited, an abort, a failure: observation is over).
                faults.cancel()
                await probes.stop(sampling)
        finally:
            faults.cancel()
            # The schedule's own failure was raised by ``_observe`` already; what is left
            # here is the cancellation.
            await asyncio.gather(faults, return_exceptions=True)
            recorder.enter("rollback")
            outcome.rollback = await schedule.rollback()
        if self.abort_reason is not None:
            outcome.aborted = self.abort_reason

    def _stopping(self) -> bool:
        """Whether the drill has decided to stop: what ``_observe`` acts on at its next turn,
        asked by the fault schedule before each injection."""
        early_exit = self.app_exit is not None and self.app_exit.before_faults
        return early_exit or self._abort.is_set() or self.recorder.failure is not None

    async def _observe(self, start: float, faults: asyncio.Task[None], probes: ProbeSet) -> float:
        """Until every objective is decided, ``observe.max`` passes, or an abort."""
        recorder = self.recorder
        while True:
            now = recorder.now()
            limit = self.pace.observe_limit(start, now)
            if faults.done() and not faults.cancelled():
                failed = faults.exception()
                if isinstance(failed, GameDayError):
                    raise EnvironmentFailure(f"injecting faults failed: {failed.message}")
                if failed is not None:
                    raise failed
            if recorder.failure is not None:
                raise EnvironmentFailure(recorder.failure)
            if self.app_exit is not None and self.app_exit.before_faults:
                raise EnvironmentFailure(describe_app_exit(self.app_exit))
            reason = check_guardrails(self.scenario, recorder, start, self.destructive)
            if reason is not None and self.abort_reason is None:
                self.request_abort(reason)
            if self._abort.is_set() or now >= limit:
                return min(now, limit)
            if faults.done() and probes.decided(recorder, now) and self.pace.decided():
                recorder.event("observe", "every objective decided")
                return now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._abort.wait(), OBSERVE_TICK_S)

    async def _watch_calls(self, poll: Callable[[], list[DestructiveCall]]) -> None:
        """Until cancelled: each destructive call the gateway reports becomes an event, and a
        ``destructive_calls`` guardrail aborts the drill the moment it is reached."""
        recorder = self.recorder
        while True:
            try:
                seen = await asyncio.to_thread(poll)
            except GameDayError as error:
                recorder.fail(f"could not read the app's calls from the gateway: {error.message}")
                return
            for call in seen:
                self.destructive.append(call)
                recorder.event("destructive", describe_call(call))
            if seen:
                reason = destructive_guard(self.scenario, recorder.t0, self.destructive)
                if reason is not None and self.abort_reason is None:
                    self.request_abort(reason)
            await asyncio.sleep(CALLS_POLL_S)

    async def _watch_stop_condition(self, fired: Callable[[], str | None]) -> None:
        """Until cancelled: a stop condition that fires aborts the drill as a guardrail
        does; one that cannot be read stops it too (nobody would see it fire)."""
        recorder = self.recorder
        while True:
            try:
                reason = await asyncio.to_thread(fired)
            except GameDayError as error:
                recorder.fail(error.message)
                return
            if reason is not None:
                if self.abort_reason is None:
                    self.request_abort(f"{GUARDRAIL}{reason}")
                return
            await asyncio.sleep(CALLS_POLL_S)

    async def _watch_app(self, app: RunningApp, outcome: Outcome) -> None:
        """Until cancelled, or the app exits by itself: then an ``app-exit`` event. Before
        any fault, the drill stops (``_observe``): it can test nothing any more."""
        while (code := app.exit_code()) is None:
            await asyncio.sleep(APP_WATCH_S)
        recorder = self.recorder
        at = round(recorder.now(), 6)
        in_force = [
            w.rule.id
            for w in recorder.faults.values()
            if w.injected_at is not None and w.injected_at <= at and w.removed_at is None
        ]
        self.app_exit = outcome.app_exit = AppExit(
            at=at,
            code=code,
            before_faults=recorder.t0 is None,
            fault=in_force[0] if in_force else None,
        )
        recorder.event("app-exit", describe_app_exit(self.app_exit))

    def _keep_app_log(self, log: Path) -> str | None:
        """The app's log copied beside the result; its path relative to the result's folder,
        or None when there is none or no report folder (a failure to copy is an event)."""
        if self.options.report_dir is None:
            return None
        destination = self.options.report_dir / self.run_id / APP_LOG_FILE
        secrets = app_secrets(self.scenario.target.app)
        try:
            kept = keep_app_log(log, destination, secrets=secrets)
        except OSError as error:
            self.recorder.event(
                "note", f"could not keep the app's log in {destination}: {error.strerror or error}"
            )
            return None
        return APP_LOG_FILE if kept else None


def _log_bug(options: RunOptions, plan: Plan, reason: str) -> None:
    """Call from an ``except`` block: the bug, with its traceback, where ``options`` says."""
    # A traceback quotes values (a URL with its token, a command line): redacted like any log.
    line = redact(f"error: {plan.loaded.path}: {reason}\n{traceback.format_exc().rstrip()}")
    if options.log is not None:
        options.log(line)
    else:
        sys.stderr.write(line + "\n")


def run_drill(
    plan: Plan,
    options: RunOptions,
    clock: Callable[[], float],
    guard: SignalGuard | None = None,
) -> RunResult:
    """Run one planned scenario on its own event loop in this (the main) thread; SIGINT and
    SIGTERM abort it and roll it back (``guard``: the command's, installed once; one is
    installed for this drill alone when none is given).

    Always a result: a bug that escapes the drill is logged with its traceback
    (``options.log``) and becomes an ``error`` result (the rollback has run in the drill's
    ``finally``).
    """
    if guard is None:
        guard = SignalGuard()
        with guard.installed():
            return run_drill(plan, options, clock, guard)
    made: list[Drill] = []

    async def main() -> RunResult:
        drill = Drill(plan, options, clock)
        made.append(drill)
        with guard.attached(drill, asyncio.get_running_loop()):
            return await drill.run()

    started_at = datetime.now(UTC)
    try:
        return asyncio.run(main())
    except Exception as error:  # e.g. a listener that failed while reporting the failure
        if not made:
            raise
        reason = f"internal error: {type(error).__name__}: {error}"
        _log_bug(options, plan, reason)
        recorder = made[0].recorder  # past its listeners: one of them may be what failed
        recorder.events.append((round(recorder.now(), 6), "error", reason))
        return assemble_result(
            plan, made[0].run_id, recorder, Outcome(error=reason), started_at, datetime.now(UTC)
        )
