"""The scheduler as its own process: SIGTERM during a drill rolls it back, records it as
aborted and exits 0; a second scheduler on the same store is refused while the first runs."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gameday.history import HistoryStatus, HistoryStore
from gameday.schedule.lock import SchedulerLockedError
from gameday.schedule.scheduler import run_scheduler
from tests.integration.schedule.support import ROOT, history_of
from tests.unit.schedule.scenarios import write_scenario

_COMMAND = [sys.executable, "-W", "error", "-m", "tests.integration.schedule.support"]


@contextmanager
def _scheduler(directory: Path, store: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_COMMAND, str(directory), str(store)], cwd=ROOT, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_for(log: Path, text: str, timeout_s: float = 15) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.05)
    pytest.fail(f"{text!r} not in the scheduler's log:\n{log.read_text()}")


def test_sigterm_during_a_drill_rolls_back_records_aborted_and_exits_0(tmp_path: Path) -> None:
    write_scenario(
        tmp_path / "in",
        "long",
        "{cron: '* * * * * *'}",
        fault="start_after: 100ms, duration: 5s",
        observe="{max: 8s, recovery_window: 100ms}",
    )
    store, log = tmp_path / "h.db", tmp_path / "log.txt"
    with _scheduler(tmp_path / "in", store, log) as process:
        _wait_for(log, "inject   api-fault-0: unavailable")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    text = log.read_text()
    assert "abort    signal SIGTERM" in text
    assert "stopping: signal SIGTERM; no drill is running" in text
    rows, _ = history_of(store)
    (row,) = rows
    assert (row.status, row.reason) == (HistoryStatus.ABORTED, "signal SIGTERM")
    with HistoryStore(store) as history:
        result = history.get(row.run_id)
    assert result is not None
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None
    assert fault.removed_at - fault.injected_at < 2.0  # removed at the signal, not at its end
    kinds = [event.kind for event in result.events]
    assert "remove" in kinds and "rollback" in [e.detail for e in result.events]
    # The drill checks the gateway holds no fault after rollback; it would say otherwise.
    assert "rollback-failed" not in kinds


def test_a_second_scheduler_on_the_same_store_is_refused(tmp_path: Path) -> None:
    write_scenario(tmp_path / "in", "yearly", "{cron: '0 0 1 1 *'}")
    store, log = tmp_path / "h.db", tmp_path / "log.txt"
    with _scheduler(tmp_path / "in", store, log) as first:
        _wait_for(log, "serving /metrics")
        second = subprocess.run(
            [*_COMMAND, str(tmp_path / "in"), str(store)],
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1  # the driver lets the error out; the CLI maps it to 2
        assert (
            f"SchedulerLockedError: another scheduler is running on this store: "
            f"{store.resolve()} is locked by pid {first.pid}"
        ) in second.stderr
        with pytest.raises(SchedulerLockedError) as caught:
            run_scheduler(tmp_path / "in", store=store, metrics_listen=None)
        assert caught.value.exit_code == 2
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=10) == 0
    assert "stopping: signal SIGTERM; no drill is running" in log.read_text()
    rows, _ = history_of(store)
    assert rows == []
    # Released with the process: the lock can be taken again.
    fd = os.open(store, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
