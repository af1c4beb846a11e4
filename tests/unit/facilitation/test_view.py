"""The facilitated live view as text: phase, time since injection, held faults, the
checklist, the latest marks, the note being typed, and the keys."""

from __future__ import annotations

import io

from rich.console import Console

from gameday.facilitation.session import FacilitationOptions, Facilitator
from gameday.facilitation.view import MARKS_SHOWN, render
from gameday.faults.modes import Mode
from gameday.faults.rules import Rule
from gameday.grading.timeline import Sample
from gameday.kinds import MarkKind
from gameday.recorder import FaultWindowRecord, Recorder
from gameday.scenario.models import FaultKind
from gameday.scenario.runbook import RunbookStep


class Ticks:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


RULE = Rule(
    id="sts-down",
    fault="sts-down",
    kind=FaultKind.IDENTITY_LOSS,
    mode=Mode.UNAVAILABLE,
    services=("sts",),
    regions=("us-east-1",),
    operations=(),
    probability=1.0,
    start_s=1.0,
    end_s=60.0,
)


def _text(facilitator: Facilitator) -> str:
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(render("gameday run", facilitator))
    text = console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above
    return "\n".join(line.rstrip() for line in text.splitlines())


def _held(clock: Ticks) -> Facilitator:
    recorder = Recorder(clock=clock, origin=0.0)
    recorder.phase = "drill"
    recorder.faults["sts-down"] = FaultWindowRecord(RULE, injected_at=3.0)
    recorder.samples["api"] = [
        Sample(offset_s=t, ok=t < 4, latency_s=0.01, detail="503") for t in (3, 4, 5)
    ]
    steps = [RunbookStep(1, "Page the owner.", 5), RunbookStep(2, "Fail over.", 6)]
    facilitator = Facilitator(
        FacilitationOptions(author="alice", hold=True),
        recorder,
        steps,
        runbook="rb.md",
        runbook_heading="Mitigate",
        hold_deadline=60.0,
    )
    facilitator.drill_start = 2.0
    facilitator.marks_url = "http://127.0.0.1:4000/marks"
    return facilitator


def test_a_held_drill_shows_its_faults_checklist_marks_and_keys() -> None:
    clock = Ticks(10.0)
    facilitator = _held(clock)
    facilitator.mark(MarkKind.DETECTED)
    clock.now = 11.5
    facilitator.mark(MarkKind.STEP, step=2)
    text = _text(facilitator)
    assert "gameday run · facilitated by alice · [drill] · t=11.5s · 8.5s since injection" in text
    assert "HOLD: faults stay until you press e" in text
    assert " api             █▁▁" in text
    assert "fault sts-down  unavailable" in text and "held (ends itself in 50s)" in text
    assert "runbook: rb.md · Mitigate" in text
    assert " 1 [ ] 1. Page the owner." in text
    assert " 2 [x] 2. Fail over.  ✓ +8.5s alice" in text
    assert "  +7.0s  detected by alice" in text
    assert "  +8.5s  step 2 (Fail over.) by alice" in text
    assert "keys: d detected · m mitigation · r recovered · n note · 1-9 step · e end" in text
    assert "marks API: POST http://127.0.0.1:4000/marks" in text


def test_after_e_the_hold_has_ended_and_faults_count_down() -> None:
    clock = Ticks(10.0)
    facilitator = _held(clock)
    facilitator.message = facilitator.end_hold()
    text = _text(facilitator)
    assert "hold ended" in text and "HOLD:" not in text
    assert "ending the held faults (alice)" in text
    assert "52.0s left" in text  # until the schedule removes it: the rule's own window


def test_the_note_being_typed_and_only_the_latest_marks_are_shown() -> None:
    clock = Ticks(10.0)
    facilitator = _held(clock)
    for i in range(MARKS_SHOWN + 2):
        clock.now = 10.0 + i
        facilitator.mark(MarkKind.NOTE, note=f"note {i}")
    facilitator.note_draft = "fail over [now]"
    text = _text(facilitator)
    assert "note 0" not in text and "note 1" not in text
    assert all(f"note {i}" in text for i in range(2, MARKS_SHOWN + 2))
    assert "note> fail over [now]▏" in text  # rich markup in people's text stays text


def test_before_injection_times_are_from_the_run_start() -> None:
    recorder = Recorder(clock=Ticks(4.0), origin=0.0)
    facilitator = Facilitator(FacilitationOptions(author="bob"), recorder, [])
    facilitator.mark(MarkKind.NOTE, note="warming up")
    text = _text(facilitator)
    assert "not injected yet" in text
    assert "no runbook checklist" in text
    assert "  t=4.0s  note by bob: warming up" in text
