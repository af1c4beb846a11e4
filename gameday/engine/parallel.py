"""A suite's drills N at a time, each in a worker process of its own (``run --parallel``).

Each drill runs in ``python -m gameday.engine.worker`` (see there for why a process, and the
conversation with it): its own emulator, gateway, app, ports and scratch folder, its probes
on their own interpreter. This parent keeps what has one writer or one screen: it records
each run in history as the worker reports it, relays each drill's timeline to the listeners
(the live view), writes each result where a sequential run writes it, and hands the results
back in the order of the plans.

A signal stops the suite as in a sequential run: no drill starts after it, and every running
drill gets it (aborted, rolled back, recorded). A drill whose environment is shared (one
LocalStack, one real account) runs alone among the drills of that environment: faults and
state would otherwise cross between them; only embedded drills run beside each other.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.engine.drill import RunOptions, new_run_id
from gameday.engine.signals import SignalGuard
from gameday.engine.verdict import Outcome, assemble_result
from gameday.engine.worker import Job, encode_job, for_worker, result_path
from gameday.errors import InvalidInputError
from gameday.faults.plan import Plan
from gameday.grading.timeline import Sample
from gameday.recorder import FaultWindowRecord
from gameday.reports.live import NamedRecorder
from gameday.result import Rollback, RunResult, write_result
from gameday.scenario.models import Environment

STOP_S = 60.0
"""How long a worker has to roll back and exit once told to stop before it is killed."""
_POLL_S = 0.1


def default_parallel(cpus: int | None = None) -> int:
    """How many drills ``gameday run`` runs at once unless told: 4 per CPU core (docs/running.md,
    "Parallel runs", has the measurement behind it)."""
    return 4 * max(1, cpus if cpus is not None else os.cpu_count() or 1)


def check_parallel(parallel: int, *, facilitated: bool) -> None:
    """InvalidInputError (exit 2) for a ``--parallel`` that cannot be honoured."""
    if parallel < 1:
        raise InvalidInputError(
            f"--parallel {parallel}: at least 1 drill must run at a time",
            hint="--parallel 1 runs the drills one after another",
        )
    if facilitated and parallel > 1:
        raise InvalidInputError(
            f"--facilitate runs one drill at a time: --parallel {parallel} cannot be used with it",
            hint="drop --parallel (or give --parallel 1): people follow one drill at a time",
        )


def shared_environment(plan: Plan) -> str | None:
    """What ``plan`` shares with other drills of its environment (LocalStack's state, a real
    account), or None for an embedded drill, which brings all of its own."""
    if plan.environment is Environment.EMBEDDED:
        return None
    return plan.environment.value


@dataclass
class _Worker:
    """One drill's worker process, as the parent follows it."""

    index: int
    plan: Plan
    process: subprocess.Popen[bytes]
    control: int
    """The parent's end of CONTROL_FD: the job, the answers, and (closed) "stop"."""
    ready: bool = False
    signalled: bool = False
    held_back: bool = False
    """Stopped by a signal before its drill began: it has no result, as in a sequential run."""
    run_id: str | None = None
    started_at: datetime | None = None
    mirror: NamedRecorder | None = None
    result: RunResult | None = None
    lost: list[str] = field(default_factory=list)
    """Lines that were not the protocol (a worker that failed before it could speak)."""

    def tell(self, data: bytes) -> None:
        """Write to the worker; one that is gone is found when its stream ends."""
        try:
            while data:
                data = data[os.write(self.control, data) :]
        except OSError:
            return

    def close(self) -> None:
        """Close CONTROL_FD: before its job, "start nothing"; after, "the parent is gone"."""
        if self.control >= 0:
            os.close(self.control)
            self.control = -1


Inbox = queue.Queue[tuple[_Worker, dict[str, Any] | None]]


def _spawn(index: int, plan: Plan, inbox: Inbox) -> _Worker:
    control_read, control_write = os.pipe()
    events_read, events_write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameday.engine.worker", str(control_read), str(events_write)],
            pass_fds=(control_read, events_write),
            stdin=subprocess.DEVNULL,
            # Anything a drill prints outside the protocol goes where a sequential run's would:
            # stderr, never into the results on stdout.
            stdout=2,
            # Its own session: a Ctrl-C on the terminal reaches the parent only, which forwards
            # it once the worker can take it (``ready``).
            start_new_session=True,
        )
    except OSError:
        os.close(control_write)
        os.close(events_read)
        raise
    finally:
        os.close(control_read)
        os.close(events_write)
    worker = _Worker(index=index, plan=plan, process=process, control=control_write)
    threading.Thread(
        target=_read_events, args=(worker, events_read, inbox), name="worker-events", daemon=True
    ).start()
    return worker


