"""Migration from older schemas, each written here by hand as it was: 0, the prototype
layout; 1, before the scheduler's skips joined the schema; 3, before 'inconclusive'; 5, when
every abort was scored 0 / F."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import LATEST_VERSION, HistoryStatus, HistoryStore, SkipReason
from gameday.history.query import past_runs, read_finished_runs, read_runs
from gameday.history.schema import capabilities_text
from gameday.kinds import Grade, ObjectiveKind, RunStatus
from gameday.reports.suite import trend_delta
from gameday.result import RunResult
from tests.history_stores import StoreUnderTest
from tests.unit.reports.runs import aborted, inconclusive, met_and_missed, synthetic

# Schema 0: one table, the result JSON beside a few columns; user_version left at 0.
V0_LAYOUT = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    started_at TEXT NOT NULL,
    result TEXT
);
CREATE INDEX runs_by_scenario ON runs (scenario);
"""


def _v0_store(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V0_LAYOUT)
    for result in (met_and_missed(), synthetic()["not-steady"]):
        db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
            (
                result.run_id,
                result.scenario.name,
                result.status.value,
                result.score,
                result.started_at,
                result.model_dump_json(),
            ),
        )
    db.execute(
        "INSERT INTO runs VALUES ('old-running', 'identity-loss', 'running', NULL, "
        "'2026-11-01T02:00:00.000Z', NULL)"
    )
    db.commit()
    db.close()


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    db.close()
    return version


def _schema(path: Path) -> list[tuple[str, str]]:
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
    ).fetchall()
    db.close()
    return rows


def test_a_v0_store_is_migrated_to_v1_with_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v0_store(path)
    with HistoryStore(path) as store:
        rows = {row.run_id: row for row in store.runs()}
        result = met_and_missed()
        migrated = rows[result.run_id]
        assert (migrated.environment, migrated.grade, migrated.score) == (
            "embedded",
            Grade.C,
            result.score,
        )
        assert migrated.ended_at == result.ended_at
        assert [(m.name, m.kind, m.measured, m.met) for m in migrated.measurements] == [
            (o.name, o.kind, o.measured, o.met) for o in result.objectives
        ]
        # weight, critical and detail (schema 3) come from each run's result JSON
        assert [(m.weight, m.critical, m.detail) for m in migrated.measurements] == [
            (o.weight, o.critical, o.detail) for o in result.objectives
        ]
        assert migrated.measurements[1].kind is ObjectiveKind.RTO
        assert store.get(result.run_id) == result
        not_steady = rows[synthetic()["not-steady"].run_id]
        assert not_steady.status is HistoryStatus.NOT_STEADY
        assert not_steady.reason == synthetic()["not-steady"].reason
        # A v0 row left running has no writer to check: it is closed as aborted, and says why.
        old = rows["old-running"]
        # Schema 1 scored it 0 / F; schema 6 takes that away (no guardrail stopped it).
        assert (old.status, old.score, old.grade) == (HistoryStatus.ABORTED, None, None)
        assert old.reason == (
            "still running when the store was migrated from schema 0, which did not record "
            "its writer"
        )


def test_a_migrated_store_has_exactly_the_schema_of_a_new_one(tmp_path: Path) -> None:
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    _v0_store(old)
    HistoryStore(old).close()
    HistoryStore(new).close()
    assert _schema(old) == _schema(new)
    assert _version(old) == LATEST_VERSION == 6


def test_opening_a_migrated_store_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v0_store(path)
    with HistoryStore(path) as store:
        first = store.runs()
    with HistoryStore(path) as store:
        assert store.runs() == first


