"""HTTP/2 inside decrypted tunnels, end to end: a real h2 client (httpx) through the real proxy
subprocess to moto over TLS behind ``--route``. Each stream takes the gateway's path (faults,
ring, forwarding with the signature intact); hostile input gets GOAWAY and the proxy goes on."""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import h2.events
import httpx
import pytest
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from hpack import Encoder
from hyperframe.frame import HeadersFrame, PingFrame, RstStreamFrame, WindowUpdateFrame

from gameday.egress.h2_server import FLOOD_BURST
from gameday.gateway.client import GatewayClient
from tests.egress_support import (
    RecordingTlsUpstream,
    Setup,
    egress_setup,
    fault,
    h2_client,
    h2_goaway,
    h2_tunnel,
    signed_headers,
)

STS = "https://sts.us-east-1.amazonaws.com/"
S3 = "https://s3.us-east-1.amazonaws.com"
IDENTITY = b"Action=GetCallerIdentity&Version=2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress-h2"), moto_url) as proxy:
        yield proxy


@pytest.fixture
def env(setup: Setup) -> Setup:
    GatewayClient(setup.proxy_url).clear()
    return setup


def _client(setup: Setup, **options: Any) -> httpx.AsyncClient:
    context = ssl.create_default_context(cafile=str(setup.client_bundle))
    return httpx.AsyncClient(
        http1=False, http2=True, proxy=setup.proxy_url, verify=context, trust_env=False, **options
    )


async def _sts(client: httpx.AsyncClient, body: bytes, secret_ok: bool = True) -> httpx.Response:
    """A query-protocol STS call, signed as botocore signs it."""
    headers = signed_headers("POST", STS, body, headers={"Content-Type": FORM})
    if not secret_ok:
        headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    return await client.post(STS, content=body, headers=headers)


async def _identity(client: httpx.AsyncClient, secret_ok: bool = True) -> httpx.Response:
    return await _sts(client, IDENTITY, secret_ok)


