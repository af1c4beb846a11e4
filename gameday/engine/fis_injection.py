"""The FIS counterpart of ``FaultSchedule``: one experiment carries every fault of a drill on
a real account (DESIGN.md "Injectors: fis"). Created before the drill, started at the first
fault's ``start_after``, followed every second, stopped on every way out, its template deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gameday.engine.recorder import FaultWindowRecord, Recorder
from gameday.errors import EnvironmentFailure, GameDayError
from gameday.faults.rules import Rule
from gameday.fis.lifecycle import FisExperiment
from gameday.fis.plan import AwsPlan

POLL_INTERVAL_S = 1.0


def _window_rules(plan: AwsPlan) -> list[Rule]:
    """One rule per fault, in scenario time, with the window FIS really gives it."""
    scenario, fis = plan.scenario, plan.fis
    rules = []
    for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True):
        window = fis.windows.get(name)
        if window is None:
            continue
        rules.append(
            Rule(
                id=name,
                fault=name,
                kind=fault.kind,
                mode=fault.mode,
                services=(),
                regions=(fis.region,),
                operations=(),
                probability=fault.peak_probability,
                start_s=fis.offset_s + window.start_s,
                end_s=fis.offset_s + window.end_s,
            )
        )
    return rules


class FisInjection:
    """Runs the drill's FIS experiment on the run clock; ``rollback`` stops and cleans up."""

    def __init__(self, plan: AwsPlan, fis_client: Any, recorder: Recorder) -> None:
        self.plan = plan
        self.recorder = recorder
        self.experiment = FisExperiment(plan.fis.template, fis_client)
        self._entered = False
        self._rules = _window_rules(plan)
        recorder.faults.clear()
        for rule in self._rules:
            recorder.faults[rule.id] = FaultWindowRecord(rule)

    async def run(self, drill_start: float) -> None:
        """Create the template, start the experiment on time, follow it until it ends."""
        await asyncio.to_thread(self.experiment.__enter__)
        self._entered = True
        self.recorder.event("fis", f"template {self.experiment.record.template_id} created")
        delay = drill_start + self.plan.fis.offset_s - self.recorder.now()
        if delay > 0:
            await asyncio.sleep(delay)
        snapshot = await asyncio.to_thread(self.experiment.start)
        started = self.recorder.now()
        self.recorder.event("inject", f"FIS experiment {snapshot.experiment_id} started")
        while not self.experiment.finished:
            self._mark(started)
            await asyncio.sleep(POLL_INTERVAL_S)
            before = self.experiment.record.status
            snapshot = await asyncio.to_thread(self.experiment.poll)
            if snapshot.status != before:
                self.recorder.event("fis", f"experiment {snapshot.status.value}")
        self._mark(started, ended=True)
        self.recorder.event("remove", f"FIS experiment {snapshot.status.value}")

    def _mark(self, started: float, *, ended: bool = False) -> None:
        """Window times on the run clock, from when the experiment really started."""
        now = self.recorder.now()
        for rule in self._rules:
            record = self.recorder.faults[rule.id]
            begin = started + rule.start_s - self.plan.fis.offset_s
            end = started + rule.end_s - self.plan.fis.offset_s
            if record.injected_at is None and now >= begin:
                record.injected_at = begin
            if (
                record.injected_at is not None
                and record.removed_at is None
                and (ended or now >= end)
            ):
                record.removed_at = min(now, end)

    def rollback(self) -> list[str]:
        """Stop the experiment if it still runs, delete the template; returns the problems."""
        if not self._entered:
            return []
        self._entered = False
        try:
            self.experiment.__exit__(None, None, None)
        except (GameDayError, EnvironmentFailure) as error:
            return [error.message]
        finally:
            now = self.recorder.now()
            for record in self.recorder.faults.values():
                if record.injected_at is not None and record.removed_at is None:
                    record.removed_at = now
        return list(self.experiment.record.problems)

    @property
    def record(self) -> dict[str, object]:
        """The experiment's ids, final state and reason, for the result."""
        return self.experiment.record.to_dict()