def _read_events(worker: _Worker, fd: int, inbox: Inbox) -> None:
    with os.fdopen(fd, "rb") as stream:
        for line in stream:
            try:
                message = json.loads(line)
            except ValueError:
                message = {"type": "stray", "line": line.decode("utf-8", "replace")}
            inbox.put((worker, message))
    inbox.put((worker, None))


class _Pool:
    """The running workers, and what the parent does with each one's messages."""

    def __init__(
        self,
        options: RunOptions,
        report_dir: Path,
        on_result: Callable[[RunResult, Path], None] | None,
        guard: SignalGuard,
    ) -> None:
        self.options = options
        self.job_options = for_worker(options)
        self.report_dir = report_dir
        self.on_result = on_result
        self.guard = guard
        self.inbox: Inbox = queue.Queue()
        self.running: dict[int, _Worker] = {}
        self.done: dict[int, tuple[RunResult, Path]] = {}

    def start(self, index: int, plan: Plan) -> None:
        self.running[index] = _spawn(index, plan, self.inbox)

    def forward_signal(self) -> None:
        """The signal the parent got, to every worker that has its drill (once each)."""
        signum = signal.Signals[self.guard.received or "SIGTERM"]
        for worker in self.running.values():
            if worker.ready and not worker.signalled:
                worker.signalled = True
                _kill(worker.process, signum)

    def handle(self, worker: _Worker, message: dict[str, Any] | None) -> None:
        if message is None:
            self._ended(worker)
            return
        kind = message.get("type")
        if kind == "ready":
            self._ready(worker)
        elif kind == "start":
            self._started(worker, message)
        elif kind == "event" and worker.mirror is not None:
            worker.mirror.origin = float(message["origin"])
            if message["kind"] == "phase":
                worker.mirror.enter(message["detail"])
            else:
                worker.mirror.event(message["kind"], message["detail"])
        elif kind == "progress" and worker.mirror is not None:
            _mirror_progress(worker.mirror, worker.plan, message)
        elif kind == "log":
            self._log(message["line"])
        elif kind == "result":
            self._finished(worker, RunResult.model_validate_json(message["result"]))
        elif kind == "stray":
            worker.lost.append(message["line"])

    def _ready(self, worker: _Worker) -> None:
        worker.ready = True
        if self.guard.received is not None:
            worker.held_back = True
            worker.close()
            return
        job = Job(plan=worker.plan, options=self.job_options, report_dir=self.report_dir)
        worker.tell(encode_job(job))

    def _started(self, worker: _Worker, message: dict[str, Any]) -> None:
        worker.run_id = message["run_id"]
        worker.started_at = datetime.fromisoformat(message["started_at"])
        mirror = NamedRecorder(
            clock=time.monotonic,
            origin=time.monotonic(),
            listeners=list(self.options.listeners),
            name=message["scenario"],
        )
        # Known up front, so that a view drawing from another thread never sees these grow.
        for probe in worker.plan.loaded.scenario.probes:
            mirror.samples[probe.name] = []
        for rule in worker.plan.rules:
            mirror.faults[rule.id] = FaultWindowRecord(rule)
        worker.mirror = mirror
        answer = b"ok\n"
        if self.options.on_start is not None:
            try:
                self.options.on_start(
                    message["run_id"],
                    message["scenario"],
                    message["environment"],
                    worker.started_at,
                )
            except Exception as error:  # as in a sequential run: the drill ends with it
                text = " ".join(str(error).split()) or type(error).__name__
                answer = f"error {text}\n".encode()
        worker.tell(answer)

    def _log(self, line: str) -> None:
        if self.options.log is not None:
            self.options.log(line)
        else:
            sys.stderr.write(line + "\n")

    def _finished(self, worker: _Worker, result: RunResult) -> None:
        worker.result = result
        path = result_path(self.report_dir, result)
        write_result(result, path)
        self.done[worker.index] = (result, path)
        if worker.mirror is not None:
            worker.mirror.ended = True
        if self.on_result is not None:
            self.on_result(result, path)

    def _ended(self, worker: _Worker) -> None:
        """The worker's stream ended: reap it; a drill that started and sent no result ends
        as an error naming why (a sequential run has a result for every drill it started)."""
        del self.running[worker.index]
        worker.close()
        code = _reap(worker.process, STOP_S)
        if worker.result is not None or worker.held_back:
            return
        if worker.run_id is None and self.guard.received is not None:
            return  # the signal came before its drill began (it saw it first)
        self._finished(worker, _lost_result(worker, code))

    def stop_all(self) -> None:
        """On the way out of a failure of the parent's own: every worker is told the parent
        is going (each rolls back, and writes its own result), then waited for."""
        for worker in self.running.values():
            worker.close()
        for worker in self.running.values():
            _reap(worker.process, STOP_S)
        self.running.clear()


