"""The history store: every run, as SQLite in WAL mode (DESIGN.md "Results, reports, history").

Usage::

    with HistoryStore(Path(".gameday/history.db")) as store:
        store.start_run(run_id, "identity-loss", "embedded", started_at)
        ...
        store.finish_run(result)

A row is written when a run starts (``running``, with its writer process) and finalised when
it ends. A row whose writer is gone is finalised as ``aborted`` the next time any process
opens the store (see ``gameday.history.writer``). Each write is one ``BEGIN IMMEDIATE``
transaction; WAL lets readers go on while one process writes, and the busy timeout makes a
second writer wait for the first instead of failing.

The scheduler's fire times that did not run are kept too (``record_skips``, ``skips``,
``skip_counts``): a skip is not a run, so it has a table of its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from gameday.errors import InvalidInputError
from gameday.grading import grade_aborted
from gameday.history.schema import migrate
from gameday.history.writer import Writer, is_gone, writer_for
from gameday.kinds import Grade, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult, RunResult

DEFAULT_STORE = Path(".gameday/history.db")


def default_store_path() -> Path:
    """``$GAMEDAY_STORE`` when set and not empty, else ``.gameday/history.db``."""
    return Path(os.environ.get("GAMEDAY_STORE") or DEFAULT_STORE)


class HistoryStatus(StrEnum):
    """A run's status in the store: a run status, or ``running`` until it is finalised."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    NOT_STEADY = "not-steady"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One run as ``gameday history`` lists it; ``previous_score`` is the score of the
    previous scored run of the same scenario (for the trend), None when there is none."""

    run_id: str
    scenario: str
    environment: str
    status: HistoryStatus
    started_at: str
    ended_at: str | None
    score: float | None
    grade: Grade | None
    reason: str | None
    measurements: tuple[ObjectiveResult, ...]
    """Each objective as the result graded it (``ObjectiveResult``, without its evidence)."""
    previous_score: float | None
    writer_host: str | None
    writer_pid: int | None

    @property
    def delta(self) -> float | None:
        """Score change against the previous run of the scenario; None without both."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


class SkipReason(StrEnum):
    """Why a scheduled fire time did not run."""

    BUSY = "busy"
    """Another drill was running when it fell due (never two drills at once)."""
    LATE = "late"
    """The scheduler was not looking when it fell due (the machine slept, the clock jumped)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """One scheduled fire time that did not run; times as ``iso_utc`` text."""

    scenario: str
    due_at: str
    skipped_at: str
    reason: SkipReason
    detail: str


def iso_utc(moment: str | datetime) -> str:
    """One spelling for every stored time, so that text order is time order:
    ``2026-11-22T07:45:01.123Z``. A naive time is taken as UTC."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    utc = parsed.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


_ROW_COLUMNS = """
r.run_id, r.scenario, r.environment, r.status, r.started_at, r.ended_at, r.score, r.grade,
r.reason, r.writer_host, r.writer_pid,
(SELECT p.score FROM runs AS p
 WHERE p.scenario = r.scenario AND p.started_at < r.started_at AND p.score IS NOT NULL
 ORDER BY p.started_at DESC LIMIT 1) AS previous_score
"""

_FILTER = """
FROM runs AS r
WHERE (:scenario IS NULL OR r.scenario = :scenario)
  AND (:since IS NULL OR r.started_at >= :since)
ORDER BY r.started_at DESC, r.run_id DESC
LIMIT :limit
"""


