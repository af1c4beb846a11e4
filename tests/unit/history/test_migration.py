"""Migration from schema 0, the prototype layout, written here by hand as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gameday.history import HistoryStatus, HistoryStore
from gameday.kinds import Grade, ObjectiveKind
from tests.unit.reports.runs import met_and_missed, synthetic

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
        assert [(m.objective, m.kind, m.measured, m.met) for m in migrated.measurements] == [
            (o.name, o.kind, o.measured, o.met) for o in result.objectives
        ]
        assert migrated.measurements[1].kind is ObjectiveKind.RTO
        assert store.get(result.run_id) == result
        not_steady = rows[synthetic()["not-steady"].run_id]
        assert not_steady.status is HistoryStatus.NOT_STEADY
        assert not_steady.reason == synthetic()["not-steady"].reason
        # A v0 row left running has no writer to check: it is closed as aborted, and says why.
        old = rows["old-running"]
        assert (old.status, old.score, old.grade) == (HistoryStatus.ABORTED, 0.0, Grade.F)
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
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()


def test_opening_a_migrated_store_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v0_store(path)
    with HistoryStore(path) as store:
        first = store.runs()
    with HistoryStore(path) as store:
        assert store.runs() == first
