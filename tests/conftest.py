"""Test-wide safety: no test may reach a real AWS endpoint or the instance metadata address."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# A real PostgreSQL for the fleet store's tests (skips without the server; see the module).
from tests.postgresql import postgresql_server, postgresql_url  # noqa: F401

# Set before any boto3 client exists. A client a test forgets to point at the emulator goes
# to the discard port on loopback and fails at once, instead of reaching a real endpoint.
_SAFE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}
for _key in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_key, None)
os.environ.update(_SAFE_ENV)


@pytest.fixture(scope="session", autouse=True)
def _history_store_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs that name no store record into one under the session's temporary folder, never
    into ``.gameday/`` of the checkout the tests run from. Tests of the default location
    unset the variable themselves."""
    os.environ["GAMEDAY_STORE"] = str(tmp_path_factory.mktemp("store") / "history.db")
    yield
    os.environ.pop("GAMEDAY_STORE", None)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A real moto server over HTTP on a loopback port, shared by the session."""
    from gameday.environments.emulator import running_emulator

    with running_emulator() as emulator:
        yield emulator.url