def _mirror_progress(mirror: NamedRecorder, plan: Plan, message: dict[str, Any]) -> None:
    for name, samples in message["samples"].items():
        mirror.samples.setdefault(name, []).extend(
            Sample(offset_s=at, ok=ok, latency_s=latency, missed=missed, detail=detail)
            for at, ok, latency, missed, detail in samples
        )
    rules = {rule.id: rule for rule in plan.rules}
    for rule_id, injected_at, removed_at in message["faults"]:
        record = mirror.faults.get(rule_id)
        if record is None and rule_id in rules:
            record = mirror.faults[rule_id] = FaultWindowRecord(rules[rule_id])
        if record is not None:
            record.injected_at, record.removed_at = injected_at, removed_at


def _lost_result(worker: _Worker, code: int | None) -> RunResult:
    """The result of a drill whose worker ended without one (killed, or a crash)."""
    pid = worker.process.pid
    how = f"exit code {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
    said = "".join(worker.lost[-5:]).strip()
    reason = f"its worker process (pid {pid}) ended with {how} before sending its result" + (
        f": {said}" if said else ""
    )
    mirror = worker.mirror or NamedRecorder(clock=time.monotonic, origin=time.monotonic())
    in_force = [
        rule_id
        for rule_id, record in mirror.faults.items()
        if record.injected_at is not None and record.removed_at is None
    ]
    outcome = Outcome(error=reason)
    if in_force and shared_environment(worker.plan) is not None:
        # An embedded drill's gateway ended with its process, and its faults with it; a shared
        # environment's faults (a FIS experiment) may outlive it.
        outcome.rollback = Rollback(
            complete=False,
            problems=[
                f"fault {rule_id} may still be in force: its worker ended before removing it; "
                "run `gameday abort`"
                for rule_id in in_force
            ],
        )
    name = worker.plan.loaded.scenario.metadata.name
    run_id = worker.run_id or new_run_id(name)
    ended = datetime.now(UTC)
    return assemble_result(worker.plan, run_id, mirror, outcome, worker.started_at or ended, ended)


def _kill(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        return


def _reap(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """The worker's return code; killed when it has not exited within ``timeout_s``."""
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def run_in_workers(
    plans: Sequence[Plan],
    options: RunOptions,
    report_dir: Path,
    *,
    parallel: int,
    guard: SignalGuard,
    on_result: Callable[[RunResult, Path], None] | None = None,
) -> list[tuple[RunResult, Path]]:
    """Run ``plans`` up to ``parallel`` at a time, each in its worker process, under
    ``guard`` (installed); each result and where it was written, in the order of the plans.

    ``on_result`` is called as each drill ends (so history is up to date at once), in the
    order they end. The drills use the monotonic clock, shared by every process.
    """
    if options.environment is not None:
        raise InvalidInputError(
            "a parallel run brings each drill's environment up in its worker: "
            "RunOptions.environment cannot be shared",
            hint="run these drills with parallel=1",
        )
    check_parallel(parallel, facilitated=options.facilitation is not None)
    pool = _Pool(options, report_dir, on_result, guard)
    pending = list(enumerate(plans))
    try:
        while pending or pool.running:
            if guard.received is not None:
                pending.clear()
                pool.forward_signal()
            else:
                while len(pool.running) < parallel and _start_next(pool, pending):
                    pass
            try:
                worker, message = pool.inbox.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            pool.handle(worker, message)
    finally:
        pool.stop_all()
    return [pool.done[index] for index in sorted(pool.done)]


def _start_next(pool: _Pool, pending: list[tuple[int, Plan]]) -> bool:
    """Start the first pending plan whose environment is free (an embedded one always is);
    whether one was started."""
    busy = {shared_environment(w.plan) for w in pool.running.values()} - {None}
    for position, (index, plan) in enumerate(pending):
        if shared_environment(plan) not in busy:
            del pending[position]
            pool.start(index, plan)
            return True
    return False
