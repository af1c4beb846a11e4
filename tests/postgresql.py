"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, started once per
session as a process on a loopback port with a throwaway data directory, stopped by its PID.

Every test gets a database of its own (``postgresql_url``). The superuser's password is a
canary: it reaches the server only through the URL or ``PGPASSWORD``, and tests assert that it
appears in no output, log, result or report. Without the server binaries the tests that need
it skip, saying why, unless ``GAMEDAY_REQUIRE_POSTGRESQL=1`` (``.ci/run`` sets it after
installing the package): then they fail.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CANARY_PASSWORD = "canary-pw-5e1f9d7b"
USER = "gameday"
REQUIRE_ENV = "GAMEDAY_REQUIRE_POSTGRESQL"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PostgresServer:
    """A running server: ``url(database)`` with the canary password in it, or without
    (then the password comes from ``PGPASSWORD`` or ``.pgpass``)."""

    host: str
    port: int
    pid: int
    data: Path

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{CANARY_PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@{self.host}:{self.port}/{database}"


def _binaries() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1)")
    pytest.skip(f"{reason}: apt-get install postgresql (or set {REQUIRE_ENV}=1 to fail instead)")


def _owner() -> tuple[int, int] | None:
    """initdb refuses root: the server runs as Debian's ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        _missing("running as root without a 'postgres' user to run the server as")
        raise
    return entry.pw_uid, entry.pw_gid


def _as_owner(owner: tuple[int, int] | None) -> dict[str, object]:
    if owner is None:
        return {}
    return {"user": owner[0], "group": owner[1], "extra_groups": []}


def _free_port() -> int:
    # postgres binds its port itself: a port that was free a moment ago may be taken, so a
    # start that fails is retried on another one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(port: int) -> bool:
    import psycopg

    try:
        psycopg.connect(
            f"postgresql://{USER}:{CANARY_PASSWORD}@127.0.0.1:{port}/postgres", connect_timeout=2
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def _start(
    bindir: Path, root: Path, owner: tuple[int, int] | None
) -> tuple[subprocess.Popen[bytes], int]:
    for _ in range(3):
        port = _free_port()
        log = (root / "server.log").open("ab")
        server = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(root / "data"), "-k", str(root),
             "-p", str(port), "-h", "127.0.0.1",
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200"],
            stdout=log, stderr=log, cwd=root, **_as_owner(owner),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while server.poll() is None and time.monotonic() < deadline:
            if _ready(port):
                return server, port
            time.sleep(0.05)
        _stop(server)
    log_text = (root / "server.log").read_text(errors="replace")[-2000:]
    pytest.fail(f"PostgreSQL did not start:\n{log_text}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # fast shutdown: end sessions, no checkpoint wait
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (skips, or fails, when it is not installed)."""
    bindir = _binaries()
    if bindir is None:
        _missing("PostgreSQL server not installed (no /usr/lib/postgresql/*/bin/postgres)")
    assert bindir is not None
    owner = _owner()
    # Not under pytest's tmp_path: its folders are private to root, and the server is not.
    root = Path(tempfile.mkdtemp(prefix="gameday-pg-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        password_file = root / "password"
        password_file.write_text(CANARY_PASSWORD + "\n")
        if owner is not None:
            os.chown(root, *owner)
            os.chown(password_file, *owner)
        initdb = subprocess.run(
            [str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER,
             f"--pwfile={password_file}", "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"],
            capture_output=True, text=True, cwd=root, check=False, **_as_owner(owner),
        )  # fmt: skip
        if initdb.returncode != 0:
            pytest.fail(f"initdb failed: {initdb.stderr[-2000:]}")
        password_file.unlink()
        server, port = _start(bindir, root, owner)
        yield PostgresServer("127.0.0.1", port, server.pid, root)
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


_numbers = itertools.count()


@pytest.fixture
def postgresql_url(postgresql_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test (dropped after it), as a URL with the canary
    password."""
    import psycopg

    name = f"gameday_test_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(postgresql_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")
    try:
        yield postgresql_server.url(name)
    finally:
        with psycopg.connect(postgresql_server.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
