"""Keys in the facilitated view: each press marks the timeline; a real pseudo-terminal for
``read_keys``."""

from __future__ import annotations

import asyncio
import os
import pty
import termios
from collections.abc import Callable

import pytest

from gameday.facilitation.keys import KEY_HELP, KeyHandler, read_keys
from gameday.facilitation.session import FacilitationOptions, Facilitator
from gameday.kinds import MarkKind
from gameday.recorder import Recorder
from gameday.result import Mark
from gameday.scenario.runbook import RunbookStep

TEN_STEPS = [RunbookStep(n, f"step number {n}", n) for n in range(1, 11)]


class Ticks:
    """A clock the test sets by hand: mark times are then exact."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _handler(
    *, hold: bool = False, steps: list[RunbookStep] | None = None
) -> tuple[KeyHandler, Facilitator, Ticks]:
    clock = Ticks(512.5)
    recorder = Recorder(clock=clock, origin=500.0)
    facilitator = Facilitator(
        FacilitationOptions(author="alice", hold=hold),
        recorder,
        TEN_STEPS if steps is None else steps,
    )
    return KeyHandler(facilitator), facilitator, clock


@pytest.mark.parametrize(
    ("key", "kind"),
    [("d", MarkKind.DETECTED), ("m", MarkKind.MITIGATION), ("r", MarkKind.RECOVERED)],
)
def test_a_mark_key_marks_at_once(key: str, kind: MarkKind) -> None:
    handler, facilitator, _ = _handler()
    handler.feed(key.encode())
    assert facilitator.marks == [Mark(at=12.5, kind=kind, author="alice")]
    assert facilitator.message == f"marked {kind.value} at 12.5s"


@pytest.mark.parametrize(("key", "step"), [("1", 1), ("9", 9), ("0", 10)])
def test_a_digit_ticks_its_step_and_zero_is_step_ten(key: str, step: int) -> None:
    handler, facilitator, _ = _handler()
    handler.press(key)
    assert [(m.kind, m.step) for m in facilitator.marks] == [(MarkKind.STEP, step)]
    assert facilitator.message == f"ticked step {step}"


def test_a_refused_tick_is_shown_not_raised() -> None:
    handler, facilitator, clock = _handler(steps=TEN_STEPS[:3])
    handler.press("4")
    assert facilitator.message == "step 4: the checklist has steps 1 to 3"
    handler.press("2")
    clock.now = 530.0
    handler.press("2")
    assert facilitator.message == "step 2 was ticked at 12.5s by alice; ticks stay"
    assert len(facilitator.marks) == 1


def test_digits_without_a_checklist() -> None:
    handler, facilitator, _ = _handler(steps=[])
    handler.press("1")
    assert facilitator.message == "this drill's runbook has no checklist"
    assert facilitator.marks == []


def test_typing_a_note_with_backspace_and_enter() -> None:
    handler, facilitator, _ = _handler()
    handler.press("n")
    assert facilitator.note_draft == ""
    assert facilitator.message == "type the note, Enter to mark it, Esc to cancel"
    # Letters that are keys elsewhere (d, m, e, digits) are text while typing.
    handler.feed(b"paged: dns x\x7f\x08 me 2")
    assert facilitator.note_draft == "paged: dns me 2"
    assert facilitator.marks == []
    handler.feed(b"\r")
    assert facilitator.note_draft is None
    assert facilitator.marks == [
        Mark(at=12.5, kind=MarkKind.NOTE, author="alice", note="paged: dns me 2")
    ]
    assert facilitator.message == "noted at 12.5s"
    assert facilitator.recorder.events == [(12.5, "mark", "note by alice: paged: dns me 2")]


def test_newline_ends_a_note_too() -> None:
    handler, facilitator, _ = _handler()
    handler.feed(b"nok\n")
    assert [m.note for m in facilitator.marks] == ["ok"]


def test_an_empty_note_marks_nothing() -> None:
    handler, facilitator, _ = _handler()
    handler.feed(b"n  \r")
    assert facilitator.note_draft is None
    assert facilitator.marks == []
    assert facilitator.message == "empty note: nothing marked"


def test_escape_cancels_the_note() -> None:
    handler, facilitator, _ = _handler()
    handler.feed(b"nhalf a thought")
    handler.feed(b"\x1b")
    assert facilitator.note_draft is None
    assert facilitator.message == "note cancelled"
    assert facilitator.marks == []
    handler.press("d")  # keys mark again after the cancel
    assert [m.kind for m in facilitator.marks] == [MarkKind.DETECTED]


def test_a_note_stops_growing_at_the_limit() -> None:
    handler, facilitator, _ = _handler()
    handler.feed(b"n" + b"x" * 600)
    assert facilitator.note_draft == "x" * 500


@pytest.mark.parametrize(
    "sequence",
    [b"\x1b[A", b"\x1b[B", b"\x1bOP", b"\x1b[15~", b"\x1b[1;5C"],
    ids=["up", "down", "f1", "f5", "ctrl-right"],
)
def test_arrow_and_function_keys_do_nothing(sequence: bytes) -> None:
    handler, facilitator, _ = _handler()
    handler.feed(sequence)
    assert (facilitator.marks, facilitator.message) == ([], "")
    # Inside a note they neither cancel it nor type their letters.
    handler.feed(b"nab" + sequence + b"c")
    assert facilitator.note_draft == "abc"


def test_an_unknown_key_says_what_the_keys_are() -> None:
    handler, facilitator, _ = _handler()
    handler.press("x")
    assert facilitator.message == (
        "key 'x' does nothing: d detected · m mitigation · r recovered · n note · 1-9 step · "
        "e end faults"
    )
    assert facilitator.message.endswith(KEY_HELP)
    handler.press("\u0663")  # ARABIC-INDIC DIGIT THREE: a digit, but not a step key
    assert facilitator.message == f"key '\u0663' does nothing: {KEY_HELP}"
    assert facilitator.marks == []


def test_control_characters_outside_a_note_are_ignored() -> None:
    handler, facilitator, _ = _handler()
    handler.press("x")
    message = facilitator.message
    handler.feed(b"\r\n\t\x7f")
    assert (facilitator.marks, facilitator.message) == ([], message)


def test_utf8_split_across_two_reads_is_one_character() -> None:
    handler, facilitator, _ = _handler()
    handler.feed(b"ncaf\xc3")
    assert facilitator.note_draft == "caf"
    handler.feed(b"\xa9 \xe2\x9c")
    handler.feed(b"\x93\r")
    assert [m.note for m in facilitator.marks] == ["caf\u00e9 \u2713"]


def test_e_without_hold_says_the_faults_end_on_schedule() -> None:
    handler, facilitator, _ = _handler()
    handler.press("e")
    assert facilitator.message == (
        "no --hold: the faults end on their schedule (Ctrl-C aborts the drill)"
    )
    assert not facilitator.ended.is_set()


def test_e_under_hold_ends_the_held_faults() -> None:
    handler, facilitator, _ = _handler(hold=True)
    handler.press("e")
    assert facilitator.message == "ending the held faults (alice)"
    assert facilitator.ended.is_set()
    assert [(m.kind, m.at) for m in facilitator.marks] == [(MarkKind.END, 12.5)]
    handler.press("e")
    assert facilitator.message == "the held faults were already ended"


def _lflag(fd: int) -> int:
    flags: int = termios.tcgetattr(fd)[3]
    return flags


async def _until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    """Let the loop run until ``condition`` holds (the key reader is on this loop)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the keys never arrived"
        await asyncio.sleep(0.002)


