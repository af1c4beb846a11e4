"""Who is writing a run, and whether that process is gone.

A run row is written when the run starts, with its writer: host name, boot id, pid, and the
process's start time. A later open of the store finalises a ``running`` row as ``aborted``
when its writer is gone, which is how a runner killed by SIGKILL (no ``finally`` runs) still
leaves an ``aborted`` row. No heartbeat is needed, so a drill stuck in a long observation is
never declared dead while its process lives.

"Gone" is decided only where the writer's pid means the same process: on the writer's own host
and in its pid namespace (a container with the host's network has the host's name but its own
pids). There, a different boot id, no such pid, a zombie, or a pid now held by a process that
started at another time (pids are reused) means gone. A row written on another host or from
another pid namespace stays ``running``: its process cannot be checked from here.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Writer:
    """The process that writes a run: enough to tell later whether it still lives."""

    host: str
    boot: str | None
    pid: int
    start: str | None
    """Start time of the process in clock ticks since boot (Linux /proc), None elsewhere."""
    pid_namespace: str | None = None
    """The pid namespace the pid belongs to ('pid:[4026531836]' on Linux), None elsewhere."""


def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first); None when there is no such process."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')'.
    return text[text.rindex(")") + 2 :].split()


def _start_ticks(pid: int) -> str | None:
    fields = _stat_fields(pid)
    # starttime is field 22 of proc(5); fields[0] is field 3.
    return fields[19] if fields is not None and len(fields) > 19 else None


def writer_for(pid: int | None = None) -> Writer:
    """The writer identity of ``pid`` (default: this process) on this host."""
    pid = os.getpid() if pid is None else pid
    return Writer(
        host=socket.gethostname(),
        boot=_boot_id(),
        pid=pid,
        start=_start_ticks(pid),
        pid_namespace=_pid_namespace(),
    )


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_gone(writer: Writer) -> bool | None:
    """True when the writer process is certainly gone, False when it lives, None when this
    process cannot tell (the row was written on another host or in another pid namespace)."""
    if writer.host != socket.gethostname():
        return None
    namespace = _pid_namespace()
    if None not in (writer.pid_namespace, namespace) and writer.pid_namespace != namespace:
        return None
    boot = _boot_id()
    if writer.boot is not None and boot is not None and writer.boot != boot:
        return True
    if writer.pid <= 0 or not _pid_exists(writer.pid):
        return True
    fields = _stat_fields(writer.pid)
    if fields is None:
        # No /proc (not Linux): the pid exists, which is all that can be known.
        return False
    if fields[0] in {"Z", "X", "x"}:
        return True
    return writer.start is not None and len(fields) > 19 and fields[19] != writer.start
