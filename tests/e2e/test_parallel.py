"""`gameday run --parallel` as the installed command: the same outcome as one drill after
another, drills that really overlap, and nothing left behind after Ctrl-C or a killed runner."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "truth_app.py"
# (name, the app's behaviour): one passes, one misses its RTO target (exit 1), one passes.
DRILLS = [
    ("steady-one", "MODE: ride-through"),
    ("slow-heal", "MODE: recover-after, RECOVER_S: '1.5'"),
    ("steady-two", "MODE: ride-through"),
]


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _suite(folder: Path, *, duration: str, pid_files: Path | None = None) -> Path:
    """Three short drills in ``folder``; each app writes its pid under ``pid_files``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, env in DRILLS:
        pid = f", PID_FILE: '{pid_files / name}.pid'" if pid_files is not None else ""
        (folder / f"{name}.yaml").write_text(
            "apiVersion: gameday/v1\n"
            f"metadata: {{name: {name}}}\n"
            "target:\n"
            f"  app: {{command: ['{sys.executable}', '{APP}'], env: {{{env}{pid}}}, "
            "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 20s}\n"
            f"faults: [{{kind: identity-loss, start_after: 500ms, duration: {duration}}}]\n"
            "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, "
            "timeout: 1s}]\n"
            "objectives: [{kind: rto, probe: api, target: 1s}]\n"
            "observe: {max: 60s, recovery_window: 1s}\n"
        )
    return folder


def _env(tmp_path: Path) -> dict[str, str]:
    # Each run's scratch folders (named for the process that runs the drill) land here, where
    # the test can find the workers.
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return {**os.environ, "NO_COLOR": "1", "TMPDIR": str(scratch)}


