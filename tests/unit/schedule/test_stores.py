"""The scheduler's skipped fire times in the history store, and its lock (one scheduler per
store), on a SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import HistoryStore, Skip, SkipReason, store_location
from gameday.schedule.lock import SchedulerLockedError, hold_scheduler_lock, scheduler_lock
from tests.history_stores import StoreUnderTest
from tests.postgresql import CANARY_PASSWORD
from tests.unit.reports.runs import REPO


def _skip(name: str, second: int, reason: SkipReason = SkipReason.BUSY) -> Skip:
    due = f"2026-11-22T08:00:{second:02d}.000Z"
    return Skip(name, due, "2026-11-22T08:01:00.000Z", reason, "a was running (run r1)")


def test_skips_live_beside_the_history_in_the_same_store(where: StoreUnderTest) -> None:
    store = where.location
    with HistoryStore(store) as history:
        history.record_skips([_skip("b", 3), _skip("a", 2), _skip("a", 1, SkipReason.LATE)])
        history.record_skips([])
        assert history.runs() == []
        assert history.skip_counts() == {
            ("a", SkipReason.BUSY): 1,
            ("a", SkipReason.LATE): 1,
            ("b", SkipReason.BUSY): 1,
        }
        assert [s.due_at for s in history.skips("a")] == [
            "2026-11-22T08:00:01.000Z",
            "2026-11-22T08:00:02.000Z",
        ]
    with HistoryStore(store) as again:  # kept across opens
        assert len(again.skips()) == 3
    assert {"runs", "measurements", "schedule_skips"} <= {row[0] for row in where.tables()}


def test_the_lock_names_its_store_and_holder(tmp_path: Path) -> None:
    store = tmp_path / "nested" / "history.db"
    with scheduler_lock(store) as held:
        assert held == store and store.read_bytes() == b""  # an empty store: no lock file
        with pytest.raises(SchedulerLockedError) as caught, scheduler_lock(store):
            pass
    assert caught.value.message == (
        f"another scheduler is running on this store: {store} is locked by pid {os.getpid()}"
    )
    assert caught.value.hint == (
        "one scheduler per history store: stop that one, or give another --store"
    )
    assert caught.value.exit_code == 2
    with scheduler_lock(store):  # released on the way out
        pass
    assert sorted(p.name for p in store.parent.iterdir()) == ["history.db"]


def test_the_lock_leaves_the_store_usable(tmp_path: Path) -> None:
    # SQLite's own (fcntl) locks and the scheduler's flock are independent.
    store = tmp_path / "history.db"
    with scheduler_lock(store), HistoryStore(store) as history:
        assert history.skips() == []
        elsewhere = sqlite3.connect(store, timeout=0)
        try:
            elsewhere.execute("BEGIN IMMEDIATE")
            elsewhere.execute("ROLLBACK")
        finally:
            elsewhere.close()


def test_a_lock_that_cannot_be_created_says_where(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with (
        pytest.raises(InvalidInputError, match="cannot open the history store to lock it"),
        scheduler_lock(blocker / "history.db"),
    ):
        pass


def test_the_postgresql_lock_names_its_store_and_holder(postgresql_url: str) -> None:
    with scheduler_lock(postgresql_url) as held:
        shown = store_location(postgresql_url).shown
        assert held == shown and CANARY_PASSWORD not in shown
        with pytest.raises(SchedulerLockedError) as caught, scheduler_lock(postgresql_url):
            pass
        # Another store in the same database (its own schema) has a lock of its own.
        other = StoreUnderTest("postgresql", postgresql_url, Path()).another("elsewhere")
        with scheduler_lock(other.location):
            pass
    assert caught.value.message.startswith(
        f"another scheduler is running on this store: {shown} is locked by gameday scheduler "
        f"(pid {os.getpid()} on {socket.gethostname()}) (server pid "
    )
    assert caught.value.exit_code == 2
    with scheduler_lock(postgresql_url):  # released on the way out
        pass


HOLD_LOCK = """
import os, signal, sys
from gameday.schedule.lock import scheduler_lock

with scheduler_lock(sys.argv[1]):
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_scheduler_leaves_no_postgresql_lock(postgresql_url: str) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", HOLD_LOCK, postgresql_url],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    # The server ends the dead session when it reads the closed socket: at once, in practice;
    # a bounded wait keeps a loaded machine from failing this.
    for attempt in range(50):
        try:
            with scheduler_lock(postgresql_url):
                break
        except SchedulerLockedError:
            assert attempt < 49, "the killed scheduler's lock outlived it"
            time.sleep(0.1)


def test_a_held_flock_is_confirmed_without_asking_anyone(tmp_path: Path) -> None:
    store = tmp_path / "link.db"
    store.symlink_to(tmp_path / "history.db")
    with hold_scheduler_lock(store) as held:
        held.confirm()
        assert held.what == tmp_path / "history.db"
