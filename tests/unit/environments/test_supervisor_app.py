"""AppProcess through its supervisor, on real processes: the same promises as before (ready,
the app's pid, its exit code, its log, an idempotent stop), now for the app's whole tree."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.environments.app import AppProcess
from gameday.errors import EnvironmentFailure
from gameday.scenario.target import CommandApp

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a subreaper and /proc: Linux")

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "tree_app.py"
MARK = "GAMEDAY_TEST_TREE"


def marked(mark: str) -> list[int]:
    """Live processes whose environment holds ``MARK=mark`` (a zombie's reads as empty)."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{name}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(name))
    return found


@pytest.fixture
def mark() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in marked(value):  # never leave a process behind a failed test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def app_process(
    tmp_path: Path, mark: str, command: list[str], cwd: str | None = None, **env: str
) -> AppProcess:
    app = CommandApp.model_validate(
        {
            "command": command,
            "cwd": cwd,
            "env": env,
            "health_url": "http://127.0.0.1:{port}/health",
            "ready_timeout": "10s",
        }
    )
    return AppProcess(app, env={**os.environ, MARK: mark}, workdir=tmp_path, regions=("us-east-1",))


def test_the_running_app_is_the_app_itself_and_stop_leaves_nothing(
    tmp_path: Path, mark: str
) -> None:
    pid_file = tmp_path / "serving.pid"
    process = app_process(tmp_path, mark, [sys.executable, str(APP)], PID_FILE=str(pid_file))
    try:
        process.start()
        running = process.wait_ready()
    finally:
        process.stop()
    assert running.pid == process.pid == int(pid_file.read_text())
    assert running.url.startswith("http://127.0.0.1:")
    assert running.log == tmp_path / "app.log"
    assert marked(mark) == []
    process.stop()  # idempotent


def test_a_daemon_whose_launcher_exited_is_a_running_app(tmp_path: Path, mark: str) -> None:
    pid_file = tmp_path / "serving.pid"
    command = [sys.executable, str(APP)]
    process = app_process(tmp_path, mark, command, MODE="daemon", PID_FILE=str(pid_file))
    process.start()
    try:
        process.wait_ready()
        daemon_pid = int(pid_file.read_text())
        assert daemon_pid != process.pid and not os.path.exists(f"/proc/{process.pid}")
        assert os.path.exists(f"/proc/{daemon_pid}")
    finally:
        process.stop()
    assert marked(mark) == []


def test_an_app_that_exits_at_start_reports_its_code_and_output(tmp_path: Path, mark: str) -> None:
    process = app_process(tmp_path, mark, ["sh", "-c", "echo no config; exit 3"])
    process.start()
    try:
        with pytest.raises(EnvironmentFailure) as caught:
            process.wait_ready()
    finally:
        process.stop()
    message = caught.value.message
    assert message == "the app exited with code 3 at start; the app's last output:\nno config"


def test_an_app_that_cannot_start_is_named(tmp_path: Path, mark: str) -> None:
    process = app_process(tmp_path, mark, ["/nonexistent/app"])
    with pytest.raises(EnvironmentFailure) as caught:
        process.start()
    assert caught.value.message == (
        "cannot start the app '/nonexistent/app': "
        "[Errno 2] No such file or directory: '/nonexistent/app'"
    )
    process.stop()
    assert marked(mark) == []


def test_a_missing_working_directory_is_named(tmp_path: Path, mark: str) -> None:
    process = app_process(tmp_path, mark, ["sh", "-c", "true"], cwd="/nonexistent/dir")
    with pytest.raises(EnvironmentFailure) as caught:
        process.start()
    assert caught.value.message == (
        "cannot start the app 'sh': [Errno 2] No such file or directory: '/nonexistent/dir'"
    )
    process.stop()


def test_stop_ends_a_tree_started_through_a_shell(tmp_path: Path, mark: str) -> None:
    pid_file = tmp_path / "serving.pid"
    shell = f"'{sys.executable}' '{APP}'; sleep 60"
    process = app_process(tmp_path, mark, ["sh", "-c", shell], PID_FILE=str(pid_file))
    process.start()
    try:
        process.wait_ready()
        assert len(marked(mark)) == 3  # the supervisor, sh and python
    finally:
        begun = time.monotonic()
        process.stop()
    # python dies of SIGTERM; sh, had it been left, would have started `sleep`.
    assert time.monotonic() - begun < 2
    assert marked(mark) == []
