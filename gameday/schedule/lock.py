"""One scheduler per history store: an exclusive ``flock`` on ``<store>.scheduler.lock``.

The lock is named after the store's real path (symlinks resolved), so a store reached through
a symlinked file or folder cannot run a second scheduler.

The kernel releases a ``flock`` when its holder's file is closed, which happens on every exit
of the process, SIGKILL included: a dead scheduler never leaves a stale lock behind. The file
itself stays (removing it would let two schedulers lock two different files of one name).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gameday.errors import InvalidInputError


class SchedulerLockedError(InvalidInputError):
    """Another scheduler already runs on this history store (exit 2)."""


def lock_path(store: Path) -> Path:
    """``<store>.scheduler.lock``, beside the store's real path: every symlink resolved (of
    the store and of its folders), so that no alias of one store gets a lock of its own."""
    real = store.resolve()
    return real.with_name(real.name + ".scheduler.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return "pid unknown"
    return f"pid {text}" if text.isdigit() else "pid unknown"


@contextmanager
def scheduler_lock(store: Path) -> Iterator[Path]:
    """Hold the store's scheduler lock for the ``with`` block; the lock file's path.

    Raise ``SchedulerLockedError`` naming the lock and the PID that holds it when another
    process has it.
    """
    path = lock_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise InvalidInputError(
            f"{path}: cannot create the scheduler lock: {error.strerror or error}",
            hint="give a writable history store with --store or GAMEDAY_STORE",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SchedulerLockedError(
                f"another scheduler is running on this store: {path} is locked by {_holder(fd)}",
                hint="one scheduler per history store: stop that one, or give another --store",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield path
    finally:
        os.close(fd)
