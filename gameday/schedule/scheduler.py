"""``gameday schedule run``: run the scenarios of a folder when due, one at a time.

The loop turns in the main thread: re-read the folder when a file changed (polled every
second), skip fire times that passed unseen, start the drill that is due, and publish its
status for ``/metrics``. A drill runs in the loop itself, so nothing else is due-checked while
it runs: every fire time whose start fell inside it is recorded as ``skipped: busy`` and the
schedule moves on to the next fire time after it (never two drills at once, never a pile-up).

No drill starts without the store's scheduler lock (``gameday.schedule.lock``): the loop
confirms it every ``LOCK_CHECK_S`` and before each drill. A lock that cannot be confirmed (a
PostgreSQL store out of reach) holds every drill back, and ``/healthz`` answers 503 with the
reason (``Status.problem``), until it is confirmed again; a lock another scheduler took ends
the loop (``SchedulerLockLostError``, exit 2).
"""

from __future__ import annotations

import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.signals import SignalGuard
from gameday.errors import GameDayError
from gameday.history import (
    HistoryStatus,
    HistoryStore,
    Skip,
    SkipReason,
    iso_utc,
    store_location,
)
from gameday.kinds import RunStatus
from gameday.recorder import Listener
from gameday.redact import redact, remember_secret
from gameday.result import RunResult, write_result
from gameday.schedule.catalog import Catalog, Scheduled, Snapshot, check_folder, read_catalog
from gameday.schedule.catalog import snapshot as take_snapshot
from gameday.schedule.lock import SchedulerLock, SchedulerLockLostError, hold_scheduler_lock
from gameday.schedule.models import Blackout
from gameday.schedule.serve import (
    TOKEN_ENV,
    Board,
    MetricsServer,
    Status,
    check_exposure,
    parse_listen,
)
from gameday.schedule.timetable import STARTING_DEADLINE_S, draw_jitter, next_fire_time

POLL_S = 1.0
"""How often the folder's files are checked for changes."""
TICK_S = 0.2
"""Longest sleep of the loop: how soon a stop (signal or event) is seen between drills."""
LOCK_CHECK_S = 1.0
"""How often the loop confirms that the store's scheduler lock is still its own between
drills; it does again just before each drill."""
DRILL_MARGIN_S = 300.0
"""Allowed beyond a drill's ``guardrails.max_duration`` (environment up and down) before
``/healthz`` calls a running drill stuck."""

Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    """One line on standard error, stamped with the UTC time."""
    print(f"{iso_utc(datetime.now(UTC))} {message}", file=sys.stderr, flush=True)


def redacted(log: Log) -> Log:
    """``log`` with credentials redacted from every line (a scenario error quoting a probe
    URL, a drill's reason, a traceback): the scheduler's log is kept and shipped."""

    def write(message: str) -> None:
        log(redact(message))

    return write


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class _Entry:
    """A scheduled scenario and its next fire time; ``start`` = fire time + jitter draw."""

    scheduled: Scheduled
    fire: datetime | None = None
    start: float | None = None


@dataclass(frozen=True)
class SchedulerSettings:
    """What the loop needs besides its stores: where, how and whom to tell."""

    directory: Path
    report_dir: Path | None = None
    blackouts: tuple[Blackout, ...] = ()
    listeners: tuple[Listener, ...] = ()
    clock: Callable[[], float] = time.time
    rng: random.Random | None = None
    log: Log = log_to_stderr
    on_result: Callable[[RunResult], None] | None = None


