"""The Facilitator: marks on the run clock, the checklist's ticks, and the end of a hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.engine.plan import make_plan
from gameday.errors import InvalidInputError
from gameday.facilitation.hold import humans_decided
from gameday.facilitation.session import (
    FacilitationOptions,
    Facilitator,
    MarkError,
    describe,
    open_facilitator,
)
from gameday.faults.rules import resolve_rules
from gameday.kinds import MarkKind
from gameday.recorder import FaultWindowRecord, Recorder
from gameday.result import Facilitation, Mark, RunbookStepRecord
from gameday.scenario.loader import load_scenario
from gameday.scenario.runbook import RunbookStep

STEPS = [
    RunbookStep(1, "Declare an incident.", 10),
    RunbookStep(2, "Fail over.", 11),
    RunbookStep(3, "Tell the customers.", 12),
]


class Ticks:
    """A clock the test sets by hand: mark times are then exact."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _facilitator(
    clock: Ticks, *, hold: bool = False, steps: list[RunbookStep] | None = None
) -> Facilitator:
    recorder = Recorder(clock=clock, origin=1000.0)
    options = FacilitationOptions(author="alice", hold=hold)
    return Facilitator(options, recorder, STEPS if steps is None else steps)


def test_a_mark_is_taken_at_the_run_clock_and_recorded_as_an_event() -> None:
    clock = Ticks(1012.25)
    facilitator = _facilitator(clock)
    mark = facilitator.mark(MarkKind.DETECTED)
    assert mark == Mark(at=12.25, kind=MarkKind.DETECTED, author="alice")
    assert facilitator.marks == [mark]
    assert facilitator.recorder.events == [(12.25, "mark", "detected by alice")]


def test_a_posted_mark_keeps_its_author_note_and_source() -> None:
    clock = Ticks(1030.0)
    facilitator = _facilitator(clock)
    mark = facilitator.mark(
        MarkKind.MITIGATION, author="  bob ", note=" failing over \n", source="http"
    )
    assert mark == Mark(
        at=30.0, kind=MarkKind.MITIGATION, author="bob", note="failing over", source="http"
    )
    assert facilitator.recorder.events == [
        (30.0, "mark", "mitigation by bob via http: failing over")
    ]


def test_ticking_a_step_names_the_step_on_the_timeline() -> None:
    clock = Ticks(1040.0)
    facilitator = _facilitator(clock)
    mark = facilitator.mark(MarkKind.STEP, step=2)
    assert (mark.kind, mark.step, mark.at) == (MarkKind.STEP, 2, 40.0)
    assert facilitator.ticks == {2: mark}
    assert facilitator.recorder.events == [(40.0, "mark", "step 2 (Fail over.) by alice")]


def test_describe_cuts_long_step_texts_and_tolerates_unknown_steps() -> None:
    long = [RunbookStep(1, "x" * 80, 1)]
    mark = Mark(at=1.0, kind=MarkKind.STEP, author="al", step=1, note="done")
    assert describe(mark, long) == f"step 1 ({'x' * 60}) by al: done"
    assert describe(mark.model_copy(update={"step": 5}), long) == "step 5 by al: done"
    assert describe(mark) == "step 1 by al: done"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (None, "a step mark needs the step's number"),
        (0, "step 0: the checklist has steps 1 to 3"),
        (4, "step 4: the checklist has steps 1 to 3"),
        (-1, "step -1: the checklist has steps 1 to 3"),
    ],
)
def test_a_step_outside_the_checklist_is_refused(step: int | None, message: str) -> None:
    facilitator = _facilitator(Ticks(1000.0))
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.STEP, step=step)
    assert str(caught.value) == message
    assert facilitator.marks == []
    assert facilitator.recorder.events == []


def test_a_step_is_ticked_once() -> None:
    clock = Ticks(1007.04)
    facilitator = _facilitator(clock)
    first = facilitator.mark(MarkKind.STEP, step=3)
    clock.now = 1020.0
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.STEP, step=3, author="bob")
    assert str(caught.value) == "step 3 was ticked at 7.0s by alice; ticks stay"
    assert facilitator.marks == [first]


def test_no_checklist_no_steps() -> None:
    facilitator = _facilitator(Ticks(1000.0), steps=[])
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.STEP, step=1)
    assert str(caught.value) == "this drill's runbook has no checklist"


def test_a_step_number_on_another_kind_is_refused() -> None:
    facilitator = _facilitator(Ticks(1000.0))
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.DETECTED, step=1)
    assert str(caught.value) == "step is only for kind 'step', not 'detected'"


@pytest.mark.parametrize("note", ["", "   \n"])
def test_a_note_needs_text(note: str) -> None:
    facilitator = _facilitator(Ticks(1000.0))
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.NOTE, note=note)
    assert str(caught.value) == "a note mark needs the note's text"


