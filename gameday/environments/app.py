"""Start the app under test as a child process, wait until it is ready, and always stop it.

No process outlives a run: the app runs under a small supervisor (``supervisor.py``), a child
subreaper that holds the read end of a pipe only the runner can write to. When the runner
closes it (``stop``) or dies in any way (SIGKILL included: the kernel closes it), the
supervisor terminates, then kills, every process below it: the app, the children of a shell
that started it, a daemon that double-forked into its own session.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gameday.environments import supervisor
from gameday.environments.ports import listening_pids
from gameday.environments.workdir import APP_LOG_FILE
from gameday.errors import EnvironmentFailure
from gameday.scenario.target import AppSpec, CommandApp, DemoApp, DemoAppRef

DEMO_READY_TIMEOUT_S = 20.0
REPORT_TIMEOUT_S = 30.0
"""How long the supervisor has to start and report the app's pid (it takes ~20 ms)."""


def _still_running() -> int | None:
    return None


@dataclass(frozen=True)
class RunningApp:
    """The app's base URL and its process."""

    url: str
    pid: int
    log: Path
    exit_code: Callable[[], int | None] = _still_running
    """None while the app runs; once its whole process tree has ended, its exit code
    (negative: the signal that ended it), as the supervisor reports it."""


def _free_port() -> int:
    # Only for third-party apps that must be told a port up front; the demo binds port 0
    # itself and reports the port, which cannot race.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_environment(demo: DemoApp, regions: tuple[str, ...]) -> dict[str, str]:
    """The demo service's configuration as the environment variables it reads."""
    return {
        "GAMEDAY_DEMO_REGIONS": ",".join(regions),
        "GAMEDAY_DEMO_CACHE_CREDENTIALS": "1" if demo.cache_credentials else "0",
        "GAMEDAY_DEMO_LOG_SPOOL": "1" if demo.log_spool else "0",
        "GAMEDAY_DEMO_IMAGE_CACHE": "1" if demo.image_cache else "0",
        "GAMEDAY_DEMO_FAILOVER_REGION": demo.failover_region or "",
        "GAMEDAY_DEMO_SELF_HEAL": demo.self_heal,
        "GAMEDAY_DEMO_ALERT_TOPIC": demo.alert_topic or "",
        "GAMEDAY_DEMO_ALERT_FALLBACK": "1" if demo.alert_fallback else "0",
    }


def _command(
    app: AppSpec, workdir: Path, regions: tuple[str, ...]
) -> tuple[list[str], dict[str, str], str | None, str | None, float]:
    """(argv, extra env, cwd, health URL or None when the app reports it, ready timeout)."""
    if isinstance(app, CommandApp):
        port = _free_port()
        extra = {**app.env, "PORT": str(port), "GAMEDAY_APP_PORT": str(port)}
        health = app.health_url.replace("{port}", str(port))
        return list(app.command), extra, app.cwd, health, app.ready_timeout
    demo = app.demo if isinstance(app, DemoAppRef) else DemoApp()
    argv = [sys.executable, "-m", "gameday.demo", "--listen", "127.0.0.1:0"]
    argv += ["--port-file", str(workdir / "app.url")]
    return argv, demo_environment(demo, regions), None, None, DEMO_READY_TIMEOUT_S


def _tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


HEALTH_TIMEOUT_S = 1.0
"""How long one health check waits for an answer; the next starts 50 ms later."""


