"""The scheduler in real time, on short schedules, with real drills (a real moto server, the
real gateway, tests/fixtures/apps/truth_app.py): order, no overlap, no pile-up, blackouts,
jitter, failures that do not stop it, files that change under it, and its /metrics."""

from __future__ import annotations

import json
import math
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from gameday.history import HistoryStatus
from gameday.schedule.models import Blackout
from tests.integration.schedule.support import (
    Outcome,
    epoch,
    failing_listener,
    fetch,
    history_of,
    metrics_url,
    run_until,
)
from tests.unit.schedule.scenarios import scenario_text, write_scenario

START_SLACK_S = 0.3
"""How late after its planned moment a drill may start (the loop's wake-up, Python's)."""


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_two_seconds_three_drills_in_order_without_overlap(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "tick", "{cron: '*/2 * * * * *'}")
    scraped: dict[str, tuple[int, str]] = {}

    def scrape(outcome: Outcome) -> None:
        if len(outcome.results) == 3:
            url = metrics_url(outcome.lines)
            scraped["metrics"], scraped["health"] = fetch(url + "/metrics"), fetch(url + "/healthz")

    began = time.time()
    outcome = run_until(
        tmp_path / "in",
        tmp_path / "h.db",
        results=3,
        timeout_s=20,
        report_dir=tmp_path / "reports",
        on_result=scrape,
    )
    assert outcome.code == 0
    assert time.time() - began < 12
    rows, skips = history_of(tmp_path / "h.db")
    assert [r.run_id for r in rows] == [r.run_id for r in outcome.results]
    assert [r.status for r in rows] == [HistoryStatus.PASSED] * 3
    written = sorted(p.parent.name for p in (tmp_path / "reports").glob("*/result.json"))
    assert written == sorted(r.run_id for r in rows)
    for before, after in pairwise(rows):
        assert before.ended_at is not None and before.ended_at <= after.started_at
    for row in rows:
        assert epoch(row.started_at) % 2 < START_SLACK_S  # on a fire time: even seconds
    windows = [(epoch(r.started_at), epoch(r.ended_at or "")) for r in rows]
    for skip in skips:  # a cold first drill may outlast its 2 s: skipped, inside a drill
        assert any(a <= epoch(skip.due_at) <= b + 0.1 for a, b in windows), skip

    status, text = scraped["metrics"]
    samples = _samples(text)
    assert status == 200
    assert samples[("gameday_scenario_score", (("scenario", "tick"),))] == 100.0
    assert samples[("gameday_runs_total", (("scenario", "tick"), ("status", "passed")))] == 3
    upcoming = samples[("gameday_schedule_next_run_timestamp_seconds", (("scenario", "tick"),))]
    assert upcoming > windows[-1][1] and upcoming % 2 == 0
    assert samples[("gameday_scheduler_up", ())] == 1
    assert samples[("gameday_scheduler_busy", ())] == 0
    assert samples[("gameday_scheduler_invalid_files", ())] == 0
    code, body = scraped["health"]
    assert code == 200 and json.loads(body)["status"] == "ok"


def test_a_drill_longer_than_its_interval_skips_as_busy_without_a_pile_up(tmp_path: Path) -> None:
    write_scenario(
        tmp_path / "in",
        "slow",
        "{cron: '* * * * * *'}",
        fault="start_after: 100ms, duration: 1500ms",
    )
    outcome = run_until(tmp_path / "in", tmp_path / "h.db", results=2, timeout_s=20)
    assert outcome.code == 0
    rows, skips = history_of(tmp_path / "h.db")
    assert len(rows) == 2
    (first_start, first_end), (second_start, _) = [
        (epoch(r.started_at), epoch(r.ended_at or "")) for r in rows
    ]
    assert first_end - first_start > 2.0  # the drill outlasts two fire times
    assert first_end <= second_start
    # The next drill is the next fire time after the first one ended: nothing was queued.
    assert second_start - first_end < 1.0 + START_SLACK_S
    assert second_start % 1 < START_SLACK_S
    fire = math.floor(first_start)
    expected = [s for s in range(fire + 1, math.floor(first_end) + 1)]
    due = [epoch(s.due_at) for s in skips if epoch(s.due_at) < second_start]
    assert [math.floor(d) for d in due] == expected
    assert all(s.scenario == "slow" and s.reason.value == "busy" for s in skips)
    assert all(f"slow was running (run {rows[0].run_id})" == s.detail for s in skips[:2])
    assert any("skipped: busy: slow: " in line for line in outcome.lines)


