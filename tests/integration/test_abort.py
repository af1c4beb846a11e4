"""``gameday abort`` sends its token only to gateways found in this user's own 0700 run
folders (issue 14, finding 6): a folder another user planted in the shared temp folder, with
a live pid in its name, is ignored and said so."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gameday.abort import abort, running_gateways
from gameday.environments.workdir import GATEWAY_URL_FILE, run_workdir, sweep_stale

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "abort-token-0123456789"


class _Recorder(ThreadingHTTPServer):
    seen: list[tuple[str, str, str | None]]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_DELETE(self) -> None:
        self.server.seen.append(("DELETE", self.path, self.headers.get("Authorization")))
        body = b'{"removed": 2}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def listener() -> Iterator[_Recorder]:
    """A loopback HTTP server that records every request (a planted 'gateway')."""
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _url(server: _Recorder) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _plant(parent: Path, suffix: str, url: str, mode: int = 0o700) -> Path:
    """A run folder named for a live process (this test's), as anyone could create it."""
    folder = parent / f"gameday-run-{os.getpid()}-{suffix}"
    folder.mkdir()
    (folder / GATEWAY_URL_FILE).write_text(url)
    folder.chmod(mode)
    return folder


def _abort_cli(tmpdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_GATEWAY_URL"}
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "abort"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "TMPDIR": str(tmpdir), "GAMEDAY_GATEWAY_TOKEN": TOKEN},
        timeout=60,
    )


def test_a_folder_others_may_write_is_ignored_and_never_sent_the_token(
    tmp_path: Path, listener: _Recorder
) -> None:
    folder = _plant(tmp_path, "planted", _url(listener), mode=0o777)

    process = _abort_cli(tmp_path)

    assert listener.seen == []
    assert (process.returncode, process.stdout) == (
        0,
        "no gateway found: no drill is running here and none was named\n",
    )
    assert process.stderr == (
        f"ignored {folder}: has mode 0777, not 0700 (not trusted: its gateway was not contacted)\n"
    )


def test_a_genuine_0700_folder_is_cleared_with_the_token(
    tmp_path: Path, listener: _Recorder
) -> None:
    _plant(tmp_path, "mine", _url(listener))

    process = _abort_cli(tmp_path)

    assert (process.returncode, process.stderr) == (0, "")
    assert process.stdout == f"cleared 2 fault(s) at {_url(listener)}\n"
    assert listener.seen == [("DELETE", "/_gameday/faults", f"Bearer {TOKEN}")]


def test_a_writable_gateway_url_file_or_a_symlinked_folder_is_ignored(
    tmp_path: Path, listener: _Recorder
) -> None:
    writable = _plant(tmp_path, "a", _url(listener))
    (writable / GATEWAY_URL_FILE).chmod(0o666)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (elsewhere / GATEWAY_URL_FILE).write_text(_url(listener))
    link = tmp_path / f"gameday-run-{os.getpid()}-b"
    link.symlink_to(elsewhere)

    done = abort([], TOKEN, parent=tmp_path)

    assert (done.cleared, listener.seen) == ([], [])
    assert done.ignored == [
        f"{writable / GATEWAY_URL_FILE}: has mode 0666: others may write to it",
        f"{link}: is a symlink",
    ]


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_owned_by_another_user_is_ignored(tmp_path: Path, listener: _Recorder) -> None:
    folder = _plant(tmp_path, "theirs", _url(listener))
    os.chown(folder / GATEWAY_URL_FILE, 65534, 65534)
    os.chown(folder, 65534, 65534)

    done = abort([], TOKEN, parent=tmp_path)

    assert (done.cleared, listener.seen) == ([], [])
    assert done.ignored == [f"{folder}: is owned by uid 65534, not by this user (uid 0)"]
    assert sweep_stale(tmp_path) == []  # nor is it removed: it is not ours
    assert folder.exists()


def test_run_folders_are_made_0700_and_found_by_abort(tmp_path: Path) -> None:
    with run_workdir(tmp_path) as workdir:
        assert workdir.stat().st_mode & 0o777 == 0o700
        (workdir / GATEWAY_URL_FILE).write_text("http://127.0.0.1:1")
        found = running_gateways(tmp_path)
    assert (found.urls, found.ignored) == (["http://127.0.0.1:1"], [])
