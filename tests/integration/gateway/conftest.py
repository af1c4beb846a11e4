"""Fixtures: one gateway in front of the session's moto server, and its admin client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway


@pytest.fixture(scope="session")
def gateway(moto_url: str) -> Iterator[Gateway]:
    with Gateway(moto_url, seed=20240607) as running:
        yield running


@pytest.fixture
def admin(gateway: Gateway) -> Iterator[GatewayClient]:
    """The admin client; every test starts and ends with no fault in force."""
    client = GatewayClient(gateway.url)
    client.clear()
    yield client
    client.clear()