def test_limits_on_notes_and_authors() -> None:
    facilitator = _facilitator(Ticks(1000.0))
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.NOTE, note="x" * 501)
    assert str(caught.value) == "note is 501 characters; the limit is 500"
    assert facilitator.mark(MarkKind.NOTE, note="x" * 500).note == "x" * 500
    for author in (" ", "a" * 65):
        with pytest.raises(MarkError) as caught:
            facilitator.mark(MarkKind.DETECTED, author=author)
        assert str(caught.value) == "author must be 1 to 64 characters"


def test_end_is_not_a_mark() -> None:
    facilitator = _facilitator(Ticks(1000.0), hold=True)
    with pytest.raises(MarkError) as caught:
        facilitator.mark(MarkKind.END)
    assert str(caught.value) == "'end' is not a mark: the facilitator ends held faults (key e)"
    assert not facilitator.ended.is_set()


def test_end_hold_without_hold_only_says_so() -> None:
    facilitator = _facilitator(Ticks(1000.0))
    assert facilitator.end_hold() == (
        "no --hold: the faults end on their schedule (Ctrl-C aborts the drill)"
    )
    assert not facilitator.ended.is_set()
    assert (facilitator.marks, facilitator.hold_ended_at, facilitator.hold_ended_by) == (
        [],
        None,
        None,
    )


def test_end_hold_ends_the_faults_once_and_marks_the_timeline() -> None:
    clock = Ticks(1045.5)
    facilitator = _facilitator(clock, hold=True)
    assert facilitator.end_hold() == "ending the held faults (alice)"
    assert facilitator.ended.is_set()
    assert facilitator.marks == [Mark(at=45.5, kind=MarkKind.END, author="alice")]
    assert (facilitator.hold_ended_at, facilitator.hold_ended_by) == (45.5, "alice")
    assert facilitator.recorder.events == [(45.5, "mark", "end by alice")]
    clock.now = 1050.0
    assert facilitator.end_hold("bob") == "the held faults were already ended"
    assert (facilitator.hold_ended_at, facilitator.hold_ended_by) == (45.5, "alice")
    assert len(facilitator.marks) == 1
    facilitator.hold_expired()  # the deadline after key e changes nothing
    assert facilitator.hold_ended_by == "alice"


def test_the_hold_expires_at_its_deadline() -> None:
    clock = Ticks(1089.0)
    facilitator = _facilitator(clock, hold=True)
    facilitator.hold_expired()
    assert facilitator.ended.is_set()
    assert (facilitator.hold_ended_at, facilitator.hold_ended_by) == (89.0, "max_duration")
    assert facilitator.marks == []
    assert facilitator.recorder.events == [
        (89.0, "hold", "the hold reached its deadline (max_duration)")
    ]
    assert facilitator.end_hold() == "the held faults were already ended"


def test_times_groups_the_marks_by_kind() -> None:
    clock = Ticks(1010.0)
    facilitator = _facilitator(clock)
    facilitator.mark(MarkKind.DETECTED)
    clock.now = 1020.0
    facilitator.mark(MarkKind.DETECTED, author="bob")
    clock.now = 1030.0
    facilitator.mark(MarkKind.MITIGATION)
    assert facilitator.times() == {
        MarkKind.DETECTED: [10.0, 20.0],
        MarkKind.MITIGATION: [30.0],
    }


def test_record_fills_in_who_ticked_which_step_and_when() -> None:
    clock = Ticks(1020.0)
    facilitator = _facilitator(clock, hold=True)
    facilitator.runbook, facilitator.runbook_heading = "../runbooks/x.md", "Mitigate"
    facilitator.hold_deadline, facilitator.drill_start = 80.0, 3.5
    facilitator.marks_url = "http://127.0.0.1:4000/marks"
    facilitator.mark(MarkKind.STEP, step=3, author="bob")
    clock.now = 1025.0
    facilitator.mark(MarkKind.STEP, step=1)
    clock.now = 1030.0
    facilitator.end_hold()
    assert facilitator.record() == Facilitation(
        facilitator="alice",
        hold=True,
        hold_deadline=83.5,
        hold_ended_at=30.0,
        hold_ended_by="alice",
        runbook="../runbooks/x.md",
        runbook_heading="Mitigate",
        steps=[
            RunbookStepRecord(
                number=1, text="Declare an incident.", ticked_at=25.0, ticked_by="alice"
            ),
            RunbookStepRecord(number=2, text="Fail over."),
            RunbookStepRecord(
                number=3, text="Tell the customers.", ticked_at=20.0, ticked_by="bob"
            ),
        ],
        marks_url="http://127.0.0.1:4000/marks",
    )


def test_record_before_the_drill_started_has_no_hold_deadline() -> None:
    facilitator = _facilitator(Ticks(1000.0), hold=True)
    facilitator.hold_deadline = 80.0
    assert facilitator.record().hold_deadline is None


