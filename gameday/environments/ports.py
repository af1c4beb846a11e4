"""Which processes listen on a TCP port, from /proc (Linux).

An app told its port up front (``PORT``) binds it after gameday chose it; in that gap another
program, or another drill's app in a parallel suite, can take it, and the health check would
then be answered by a stranger. The owner check turns that into a clear error instead of a
drill measured against the wrong process.
"""

from __future__ import annotations

import os

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows, None)  # the header
                for row in rows:
                    fields = row.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == _LISTEN and int(local.rpartition(":")[2], 16) == port:
                        inodes.add(inode)
        except OSError:
            continue
    return inodes


def listening_pids(port: int, candidates: list[int] | None = None) -> set[int] | None:
    """The pids holding a listening socket on ``port`` among ``candidates`` (default: every
    process this user may inspect); None where /proc cannot tell (not Linux)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not wanted:
        return set()
    pids = (
        candidates
        if candidates is not None
        else [int(p) for p in os.listdir("/proc") if p.isdigit()]
    )
    found: set[int] = set()
    for pid in pids:
        try:
            links = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # gone, or another user's
        for fd in links:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    found.add(pid)
                    break
            except OSError:
                continue
    return found
