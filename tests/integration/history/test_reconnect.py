"""A PostgreSQL store outlives its connection (a real server): a session ended by
``pg_terminate_backend`` or a server restart is reopened and the next write lands, the run
locks it held are taken again, a transaction cut in the middle fails whole, and a server that
stays down fails in bounded time with the store's own error."""

from __future__ import annotations

import time

import pytest

from gameday.history import HistoryStatus, HistoryStore, store_location
from gameday.history.postgresql import (
    RECONNECT,
    HistoryStoreError,
    lock_key,
    open_postgresql,
)
from gameday.result import RunResult
from tests.integration.history.cluster import Cluster, advisory_holders, terminate_sessions
from tests.postgresql import CANARY_PASSWORD
from tests.unit.reports.runs import met_and_missed

STORE_SESSION = "gameday ("
"""The application name of a store's sessions (``gameday (pid N on HOST)``)."""
STARTED = "2026-11-22T02:00:00Z"


def _result(run_id: str) -> RunResult:
    return met_and_missed().model_copy(update={"run_id": run_id})


def _statuses(url: str) -> dict[str, HistoryStatus]:
    with HistoryStore(url) as reader:
        return {row.run_id: row.status for row in reader.runs()}


def _run_lock_holders(url: str, run_id: str) -> list[int]:
    key = lock_key("public", "run", run_id)
    return [pid for pid, _, granted in advisory_holders(url, key) if granted]


def test_a_terminated_session_is_reopened_and_the_next_writes_land(postgresql_url: str) -> None:
    with HistoryStore(postgresql_url) as store:
        store.start_run("r1", "identity-loss", "embedded", STARTED)
        ended = terminate_sessions(postgresql_url, STORE_SESSION)
        store.finish_run(_result("r1"))
        store.start_run("r2", "identity-loss", "embedded", STARTED)
        terminate_sessions(postgresql_url, STORE_SESSION)
        store.finish_run(_result("r2"))
    assert len(ended) == 1
    assert _statuses(postgresql_url) == {"r1": HistoryStatus.FAILED, "r2": HistoryStatus.FAILED}


def test_a_run_lock_is_taken_again_on_the_new_session(postgresql_url: str) -> None:
    with HistoryStore(postgresql_url) as store:
        store.start_run("r1", "identity-loss", "embedded", STARTED)
        (old,) = _run_lock_holders(postgresql_url, "r1")
        terminate_sessions(postgresql_url, STORE_SESSION)
        assert _run_lock_holders(postgresql_url, "r1") == []  # the writer looks gone here
        assert store.skips() == []  # any statement reopens the session
        (new,) = _run_lock_holders(postgresql_url, "r1")
        other = open_postgresql(store_location(postgresql_url), busy_timeout_s=1)
        try:
            assert other.run_is_free("r1") is False
        finally:
            other.close()
        # Another process opening the store does not finalise the living run as aborted.
        assert _statuses(postgresql_url) == {"r1": HistoryStatus.RUNNING}
        store.finish_run(_result("r1"))
    assert new != old
    assert _run_lock_holders(postgresql_url, "r1") == []  # released once final


def test_a_transaction_cut_in_the_middle_fails_whole(postgresql_url: str) -> None:
    db = open_postgresql(store_location(postgresql_url), busy_timeout_s=5)
    try:
        db.execute("CREATE TABLE t (n INTEGER)")
        db.execute(db.begin)
        db.execute("INSERT INTO t VALUES (1)")
        terminate_sessions(postgresql_url, STORE_SESSION)
        with pytest.raises(HistoryStoreError, match="the transaction went with the connection"):
            db.execute("INSERT INTO t VALUES (2)")
        # Not run on its own on a new session: that would store half of the transaction.
        with pytest.raises(HistoryStoreError, match="must be rolled back"):
            db.execute("INSERT INTO t VALUES (3)")
        db.execute("ROLLBACK")  # nothing left to roll back: no error over the first one
        assert db.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
        db.execute("INSERT INTO t VALUES (4)")
        assert db.execute("SELECT n FROM t").fetchall() == [(4,)]
    finally:
        db.close()


def test_a_server_restart_is_survived_with_the_run_locks(own_postgresql: Cluster) -> None:
    url = own_postgresql.url()
    with HistoryStore(url) as store:
        store.start_run("r1", "identity-loss", "embedded", STARTED)
        store.start_run("r2", "identity-loss", "embedded", STARTED)
        own_postgresql.restart()
        store.finish_run(_result("r1"))
        assert len(_run_lock_holders(url, "r2")) == 1
        assert _statuses(url) == {"r1": HistoryStatus.FAILED, "r2": HistoryStatus.RUNNING}
        store.finish_run(_result("r2"))
    assert _statuses(url) == {"r1": HistoryStatus.FAILED, "r2": HistoryStatus.FAILED}


def test_a_server_that_stays_down_fails_in_bounded_time(own_postgresql: Cluster) -> None:
    url = own_postgresql.url()
    shown = store_location(url).shown
    with HistoryStore(url) as store:
        own_postgresql.stop()
        began = time.monotonic()
        with pytest.raises(HistoryStoreError) as caught:
            store.runs()
        took = time.monotonic() - began
        own_postgresql.start()
        assert store.runs() == []  # and once it is back, the store goes on
    assert RECONNECT.deadline_s is not None
    assert took < RECONNECT.deadline_s + 1.0  # a refused connection fails at once
    message = caught.value.message
    assert message.startswith(f"{shown}: the history store failed: ")
    assert f"; {RECONNECT.max_attempts} attempt(s) to reconnect failed, the last: " in message
    assert CANARY_PASSWORD not in message and "[redacted]" in message
    assert caught.value.hint == "check that the PostgreSQL server is up and reachable"
    assert caught.value.exit_code == 2
