"""One run of one scenario, start to end (DESIGN.md "One run, start to end").

plan -> environment up -> steady before -> probes + faults -> observe -> rollback -> steady
after -> read back -> grade -> result. Rollback sits in a ``finally``: every injected fault is
removed on every way out, and each gateway fault also carries its own TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gameday.engine.fis_injection import FisInjection
from gameday.engine.guard import check_guardrails
from gameday.engine.injection import FaultSchedule
from gameday.engine.plan import Plan
from gameday.engine.probing import ProbeSet
from gameday.engine.recorder import FaultWindowRecord, Listener, Recorder
from gameday.engine.verdict import Outcome, assemble_result
from gameday.environments import bring_up, bring_up_aws
from gameday.environments.embedded import tally_gateway
from gameday.environments.workdir import run_workdir
from gameday.errors import AbortedError, EnvironmentFailure, GameDayError
from gameday.facilitation.hold import held_rules, observe_after_faults
from gameday.facilitation.session import (
    FacilitationOptions,
    Facilitator,
    humans_decided,
    open_facilitator,
)
from gameday.gateway.client import GatewayClient
from gameday.injectors.gateway import GatewayInjector
from gameday.result import RunResult
from gameday.scenario.models import Environment, HumanObjective

if TYPE_CHECKING:
    from gameday.environments.aws_config import AwsEnvironment
    from gameday.fis.clients import AwsClients
    from gameday.fis.plan import AwsPlan

OBSERVE_TICK_S = 0.1


def new_run_id(name: str, now: datetime | None = None) -> str:
    """``20261122T074501Z-identity-loss-3f9a``: sortable, readable, unique."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{name}-{secrets.token_hex(2)}"


@dataclass
class RunOptions:
    """How to run: where, with which seed, who listens to progress."""

    environment: Environment | None = None
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


