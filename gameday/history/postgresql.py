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

A connection lost under a living process (a server restart or failover, an idle session
killed, ``pg_terminate_backend``) is opened again on the next statement (``RECONNECT``), and
the statement runs again when that is safe: a statement on its own, never one inside an
explicit transaction, which fails whole instead (its caller rolls back; the ROLLBACK of a
transaction that went with its connection has nothing left to do). The session locks went
with the old connection: the new one takes them again, and one that another session took in
the meantime is reported (``LockLostError``), never given up in silence.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg.adapt import Dumper
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from gameday.errors import InvalidInputError
from gameday.history.database import Dialect, Params, Rows
from gameday.history.location import StoreLocation
from gameday.retrying import Backoff, retry_call

CONNECT_TIMEOUT_S = 10
"""libpq's ``connect_timeout`` unless the URL sets one: an unreachable store fails in time."""
RECONNECT = Backoff(deadline_s=10.0, max_attempts=4, first_delay_s=0.5, max_delay_s=4.0)
"""How a lost connection is opened again: 4 attempts at most, none started later than 10 s
after the first, each bounded by ``connect_timeout`` (a refused connection fails at once)."""

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_DDL = re.compile(r"^\s*(?:CREATE|ALTER)\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")
_INT4_OID = 23
_UNREACHABLE = "check that the PostgreSQL server is up and reachable"
# One advisory lock in pg_locks: a bigint key is classid (high half) and objid (low half).
_THE_LOCK = (
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = %s AND l.objid::bigint = %s"
)
_HOLDER = (
    "SELECT a.application_name, l.pid FROM pg_locks AS l "
    f"LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid WHERE {_THE_LOCK}"
)

T = TypeVar("T")
Connection = psycopg.Connection[tuple[object, ...]]


class HistoryStoreError(InvalidInputError):
    """The PostgreSQL store could not be reached or answered with a failure of its own."""


