"""`gameday run` as the installed command: no process of the app outlives the runner, however
the runner ends, for an app started through a shell and for one that daemonises."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a subreaper and /proc: Linux")

APP = Path(__file__).resolve().parents[1] / "fixtures" / "apps" / "tree_app.py"
MARK = "GAMEDAY_TEST_TREE"


def _script() -> str:
    found = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert found
    return found


def _marked(mark: str) -> list[int]:
    """Live processes whose environment holds ``MARK=mark``: every process of the app, and
    its supervisor (a zombie's environment reads as empty)."""
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


def _gone(mark: str, timeout_s: float = 5.0) -> list[int]:
    """The app's processes still alive after ``timeout_s``; [] as soon as none is."""
    deadline = time.monotonic() + timeout_s
    while (left := _marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def mark() -> Iterator[str]:
    value = uuid.uuid4().hex
    yield value
    for pid in _marked(value):  # never leave a process behind a failed test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _scenario(tmp_path: Path, mark: str, *, mode: str, duration: str) -> Path:
    # The shell runs a command after python, so it cannot exec python in its own place:
    # python is the shell's child, as in `sh -c "python3 app.py; echo x"`.
    command = f"['sh', '-c', \"'{sys.executable}' '{APP}'; true\"]"
    env = f"{{MODE: {mode}, PID_FILE: '{tmp_path / 'serving.pid'}', {MARK}: '{mark}'}}"
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: tree}\n"
        "target:\n"
        f"  app: {{command: {command}, env: {env}, "
        "health_url: 'http://127.0.0.1:{port}/health', ready_timeout: 15s}\n"
        # The app calls no AWS API: the drill is about its process tree, not the fault.
        f"faults: [{{kind: identity-loss, start_after: 300ms, duration: {duration}, "
        "expect_calls: false}]\n"
        "probes: [{name: api, kind: http, url: '{app}/health', interval: 100ms, timeout: 1s}]\n"
        "objectives: [{kind: rto, probe: api, target: 1s}]\n"
        "observe: {max: 60s, recovery_window: 500ms}\n"
    )
    return path


def _argv(tmp_path: Path, scenario: Path) -> list[str]:
    out, store = str(tmp_path / "out"), str(tmp_path / "history.db")
    return [_script(), "run", str(scenario), "--report-dir", out, "--store", store]


def _wait_for(process: subprocess.Popen[str], text: str, timeout_s: float = 60) -> None:
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen += line
        if text in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{text!r} not seen; stderr so far:\n{seen}")


@pytest.mark.parametrize(
    ("mode", "signum"),
    [("serve", signal.SIGKILL), ("daemon", signal.SIGKILL), ("daemon", signal.SIGTERM)],
)
def test_no_process_of_the_app_outlives_a_killed_runner(
    tmp_path: Path, mark: str, mode: str, signum: signal.Signals
) -> None:
    scenario = _scenario(tmp_path, mark, mode=mode, duration="30s")
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        _argv(tmp_path, scenario),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for(process, "inject")
        serving = int((tmp_path / "serving.pid").read_text())
        assert serving in _marked(mark)
        process.send_signal(signum)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert process.returncode == {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 4}[signum]
    assert _gone(mark) == [], "the app outlived the runner"


def test_no_process_of_the_app_outlives_a_normal_run(tmp_path: Path, mark: str) -> None:
    scenario = _scenario(tmp_path, mark, mode="daemon", duration="300ms")
    done = subprocess.run(
        _argv(tmp_path, scenario), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "serving.pid").exists()
    # At once: the runner waits for the supervisor, which exits once the tree is gone.
    assert _gone(mark, timeout_s=0) == []
