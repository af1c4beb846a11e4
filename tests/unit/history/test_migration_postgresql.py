"""The same migrations in a real PostgreSQL: from empty, and from each older version a
PostgreSQL store can have (the layouts of test_migration.py, written by hand as each version
wrote them), to exactly the schema of a new store."""

from __future__ import annotations

import re

import pytest

from gameday.errors import InvalidInputError
from gameday.history import LATEST_VERSION, HistoryStore, SkipReason
from gameday.history.schema import FIRST_POSTGRESQL_VERSION
from tests.history_stores import StoreUnderTest
from tests.unit.history.test_migration import V1_LAYOUT, V1_SCHEDULER_SKIPS, V3_LAYOUT
from tests.unit.reports.runs import met_and_missed

V4_LAYOUT = V3_LAYOUT.replace("'not-steady')", "'not-steady', 'inconclusive')").replace(
    "PRAGMA user_version = 3;", "PRAGMA user_version = 4;"
)
LAYOUTS = {1: V1_LAYOUT + V1_SCHEDULER_SKIPS, 3: V3_LAYOUT, 4: V4_LAYOUT}
EVIDENCE = ("time_to_impact", "recovered_during_fault", "impact_start", "recovered_at")


def _statements(script: str) -> list[str]:
    found = [s.strip() for s in script.split(";")]
    return [s for s in found if s and not s.upper().startswith("PRAGMA")]


def _old_store(store: StoreUnderTest, version: int) -> None:
    """A PostgreSQL store as gameday ``version`` wrote it, with one finished run."""
    for statement in _statements(LAYOUTS[version]):
        store.sql(statement)
    store.set_version(version)
    result = met_and_missed()
    store.sql(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, ended_at, score, "
        "grade, reason, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (result.run_id, result.scenario.name, result.environment, result.status.value,
         result.started_at, result.ended_at, result.score,
         result.grade.value if result.grade else None, result.reason,
         result.model_dump_json()),
    )  # fmt: skip
    for i, o in enumerate(result.objectives):
        store.sql(
            "INSERT INTO measurements (run_id, position, objective, kind, probe, target, "
            "measured, met, credit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.run_id, i, o.name, o.kind.value, o.probe, o.target, o.measured,
             int(o.met), o.credit),
        )  # fmt: skip
    if version >= 3:  # the writer of version 3 recorded these itself
        for i, o in enumerate(result.objectives):
            store.sql(
                "UPDATE measurements SET weight = ?, critical = ?, detail = ? WHERE position = ?",
                (o.weight, int(o.critical), o.detail, i),
            )


@pytest.fixture
def store(postgresql_url: str, tmp_path: object) -> StoreUnderTest:
    return StoreUnderTest("postgresql", postgresql_url, tmp_path)  # type: ignore[arg-type]


def test_an_empty_database_becomes_a_store_at_the_latest_version(store: StoreUnderTest) -> None:
    HistoryStore(store.location).close()
    assert store.version() == LATEST_VERSION
    tables = {row[0] for row in store.tables()}
    assert {"runs", "measurements", "schedule_skips", "gameday_schema"} <= tables
    # SQLite's REAL is 8 bytes: PostgreSQL's must be too, or a score would lose digits.
    types = {(row[0], row[1]): row[2] for row in store.tables() if len(row) == 5}
    assert types["runs", "score"] == types["measurements", "target"] == "double precision"


@pytest.mark.parametrize("version", sorted(LAYOUTS))
def test_an_older_store_is_migrated_with_its_runs(store: StoreUnderTest, version: int) -> None:
    _old_store(store, version)
    result = met_and_missed()
    with HistoryStore(store.location) as history:
        assert history.get(result.run_id) == result
        (row,) = history.runs()
        skips = history.skips()
    assert list(row.measurements) == [
        o.model_copy(update=dict.fromkeys(EVIDENCE)) for o in result.objectives
    ]
    assert (row.owner, row.capabilities) == (result.scenario.owner, result.scenario.capabilities)
    assert [(s.scenario, s.reason) for s in skips] == (
        [("identity-loss", SkipReason.BUSY)] if version == 1 else []
    )
    assert store.version() == LATEST_VERSION
    new = store.another("fresh")
    HistoryStore(new.location).close()
    assert store.tables() == new.tables()


def test_a_failed_migration_leaves_the_store_as_it_was(store: StoreUnderTest) -> None:
    # A skips table that is not gameday's: the step fails, and its transaction takes back
    # every change made before it, the version included.
    _old_store(store, 3)
    store.sql("DROP TABLE schedule_skips")
    store.sql("CREATE TABLE schedule_skips (something TEXT)")
    store.sql("UPDATE gameday_schema SET version = 1")
    with pytest.raises(InvalidInputError) as caught:
        HistoryStore(store.location)
    assert re.match(r"postgresql://gameday:\[redacted\]@.*: not a gameday history store: ",
                    caught.value.message)  # fmt: skip
    assert store.version() == 1
    assert "weight" in {row[1] for row in store.tables() if row[0] == "measurements"}
    assert store.sql("SELECT COUNT(*) FROM runs")[0][0] == 1


def test_a_version_gameday_never_wrote_to_postgresql_is_refused(store: StoreUnderTest) -> None:
    _old_store(store, 1)
    store.set_version(FIRST_POSTGRESQL_VERSION - 1)
    with pytest.raises(InvalidInputError, match="history schema version 0 was never written"):
        HistoryStore(store.location)