def test_no_drill_starts_inside_a_blackout_and_jitter_stays_in_bound(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "quiet", "{cron: '* * * * * *', jitter: 600ms}")
    now = datetime.now(UTC)
    end = now + timedelta(seconds=3)
    window = Blackout(start=now - timedelta(seconds=10), end=end, reason="test")
    outcome = run_until(
        tmp_path / "in",
        tmp_path / "h.db",
        results=1,
        timeout_s=15,
        rng=random.Random(7),
        blackouts=[window],
    )
    (row,), _ = history_of(tmp_path / "h.db")
    started = epoch(row.started_at)
    fire = math.ceil(end.timestamp())  # the first whole second at or after the window's end
    jitter = random.Random(7).random() * 0.6  # the scheduler's first (and only) draw
    assert started >= end.timestamp()
    assert fire + jitter - 0.001 <= started <= fire + jitter + START_SLACK_S  # stored in ms
    assert any(f"jitter {jitter:.3f}s" in line for line in outcome.lines)


def test_failing_drills_are_errors_and_the_scheduler_goes_on(tmp_path: Path) -> None:
    # One app that exits at start (an environment failure), one drill that meets a bug.
    folder = tmp_path / "in"
    write_scenario(folder, "broken", "{cron: '*/2 * * * * *'}", app="[sh, -c, 'exit 3']")
    write_scenario(folder, "buggy", "{cron: '1-59/2 * * * * *'}")
    outcome = run_until(
        folder,
        tmp_path / "h.db",
        results=4,
        timeout_s=20,
        listeners=[failing_listener("steady before")],
    )
    assert outcome.code == 0
    rows, _ = history_of(tmp_path / "h.db")
    assert len(rows) == 4 and {r.scenario for r in rows} == {"broken", "buggy"}
    assert all(r.status is HistoryStatus.ERROR for r in rows)
    for row in rows:
        expected = {
            "broken": "the app exited with code 3 at start",
            "buggy": "internal error: RuntimeError: listener bug at steady before",
        }[row.scenario]
        assert row.reason == expected
    bug = next(r for r in outcome.results if r.scenario.name == "buggy")
    assert ("error", bug.reason) in [(e.kind, e.detail) for e in bug.events]
    assert any(
        line.startswith(f"error: {folder / 'buggy.yaml'}: internal error") and "Traceback" in line
        for line in outcome.lines
    )


def test_invalid_files_are_reported_and_picked_up_once_fixed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_scenario(folder, "steady", "{cron: '0 0 1 1 *'}")
    broken = folder / "later.yaml"
    broken.write_text(scenario_text("later", "{cron: '0 0 1 1 *'}").replace("sts]", "sts]\n  x"))
    seen: dict[str, list[object]] = {"invalid": [], "scheduled": [], "log": []}

    def watch(outcome: Outcome, stop: threading.Event) -> None:
        def wait_for(text: str) -> None:
            deadline = time.monotonic() + 5
            while not any(text in line for line in outcome.lines) and time.monotonic() < deadline:
                time.sleep(0.05)

        def scrape() -> None:
            samples = _samples(fetch(metrics_url(outcome.lines) + "/metrics")[1])
            seen["invalid"].append(samples[("gameday_scheduler_invalid_files", ())])
            seen["scheduled"].append(samples[("gameday_scheduler_scheduled_scenarios", ())])

        wait_for("scheduled steady")
        scrape()
        broken.write_text(scenario_text("later", "{cron: '0 0 1 1 *'}"))
        wait_for("scheduled later")
        scrape()
        (folder / "steady.yaml").unlink()
        wait_for("unscheduled steady")
        scrape()
        folder.rename(tmp_path / "away")
        wait_for("no such folder")
        time.sleep(1.5)  # more polls: the missing folder is reported once
        (tmp_path / "away").rename(folder)
        deadline = time.monotonic() + 5
        while sum("scheduled later" in line for line in outcome.lines) < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        seen["log"] = list(outcome.lines)
        stop.set()

    outcome = run_until(folder, tmp_path / "h.db", results=1, timeout_s=15, while_running=watch)
    assert outcome.code == 0 and outcome.results == []
    log = seen["log"]
    errors = [line for line in log if str(line).startswith(f"error: {broken}:")]
    assert len(errors) == 1  # reported once, not on every poll
    assert f"fixed: {broken}" in log
    assert seen["invalid"] == [1, 0, 0]
    assert seen["scheduled"] == [1, 2, 1]
    missing = f"error: {folder}: no such folder; nothing is scheduled until it is back"
    assert log.count(missing) == 1
    assert sum(f"scheduled later ({folder / 'later.yaml'})" in str(line) for line in log) == 2
