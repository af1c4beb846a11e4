"""The fis injector: every fault of a drill is one FIS experiment on a real account
(DESIGN.md "Injectors: fis").

The experiment starts when the first fault's window opens and FIS ends each action at the
end of its own window; a window left early (an abort, a guardrail, Ctrl-C) stops the whole
experiment at once. ``finish`` runs on every way out: StopExperiment once started if it is
still running, then the template is deleted. The experiment is followed every second in a
thread; a failure to follow it stops the drill (``fail``), which then rolls back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from gameday.errors import GameDayError, InjectorError, NotRemovedError
from gameday.faults.rules import Rule
from gameday.fis.lifecycle import FisExperiment
from gameday.fis.plan import AwsPlan

POLL_INTERVAL_S = 1.0
EARLY_S = 0.5
"""A window left more than this before its planned end was cut short: stop the experiment."""

Note = Callable[[str, str], None]


def window_rules(plan: AwsPlan) -> list[Rule]:
    """One rule per fault, in drill time, with the window FIS really gives it."""
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


class FisInjector:
    """One FIS experiment carrying a drill's faults; thread-safe (the schedule calls it from
    worker threads, the follower polls from its own)."""

    def __init__(
        self,
        plan: AwsPlan,
        fis_client: Any,
        *,
        now: Callable[[], float],
        note: Note,
        fail: Callable[[str], None],
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.plan = plan
        self.rules = window_rules(plan)
        self.experiment = FisExperiment(plan.fis.template, fis_client)
        self._now, self._note, self._fail = now, note, fail
        self._poll_interval_s = poll_interval_s
        self._lock = threading.Lock()
        self._entered = False
        self._started_at: float | None = None
        self._failure: str | None = None
        self._stop_following = threading.Event()
        self._follower: threading.Thread | None = None
        self._finished = False

    @contextmanager
    def inject(self, rule: Rule) -> Iterator[None]:
        """The first window starts the experiment; each later one checks it still runs."""
        with self._lock:
            if self._failure is not None:
                raise InjectorError(self._failure)
            if self._started_at is None:
                self._start()
            elif not self.experiment.record.experiment_id:
                raise InjectorError("the FIS experiment did not start")
        try:
            yield
        finally:
            self._leave(rule)

    def _start(self) -> None:
        # Windows are measured from when the schedule asked for the start, not from when FIS
        # answered: the schedule leaves a window at its planned end, and a slow StartExperiment
        # must not make that look like a window left early.
        self._started_at = self._now()
        self.experiment.__enter__()
        self._entered = True
        self._note("fis", f"template {self.experiment.record.template_id} created")
        snapshot = self.experiment.start()
        self._note("fis", f"experiment {snapshot.experiment_id} started")
        self._follower = threading.Thread(target=self._follow, name="fis-follow", daemon=True)
        self._follower.start()

    def _leave(self, rule: Rule) -> None:
        """FIS ends an action at the end of its window by itself; a window left early means
        the drill is stopping: stop the experiment now."""
        started = self._started_at
        if started is None or self.experiment.record.experiment_id is None:
            return
        planned_end = started + rule.end_s - self.plan.fis.offset_s
        if self._now() < planned_end - EARLY_S:
            self._stop_now(f"the {rule.id} window was left early")

    def _follow(self) -> None:
        while not self._stop_following.wait(self._poll_interval_s):
            with self._lock:
                if self.experiment.finished or self._finished:
                    return
                before = self.experiment.record.status
                try:
                    snapshot = self.experiment.poll()
                except GameDayError as error:
                    self._failure = f"could not follow the FIS experiment: {error.message}"
                    self._fail(self._failure)
                    return
            if snapshot.status != before:
                self._note("fis", f"experiment {snapshot.status.value}")
            if snapshot.status.finished:
                return

    def _stop_now(self, reason: str) -> None:
        with self._lock:
            if self.experiment.finished:
                return
            try:
                self.experiment.stop(reason)
            except GameDayError as error:
                raise NotRemovedError(self._left_running(error.message), self._rule_ids()) from None

    def finish(self) -> None:
        """Stop the experiment if it still runs, delete the template; NotRemovedError when
        the experiment may still be running, InjectorError when only cleanup was left."""
        self._stop_following.set()
        if self._follower is not None:
            self._follower.join(timeout=30)
        with self._lock:
            self._finished = True
            if not self._entered:
                return
            self._entered = False
            with contextlib.suppress(GameDayError):  # every problem is in the record
                self.experiment.__exit__(None, None, None)
        record = self.experiment.record
        if self.experiment.record.experiment_id is not None and not self.experiment.finished:
            raise NotRemovedError(
                self._left_running("; ".join(record.problems) or "its state is unknown"),
                self._rule_ids(),
            )
        if record.problems:
            raise InjectorError("; ".join(record.problems))

    def _left_running(self, why: str) -> str:
        experiment_id = self.experiment.record.experiment_id
        region = self.plan.fis.region
        return (
            f"FIS experiment {experiment_id} may still be running: {why}; to stop it: "
            f"gameday abort --env aws --region {region} "
            f"(or aws fis stop-experiment --id {experiment_id} --region {region})"
        )

    def _rule_ids(self) -> tuple[str, ...]:
        return tuple(rule.id for rule in self.rules)

    @property
    def record(self) -> dict[str, object]:
        """The experiment's ids, final state and reason, for the result."""
        return self.experiment.record.to_dict()