class Drill:
    """Runs one planned scenario; ``request_abort`` may be called from a signal handler."""

    def __init__(self, plan: Plan, options: RunOptions, clock: Callable[[], float]) -> None:
        self.plan = plan
        self.scenario = plan.loaded.scenario
        self.options = options
        self.run_id = new_run_id(self.scenario.metadata.name)
        self.recorder = Recorder(clock=clock, origin=clock(), listeners=list(options.listeners))
        self.facilitator: Facilitator | None = None
        self.rules = plan.rules
        if options.facilitation is not None:
            self.facilitator = open_facilitator(plan, options.facilitation, self.recorder)
            if self.facilitator.hold_deadline is not None:
                self.rules = held_rules(plan.rules, self.facilitator.hold_deadline)
        for rule in self.rules:  # listed from the start: a run that never injects says so
            self.recorder.faults[rule.id] = FaultWindowRecord(rule)
        self.abort_reason: str | None = None
        self._abort = asyncio.Event()

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
            with run_workdir() as workdir, ExitStack() as stack:
                async with AsyncExitStack() as astack:
                    if self.facilitator is not None:
                        await self._facilitate(self.facilitator, stack, astack)
                    await self._run_in(workdir, stack, astack, outcome)
                self.recorder.enter("environment down")
        except AbortedError as error:
            outcome.aborted = error.message
        except GameDayError as error:
            outcome.error = error.message
            self.recorder.event("error", error.message)
        return assemble_result(
            self.plan, self.run_id, self.recorder, outcome, started_at, datetime.now(UTC)
        )

    async def _run_in(
        self, workdir: Path, stack: ExitStack, astack: AsyncExitStack, outcome: Outcome
    ) -> None:
        scenario, recorder = self.scenario, self.recorder
        if any(getattr(o, "target_from", None) for o in scenario.objectives):
            from gameday.fis.resilience_hub import resolve_policy_targets

            scenario, outcome.target_sources = await asyncio.to_thread(
                resolve_policy_targets, scenario, self.plan.loaded.base_dir
            )
            self.scenario = scenario
            outcome.scenario = scenario
        aws = self._clear_for_aws() if self.plan.environment is Environment.AWS else None
        recorder.enter("environment up")
        probes = await ProbeSet.open(scenario, astack, recorder, run_id=self.run_id)
        if aws is not None:
            stage = bring_up_aws(aws[0].environment.app_url, recorder.event)
        else:
            stage = await bring_up(
                self.plan.environment,
                scenario,
                stack,
                workdir=workdir,
                seed=self.options.seed,
                alert_url=probes.alert_url,
                note=recorder.event,
            )
        await probes.connect(stage)
        self._check_abort()
        recorder.enter("steady before")
        outcome.steady_before, detail = await probes.steady()
        if not outcome.steady_before:
            outcome.not_steady = detail
            return
        self._check_abort()
        if aws is not None:
            injection: Injection = FisInjection(aws[0], aws[1].fis(), recorder)
        else:
            assert stage.gateway is not None
            end = self.facilitator.ended if self.facilitator is not None else None
            injection = GatewayInjection(
                FaultSchedule(
                    self.rules, GatewayInjector(stage.gateway, self.run_id), recorder, end
                ),
                stage.gateway,
            )
        try:
            await self._drill(probes, injection, outcome)
        finally:
            if isinstance(injection, FisInjection):
                outcome.fis = injection.record
        recorder.enter("steady after")
        outcome.steady_after, _ = await probes.steady()
        recorder.enter("read back")
        await probes.read_back()
        outcome.probes = probes
        if stage.gateway is not None:
            outcome.gateway = await asyncio.to_thread(tally_gateway, stage.gateway)

    async def _facilitate(
        self, facilitator: Facilitator, stack: ExitStack, astack: AsyncExitStack
    ) -> None:
        """Open the marks API and the keys for the whole run, marks before the injection
        included (they are shown, and do not count toward human objectives)."""
        from gameday.facilitation.keys import read_keys
        from gameday.facilitation.marks_api import serve_marks

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

    def _clear_for_aws(self) -> tuple[AwsPlan, AwsClients]:
        """The real-account checks, in DESIGN.md's order: approval first, before any network
        call; then the caller's account, stop conditions, durations, the template."""
        from gameday.fis.clients import AwsClients
        from gameday.fis.plan import plan_aws
        from gameday.fis.safety import clear_for_real_account

        aws = plan_aws(self.plan.loaded, self.options.aws_environment, run_id=self.run_id)
        clients = AwsClients(aws.fis.region)
        clearance = clear_for_real_account(
            aws.fis,
            aws.scenario,
            aws.environment,
            approve=self.options.approve,
            interactive=False,
            ask=None,
            sts=clients.sts,
        )
        self.recorder.event(
            "approval", f"account {clearance.account}, region {clearance.region}: cleared"
        )
        return aws, clients

    async def _drill(self, probes: ProbeSet, injection: Injection, outcome: Outcome) -> None:
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
        faults = asyncio.create_task(injection.run(start), name="faults")
        sampling = probes.start(start)
        try:
            outcome.observe_end = await self._observe(start, faults, probes)
        finally:
            await probes.stop(sampling)
            faults.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await faults
            self._rollback(injection, outcome)
        if self.abort_reason is not None:
            outcome.aborted = self.abort_reason

    async def _observe(self, start: float, faults: asyncio.Task[None], probes: ProbeSet) -> float:
        """Until every objective is decided, ``observe.max`` passes, or an abort."""
        scenario, recorder, facilitator = self.scenario, self.recorder, self.facilitator
        while True:
            now = recorder.now()
            limit = self._observe_limit(start, now)
            if faults.done() and faults.exception() is not None:
                raise EnvironmentFailure(f"injecting faults failed: {faults.exception()}")
            reason = check_guardrails(scenario, recorder, start)
            if reason is not None:
                self.request_abort(reason)
            if self._abort.is_set() or now >= limit:
                return min(now, limit)
            if (
                faults.done()
                and probes.decided(recorder, now)
                and (facilitator is None or humans_decided(scenario, facilitator))
            ):
                recorder.event("observe", "every objective decided")
                return now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._abort.wait(), OBSERVE_TICK_S)

    def _observe_limit(self, start: float, now: float) -> float:
        """``observe.max`` from the drill's start; under --hold, the observation planned
        after the faults, from when the hold ended (key e, or its deadline, reached now)."""
        facilitator = self.facilitator
        if facilitator is None or facilitator.hold_deadline is None:
            return start + self.scenario.observe.max
        if not facilitator.ended.is_set() and now >= start + facilitator.hold_deadline:
            facilitator.hold_expired()
        ended = facilitator.hold_ended_at
        end = ended - start if ended is not None else facilitator.hold_deadline
        return start + end + observe_after_faults(self.scenario, self.plan.rules)

    def _rollback(self, injection: Injection, outcome: Outcome) -> None:
        self.recorder.enter("rollback")
        problems = injection.rollback()
        for problem in problems:
            self.recorder.event("rollback-failed", problem)
        outcome.rollback_problems = problems


class Injection(Protocol):
    """How a drill's faults are applied on the run clock, and taken back on every way out."""

    async def run(self, drill_start: float) -> None: ...

    def rollback(self) -> list[str]: ...


class GatewayInjection:
    """Rules on a gateway, each on its own schedule; rollback checks the gateway is clean."""

    def __init__(self, schedule: FaultSchedule, gateway: GatewayClient) -> None:
        self.schedule = schedule
        self.gateway = gateway

    async def run(self, drill_start: float) -> None:
        await self.schedule.run(drill_start)

    def rollback(self) -> list[str]:
        problems = self.schedule.rollback()
        try:
            left = self.gateway.list()
            if left:
                problems.append(f"{len(left)} fault(s) still on the gateway; cleared")
                self.gateway.clear()
        except GameDayError as error:
            problems.append(f"could not verify the gateway is clean: {error.message}")
        return problems


def run_drill(plan: Plan, options: RunOptions, clock: Callable[[], float]) -> RunResult:
    """Run one planned scenario on its own event loop, with SIGINT/SIGTERM rolling it back.

    The handlers are the signal module's, not the loop's, so that whatever handler was in
    place before (a suite's, a scheduler's) is put back afterwards: a second Ctrl-C during
    teardown, or between two drills, never turns into a KeyboardInterrupt traceback.
    """
    import signal

    async def main() -> RunResult:
        drill = Drill(plan, options, clock)
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, frame: object) -> None:
            del frame
            loop.call_soon_threadsafe(drill.request_abort, f"signal {signal.Signals(signum).name}")

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            return await drill.run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    return asyncio.run(main())
