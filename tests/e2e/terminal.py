"""A real terminal for e2e tests: the command runs in its own tmux server, keys are sent with
``send-keys`` and the screen is read with ``capture-pane``, as a person would see it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")


class Terminal:
    """One tmux session running one command; ``close`` kills the server and what it runs."""

    def __init__(
        self,
        command: list[str],
        cwd: Path,
        *,
        after: str = ":",
        width: int = 160,
        height: int = 50,
    ) -> None:
        """``after``: a shell command run once ``command`` exited (its exit code is kept)."""
        if TMUX is None:
            pytest.fail("tmux is not installed: .ci/run installs Debian's tmux")
        self.socket = f"gameday-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = cwd / f".exit-{self.socket}"
        # The shell traps SIGINT as an interactive one ignores it: Ctrl-C reaches the command
        # (a trapped signal is reset to default across exec) and the pane outlives it.
        script = (
            f"trap : INT; cd {shlex.quote(str(cwd))}; {shlex.join(command)}; code=$?; {after}; "
            f"echo $code > {shlex.quote(str(self.exit_file))}; sleep 120"
        )
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", script)

    def _tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run(
            [TMUX, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "TERM": "xterm-256color"},
            check=False,
        )
        return done.stdout

    def screen(self) -> str:
        """What the terminal shows now (and its scrollback), without colours."""
        return self._tmux("capture-pane", "-p", "-S", "-200")

    def send(self, *keys: str, literal: bool = False) -> float:
        """Send keys (tmux names: Enter, Escape, C-c); returns the monotonic time of sending."""
        sent = time.monotonic()
        self._tmux("send-keys", *(["-l"] if literal else []), *keys)
        return sent

    def wait_for(self, text: str, timeout_s: float = 60) -> str:
        """The screen once it shows ``text``; fails with the screen when it never does."""
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            if self.exit_file.exists() and text not in (screen := self.screen()):
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")

    def exit_code(self, timeout_s: float = 90) -> int:
        """The command's exit code, once it exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.exit_file.exists() and self.exit_file.read_text().strip():
                return int(self.exit_file.read_text())
            time.sleep(0.1)
        raise AssertionError(f"the command did not exit; the screen:\n{self.screen()}")

    def close(self) -> None:
        self._tmux("kill-server")
        self.exit_file.unlink(missing_ok=True)