class Scheduler:
    """The loop of ``gameday schedule run`` over open stores (see ``run_scheduler``)."""

    def __init__(
        self,
        settings: SchedulerSettings,
        history: HistoryStore,
        board: Board,
        guard: SignalGuard,
        lock: SchedulerLock | None = None,
    ) -> None:
        self.settings = settings
        self.history, self.board, self.guard = history, board, guard
        self.lock = lock
        """The store's lock to confirm (None: nothing to confirm, as in the loop's tests)."""
        self._lock_checked = -math.inf
        self._lock_problem: str | None = None
        self.clock, self.log = settings.clock, settings.log
        self.rng = settings.rng or random.Random()
        self.entries: dict[str, _Entry] = {}
        self.problems: dict[Path, list[str]] = {}
        self.last_results: dict[str, RunResult] = {}
        self._snapshot: Snapshot | None = None
        self._folder_problem: str | None = None
        self._last_poll = -math.inf
        self._run_counts: dict[tuple[str, RunStatus], int] = {}
        self._skip_counts: dict[tuple[str, SkipReason], int] = {}
        # A store that fails is logged and the loop goes on: SQLite's errors, PostgreSQL's,
        # and a lost PostgreSQL server (a GameDayError).
        self._store_failures: tuple[type[Exception], ...] = (GameDayError, *history.errors)

    def serve(self, stop: threading.Event) -> int:
        """Turn until a signal or ``stop``; 0 (a drill in progress is finished first, or
        aborted and rolled back by the signal)."""
        while self.guard.received is None and not stop.is_set():
            self.step()
            self._sleep(stop)
        why = f"signal {self.guard.received}" if self.guard.received else "stop requested"
        self.log(f"stopping: {why}; no drill is running")
        return 0

    def step(self) -> None:
        """One turn: re-read the folder if due, skip what is late, run what is due."""
        now = self.clock()
        if now - self._last_poll >= POLL_S:
            self._last_poll = now
            self._reload_if_changed(now)
        self._skip_late(now)
        due = [e for e in self.entries.values() if e.start is not None and e.start <= now]
        if due and self.guard.received is None:
            if self._holds_lock(now, fresh=True):
                self._run(min(due, key=lambda e: (e.start or 0.0, e.scheduled.name)))
        else:
            self._holds_lock(now)
        self.board.publish(
            replace(self.board.status, last_loop=self.clock(), problem=self._lock_problem)
        )

    def _holds_lock(self, now: float, *, fresh: bool = False) -> bool:
        """Whether the store's lock is still this scheduler's: confirmed once per
        ``LOCK_CHECK_S``, or now when ``fresh`` (a drill is due) unless the last try failed
        (a store out of reach is not asked every turn). SchedulerLockLostError, logged, when
        another scheduler has it: the loop ends there, between two drills."""
        if self.lock is None:
            return True
        recent = now - self._lock_checked < LOCK_CHECK_S
        if recent and (not fresh or self._lock_problem is not None):
            return self._lock_problem is None
        self._lock_checked = now
        try:
            self.lock.confirm()
        except SchedulerLockLostError as error:
            self.log(f"stopping: {error.message}; no drill is running")
            raise
        except GameDayError as error:
            if self._lock_problem is None:
                self.log(
                    f"error: cannot confirm the scheduler lock: {error.message}; "
                    "no drill starts until it is confirmed"
                )
            self._lock_problem = error.message
            return False
        if self._lock_problem is not None:
            self.log(f"the scheduler lock on {self.lock.what} is confirmed again")
            self._lock_problem = None
        return True

    def _sleep(self, stop: threading.Event) -> None:
        now = self.clock()
        starts = [e.start for e in self.entries.values() if e.start is not None]
        delay = min(TICK_S, min(starts, default=math.inf) - now, self._last_poll + POLL_S - now)
        stop.wait(max(0.0, delay))

    def _reload_if_changed(self, now: float) -> None:
        directory = self.settings.directory
        try:
            current = take_snapshot(directory)
            if current == self._snapshot:
                return
            catalog = read_catalog(directory, self.settings.blackouts)
        except GameDayError as error:
            if error.message != self._folder_problem:
                self.log(f"error: {error.message}; nothing is scheduled until it is back")
            self._folder_problem = error.message
            self.entries, self.problems, self._snapshot = {}, {}, None
            self._publish()
            return
        self._folder_problem = None
        previous = self._snapshot or {}
        changed = {path for path, stamp in current.items() if previous.get(path) != stamp}
        self._snapshot = current
        self._report_problems(catalog, changed)
        self._apply(catalog, now)
        self._refresh_counts()
        self._publish()

    def _report_problems(self, catalog: Catalog, changed: set[Path]) -> None:
        for path, problems in sorted(catalog.problems.items()):
            if path in changed or self.problems.get(path) != problems:
                for problem in problems:
                    self.log(f"error: {problem}")
        for path in sorted(set(self.problems) - set(catalog.problems)):
            if path.exists():
                self.log(f"fixed: {path}")
        self.problems = dict(catalog.problems)

    def _apply(self, catalog: Catalog, now: float) -> None:
        entries: dict[str, _Entry] = {}
        for scheduled in catalog.scheduled:
            old = self.entries.get(scheduled.name)
            if old is not None and (old.scheduled.timing, old.scheduled.path) == (
                scheduled.timing,
                scheduled.path,
            ):
                entries[scheduled.name] = replace(old, scheduled=scheduled)
                continue
            entry = _Entry(scheduled)
            self._advance(entry, _utc(now))
            entries[scheduled.name] = entry
            self._remember_last_run(scheduled.name)
            when = "never" if entry.fire is None else entry.fire.isoformat(sep=" ")
            self.log(f"scheduled {scheduled.name} ({scheduled.path}): next {when}")
        for name in sorted(set(self.entries) - set(entries)):
            self.log(f"unscheduled {name}: its file was removed, changed its name, or is invalid")
        self.entries = entries

    def _advance(self, entry: _Entry, after: datetime) -> None:
        """Move ``entry`` to its first clear fire time after ``after``, with a new draw."""
        entry.fire = next_fire_time(entry.scheduled.timing, after)
        if entry.fire is None:
            entry.start = None
            return
        delay = draw_jitter(entry.scheduled.timing.jitter_s, self.rng)
        entry.start = entry.fire.timestamp() + delay

    def _skip_late(self, now: float) -> None:
        late: list[Skip] = []
        for entry in self.entries.values():
            while entry.start is not None and entry.fire is not None:
                seen_after_s = now - entry.start
                if seen_after_s <= STARTING_DEADLINE_S:
                    break
                detail = f"seen {seen_after_s:.0f}s after it fell due (the scheduler was stalled)"
                late.append(self._skip(entry, SkipReason.LATE, detail))
                self._advance(entry, entry.fire)
        if late:
            self._record_skips(late)
            self._publish()

    def _skip(self, entry: _Entry, reason: SkipReason, detail: str) -> Skip:
        assert entry.start is not None
        return Skip(
            entry.scheduled.name,
            iso_utc(_utc(entry.start)),
            iso_utc(_utc(self.clock())),
            reason,
            detail,
        )

    def _record_skips(self, skips: Sequence[Skip]) -> None:
        if not skips:
            return
        try:
            self.history.record_skips(skips)
        except self._store_failures as error:
            self.log(f"error: cannot record {len(skips)} skipped fire time(s): {error}")
        self._refresh_counts()
        by_name: dict[str, list[Skip]] = {}
        for skip in skips:
            by_name.setdefault(skip.scenario, []).append(skip)
        for name, found in by_name.items():
            self.log(
                f"skipped: {found[0].reason.value}: {name}: {len(found)} fire time(s) from "
                f"{found[0].due_at} to {found[-1].due_at}: {found[0].detail}"
            )

    def _run(self, entry: _Entry) -> None:
        scheduled, fire, start = entry.scheduled, entry.fire, entry.start
        assert fire is not None and start is not None
        limit = scheduled.plan.loaded.scenario.guardrails.max_duration + DRILL_MARGIN_S

        def on_start(run_id: str, scenario: str, environment: str, at: datetime) -> None:
            self.history.start_run(run_id, scenario, environment, at)
            self._publish(running=scenario, running_since=self.clock(), running_limit_s=limit)

        self.log(
            f"start {scheduled.name}: fire time {fire.isoformat(sep=' ')}, "
            f"jitter {start - fire.timestamp():.3f}s ({scheduled.path})"
        )
        options = RunOptions(
            listeners=list(self.settings.listeners),
            on_start=on_start,
            log=self.log,
            report_dir=self.settings.report_dir,  # the app's log goes beside the result
        )
        result = run_drill(scheduled.plan, options, time.monotonic, self.guard)
        self._record(result)
        end = self.clock()
        self._advance(entry, fire)
        busy = f"{scheduled.name} was running (run {result.run_id})"
        skipped: list[Skip] = []
        for other in self.entries.values():
            while other.start is not None and other.fire is not None and other.start <= end:
                skipped.append(self._skip(other, SkipReason.BUSY, busy))
                self._advance(other, other.fire)
        self._record_skips(skipped)
        self._publish()
        if self.settings.on_result is not None:
            self.settings.on_result(result)

    def _record(self, result: RunResult) -> None:
        try:
            self.history.finish_run(result)
        except self._store_failures as error:
            self.log(f"error: cannot record run {result.run_id} in the history: {error}")
        report_dir = self.settings.report_dir
        if report_dir is not None:
            path = report_dir / result.run_id / "result.json"
            try:
                write_result(result, path)
            except GameDayError as error:
                self.log(f"error: {error.message}")
            except OSError as error:
                self.log(f"error: cannot write the result to {path}: {error.strerror or error}")
        self.last_results[result.scenario.name] = result
        self._refresh_counts()
        score = "" if result.score is None else f" score {result.score:.1f} {result.grade}"
        why = f": {result.reason}" if result.reason else ""
        self.log(
            f"done  {result.scenario.name}: {result.status.value}{score}{why} (run {result.run_id})"
        )

    def _remember_last_run(self, name: str) -> None:
        """The metrics show each scenario's last run, also one from before this start."""
        if name in self.last_results:
            return
        try:
            for row in self.history.runs(scenario=name, limit=5):
                if row.status is HistoryStatus.RUNNING:
                    continue
                found = self.history.get(row.run_id)
                if found is not None:
                    self.last_results[name] = found
                    return
        except GameDayError as error:
            self.log(f"warning: the last run of {name} is not shown in /metrics: {error}")

    def _refresh_counts(self) -> None:
        try:
            self._run_counts = self.history.outcome_counts()
            self._skip_counts = self.history.skip_counts()
        except self._store_failures as error:
            self.log(f"error: cannot read the run counts for /metrics: {error}")

    def _publish(
        self,
        running: str | None = None,
        running_since: float | None = None,
        running_limit_s: float | None = None,
    ) -> None:
        names = set(self.entries)
        status = Status(
            started_at=self.board.status.started_at,
            last_loop=self.clock(),
            problem=self._lock_problem,
            results=tuple(r for n, r in sorted(self.last_results.items()) if n in names),
            run_counts={k: v for k, v in self._run_counts.items() if k[0] in names},
            skip_counts={k: v for k, v in self._skip_counts.items() if k[0] in names},
            next_fire={n: e.fire.timestamp() if e.fire else None for n, e in self.entries.items()},
            jitter_s={n: e.scheduled.timing.jitter_s for n, e in self.entries.items()},
            invalid_files=len(self.problems),
            running=running,
            running_since=running_since,
            running_limit_s=running_limit_s,
        )
        self.board.publish(status)


