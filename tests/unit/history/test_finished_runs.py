"""What the posture report reads: each run's owner and capabilities (schema 5), written from
its result, filled in from the result JSON of an older store, and the narrow read of finished
runs with only the measurements asked for; on both stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gameday.history import HistoryStore
from gameday.kinds import Capability, ObjectiveKind
from tests.history_stores import StoreUnderTest
from tests.unit.history.test_migration import _v3_store
from tests.unit.reports.runs import inconclusive, met_and_missed


def test_a_run_keeps_its_owner_and_capabilities(where: StoreUnderTest) -> None:
    result, untested = met_and_missed(), inconclusive()
    with HistoryStore(where.location) as store:
        store.start_run("still-running", "identity-loss", "embedded", "2026-11-30T00:00:00Z")
        store.finish_run(result)
        store.finish_run(untested)
        rows = {row.run_id: row for row in store.runs()}
        finished = {run.run_id: run for run in store.finished_runs([ObjectiveKind.RTO])}
        nothing = store.finished_runs([])
    assert (rows[result.run_id].owner, rows[result.run_id].capabilities) == (
        "platform-team",
        (Capability.IDENTITY,),
    )
    assert (rows["still-running"].owner, rows["still-running"].capabilities) == ("", ())
    assert sorted(finished) == sorted([result.run_id, untested.run_id])
    run = finished[result.run_id]
    assert (run.scenario, run.status.value, run.started_at, run.score) == (
        result.scenario.name,
        result.status.value,
        result.started_at,
        result.score,
    )
    assert (run.owner, run.capabilities) == (result.scenario.owner, result.scenario.capabilities)
    expected = [
        (o.name, o.kind, o.target, o.measured, o.met)
        for o in result.objectives
        if o.kind is ObjectiveKind.RTO
    ]
    assert len(expected) == 2
    assert [(m.name, m.kind, m.target, m.measured, m.met) for m in run.measurements] == expected
    assert [m.name for m in finished[untested.run_id].measurements] == [
        o.name for o in untested.objectives if o.kind is ObjectiveKind.RTO
    ]
    assert all(run.measurements == () for run in nothing)


def test_an_older_store_gets_each_runs_owner_from_its_result(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _v3_store(path)
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO runs (run_id, scenario, environment, status, started_at, result) "
        "VALUES ('broken', 'x', 'embedded', 'error', '2026-11-01T00:00:00.000Z', '{not json')"
    )
    db.commit()
    db.close()
    with HistoryStore(path) as store:
        runs = {run.run_id: run for run in store.finished_runs([ObjectiveKind.TTD])}
    migrated = runs[met_and_missed().run_id]
    assert (migrated.owner, migrated.capabilities) == ("platform-team", (Capability.IDENTITY,))
    assert [m.kind for m in migrated.measurements] == [ObjectiveKind.TTD]
    assert (runs["broken"].owner, runs["broken"].capabilities) == ("", ())
