"""One scheduler per history store: ``scheduler_lock``, held for as long as the scheduler runs.

A SQLite store is locked with an exclusive ``flock`` on the store file itself; a PostgreSQL
store with a session advisory lock (``gameday.history.postgresql.advisory_lock``), which
PostgreSQL drops when the scheduler's connection ends, however its process ended. Either way
a second scheduler is refused, naming the holder.

A ``flock`` cannot be lost while its descriptor is open; a session lock can, with its
connection alone (a server restart or failover, an idle session killed), while the scheduler
lives on. So the held lock (``hold_scheduler_lock``) is confirmed: in the background every
``KEEP_S`` (a drill may run for minutes) and by the scheduler before each drill, each time
reopening a lost connection and taking the lock again. When another scheduler took it in
between, the lock stays lost (``SchedulerLockLostError``): this scheduler must stop.

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
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from gameday.errors import GameDayError, InvalidInputError
from gameday.history import StoreLocation, store_location

if TYPE_CHECKING:
    from gameday.history.postgresql import AdvisoryLock

_PROC_LOCKS = Path("/proc/locks")
KEEP_S = 1.0
"""How often a PostgreSQL scheduler lock is confirmed in the background (taken again when its
connection was lost), drills included."""

Log = Callable[[str], None]


class SchedulerLockedError(InvalidInputError):
    """Another scheduler already runs on this history store (exit 2)."""


class SchedulerLockLostError(SchedulerLockedError):
    """This scheduler's lock went with its connection to the store, and another scheduler
    took it before this one could take it again: this one stops (exit 2)."""


class SchedulerLock(Protocol):
    """The lock a running scheduler holds (``hold_scheduler_lock``)."""

    @property
    def what(self) -> Path | str:
        """What is locked: the SQLite store's real path, or the PostgreSQL store's redacted
        URL."""
        ...

    def confirm(self) -> None:
        """Return while this scheduler holds the lock. SchedulerLockLostError when another
        scheduler has it now (for good); another GameDayError when the store cannot tell
        (unreachable: start no drill, ask again later)."""


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
    with hold_scheduler_lock(store) as held:
        yield held.what


@contextmanager
def hold_scheduler_lock(
    store: Path | str | StoreLocation, log: Log | None = None, keep_s: float = KEEP_S
) -> Iterator[SchedulerLock]:
    """``scheduler_lock``, yielding the held lock for the scheduler to ``confirm``. A
    PostgreSQL lock is also confirmed every ``keep_s`` in a thread of its own, which logs
    (``log``) when it finds it lost."""
    location = store_location(store)
    if location.path is None:
        yield from _advisory_lock(location, log, keep_s)
    else:
        yield from _file_lock(location.path)


@dataclass(frozen=True)
class _HeldFlock:
    what: Path

    def confirm(self) -> None:
        """A ``flock`` lasts as long as its descriptor is open: nothing can take it away."""


class _HeldAdvisoryLock:
    """A PostgreSQL scheduler lock, kept: confirmed by the scheduler and by a thread."""

    def __init__(self, what: str, lock: AdvisoryLock, log: Log | None) -> None:
        self.what = what
        self._lock, self._log = lock, log
        self._mutex = threading.Lock()  # the lock's connection serves one thread at a time
        self._lost: SchedulerLockLostError | None = None
        self._stop = threading.Event()

    def confirm(self) -> None:
        with self._mutex:
            if self._lost is None:
                holder = self._lock.confirm()
                if holder is not None:
                    self._lost = SchedulerLockLostError(
                        f"lost the scheduler lock: another scheduler is running on this store: "
                        f"{self.what} is locked by {holder}",
                        hint="the lock went with this scheduler's connection to the store and "
                        "another scheduler took it: that one runs the drills now (one scheduler "
                        "per history store)",
                    )
            if self._lost is not None:
                raise self._lost

    @contextmanager
    def kept(self, every_s: float) -> Iterator[None]:
        """Confirm the lock every ``every_s`` in a thread, for the ``with`` block."""
        keeper = threading.Thread(
            target=self._keep, args=(every_s,), name="gameday-scheduler-lock", daemon=True
        )
        keeper.start()
        try:
            yield
        finally:
            self._stop.set()
            keeper.join()  # before the connection closes: a reconnect ends within RECONNECT

    def _keep(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.confirm()
            except SchedulerLockLostError as error:
                if self._log is not None:
                    self._log(f"error: {error.message}; no drill starts from now on")
                return
            except GameDayError:
                continue  # unreachable: the scheduler says so before its next drill


def _advisory_lock(
    location: StoreLocation, log: Log | None, keep_s: float
) -> Iterator[_HeldAdvisoryLock]:
    # psycopg is imported only for a PostgreSQL store (a tenth of a second).
    from gameday.history.postgresql import advisory_lock  # noqa: PLC0415

    with advisory_lock(location, "scheduler", role="gameday scheduler") as lock:
        if isinstance(lock, str):
            raise _refusal(location, lock)
        held = _HeldAdvisoryLock(location.shown, lock, log)
        with held.kept(keep_s):
            yield held


def _file_lock(store: Path) -> Iterator[_HeldFlock]:
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
        yield _HeldFlock(real)
    finally:
        os.close(fd)
