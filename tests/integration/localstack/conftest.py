"""A real LocalStack on loopback for the tests marked ``localstack``.

Found by the localstack-client conventions (``LOCALSTACK_HOST``, default localhost:4566), or
``LOCALSTACK_URL``. When none answers, these tests are skipped, unless
``GAMEDAY_REQUIRE_LOCALSTACK`` is set (as CI sets it): then they fail, so that a LocalStack
that did not come up can never pass as green. Start one with ``scripts/localstack.sh start``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from gameday.environments.localstack import localstack_url, wait_for_localstack
from gameday.environments.localstack_coverage import ServedServices
from gameday.errors import EnvironmentFailure

REQUIRE = "GAMEDAY_REQUIRE_LOCALSTACK"


@dataclass(frozen=True)
class LocalStack:
    """The LocalStack under test: its URL, what it serves, and the environment that finds it."""

    url: str
    served: ServedServices
    env: dict[str, str]
    """LOCALSTACK_HOST (and USE_SSL) for the engine, in this process or a subprocess."""


def _unavailable(reason: str) -> NoReturn:
    hint = "start one with `scripts/localstack.sh start` (docs/localstack.md)"
    if REQUIRE in os.environ:
        pytest.fail(f"{reason}; {REQUIRE} is set, so the localstack tests must run; {hint}")
    pytest.skip(f"{reason}; {hint}")


@pytest.fixture(scope="session")
def localstack() -> LocalStack:
    """The running LocalStack, or a skip (a failure when GAMEDAY_REQUIRE_LOCALSTACK is set)."""
    url = os.environ.get("LOCALSTACK_URL", "").strip().rstrip("/") or localstack_url()
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        address = socket.gethostbyname(host)
    except OSError:
        address = ""
    if not address or not ipaddress.ip_address(address).is_loopback:
        _unavailable(f"LocalStack at {url} is not on loopback; tests only reach 127.0.0.0/8")
    # CI starts LocalStack just before the tests: give it time. Elsewhere, ask once, so that
    # a run without LocalStack skips at once.
    wait_s = 30.0 if REQUIRE in os.environ else 0.0
    try:
        served = wait_for_localstack(url, timeout_s=wait_s)
    except EnvironmentFailure as error:
        _unavailable(f"no LocalStack: {error.message}")
    env = {"LOCALSTACK_HOST": parts.netloc, "USE_SSL": "1" if parts.scheme == "https" else "0"}
    return LocalStack(url=url, served=served, env=env)


@pytest.fixture
def localstack_env(localstack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """``localstack``, with this process's environment pointing the engine at it."""
    for key, value in localstack.env.items():
        monkeypatch.setenv(key, value)
    yield localstack


@pytest.fixture
def free_edition(localstack: LocalStack) -> LocalStack:
    """``localstack`` when it lacks ECR, as the free edition does; else a skip."""
    if localstack.served.serves("ecr"):
        pytest.skip(f"LocalStack at {localstack.url} serves ECR: not the free edition")
    return localstack