# Schema 1, as gameday wrote it before version 2: runs and measurements; the scheduler added
# its own schedule_skips table beside them when it ran (outside the versioned schema).
V1_LAYOUT = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (
        status IN ('running', 'passed', 'failed', 'aborted', 'error', 'not-steady')
    ),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    score REAL,
    grade TEXT,
    reason TEXT,
    writer_host TEXT,
    writer_boot TEXT,
    writer_pid INTEGER,
    writer_start TEXT,
    writer_pid_namespace TEXT,
    result TEXT
);
CREATE TABLE measurements (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    objective TEXT NOT NULL,
    kind TEXT NOT NULL,
    probe TEXT NOT NULL,
    target REAL NOT NULL,
    measured REAL,
    met INTEGER NOT NULL,
    credit REAL NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX runs_by_scenario ON runs (scenario, started_at);
CREATE INDEX runs_by_time ON runs (started_at);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
PRAGMA user_version = 1;
"""

# What `gameday schedule run` created in a version 1 store (gameday/schedule/skips.py then).
V1_SCHEDULER_SKIPS = """
CREATE TABLE IF NOT EXISTS schedule_skips (
    scenario TEXT NOT NULL,
    due_at TEXT NOT NULL,
    skipped_at TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('busy', 'late')),
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS schedule_skips_by_scenario ON schedule_skips (scenario, due_at);
INSERT INTO schedule_skips VALUES ('identity-loss', '2026-11-22T08:00:00.000Z',
    '2026-11-22T08:01:00.000Z', 'busy', 'region-loss was running (run r1)');
"""


def _v1_store(path: Path, scheduler_ran: bool) -> None:
    db = sqlite3.connect(path)
    db.executescript(V1_LAYOUT)
    result = met_and_missed()
    db.execute(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at, score, "
        "grade, reason, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            result.run_id,
            result.scenario.name,
            result.environment,
            result.status.value,
            result.started_at,
            result.ended_at,
            result.score,
            result.grade.value if result.grade else None,
            result.reason,
            result.model_dump_json(),
        ),
    )
    db.commit()
    if scheduler_ran:
        db.executescript(V1_SCHEDULER_SKIPS)
    db.close()


@pytest.mark.parametrize("scheduler_ran", [False, True])
def test_a_v1_store_is_migrated_to_the_latest_with_its_runs_and_skips(
    tmp_path: Path, scheduler_ran: bool
) -> None:
    path, new = tmp_path / "history.db", tmp_path / "new.db"
    _v1_store(path, scheduler_ran)
    with HistoryStore(path) as store:
        assert store.get(met_and_missed().run_id) == met_and_missed()
        skipped = store.skips()
        assert [(s.scenario, s.reason, s.detail) for s in skipped] == (
            [("identity-loss", SkipReason.BUSY, "region-loss was running (run r1)")]
            if scheduler_ran
            else []
        )
    assert _version(path) == LATEST_VERSION
    HistoryStore(new).close()
    assert _schema(path) == _schema(new)


def test_a_v1_store_that_fails_to_migrate_is_left_at_v1(tmp_path: Path) -> None:
    # A table of that name that is not the skips table: the migration fails, and its
    # transaction leaves the store as it was, at version 1, for a fixed gameday to migrate.
    path = tmp_path / "history.db"
    _v1_store(path, scheduler_ran=False)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schedule_skips (something TEXT)")
    db.commit()
    db.close()
    with pytest.raises(InvalidInputError, match="not a gameday history store: "):
        HistoryStore(path)
    assert _version(path) == 1


def test_a_v1_store_reads_back_each_objective_as_the_result_graded_it(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v1_store(path, scheduler_ran=False)
    result = met_and_missed()
    db = sqlite3.connect(path)  # the measurements as version 1 wrote them
    db.executemany(
        "INSERT INTO measurements (run_id, position, objective, kind, probe, target, measured, "
        "met, credit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (result.run_id, i, o.name, o.kind.value, o.probe, o.target, o.measured, o.met, o.credit)
            for i, o in enumerate(result.objectives)
        ],
    )
    db.commit()
    db.close()
    with HistoryStore(path) as store:
        (row,) = store.runs()
    evidence = {"time_to_impact", "recovered_during_fault", "impact_start", "recovered_at"}
    assert list(row.measurements) == [
        o.model_copy(update=dict.fromkeys(evidence)) for o in result.objectives
    ]
    assert any(o.critical for o in result.objectives) or any(
        o.weight != 1.0 for o in result.objectives
    )


# Schema 3, as gameday wrote it before version 4: version 1's runs table (its status CHECK
# without 'inconclusive'), the skips table, and each measurement's weight, critical and detail.
V3_LAYOUT = V1_LAYOUT.replace(
    "PRAGMA user_version = 1;",
    V1_SCHEDULER_SKIPS.split("INSERT INTO", maxsplit=1)[0]
    + "ALTER TABLE measurements ADD COLUMN weight REAL NOT NULL DEFAULT 1.0;\n"
    "ALTER TABLE measurements ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;\n"
    "ALTER TABLE measurements ADD COLUMN detail TEXT NOT NULL DEFAULT '';\n"
    "PRAGMA user_version = 3;\n",
)


def _v3_store(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V3_LAYOUT)
    db.close()
    # Written as version 3 wrote it: by a store that did not migrate it further.
    result = met_and_missed()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at, score, "
        "grade, reason, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            result.run_id,
            result.scenario.name,
            result.environment,
            result.status.value,
            result.started_at,
            result.ended_at,
            result.score,
            result.grade.value if result.grade else None,
            result.reason,
            result.model_dump_json(),
        ),
    )
    db.executemany(
        "INSERT INTO measurements (run_id, position, objective, kind, probe, target, measured, "
        "met, credit, weight, critical, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                result.run_id, i, o.name, o.kind.value, o.probe, o.target, o.measured, o.met,
                o.credit, o.weight, o.critical, o.detail,
            )
            for i, o in enumerate(result.objectives)
        ],
    )  # fmt: skip
    db.commit()
    db.close()


def test_a_v3_store_refuses_an_inconclusive_run_and_a_migrated_one_keeps_it(
    tmp_path: Path,
) -> None:
    path, new = tmp_path / "history.db", tmp_path / "new.db"
    _v3_store(path)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        db.execute("UPDATE runs SET status = 'inconclusive'")
    db.close()

    untested = inconclusive()
    with HistoryStore(path) as store:
        (kept,) = store.runs()
        store.finish_run(untested)
        rows = {row.run_id: row for row in store.runs()}
    assert _version(path) == LATEST_VERSION == 6
    HistoryStore(new).close()
    assert _schema(path) == _schema(new)

    result = met_and_missed()
    assert kept.run_id == result.run_id
    assert list(rows[result.run_id].measurements) == [
        o.model_copy(
            update=dict.fromkeys(
                ("time_to_impact", "recovered_during_fault", "impact_start", "recovered_at")
            )
        )
        for o in result.objectives
    ]
    stored = rows[untested.run_id]
    assert (stored.status, stored.score, stored.grade) == (HistoryStatus.INCONCLUSIVE, None, None)
    assert stored.reason == untested.reason


def test_the_migrated_runs_table_still_owns_its_measurements(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v3_store(path)
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] > 0
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.execute("DELETE FROM runs")
    db.commit()
    # ON DELETE CASCADE follows the new table: no measurement outlives its run.
    assert db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0
    db.close()


def test_a_v3_store_with_a_dangling_measurement_is_refused_and_left_at_v3(
    tmp_path: Path,
) -> None:
    # Written by hand with foreign keys off (SQLite's default): a measurement of no run. The
    # rebuilt table would carry the broken reference on; the migration says so and undoes.
    path = tmp_path / "history.db"
    _v3_store(path)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO measurements (run_id, position, objective, kind, probe, target, met, "
        "credit) VALUES ('no-such-run', 0, 'x', 'rto', 'api', 1.0, 1, 1.0)"
    )
    db.commit()
    db.close()
    with pytest.raises(InvalidInputError) as caught:
        HistoryStore(path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}: migrating the history store would break a reference "
        r"\(measurements row \d+ -> runs\); the store was left as it was",
        caught.value.message,
    )
    assert _version(path) == 3


# Schema 5, as gameday wrote it before version 6 (the same tables as now): every abort was
# scored 0 / F, whatever stopped it. One run stopped by a signal, one whose runner died (the
# reaper's row: no result), and one stopped by a guardrail, between two scored runs.
SIGNAL_REASON = "signal SIGINT"
REAPER_REASON = (
    "the runner (pid 4242 on runner-7) ended without finishing the run; found at "
    "2026-11-21T03:00:00.000Z"
)
REAPED_ID = "20261121T020000Z-identity-loss-2102"
REAPED_AT = "2026-11-21T02:00:00.000Z"


def v5_runs() -> dict[str, RunResult]:
    """The finished runs of the version 5 store, by role."""
    signal = met_and_missed(day=20).model_copy(
        update={
            "status": RunStatus.ABORTED,
            "score": 0.0,
            "grade": Grade.F,
            "reason": SIGNAL_REASON,
            "caps": (f"aborted: {SIGNAL_REASON}",),
        }
    )
    return {
        "before": met_and_missed(day=19),
        "signal": signal,
        "after": met_and_missed(day=22),
        "guardrail": aborted(),
    }


def _insert_run(store: StoreUnderTest, result: RunResult) -> None:
    store.sql(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at, score, "
        "grade, reason, owner, capabilities, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (result.run_id, result.scenario.name, result.environment, result.status.value,
         result.started_at, result.ended_at, result.score,
         result.grade.value if result.grade else None, result.reason, result.scenario.owner,
         capabilities_text(c.value for c in result.scenario.capabilities),
         result.model_dump_json()),
    )  # fmt: skip
    for i, o in enumerate(result.objectives):
        store.sql(
            "INSERT INTO measurements (run_id, position, objective, kind, probe, target, "
            "measured, met, credit, weight, critical, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.run_id, i, o.name, o.kind.value, o.probe, o.target, o.measured,
             int(o.met), o.credit, o.weight, int(o.critical), o.detail),
        )  # fmt: skip


def v5_store(store: StoreUnderTest) -> None:
    """``store`` (SQLite or PostgreSQL) as gameday 5 left it: today's tables, version 5, rows
    with every abort scored 0 / F."""
    HistoryStore(store.location).close()
    store.set_version(5)
    for result in v5_runs().values():
        _insert_run(store, result)
    # What the reaper of version 5 wrote: no result, no end, 0 / F.
    store.sql(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, score, grade, "
        "reason, writer_host, writer_boot, writer_pid, writer_start, writer_pid_namespace) "
        "VALUES (?, 'identity-loss', 'embedded', 'aborted', ?, 0.0, 'F', ?, 'runner-7', "
        "'boot-1', 4242, '123456', 'pid:[4026531836]')",
        (REAPED_ID, REAPED_AT, REAPER_REASON),
    )


def _contents(store: StoreUnderTest) -> list[tuple[object, ...]]:
    return store.sql("SELECT * FROM runs ORDER BY run_id") + store.sql(
        "SELECT * FROM measurements ORDER BY run_id, position"
    )


def check_v5_migration(store: StoreUnderTest) -> None:
    """Open the version 5 store in ``store``: the two aborts that were not a guardrail's lose
    their score and grade (columns and result JSON), the rest stays; reads leave them out; a
    second open changes nothing."""
    measured = store.sql("SELECT run_id, COUNT(*) FROM measurements GROUP BY run_id ORDER BY 1")
    _check_reads(store)  # the first open migrates
    assert store.version() == LATEST_VERSION == 6
    _check_rows(store)
    assert store.sql("SELECT run_id, COUNT(*) FROM measurements GROUP BY run_id ORDER BY 1") == (
        measured
    )
    # Opened again, as it is or set back to version 5: the step finds nothing left to change.
    migrated = _contents(store)
    HistoryStore(store.location).close()
    assert _contents(store) == migrated
    store.set_version(5)
    HistoryStore(store.location).close()
    assert _contents(store) == migrated
    assert store.version() == 6


def _check_rows(store: StoreUnderTest) -> None:
    """The columns and the result JSON of the three aborts."""
    runs = v5_runs()
    signal, guardrail = runs["signal"], runs["guardrail"]
    found = store.sql("SELECT run_id, score, grade, result FROM runs")
    columns = {run_id: (score, grade, result) for run_id, score, grade, result in found}
    unscored = signal.model_copy(update={"score": None, "grade": None})
    # Byte for byte as the writer serialises it, with only the two values cleared.
    assert columns[signal.run_id] == (None, None, unscored.model_dump_json())
    assert columns[REAPED_ID] == (None, None, None)
    assert columns[guardrail.run_id] == (0.0, "F", guardrail.model_dump_json())
    with HistoryStore(store.location) as history:
        assert history.get(signal.run_id) == unscored
        assert history.get(guardrail.run_id) == guardrail


def _check_reads(store: StoreUnderTest) -> None:
    """``gameday history``, the trend and the posture's runs, as gameday.history.query reads
    them: the unscored aborts are listed, and no mean or change counts them."""
    runs = v5_runs()
    signal, guardrail = runs["signal"], runs["guardrail"]
    rows = {row.run_id: row for row in read_runs(store.location)}
    for run_id, reason in ((signal.run_id, SIGNAL_REASON), (REAPED_ID, REAPER_REASON)):
        row = rows[run_id]
        assert (row.status, row.score, row.grade, row.reason) == (
            HistoryStatus.ABORTED, None, None, reason
        )  # fmt: skip
    assert (rows[guardrail.run_id].score, rows[guardrail.run_id].grade) == (0.0, Grade.F)
    # `gameday history`'s change column: against the last scored run, not a false 0.
    after = rows[runs["after"].run_id]
    assert after.previous_score == runs["before"].score
    assert after.delta == 0.0

    past = past_runs(store.location, ["identity-loss", "logging-loss"], limit=10)
    assert past.trend is not None
    assert past.trend["identity-loss"] == [
        (runs["before"].started_at, runs["before"].score),
        (signal.started_at, None),
        (REAPED_AT, None),
        (runs["after"].started_at, runs["after"].score),
    ]
    assert trend_delta(past.trend["identity-loss"]) == 0.0
    assert past.trend["logging-loss"] == [(guardrail.started_at, 0.0)]
    finished = {run.run_id: run.score for run in read_finished_runs(store.location, ())}
    assert (finished[signal.run_id], finished[REAPED_ID]) == (None, None)


def test_a_v5_store_unscores_the_aborts_no_guardrail_made(tmp_path: Path) -> None:
    store = StoreUnderTest("sqlite", tmp_path / "history.db", tmp_path)
    v5_store(store)
    check_v5_migration(store)
