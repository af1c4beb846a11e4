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


@pytest.fixture
def in_account(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's SDK as an app's in a real account: no endpoint override, only the
    proxy and the bundle to trust."""
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    for key in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", setup.proxy_url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(setup.client_bundle))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
