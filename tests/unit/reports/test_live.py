"""The live view and plain lines: one drill as before, every running drill with --parallel."""

from __future__ import annotations

import io

from rich.console import Console

from gameday.grading.timeline import Sample
from gameday.recorder import Recorder
from gameday.reports.live import NamedRecorder, plain_listener, render_drills


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _screen(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(renderable)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


def _drill(clock: Clock, name: str, phase: str, ok: bool) -> NamedRecorder:
    recorder = NamedRecorder(clock=clock, origin=clock.now - 3, name=name)
    recorder.phase = phase
    recorder.sample("api", Sample(offset_s=2.5, ok=ok, latency_s=0.01, detail=f"{name} said"))
    return recorder


def test_one_drill_is_shown_as_before() -> None:
    clock = Clock()
    older, current = Recorder(clock=clock, origin=90.0), Recorder(clock=clock, origin=99.0)
    older.phase, current.phase = "environment down", "drill"
    screen = _screen(render_drills("gameday run", [older, current]))
    assert "gameday run  [drill]  t=1.0s" in screen
    assert "environment down" not in screen


def test_every_running_drill_is_shown_under_its_name() -> None:
    clock = Clock()
    first = _drill(clock, "identity-loss", "drill", ok=True)
    second = _drill(clock, "region-loss", "steady before", ok=False)
    done = _drill(clock, "logging-loss", "environment down", ok=True)
    done.ended = True
    screen = _screen(render_drills("gameday run", [first, second, done]))
    assert "gameday run · identity-loss  [drill]  t=3.0s" in screen
    assert "gameday run · region-loss  [steady before]  t=3.0s" in screen
    assert "identity-loss said" in screen and "region-loss said" in screen
    assert "logging-loss" not in screen
    done_too = [first, second]
    for recorder in done_too:
        recorder.ended = True
    assert _screen(render_drills("gameday run", done_too)).strip() == (
        "gameday run: 2 drill(s) done, starting the next"
    )


def test_plain_lines_name_the_drill_only_when_several_run() -> None:
    clock = Clock()
    out = io.StringIO()
    listen = plain_listener(out)
    listen(Recorder(clock=clock, origin=98.0), "inject", "sts-down: unavailable")
    listen(NamedRecorder(clock=clock, origin=99.5, name="region-loss"), "remove", "us-east-1")
    listen(NamedRecorder(clock=clock, origin=99.5, name="region-loss"), "observe", "quiet")
    assert out.getvalue().splitlines() == [
        "[   2.00s] inject   sts-down: unavailable",
        "[   0.50s] region-loss: remove   us-east-1",
    ]
