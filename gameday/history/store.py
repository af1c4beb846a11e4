"""The history store: every run, in SQLite (WAL mode) on one machine or in PostgreSQL for a
fleet (DESIGN.md "Results, reports, history"; docs/fleet.md).

Usage::

    with HistoryStore(Path(".gameday/history.db")) as store:
        store.start_run(run_id, "identity-loss", "embedded", started_at)
        ...
        store.finish_run(result)

A row is written when a run starts (``running``, with its writer process) and finalised when
it ends. A row whose writer is gone is finalised as ``aborted`` the next time any process
opens the store (see ``gameday.history.writer``); in PostgreSQL also when the writer ran on
another host, whose session lock on the run ended with it (``gameday.history.postgresql``).
Each write is one transaction (``gameday.history.database``). The SQL here is the same for
both databases: no function or syntax only one of them has.

The scheduler's fire times that did not run are kept too (``record_skips``, ``skips``,
``skip_counts``): a skip is not a run, so it has a table of its own.
"""

from __future__ import annotations

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
from gameday.history.database import Database, open_sqlite
from gameday.history.location import StoreLocation, store_location
from gameday.history.schema import capabilities_text, migrate
from gameday.history.transfer import Archive, CopyCounts, read_archive, write_archive
from gameday.history.writer import Writer, is_gone, writer_for
from gameday.kinds import Capability, Grade, ObjectiveKind, RunStatus
from gameday.result import ObjectiveResult, RunResult


class HistoryStatus(StrEnum):
    """A run's status in the store: a run status, or ``running`` until it is finalised."""

    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"
    ERROR = "error"
    NOT_STEADY = "not-steady"
    INCONCLUSIVE = "inconclusive"


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
    owner: str = ""
    """The scenario's ``metadata.owner`` as the run's result recorded it ('' when unknown: a
    run that died before its result, or a scenario without one)."""
    capabilities: tuple[Capability, ...] = ()
    """What the run's faults took away, as its result recorded it."""

    @property
    def delta(self) -> float | None:
        """Score change against the previous run of the scenario; None without both."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


@dataclass(frozen=True, slots=True)
class StoredObjective:
    """One objective's measurement as the store keeps it, for ``finished_runs``."""

    name: str
    kind: ObjectiveKind
    target: float
    measured: float | None
    met: bool


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """A finished run as the posture report reads it (``HistoryStore.finished_runs``): its
    scenario's owner and capabilities, its score, and only the measurements asked for."""

    run_id: str
    scenario: str
    status: HistoryStatus
    started_at: str
    score: float | None
    owner: str
    capabilities: tuple[Capability, ...]
    measurements: tuple[StoredObjective, ...]


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
r.reason, r.writer_host, r.writer_pid, r.owner, r.capabilities,
(SELECT p.score FROM runs AS p
 WHERE p.scenario = r.scenario AND p.started_at < r.started_at AND p.score IS NOT NULL
 ORDER BY p.started_at DESC LIMIT 1) AS previous_score
