"""History schema 6 in a real PostgreSQL: a store that gameday 5 left, with its aborts all
scored 0 / F, migrates as a SQLite one does (the same plain-SQL step, the same checks as
tests/unit/history/test_migration.py)."""

from __future__ import annotations

from pathlib import Path

from tests.history_stores import StoreUnderTest
from tests.unit.history.test_migration import check_v5_migration, v5_store


def test_a_postgresql_v5_store_unscores_the_aborts_no_guardrail_made(
    postgresql_url: str, tmp_path: Path
) -> None:
    store = StoreUnderTest("postgresql", postgresql_url, tmp_path)
    v5_store(store)
    assert store.version() == 5
    assert store.sql("SELECT COUNT(*) FROM runs WHERE score = 0.0 AND grade = 'F'") == [(3,)]
    check_v5_migration(store)
