"""Run one drill for the scheduler, with SIGINT/SIGTERM owned by the scheduler's whole life.

``engine.drill.run_drill`` installs its signal handlers on its own event loop and, when the
loop ends, asyncio puts back the *default* handlers (SIGTERM then kills the process). Between
two drills, and for the moments the loop takes to start and stop, a SIGTERM would kill the
scheduler before it records the run. So the scheduler installs its handlers once
(``SignalGuard``) and runs the engine's ``Drill`` under them: a signal during a drill aborts
it exactly as ``run_drill`` would (``request_abort("signal SIGTERM")``: rolled back, recorded
``aborted``), and a signal at any moment stops the scheduler after the current drill.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType

from gameday.engine.drill import Drill, RunOptions
from gameday.engine.plan import Plan
from gameday.engine.verdict import Outcome, assemble_result
from gameday.errors import InvalidInputError
from gameday.result import RunResult

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


class SignalGuard:
    """SIGINT and SIGTERM for the scheduler: each stops it; during a drill, each also aborts
    the drill (rolled back and recorded as aborted, as ``gameday run`` does).

    Usage::

        guard = SignalGuard()
        with guard.installed():
            while guard.received is None: ...
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._drill: Drill | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Install the handlers for the ``with`` block, then put the previous ones back."""
        if threading.current_thread() is not threading.main_thread():
            raise InvalidInputError(
                "the scheduler must run in the main thread: only it receives signals",
                hint="call run_scheduler from the main thread of the process",
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
    def attached(self, drill: Drill, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """Route signals to ``drill`` while it runs; one that came just before aborts it."""
        self._drill, self._loop = drill, loop
        try:
            if self.received is not None:
                drill.request_abort(f"signal {self.received}")
            yield
        finally:
            self._drill, self._loop = None, None


def drive_drill(
    plan: Plan,
    options: RunOptions,
    guard: SignalGuard,
    clock: Callable[[], float],
    log: Callable[[str], None],
) -> RunResult:
    """Run one planned scenario on its own event loop in this (the main) thread, signals
    routed by ``guard``. Always a result: a bug inside the engine is logged with its traceback
    and becomes an ``error`` result (the engine has already rolled back in its ``finally``)."""
    made: list[Drill] = []

    async def main() -> RunResult:
        drill = Drill(plan, options, clock)
        made.append(drill)
        with guard.attached(drill, asyncio.get_running_loop()):
            return await drill.run()

    started_at = datetime.now(UTC)
    try:
        return asyncio.run(main())
    except Exception as error:  # a failing drill never stops the scheduler
        if not made:
            raise
        reason = f"internal error in the drill: {type(error).__name__}: {error}"
        log(f"error: {plan.loaded.path}: {reason}\n{traceback.format_exc().rstrip()}")
        recorder = made[0].recorder  # past its listeners: one of them may be what failed
        recorder.events.append((round(recorder.now(), 6), "error", reason))
        return assemble_result(
            plan,
            made[0].run_id,
            made[0].recorder,
            Outcome(error=reason),
            started_at,
            datetime.now(UTC),
        )
