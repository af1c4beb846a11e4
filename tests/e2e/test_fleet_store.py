"""The fleet's PostgreSQL store through the installed command, on a real PostgreSQL server:
runners writing at once, a runner killed mid-run, two schedulers on one store, history moved
between a laptop's SQLite file and the fleet store, and the password kept out of everything
the runs print and write (the canary password of tests/postgresql.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gameday.history import HistoryStatus, HistoryStore, store_location
from gameday.schedule.lock import SchedulerLockedError, scheduler_lock
from tests.postgresql import CANARY_PASSWORD, PostgresServer
from tests.unit.reports.runs import met_and_missed, never_recovered
from tests.unit.schedule.scenarios import write_scenario

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "truth_app.py"
WRITERS = 8
DRILLS_PER_WRITER = 2


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found, "the gameday console script is not installed next to this Python"
    return found


def _drill(folder: Path, name: str, duration: str = "2s") -> Path:
    """A short real drill: the truth app rides through an identity loss."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        f"metadata: {{name: {name}}}\n"
        "target:\n"
        f"  app: {{command: ['{sys.executable}', '{APP}'], env: {{MODE: ride-through}}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 30s}\n"
        f"faults: [{{kind: identity-loss, start_after: 300ms, duration: {duration}}}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, "
        "timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 5s}]\n"
        "observe: {max: 90s, recovery_window: 500ms}\n"
    )
    return path


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return {**os.environ, "NO_COLOR": "1", "TMPDIR": str(scratch), **extra}