"""


def _filter(scenario: str | None, since: str | None, limit: int | None) -> str:
    """The runs of ``runs()``, newest first: conditions only for what is given (PostgreSQL
    cannot type a parameter that is only compared with NULL)."""
    conditions = ["TRUE"]
    if scenario is not None:
        conditions.append("r.scenario = :scenario")
    if since is not None:
        conditions.append("r.started_at >= :since")
    return (
        f"FROM runs AS r WHERE {' AND '.join(conditions)} "
        "ORDER BY r.started_at DESC, r.run_id DESC" + ("" if limit is None else " LIMIT :limit")
    )


def _open(location: StoreLocation, busy_timeout_s: float) -> Database:
    if location.url is not None:
        # psycopg takes a tenth of a second to import: only a PostgreSQL store pays for it.
        from gameday.history.postgresql import open_postgresql  # noqa: PLC0415

        return open_postgresql(location, busy_timeout_s)
    return open_sqlite(location, busy_timeout_s)


class HistoryStore:
    """The history of runs at ``store`` (``store_location``: a SQLite file, created with its
    folders when missing, or a PostgreSQL URL; default ``$GAMEDAY_STORE``, else
    ``.gameday/history.db``)."""

    def __init__(
        self,
        store: str | Path | StoreLocation | None = None,
        *,
        busy_timeout_s: float = 30.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.location = store_location(store)
        self.path = self.location.path
        """The SQLite file; None for a PostgreSQL store."""
        self.where = self.location.shown
        """How messages name the store: its path or its redacted URL."""
        self._clock = clock
        self._db = _open(self.location, busy_timeout_s)
        self.errors = self._db.errors
        """The database driver's errors (a broken store, a failed statement)."""
        try:
            migrate(self._db, self.where)
            self.reap()
        except self._db.errors as error:
            self._db.close()
            raise InvalidInputError(
                f"{self.where}: not a gameday history store: {error}",
                hint="give another path with --store or GAMEDAY_STORE",
            ) from None
        except BaseException:
            self._db.close()
            raise

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
    def _write(self) -> Iterator[Database]:
        """One write transaction (SQLite: IMMEDIATE, see ``SqliteDatabase.begin``)."""
        self._db.execute(self._db.begin)
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
        with self._write() as db:
            added = db.execute(
                "INSERT INTO runs (run_id, scenario, environment, status, started_at, "
                "writer_host, writer_boot, writer_pid, writer_start, writer_pid_namespace) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
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
            ).rowcount
            if not added:
                raise InvalidInputError(f"{self.where}: run {run_id!r} is already recorded")
            db.hold_run(run_id)

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
            "owner": result.scenario.owner,
            "capabilities": capabilities_text(c.value for c in result.scenario.capabilities),
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
                " score, grade, reason, owner, capabilities, result) VALUES (:run_id, :scenario, "
                ":environment, :status, :started_at, :ended_at, :score, :grade, :reason, "
                ":owner, :capabilities, :result) "
                "ON CONFLICT (run_id) DO UPDATE SET scenario = excluded.scenario, "
                "environment = excluded.environment, status = excluded.status, "
                "started_at = excluded.started_at, ended_at = excluded.ended_at, "
                "score = excluded.score, grade = excluded.grade, reason = excluded.reason, "
                "owner = excluded.owner, capabilities = excluded.capabilities, "
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
        self._db.release_run(result.run_id)

    def reap(self) -> list[str]:
        """Finalise as ``aborted`` every ``running`` row whose writer is gone; their run ids.

        The writer is checked on its host when this is its host (``writer.is_gone``), else by
        the database when it can tell (``Database.run_is_free``: PostgreSQL). The score and
        grade are those of an abort that is not a guardrail's (``grading.grade_aborted``):
        none, kept out of every mean, as a drill stopped by a signal is.
        """
        rows = self._db.execute(
            "SELECT run_id, writer_host, writer_boot, writer_pid, writer_start, "
            "writer_pid_namespace FROM runs WHERE status = 'running' AND writer_pid IS NOT NULL"
        ).fetchall()
        dead = []
        for run_id, host, boot, pid, start, namespace in rows:
            gone = is_gone(Writer(host, boot, pid, start, namespace))
            if gone is None:
                gone = self._db.run_is_free(run_id)
            if gone:
                dead.append((run_id, host, pid))
        if not dead:
            return []
        found_at = iso_utc(self._clock())
        try:
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
                        (verdict.score, verdict.grade.value if verdict.grade else None, reason,
                         run_id),
                    )  # fmt: skip
        finally:
            for run_id, _, _ in dead:
                self._db.release_run(run_id)
        return [run_id for run_id, _, _ in dead]

    def runs(
        self,
        scenario: str | None = None,
        since: str | datetime | None = None,
        limit: int | None = None,
    ) -> list[HistoryRow]:
        """Runs, newest first, of one scenario or all, started at or after ``since``."""
        self.reap()
        moment = None if since is None else iso_utc(since)
        params = {"scenario": scenario, "since": moment, "limit": limit}
        chosen = _filter(scenario, moment, limit)
        rows = self._db.execute(f"SELECT {_ROW_COLUMNS} {chosen}", params).fetchall()
        measured = self._measurements(chosen, params)
        return [_row(values, measured.get(values[0], ())) for values in rows]

    def _measurements(
        self, chosen: str, params: Mapping[str, object]
    ) -> dict[str, tuple[ObjectiveResult, ...]]:
        found: dict[str, list[ObjectiveResult]] = {}
        query = (
            "SELECT run_id, objective, kind, probe, target, measured, met, credit, weight, "
            "critical, detail "
            f"FROM measurements WHERE run_id IN (SELECT r.run_id {chosen}) "
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
                f"{self.where}: run {run_id!r}: stored result is not readable: {where}: "
                f"{first['msg']}",
                hint="it was written by another gameday version",
            ) from None

    def trend(
        self, scenarios: Sequence[str] | None = None, limit: int = 10
    ) -> dict[str, list[tuple[str, float | None]]]:
        """The last ``limit`` finished runs of each scenario as (started_at, score), oldest
        first: the data of the suite page's trend."""
        self.reap()
        wanted = None if scenarios is None else list(dict.fromkeys(scenarios))
        if wanted == []:
            return {}
        names = "" if wanted is None else f"AND scenario IN ({', '.join('?' * len(wanted))})"
        query = f"""
            SELECT scenario, started_at, score FROM (
                SELECT scenario, started_at, score, ROW_NUMBER() OVER (
                    PARTITION BY scenario ORDER BY started_at DESC, run_id DESC) AS n
                FROM runs
                WHERE status != 'running' {names}) AS ranked
            WHERE n <= ? ORDER BY scenario, started_at
        """
        params = [*(wanted or []), limit]
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

    def finished_runs(self, kinds: Sequence[ObjectiveKind]) -> list[FinishedRun]:
        """Every finished run (any age, any order) with its measurements of ``kinds`` only:
        the narrow read of the posture report, two plain queries (no result JSON, no
        writer, no previous score) and plain records (``StoredObjective``, not the
        validated ``ObjectiveResult``: 10,000 runs read in a fraction of a second)."""
        self.reap()
        wanted = [kind.value for kind in kinds]
        found: dict[str, list[StoredObjective]] = {}
        if wanted:
            query = (
                "SELECT m.run_id, m.objective, m.kind, m.target, m.measured, m.met "
                "FROM measurements AS m JOIN runs AS r ON r.run_id = m.run_id "
                f"WHERE r.status != 'running' AND m.kind IN ({', '.join('?' * len(wanted))}) "
                "ORDER BY m.run_id, m.position"
            )
            for run_id, name, kind, target, measured, met in self._db.execute(query, wanted):
                found.setdefault(run_id, []).append(
                    StoredObjective(name, ObjectiveKind(kind), target, measured, bool(met))
                )
        rows = self._db.execute(
            "SELECT run_id, scenario, status, started_at, score, owner, capabilities FROM runs "
            "WHERE status != 'running'"
        )
        return [
            FinishedRun(
                run_id=run_id,
                scenario=scenario,
                status=HistoryStatus(status),
                started_at=started_at,
                score=score,
                owner=owner,
                capabilities=tuple(Capability(c) for c in capabilities.split(",") if c),
                measurements=tuple(found.get(run_id, ())),
            )
            for run_id, scenario, status, started_at, score, owner, capabilities in rows
        ]

    def archive(self) -> Archive:
        """Every finished run, its measurements and every skip, as rows: what
        ``gameday history copy`` moves (``gameday.history.transfer``)."""
        self.reap()
        return read_archive(self._db)

    def restore(self, archive: Archive) -> CopyCounts:
        """Add what this store lacks of ``archive``, in one transaction."""
        with self._write() as db:
            return write_archive(db, archive)

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
            f"{'' if scenario is None else 'WHERE scenario = ?'} "
            "ORDER BY due_at, skipped_at, scenario, reason, detail",
            () if scenario is None else (scenario,),
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
    host, pid, owner, capabilities, previous = values[9:]
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
        owner=owner,
        capabilities=tuple(Capability(c) for c in capabilities.split(",") if c),
    )
