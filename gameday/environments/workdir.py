"""Each run's scratch folder (app log, port file, the demo's spool): removed when the run
ends, and, if the runner was killed before it could remove it, by the next run."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

RUN_PREFIX = "gameday-run-"
GATEWAY_URL_FILE = "gateway.url"
"""In a run's scratch folder: its gateway's URL, for `gameday abort` in another terminal."""
APP_LOG_FILE = "app.log"
"""In a run's scratch folder: the app's output; the drill keeps a capped, redacted copy beside
the result (``app_log.keep_app_log``) before the folder is removed."""


def alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 probes without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def untrusted(path: Path, *, folder: bool) -> str | None:
    """Why a run folder (or a file in one) may have been planted by someone else, or None.

    Trusted: not a symlink, owned by this user, and nobody else may write to it (a folder
    is exactly 0700, as ``run_workdir`` makes it). Another user can create
    ``gameday-run-<a live pid>-x`` in a shared temp folder; ``gameday abort`` must not send
    its token to a URL found there.
    """
    try:
        info = path.lstat()
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if stat.S_ISLNK(info.st_mode):
        return "is a symlink"
    if folder != stat.S_ISDIR(info.st_mode) or not (folder or stat.S_ISREG(info.st_mode)):
        return "is not a folder" if folder else "is not a regular file"
    if info.st_uid != os.getuid():
        return f"is owned by uid {info.st_uid}, not by this user (uid {os.getuid()})"
    mode = stat.S_IMODE(info.st_mode)
    if folder and mode != 0o700:
        return f"has mode {mode:04o}, not 0700"
    if not folder and mode & 0o022:
        return f"has mode {mode:04o}: others may write to it"
    return None


def run_folders(parent: Path | None = None) -> Iterator[tuple[Path, int]]:
    """Every ``gameday-run-<pid>-*`` entry of the temp folder, with its pid (symlinks too)."""
    root = parent or Path(tempfile.gettempdir())
    for folder in sorted(root.glob(f"{RUN_PREFIX}*-*")):
        pid_text = folder.name.removeprefix(RUN_PREFIX).split("-", 1)[0]
        if pid_text.isdigit():
            yield folder, int(pid_text)


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove this user's scratch folders of runs whose process is gone; returns what was
    removed (a symlink or another user's folder is never followed or touched)."""
    removed = []
    for folder, pid in run_folders(parent):
        if alive(pid) or untrusted(folder, folder=True) is not None:
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def run_workdir(parent: Path | None = None) -> Iterator[Path]:
    """A fresh scratch folder named for this process, mode 0700, removed on exit."""
    sweep_stale(parent)
    path = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=parent))
    try:
        # mkdtemp makes it 0700 already; said here because `gameday abort` trusts nothing else.
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