def run_scheduler(
    directory: Path,
    *,
    store: Path | str | None = None,
    metrics_listen: str | None = "127.0.0.1:9464",
    metrics_token: str | None = None,
    allow_unauthenticated: bool = False,
    report_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    blackouts: Sequence[Blackout] = (),
    listeners: Sequence[Listener] = (),
    log: Log = log_to_stderr,
    on_result: Callable[[RunResult], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the scheduled scenarios of ``directory`` until SIGTERM/SIGINT (or ``stop``); 0.

    One scheduler per history store (a ``flock`` on a SQLite store, an advisory lock on a
    PostgreSQL one: a second scheduler raises ``SchedulerLockedError``, exit 2; so does one
    whose lock another took while its connection to a PostgreSQL store was lost:
    ``SchedulerLockLostError``, between two drills). ``metrics_listen`` is ``HOST:PORT`` for
    ``/metrics`` and ``/healthz`` (``off`` or None: no server), loopback unless
    ``metrics_token`` (default ``$GAMEDAY_METRICS_TOKEN``: then every request needs it) or
    ``allow_unauthenticated`` (InvalidInputError, exit 2, otherwise); ``report_dir``
    receives each run's ``<run-id>/result.json``; ``blackouts`` apply to every scenario,
    besides each schedule's own. Must be called from the main thread: a signal during a
    drill rolls it back and records it as aborted, then the scheduler returns 0.
    """
    check_folder(directory)
    log = redacted(log)
    address = None if metrics_listen is None else parse_listen(metrics_listen)
    token = metrics_token or os.environ.get(TOKEN_ENV) or None
    remember_secret(token)
    exposure = None
    if address is not None and metrics_listen is not None:
        exposure = check_exposure(
            metrics_listen, address[0], token, allow_unauthenticated=allow_unauthenticated
        )
    store_path = store_location(store)
    settings = SchedulerSettings(
        directory, report_dir, tuple(blackouts), tuple(listeners), clock, rng, log, on_result
    )
    guard = SignalGuard()
    with ExitStack() as stack:
        stack.enter_context(guard.installed())
        lock = stack.enter_context(hold_scheduler_lock(store_path, log))
        history = stack.enter_context(HistoryStore(store_path))
        board = Board(Status(started_at=clock(), last_loop=clock()))
        log(f"scheduler for {directory}: history {store_path}, lock {lock.what}")
        if address is not None:
            server = stack.enter_context(MetricsServer(address, board, clock, token))
            log(f"serving /metrics and /healthz on {server.url}")
            if exposure is not None:
                log(exposure)
        scheduler = Scheduler(settings, history, board, guard, lock)
        return scheduler.serve(stop or threading.Event())
