"""Fixtures every egress test module shares; each module brings its own ``setup`` (the proxy
and the upstream it is routed to)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gameday.gateway.client import GatewayClient
from tests.egress_support import Setup


@pytest.fixture
def admin(setup: Setup) -> Iterator[GatewayClient]:
    """The proxy's admin API, with no fault before or after the test."""
    client = GatewayClient(setup.proxy_url)
    client.clear()
    yield client
    client.clear()