def _gameday(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_script(), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _no_canary(*texts: str, folder: Path | None = None) -> None:
    for text in texts:
        assert CANARY_PASSWORD not in text
    for path in sorted(folder.rglob("*") if folder is not None else []):
        if path.is_file():
            assert CANARY_PASSWORD.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_eight_runners_at_once_all_land(postgresql_url: str, tmp_path: Path) -> None:
    suites = [tmp_path / f"suite-{i}" for i in range(WRITERS)]
    for i, suite in enumerate(suites):
        for j in range(DRILLS_PER_WRITER):
            _drill(suite, f"writer-{i}-drill-{j}")
    runners = [
        subprocess.Popen(
            [
                _script(),
                "run",
                str(suite),
                "--parallel",
                "1",
                "--store",
                postgresql_url,
                "--report-dir",
                str(tmp_path / "reports" / suite.name),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(tmp_path),
        )
        for suite in suites
    ]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=600)
        outputs += [out, err]
        assert runner.returncode == 0, err
    _no_canary(*outputs, folder=tmp_path / "reports")
    with HistoryStore(postgresql_url) as store:
        rows = store.runs()
    expected = {f"writer-{i}-drill-{j}" for i in range(WRITERS) for j in range(DRILLS_PER_WRITER)}
    assert sorted(r.scenario for r in rows) == sorted(expected)
    assert {r.status for r in rows} == {HistoryStatus.PASSED}
    assert all(len(r.measurements) == 1 and r.ended_at is not None for r in rows)
    # Each runner recorded its own drills: one writer process per suite.
    writers = {r.writer_pid for r in rows}
    assert writers == {runner.pid for runner in runners}


@pytest.mark.slow
def test_a_runner_killed_mid_run_leaves_an_aborted_row(postgresql_url: str, tmp_path: Path) -> None:
    _drill(tmp_path / "in", "killed-drill", duration="60s")
    runner = subprocess.Popen(
        [_script(), "run", str(tmp_path / "in"), "--parallel", "1", "--store", postgresql_url,
         "--report-dir", str(tmp_path / "reports")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(tmp_path),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        running: list[str] = []
        while not running:
            assert runner.poll() is None, "the runner ended before it was killed"
            assert time.monotonic() < deadline, "the run never showed up as running"
            time.sleep(0.25)
            with HistoryStore(postgresql_url) as store:
                running = [r.run_id for r in store.runs() if r.status is HistoryStatus.RUNNING]
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    listed = _gameday("history", "--store", postgresql_url, "--format", "json",
                      env=_env(tmp_path))  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["run_id"], row["status"], row["grade"]) == (running[0], "aborted", None)
    assert row["reason"].startswith(
        f"the runner (pid {runner.pid} on {socket.gethostname()}) ended without finishing"
    )
    _no_canary(listed.stdout, listed.stderr)


def _start_scheduler(directory: Path, store: str, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [_script(), "schedule", "run", str(directory), "--store", store,
         "--metrics-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
    )  # fmt: skip


def test_two_schedulers_on_one_postgresql_store_the_second_refused(
    postgresql_url: str, tmp_path: Path
) -> None:
    write_scenario(tmp_path / "in", "yearly", "{cron: '0 0 1 1 *'}")
    first = _start_scheduler(tmp_path / "in", postgresql_url, tmp_path)
    try:
        assert first.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "serving /metrics" not in seen and time.monotonic() < deadline:
            seen += first.stderr.readline()
        assert "serving /metrics" in seen, seen
        shown = postgresql_url.replace(CANARY_PASSWORD, "[redacted]")
        assert f"history {shown}, lock {shown}" in seen
        second = _start_scheduler(tmp_path / "in", postgresql_url, tmp_path)
        out, errors = second.communicate(timeout=30)
        assert second.returncode == 2
        host = socket.gethostname()
        assert errors.startswith(
            f"error: another scheduler is running on this store: {shown} is locked by "
            f"gameday scheduler (pid {first.pid} on {host}) (server pid "
        ), errors
        assert "hint: one scheduler per history store" in errors
        first.send_signal(signal.SIGTERM)
        rest_out, rest = first.communicate(timeout=15)
        assert first.returncode == 0, rest
        _no_canary(seen, rest, rest_out, out, errors)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    # The lock went with the first scheduler's session: a new one may start.
    again = _start_scheduler(tmp_path / "in", postgresql_url, tmp_path)
    try:
        assert again.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        while "serving /metrics" not in seen and time.monotonic() < deadline:
            seen += again.stderr.readline()
        assert "serving /metrics" in seen, seen
    finally:
        again.send_signal(signal.SIGKILL)  # its lock must not outlive it either
        again.communicate(timeout=15)
    deadline = time.monotonic() + 10
    while True:  # the server ends the killed session as soon as it sees the socket close
        try:
            with scheduler_lock(store_location(postgresql_url)):
                break
        except SchedulerLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_history_moves_from_a_laptop_into_the_fleet_and_back(
    postgresql_url: str, tmp_path: Path
) -> None:
    laptop, back = tmp_path / "laptop.db", tmp_path / "back.db"
    with HistoryStore(laptop) as store:
        for result in (met_and_missed(day=20), met_and_missed(day=21), never_recovered(day=21)):
            store.finish_run(result)
        store.start_run("still-running", "identity-loss", "embedded", "2026-11-23T00:00:00Z")
    env = _env(tmp_path)
    first = _gameday("history", "copy", "--from", str(laptop), "--to", postgresql_url, env=env)
    assert first.returncode == 0, first.stderr
    shown = postgresql_url.replace(CANARY_PASSWORD, "[redacted]")
    assert first.stdout == (
        f"copied 3 run(s) and 0 skipped fire time(s) into {shown}; 0 run(s) were there "
        "already; 1 still running, left out\n"
    )
    again = _gameday("history", "copy", "--from", str(laptop), "--to", postgresql_url, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"copied 0 run(s) and 0 skipped fire time(s) into {shown}; "
                                   "3 run(s) were there already")  # fmt: skip
    down = _gameday("history", "copy", "--from", postgresql_url, "--to", str(back), env=env)
    assert down.returncode == 0, down.stderr
    _no_canary(first.stdout, first.stderr, again.stdout, down.stdout, down.stderr)
    with HistoryStore(laptop) as a, HistoryStore(postgresql_url) as b, HistoryStore(back) as c:
        finished = [r for r in a.runs() if r.status is not HistoryStatus.RUNNING]
        assert b.runs() == c.runs() == finished
        assert b.get(met_and_missed(day=20).run_id) == met_and_missed(day=20)
    # The fleet's copy is what `gameday report` reads, by run id.
    report = _gameday("report", met_and_missed(day=21).run_id, "--store", postgresql_url,
                      "--format", "json", env=env)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["run_id"] == met_and_missed(day=21).run_id


def test_the_password_comes_from_pgpassword_or_pgpass(
    postgresql_server: PostgresServer, postgresql_url: str, tmp_path: Path
) -> None:
    database = postgresql_url.rsplit("/", 1)[1]
    bare = postgresql_server.url(database, password=False)
    HistoryStore(postgresql_url).close()
    env = {k: v for k, v in _env(tmp_path).items() if not k.startswith("PG")}
    refused = _gameday(
        "history", "--store", bare, env={**env, "PGPASSFILE": str(tmp_path / "none")}
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: {bare}: cannot open the history store: ")
    assert "hint: check the URL" in refused.stderr
    by_variable = _gameday("history", "--store", bare, env={**env, "PGPASSWORD": CANARY_PASSWORD})
    assert (by_variable.returncode, by_variable.stdout) == (0, "no runs recorded\n")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgresql_server.port}:*:gameday:{CANARY_PASSWORD}\n")
    pgpass.chmod(0o600)
    by_file = _gameday("history", "--store", bare, env={**env, "PGPASSFILE": str(pgpass)})
    assert (by_file.returncode, by_file.stdout) == (0, "no runs recorded\n")
    _no_canary(*(p.stdout + p.stderr for p in (refused, by_variable, by_file)))


def test_an_unreachable_store_is_a_clear_error_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql://drills:{CANARY_PASSWORD}@127.0.0.1:{port}/gameday"
    listed = _gameday("history", "--store", url, env=_env(tmp_path))
    assert listed.returncode == 2
    assert listed.stderr.startswith(
        f"error: postgresql://drills:[redacted]@127.0.0.1:{port}/gameday: cannot open the "
        "history store: connection failed: "
    ), listed.stderr
    _no_canary(listed.stdout, listed.stderr)
