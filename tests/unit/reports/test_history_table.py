"""`gameday history` output, rendered from the store's rows: the table and the JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.history import HistoryRow, HistoryStore, read_runs
from gameday.reports.history_table import (
    HistoryFormat,
    render_history,
    render_history_json,
    render_history_table,
)
from tests.unit.reports.runs import met_and_missed, synthetic


@pytest.fixture
def rows(tmp_path: Path) -> Iterator[list[HistoryRow]]:
    store_path = tmp_path / "history.db"
    with HistoryStore(store_path) as store:
        store.finish_run(met_and_missed(day=21).model_copy(update={"score": 60.0}))
        store.finish_run(met_and_missed(day=22))
        store.finish_run(
            synthetic()["aborted"].model_copy(update={"started_at": "2026-11-22T03:00:00.000Z"})
        )
        store.start_run("20261123T000000Z-identity-loss-ffff", "identity-loss", "embedded",
                        "2026-11-23T00:00:00Z")  # fmt: skip
        yield store.runs()


def test_the_table(rows: list[HistoryRow]) -> None:
    assert render_history(rows) == (
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
    assert render_history_table(rows) == render_history(rows, HistoryFormat.TABLE)


def test_json_has_the_delta_and_every_measurement(rows: list[HistoryRow]) -> None:
    identity = [r for r in rows if r.scenario == "identity-loss"]
    document = json.loads(render_history(identity, HistoryFormat.JSON))
    assert [r["status"] for r in document] == ["running", "failed", "failed"]
    assert document[1]["previous_score"] == 60.0
    assert document[1]["delta"] == pytest.approx(document[1]["score"] - 60.0)
    assert document[1]["objectives"][2] == {
        "name": "credentials-rto",
        "kind": "rto",
        "probe": "credentials",
        "target": 15.0,
        "measured": 21.5,
        "met": False,
        "credit": pytest.approx(0.5667, abs=1e-4),
    }
    assert render_history_json(identity) == render_history(identity, HistoryFormat.JSON)


def test_renderers_of_no_rows(tmp_path: Path) -> None:
    assert render_history([]) == "no runs recorded\n"
    assert render_history([], HistoryFormat.JSON) == "[]\n"
    assert render_history(read_runs(tmp_path / "none.db")) == "no runs recorded\n"
