"""The app's port must be held by the app: a stranger that took it first is an error, not a
drill measured against the wrong process (parallel suites make the race real)."""

from __future__ import annotations

import http.server
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from gameday.environments.app import AppProcess
from gameday.environments.ports import listening_pids
from gameday.errors import EnvironmentFailure
from gameday.scenario.target import CommandApp

SERVE = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)
# Never listens: whatever answers on its port is a stranger.
SLEEP_ONLY = "import time; time.sleep(60)\n"


def _app(code: str, health: str) -> CommandApp:
    return CommandApp(command=(sys.executable, "-c", code), health_url=health, ready_timeout="10s")


def test_listening_pids_finds_this_process_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        found = listening_pids(port, [os.getpid()])
        assert found is None or found == {os.getpid()}
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        assert listening_pids(other.getsockname()[1]) in (None, set())  # bound, not listening


def test_an_app_on_its_own_port_passes(tmp_path: Path) -> None:
    app = AppProcess(
        _app(SERVE, "http://127.0.0.1:{port}/health"),
        env={"PATH": "/usr/bin:/bin"},
        workdir=tmp_path,
        regions=("us-east-1",),
    )
    app.start()
    try:
        running = app.wait_ready()
        assert running.pid == app.pid
    finally:
        app.stop()


def test_a_stranger_on_the_apps_port_is_an_error(tmp_path: Path) -> None:
    app = AppProcess(
        _app(SLEEP_ONLY, "http://127.0.0.1:{port}/health"),
        env={"PATH": "/usr/bin:/bin"},
        workdir=tmp_path,
        regions=("us-east-1",),
    )
    port = int(app._env["PORT"])  # the port gameday chose for it

    # The stranger: this test process takes the port and answers the health check.
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", port), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.start()
    try:
        if listening_pids(port) is None:
            pytest.skip("no /proc: the owner cannot be checked here")
        with pytest.raises(EnvironmentFailure, match=f"port {port}.*held by another process"):
            app.wait_ready()
    finally:
        app.stop()
        server.shutdown()
        server.server_close()
