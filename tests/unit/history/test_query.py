"""Reading a store without creating it: `gameday history` rows, `gameday report RUN_ID`, the
trend and counts of past runs, and --since."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import (
    HistoryStatus,
    HistoryStore,
    PastRuns,
    parse_since,
    past_runs,
    read_runs,
    stored_result,
)
from gameday.history.location import store_location
from gameday.kinds import RunStatus
from tests.history_stores import StoreUnderTest
from tests.unit.reports.runs import met_and_missed, synthetic


@pytest.fixture
def path(where: StoreUnderTest) -> Iterator[str | Path]:
    store_path = where.location
    with HistoryStore(store_path) as store:
        store.finish_run(met_and_missed(day=21).model_copy(update={"score": 60.0}))
        store.finish_run(met_and_missed(day=22))
        store.finish_run(
            synthetic()["aborted"].model_copy(update={"started_at": "2026-11-22T03:00:00.000Z"})
        )
        store.start_run("20261123T000000Z-identity-loss-ffff", "identity-loss", "embedded",
                        "2026-11-23T00:00:00Z")  # fmt: skip
    yield store_path


def test_rows_newest_first_with_filters(path: str | Path) -> None:
    assert [(r.scenario, r.status) for r in read_runs(path)] == [
        ("identity-loss", HistoryStatus.RUNNING),
        ("logging-loss", HistoryStatus.ABORTED),
        ("identity-loss", HistoryStatus.FAILED),
        ("identity-loss", HistoryStatus.FAILED),
    ]
    assert [r.scenario for r in read_runs(path, scenario="logging-loss")] == ["logging-loss"]
    assert len(read_runs(path, since="2026-11-22")) == 3


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none" / "history.db"
    assert read_runs(path) == []
    assert past_runs(path, ["identity-loss"], limit=10) == PastRuns(None, None)
    with pytest.raises(InvalidInputError) as caught:
        stored_result("20261122T020000Z-x-0000", path)
    assert caught.value.message == (
        "'20261122T020000Z-x-0000' is not a file, a folder or a run id in the history store "
        f"({path} does not exist)"
    )
    assert not path.parent.exists()


def test_a_stored_result_by_run_id(path: str | Path) -> None:
    result = met_and_missed(day=22)
    assert stored_result(result.run_id, path) == result
    with pytest.raises(InvalidInputError) as caught:
        stored_result("20261123T000000Z-identity-loss-ffff", path)  # still running: no result
    assert caught.value.message == (
        "'20261123T000000Z-identity-loss-ffff' is not a file, a folder or a finished run in "
        f"{store_location(path).shown}"
    )


def test_past_runs_are_the_trend_and_the_counts(path: str | Path) -> None:
    past = past_runs(path, ["identity-loss"], limit=10)
    assert past.trend == {
        "identity-loss": [
            ("2026-11-21T02:00:00.000Z", 60.0),
            ("2026-11-22T02:00:00.000Z", met_and_missed().score),
        ]
    }
    assert past.run_counts == {
        ("identity-loss", RunStatus.FAILED): 2,
        ("logging-loss", RunStatus.ABORTED): 1,
    }


def test_since_reads_dates_times_and_ages() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T08:00+01:00") == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    assert parse_since("12h", now) == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    assert parse_since("30m", now) == datetime(2026, 11, 22, 11, 30, tzinfo=UTC)
    assert parse_since("2w", now) == datetime(2026, 11, 8, 12, 0, tzinfo=UTC)


def test_since_that_is_not_a_date() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_since("last tuesday")
    assert caught.value.message == "--since: cannot read 'last tuesday' as a date"
    assert caught.value.hint == (
        "give 2026-11-01, 2026-11-01T08:00, 2026-11-01T08:00+01:00, or an age: 30m, 12h, 7d, 2w"
    )
