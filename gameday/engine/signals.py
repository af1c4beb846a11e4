"""SIGINT and SIGTERM, installed in one place for ``run``, suites and the scheduler.

A signal aborts the drill that is running (rolled back, recorded ``aborted``) and stops
whatever loop runs drills after it. The handlers are the signal module's, installed once for
the whole command and put back after, so that a signal between two drills, or in the moments
an event loop takes to start and stop, never kills the process before it records the run,
and a second Ctrl-C during a rollback never turns into a KeyboardInterrupt traceback.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol

from gameday.errors import InvalidInputError


class Abortable(Protocol):
    """What a signal stops: a running drill."""

    def request_abort(self, reason: str) -> None: ...


_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class SignalGuard:
    """SIGINT and SIGTERM for a command: each stops it after the current drill; during a
    drill, each also aborts the drill (rolled back and recorded as aborted).

    Usage::

        guard = SignalGuard()
        with guard.installed():
            while guard.received is None: ...
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._drill: Abortable | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Install the handlers for the ``with`` block, then put the previous ones back."""
        if threading.current_thread() is not threading.main_thread():
            raise InvalidInputError(
                "drills must run in the main thread: only it receives signals",
                hint="call gameday's run, run_suite or run_scheduler from the main thread",
            )
        previous: dict[signal.Signals, _Handler] = {}
        try:
            for signum in _SIGNALS:
                previous[signum] = signal.signal(signum, self._handle)
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of the main thread: set a flag, and
        # wake the drill's loop through its thread-safe door (its self-pipe); no locks here.
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = name
        drill, loop = self._drill, self._loop
        if drill is not None and loop is not None:
            loop.call_soon_threadsafe(drill.request_abort, f"signal {name}")

    @contextmanager
    def attached(self, drill: Abortable, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """Route signals to ``drill`` while it runs; one that came just before aborts it."""
        self._drill, self._loop = drill, loop
        try:
            if self.received is not None:
                drill.request_abort(f"signal {self.received}")
            yield
        finally:
            self._drill, self._loop = None, None
