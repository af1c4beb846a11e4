"""A history store in PostgreSQL, for a fleet of runners (docs/fleet.md).

The store's SQL is written once in SQLite's spelling; this connection reads it as PostgreSQL:
``?`` and ``:name`` parameters become psycopg's ``%s`` and ``%(name)s``, a ``REAL`` column is
created as ``DOUBLE PRECISION`` (SQLite's REAL is 8 bytes, PostgreSQL's 4), and a Python bool
is sent as 1 or 0, as SQLite stores it. psycopg 3 rather than SQLAlchemy Core: the SQL exists
and is plain, so a driver and these few rules are all it takes, without a second query
language or an engine layer.

The password is libpq's business: the URL, ``PGPASSWORD``, ``~/.pgpass`` (``PGPASSFILE``),
``PGSERVICE`` and the other ``PG*`` variables are read by libpq itself, and messages name the
store by its redacted URL.

A session advisory lock stands for a run's writer (``hold_run``): it is held on the writer's
connection from the transaction that records the run until the run is final, and PostgreSQL
drops it when that connection ends, however its process ended, on whatever host it ran. So a
run whose lock is free has lost its writer (``run_is_free``). Locks are keyed by the store's
schema as well as the name, so two stores in one database never share one.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg.adapt import Dumper
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from gameday.errors import InvalidInputError
from gameday.history.database import Dialect, Params, Rows
from gameday.history.location import StoreLocation

CONNECT_TIMEOUT_S = 10
"""libpq's ``connect_timeout`` unless the URL sets one: an unreachable store fails in time."""

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_DDL = re.compile(r"^\s*(?:CREATE|ALTER)\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")
_INT4_OID = 23


class HistoryStoreError(InvalidInputError):
    """The PostgreSQL store could not be reached or answered with a failure of its own."""


class _BoolAsInteger(Dumper):
    """A bool as SQLite stores it: 1 or 0, into the store's INTEGER columns."""

    oid = _INT4_OID

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


def postgresql_sql(sql: str) -> str:
    """``sql`` as written for SQLite, in psycopg's spelling (and DDL types)."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    sql = _NAMED.sub(r"%(\1)s", sql)
    return _REAL.sub("DOUBLE PRECISION", sql) if _DDL.match(sql) else sql


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def lock_key(*names: str) -> int:
    """A signed 64-bit advisory lock key for ``names`` (PostgreSQL's bigint lock space)."""
    digest = hashlib.blake2b(":".join(("gameday", *names)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresDatabase:
    """A PostgreSQL store's connection, in autocommit mode (each write opens its own
    transaction)."""

    dialect = Dialect.POSTGRESQL
    begin = "BEGIN"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(self, connection: psycopg.Connection[tuple[object, ...]], where: str) -> None:
        self._db = connection
        self.where = where
        self._held: dict[str, int] = {}
        self.schema = str(self._plain("SELECT current_schema()").fetchone()[0])

    def _plain(self, sql: str, params: Params = ()) -> Rows:
        try:
            return self._db.execute(sql, params)
        except psycopg.OperationalError as error:
            raise HistoryStoreError(
                f"{self.where}: the history store failed: {_first_line(error)}",
                hint="check that the PostgreSQL server is up and reachable",
            ) from None

    def execute(self, sql: str, params: Params = ()) -> Rows:
        return self._plain(postgresql_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = list(rows)
        if not batch:
            return
        try:
            with self._db.cursor() as cursor:
                cursor.executemany(postgresql_sql(sql), batch)
        except psycopg.OperationalError as error:
            raise HistoryStoreError(
                f"{self.where}: the history store failed: {_first_line(error)}",
                hint="check that the PostgreSQL server is up and reachable",
            ) from None

    def key(self, *names: str) -> int:
        """The lock key of ``names`` in this store (its schema)."""
        return lock_key(self.schema, *names)

    def try_lock(self, key: int) -> bool:
        """Take the session advisory lock ``key`` if nobody holds it."""
        return bool(self._plain("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])

    def holder(self, key: int) -> str:
        """Who holds the advisory lock ``key``: its session's application name (gameday
        sets ``gameday (pid N on HOST)``) and backend pid, as far as this role may see."""
        row = self._plain(
            "SELECT a.application_name, l.pid FROM pg_locks AS l "
            "LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchone()
        if row is None:
            return "a session that has just ended"
        name, pid = row
        return f"{name or 'a session'} (server pid {pid})"

    def hold_run(self, run_id: str) -> None:
        key = self.key("run", run_id)
        self._plain("SELECT pg_advisory_lock(%s)", (key,))
        self._held[run_id] = key

    def release_run(self, run_id: str) -> None:
        key = self._held.pop(run_id, None)
        if key is not None and not self._db.closed:
            self._plain("SELECT pg_advisory_unlock(%s)", (key,))

    def run_is_free(self, run_id: str) -> bool | None:
        if run_id in self._held:
            return False  # this very connection writes it (a lock is re-entrant in a session)
        key = self.key("run", run_id)
        if not self.try_lock(key):
            return False
        self._held[run_id] = key
        return True

    def close(self) -> None:
        self._db.close()


def _conninfo(url: str, role: str) -> str:
    """``url`` with a connect timeout and a session name, unless it sets them itself."""
    given = conninfo_to_dict(url)
    extra: dict[str, str | int] = {}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        extra["application_name"] = f"{role} (pid {os.getpid()} on {socket.gethostname()})"[:63]
    return make_conninfo(url, **extra)


def open_postgresql(
    location: StoreLocation, busy_timeout_s: float, role: str = "gameday"
) -> PostgresDatabase:
    """A connection to the PostgreSQL store at ``location.url`` (the database must exist;
    gameday creates its tables). ``busy_timeout_s`` bounds every lock wait, as SQLite's busy
    timeout does; ``role`` names the session in ``pg_stat_activity``."""
    assert location.url is not None  # a PostgreSQL location has a URL
    where = location.shown
    hint = (
        "check the URL, that the server is reachable and the database exists; the password "
        "comes from the URL, PGPASSWORD or ~/.pgpass"
    )
    try:
        connection = psycopg.connect(_conninfo(location.url, role), autocommit=True)
    except (psycopg.Error, ValueError) as error:
        raise InvalidInputError(
            f"{where}: cannot open the history store: {_first_line(error)}", hint=hint
        ) from None
    connection.adapters.register_dumper(bool, _BoolAsInteger)
    try:
        connection.execute(
            "SELECT set_config('lock_timeout', %s, false)", (f"{int(busy_timeout_s * 1000)}ms",)
        )
        return PostgresDatabase(connection, where)
    except BaseException:
        connection.close()
        raise


@contextmanager
def advisory_lock(location: StoreLocation, name: str, role: str) -> Iterator[str | None]:
    """Hold the store's session advisory lock ``name`` on a connection of its own for the
    ``with`` block: yields None, or the holder (``PostgresDatabase.holder``) when another
    session has it (then nothing is held). The lock ends with the connection, on every exit
    of the process, SIGKILL included."""
    db = open_postgresql(location, busy_timeout_s=5.0, role=role)
    try:
        key = db.key(name)
        yield None if db.try_lock(key) else db.holder(key)
    finally:
        db.close()
