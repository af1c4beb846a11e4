"""The supervisor on real processes: it stops the app's whole tree when the runner's pipe
closes or a stop signal comes, and exits as the app did."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.environments.supervisor import command_line

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="a subreaper and /proc: Linux")

MARK = "GAMEDAY_TEST_TREE"
# Double-forks into a new session; the launcher exits 0 once the middle process has.
DAEMON = (
    "import os, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        time.sleep(60)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
)


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


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.02)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_bytes().rpartition(b")")[2].split()[1])


@dataclass
class Supervised:
    """A supervisor started as the runner starts it; the test holds the control pipe."""

    process: subprocess.Popen[bytes]
    control: int | None
    report: str
    mark: str

    @property
    def app_pid(self) -> int:
        kind, _, pid = self.report.partition(" ")
        assert kind == "pid", self.report
        return int(pid)

    def close(self) -> None:
        if self.control is not None:
            os.close(self.control)
            self.control = None

    def tree(self) -> list[int]:
        return [pid for pid in marked(self.mark) if pid != self.process.pid]


Start = Callable[..., Supervised]


def read_report(fd: int, timeout_s: float = 10) -> str:
    data = b""
    while not data.endswith(b"\n") and select.select([fd], [], [], timeout_s)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Supervised] = []

    def start(command: list[str], *, grace_s: float = 3.0) -> Supervised:
        mark = uuid.uuid4().hex
        control_read, control_write = os.pipe()
        status_read, status_write = os.pipe()
        argv = command_line(
            command, control_fd=control_read, status_fd=status_write, grace_s=grace_s
        )
        process = subprocess.Popen(
            argv,
            env={**os.environ, MARK: mark},
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(control_read, status_write),
        )
        os.close(control_read)
        os.close(status_write)
        report = read_report(status_read)
        supervised = Supervised(process, control_write, report, mark)
        started.append(supervised)
        os.close(status_read)
        return supervised

    yield start
    for supervised in started:
        supervised.close()
        for pid in marked(supervised.mark):  # never leave a process behind a failed test
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        supervised.process.wait(timeout=10)


def test_it_reports_the_app_pid_and_exits_with_the_app_code(start: Start) -> None:
    supervised = start(["sh", "-c", "exit 3"])
    assert supervised.app_pid != supervised.process.pid
    assert supervised.process.wait(timeout=10) == 3


def test_an_app_killed_by_a_signal_ends_it_by_the_same_signal(start: Start) -> None:
    supervised = start(["sh", "-c", "kill -KILL $$"])
    assert supervised.process.wait(timeout=10) == -signal.SIGKILL


def test_a_command_that_cannot_start_is_reported(start: Start) -> None:
    supervised = start(["/nonexistent/app", "--flag"])
    assert supervised.report == "error [Errno 2] No such file or directory: '/nonexistent/app'"
    assert supervised.process.wait(timeout=10) == 127


def test_the_app_holds_neither_of_the_runners_pipes(tmp_path: Path) -> None:
    control_read, control_write = os.pipe()
    status_read, status_write = os.pipe()
    pipes = {f"pipe:[{os.fstat(fd).st_ino}]" for fd in (control_read, status_read)}
    argv = command_line(["sleep", "60"], control_fd=control_read, status_fd=status_write)
    process = subprocess.Popen(argv, pass_fds=(control_read, status_write), cwd=tmp_path)
    os.close(control_read)
    os.close(status_write)
    try:
        app_pid = int(read_report(status_read).removeprefix("pid "))
        # The status pipe ends although the app runs on: the supervisor closed its end, and
        # the app never had it.
        assert select.select([status_read], [], [], 10)[0] and os.read(status_read, 1) == b""
        held = {os.readlink(f"/proc/{app_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{app_pid}/fd")}
        assert not held & pipes, held
        assert os.getsid(app_pid) == app_pid != os.getsid(process.pid)
    finally:
        os.close(control_write)
        os.close(status_read)
        process.wait(timeout=10)
    assert not os.path.exists(f"/proc/{app_pid}")


def test_end_of_file_on_the_control_pipe_stops_the_whole_tree(start: Start, tmp_path: Path) -> None:
    daemon = tmp_path / "daemon.py"
    daemon.write_text(DAEMON)
    shell = f"'{sys.executable}' '{daemon}'; sleep 60 & sleep 60; true"
    supervised = start(["sh", "-c", shell])

    def daemons() -> list[int]:
        return [p for p in supervised.tree() if _cmdline(p) == f"{sys.executable} {daemon}"]

    # sh, its two sleeps, and the daemon once its launcher is gone.
    wait_until(lambda: len(supervised.tree()) == 4 and len(daemons()) == 1, 10, "the tree")
    (daemon_pid,) = daemons()
    # The daemon's parent died: it was reparented to the supervisor, not to PID 1.
    assert parent_of(daemon_pid) == supervised.process.pid
    sessions = {os.getsid(supervised.app_pid), os.getsid(supervised.process.pid)}
    assert os.getsid(daemon_pid) not in sessions, "the daemon has a session of its own"
    supervised.close()
    supervised.process.wait(timeout=5)
    assert marked(supervised.mark) == []


def test_sigterm_stops_the_tree_without_waiting_for_the_grace(start: Start) -> None:
    supervised = start(["sh", "-c", "sleep 60; true"], grace_s=3.0)
    wait_until(lambda: len(supervised.tree()) == 2, 10, "sh and sleep")
    begun = time.monotonic()
    supervised.process.send_signal(signal.SIGTERM)
    supervised.process.wait(timeout=10)
    assert time.monotonic() - begun < 1.5
    assert marked(supervised.mark) == []


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(
    start: Start, tmp_path: Path
) -> None:
    supervised = start(["sh", "-c", "trap '' TERM; sleep 60 & touch ready; wait"], grace_s=0.5)
    wait_until((tmp_path / "ready").exists, 10, "the trap")
    begun = time.monotonic()
    supervised.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert len(supervised.tree()) == 2, "SIGTERM is ignored: both wait for the grace to end"
    supervised.process.wait(timeout=10)
    assert 0.5 <= time.monotonic() - begun < 2.5
    assert marked(supervised.mark) == []


def test_a_launcher_that_exits_while_its_daemon_runs_does_not_end_it(start: Start) -> None:
    supervised = start([sys.executable, "-c", DAEMON])
    wait_until(lambda: not os.path.exists(f"/proc/{supervised.app_pid}"), 10, "the launcher")
    (daemon_pid,) = supervised.tree()
    time.sleep(0.2)
    assert supervised.process.poll() is None
    os.kill(daemon_pid, signal.SIGKILL)
    assert supervised.process.wait(timeout=5) == 0  # the launcher's code


def test_the_runners_death_stops_the_tree_when_the_pipe_stays_open(tmp_path: Path) -> None:
    # A forked copy of the runner could keep the pipe's write end open: PR_SET_PDEATHSIG is
    # the second trigger. The test holds the write end; the supervisor's parent dies.
    mark = uuid.uuid4().hex
    control_read, control_write = os.pipe()
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from gameday.environments.supervisor import command_line\n"
            "fd = int(sys.argv[1])\n"
            "subprocess.Popen(command_line(['sleep', '60'], control_fd=fd, status_fd=1),"
            " pass_fds=(fd,), start_new_session=True, stdout=subprocess.PIPE)\n"
            "time.sleep(60)\n",
            str(control_read),
        ],
        pass_fds=(control_read,),
        env={**os.environ, MARK: mark},
    )
    os.close(control_read)
    try:
        wait_until(lambda: len(marked(mark)) == 3, 10, "parent, supervisor and app")
        parent.kill()
        parent.wait(timeout=10)
        wait_until(lambda: marked(mark) == [], 5, "the tree's end")
    finally:
        os.close(control_write)
        for pid in marked(mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