SCENARIO = (
    "apiVersion: gameday/v1\n"
    "metadata: {{name: people{metadata}}}\n"
    "faults: [{{kind: identity-loss, mode: unavailable, start_after: 1s, duration: 4s}}]\n"
    "probes: [{{name: api, kind: http, url: '{{app}}/health'}}]\n"
    "objectives: [{{kind: human_ttd, target: 1m}}, {{kind: human_ttm, target: 2m}}]\n"
    "observe: {{max: 20s}}\n"
    "guardrails: {{max_duration: 60s}}\n"
)
RUNBOOK = "# Runbook\n## Detect\n1. Look.\n## Mitigate\n1. Act.\n2. Tell.\n"


def _open(
    tmp_path: Path,
    metadata: str,
    options: FacilitationOptions | None = None,
    runbook: str = RUNBOOK,
) -> Facilitator:
    (tmp_path / "runbook.md").write_text(runbook, encoding="utf-8")
    path = tmp_path / "people.yaml"
    path.write_text(SCENARIO.format(metadata=metadata), encoding="utf-8")
    recorder = Recorder(clock=Ticks(1000.0), origin=1000.0)
    options = options or FacilitationOptions(author="alice")
    return open_facilitator(make_plan(load_scenario(path)), options, recorder)


def test_open_facilitator_reads_the_checklist_under_mitigate(tmp_path: Path) -> None:
    facilitator = _open(tmp_path, ", runbook: runbook.md")
    assert facilitator.steps == [RunbookStep(1, "Act.", 5), RunbookStep(2, "Tell.", 6)]
    assert (facilitator.runbook, facilitator.runbook_heading) == ("runbook.md", "Mitigate")
    assert facilitator.hold_deadline is None


def test_open_facilitator_reads_the_named_section(tmp_path: Path) -> None:
    facilitator = _open(tmp_path, ", runbook: runbook.md, runbook_steps: detect")
    assert facilitator.steps == [RunbookStep(1, "Look.", 3)]
    assert facilitator.runbook_heading == "detect"


def test_open_facilitator_without_a_runbook_has_no_checklist(tmp_path: Path) -> None:
    facilitator = _open(tmp_path, "")
    assert (facilitator.steps, facilitator.runbook, facilitator.runbook_heading) == (
        [],
        None,
        None,
    )


def test_a_runbook_without_mitigate_is_noted_not_refused(tmp_path: Path) -> None:
    facilitator = _open(tmp_path, ", runbook: runbook.md", runbook="# Runbook\nNothing.\n")
    assert (facilitator.steps, facilitator.runbook_heading) == ([], None)
    assert facilitator.recorder.events == [
        (
            0.0,
            "note",
            "no checklist: runbook 'runbook.md': no heading 'Mitigate' (headings: 'Runbook')",
        )
    ]


def test_a_named_section_gone_since_validation_is_refused(tmp_path: Path) -> None:
    _open(tmp_path, ", runbook: runbook.md, runbook_steps: Detect")
    plan = make_plan(load_scenario(tmp_path / "people.yaml"))
    (tmp_path / "runbook.md").write_text("# Runbook\n## Mitigate\n1. Act.\n", encoding="utf-8")
    recorder = Recorder(clock=Ticks(1000.0), origin=1000.0)
    with pytest.raises(InvalidInputError) as caught:
        open_facilitator(plan, FacilitationOptions(author="alice"), recorder)
    assert str(caught.value) == (
        f"{tmp_path / 'people.yaml'}: metadata.runbook_steps: runbook 'runbook.md': "
        "no heading 'Detect' (headings: 'Runbook', 'Mitigate')"
    )


def test_open_facilitator_under_hold_sets_the_deadline(tmp_path: Path) -> None:
    # max_duration 60 s - (observe.max 20 s - last fault end 5 s) - 1 s margin = 44 s.
    facilitator = _open(tmp_path, "", FacilitationOptions(author="alice", hold=True))
    assert facilitator.hold_deadline == 44.0


def test_humans_decided_once_every_human_objective_has_its_mark_after_t0(
    tmp_path: Path,
) -> None:
    facilitator = _open(tmp_path, "")
    scenario = load_scenario(tmp_path / "people.yaml").scenario
    clock = facilitator.recorder.clock
    assert isinstance(clock, Ticks)
    assert not humans_decided(scenario, facilitator)  # nothing injected yet
    (rule,) = resolve_rules(scenario)
    facilitator.recorder.faults[rule.id] = FaultWindowRecord(rule, injected_at=5.0)
    clock.now = 1004.0
    facilitator.mark(MarkKind.DETECTED)  # before T0: nothing had failed yet
    clock.now = 1006.0
    facilitator.mark(MarkKind.MITIGATION)
    assert not humans_decided(scenario, facilitator)
    clock.now = 1007.0
    facilitator.mark(MarkKind.DETECTED)
    assert humans_decided(scenario, facilitator)
