"""One drill of a parallel suite, in its own process (``run --parallel``).

moto's backends are process-global and one GIL would be shared by every drill's probes,
gateway and emulator: a drill run beside others is isolated, and its timing honest, only in a
process of its own. The parent (``engine.parallel``) starts this module as
``python -m gameday.engine.worker CONTROL_FD EVENTS_FD`` in a session of its own, so a Ctrl-C
on the terminal reaches the parent only, which forwards it. The conversation:

1. the worker installs its signal handlers and writes ``ready`` on EVENTS_FD;
2. the parent writes the ``Job`` (a length-prefixed pickle) on CONTROL_FD, or closes it to say
   "do not start";
3. the drill runs as in a sequential run (``run_drill``); the worker streams JSON lines: ``start``
   (answered on CONTROL_FD with ``ok`` or ``error MESSAGE``, so history holds the row before
   anything starts), ``event`` for each timeline event, ``progress`` (new samples and fault
   windows, four times a second, for the live view), ``log`` (a bug's traceback), and
   ``result`` last.

CONTROL_FD reaching end of file means the parent is gone (the kernel closes it however the
parent ends, SIGKILL included): the drill is aborted and rolled back, and its result is
written where the parent would have written it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pickle
import queue
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.signals import Abortable, SignalGuard
from gameday.errors import GameDayError
from gameday.faults.plan import Plan
from gameday.recorder import Recorder
from gameday.result import RunResult, write_result

PROGRESS_S = 0.25
"""How often the live view's samples are sent: the view redraws four times a second."""
DETAIL_CHARS = 200
"""A sample's detail as the live view shows it (40 characters wide); the result keeps all."""
_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True)
class Job:
    """What one worker runs: a plan, and the options a sequential run would give it (less
    what lives in the parent: listeners, ``on_start``, ``log``; see ``for_worker``)."""

    plan: Plan
    options: RunOptions
    report_dir: Path


def for_worker(options: RunOptions) -> RunOptions:
    """``options`` without what stays in the parent: it records history (``on_start``),
    draws the view (``listeners``) and prints logs; the worker relays each to it."""
    return replace(options, listeners=[], on_start=None, log=None)


def encode_job(job: Job) -> bytes:
    """The job as the parent writes it on CONTROL_FD."""
    payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def result_path(report_dir: Path, result: RunResult) -> Path:
    """Where a run's result is written, in a sequential run as in a parallel one."""
    return report_dir / result.run_id / "result.json"


def _read_job(control: IO[bytes]) -> Job | None:
    """The parent's job, or None when it closed CONTROL_FD first (start nothing)."""
    header = control.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    payload = control.read(size)
    if len(payload) < size:
        return None
    # The parent is this same gameday, started by the same user: the pickle is trusted.
    job = pickle.loads(payload)
    if not isinstance(job, Job):
        raise TypeError(f"the parent sent a {type(job).__name__}, not a Job")
    return job


class _Outbox:
    """JSON lines to the parent on EVENTS_FD, from any thread; once the parent is gone they
    are dropped (the drill still rolls back and its result is written to a file)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            # Unbuffered: a line is with the parent once sent, and nothing is left to flush
            # (and fail) at exit once the parent is gone.
            try:
                while data and not self.closed:
                    data = data[os.write(self._fd, data) :]
            except OSError:
                self.closed = True


class _WorkerGuard(SignalGuard):
    """SIGINT and SIGTERM as in any run, and one more way to abort: the parent going away."""

    def __init__(self) -> None:
        super().__init__()
        self.orphaned: str | None = None
        self._target: tuple[Abortable, asyncio.AbstractEventLoop] | None = None

    @contextmanager
    def attached(self, drill: Abortable, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        with super().attached(drill, loop):
            self._target = (drill, loop)
            try:
                if self.orphaned is not None:
                    drill.request_abort(self.orphaned)
                yield
            finally:
                self._target = None

    def orphan(self, reason: str) -> None:
        """Abort the drill from the control pipe's thread: the parent is gone."""
        self.orphaned = reason
        target = self._target
        if target is not None:
            drill, loop = target
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing runs
                loop.call_soon_threadsafe(drill.request_abort, reason)


def _watch(
    control: IO[bytes], guard: _WorkerGuard, answers: queue.Queue[str | None], parent: int
) -> None:
    """The control pipe after the job: the parent's answers, then its end of file."""
    for line in control:
        answers.put(line.decode("utf-8", "replace").rstrip("\n"))
    answers.put(None)
    guard.orphan(f"the runner (pid {parent}) is gone")


