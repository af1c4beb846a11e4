"""A PostgreSQL cluster of one test's own (``own_postgresql``), which the test may restart or
stop with ``pg_ctl``: the session's server (tests/postgresql.py) is shared by every test and
must stay up. Same binaries, same user and canary password, its own data directory and port.

Also what a failover or an administrator does to one session: ``terminate_sessions``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import psycopg
import pytest

from tests.postgresql import CANARY_PASSWORD, USER, _binaries, _free_port, _missing, _owner

PG_CTL_TIMEOUT_S = 60
GONE_TIMEOUT_S = 10.0


class _RunAs(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def _as(owner: tuple[int, int] | None) -> _RunAs:
    """The server's binaries run as Debian's ``postgres`` user when we are root."""
    return {} if owner is None else {"user": owner[0], "group": owner[1], "extra_groups": []}


def terminate_sessions(url: str, named: str) -> list[int]:
    """End every other session of ``url``'s database whose application name starts with
    ``named`` (``pg_terminate_backend``) and wait until each is gone; their server pids."""
    with psycopg.connect(url, autocommit=True) as admin:
        pids = [
            int(row[0])
            for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND application_name LIKE %s",
                (named + "%",),
            )
        ]
        assert pids, f"no session named {named!r}"
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + GONE_TIMEOUT_S
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, f"sessions {pids} outlived their termination"
            time.sleep(0.02)
    return pids


def advisory_holders(url: str, key: int) -> list[tuple[int, str, bool]]:
    """(server pid, application name, granted) of each session holding or waiting for the
    advisory lock ``key`` in ``url``'s database."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT l.pid, COALESCE(a.application_name, ''), l.granted FROM pg_locks AS l "
            "LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s ORDER BY l.pid",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchall()
    return [(int(pid), str(name), bool(granted)) for pid, name, granted in rows]


@dataclass(frozen=True)
class Cluster:
    """A throwaway cluster on ``port``: ``url()`` is its ``postgres`` database, with the
    canary password."""

    bindir: Path
    root: Path
    port: int
    owner: tuple[int, int] | None

    def url(self) -> str:
        return f"postgresql://{USER}:{CANARY_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        # The server inherits pg_ctl's output: a file, so that nothing waits for a pipe the
        # server keeps open.
        output = self.root / "pg_ctl.log"
        with output.open("w") as sink:
            done = subprocess.run(
                [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-w",
                 "-t", str(PG_CTL_TIMEOUT_S), "-l", str(self.root / "server.log"), *args],
                stdout=sink, stderr=subprocess.STDOUT, cwd=self.root, check=False,
                timeout=PG_CTL_TIMEOUT_S + 10, **_as(self.owner),
            )  # fmt: skip
        assert done.returncode == 0, f"pg_ctl {args[0]}: {output.read_text(errors='replace')}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl("start", "-o", options)

    def stop(self) -> None:
        """Fast shutdown: every session is ended, as in a failover."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def running(self) -> bool:
        return (self.root / "data" / "postmaster.pid").exists()


@pytest.fixture
def own_postgresql() -> Iterator[Cluster]:
    """A cluster for this test alone, stopped and removed after it."""
    bindir = _binaries()
    if bindir is None:
        _missing("PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/postgres)")
    assert bindir is not None
    owner = _owner()
    # Not under pytest's tmp_path: its folders are private to root, and the server is not.
    root = Path(tempfile.mkdtemp(prefix="gameday-pg-own-"))
    cluster = Cluster(bindir, root, _free_port(), owner)
    try:
        password_file = root / "password"
        password_file.write_text(CANARY_PASSWORD + "\n")
        if owner is not None:
            shutil.chown(root, *owner)
            shutil.chown(password_file, *owner)
        initdb = subprocess.run(
            [str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER,
             f"--pwfile={password_file}", "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, cwd=root, check=False, **_as(owner),
        )  # fmt: skip
        assert initdb.returncode == 0, f"initdb failed: {initdb.stderr[-2000:]}"
        password_file.unlink()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)
