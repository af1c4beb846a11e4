"""The app's log as kept beside the result: capped at line ends, said where it was cut, and
redacted (issue 15)."""

from __future__ import annotations

from pathlib import Path

from gameday.environments.app_log import app_secrets, keep_app_log, read_capped
from gameday.scenario.target import CommandApp


def test_a_short_log_is_kept_whole(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\n")
    assert read_capped(log, head_bytes=4, tail_bytes=4) == "one\ntwo\n"


def test_a_long_log_keeps_its_first_and_last_whole_lines_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    lines = [f"line {n:03d}\n".encode() for n in range(100)]  # 9 bytes each
    log.write_bytes(b"".join(lines))
    text = read_capped(log, head_bytes=20, tail_bytes=30)
    assert text == (
        "line 000\nline 001\n"
        "[gameday: 855 bytes of the app's output left out here; it wrote 900 bytes, of which "
        "the first 18 and the last 27 are kept]\n"
        "line 097\nline 098\nline 099\n"
    )


def test_a_log_without_line_ends_is_cut_at_the_byte(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"x" * 100)
    text = read_capped(log, head_bytes=10, tail_bytes=10)
    assert text.startswith("x" * 10 + "\n[gameday: 80 bytes")
    assert text.endswith("]\n" + "x" * 10)


def test_the_kept_log_is_redacted_with_the_apps_own_secrets(tmp_path: Path) -> None:
    source, destination = tmp_path / "app.log", tmp_path / "out" / "run" / "app.log"
    source.write_text("connecting with hunter2-hunter2\nAuthorization: Bearer abc123def456\n")
    app = CommandApp.model_validate(
        {
            "command": ["app"],
            "health_url": "http://127.0.0.1:{port}/",
            "env": {"DB_PASSWORD": "hunter2-hunter2", "MODE": "fast"},
        }
    )
    assert app_secrets(app) == frozenset({"hunter2-hunter2"})
    assert keep_app_log(source, destination, secrets=app_secrets(app))
    kept = destination.read_text()
    assert kept == "connecting with [redacted]\nAuthorization: Bearer [redacted]\n"


def test_no_log_is_no_copy(tmp_path: Path) -> None:
    destination = tmp_path / "out" / "app.log"
    assert not keep_app_log(tmp_path / "missing.log", destination)
    assert not destination.exists()
