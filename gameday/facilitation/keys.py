"""Keys in the facilitated live view: each press marks the timeline at once.

``d`` detected, ``m`` mitigation started, ``r`` recovered, ``n`` a note (type it, Enter;
Esc cancels), ``1``-``9`` tick runbook step N (``0`` is step 10), ``e`` end the held faults.
The terminal is put in cbreak mode (no echo, no line buffering) and restored on every way
out; Ctrl-C still raises SIGINT, so it aborts and rolls back as in any run.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import sys
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from gameday.facilitation.session import MAX_NOTE_CHARS, Facilitator, MarkError
from gameday.kinds import MarkKind

KEY_HELP = "d detected · m mitigation · r recovered · n note · 1-9 step · e end faults"

_MARK_KEYS = {"d": MarkKind.DETECTED, "m": MarkKind.MITIGATION, "r": MarkKind.RECOVERED}
_ESC = "\x1b"
_ENTER = {"\r", "\n"}
_BACKSPACE = {"\x7f", "\b"}


class KeyHandler:
    """Turns key presses into marks on a Facilitator; ``feed`` takes what the terminal sent."""

    def __init__(self, facilitator: Facilitator) -> None:
        self.facilitator = facilitator
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        """Handle the keys in ``data`` (one read from the terminal)."""
        text = self._decoder.decode(data)
        i = 0
        while i < len(text):
            char = text[i]
            if char == _ESC and text[i + 1 : i + 2] in ("[", "O"):
                # An arrow or function key (CSI/SS3): skip the whole sequence, not its letters.
                i += 2
                while i < len(text) and not ("@" <= text[i] <= "~"):
                    i += 1
                i += 1
                continue
            self.press(char)
            i += 1

    def press(self, key: str) -> None:
        """One key."""
        f = self.facilitator
        if f.note_draft is not None:
            self._type(key)
            return
        try:
            if key in _MARK_KEYS:
                mark = f.mark(_MARK_KEYS[key])
                f.message = f"marked {mark.kind.value} at {mark.at:.1f}s"
            elif key.isdigit() and key.isascii():
                number = int(key) or 10
                f.mark(MarkKind.STEP, step=number)
                f.message = f"ticked step {number}"
            elif key == "n":
                f.note_draft = ""
                f.message = "type the note, Enter to mark it, Esc to cancel"
            elif key == "e":
                f.message = f.end_hold()
            elif key.isprintable():
                f.message = f"key {key!r} does nothing: {KEY_HELP}"
        except MarkError as error:
            f.message = str(error)

    def _type(self, key: str) -> None:
        f = self.facilitator
        draft = f.note_draft or ""
        if key in _ENTER:
            f.note_draft = None
            if not draft.strip():
                f.message = "empty note: nothing marked"
                return
            try:
                mark = f.mark(MarkKind.NOTE, note=draft)
                f.message = f"noted at {mark.at:.1f}s"
            except MarkError as error:
                f.message = str(error)
        elif key == _ESC:
            f.note_draft = None
            f.message = "note cancelled"
        elif key in _BACKSPACE:
            f.note_draft = draft[:-1]
        elif key.isprintable() and len(draft) < MAX_NOTE_CHARS:
            f.note_draft = draft + key


@contextmanager
def read_keys(facilitator: Facilitator, fd: int | None = None) -> Iterator[KeyHandler | None]:
    """Read keys from the terminal on ``fd`` (stdin) on the running loop until the block
    ends; yields None, reading nothing, when ``fd`` is not a terminal."""
    fd = sys.stdin.fileno() if fd is None else fd
    if not os.isatty(fd):
        yield None
        return
    handler = KeyHandler(facilitator)
    loop = asyncio.get_running_loop()
    saved = termios.tcgetattr(fd)

    def readable() -> None:
        try:
            data = os.read(fd, 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # the terminal went away (hang-up): stop reading, keep the drill
            loop.remove_reader(fd)
            return
        if data:
            handler.feed(data)
        else:
            loop.remove_reader(fd)

    tty.setcbreak(fd, termios.TCSANOW)
    try:
        loop.add_reader(fd, readable)
        try:
            yield handler
        finally:
            loop.remove_reader(fd)
    finally:
        # A terminal that hung up (EIO) has nothing left to restore, and the drill it no longer
        # shows must still end with its result, as readable() keeps it running.
        with suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
