"""The history store with real processes, on a SQLite file and a real PostgreSQL database
(``where``): a runner killed with SIGKILL, in the middle of a run and in the middle of a
write, and two runners writing at the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gameday.history import HistoryStatus, HistoryStore
from tests.history_stores import StoreUnderTest
from tests.unit.reports.runs import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}

KILLED_MID_RUN = """
import os, signal, sys
from pathlib import Path
from gameday.history import HistoryStore

store = HistoryStore(sys.argv[1])
store.start_run("killed-run", "identity-loss", "embedded", "2026-11-22T02:00:00Z")
os.kill(os.getpid(), signal.SIGKILL)
"""

KILLED_MID_WRITE = """
import os, signal, sqlite3, sys
from pathlib import Path
from gameday.history import HistoryStore

HistoryStore(Path(sys.argv[1])).close()
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute(
    "INSERT INTO runs (run_id, scenario, environment, status, started_at) "
    "VALUES ('half-written', 'x', 'embedded', 'running', '2026-11-22T02:00:00.000Z')"
)
os.kill(os.getpid(), signal.SIGKILL)
"""

KILLED_MID_WRITE_POSTGRESQL = """
import os, signal, sys
import psycopg
from gameday.history import HistoryStore

HistoryStore(sys.argv[1]).close()
db = psycopg.connect(sys.argv[1], autocommit=True)
db.execute("BEGIN")
db.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
db.execute(
    "INSERT INTO runs (run_id, scenario, environment, status, started_at) "
    "VALUES ('half-written', 'x', 'embedded', 'running', '2026-11-22T02:00:00.000Z')"
)
os.kill(os.getpid(), signal.SIGKILL)
"""

WRITER = """
import sys, time
from pathlib import Path
from gameday.history import HistoryStore
from tests.unit.reports.runs import met_and_missed

path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
template = met_and_missed()
with HistoryStore(path, busy_timeout_s=30) as store:
    (go.parent / f"ready-{name}").touch()
    while not go.exists():
        time.sleep(0.005)
    for i in range(count):
        run_id = f"{name}-{i:03d}"
        store.start_run(run_id, "identity-loss", "embedded", template.started_at)
        store.finish_run(template.model_copy(update={"run_id": run_id}))
"""


def _python(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        env=ENV,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_runner_killed_mid_run_leaves_an_aborted_row(where: StoreUnderTest) -> None:
    path = where.location
    killed = _python(KILLED_MID_RUN, path)
    _, err = killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, err
    with HistoryStore(path) as store:
        (row,) = store.runs()
    assert (row.run_id, row.status, row.score, row.grade) == (
        "killed-run",
        HistoryStatus.ABORTED,
        None,
        None,
    )
    assert row.writer_pid == killed.pid
    assert row.reason is not None
    assert row.reason.startswith(f"the runner (pid {killed.pid} on ")


def test_a_runner_killed_mid_write_leaves_the_store_whole_and_unlocked(
    where: StoreUnderTest,
) -> None:
    path = where.location
    killed = _python(KILLED_MID_WRITE_POSTGRESQL if where.is_postgresql else KILLED_MID_WRITE, path)
    _, err = killed.communicate(timeout=30)
    assert killed.returncode == -signal.SIGKILL, err
    started = time.monotonic()
    with HistoryStore(path, busy_timeout_s=5) as store:
        assert store.runs() == []  # the uncommitted row is gone
        store.start_run("after", "identity-loss", "embedded", "2026-11-22T03:00:00Z")
        assert [r.run_id for r in store.runs()] == ["after"]
    # The dead writer's lock went with it: nobody waited for the busy timeout.
    assert time.monotonic() - started < 2


def test_two_concurrent_writers_both_land(where: StoreUnderTest, tmp_path: Path) -> None:
    path, go, count = where.location, tmp_path / "go", 40
    HistoryStore(path).close()
    writers = [_python(WRITER, path, name, count, go) for name in ("a", "b")]
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{name}").exists() for name in "ab"):
        assert time.monotonic() < deadline, "the writers did not open the store"
        assert all(w.poll() is None for w in writers), [w.communicate() for w in writers]
        time.sleep(0.01)
    go.touch()  # both have the store open: they write at the same time from here
    for writer in writers:
        _, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
    with HistoryStore(path) as store:
        rows = store.runs()
    assert len(rows) == 2 * count
    assert {r.run_id for r in rows} == {f"{n}-{i:03d}" for n in "ab" for i in range(count)}
    assert {r.status for r in rows} == {HistoryStatus.FAILED}
    assert all(len(r.measurements) == 6 for r in rows)
