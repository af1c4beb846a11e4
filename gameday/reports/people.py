"""What every report says about the people side of a facilitated run (``run --facilitate``):
the marks on the timeline, the runbook checklist, the hold, and the probe column of a human
objective.

Terminal, HTML, Markdown and JUnit render these cells and facts; none words its own, so the
formats cannot disagree. A leaf of the reports package (results in, strings out), so that the
terminal renderer, which ``suite`` itself builds on, can use it too.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.kinds import HUMAN_OBJECTIVES, MarkKind
from gameday.result import Facilitation, Mark, ObjectiveResult, RunbookStepRecord, RunResult

PEOPLE = "people"
"""What a human objective is measured on, in a report's probe column (its ``probe`` is "")."""

FACILITATED_ONLY = "graded only under `gameday run --facilitate`"
"""Why a human objective may be missing from an unattended run's grade."""

MARK_HEAD = ("since T0", "at", "mark", "by", "note")
MARKS_CAPTION = "since T0: from the first injection; at: from the run's start"
MARK_NUMERIC = frozenset({0, 1})
"""Columns of ``mark_cells`` that hold times (right-aligned where a format can)."""

STEP_HEAD = ("step", "text", "ticked at", "since T0", "by")
STEP_NUMERIC = frozenset({0, 2, 3})


def probe_label(objective: ObjectiveResult) -> str:
    """The objective's probe, or ``people`` for a human objective (no probe measures people)."""
    return PEOPLE if objective.kind in HUMAN_OBJECTIVES else objective.probe


def since_t0(result: RunResult, at_s: float) -> str:
    """'+12.3s' after the first injection, '-2.0s' before it; '-' when nothing was injected."""
    if result.t0 is None:
        return "-"
    return f"{at_s - result.t0:+.1f}s"


def _at(at_s: float) -> str:
    # The absolute offset, worded as the events table words it.
    return f"{at_s:.2f}s"


def _steps(result: RunResult) -> list[RunbookStepRecord]:
    return result.facilitation.steps if result.facilitation is not None else []


def mark_note(mark: Mark, steps: Sequence[RunbookStepRecord]) -> str:
    """What a mark says beyond its kind: the step it ticked off (with the step's text), the
    held faults it ended, the note typed with it, and '(via http)' for a mark posted to the
    marks API rather than typed at the live view."""
    parts = []
    if mark.kind is MarkKind.END:
        parts.append("ended the held faults")
    if mark.step is not None:
        text = next((s.text for s in steps if s.number == mark.step), None)
        parts.append(f"step {mark.step}: {text}" if text else f"step {mark.step}")
    if mark.note:
        parts.append(mark.note)
    line = "; ".join(parts)
    if mark.source != "keys":
        line = f"{line} (via {mark.source})".lstrip()
    return line


def mark_cells(result: RunResult, mark: Mark) -> list[str]:
    """One mark as the cells of ``MARK_HEAD``."""
    return [
        since_t0(result, mark.at),
        _at(mark.at),
        mark.kind.value,
        mark.author,
        mark_note(mark, _steps(result)),
    ]


def mark_title(result: RunResult, mark: Mark) -> str:
    """One line naming a mark, for a tooltip: 'detected by bob at +7.3s (12.25s)'."""
    line = f"{mark.kind.value} by {mark.author} at {since_t0(result, mark.at)} ({_at(mark.at)})"
    note = mark_note(mark, _steps(result))
    return f"{line}: {note}" if note else line


def step_cells(result: RunResult, step: RunbookStepRecord) -> list[str]:
    """One checklist step as the cells of ``STEP_HEAD``; 'not ticked' when nobody ticked it."""
    if step.ticked_at is None:
        return [str(step.number), step.text, "not ticked", "-", "-"]
    return [
        str(step.number),
        step.text,
        _at(step.ticked_at),
        since_t0(result, step.ticked_at),
        step.ticked_by or "-",
    ]


def ticked_count(facilitation: Facilitation) -> str:
    """'2 of 4 steps ticked'."""
    ticked = sum(1 for s in facilitation.steps if s.ticked_at is not None)
    return f"{ticked} of {len(facilitation.steps)} steps ticked"


def _hold(result: RunResult, facilitation: Facilitation) -> str:
    """How the held faults ended: by whom and when, at the hold's deadline, or not at all."""
    deadline = facilitation.hold_deadline
    deadline_text = f"; deadline {_at(deadline)}" if deadline is not None else ""
    ended_at = facilitation.hold_ended_at
    if ended_at is None:
        # Nobody pressed e and the deadline was not reached: the drill stopped first (an
        # abort or an error), and its rollback removed the faults.
        stopped = f"the drill stopped ({result.status.value})"
        return f"faults held until {stopped}; rolled back{deadline_text}"
    when = f"{_at(ended_at)} ({since_t0(result, ended_at)})"
    if facilitation.hold_ended_by == "max_duration":
        return f"faults held until the hold's deadline (max_duration) at {when}"
    who = facilitation.hold_ended_by or "someone"
    return f"faults held until {who} ended them at {when}{deadline_text}"


def facilitation_facts(result: RunResult) -> list[tuple[str, str]]:
    """How the run was facilitated, as (label, text) pairs; empty for an unattended run."""
    facilitation = result.facilitation
    if facilitation is None:
        return []
    facts = [("facilitator", facilitation.facilitator)]
    if facilitation.hold:
        facts.append(("hold", _hold(result, facilitation)))
    if facilitation.steps:
        where = facilitation.runbook or "the runbook"
        heading = f"'{facilitation.runbook_heading}' in " if facilitation.runbook_heading else ""
        facts.append(("checklist", f"{ticked_count(facilitation)}, from {heading}{where}"))
    else:
        facts.append(("checklist", "none: the runbook has no steps to tick"))
    if facilitation.marks_url:
        facts.append(("marks API", facilitation.marks_url))
    return facts