def test_read_keys_on_a_real_terminal() -> None:
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        assert _lflag(slave) & termios.ICANON and _lflag(slave) & termios.ECHO
        _, facilitator, _ = _handler()

        async def main() -> None:
            with read_keys(facilitator, slave) as handler:
                assert isinstance(handler, KeyHandler)
                assert handler.facilitator is facilitator
                lflag = _lflag(slave)
                assert not lflag & termios.ICANON
                assert not lflag & termios.ECHO
                # No Enter: in cbreak mode each key reaches the reader as it is pressed.
                os.write(master, b"d")
                await _until(lambda: len(facilitator.marks) == 1)
                os.write(master, b"nsplit caf\xc3")
                await _until(lambda: facilitator.note_draft == "split caf")
                os.write(master, b"\xa9\x1b[A\r3")
                await _until(lambda: len(facilitator.marks) == 3)
            assert termios.tcgetattr(slave) == before
            # After the block no reader is left: this key marks nothing (checked below).
            os.write(master, b"m")
            await asyncio.sleep(0.02)

        asyncio.run(main())
        assert [(m.kind, m.note, m.step) for m in facilitator.marks] == [
            (MarkKind.DETECTED, "", None),
            (MarkKind.NOTE, "split caf\u00e9", None),
            (MarkKind.STEP, "", 3),
        ]
    finally:
        os.close(master)
        os.close(slave)


def test_read_keys_restores_the_terminal_when_the_block_raises() -> None:
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        _, facilitator, _ = _handler()

        async def main() -> None:
            with read_keys(facilitator, slave):
                raise RuntimeError("the drill failed")

        with pytest.raises(RuntimeError, match="the drill failed"):
            asyncio.run(main())
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_a_terminal_that_hangs_up_stops_the_keys_and_keeps_the_drill() -> None:
    master, slave = pty.openpty()
    _, facilitator, _ = _handler()

    async def main() -> str:
        with read_keys(facilitator, slave):
            os.write(master, b"d")
            await _until(lambda: len(facilitator.marks) == 1)
            os.close(master)  # the terminal goes away: reads now fail with EIO
            await asyncio.sleep(0.02)
        return "the drill ended"

    try:
        assert asyncio.run(main()) == "the drill ended"
        assert [m.kind for m in facilitator.marks] == [MarkKind.DETECTED]
    finally:
        os.close(slave)


def test_read_keys_reads_nothing_when_not_a_terminal() -> None:
    read_end, write_end = os.pipe()
    _, facilitator, _ = _handler()

    async def main() -> None:
        with read_keys(facilitator, read_end) as handler:
            assert handler is None
            os.write(write_end, b"d")
            await asyncio.sleep(0.01)

    try:
        asyncio.run(main())
        assert facilitator.marks == []
        assert os.read(read_end, 16) == b"d"
    finally:
        os.close(read_end)
        os.close(write_end)
