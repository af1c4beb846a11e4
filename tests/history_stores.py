"""The history tests run on both stores: a SQLite file and a real PostgreSQL database.

``where`` (parametrised: ``sqlite``, ``postgresql``) is a store location as ``--store`` takes
it, with raw SQL access for the tests that write what gameday never would (a row from another
host, a version from the future). Conftests import the fixture.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest


@dataclass
class StoreUnderTest:
    """One store of a test: ``location`` for ``HistoryStore`` / ``--store``."""

    dialect: str
    location: str | Path
    _root: Path
    _schemas: list[str] = field(default_factory=list)

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement (SQLite's spelling) in its own transaction; its rows."""
        if self.is_postgresql:
            import psycopg

            from gameday.history.postgresql import postgresql_sql

            with psycopg.connect(str(self.location), autocommit=True) as db:
                cursor = db.execute(postgresql_sql(statement), params)  # type: ignore[arg-type]
                return list(cursor.fetchall()) if cursor.description else []
        db = sqlite3.connect(self.location)
        try:
            rows = db.execute(statement, params).fetchall()
            db.commit()
        finally:
            db.close()
        return rows

    def version(self) -> int:
        """The schema version the store says it has."""
        if self.is_postgresql:
            return int(self.sql("SELECT version FROM gameday_schema")[0][0])
        return int(self.sql("PRAGMA user_version")[0][0])

    def set_version(self, version: int) -> None:
        """Write a schema version as another gameday would (the store is created if new)."""
        if self.is_postgresql:
            self.sql("CREATE TABLE IF NOT EXISTS gameday_schema (version INTEGER NOT NULL)")
            self.sql("DELETE FROM gameday_schema")
            self.sql("INSERT INTO gameday_schema VALUES (?)", (version,))
        else:
            self.sql(f"PRAGMA user_version = {version}")

    def another(self, name: str) -> StoreUnderTest:
        """Another empty store of the same kind: a file beside, or a schema of the same
        database (``search_path``), which is a store of its own."""
        if not self.is_postgresql:
            return StoreUnderTest(self.dialect, self._root / f"{name}.db", self._root)
        self.sql(f"CREATE SCHEMA {name}")
        url = f"{self.location}?options=-csearch_path%3D{name}"
        return StoreUnderTest(self.dialect, url, self._root)

    def tables(self) -> list[tuple[str, ...]]:
        """Each table's columns (name, type, not null, default) and each index, for
        comparing two stores' schemas."""
        if self.is_postgresql:
            return self.sql(
                "SELECT table_name, column_name, data_type, is_nullable, "
                "COALESCE(column_default, '') FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY table_name, column_name"
            ) + self.sql(
                "SELECT indexname, regexp_replace(indexdef, ' ON [a-z_]+\\.', ' ON ') "
                "FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname"
            ) + self.sql(
                "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint AS c "
                "JOIN pg_namespace AS n ON n.oid = c.connamespace "
                "WHERE n.nspname = current_schema() ORDER BY conname"
            )  # fmt: skip
        return self.sql("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """A store location of each kind, not created yet (SQLite) or empty (PostgreSQL)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgresql_url")
        yield StoreUnderTest("postgresql", url, tmp_path)
    else:
        yield StoreUnderTest("sqlite", tmp_path / "nested" / "history.db", tmp_path)
