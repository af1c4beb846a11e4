"""The test stand-in for AWS, ``TlsUpstream`` itself (no recording subclass), answers as S3
does where HTTP/2 clients through the proxy rely on it: a HEAD answer keeps the object's
Content-Length, a body past 1 MiB is taken, and ``Expect: 100-continue`` (which a blind
tunnel passes through from the client) gets its interim answer."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gameday.gateway.client import GatewayClient
from tests.egress_support import (
    Setup,
    TlsUpstream,
    egress_proxy,
    fault,
    signed_headers,
    upstream_cert,
)

S3 = "https://s3.us-east-1.amazonaws.com"
BUCKET = "h2-upstream"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("egress-h2-upstream")
    cert, key = upstream_cert(base)
    with TlsUpstream(moto_url, cert, key) as upstream, egress_proxy(base, cert, upstream) as proxy:
        GatewayClient(proxy.proxy_url).add(
            # s3 is decrypted (a fault targets it), but no call here is the faulted one.
            fault("s3-delete", ["s3"], "throttle", operations=["DeleteBucket"])
        )
        yield proxy


def _client(setup: Setup) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(setup.client_bundle))
    return httpx.AsyncClient(
        http1=False, http2=True, proxy=setup.proxy_url, verify=context, trust_env=False, timeout=30
    )


async def _put(client: httpx.AsyncClient, path: str, body: bytes) -> httpx.Response:
    url = f"{S3}{path}"
    return await client.put(url, content=body, headers=signed_headers("PUT", url, body, "s3"))


async def _call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    url = f"{S3}{path}"
    return await client.request(method, url, headers=signed_headers(method, url, b"", "s3"))


@pytest.mark.parametrize("size", [1000, 3 * 1024 * 1024], ids=["small", "past-1MiB"])
def test_an_object_goes_up_and_its_head_keeps_its_size_over_http2(setup: Setup, size: int) -> None:
    body = os.urandom(size)
    key = f"/{BUCKET}/object-{size}"

    async def calls() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with _client(setup) as client:
            assert (await _put(client, f"/{BUCKET}", b"")).status_code == 200
            put = await _put(client, key, body)
            return put, await _call(client, "HEAD", key), await _call(client, "GET", key)

    put, head, got = asyncio.run(calls())
    assert put.status_code == 200, put.text
    assert head.http_version == "HTTP/2" and head.status_code == 200
    assert head.headers.get("content-length") == str(size)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(body).digest()


def test_expect_100_continue_gets_its_interim_answer(setup: Setup, tmp_path: Path) -> None:
    """Straight to the upstream, as a client's bytes arrive through a blind tunnel: botocore
    sends the body only after ``100 Continue``."""
    context = ssl.create_default_context(cafile=str(setup.client_bundle))
    host = "s3.us-east-1.amazonaws.com"
    body = b"hello"
    with (
        socket.create_connection(("127.0.0.1", setup.upstream_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"PUT /{BUCKET}-continue HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert _read_answer(tls).startswith(b"HTTP/1.1 200")
        tls.sendall(
            f"PUT /{BUCKET}-continue/key HTTP/1.1\r\nHost: {host}\r\nContent-Length: "
            f"{len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = _read_head(tls)  # TimeoutError if it never comes
        assert interim.startswith(b"HTTP/1.1 100"), interim
        tls.sendall(body)
        final = _read_answer(tls)
        assert final.startswith(b"HTTP/1.1 200"), final


def _read_answer(tls: ssl.SSLSocket) -> bytes:
    """A whole answer's head; its body (framed by Content-Length) read and dropped."""
    head = _read_head(tls)
    found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    left = int(found.group(1)) if found else 0
    while left:
        chunk = tls.recv(left)
        assert chunk, head
        left -= len(chunk)
    return head


def _read_head(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(1)
        assert chunk, data
        data += chunk
    return data
