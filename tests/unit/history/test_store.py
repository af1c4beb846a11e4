"""The history store on a real SQLite file and a real PostgreSQL database (``where``): rows
written at start and end, queries, the finalisation of runs whose writer is gone, and the
schema version."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import (
    LATEST_VERSION,
    HistoryStatus,
    HistoryStore,
    StoreLocation,
    iso_utc,
    store_location,
)
from gameday.kinds import Grade, ObjectiveKind, RunStatus
from tests.history_stores import StoreUnderTest
from tests.unit.reports.runs import met_and_missed, never_recovered, synthetic


@pytest.fixture
def store(where: StoreUnderTest) -> Iterator[HistoryStore]:
    with HistoryStore(where.location) as opened:
        yield opened


def _dead_pid() -> int:
    script = "import os; print(os.getpid())"
    finished = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    )
    return int(finished.stdout)


def test_a_new_store_is_at_the_latest_version(store: HistoryStore, where: StoreUnderTest) -> None:
    assert where.version() == LATEST_VERSION


def test_a_new_sqlite_store_is_wal(tmp_path: Path) -> None:
    with HistoryStore(tmp_path / "history.db") as store:
        assert store.path is not None
        db = sqlite3.connect(store.path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()


def test_a_run_is_running_from_its_start_and_final_at_its_end(store: HistoryStore) -> None:
    result = met_and_missed()
    store.start_run(result.run_id, "identity-loss", "embedded", result.started_at)
    (running,) = store.runs()
    assert running.status is HistoryStatus.RUNNING
    assert running.score is None and running.measurements == ()
    assert running.writer_pid is not None
    store.finish_run(result)
    (done,) = store.runs()
    assert (done.status, done.grade, done.score) == (HistoryStatus.FAILED, Grade.C, result.score)
    assert done.ended_at == "2026-11-22T02:00:52.250Z"
    assert [(m.name, m.kind, m.measured, m.met) for m in done.measurements][:3] == [
        ("steady", ObjectiveKind.STEADY, 1.0, True),
        ("api-rto", ObjectiveKind.RTO, 3.0, True),
        ("credentials-rto", ObjectiveKind.RTO, 21.5, False),
    ]
    assert store.get(result.run_id) == result


def test_a_result_is_recorded_even_when_its_start_was_not(store: HistoryStore) -> None:
    result = synthetic()["not-steady"]
    store.finish_run(result)
    (row,) = store.runs()
    assert (row.status, row.score, row.grade) == (HistoryStatus.NOT_STEADY, None, None)
    assert row.reason == result.reason


def test_a_run_id_is_recorded_once(store: HistoryStore) -> None:
    store.start_run("r1", "identity-loss", "embedded", "2026-11-22T02:00:00Z")
    with pytest.raises(InvalidInputError, match="run 'r1' is already recorded"):
        store.start_run("r1", "identity-loss", "embedded", "2026-11-22T02:00:00Z")


def test_a_running_row_whose_writer_died_is_finalised_as_aborted(where: StoreUnderTest) -> None:
    path = where.location
    fixed = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    with HistoryStore(path) as first:
        pid = _dead_pid()
        first.start_run("dead", "identity-loss", "embedded", "2026-11-22T02:00:00Z", pid=pid)
        first.start_run("alive", "identity-loss", "embedded", "2026-11-22T02:01:00Z")
    with HistoryStore(path, clock=lambda: fixed) as second:
        rows = {row.run_id: row for row in second.runs()}
    assert rows["alive"].status is HistoryStatus.RUNNING
    dead = rows["dead"]
    assert (dead.status, dead.score, dead.grade) == (HistoryStatus.ABORTED, None, None)
    assert dead.reason is not None
    assert dead.reason.startswith(f"the runner (pid {pid} on ")
    assert dead.reason.endswith(
        "ended without finishing the run; found at 2026-11-22T03:00:00.000Z"
    )


def test_a_reused_pid_does_not_keep_a_dead_run_alive(
    store: HistoryStore, where: StoreUnderTest
) -> None:
    store.start_run("reused", "identity-loss", "embedded", "2026-11-22T02:00:00Z")
    # This process's pid, recorded with another start time: the pid was reused.
    where.sql("UPDATE runs SET writer_start = '1' WHERE run_id = 'reused'")
    assert store.reap() == ["reused"]
    assert store.runs()[0].status is HistoryStatus.ABORTED


def test_a_row_from_another_host_namespace_or_boot(
    store: HistoryStore, where: StoreUnderTest
) -> None:
    pid = _dead_pid()
    for run_id in ("elsewhere", "container", "rebooted"):
        store.start_run(run_id, "a", "embedded", "2026-11-22T02:00:00Z", pid=pid)
    where.sql("UPDATE runs SET writer_host = 'other-host' WHERE run_id = 'elsewhere'")
    where.sql("UPDATE runs SET writer_pid_namespace = 'pid:[1]' WHERE run_id = 'container'")
    where.sql("UPDATE runs SET writer_boot = 'another-boot', writer_pid = ? "
              "WHERE run_id = 'rebooted'", (os.getpid(),))  # fmt: skip
    # Another host's or another pid namespace's pid cannot be checked from here, even when no
    # such pid exists here; a previous boot's process is surely gone, whatever holds its pid.
    # (In PostgreSQL the first two live for another reason too: this store's session wrote
    # them and holds their locks.)
    assert store.reap() == ["rebooted"]


def test_a_postgresql_run_whose_writer_session_ended_elsewhere_is_aborted(
    postgresql_url: str,
) -> None:
    # A pod of a CronJob is a host of its own: its pid means nothing here. Its session's lock
    # on the run says whether it lives, and PostgreSQL drops the lock when the session ends.
    writer = HistoryStore(postgresql_url)
    writer.start_run("pod-run", "identity-loss", "embedded", "2026-11-22T02:00:00Z")
    StoreUnderTest("postgresql", postgresql_url, Path()).sql(
        "UPDATE runs SET writer_host = 'drill-pod-7f9c', writer_pid = 1"
    )
    with HistoryStore(postgresql_url) as reader:
        assert reader.runs()[0].status is HistoryStatus.RUNNING  # its writer's session lives
        writer.close()
        (row,) = reader.runs()
    assert (row.status, row.score, row.grade) == (HistoryStatus.ABORTED, None, None)
    assert row.reason is not None
    assert row.reason.startswith("the runner (pid 1 on drill-pod-7f9c) ended without finishing")


def test_a_sqlite_run_from_another_host_stays_running(tmp_path: Path) -> None:
    # SQLite has no sessions: a row from elsewhere cannot be judged, and is left as it is.
    path = tmp_path / "history.db"
    with HistoryStore(path) as writer:
        writer.start_run("elsewhere", "identity-loss", "embedded", "2026-11-22T02:00:00Z")
    StoreUnderTest("sqlite", path, tmp_path).sql("UPDATE runs SET writer_host = 'other-host'")
    with HistoryStore(path) as reader:
        assert reader.runs()[0].status is HistoryStatus.RUNNING


def test_queries_filter_order_and_trend(store: HistoryStore) -> None:
    identity = [met_and_missed(day=20), met_and_missed(day=21), met_and_missed(day=22)]
    identity[1] = identity[1].model_copy(update={"score": 60.0})
    for result in [*identity, never_recovered(day=21)]:
        store.finish_run(result)
    store.start_run("now", "identity-loss", "embedded", "2026-11-23T00:00:00Z")
    assert [r.started_at[:10] for r in store.runs()] == [
        "2026-11-23", "2026-11-22", "2026-11-21", "2026-11-21", "2026-11-20",
    ]  # fmt: skip
    rows = store.runs(scenario="identity-loss", since=datetime(2026, 11, 21, tzinfo=UTC))
    assert [r.run_id for r in rows] == ["now", identity[2].run_id, identity[1].run_id]
    assert rows[1].previous_score == 60.0
    scores = [r.score or 0.0 for r in identity]
    assert rows[1].delta == pytest.approx(scores[2] - 60.0)
    assert rows[2].delta == pytest.approx(60.0 - scores[0])
    assert len(store.runs(limit=2)) == 2
    trend = store.trend(limit=2)
    assert trend["identity-loss"] == [
        ("2026-11-21T02:00:00.000Z", 60.0),
        ("2026-11-22T02:00:00.000Z", identity[2].score),
    ]
    assert list(store.trend(["registry-loss"])) == ["registry-loss"]


def test_outcome_counts_leave_out_running_rows(store: HistoryStore) -> None:
    store.finish_run(met_and_missed(day=20))
    store.finish_run(met_and_missed(day=21))
    store.finish_run(synthetic()["aborted"])
    store.start_run("now", "identity-loss", "embedded", "2026-11-23T00:00:00Z")
    assert store.outcome_counts() == {
        ("identity-loss", RunStatus.FAILED): 2,
        ("logging-loss", RunStatus.ABORTED): 1,
    }


def test_get_returns_none_for_unknown_and_unfinished_runs(store: HistoryStore) -> None:
    store.start_run("running", "a", "embedded", "2026-11-22T02:00:00Z")
    assert store.get("running") is None
    assert store.get("nope") is None


def test_times_are_stored_in_one_utc_spelling() -> None:
    assert iso_utc("2026-11-22T03:00:00+01:00") == "2026-11-22T02:00:00.000Z"
    assert iso_utc("2026-11-22T02:00:00") == "2026-11-22T02:00:00.000Z"
    assert iso_utc(datetime(2026, 11, 22, 2, 0, 0, 123456, tzinfo=UTC)) == (
        "2026-11-22T02:00:00.123Z"
    )


def test_the_store_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAMEDAY_STORE", "/tmp/x/history.db")
    assert store_location() == StoreLocation(path=Path("/tmp/x/history.db"))
    monkeypatch.setenv("GAMEDAY_STORE", "")
    assert store_location() == StoreLocation(path=Path(".gameday/history.db"))
    monkeypatch.setenv("GAMEDAY_STORE", "postgresql://drills@db.internal/gameday")
    assert store_location() == StoreLocation(url="postgresql://drills@db.internal/gameday")
    assert store_location("postgres://db/x").is_postgresql  # libpq's other spelling
    assert store_location("history.db") == StoreLocation(path=Path("history.db"))


def test_a_url_of_another_kind_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        store_location("mysql://root:hunter2-pw@db/gameday")
    assert caught.value.message == (
        "--store: mysql://root:[redacted]@db/gameday: mysql:// is not a history store"
    )


def test_a_file_that_is_not_a_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not sqlite, just text that is long enough" * 40)
    with pytest.raises(InvalidInputError, match=r"history.db: not a gameday history store: "):
        HistoryStore(path)


def test_a_store_from_a_newer_gameday_is_refused(where: StoreUnderTest) -> None:
    if not where.is_postgresql:
        Path(where.location).parent.mkdir()
    where.set_version(99)
    with pytest.raises(InvalidInputError) as caught:
        HistoryStore(where.location)
    assert caught.value.message == (
        f"{store_location(where.location).shown}: history schema version 99 is newer than "
        f"this gameday's ({LATEST_VERSION})"
    )


def test_a_postgresql_database_with_another_runs_table_is_refused(postgresql_url: str) -> None:
    StoreUnderTest("postgresql", postgresql_url, Path()).sql("CREATE TABLE runs (id INTEGER)")
    with pytest.raises(InvalidInputError) as caught:
        HistoryStore(postgresql_url)
    assert caught.value.message == (
        f"{store_location(postgresql_url).shown}: not a gameday history store: a runs table "
        "without gameday's schema version (gameday_schema)"
    )
