"""One scheduler per history store: ``scheduler_lock``, held for as long as the scheduler runs.

A SQLite store is locked with an exclusive ``flock`` on the store file itself; a PostgreSQL
store with a session advisory lock (``gameday.history.postgresql.advisory_lock``), which
PostgreSQL drops when the scheduler's connection ends, however its process ended. Either way
a second scheduler is refused, naming the holder.

The SQLite lock, in detail:

The kernel keys a ``flock`` on the file, not on the name it was opened by: every path to one
store (a symlink to it or to a folder above it, a hard link, a bind mount) takes the same lock,
so no alias of a store can run a second scheduler. A lock file named after the store's path
could not do that: a hard link is the same file under a name of its own, anywhere on the
file system. The store is created first when it is missing (an empty file is an empty SQLite
database), so that there is a file to lock.

SQLite locks the store with ``fcntl`` record locks, which are independent of ``flock`` on a
local file system, so the two never block each other. Closing any descriptor of a file drops
the record locks its process holds on it, though, so the lock must outlive every SQLite
connection of its process to the store: open the store inside the ``with`` block.

The kernel releases a ``flock`` when its holder's file is closed, which happens on every exit
of the process, SIGKILL included: a dead scheduler never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gameday.errors import InvalidInputError
from gameday.history import StoreLocation, store_location

_PROC_LOCKS = Path("/proc/locks")


class SchedulerLockedError(InvalidInputError):
    """Another scheduler already runs on this history store (exit 2)."""


def _holder(identity: os.stat_result) -> str:
    """``pid N`` of the process holding a ``flock`` on the file, from /proc/locks (Linux:
    ``N: FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE ...``, device numbers in hex)."""
    device = f"{os.major(identity.st_dev):02x}:{os.minor(identity.st_dev):02x}"
    key = f"{device}:{identity.st_ino}"
    try:
        lines = _PROC_LOCKS.read_text().splitlines()
    except OSError:
        return "pid unknown"
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key:
            return f"pid {fields[4]}" if fields[4].isdigit() else "pid unknown"
    return "pid unknown"


def _refusal(store: object, holder: str) -> SchedulerLockedError:
    return SchedulerLockedError(
        f"another scheduler is running on this store: {store} is locked by {holder}",
        hint="one scheduler per history store: stop that one, or give another --store",
    )


@contextmanager
def scheduler_lock(store: Path | str | StoreLocation) -> Iterator[Path | str]:
    """Hold the store's scheduler lock for the ``with`` block; what is locked: the SQLite
    store's real path, or the PostgreSQL store's redacted URL.

    Creates a SQLite store (and its folders) when missing. Raise ``SchedulerLockedError``
    naming the store and the holder of its lock when another process has it.
    """
    location = store_location(store)
    if location.path is None:
        yield from _advisory_lock(location)
    else:
        yield from _file_lock(location.path)


def _advisory_lock(location: StoreLocation) -> Iterator[str]:
    # psycopg is imported only for a PostgreSQL store (a tenth of a second).
    from gameday.history.postgresql import advisory_lock  # noqa: PLC0415

    with advisory_lock(location, "scheduler", role="gameday scheduler") as holder:
        if holder is not None:
            raise _refusal(location, holder)
        yield location.shown


def _file_lock(store: Path) -> Iterator[Path]:
    real = store.resolve()
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise InvalidInputError(
            f"{real}: cannot open the history store to lock it: {error.strerror or error}",
            hint="give a writable history store with --store or GAMEDAY_STORE",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refusal(real, _holder(os.fstat(fd))) from None
        yield real
    finally:
        os.close(fd)