class _Relay:
    """The drill's listener: timeline events at once, samples and fault windows on a timer in
    the drill's own loop (it reads the recorder there, where the drill writes it)."""

    def __init__(self, outbox: _Outbox) -> None:
        self.outbox = outbox
        self.recorder: Recorder | None = None
        self._sent: dict[str, int] = {}
        self._ticking = False

    def __call__(self, recorder: Recorder, kind: str, detail: str) -> None:
        self.recorder = recorder
        self.outbox.send(
            {"type": "event", "origin": recorder.origin, "kind": kind, "detail": detail}
        )
        if not self._ticking:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # an event from another thread; the next one starts the timer
                return
            self._ticking = True
            loop.call_later(PROGRESS_S, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flush()
        loop.call_later(PROGRESS_S, self._tick, loop)

    def flush(self) -> None:
        """Send what the parent has not seen: new samples, every fault window."""
        recorder = self.recorder
        if recorder is None:
            return
        samples: dict[str, list[list[object]]] = {}
        for name, taken in list(recorder.samples.items()):
            start = self._sent.get(name, 0)
            if len(taken) > start:
                samples[name] = [
                    [s.offset_s, s.ok, s.latency_s, s.missed, s.detail[:DETAIL_CHARS]]
                    for s in taken[start:]
                ]
                self._sent[name] = len(taken)
        faults = [
            [rule_id, record.injected_at, record.removed_at]
            for rule_id, record in list(recorder.faults.items())
        ]
        self.outbox.send({"type": "progress", "samples": samples, "faults": faults})


def _ask_start(
    outbox: _Outbox, answers: queue.Queue[str | None]
) -> Callable[[str, str, str, datetime], None]:
    """``RunOptions.on_start``: the parent records the run in history before anything starts."""

    def on_start(run_id: str, scenario: str, environment: str, started_at: datetime) -> None:
        outbox.send(
            {
                "type": "start",
                "run_id": run_id,
                "scenario": scenario,
                "environment": environment,
                "started_at": started_at.isoformat(),
            }
        )
        answer = answers.get()
        if answer is None:
            # The parent died before it recorded the run: nothing was started, nothing to undo.
            raise SystemExit(0)
        if answer != "ok":
            raise GameDayError(answer.removeprefix("error "))

    return on_start


def run_job(job: Job, control: IO[bytes], outbox: _Outbox, guard: _WorkerGuard, parent: int) -> int:
    """Run the job's drill under ``guard`` (installed); report its result, or write it when
    the parent is gone."""
    answers: queue.Queue[str | None] = queue.Queue()
    threading.Thread(
        target=_watch, args=(control, guard, answers, parent), name="control", daemon=True
    ).start()
    relay = _Relay(outbox)
    options = replace(
        job.options,
        listeners=[relay],
        on_start=_ask_start(outbox, answers),
        log=lambda line: outbox.send({"type": "log", "line": line}),
    )
    result = run_drill(job.plan, options, time.monotonic, guard)
    relay.flush()
    outbox.send({"type": "result", "result": result.model_dump_json()})
    if guard.orphaned is not None or outbox.closed:
        # Nobody will write it: the result of the rollback is kept where the parent would
        # have put it, and history's row is found ``aborted`` by the next run.
        try:
            write_result(result, result_path(job.report_dir, result))
        except GameDayError as error:
            sys.stderr.write(f"error: {result.scenario.name}: {error.message}\n")
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """The worker's entry point: ``CONTROL_FD EVENTS_FD``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not all(a.isdigit() for a in args):
        sys.stderr.write("usage: python -m gameday.engine.worker CONTROL_FD EVENTS_FD\n")
        return 2
    parent = os.getppid()  # once the parent is gone, getppid() names whoever adopted us
    fds = [int(a) for a in args]
    for fd in fds:
        # Not into the app's process tree: a copy of EVENTS_FD there would keep the parent from
        # seeing this worker's end.
        os.set_inheritable(fd, False)
    control = os.fdopen(fds[0], "rb")
    outbox = _Outbox(fds[1])
    guard = _WorkerGuard()
    with guard.installed():
        outbox.send({"type": "ready", "pid": os.getpid()})
        job = _read_job(control)
        if job is None or guard.received is not None:
            return 0
        return run_job(job, control, outbox, guard, parent)


if __name__ == "__main__":
    # Run the imported module's ``main``, not this ``__main__`` copy's: the job's pickle
    # names ``gameday.engine.worker.Job``, and it must be the class the worker checks.
    from gameday.engine.worker import main as worker_main

    sys.exit(worker_main())