class LockLostError(HistoryStoreError):
    """A session lock of this connection is gone: it went with a lost connection and another
    session took it before this one could take it again. ``holder`` names that session."""

    def __init__(self, message: str, holder: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.holder = holder


class _BoolAsInteger(Dumper):
    """A bool as SQLite stores it: 1 or 0, into the store's INTEGER columns."""

    oid = _INT4_OID

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class _NoRows:
    """What a statement that had nothing left to do gives back (``Rows``)."""

    rowcount = -1
    description = None

    def fetchone(self) -> Any:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


@dataclass(frozen=True, slots=True)
class _Hold:
    """A session lock this connection holds, and how it was taken: by waiting for it (a
    run's writer), or only when free (a scheduler, a reaper)."""

    key: int
    wait: bool


def postgresql_sql(sql: str) -> str:
    """``sql`` as written for SQLite, in psycopg's spelling (and DDL types)."""
    sql = sql.replace("%", "%%").replace("?", "%s")
    sql = _NAMED.sub(r"%(\1)s", sql)
    return _REAL.sub("DOUBLE PRECISION", sql) if _DDL.match(sql) else sql


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _verb(sql: str) -> str:
    return sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""


def _halves(key: int) -> tuple[int, int]:
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


def lock_key(*names: str) -> int:
    """A signed 64-bit advisory lock key for ``names`` (PostgreSQL's bigint lock space)."""
    digest = hashlib.blake2b(":".join(("gameday", *names)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresDatabase:
    """A PostgreSQL store's connection, in autocommit mode (each write opens its own
    transaction), opened again by ``reconnect`` when it is lost."""

    dialect = Dialect.POSTGRESQL
    begin = "BEGIN"
    errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def __init__(
        self,
        connection: Connection,
        where: str,
        reconnect: Callable[[], Connection],
        backoff: Backoff = RECONNECT,
    ) -> None:
        self._db = connection
        self.where = where
        self._reconnect_with, self._backoff = reconnect, backoff
        self._held: dict[tuple[str, ...], _Hold] = {}
        self._lost_transaction = False
        self.schema = str(self._plain("SELECT current_schema()").fetchone()[0])

    def _failure(self, error: Exception, detail: str = "") -> HistoryStoreError:
        return HistoryStoreError(
            f"{self.where}: the history store failed: {_first_line(error)}{detail}",
            hint=_UNREACHABLE,
        )

    def _plain(self, sql: str, params: Params = ()) -> Rows:
        if _verb(sql) == "ROLLBACK":
            return self._rollback(sql)
        return self._run(lambda db: db.execute(sql, params), commit=_verb(sql) == "COMMIT")

    def _rollback(self, sql: str) -> Rows:
        # A transaction that went with its connection is rolled back already: a ROLLBACK
        # that fails for that reason would only hide the error that ended the transaction.
        self._lost_transaction = False
        if self._db.broken:
            return _NoRows()
        try:
            return self._db.execute(sql)
        except psycopg.OperationalError as error:
            if self._db.broken:
                return _NoRows()
            raise self._failure(error) from None

    def _run(self, action: Callable[[Connection], T], *, commit: bool = False) -> T:
        """``action`` on the connection; on a connection lost outside a transaction, once
        more on a new one. Inside one, the transaction fails: it is gone, and a statement
        run again on its own would write half of it."""
        if self._lost_transaction:
            raise HistoryStoreError(
                f"{self.where}: the connection to the history store was lost in the middle of "
                "a transaction, which must be rolled back before anything else runs",
                hint="this is a bug in gameday: a transaction went on after its statement failed",
            )
        if self._db.broken:
            self._reconnect("the connection was lost")
        idle = self._db.info.transaction_status == TransactionStatus.IDLE
        try:
            return action(self._db)
        except psycopg.OperationalError as error:
            if not self._db.broken:
                raise self._failure(error) from None  # the server's answer, on a live session
            if not idle:
                self._lost_transaction = not commit
                raise self._failure(
                    error,
                    "; the connection went at COMMIT: the write may or may not be stored"
                    if commit
                    else "; the transaction went with the connection: none of it is stored",
                ) from None
            self._reconnect(_first_line(error))
        try:
            return action(self._db)
        except psycopg.OperationalError as error:
            raise self._failure(error) from None

    def _reconnect(self, why: str) -> None:
        """A new connection in place of the lost one (``RECONNECT``), holding its locks."""
        attempts = 0

        def attempt() -> Connection:
            nonlocal attempts
            attempts += 1
            return self._reconnect_with()

        try:
            connection = retry_call(
                attempt,
                transient=lambda error: isinstance(error, psycopg.OperationalError),
                backoff=self._backoff,
            )
        except psycopg.Error as error:
            raise HistoryStoreError(
                f"{self.where}: the history store failed: {why}; {attempts} attempt(s) to "
                f"reconnect failed, the last: {_first_line(error)}",
                hint=_UNREACHABLE,
            ) from None
        self._db.close()
        self._db = connection
        self._retake()

    def _retake(self) -> None:
        lost: list[tuple[tuple[str, ...], str]] = []
        try:
            for names, hold in list(self._held.items()):
                if not self._take(hold):
                    del self._held[names]
                    lost.append((names, _named(self._db.execute(_HOLDER, _halves(hold.key)))))
        except psycopg.OperationalError as error:
            raise self._failure(error, "; while taking its locks again") from None
        if lost:
            taken = ", ".join(f"the {' '.join(names)} lock to {holder}" for names, holder in lost)
            raise LockLostError(
                f"{self.where}: the connection to the history store was lost, and another "
                f"session took {taken} before this one could take it again",
                lost[0][1],
                hint="another process took over what this one was doing: see which one above",
            )

    def _take(self, hold: _Hold) -> bool:
        if not hold.wait:
            row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (hold.key,)).fetchone()
            return bool(row and row[0])
        try:
            self._db.execute("SELECT pg_advisory_lock(%s)", (hold.key,))
        except psycopg.errors.LockNotAvailable:
            return False  # held past lock_timeout: not a reaper's moment, someone else's
        return True

    def execute(self, sql: str, params: Params = ()) -> Rows:
        return self._plain(postgresql_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = list(rows)
        if not batch:
            return

        def insert(db: Connection) -> None:
            with db.cursor() as cursor:
                cursor.executemany(postgresql_sql(sql), batch)

        self._run(insert)

    def key(self, *names: str) -> int:
        """The lock key of ``names`` in this store (its schema)."""
        return lock_key(self.schema, *names)

    def try_lock(self, key: int) -> bool:
        """Take the session advisory lock ``key`` if nobody holds it (not taken again after
        a reconnect: ``try_hold`` is)."""
        return bool(self._plain("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])

    def try_hold(self, *names: str) -> str | None:
        """Take the session lock of ``names`` if nobody holds it, for as long as this
        connection lives, a lost one reopened included; None, or its holder (``holder``)."""
        key = self.key(*names)
        if not self.try_lock(key):
            return self.holder(key)
        self._held[names] = _Hold(key, wait=False)
        return None

    def confirm(self, *names: str) -> None:
        """Make sure this session holds the lock of ``names`` (``try_hold``): it is checked in
        ``pg_locks`` (reopening a lost connection takes it again), and taken again if it is
        free. LockLostError naming its holder when another session has it."""
        key = self.key(*names)
        if names in self._held:
            row = self._plain(
                f"SELECT EXISTS (SELECT 1 FROM pg_locks AS l WHERE l.pid = pg_backend_pid() "
                f"AND {_THE_LOCK})",
                _halves(key),
            ).fetchone()
            if row[0]:
                return
        if self.try_lock(key):
            self._held[names] = _Hold(key, wait=False)
            return
        self._held.pop(names, None)
        holder = self.holder(key)
        raise LockLostError(
            f"{self.where}: this session no longer holds the {' '.join(names)} lock: {holder} "
            "holds it",
            holder,
        )

    def holder(self, key: int) -> str:
        """Who holds the advisory lock ``key``: its session's application name (gameday
        sets ``gameday (pid N on HOST)``) and backend pid, as far as this role may see."""
        return _named(self._plain(_HOLDER, _halves(key)))

    def hold_run(self, run_id: str) -> None:
        key = self.key("run", run_id)
        self._plain("SELECT pg_advisory_lock(%s)", (key,))
        self._held["run", run_id] = _Hold(key, wait=True)

    def release_run(self, run_id: str) -> None:
        hold = self._held.pop(("run", run_id), None)
        if hold is not None and not self._db.closed:  # a lost connection took it already
            self._plain("SELECT pg_advisory_unlock(%s)", (hold.key,))

    def run_is_free(self, run_id: str) -> bool | None:
        if ("run", run_id) in self._held:
            return False  # this very connection writes it (a lock is re-entrant in a session)
        key = self.key("run", run_id)
        if not self.try_lock(key):
            return False
        self._held["run", run_id] = _Hold(key, wait=False)
        return True

    def close(self) -> None:
        self._db.close()


def _named(rows: Rows) -> str:
    row = rows.fetchone()
    if row is None:
        return "a session that has just ended"
    name, pid = row
    return f"{name or 'a session'} (server pid {pid})"


def _conninfo(url: str, role: str) -> str:
    """``url`` with a connect timeout and a session name, unless it sets them itself."""
    given = conninfo_to_dict(url)
    extra: dict[str, str | int] = {}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        extra["application_name"] = f"{role} (pid {os.getpid()} on {socket.gethostname()})"[:63]
    return make_conninfo(url, **extra)


def _connector(conninfo: str, busy_timeout_s: float) -> Callable[[], Connection]:
    """A function that opens one session of the store, set up as every session is."""

    def connect() -> Connection:
        connection = psycopg.connect(conninfo, autocommit=True)
        connection.adapters.register_dumper(bool, _BoolAsInteger)
        try:
            connection.execute(
                "SELECT set_config('lock_timeout', %s, false)",
                (f"{int(busy_timeout_s * 1000)}ms",),
            )
        except BaseException:
            connection.close()
            raise
        return connection

    return connect


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
        connect = _connector(_conninfo(location.url, role), busy_timeout_s)
        connection = connect()
    except (psycopg.Error, ValueError) as error:
        raise InvalidInputError(
            f"{where}: cannot open the history store: {_first_line(error)}", hint=hint
        ) from None
    try:
        return PostgresDatabase(connection, where, connect)
    except BaseException:
        connection.close()
        raise


class AdvisoryLock:
    """A store's session advisory lock, held on a connection of its own (``advisory_lock``)."""

    def __init__(self, db: PostgresDatabase, name: str) -> None:
        self._db, self._name = db, name

    def confirm(self) -> str | None:
        """None while this session holds the lock (taken again on a reopened connection);
        the holder when another session has it now. HistoryStoreError when the store cannot
        tell (unreachable). One caller at a time: a connection is not shared by threads."""
        try:
            self._db.confirm(self._name)
        except LockLostError as error:
            return error.holder
        except psycopg.Error as error:
            raise HistoryStoreError(
                f"{self._db.where}: cannot check the {self._name} lock: {_first_line(error)}",
                hint=_UNREACHABLE,
            ) from None
        return None


@contextmanager
def advisory_lock(location: StoreLocation, name: str, role: str) -> Iterator[AdvisoryLock | str]:
    """Hold the store's session advisory lock ``name`` on a connection of its own for the
    ``with`` block: yields the held lock, or the holder (``PostgresDatabase.holder``) when
    another session has it (then nothing is held). The lock ends with the connection, on every
    exit of the process, SIGKILL included; a connection lost under a living process is
    reopened and the lock taken again (``AdvisoryLock.confirm``)."""
    db = open_postgresql(location, busy_timeout_s=5.0, role=role)
    try:
        holder = db.try_hold(name)
        yield AdvisoryLock(db, name) if holder is None else holder
    finally:
        db.close()