class HistoryStore:
    """The SQLite history of runs at ``path`` (created with its folders when missing)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        busy_timeout_s: float = 30.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.path = path or default_store_path()
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise InvalidInputError(
                f"{self.path}: cannot open the history store: {error}",
                hint="give a writable path with --store or GAMEDAY_STORE",
            ) from None
        try:
            self._configure(busy_timeout_s)
            migrate(self._db, str(self.path))
            self.reap()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise InvalidInputError(
                f"{self.path}: not a gameday history store: {error}",
                hint="give another path with --store or GAMEDAY_STORE",
            ) from None
        except BaseException:
            self._db.close()
            raise

    def _configure(self, busy_timeout_s: float) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise InvalidInputError(
                f"{self.path}: SQLite refused WAL mode (journal mode {mode})",
                hint="put the store on a local file system (WAL does not work over NFS/SMB)",
            )
        self._db.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        """Close the connection; the store stays on disk."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front, so two writers
        queue on the busy timeout instead of failing on a lock upgrade."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def start_run(
        self,
        run_id: str,
        scenario: str,
        environment: str,
        started_at: str | datetime,
        pid: int | None = None,
    ) -> None:
        """Record a run as ``running``, with its writer (``pid``, default this process)."""
        writer = writer_for(pid)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO runs (run_id, scenario, environment, status, started_at, "
                    "writer_host, writer_boot, writer_pid, writer_start, writer_pid_namespace) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        scenario,
                        environment,
                        iso_utc(started_at),
                        writer.host,
                        writer.boot,
                        writer.pid,
                        writer.start,
                        writer.pid_namespace,
                    ),
                )
        except sqlite3.IntegrityError:
            raise InvalidInputError(f"{self.path}: run {run_id!r} is already recorded") from None

    def finish_run(self, result: RunResult) -> None:
        """Finalise the run's row from its result (inserting it if it was never started):
        status, score, grade, reason, measurements and the result JSON, in one transaction."""
        values = {
            "run_id": result.run_id,
            "scenario": result.scenario.name,
            "environment": result.environment,
            "status": result.status.value,
            "started_at": iso_utc(result.started_at),
            "ended_at": iso_utc(result.ended_at),
            "score": result.score,
            "grade": result.grade.value if result.grade else None,
            "reason": result.reason,
            "result": result.model_dump_json(),
        }
        measurements = [
            (
                result.run_id,
                i,
                o.name,
                o.kind.value,
                o.probe,
                o.target,
                o.measured,
                o.met,
                o.credit,
                o.weight,
                o.critical,
                o.detail,
            )
            for i, o in enumerate(result.objectives)
        ]
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at,"
                " score, grade, reason, result) VALUES (:run_id, :scenario, :environment, "
                ":status, :started_at, :ended_at, :score, :grade, :reason, :result) "
                "ON CONFLICT (run_id) DO UPDATE SET scenario = excluded.scenario, "
                "environment = excluded.environment, status = excluded.status, "
                "started_at = excluded.started_at, ended_at = excluded.ended_at, "
                "score = excluded.score, grade = excluded.grade, reason = excluded.reason, "
                "result = excluded.result",
                values,
            )
            db.execute("DELETE FROM measurements WHERE run_id = ?", (result.run_id,))
            db.executemany(
                "INSERT INTO measurements (run_id, position, objective, kind, probe, target, "
                "measured, met, credit, weight, critical, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                measurements,
            )

    def reap(self) -> list[str]:
        """Finalise as ``aborted`` every ``running`` row whose writer is gone; their run ids.

        The score and grade are those of any abort (``grading.grade_aborted``): 0, F.
        """
        rows = self._db.execute(
            "SELECT run_id, writer_host, writer_boot, writer_pid, writer_start, "
            "writer_pid_namespace FROM runs WHERE status = 'running' AND writer_pid IS NOT NULL"
        ).fetchall()
        dead = [
            (run_id, host, pid)
            for run_id, host, boot, pid, start, namespace in rows
            if is_gone(Writer(host, boot, pid, start, namespace))
        ]
        if not dead:
            return []
        found_at = iso_utc(self._clock())
        with self._write() as db:
            for run_id, host, pid in dead:
                reason = (
                    f"the runner (pid {pid} on {host}) ended without finishing the run; "
                    f"found at {found_at}"
                )
                verdict = grade_aborted(reason)
                # 'AND status' guards against a writer that finished in the meantime.
                db.execute(
                    "UPDATE runs SET status = 'aborted', score = ?, grade = ?, reason = ? "
                    "WHERE run_id = ? AND status = 'running'",
                    (verdict.score, verdict.grade.value if verdict.grade else None, reason, run_id),
                )
        return [run_id for run_id, _, _ in dead]

    def runs(
        self,
        scenario: str | None = None,
        since: str | datetime | None = None,
        limit: int | None = None,
    ) -> list[HistoryRow]:
        """Runs, newest first, of one scenario or all, started at or after ``since``."""
        self.reap()
        params = {
            "scenario": scenario,
            "since": None if since is None else iso_utc(since),
            "limit": -1 if limit is None else limit,
        }
        rows = self._db.execute(f"SELECT {_ROW_COLUMNS} {_FILTER}", params).fetchall()
        measured = self._measurements(params)
        return [_row(values, measured.get(values[0], ())) for values in rows]

    def _measurements(self, params: Mapping[str, object]) -> dict[str, tuple[ObjectiveResult, ...]]:
        found: dict[str, list[ObjectiveResult]] = {}
        query = (
            "SELECT run_id, objective, kind, probe, target, measured, met, credit, weight, "
            "critical, detail "
            f"FROM measurements WHERE run_id IN (SELECT r.run_id {_FILTER}) "
            "ORDER BY run_id, position"
        )
        for values in self._db.execute(query, params):
            run_id, name, kind, probe, target, measured, met, credit, weight, critical, detail = (
                values
            )
            found.setdefault(run_id, []).append(
                ObjectiveResult(
                    name=name,
                    kind=ObjectiveKind(kind),
                    probe=probe,
                    target=target,
                    measured=measured,
                    met=bool(met),
                    credit=credit,
                    weight=weight,
                    critical=bool(critical),
                    detail=detail,
                )
            )
        return {run_id: tuple(values) for run_id, values in found.items()}

    def get(self, run_id: str) -> RunResult | None:
        """The full result of a finished run; None for an unknown run or one that died."""
        row = self._db.execute("SELECT result FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        try:
            return RunResult.model_validate_json(row[0])
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidInputError(
                f"{self.path}: run {run_id!r}: stored result is not readable: {where}: "
                f"{first['msg']}",
                hint="it was written by another gameday version",
            ) from None

    def trend(
        self, scenarios: Sequence[str] | None = None, limit: int = 10
    ) -> dict[str, list[tuple[str, float | None]]]:
        """The last ``limit`` finished runs of each scenario as (started_at, score), oldest
        first: the data of the suite page's trend."""
        self.reap()
        wanted = None if scenarios is None else list(scenarios)
        query = """
            SELECT scenario, started_at, score FROM (
                SELECT scenario, started_at, score, ROW_NUMBER() OVER (
                    PARTITION BY scenario ORDER BY started_at DESC, run_id DESC) AS n
                FROM runs
                WHERE status != 'running'
                  AND (:all OR scenario IN (SELECT value FROM json_each(:names))))
            WHERE n <= :limit ORDER BY scenario, started_at
        """
        params = {"all": wanted is None, "names": json.dumps(wanted or []), "limit": limit}
        trend: dict[str, list[tuple[str, float | None]]] = {}
        for scenario, started_at, score in self._db.execute(query, params):
            trend.setdefault(scenario, []).append((started_at, score))
        return trend

    def outcome_counts(self) -> dict[tuple[str, RunStatus], int]:
        """Finished runs per (scenario, status), all time: the runs counter of the metrics."""
        self.reap()
        rows = self._db.execute(
            "SELECT scenario, status, COUNT(*) FROM runs WHERE status != 'running' "
            "GROUP BY scenario, status"
        )
        return {(scenario, RunStatus(status)): count for scenario, status, count in rows}

    def record_skips(self, skips: Sequence[Skip]) -> None:
        """Record skipped fire times, in one transaction."""
        if not skips:
            return
        with self._write() as db:
            db.executemany(
                "INSERT INTO schedule_skips (scenario, due_at, skipped_at, reason, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (s.scenario, iso_utc(s.due_at), iso_utc(s.skipped_at), s.reason.value, s.detail)
                    for s in skips
                ],
            )

    def skips(self, scenario: str | None = None) -> list[Skip]:
        """Skipped fire times, oldest first, of one scenario or all."""
        rows = self._db.execute(
            "SELECT scenario, due_at, skipped_at, reason, detail FROM schedule_skips "
            "WHERE (:scenario IS NULL OR scenario = :scenario) ORDER BY due_at, rowid",
            {"scenario": scenario},
        )
        return [
            Skip(name, due, at, SkipReason(reason), detail)
            for name, due, at, reason, detail in rows
        ]

    def skip_counts(self) -> dict[tuple[str, SkipReason], int]:
        """Skipped fire times per (scenario, reason), all time: the scheduler's skipped counter."""
        rows = self._db.execute(
            "SELECT scenario, reason, COUNT(*) FROM schedule_skips GROUP BY scenario, reason"
        )
        return {(name, SkipReason(reason)): count for name, reason, count in rows}


def _row(values: tuple[Any, ...], measurements: tuple[ObjectiveResult, ...]) -> HistoryRow:
    (run_id, scenario, environment, status, started, ended, score, grade, reason) = values[:9]
    host, pid, previous = values[9:]
    return HistoryRow(
        run_id=run_id,
        scenario=scenario,
        environment=environment,
        status=HistoryStatus(status),
        started_at=started,
        ended_at=ended,
        score=score,
        grade=None if grade is None else Grade(grade),
        reason=reason,
        measurements=measurements,
        previous_score=previous,
        writer_host=host,
        writer_pid=pid,
    )