def _run(tmp_path: Path, suite: Path, name: str, parallel: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _script(),
            "run",
            str(suite),
            "--parallel",
            str(parallel),
            "--report-dir",
            str(tmp_path / name),
            "--store",
            str(tmp_path / f"{name}.db"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(tmp_path),
        check=False,
    )


def _results(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*/result.json"))]


def _rows(store: Path) -> list[tuple[str, str, float | None, str | None]]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT scenario, status, score, grade FROM runs ORDER BY scenario")
        return [tuple(row) for row in rows]


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_gone(pids: set[int], timeout_s: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = {p for p in pids if _alive(p)}
        if not left:
            return left
        time.sleep(0.1)
    return {p for p in pids if _alive(p)}


def _wait_for_injections(process: subprocess.Popen[str], count: int) -> str:
    """stderr until ``count`` drills have injected their fault (plain lines, one per event)."""
    assert process.stderr is not None
    seen, injected = "", set[str]()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(injected) < count:
        line = process.stderr.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        for name, _ in DRILLS:
            if f"{name}: inject" in line:
                injected.add(name)
    assert len(injected) == count, f"not every drill injected; stderr so far:\n{seen}"
    return seen


def _workers(tmp_path: Path) -> set[int]:
    """The pids of the processes running drills, from their scratch folders' names."""
    from gameday.environments.workdir import run_folders

    return {pid for _, pid in run_folders(tmp_path / "scratch")}


def test_a_parallel_suite_ends_as_the_same_suite_run_in_turn(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", duration="1s")
    in_turn = _run(tmp_path, suite, "in-turn", 1)
    parallel = _run(tmp_path, suite, "parallel", 3)

    assert in_turn.returncode == 1, in_turn.stdout + in_turn.stderr
    assert parallel.returncode == in_turn.returncode, parallel.stdout + parallel.stderr
    assert "Traceback" not in parallel.stderr
    sequential, overlapped = _results(tmp_path / "in-turn"), _results(tmp_path / "parallel")
    assert len(sequential) == len(overlapped) == 3

    def outcome(results: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
        return sorted(
            (r["scenario"]["name"], r["status"], r["rollback"]["complete"]) for r in results
        )

    assert outcome(overlapped) == outcome(sequential)
    assert {r["status"] for r in overlapped} == {"passed", "failed"}
    assert _rows(tmp_path / "parallel.db") == _rows(tmp_path / "in-turn.db")
    # Both suite reports were written, from three results each.
    for name in ("in-turn", "parallel"):
        assert (tmp_path / name / "report.html").read_text().startswith("<!DOCTYPE html>")
    # Each drill in its own process, scratch folders and all gone afterwards.
    assert not list((tmp_path / "scratch").glob("gameday-run-*"))
    # They ran at once: every drill started before any of them ended.
    starts = [_when(r["started_at"]) for r in overlapped]
    ends = [_when(r["ended_at"]) for r in overlapped]
    assert max(starts) < min(ends), (starts, ends)
    # In turn, none overlapped.
    spans = sorted((_when(r["started_at"]), _when(r["ended_at"])) for r in sequential)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def _start(tmp_path: Path, suite: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            _script(),
            "run",
            str(suite),
            "--parallel",
            "3",
            "--report-dir",
            str(tmp_path / "out"),
            "--store",
            str(tmp_path / "history.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )


def _app_pids(folder: Path) -> set[int]:
    return {int(p.read_text()) for p in folder.glob("*.pid")}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_rolls_back_every_running_drill(tmp_path: Path, signum: signal.Signals) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    suite = _suite(tmp_path / "suite", duration="30s", pid_files=pids)
    process = _start(tmp_path, suite)
    _wait_for_injections(process, len(DRILLS))
    workers, apps = _workers(tmp_path), _app_pids(pids)
    assert len(workers) == len(apps) == len(DRILLS)
    gateways = [
        (folder / "gateway.url").read_text().strip()
        for folder in (tmp_path / "scratch").glob("gameday-run-*")
    ]
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=90)

    assert process.returncode == 4, stdout + stderr
    assert "Traceback" not in stderr
    results = _results(tmp_path / "out")
    assert sorted(r["scenario"]["name"] for r in results) == sorted(n for n, _ in DRILLS)
    for result in results:
        assert result["status"] == "aborted"
        assert result["reason"] == f"signal {signum.name}"
        assert result["rollback"] == {"complete": True, "problems": []}
        (fault,) = result["faults"]
        assert fault["injected_at"] is not None and fault["removed_at"] is not None
        kinds = [e["kind"] for e in result["events"]]
        assert kinds.index("abort") < kinds.index("remove")
    assert {row[1] for row in _rows(tmp_path / "history.db")} == {"aborted"}
    assert _wait_gone(workers | apps) == set()
    # The gateways went with their drills: no fault can still be served by one.
    import urllib.error
    import urllib.request

    assert len(gateways) == len(DRILLS)
    for url in gateways:
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{url}/_gameday/health", timeout=2)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_workers_roll_back_and_exit_when_the_runner_is_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    suite = _suite(tmp_path / "suite", duration="30s", pid_files=pids)
    process = _start(tmp_path, suite)
    _wait_for_injections(process, len(DRILLS))
    workers, apps = _workers(tmp_path), _app_pids(pids)
    assert len(workers) == len(apps) == len(DRILLS)
    process.kill()
    process.communicate(timeout=10)

    assert _wait_gone(workers | apps) == set(), "a worker or an app outlived the runner"
    # Each worker rolled its drill back and kept the result where the runner would have.
    results = _results(tmp_path / "out")
    assert len(results) == len(DRILLS)
    for result in results:
        assert result["status"] == "aborted"
        assert result["reason"] == f"the runner (pid {process.pid}) is gone"
        assert result["rollback"]["complete"] is True
        (fault,) = result["faults"]
        assert fault["removed_at"] is not None
    # History's rows were the dead runner's: the next look at the store finds them aborted.
    listed = subprocess.run(
        [_script(), "history", "--store", str(tmp_path / "history.db"), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert {row["status"] for row in json.loads(listed.stdout)} == {"aborted"}


def test_facilitate_refuses_parallel(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", duration="1s")
    done = subprocess.run(
        [_script(), "run", str(suite), "--facilitate", "--parallel", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --facilitate runs one drill at a time: --parallel 2 cannot be used with it\n"
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "gameday-reports").exists()
    assert not (tmp_path / ".gameday").exists()  # not even a history store was opened


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_worker_that_dies_ends_its_drill_as_an_error_and_the_suite_goes_on(
    tmp_path: Path,
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    suite = _suite(tmp_path / "suite", duration="4s", pid_files=pids)
    process = _start(tmp_path, suite)
    _wait_for_injections(process, len(DRILLS))
    app = int((pids / "steady-two.pid").read_text())
    worker = _parent(_parent(app))  # worker -> the app's supervisor -> the app
    assert worker in _workers(tmp_path)
    os.kill(worker, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 3, stdout + stderr  # could not run: the worst outcome here
    by_name = {r["scenario"]["name"]: r for r in _results(tmp_path / "out")}
    assert sorted(by_name) == sorted(name for name, _ in DRILLS)
    lost = by_name["steady-two"]
    assert lost["status"] == "error"
    assert lost["reason"] == (
        f"its worker process (pid {worker}) ended with signal 9 before sending its result"
    )
    # Its gateway, and the fault in it, went with the worker: nothing is left in force.
    assert lost["rollback"]["complete"] is True
    assert (by_name["steady-one"]["status"], by_name["slow-heal"]["status"]) == (
        "passed",
        "failed",
    )
    assert _wait_gone({app}) == set()


def test_a_terminal_shows_every_running_drill(tmp_path: Path) -> None:
    import pty
    import select

    suite = _suite(tmp_path / "suite", duration="2s")
    primary, secondary = pty.openpty()
    env = {**_env(tmp_path), "COLUMNS": "120", "LINES": "60", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [
            *(_script(), "run", str(suite), "--parallel", "3"),
            *("--report-dir", str(tmp_path / "out"), "--store", str(tmp_path / "history.db")),
        ],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif process.poll() is not None:
            break
    os.close(primary)
    process.wait(timeout=30)
    text = screen.decode(errors="replace")
    assert process.returncode == 1, text[-2000:]
    for name, _ in DRILLS:
        assert f"gameday run · {name}  [drill]" in text, name
        assert f"{name}: inject" in text, name
    assert "last samples (█ ok, ▁ failed, · missed)" in text
    assert "Traceback" not in text
