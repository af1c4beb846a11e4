"""One facilitated run's people-side state: marks, the runbook checklist, the hold.

The key reader, the marks API and the live view all go through one ``Facilitator``, on the
drill's event loop, so that a mark made by a key and one posted over HTTP land on the same
timeline in the same way: a ``Mark`` in ``marks`` and a ``mark`` event on the recorder.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gameday.errors import InvalidInputError
from gameday.facilitation.hold import hold_deadline
from gameday.kinds import MarkKind
from gameday.recorder import Recorder
from gameday.result import Facilitation, Mark, RunbookStepRecord
from gameday.scenario.runbook import (
    DEFAULT_STEPS_HEADING,
    RunbookStep,
    RunbookStepsError,
    load_steps,
)

if TYPE_CHECKING:
    from gameday.faults.plan import Plan

MAX_NOTE_CHARS = 500
MAX_AUTHOR_CHARS = 64
DEFAULT_MARKS_HOST = "127.0.0.1"


def default_author() -> str:
    """The OS user, as ``--as`` defaults to; "facilitator" where there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "facilitator"


@dataclass(frozen=True)
class FacilitationOptions:
    """What ``run --facilitate`` was asked: who marks, whether faults are held, where the
    marks API listens and with which token, and whether keys are read from the terminal."""

    author: str = field(default_factory=default_author)
    hold: bool = False
    marks_host: str = DEFAULT_MARKS_HOST
    marks_port: int = 0
    marks_token: str | None = None
    keys: bool = True
    on_ready: Callable[[Facilitator], None] | None = None
    """Called with the run's Facilitator before the environment comes up (the live view)."""


class MarkError(ValueError):
    """A mark that cannot be taken; the message says why (HTTP 400, or shown in the view)
    and ``field`` which field of the mark is at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class Facilitator:
    """Takes marks, ticks runbook steps, and ends held faults, on the run clock."""

    def __init__(
        self,
        options: FacilitationOptions,
        recorder: Recorder,
        steps: list[RunbookStep],
        *,
        runbook: str | None = None,
        runbook_heading: str | None = None,
        hold_deadline: float | None = None,
    ) -> None:
        self.options = options
        self.recorder = recorder
        self.steps = steps
        self.runbook = runbook
        self.runbook_heading = runbook_heading
        self.hold_deadline = hold_deadline
        """Under --hold: the drill-start offset at which held faults end by themselves."""
        self.drill_start: float | None = None
        """When the drill phase began on the run clock (set by the drill)."""
        self.marks: list[Mark] = []
        self.ticks: dict[int, Mark] = {}
        self.hold_ended_at: float | None = None
        self.hold_ended_by: str | None = None
        self.marks_url: str | None = None
        self.message = ""
        """The last thing the view should tell the facilitator (a refused key, a tick)."""
        self.note_draft: str | None = None
        """The note being typed after key n; None when not typing."""
        self.ended = asyncio.Event()

    @property
    def author(self) -> str:
        return self.options.author

    def mark(
        self,
        kind: MarkKind,
        *,
        author: str | None = None,
        note: str = "",
        step: int | None = None,
        source: str = "keys",
    ) -> Mark:
        """Record a mark now; raises MarkError for a step that is not on the checklist, a
        note without text, or a step already ticked."""
        who = (author or self.author).strip()
        if not who or len(who) > MAX_AUTHOR_CHARS:
            raise MarkError(f"author must be 1 to {MAX_AUTHOR_CHARS} characters", "author")
        if len(note) > MAX_NOTE_CHARS:
            raise MarkError(
                f"note is {len(note)} characters; the limit is {MAX_NOTE_CHARS}", "note"
            )
        if kind is MarkKind.END:
            raise MarkError("'end' is not a mark: the facilitator ends held faults (key e)", "kind")
        if kind is MarkKind.NOTE and not note.strip():
            raise MarkError("a note mark needs the note's text", "note")
        if kind is MarkKind.STEP:
            step = self._check_step(step)
        elif step is not None:
            raise MarkError(f"step is only for kind 'step', not {kind.value!r}", "step")
        return self._record(kind, who, note.strip(), step, source)

    def _check_step(self, step: int | None) -> int:
        if step is None:
            raise MarkError("a step mark needs the step's number", "step")
        if not self.steps:
            raise MarkError("this drill's runbook has no checklist", "step")
        if not 1 <= step <= len(self.steps):
            raise MarkError(f"step {step}: the checklist has steps 1 to {len(self.steps)}", "step")
        ticked = self.ticks.get(step)
        if ticked is not None:
            raise MarkError(
                f"step {step} was ticked at {ticked.at:.1f}s by {ticked.author}; ticks stay",
                "step",
            )
        return step

    def _record(
        self, kind: MarkKind, author: str, note: str, step: int | None, source: str
    ) -> Mark:
        mark = Mark(
            at=round(self.recorder.now(), 6),
            kind=kind,
            author=author,
            note=note,
            step=step,
            source=source,
        )
        self.marks.append(mark)
        if step is not None:
            self.ticks[step] = mark
        self.recorder.event("mark", describe(mark, self.steps))
        return mark

    def end_hold(self, author: str | None = None) -> str:
        """End the held faults now (key e); returns what the view should say."""
        if not self.options.hold:
            return "no --hold: the faults end on their schedule (Ctrl-C aborts the drill)"
        if self.ended.is_set():
            return "the held faults were already ended"
        who = author or self.author
        self.hold_ended_by = who
        self.hold_ended_at = self._record(MarkKind.END, who, "", None, "keys").at
        self.ended.set()
        return f"ending the held faults ({who})"

    def hold_expired(self) -> None:
        """The hold deadline passed without key e: the faults end by themselves."""
        if not self.ended.is_set():
            self.hold_ended_by = "max_duration"
            self.hold_ended_at = round(self.recorder.now(), 6)
            self.recorder.event("hold", "the hold reached its deadline (max_duration)")
            self.ended.set()

    def times(self) -> dict[MarkKind, list[float]]:
        """When each kind of mark was made, for grading."""
        found: dict[MarkKind, list[float]] = {}
        for mark in self.marks:
            found.setdefault(mark.kind, []).append(mark.at)
        return found

    def record(self) -> Facilitation:
        """The result's record of how the run was facilitated."""
        return Facilitation(
            facilitator=self.author,
            hold=self.options.hold,
            hold_deadline=(
                self.drill_start + self.hold_deadline
                if self.hold_deadline is not None and self.drill_start is not None
                else None
            ),
            hold_ended_at=self.hold_ended_at,
            hold_ended_by=self.hold_ended_by,
            runbook=self.runbook,
            runbook_heading=self.runbook_heading,
            steps=[
                RunbookStepRecord(
                    number=s.number,
                    text=s.text,
                    ticked_at=self.ticks[s.number].at if s.number in self.ticks else None,
                    ticked_by=self.ticks[s.number].author if s.number in self.ticks else None,
                )
                for s in self.steps
            ],
            marks_url=self.marks_url,
        )


