"""The scheduler's skipped fire times in the history store, and its lock (one scheduler per
store)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import HistoryStore, Skip, SkipReason
from gameday.schedule.lock import SchedulerLockedError, scheduler_lock


def _skip(name: str, second: int, reason: SkipReason = SkipReason.BUSY) -> Skip:
    due = f"2026-11-22T08:00:{second:02d}.000Z"
    return Skip(name, due, "2026-11-22T08:01:00.000Z", reason, "a was running (run r1)")


def test_skips_live_beside_the_history_in_the_same_file(tmp_path: Path) -> None:
    store = tmp_path / "history.db"
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
    tables = sqlite3.connect(store).execute("SELECT name FROM sqlite_master WHERE type='table'")
    assert {"runs", "measurements", "schedule_skips"} <= {row[0] for row in tables}


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
