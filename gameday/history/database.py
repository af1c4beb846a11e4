"""One connection to a history store, whichever database holds it.

The store and its migrations write their SQL once, in SQLite's spelling (``?`` and
``:name`` parameters, ``TEXT``/``INTEGER``/``REAL`` columns), and run it through a
``Database``: SQLite's own connection here, or ``gameday.history.postgresql`` for a fleet
store. What the two cannot share is on this protocol: how a write transaction begins, and
how a run's writer is known to be alive beyond its host (a PostgreSQL advisory lock).

A statement's failure ends its transaction for the caller, who rolls back: a PostgreSQL
connection lost in the middle of one is reopened only for the next statement on its own, so
no transaction is ever half run (``gameday.history.postgresql``).

Usage::

    db = open_sqlite(store_location(Path("history.db")), busy_timeout_s=30)
    db.execute(db.begin); db.execute("INSERT ..."); db.execute("COMMIT")
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from gameday.errors import InvalidInputError
from gameday.history.location import StoreLocation

Params = Sequence[Any] | Mapping[str, Any]


class Dialect(StrEnum):
    """The database behind a store."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class Rows(Protocol):
    """What a statement gives back (a DB-API cursor)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """A store's connection, in autocommit mode: each write is one explicit transaction,
    opened with ``begin`` and closed with ``COMMIT`` or ``ROLLBACK``."""

    dialect: Dialect
    begin: str
    errors: tuple[type[Exception], ...]
    """The driver's errors: a broken or foreign store, a lost server."""

    def execute(self, sql: str, params: Params = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    def hold_run(self, run_id: str) -> None:
        """Mark ``run_id`` as written by this connection for as long as it lives (inside
        the transaction that records the run)."""

    def release_run(self, run_id: str) -> None:
        """The run is final: drop what ``hold_run`` took."""

    def run_is_free(self, run_id: str) -> bool | None:
        """Whether no live connection holds the run (its writer is gone, wherever it ran);
        None when this database cannot tell. True leaves the run held by this connection
        until ``release_run``, so that its writer cannot come back in between."""

    def close(self) -> None: ...


class SqliteDatabase:
    """A SQLite store in WAL mode: readers go on while one process writes, and the busy
    timeout makes a second writer wait for the first instead of failing."""

    dialect = Dialect.SQLITE
    # IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    # instead of failing on a lock upgrade.
    begin = "BEGIN IMMEDIATE"
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def execute(self, sql: str, params: Params = ()) -> Rows:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._db.executemany(sql, rows)

    def hold_run(self, run_id: str) -> None:
        """Nothing to hold: a SQLite run's writer is checked on its host (``writer``)."""

    def release_run(self, run_id: str) -> None:
        """Nothing was held."""

    def run_is_free(self, run_id: str) -> bool | None:
        return None

    def close(self) -> None:
        self._db.close()


def open_sqlite(location: StoreLocation, busy_timeout_s: float) -> SqliteDatabase:
    """The SQLite store at ``location.path``, created with its folders when missing."""
    path = location.path
    assert path is not None  # a location without a URL has a path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
    except (OSError, sqlite3.Error) as error:
        raise InvalidInputError(
            f"{path}: cannot open the history store: {error}",
            hint="give a writable path with --store or GAMEDAY_STORE",
        ) from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise InvalidInputError(
                f"{path}: SQLite refused WAL mode (journal mode {mode})",
                hint="put the store on a local file system (WAL does not work over NFS/SMB)",
            )
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise InvalidInputError(
            f"{path}: not a gameday history store: {error}",
            hint="give another path with --store or GAMEDAY_STORE",
        ) from None
    except BaseException:
        connection.close()
        raise
    return SqliteDatabase(connection)
