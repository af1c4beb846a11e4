"""The app's readiness check says why the app is not ready: the health answer it got (status
and a short excerpt of the body), a refused connection, a URL that can never be opened; on
real app processes serving on loopback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gameday.environments.app import AppProcess
from gameday.errors import EnvironmentFailure
from gameday.scenario.target import CommandApp

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the app's supervisor: Linux")

ANSWERS_404 = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        body = f"no route {self.path}; try /healthz".encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("listening on", os.environ["PORT"], flush=True)
server.serve_forever()
"""


def _not_ready(tmp_path: Path, app: CommandApp) -> str:
    process = AppProcess(app, env=dict(os.environ), workdir=tmp_path, regions=("us-east-1",))
    process.start()
    try:
        with pytest.raises(EnvironmentFailure) as caught:
            process.wait_ready()
    finally:
        process.stop()
    return caught.value.message


def _app(command: list[str], health_url: str = "http://127.0.0.1:{port}/health") -> CommandApp:
    return CommandApp.model_validate(
        {"command": command, "health_url": health_url, "ready_timeout": "1500ms"}
    )


def test_a_404_health_answer_is_named_with_its_body(tmp_path: Path) -> None:
    script = tmp_path / "answers_404.py"
    script.write_text(ANSWERS_404)
    message = _not_ready(tmp_path, _app([sys.executable, str(script)]))
    first, _, output = message.partition("; the app's last output:\n")
    assert first.startswith("the app was not ready within 1.5 s (health URL http://127.0.0.1:")
    assert first.endswith(
        "/health; last check: HTTP 404 Not Found: 'no route /health; try /healthz')"
    )
    assert output.startswith("listening on ")


def test_an_app_that_does_not_listen_is_named_refused(tmp_path: Path) -> None:
    message = _not_ready(tmp_path, _app(["sleep", "30"]))
    assert message.startswith("the app was not ready within 1.5 s (health URL http://127.0.0.1:")
    assert "; last check: connection refused (nothing listening at 127.0.0.1:" in message


def test_a_health_url_that_cannot_be_opened_fails_at_once(tmp_path: Path) -> None:
    # The loader refuses this URL; a spec built another way must still not wait out the
    # ready timeout behind an error nobody sees.
    app = CommandApp.model_construct(
        command=("sleep", "30"),
        env={},
        cwd=None,
        health_url="127.0.0.1:{port}/health",
        ready_timeout=30.0,
        aws_profiles={},
    )
    process = AppProcess(app, env=dict(os.environ), workdir=tmp_path, regions=("us-east-1",))
    process.start()
    try:
        with pytest.raises(EnvironmentFailure) as caught:
            process.wait_ready()
    finally:
        process.stop()
    assert caught.value.message.startswith("the app's health URL '127.0.0.1:")
    assert "cannot be opened: unknown url type: 127.0.0.1" in caught.value.message
    assert caught.value.hint == "write an absolute URL, e.g. http://127.0.0.1:{port}/health"
