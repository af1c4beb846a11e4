"""What ``/metrics`` and ``/healthz`` say for a scheduler status (the server is tested in
tests/integration/schedule/test_scheduler.py)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.errors import InvalidInputError
from gameday.history import SkipReason
from gameday.kinds import RunStatus
from gameday.schedule.serve import STALE_LOOP_S, Status, health, parse_listen, render_metrics
from tests.unit.reports.runs import met_and_missed

NOW = 1_795_000_000.0


def _samples(status: Status) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render_metrics(status).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_hold_the_last_runs_and_the_schedulers_own_series() -> None:
    result = met_and_missed()
    name = result.scenario.name
    status = Status(
        started_at=NOW - 60,
        last_loop=NOW,
        results=(result,),
        run_counts={(name, RunStatus.FAILED): 2, (name, RunStatus.PASSED): 5},
        skip_counts={(name, SkipReason.BUSY): 3},
        next_fire={name: NOW + 3600, "later": None},
        jitter_s={name: 300.0, "later": 0.0},
        invalid_files=1,
        running=name,
        running_since=NOW - 5,
        running_limit_s=600,
    )
    samples = _samples(status)
    scenario = (("scenario", name),)
    assert samples[("gameday_scenario_score", scenario)] == result.score
    assert samples[("gameday_runs_total", (("scenario", name), ("status", "passed")))] == 5
    assert samples[("gameday_schedule_next_run_timestamp_seconds", scenario)] == NOW + 3600
    assert ("gameday_schedule_next_run_timestamp_seconds", (("scenario", "later"),)) not in samples
    assert samples[("gameday_schedule_jitter_seconds", scenario)] == 300.0
    skipped = ("gameday_schedule_skipped_total", (("reason", "busy"), ("scenario", name)))
    assert samples[skipped] == 3
    assert samples[("gameday_scheduler_up", ())] == 1
    assert samples[("gameday_scheduler_last_loop_timestamp_seconds", ())] == NOW
    assert samples[("gameday_scheduler_busy", ())] == 1
    assert samples[("gameday_scheduler_scheduled_scenarios", ())] == 2
    assert samples[("gameday_scheduler_invalid_files", ())] == 1


def test_health_follows_the_loop_or_a_drill_within_its_bound() -> None:
    idle = Status(started_at=NOW, last_loop=NOW, next_fire={"a": NOW + 10})
    assert health(idle, NOW + 1) == (
        True,
        {
            "status": "ok",
            "uptime_s": 1.0,
            "last_loop_age_s": 1.0,
            "running": None,
            "scheduled": ["a"],
            "invalid_files": 0,
            "problem": None,
        },
    )
    healthy, details = health(idle, NOW + STALE_LOOP_S + 1)
    assert (healthy, details["status"]) == (False, "stale")
    busy = Status(
        started_at=NOW, last_loop=NOW, running="a", running_since=NOW, running_limit_s=600
    )
    assert health(busy, NOW + 500)[0] is True
    assert health(busy, NOW + 601)[0] is False
    blocked = Status(started_at=NOW, last_loop=NOW, problem="the store is out of reach")
    healthy, details = health(blocked, NOW + 1)
    assert (healthy, details["status"], details["problem"]) == (
        False,
        "blocked",
        "the store is out of reach",
    )


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert parse_listen("off") is None
    for bad in ["9464", "localhost:", ":9464", "host:port", "127.0.0.1:70000"]:
        with pytest.raises(InvalidInputError) as caught:
            parse_listen(bad)
        assert caught.value.message == f"--metrics-listen: cannot read {bad!r} as HOST:PORT"
