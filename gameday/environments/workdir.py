"""Each run's scratch folder (app log, port file, the demo's spool): removed when the run
ends, and, if the runner was killed before it could remove it, by the next run."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

RUN_PREFIX = "gameday-run-"
GATEWAY_URL_FILE = "gateway.url"
"""In a run's scratch folder: its gateway's URL, for `gameday abort` in another terminal."""


def alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 probes without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(parent: Path | None = None) -> list[Path]:
    """Remove the scratch folders of runs whose process is gone; returns what was removed."""
    removed = []
    root = parent or Path(tempfile.gettempdir())
    for folder in root.glob(f"{RUN_PREFIX}*-*"):
        pid_text = folder.name.removeprefix(RUN_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if folder.stat().st_uid == os.getuid():
                shutil.rmtree(folder)
                removed.append(folder)
    return removed


@contextlib.contextmanager
def run_workdir(parent: Path | None = None) -> Iterator[Path]:
    """A fresh scratch folder named for this process, removed on exit."""
    sweep_stale(parent)
    path = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
