"""The probes of one run: host the alert sink, sample on schedule, hold steady, read back.

The drill talks to probes only through ``ProbeSet``, so that the run flow reads as the phases
of DESIGN.md and the probes stay unaware of drills.
"""

from __future__ import annotations

import asyncio
import gc
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from gameday.engine.grade import SteadyHeld
from gameday.environments.stage import Stage
from gameday.grading import Alert, Marker, measure_recovery, measure_ttd
from gameday.kinds import ObjectiveKind
from gameday.probes.alert import AlertSink
from gameday.probes.base import Probe, ProbeContext, open_probe_context
from gameday.probes.data import DataProbe, ReadBack
from gameday.probes.factory import build_probe
from gameday.probes.schedule import run_probes, take_sample
from gameday.recorder import Recorder
from gameday.scenario.models import (
    AlertProbe,
    Scenario,
    SteadyObjective,
    TimeObjective,
)


@dataclass
class ProbeSet:
    """Every probe of a scenario, and what they gathered."""

    scenario: Scenario
    recorder: Recorder
    run_id: str
    stack: AsyncExitStack
    sink: AlertSink | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    steady_before: dict[str, bool] = field(default_factory=dict)
    steady_after: dict[str, bool] = field(default_factory=dict)
    steady_after_details: dict[str, str] = field(default_factory=dict)
    """Why a probe did not hold after the faults: its first failing verdict."""
    read_backs: dict[str, ReadBack] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def open(
        cls, scenario: Scenario, stack: AsyncExitStack, recorder: Recorder, *, run_id: str
    ) -> ProbeSet:
        """Start the alert sink (its URL goes to the app, so it runs before the app)."""
        probes = cls(scenario, recorder, run_id, stack)
        alert = next((p for p in scenario.probes if isinstance(p, AlertProbe)), None)
        if alert is not None:
            sink = AlertSink(
                alert.name, alert.match, clock=recorder.clock, origin_s=recorder.origin
            )
            probes.sink = await stack.enter_async_context(sink)
        return probes

    @property
    def alert_url(self) -> str | None:
        """The URL the app posts its alerts to (GAMEDAY_ALERT_URL)."""
        return self.sink.url if self.sink else None

    async def connect(self, stage: Stage) -> None:
        """Build the sampled probes against the running environment."""
        ctx: ProbeContext = await self.stack.enter_async_context(
            open_probe_context(
                run_id=self.run_id,
                origin_s=self.recorder.origin,
                clock=self.recorder.clock,
                app_url=stage.base_url,
                aws_endpoint_url=stage.aws_endpoint_url,
                region=self.scenario.target.home_region,
                credentials=stage.credentials,
                environ=stage.probe_env,
            )
        )
        for spec in self.scenario.probes:
            if not isinstance(spec, AlertProbe):
                self.probes[spec.name] = build_probe(spec, ctx)

    async def steady(self) -> tuple[bool, str]:
        """Sample each steady objective's probe ``samples`` times; all must be healthy.

        Before the faults, the first unhealthy sample fails it. After them, the app has until
        the end of the recovery window (``observe.recovery_window`` after the last fault was
        removed) to settle: an unhealthy sample before then starts the count again, one after
        it fails. A drill that ran to its end has observed past that point already, so only
        an abort (a rollback mid-fault) waits, and only while the app is still unhealthy.
        """
        after = bool(self.steady_before)
        verdicts = self.steady_after if after else self.steady_before
        failures = []
        for objective in self.scenario.objectives:
            if not isinstance(objective, SteadyObjective):
                continue
            probe = self.probes.get(objective.probe)
            if probe is None:
                continue  # an alert probe: nothing to sample
            if after:
                held = await self._settle(probe, objective.samples)
            else:
                held = await self._hold(probe, objective.samples)
            verdicts[objective.probe] = verdicts.get(objective.probe, True) and held[0]
            if not held[0]:
                failures.append(f"{objective.probe}: {held[1]}")
                if after:
                    self.steady_after_details.setdefault(objective.probe, held[1])
        return not failures, "; ".join(failures)

    async def _hold(self, probe: Probe, samples: int) -> tuple[bool, str]:
        clock = self.recorder.clock
        for index in range(samples):
            if index:
                await asyncio.sleep(probe.interval_s)
            sample = await take_sample(probe, clock, self.recorder.now(), asyncio.sleep)
            self.recorder.sample(probe.name, sample)
            if not sample.ok:
                return False, sample.detail or "unhealthy"
        return True, ""

    def _settle_until(self) -> float:
        """When the app must be steady again: the end of the recovery window after the last
        fault was removed (now, when none was injected)."""
        now, tend = self.recorder.now(), self.recorder.tend
        return now if tend is None else max(now, tend + self.scenario.observe.recovery_window)

    def _aborts(self) -> int:
        return sum(1 for _, kind, _ in self.recorder.events if kind == "abort")

    async def _settle(self, probe: Probe, samples: int) -> tuple[bool, str]:
        """``samples`` healthy samples in a row, unhealthy ones forgiven until
        ``_settle_until``; a further abort request (a second Ctrl-C) ends the forgiving."""
        clock, until, aborts = self.recorder.clock, self._settle_until(), self._aborts()
        healthy = 0
        while healthy < samples:
            sample = await take_sample(probe, clock, self.recorder.now(), asyncio.sleep)
            self.recorder.sample(probe.name, sample)
            healthy = healthy + 1 if sample.ok else 0
            if healthy == samples:
                break
            if not sample.ok and (sample.offset_s >= until or self._aborts() > aborts):
                waited = max(0.0, sample.offset_s - (self.recorder.tend or sample.offset_s))
                return False, f"{sample.detail or 'unhealthy'}, {waited:.1f} s after the rollback"
            await asyncio.sleep(probe.interval_s)
        return True, ""

    def start(self, drill_start: float) -> list[asyncio.Task[None]]:
        """Sample every probe at its fixed rate, phases spread over the interval, until
        ``stop``; ticks from the drill's start on."""
        self._stop.clear()
        # Nothing allocated from here on needs collecting before the run ends: a full
        # collection in the middle of a drill pauses every probe for tens of milliseconds.
        gc.collect()
        gc.freeze()
        task = asyncio.create_task(
            run_probes(
                list(self.probes.values()),
                clock=self.recorder.clock,
                origin_s=self.recorder.origin,
                until=self._stop,
                on_sample=self.recorder.sample,
                start_s=drill_start,
            ),
            name="probes",
        )
        return [task]

    async def stop(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop sampling; a sample in flight is cancelled and not recorded. A probe's bug
        (not an unhealthy sample: an exception) is raised here, after the others stopped."""
        self._stop.set()
        try:
            await asyncio.gather(*tasks)
        finally:
            gc.unfreeze()

    def decided(self, recorder: Recorder, now: float) -> bool:
        """True when observing longer cannot change any objective (DESIGN.md step 6)."""
        t0, tend = recorder.t0, recorder.tend
        if t0 is None or tend is None or now < tend + self.scenario.observe.recovery_window:
            return False
        for objective in self.scenario.objectives:
            if not isinstance(objective, TimeObjective):
                continue
            if objective.kind is ObjectiveKind.TTD:
                if measure_ttd(self.alerts().get(objective.probe, ()), t0) is None:
                    return False
            elif objective.kind is ObjectiveKind.RTO:
                stable = objective.stable or self.scenario.observe.stable
                samples = recorder.samples.get(objective.probe, [])
                recovery = measure_recovery(samples, t0, tend, observe_end_s=now, stable=stable)
                if recovery.rto_s is None:
                    return False
        return True

    async def read_back(self) -> None:
        """Read every data probe's markers back, after the drill."""
        data = [p for p in self.probes.values() if isinstance(p, DataProbe)]
        # At once: each waits out its own settle, and those waits need not add up.
        results = await asyncio.gather(*(probe.read_back() for probe in data))
        for probe, result in zip(data, results, strict=True):
            self.read_backs[probe.name] = result
            for said in (*result.notes, *result.problems):
                self.recorder.event("read-back", f"{probe.name}: {said}")

    def markers(self) -> dict[str, tuple[Marker, ...]]:
        """Each data probe's markers."""
        return {n: p.markers for n, p in self.probes.items() if isinstance(p, DataProbe)}

    def alerts(self) -> dict[str, tuple[Alert, ...]]:
        """The alert probe's alerts, by its name."""
        return {self.sink.name: self.sink.alerts} if self.sink else {}

    def evidence(self, name: str) -> tuple[tuple[Marker, ...], tuple[Alert, ...]]:
        """(markers, alerts) of one probe, for the result."""
        return self.markers().get(name, ()), self.alerts().get(name, ())

    def steady_verdicts(self) -> dict[str, SteadyHeld]:
        """Per steady probe: whether it held before the faults, and after them."""
        return {
            name: SteadyHeld(
                before=held,
                after=self.steady_after.get(name),
                after_detail=self.steady_after_details.get(name, ""),
            )
            for name, held in self.steady_before.items()
        }
