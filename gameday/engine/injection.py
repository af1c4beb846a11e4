"""Inject each rule at its start and remove it at its end, on the run clock; take back every
rule still in force on every way out (DESIGN.md: rollback sits in a ``finally``).

A fault is recorded as removed only once its removal succeeded. A removal that failed is
tried again by the rollback; one that still fails is a rollback problem, never a silent
``removed_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

from gameday.errors import GameDayError, InjectorError, NotRemovedError
from gameday.faults.rules import Rule
from gameday.injectors.base import Injector
from gameday.recorder import FaultWindowRecord, Recorder
from gameday.result import Rollback

_T = TypeVar("_T")


class FaultSchedule:
    """Applies rules on time through an injector; ``rollback`` is idempotent and total."""

    def __init__(
        self,
        rules: list[Rule],
        injector: Injector,
        recorder: Recorder,
        end: asyncio.Event | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._rules = sorted(rules, key=lambda r: (r.start_s, r.id))
        self._injector = injector
        self._recorder = recorder
        self._active: dict[str, ExitStack] = {}
        self._end = end
        """Set by the facilitator (key e under --hold): remove every rule now, inject no more."""
        self._stopping = stopping
        """True once the drill has decided to stop (an abort, an app that exited before any
        fault): asked right before each injection, so that no fault goes in while the loop
        that acts on that decision has not yet had its turn (a loaded machine delays it)."""
        self._in_flight: asyncio.Future[None] | None = None
        self._report: Rollback | None = None
        for rule in self._rules:
            recorder.faults.setdefault(rule.id, FaultWindowRecord(rule))

    async def run(self, drill_start: float) -> None:
        """Inject and remove every rule at its time (offsets from ``drill_start``).

        Raises InjectorError when the injector's API fails for good; the caller rolls back.
        """
        moments = sorted(
            [(r.start_s, 1, r) for r in self._rules] + [(r.end_s, 0, r) for r in self._rules],
            key=lambda m: (m[0], m[1]),
        )
        for offset, is_start, rule in moments:
            delay = drill_start + offset - self._recorder.now()
            if await self._ended_within(delay):
                for rule_id in list(self._active):
                    await self._in_thread(self._remove, rule_id)
                return
            if is_start:
                if self._stopping():
                    return  # what is in force is the rollback's to take back
                await self._in_thread(self._inject, rule)
            elif rule.id in self._active:
                await self._in_thread(self._remove, rule.id)

    async def _in_thread(self, call: Callable[[_T], None], arg: _T) -> None:
        # A cancelled wait must not abandon a call that is still running in its thread (an
        # add that lands after the rollback would be a fault nobody removes): the rollback
        # waits for it first.
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(call, arg))
        await asyncio.shield(self._in_flight)

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
        try:
            undo.enter_context(self._injector.inject(rule))
        except GameDayError as error:
            self._recorder.event("error", f"could not inject {rule.id}: {error.message}")
            raise InjectorError(f"could not inject {rule.id}: {error.message}") from None
        self._active[rule.id] = undo
        self._recorder.faults[rule.id].injected_at = self._recorder.now()
        self._recorder.event("inject", f"{rule.id}: {rule.mode.value}")

    def _remove(self, rule_id: str) -> None:
        undo = self._active.pop(rule_id, None)
        if undo is None:
            return
        record = self._recorder.faults[rule_id]
        record.removal_tried_at = self._recorder.now()
        try:
            undo.close()
        except GameDayError as error:
            # The injector still holds it: ``finish`` tries again during the rollback.
            self._recorder.event("remove-failed", f"{rule_id}: {error.message}")
            return
        record.removed_at = self._recorder.now()
        self._recorder.event("remove", rule_id)

    async def rollback(self) -> Rollback:
        """Remove every rule still in force, then let the injector take back whatever this
        run still holds; the report says what may still be in force. Idempotent: a second
        call returns the first one's report. Never raises GameDayError."""
        if self._report is not None:
            return self._report
        if self._in_flight is not None:
            # Only to let it settle: its failure was the schedule's, already raised.
            await asyncio.gather(self._in_flight, return_exceptions=True)
        for rule_id in list(self._active):
            await asyncio.to_thread(self._remove, rule_id)
        self._report = await asyncio.to_thread(self._finish)
        return self._report

    def _finish(self) -> Rollback:
        now = self._recorder.now
        try:
            self._injector.finish()
        except NotRemovedError as error:
            for rule_id in error.rule_ids:
                record = self._recorder.faults.get(rule_id)
                if record is not None:
                    record.not_removed = error.message
            self._recorder.event("rollback-failed", error.message)
            self._mark_removed(now(), exclude=set(error.rule_ids))
            return Rollback(complete=False, problems=[error.message])
        except GameDayError as error:
            # Something of the run was left in the backend (an FIS template, say) but no
            # fault is in force: a problem to show, not a failed rollback.
            self._recorder.event("rollback-note", error.message)
            self._mark_removed(now(), exclude=set())
            return Rollback(complete=True, problems=[error.message])
        self._mark_removed(now(), exclude=set())
        return Rollback()

    def _mark_removed(self, at: float, exclude: set[str]) -> None:
        """Faults whose earlier removal failed and that ``finish`` took back: removed now."""
        for rule_id, record in self._recorder.faults.items():
            if rule_id in exclude or record.injected_at is None or record.removed_at is not None:
                continue
            record.removed_at = at
            self._recorder.event("remove", f"{rule_id} (at the rollback's second try)")

    @property
    def active(self) -> list[str]:
        """Ids of the rules in force now."""
        return list(self._active)
