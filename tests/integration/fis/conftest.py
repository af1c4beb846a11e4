"""The aws environment against a real moto server over HTTP: boto3 finds it through
AWS_ENDPOINT_URL, as it would find any endpoint; nothing reaches a real AWS endpoint."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from gameday.fis.clients import AwsClients
from gameday.gateway.client import GatewayClient
from gameday.gateway.thread import Gateway
from tests.integration.fis.helpers import REGION

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient


@pytest.fixture(scope="package")
def on_moto(moto_url: str) -> Iterator[str]:
    """Point every boto3 client these tests make at the moto server."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", moto_url)
        yield moto_url


@pytest.fixture(scope="package")
def client(on_moto: str) -> FISClient:
    """One FIS client for the package: a boto3 session costs a fifth of a second to make."""
    return AwsClients(REGION).fis()


@pytest.fixture
def run_id() -> str:
    """A run id no other test uses: what a test created is found by its tag."""
    return f"test-{uuid.uuid4().hex[:12]}"


class Recorder(ThreadingHTTPServer):
    """An HTTP server on loopback that records every request and answers 500."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        """Its address, read back from the bound socket."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = _record

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``seen``."""


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every boto3 client pointed at a server that records what it is sent."""
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="package")
def fis_gateway(on_moto: str) -> Iterator[Gateway]:
    """The real gateway in front of the moto server, to fail chosen FIS calls."""
    with Gateway(on_moto, seed=7) as running:
        yield running


@pytest.fixture
def faults(fis_gateway: Gateway) -> Iterator[GatewayClient]:
    """The gateway's admin client; every test starts and ends with no fault in force."""
    admin = GatewayClient(fis_gateway.url)
    admin.clear()
    yield admin
    admin.clear()


@pytest.fixture
def gateway_fis(
    fis_gateway: Gateway, faults: GatewayClient, monkeypatch: pytest.MonkeyPatch
) -> FISClient:
    """An FIS client through the gateway, with one attempt per call: only gameday's own
    retries count."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fis_gateway.url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    fis = AwsClients(REGION).fis()
    assert fis.meta.endpoint_url == fis_gateway.url
    return fis
