"""Progress while a drill runs: a live view on a terminal, plain lines otherwise.

With ``run --parallel`` several drills run at once, each in its own process; the parent
relays each drill's timeline into a ``NamedRecorder``, and both views show every running
drill under its name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from gameday.recorder import Listener, Recorder

ANNOUNCED = (
    "inject",
    "remove",
    "remove-failed",
    "abort",
    "error",
    "rollback-failed",
    "rollback-note",
    "hold",
    "app-exit",
)
"""Events printed above a live view as they happen: what changes what is in force, and the
app exiting by itself."""

_QUIET_EVENTS = {"observe"}


@dataclass
class NamedRecorder(Recorder):
    """One of several drills running at once (``run --parallel``), as its worker process
    relays it: views name it, and stop showing it once it has ``ended``."""

    name: str = ""
    ended: bool = False


def _line(recorder: Recorder, kind: str, detail: str) -> str:
    """``[  12.30s] inject   detail``; with the drill's name when several run at once."""
    name = f"{recorder.name}: " if isinstance(recorder, NamedRecorder) else ""
    return f"[{recorder.now():7.2f}s] {name}{kind:<8} {detail}"


def plain_listener(out: TextIO = sys.stderr) -> Listener:
    """One line per timeline event, for logs and CI (no terminal control codes)."""

    def listen(recorder: Recorder, kind: str, detail: str) -> None:
        if kind in _QUIET_EVENTS:
            return
        print(_line(recorder, kind, detail), file=out, flush=True)

    return listen


def _strip(recorder: Recorder, probe: str, width: int = 40) -> str:
    samples = recorder.samples.get(probe, [])[-width:]
    return "".join("·" if s.missed else ("█" if s.ok else "▁") for s in samples)


def probe_table(recorder: Recorder, heading: Any = None, *, boxed: bool = True) -> Any:
    """A rich table with a row per probe: its name, its last samples as a strip, and the last
    sample's detail (the facilitated view adds its own rows for the faults)."""
    table = Table(title=heading, expand=False, box=box.HEAVY_HEAD if boxed else None)
    table.add_column("probe")
    table.add_column("last samples (█ ok, ▁ failed, · missed)")
    table.add_column("last detail", overflow="ellipsis", max_width=40)
    for name, samples in recorder.samples.items():
        last = samples[-1] if samples else None
        detail = Text(last.detail if last else "", style="green" if last and last.ok else "red")
        table.add_row(name, _strip(recorder, name), detail)
    return table


def _view(recorder: Recorder, title: str) -> Any:
    # Text, not a markup string: "[drill]" would otherwise be read as a rich style tag.
    heading = Text(f"{title}  [{recorder.phase}]  t={recorder.now():.1f}s")
    table = probe_table(recorder, heading)
    now = recorder.now()
    for record in recorder.faults.values():
        if record.injected_at is not None and record.removed_at is None:
            left = record.injected_at + record.rule.duration_s - now
            table.add_row(f"fault {record.rule.id}", record.rule.mode.value, f"{left:.1f}s left")
    return table


def render_drills(title: str, recorders: Sequence[Recorder]) -> Any:
    """What the live view shows: the drill that runs; with ``run --parallel``, a table per
    running drill, under its name."""
    named = [r for r in recorders if isinstance(r, NamedRecorder)]
    if not named:
        return _view(recorders[-1], title) if recorders else f"{title}: starting"
    running = [r for r in named if not r.ended]
    if not running:
        return f"{title}: {len(named)} drill(s) done, starting the next"
    return Group(*(_view(r, f"{title} · {r.name}") for r in running))


@contextmanager
def live_view(title: str, recorders: list[Recorder]) -> Iterator[Listener]:
    """A rich Live view refreshed 4 times a second, over the recorders the drills register."""
    console = Console(stderr=True)

    def render() -> Any:
        return render_drills(title, recorders)

    def listen(recorder: Recorder, kind: str, detail: str) -> None:
        if recorder not in recorders:
            recorders.append(recorder)
        if kind in ANNOUNCED:
            live.console.print(_line(recorder, kind, detail), markup=False)

    with Live(get_renderable=render, console=console, refresh_per_second=4, transient=True) as live:
        yield listen