def _excerpt(body: bytes, limit: int = 120) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_health(target: str) -> str | None:
    """None when ``target`` answers 2xx; else what went wrong, in words a person can act on.

    Raises EnvironmentFailure for a URL that can never answer (a scheme urllib cannot open):
    waiting out the ready timeout would only hide it."""
    try:
        with urllib.request.urlopen(target, timeout=HEALTH_TIMEOUT_S) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}: {_excerpt(response.read(4096))!r}"
    except urllib.error.HTTPError as error:
        body = _excerpt(error.read(4096)) if error.fp is not None else ""
        return f"HTTP {error.code} {error.reason}" + (f": {body!r}" if body else "")
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, str) and reason.startswith("unknown url type"):
            raise EnvironmentFailure(
                f"the app's health URL {target!r} cannot be opened: {reason}",
                hint="write an absolute URL, e.g. http://127.0.0.1:{port}/health",
            ) from None
        if isinstance(reason, ConnectionRefusedError):
            return f"connection refused (nothing listening at {urlsplit(target).netloc})"
        if isinstance(reason, TimeoutError):
            return f"no answer within {HEALTH_TIMEOUT_S:g} s"
        return str(reason)
    except TimeoutError:
        return f"no answer within {HEALTH_TIMEOUT_S:g} s"
    except (OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"


def _wait_ready(
    process: subprocess.Popen[bytes], health: str | None, port_file: Path, timeout_s: float
) -> str:
    deadline = time.monotonic() + timeout_s
    url = None
    last = "the app did not report its address" if health is None else "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EnvironmentFailure(f"the app exited with code {process.returncode} at start")
        if health is None and url is None and port_file.exists():
            url = port_file.read_text().strip()
        target = health or (f"{url}/health" if url else None)
        if target is not None:
            problem = _check_health(target)
            if problem is None:
                parts = urlsplit(target)
                return url or f"{parts.scheme}://{parts.netloc}"
            last = problem
        time.sleep(0.05)
    raise EnvironmentFailure(
        f"the app was not ready within {timeout_s:g} s"
        + (f" (health URL {health}; last check: {last})" if health else f" ({last})"),
        hint="raise target.app.ready_timeout, or check the app's log below",
    )


def _read_report(status_fd: int, timeout_s: float) -> str:
    """The supervisor's one line (``pid N`` or ``error MESSAGE``); "" if it ended without."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([status_fd], [], [], remaining)[0]:
            return ""
        chunk = os.read(status_fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _stop(process: subprocess.Popen[bytes]) -> None:
    # Its control pipe is closed: the supervisor terminates the tree (SIGTERM, a grace
    # period, SIGKILL) and exits once no process is left.
    try:
        process.wait(timeout=supervisor.GRACE_S + supervisor.KILL_S + 2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=3)


class AppProcess:
    """The app under test as a child process: ``start`` (main thread), ``wait_ready`` (any
    thread, blocking), ``stop`` (idempotent)."""

    def __init__(
        self, app: AppSpec, *, env: Mapping[str, str], workdir: Path, regions: tuple[str, ...]
    ) -> None:
        self._argv, extra, self._cwd, self._health, self.ready_timeout_s = _command(
            app, workdir, regions
        )
        self._env = {**env, **extra}
        # The port gameday chose and the health URL names: checked for its owner once ready.
        told = isinstance(app, CommandApp) and "{port}" in app.health_url
        self._port = int(extra["PORT"]) if told else None
        self._port_file = workdir / "app.url"
        self.log = workdir / APP_LOG_FILE
        self._process: subprocess.Popen[bytes] | None = None
        self._app_pid: int | None = None
        self._control: int | None = None

    def start(self) -> None:
        """Start the supervisor and, through it, the app; returns once the app's process
        exists. Call it from the main thread: the supervisor's PR_SET_PDEATHSIG follows the
        thread that started it, and a worker thread's end would stop the app."""
        control_read, self._control = os.pipe()
        status_read, status_write = os.pipe()
        argv = supervisor.command_line(self._argv, control_fd=control_read, status_fd=status_write)
        try:
            with self.log.open("wb") as out:
                self._process = subprocess.Popen(
                    argv,
                    env=self._env,
                    cwd=self._cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(control_read, status_write),
                )
        except OSError as error:
            os.close(status_read)
            self.stop()
            raise EnvironmentFailure(f"cannot start the app {self._argv[0]!r}: {error}") from None
        finally:
            # Only the supervisor holds these ends now: its exit is the status pipe's end.
            os.close(control_read)
            os.close(status_write)
        try:
            report = _read_report(status_read, REPORT_TIMEOUT_S)
        finally:
            os.close(status_read)
        kind, _, detail = report.partition(" ")
        if kind == "pid":
            self._app_pid = int(detail)
            return
        self.stop()
        if kind == "error":
            raise EnvironmentFailure(f"cannot start the app {self._argv[0]!r}: {detail}")
        tail = _tail(self.log)
        raise EnvironmentFailure(
            f"the app's supervisor did not start {self._argv[0]!r}"
            + (f"; its last output:\n{tail}" if tail else "")
        )

    @property
    def pid(self) -> int | None:
        """The app's own process id (not its supervisor's), once started."""
        return self._app_pid

    def wait_ready(self) -> RunningApp:
        """Block until the health URL answers 2xx; EnvironmentFailure with the log's tail.

        The app counts as exited once its whole tree has: a launcher that exits while the
        daemon it started serves is still a running app."""
        assert self._process is not None and self._app_pid is not None, "start() first"
        try:
            url = _wait_ready(self._process, self._health, self._port_file, self.ready_timeout_s)
        except EnvironmentFailure as error:
            tail = _tail(self.log)
            raise EnvironmentFailure(
                error.message + (f"; the app's last output:\n{tail}" if tail else ""), error.hint
            ) from None
        self._check_port_owner()
        return RunningApp(url=url, pid=self._app_pid, log=self.log, exit_code=self.exit_code)

    def _check_port_owner(self) -> None:
        """EnvironmentFailure when the app's port is held by a process outside its tree: the
        health check was answered by a stranger that took the port first."""
        if self._port is None or self._process is None:
            return
        tree = [self._process.pid, *supervisor.descendants(self._process.pid)]
        ours = listening_pids(self._port, tree)
        if ours is None or ours:
            return
        strangers = sorted(listening_pids(self._port) or ())
        if strangers:
            raise EnvironmentFailure(
                f"port {self._port}, chosen for the app, is held by another process "
                f"(pid {', '.join(map(str, strangers))}), not by the app: the health check "
                "was not the app's",
                hint="another program took the port between gameday choosing it and the app "
                "binding it; run the drill again",
            )

    def exit_code(self) -> int | None:
        """None while the app's process tree lives (or before ``start``); its exit code after.

        The supervisor exits when the app's last process has, with the app's own code or
        re-raising the signal that ended it (``supervisor.py``)."""
        return None if self._process is None else self._process.poll()

    def stop(self) -> None:
        """Stop the app's whole process tree: SIGTERM, then SIGKILL after 3 s."""
        if self._control is not None:
            os.close(self._control)
            self._control = None
        if self._process is not None:
            _stop(self._process)
