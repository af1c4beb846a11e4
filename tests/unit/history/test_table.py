"""`gameday history` output: the table, the JSON, --since."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import InvalidInputError
from gameday.history import (
    HistoryFormat,
    HistoryStore,
    parse_since,
    render_history_json,
    render_history_table,
    show_history,
)
from tests.unit.reports.runs import met_and_missed, synthetic


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    store_path = tmp_path / "history.db"
    with HistoryStore(store_path) as store:
        store.finish_run(met_and_missed(day=21).model_copy(update={"score": 60.0}))
        store.finish_run(met_and_missed(day=22))
        store.finish_run(
            synthetic()["aborted"].model_copy(update={"started_at": "2026-11-22T03:00:00.000Z"})
        )
        store.start_run("20261123T000000Z-identity-loss-ffff", "identity-loss", "embedded",
                        "2026-11-23T00:00:00Z")  # fmt: skip
    yield store_path


def test_the_table(path: Path) -> None:
    assert show_history(path) == (
        "started (UTC)        run                                  scenario       env       "
        "status   score  grade  change  measurements\n"
        "2026-11-23 00:00:00  20261123T000000Z-identity-loss-ffff  identity-loss  embedded  "
        "running  —      -\n"
        "2026-11-22 03:00:00  20261122T020000Z-logging-loss-2202   logging-loss   embedded  "
        "aborted  0.0    F              guardrail: probe api failed 12 consecutive samples "
        "(limit 12), api-rto not recovered (missed)\n"
        "2026-11-22 02:00:00  20261122T020000Z-identity-loss-2202  identity-loss  embedded  "
        "failed   73.0   C      +13.0   steady held, api-rto 3.00s, credentials-rto 21.5s "
        "(missed), availability 90.00% (missed), orders-rpo 0.00s, "
        "detect-credential-refresh-failures 14.5s (missed)\n"
        "2026-11-21 02:00:00  20261121T020000Z-identity-loss-2102  identity-loss  embedded  "
        "failed   60.0   C              steady held, api-rto 3.00s, credentials-rto 21.5s "
        "(missed), availability 90.00% (missed), orders-rpo 0.00s, "
        "detect-credential-refresh-failures 14.5s (missed)\n"
    )


def test_filters(path: Path) -> None:
    text = show_history(path, scenario="logging-loss")
    assert len(text.splitlines()) == 2
    assert "logging-loss" in text.splitlines()[1]
    assert len(show_history(path, since="2026-11-22").splitlines()) == 4


def test_json_has_the_delta_and_every_measurement(path: Path) -> None:
    rows = json.loads(show_history(path, scenario="identity-loss", fmt=HistoryFormat.JSON))
    assert [r["status"] for r in rows] == ["running", "failed", "failed"]
    assert rows[1]["previous_score"] == 60.0
    assert rows[1]["delta"] == pytest.approx(rows[1]["score"] - 60.0)
    assert rows[1]["objectives"][2] == {
        "name": "credentials-rto",
        "kind": "rto",
        "probe": "credentials",
        "target": 15.0,
        "measured": 21.5,
        "met": False,
        "credit": pytest.approx(0.5667, abs=1e-4),
    }


def test_a_missing_store_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none" / "history.db"
    assert show_history(path) == "no runs recorded\n"
    assert show_history(path, fmt=HistoryFormat.JSON) == "[]\n"
    assert not path.parent.exists()


def test_renderers_of_no_rows() -> None:
    assert render_history_table([]) == "no runs recorded\n"
    assert render_history_json([]) == "[]\n"


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
