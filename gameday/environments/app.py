"""Start the app under test as a child process, wait until it is ready, and always stop it.

No process outlives a run: the app runs in its own process group, which is terminated (then
killed) on exit; on Linux it also gets PR_SET_PDEATHSIG, so it dies with the runner even when
the runner is killed with SIGKILL and no cleanup code runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gameday.errors import EnvironmentFailure
from gameday.scenario.target import AppSpec, CommandApp, DemoApp, DemoAppRef

DEMO_READY_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunningApp:
    """The app's base URL and its process."""

    url: str
    pid: int
    log: Path


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL it when the parent
    # dies. Popen must be called from the main thread: the signal follows the parent *thread*.
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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


def _wait_ready(
    process: subprocess.Popen[bytes], health: str | None, port_file: Path, timeout_s: float
) -> str:
    deadline = time.monotonic() + timeout_s
    url = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EnvironmentFailure(f"the app exited with code {process.returncode} at start")
        if health is None and url is None and port_file.exists():
            url = port_file.read_text().strip()
        target = health or (f"{url}/health" if url else None)
        if target is not None:
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(target, timeout=1.0) as response,
            ):
                if 200 <= response.status < 300:
                    parts = urlsplit(target)
                    return url or f"{parts.scheme}://{parts.netloc}"
        time.sleep(0.05)
    raise EnvironmentFailure(
        f"the app was not ready within {timeout_s:g} s"
        + (f" (health URL {health})" if health else ""),
        hint="raise target.app.ready_timeout, or check the app's log below",
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
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
        self._port_file = workdir / "app.url"
        self.log = workdir / "app.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process; call it from the main thread (see ``_die_with_parent``)."""
        with self.log.open("wb") as out:
            try:
                self._process = subprocess.Popen(
                    self._argv,
                    env=self._env,
                    cwd=self._cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
                )
            except OSError as error:
                raise EnvironmentFailure(
                    f"cannot start the app {self._argv[0]!r}: {error}"
                ) from None

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return self._process.pid if self._process else None

    def wait_ready(self) -> RunningApp:
        """Block until the health URL answers 2xx; EnvironmentFailure with the log's tail."""
        assert self._process is not None, "start() first"
        try:
            url = _wait_ready(self._process, self._health, self._port_file, self.ready_timeout_s)
        except EnvironmentFailure as error:
            tail = _tail(self.log)
            raise EnvironmentFailure(
                error.message + (f"; the app's last output:\n{tail}" if tail else ""), error.hint
            ) from None
        return RunningApp(url=url, pid=self._process.pid, log=self.log)

    def stop(self) -> None:
        """Terminate the process group, then kill it after 3 s."""
        if self._process is not None:
            _stop(self._process)