def describe(mark: Mark, steps: list[RunbookStep] | None = None) -> str:
    """One line for the timeline: ``detected by alice``, ``step 3 by bob: Promote data``."""
    what = mark.kind.value
    if mark.step is not None:
        what = f"step {mark.step}"
        if steps and 1 <= mark.step <= len(steps):
            what += f" ({steps[mark.step - 1].text[:60]})"
    line = f"{what} by {mark.author}"
    if mark.source != "keys":
        line += f" via {mark.source}"
    return f"{line}: {mark.note}" if mark.note else line


def open_facilitator(plan: Plan, options: FacilitationOptions, recorder: Recorder) -> Facilitator:
    """The Facilitator of one run: the checklist read from the scenario's runbook, and the
    hold deadline under --hold (InvalidInputError when the scenario leaves no room to hold)."""
    scenario = plan.loaded.scenario
    runbook, heading = scenario.metadata.runbook, scenario.metadata.runbook_steps
    steps: list[RunbookStep] = []
    if runbook is not None:
        try:
            steps = load_steps(plan.loaded.base_dir / runbook, heading)
        except RunbookStepsError as error:
            if heading is not None:  # named in the scenario: validated, then changed since
                raise InvalidInputError(
                    f"{plan.loaded.path}: metadata.runbook_steps: runbook {runbook!r}: {error}"
                ) from None
            recorder.event("note", f"no checklist: runbook {runbook!r}: {error}")
    deadline = hold_deadline(scenario, plan.rules) if options.hold else None
    return Facilitator(
        options,
        recorder,
        steps,
        runbook=runbook,
        runbook_heading=(heading or DEFAULT_STEPS_HEADING) if steps else None,
        hold_deadline=deadline,
    )
