"""The scheduler's lock on a PostgreSQL store (a real server) when its connection is lost
while the scheduler lives: it takes the lock again at once, so a second scheduler is still
refused; when a second scheduler took it first, the first stops (exit 2) and starts no drill;
and while the server is down no drill starts, until it is back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from gameday.history import store_location
from gameday.history.postgresql import lock_key
from gameday.schedule.lock import (
    SchedulerLockedError,
    SchedulerLockLostError,
    hold_scheduler_lock,
    scheduler_lock,
)
from tests.integration.history.cluster import Cluster, advisory_holders, terminate_sessions
from tests.integration.schedule.support import (
    ROOT,
    Outcome,
    epoch,
    fetch,
    history_of,
    metrics_url,
    run_until,
)
from tests.postgresql import CANARY_PASSWORD
from tests.unit.schedule.scenarios import write_scenario

SCHEDULER_SESSION = "gameday scheduler"
WAIT_S = 15.0


def _key() -> int:
    return lock_key("public", "scheduler")  # a test database's store lives in ``public``


def _wait(condition: str, check: object) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {WAIT_S}s: {condition}"
        time.sleep(0.02)


def _held_by_a_scheduler_other_than(url: str, gone: list[int]) -> bool:
    return any(
        granted and name.startswith(SCHEDULER_SESSION) and pid not in gone
        for pid, name, granted in advisory_holders(url, _key())
    )


@contextmanager
def _second_scheduler_waiting(url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A session queued for the scheduler lock (as a second scheduler that asked at the very
    moment): it gets the lock the instant the first session ends, before anyone else."""
    second = psycopg.connect(url, autocommit=True, application_name="second scheduler")
    waiter = threading.Thread(
        target=lambda: second.execute("SELECT pg_advisory_lock(%s)", (_key(),)), daemon=True
    )
    try:
        waiter.start()
        _wait(
            "the second scheduler waits for the lock",
            lambda: any(not granted for _, _, granted in advisory_holders(url, _key())),
        )
        yield second
        waiter.join(timeout=WAIT_S)
    finally:
        second.close()


def test_a_lost_lock_session_is_reopened_and_the_lock_taken_again(postgresql_url: str) -> None:
    with hold_scheduler_lock(postgresql_url, keep_s=3600) as held:  # no keeper: confirm only
        gone = terminate_sessions(postgresql_url, SCHEDULER_SESSION)
        assert not _held_by_a_scheduler_other_than(postgresql_url, gone)
        held.confirm()
        assert _held_by_a_scheduler_other_than(postgresql_url, gone)
        with pytest.raises(SchedulerLockedError) as caught, scheduler_lock(postgresql_url):
            pass
    assert type(caught.value) is SchedulerLockedError
    assert caught.value.message.startswith("another scheduler is running on this store: ")


def test_the_keeper_takes_the_lock_again_without_the_loop(postgresql_url: str) -> None:
    lines: list[str] = []
    with hold_scheduler_lock(postgresql_url, log=lines.append):  # nobody calls confirm
        gone = terminate_sessions(postgresql_url, SCHEDULER_SESSION)
        _wait(
            "the lock is held again",
            lambda: _held_by_a_scheduler_other_than(postgresql_url, gone),
        )
        with pytest.raises(SchedulerLockedError), scheduler_lock(postgresql_url):
            pass
    assert lines == []


def test_a_lock_another_scheduler_took_first_stays_lost(postgresql_url: str) -> None:
    lines: list[str] = []
    shown = store_location(postgresql_url).shown
    with (
        hold_scheduler_lock(postgresql_url, log=lines.append, keep_s=0.1) as held,
        _second_scheduler_waiting(postgresql_url) as second,
    ):
        terminate_sessions(postgresql_url, SCHEDULER_SESSION)
        _wait("the keeper logs the loss", lambda: lines)
        for _ in range(2):  # for good: it is not taken back when the second ends
            with pytest.raises(SchedulerLockLostError) as caught:
                held.confirm()
            second.close()
    message = caught.value.message
    assert message.startswith(
        "lost the scheduler lock: another scheduler is running on this store: "
        f"{shown} is locked by second scheduler (server pid "
    )
    assert lines == [f"error: {message}; no drill starts from now on"]
    assert CANARY_PASSWORD not in message
    assert caught.value.exit_code == 2