def test_a_signed_call_is_forwarded_over_http2_and_keeps_its_signature(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    admin.add(fault("assume-role", ["sts"], "throttle", operations=["AssumeRole"]))
    before = env.upstream.verified

    async def calls() -> tuple[httpx.Response, httpx.Response]:
        async with _client(env) as client:
            return await _identity(client), await _identity(client, secret_ok=False)

    good, bad = asyncio.run(calls())
    assert good.http_version == "HTTP/2"
    assert good.status_code == 200 and b"<Account>" in good.content, good.text
    assert env.upstream.verified == before + 1  # the upstream checked the signature
    records = admin.requests().requests
    assert [(r.service, r.operation, r.outcome) for r in records[-2:]] == [
        ("sts", "GetCallerIdentity", "forwarded"),
        ("sts", "GetCallerIdentity", "forwarded"),
    ]
    # The check can fail: a wrong signature is refused upstream, over HTTP/2 as well.
    assert bad.status_code == 403 and b"SignatureDoesNotMatch" in bad.content


def test_a_fault_answers_over_http2_and_shows_in_the_ring(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    admin.add(fault("sts-throttle", ["sts"], "throttle"))

    async def call() -> httpx.Response:
        async with _client(env) as client:
            return await _identity(client)

    answer = asyncio.run(call())
    assert answer.http_version == "HTTP/2"
    assert answer.status_code == 400 and b"<Code>Throttling</Code>" in answer.content
    assert [f.hits for f in admin.list()] == [1]
    last = admin.requests().requests[-1]
    assert (last.operation, last.outcome, last.fault_id) == (
        "GetCallerIdentity",
        "error",
        "sts-throttle",
    )
    assert 'outcome="error"' in admin.metrics()


def test_streams_share_one_connection_and_a_held_one_blocks_none(env: Setup) -> None:
    """A blackholed stream stays unanswered while others on its connection are answered; a
    reset stream fails alone and the connection serves the next call."""
    admin = GatewayClient(env.proxy_url)
    admin.add(fault("hold-assume", ["sts"], "blackhole", operations=["AssumeRole"]))
    admin.add(fault("reset-tags", ["sts"], "reset", operations=["GetSessionToken"]))

    async def calls() -> None:
        async with _client(env, timeout=10) as client:
            # A first call opens the connection: until it has, httpx cannot know it is h2.
            first = await _identity(client)
            body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/r"
            body += b"&RoleSessionName=s"
            held = asyncio.create_task(_sts(client, body))
            answers = await asyncio.gather(*(_identity(client) for _ in range(6)))
            assert [a.status_code for a in answers] == [200] * 6
            streams = {a.extensions["network_stream"] for a in [first, *answers]}
            assert len(streams) == 1  # one connection
            assert len({a.extensions["stream_id"] for a in [first, *answers]}) == 7
            assert not held.done()
            token = b"Action=GetSessionToken&Version=2011-06-15"
            with pytest.raises(httpx.RemoteProtocolError):
                await _sts(client, token)
            after = await _identity(client)
            assert after.status_code == 200
            assert after.extensions["network_stream"] in streams
            held.cancel()
            with pytest.raises(asyncio.CancelledError):
                await held

    asyncio.run(calls())
    outcomes = [(r.operation, r.outcome) for r in admin.requests().requests]
    assert ("AssumeRole", "blackhole") in outcomes
    assert ("GetSessionToken", "reset") in outcomes


def test_a_large_body_streams_both_ways_intact(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    # s3 is decrypted (a fault targets it), but no call here is the faulted one.
    admin.add(fault("s3-delete", ["s3"], "throttle", operations=["DeleteBucket"]))
    payload = os.urandom(8 * 1024 * 1024)
    key_url = f"{S3}/h2-bucket/blob"

    async def pieces() -> Any:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]
            await asyncio.sleep(0)

    async def calls() -> tuple[httpx.Response, str, str]:
        async with _client(env, timeout=60) as client:
            made = await client.put(
                f"{S3}/h2-bucket", headers=signed_headers("PUT", f"{S3}/h2-bucket", b"", "s3")
            )
            assert made.status_code == 200, made.text
            headers = signed_headers("PUT", key_url, payload, "s3")
            headers["Content-Length"] = str(len(payload))
            # The gateway answers it with an interim 100 (an informational HEADERS frame).
            headers["Expect"] = "100-continue"
            put = await client.put(key_url, content=pieces(), headers=headers)
            assert put.status_code == 200, put.text
            digest = hashlib.sha256()
            async with client.stream(
                "GET", key_url, headers=signed_headers("GET", key_url, b"", "s3")
            ) as got:
                async for chunk in got.aiter_raw():
                    digest.update(chunk)
                return got, got.headers.get("content-length", ""), digest.hexdigest()

    got, length, digest = asyncio.run(calls())
    assert got.http_version == "HTTP/2" and got.status_code == 200
    assert length == str(len(payload))
    assert digest == hashlib.sha256(payload).hexdigest()
    upstream = env.upstream
    assert isinstance(upstream, RecordingTlsUpstream)
    put_seen = [seen for seen in upstream.seen if seen.path == "/h2-bucket/blob"]
    assert put_seen[0].method == "PUT" and put_seen[0].body_bytes == len(payload)
    outcomes = [(r.operation, r.outcome) for r in admin.requests().requests[-2:]]
    assert outcomes == [("PutObject", "forwarded"), ("GetObject", "forwarded")]


def _headers_frame(stream_id: int, encoder: Encoder) -> bytes:
    frame = HeadersFrame(stream_id)
    frame.data = encoder.encode(
        [
            (":method", "POST"),
            (":scheme", "https"),
            (":authority", "sts.us-east-1.amazonaws.com"),
            (":path", "/"),
        ]
    )
    frame.flags.add("END_HEADERS")  # no END_STREAM: each stream stays open, awaiting its body
    return bytes(frame.serialize())


def _answered_stream(tls: ssl.SSLSocket, client: H2Connection) -> int:
    """A request answered in full on a new stream, now closed on both sides: its id."""
    stream_id = client.get_next_available_stream_id()
    client.send_headers(stream_id, _request("GET"), end_stream=True)
    tls.sendall(client.data_to_send())
    while True:
        data = tls.recv(65536)
        assert data, "the proxy closed the connection"
        events = client.receive_data(data)
        tls.sendall(client.data_to_send())
        if any(isinstance(e, h2.events.StreamEnded) for e in events):
            return stream_id


def _request(method: str) -> list[tuple[str, str]]:
    return [
        (":method", method),
        (":scheme", "https"),
        (":authority", "sts.us-east-1.amazonaws.com"),
        (":path", "/"),
    ]


def _frames(frame: Any, count: int) -> bytes:
    return bytes(frame.serialize()) * count


FLOOD = 5 * FLOOD_BURST
"""Frames in a flood: past the budget's burst, sent faster than it refills."""


def _ping_flood(tls: ssl.SSLSocket, client: H2Connection) -> bytes:
    ping = PingFrame(0)
    ping.opaque_data = b"12345678"
    return _frames(ping, FLOOD)


def _window_update_flood(tls: ssl.SSLSocket, client: H2Connection) -> bytes:
    # Each one makes the proxy look at every stream waiting for its window, and asks no answer.
    return _frames(WindowUpdateFrame(0, window_increment=1), FLOOD)


def _closed_stream_window_updates(tls: ssl.SSLSocket, client: H2Connection) -> bytes:
    # h2 drops these without an event: counting events alone never saw them.
    return _frames(WindowUpdateFrame(_answered_stream(tls, client), window_increment=1), FLOOD)


def _closed_stream_resets(tls: ssl.SSLSocket, client: H2Connection) -> bytes:
    return _frames(RstStreamFrame(_answered_stream(tls, client), error_code=8), FLOOD)


def _rapid_reset(tls: ssl.SSLSocket, client: H2Connection) -> bytes:
    """CVE-2023-44487: open a stream, reset it at once; each starts a request in the proxy."""
    encoder = Encoder()
    pairs = (
        _headers_frame(1 + 2 * n, encoder) + bytes(RstStreamFrame(1 + 2 * n, 8).serialize())
        for n in range(2 * FLOOD_BURST)
    )
    return b"".join(pairs)


FLOODS: dict[str, Callable[[ssl.SSLSocket, H2Connection], bytes]] = {
    "ping": _ping_flood,
    "window-update": _window_update_flood,
    "window-update-on-a-closed-stream": _closed_stream_window_updates,
    "reset-of-a-closed-stream": _closed_stream_resets,
    "rapid-reset": _rapid_reset,
}


@pytest.mark.parametrize("attack", ["bad-frame", "too-many-streams", *FLOODS])
def test_hostile_http2_gets_goaway_and_the_proxy_serves_the_next_client(
    env: Setup, attack: str
) -> None:
    GatewayClient(env.proxy_url).add(
        fault("decrypt", ["sts"], "throttle", operations=["AssumeRole"])
    )
    with h2_tunnel(env) as tls:
        client = h2_client(tls)
        if attack == "bad-frame":
            # A SETTINGS frame on stream 1 (it belongs on stream 0): a connection error.
            tls.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x01")
            expected = ErrorCodes.PROTOCOL_ERROR
        elif attack == "too-many-streams":
            encoder = Encoder()
            tls.sendall(b"".join(_headers_frame(1 + 2 * n, encoder) for n in range(101)))
            expected = ErrorCodes.PROTOCOL_ERROR
        else:
            tls.sendall(FLOODS[attack](tls, client))
            expected = ErrorCodes.ENHANCE_YOUR_CALM
        tls.settimeout(5)  # not a GOAWAY in time: TimeoutError, and the test fails
        assert h2_goaway(tls, client) == expected

    async def next_client() -> httpx.Response:
        async with _client(env) as fresh:
            return await _identity(fresh)

    answer = asyncio.run(next_client())
    assert answer.http_version == "HTTP/2" and answer.status_code == 200
