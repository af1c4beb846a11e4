"""The facilitated live view: phase, time since injection, probe strips, faults with time
left (or held), the runbook checklist, the latest marks, and the keys.

Drawn with rich's Live on stderr, four times a second and at once after each mark, so a key
press shows within a frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from gameday.facilitation.keys import KEY_HELP
from gameday.facilitation.session import Facilitator, describe
from gameday.recorder import Recorder
from gameday.reports.live import ANNOUNCED, probe_table

MARKS_SHOWN = 5


def _since_injection(recorder: Recorder) -> str:
    t0 = recorder.t0
    return "not injected yet" if t0 is None else f"{recorder.now() - t0:.1f}s since injection"


def _heading(title: str, facilitator: Facilitator) -> Any:
    recorder = facilitator.recorder
    heading = Text(f"{title} · facilitated by {facilitator.author} · ", style="bold")
    heading.append(f"[{recorder.phase}]", style="cyan")
    heading.append(f" · t={recorder.now():.1f}s · {_since_injection(recorder)}")
    if facilitator.hold_deadline is not None:
        if facilitator.ended.is_set():
            heading.append("\nhold ended", style="yellow")
        else:
            heading.append("\nHOLD: faults stay until you press e", style="bold yellow")
    return heading


def _probes_and_faults(facilitator: Facilitator) -> Any:
    recorder = facilitator.recorder
    table = probe_table(recorder, boxed=False)
    now = recorder.now()
    for record in recorder.faults.values():
        if record.injected_at is None or record.removed_at is not None:
            continue
        if facilitator.hold_deadline is not None and not facilitator.ended.is_set():
            start = facilitator.drill_start or 0.0
            left = f"held (ends itself in {start + facilitator.hold_deadline - now:.0f}s)"
        else:
            left = f"{record.injected_at + record.rule.duration_s - now:.1f}s left"
        table.add_row(Text(f"fault {record.rule.id}", style="red"), record.rule.mode.value, left)
    return table


def _checklist(facilitator: Facilitator) -> Any:
    if not facilitator.steps:
        return Text("no runbook checklist", style="dim")
    t0 = facilitator.recorder.t0
    text = Text(f"runbook: {facilitator.runbook} · {facilitator.runbook_heading}\n", style="bold")
    for step in facilitator.steps:
        tick = facilitator.ticks.get(step.number)
        key = str(step.number % 10) if step.number <= 10 else " "
        box = "[x]" if tick else "[ ]"
        line = Text(f" {key} {box} {step.number}. ", style="green" if tick else "")
        line.append(step.text[:90] + ("…" if len(step.text) > 90 else ""))
        if tick is not None:
            when = tick.at - t0 if t0 is not None else tick.at
            line.append(f"  ✓ {'+' if t0 is not None else 't='}{when:.1f}s {tick.author}")
        text.append_text(line)
        text.append("\n")
    return text


def _marks(facilitator: Facilitator) -> Any:
    t0 = facilitator.recorder.t0
    text = Text("marks: ", style="bold")
    recent = facilitator.marks[-MARKS_SHOWN:]
    if not recent:
        text.append("none yet", style="dim")
    for mark in recent:
        when = f"+{mark.at - t0:.1f}s" if t0 is not None else f"t={mark.at:.1f}s"
        text.append(f"\n  {when}  {describe(mark, facilitator.steps)}")
    return text


def render(title: str, facilitator: Facilitator) -> Any:
    """The whole view, from the facilitator's and the recorder's state now."""
    parts: list[Any] = [
        _heading(title, facilitator),
        _probes_and_faults(facilitator),
        _checklist(facilitator),
        _marks(facilitator),
    ]
    if facilitator.note_draft is not None:
        parts.append(Text(f"note> {facilitator.note_draft}▏", style="bold magenta"))
    if facilitator.message:
        parts.append(Text(facilitator.message, style="yellow"))
    footer = f"keys: {KEY_HELP} · Ctrl-C abort"
    if facilitator.marks_url:
        footer += f"\nmarks API: POST {facilitator.marks_url}"
    parts.append(Text(footer, style="dim"))
    return Group(*parts)


@dataclass
class FacilitatedView:
    """The run's listener (call it), and ``attach``: the hook that hands it the Facilitator."""

    title: str
    facilitator: Facilitator | None = None
    live: Live | None = None

    def attach(self, facilitator: Facilitator) -> None:
        self.facilitator = facilitator

    def draw(self) -> Any:
        if self.facilitator is None:
            return f"{self.title}: starting"
        return render(self.title, self.facilitator)

    def __call__(self, recorder: Recorder, kind: str, detail: str) -> None:
        """The run's listener (``Listener``)."""
        if self.live is None:
            return
        if kind in ANNOUNCED:
            self.live.console.print(f"[{recorder.now():7.2f}s] {kind:<8} {detail}", markup=False)
        if kind == "mark":  # at once, not at the next of the 4 frames a second
            self.live.refresh()


@contextmanager
def facilitated_view(title: str) -> Iterator[FacilitatedView]:
    """A rich Live view of the facilitated run; use ``view`` as the run's listener and
    ``view.attach`` as ``FacilitationOptions.on_ready``."""
    view = FacilitatedView(title)
    view.live = Live(
        get_renderable=view.draw, console=Console(stderr=True), refresh_per_second=4, transient=True
    )
    with view.live:
        yield view