def test_a_scheduler_retakes_its_lock_during_a_drill_and_a_second_is_refused(
    tmp_path: Path, postgresql_url: str
) -> None:
    write_scenario(tmp_path / "in", "tick", "{cron: '* * * * * *'}")
    refused: list[SchedulerLockedError] = []

    def take_over(outcome: Outcome) -> None:
        if len(outcome.results) != 1:
            return
        # The loop waits here, as during a drill: only the lock's keeper can act.
        gone = terminate_sessions(postgresql_url, SCHEDULER_SESSION)
        _wait("held again", lambda: _held_by_a_scheduler_other_than(postgresql_url, gone))
        try:
            with scheduler_lock(postgresql_url):
                pass
        except SchedulerLockedError as error:
            refused.append(error)

    outcome = run_until(
        tmp_path / "in", postgresql_url, results=2, timeout_s=30, on_result=take_over
    )
    assert outcome.code == 0
    assert len(refused) == 1
    rows, _ = history_of(postgresql_url)
    assert len(rows) == 2


def test_a_scheduler_whose_lock_another_took_exits_2_and_starts_nothing(
    tmp_path: Path, postgresql_url: str
) -> None:
    write_scenario(tmp_path / "in", "tick", "{cron: '* * * * * *'}")
    log = tmp_path / "scheduler.log"
    env = {**os.environ, "NO_COLOR": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameday.cli", "schedule", "run", str(tmp_path / "in"),
             "--store", postgresql_url, "--metrics-listen", "off"],
            cwd=ROOT, stdout=out, stderr=out, env=env,
        )  # fmt: skip
    try:
        _wait("a first drill is done", lambda: "done  tick: " in log.read_text())
        with _second_scheduler_waiting(postgresql_url):
            terminate_sessions(postgresql_url, SCHEDULER_SESSION)
            taken_at = time.time()
            code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    shown = store_location(postgresql_url).shown
    assert code == 2, text
    assert (
        "error: lost the scheduler lock: another scheduler is running on this store: "
        f"{shown} is locked by second scheduler (server pid "
    ) in text
    assert "Traceback" not in text and CANARY_PASSWORD not in text
    rows, _ = history_of(postgresql_url)
    assert rows and all(epoch(row.started_at) < taken_at for row in rows)


def test_no_drill_starts_while_the_server_is_down(tmp_path: Path, own_postgresql: Cluster) -> None:
    url = own_postgresql.url()
    write_scenario(tmp_path / "in", "tick", "{cron: '* * * * * *'}")
    down: dict[str, float] = {}

    def stop_server(outcome: Outcome) -> None:
        if len(outcome.results) == 1:  # between two drills
            own_postgresql.stop()
            down["from"] = time.time()

    def while_down(outcome: Outcome, stop: threading.Event) -> None:
        _wait("the scheduler says it", lambda: any("cannot confirm" in x for x in outcome.lines))
        down["healthz"], body = fetch(metrics_url(outcome.lines) + "/healthz")
        down["blocked"] = json.loads(body)["status"] == "blocked"
        time.sleep(2.5)  # fire times pass
        down["results"] = len(outcome.results)
        # Taken before the restart: the server accepts connections before pg_ctl returns, and
        # a drill may rightly start in between.
        down["until"] = time.time()
        own_postgresql.start()

    outcome = run_until(
        tmp_path / "in",
        url,
        results=3,
        timeout_s=60,
        on_result=stop_server,
        while_running=while_down,
    )
    assert outcome.code == 0, outcome.lines
    assert down["results"] == 1
    assert (down["healthz"], down["blocked"]) == (503, True)  # at once, not after 30 s
    shown = store_location(url).shown
    problems = [x for x in outcome.lines if x.startswith("error: cannot confirm the scheduler")]
    assert len(problems) == 1  # once, not every turn
    assert problems[0].startswith(
        f"error: cannot confirm the scheduler lock: {shown}: the history store failed: "
    )
    assert f"the scheduler lock on {shown} is confirmed again" in outcome.lines
    assert not any("Traceback" in x or CANARY_PASSWORD in x for x in outcome.lines)
    rows, _ = history_of(url)
    assert len(rows) == 3
    assert not any(down["from"] <= epoch(row.started_at) <= down["until"] for row in rows)
