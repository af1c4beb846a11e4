"""Inject each rule at its start and remove it at its end, on the run clock; remove every
rule still in force on every way out (DESIGN.md: rollback sits in a ``finally``)."""

from __future__ import annotations

import asyncio
import contextlib
from contextlib import ExitStack

from gameday.engine.recorder import FaultWindowRecord, Recorder
from gameday.faults.rules import Rule
from gameday.injectors.base import Injector


class FaultSchedule:
    """Applies rules on time through an injector; ``rollback`` is idempotent and total."""

    def __init__(
        self,
        rules: list[Rule],
        injector: Injector,
        recorder: Recorder,
        end: asyncio.Event | None = None,
    ) -> None:
        self._rules = sorted(rules, key=lambda r: (r.start_s, r.id))
        self._injector = injector
        self._recorder = recorder
        self._active: dict[str, ExitStack] = {}
        self._end = end
        """Set by the facilitator (key e under --hold): remove every rule now, inject no more."""
        for rule in self._rules:
            recorder.faults.setdefault(rule.id, FaultWindowRecord(rule))

    async def run(self, drill_start: float) -> None:
        """Inject and remove every rule at its time (offsets from ``drill_start``)."""
        moments = sorted(
            [(r.start_s, 1, r) for r in self._rules] + [(r.end_s, 0, r) for r in self._rules],
            key=lambda m: (m[0], m[1]),
        )
        for offset, is_start, rule in moments:
            delay = drill_start + offset - self._recorder.now()
            if await self._ended_within(delay):
                for rule_id in list(self._active):
                    await asyncio.to_thread(self._remove, rule_id)
                return
            if is_start:
                await asyncio.to_thread(self._inject, rule)
            else:
                await asyncio.to_thread(self._remove, rule.id)

    async def _ended_within(self, delay: float) -> bool:
        """Wait ``delay`` seconds; True at once when the end was asked for."""
        if self._end is None:
            if delay > 0:
                await asyncio.sleep(delay)
            return False
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._end.wait(), delay)
        return self._end.is_set()

    def _inject(self, rule: Rule) -> None:
        undo = ExitStack()
        undo.enter_context(self._injector.inject(rule))
        self._active[rule.id] = undo
        self._recorder.faults[rule.id].injected_at = self._recorder.now()
        self._recorder.event("inject", f"{rule.id}: {rule.mode.value}")

    def _remove(self, rule_id: str) -> None:
        undo = self._active.pop(rule_id, None)
        if undo is None:
            return
        try:
            undo.close()
        finally:
            self._recorder.faults[rule_id].removed_at = self._recorder.now()
            self._recorder.event("remove", rule_id)

    def rollback(self) -> list[str]:
        """Remove every rule still in force; returns the problems (never raises)."""
        problems = []
        for rule_id in list(self._active):
            try:
                self._remove(rule_id)
            except Exception as error:  # every rule must be tried; the failure is shown loudly
                problems.append(f"could not remove {rule_id}: {error}")
        return problems

    @property
    def active(self) -> list[str]:
        """Ids of the rules in force now."""
        return list(self._active)
