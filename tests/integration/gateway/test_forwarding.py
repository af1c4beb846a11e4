"""What reaches the upstream, and how: headers, bodies, Expect, stale connections, no open proxy."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from gameday.faults.modes import Mode
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import Outcome
from gameday.gateway.thread import Gateway
from tests.integration.gateway.helpers import (
    aws,
    fault,
    host_port,
    raw_exchange,
    read_all,
    read_response_head,
    sigv4_authorization,
    wait_until,
)


@dataclass
class Seen:
    head: bytes
    body: bytes


@dataclass
class ScriptedUpstream:
    """A raw HTTP/1.1 server that records what it is sent and answers 200 "ok"; with
    ``drop_reused`` it closes a connection, unanswered, when a second request arrives on it
    (what a server that times out idle keep-alive connections does to a client's reuse)."""

    drop_reused: bool = False
    answer: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    close_after_answer: bool = False
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock, sock.makefile("rb") as stream:
            served = 0
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = stream.readline()
                    if not line:
                        return
                    head += line
                if self.drop_reused and served == 1:
                    self.seen.append(Seen(head, b""))
                    return
                self.seen.append(Seen(head, _read_body(stream, head)))
                sock.sendall(self.answer)
                if self.close_after_answer:
                    return
                served += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        for sock in self._sockets:
            # shutdown() wakes a thread blocked reading; close() alone does not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in [self._accepting, *self._threads]:
            thread.join(5)


def _read_body(stream: io.BufferedReader, head: bytes) -> bytes:
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        body = b""
        while size := int(stream.readline().split(b";")[0], 16):
            body += stream.read(size)
            stream.readline()
        while stream.readline() not in (b"\r\n", b""):
            pass
        return body
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return stream.read(int(line.split(b":")[1]))
    return b""


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body."""
    data = read_response_head(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.fixture
def scripted() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    yield upstream
    upstream.close()


def test_headers_reach_the_upstream_as_signed_minus_hop_by_hop(
    scripted: ScriptedUpstream,
) -> None:
    auth = sigv4_authorization("logs").encode()
    request = (
        b"POST /a%2Fb/c?x=%20&y=1 HTTP/1.1\r\n"
        b"Host: gateway.example:4567\r\n"
        b"X-Amz-Date: 20260101T000000Z\r\n"
        b"Authorization: " + auth + b"\r\n"
        b"x-amz-meta-Mixed-Case: One\r\n"
        b"x-amz-meta-Mixed-Case: Two\r\n"
        b"Connection: keep-alive, X-Hop\r\n"
        b"X-Hop: private\r\n"
        b"Keep-Alive: timeout=5\r\n"
        b"Proxy-Authorization: Basic c2VjcmV0\r\n"
        b"Content-Length: 5\r\n\r\nhello"
    )
    with (
        Gateway(scripted.url) as gateway,
        socket.create_connection(host_port(gateway.url), timeout=5) as sock,
    ):
        sock.sendall(request)
        assert read_response_head(sock).startswith(b"HTTP/1.1 200 OK\r\n")

    [seen] = scripted.seen
    lines = seen.head.split(b"\r\n")
    assert lines[0] == b"POST /a%2Fb/c?x=%20&y=1 HTTP/1.1"
    assert lines[1] == b"Host: " + scripted.url.removeprefix("http://").encode()
    assert lines[2:-2] == [
        b"X-Amz-Date: 20260101T000000Z",
        b"Authorization: " + auth,
        b"x-amz-meta-Mixed-Case: One",
        b"x-amz-meta-Mixed-Case: Two",
        b"Content-Length: 5",
    ]
    assert seen.body == b"hello"


def test_stale_pooled_connection_is_retried_once() -> None:
    upstream = ScriptedUpstream(drop_reused=True)
    try:
        with (
            Gateway(upstream.url) as gateway,
            socket.create_connection(host_port(gateway.url), timeout=5) as sock,
        ):
            for _ in range(2):
                sock.sendall(b"GET /x HTTP/1.1\r\nHost: g\r\n\r\n")
                assert read_response(sock).startswith(b"HTTP/1.1 200 OK")
    finally:
        upstream.close()

    # Request 2 met the dropped connection, then went again on a fresh one.
    assert [s.head.split(b"\r\n")[0] for s in upstream.seen] == [b"GET /x HTTP/1.1"] * 3


def test_streamed_body_already_sent_is_not_retried() -> None:
    upstream = ScriptedUpstream(drop_reused=True)
    try:
        with (
            Gateway(upstream.url) as gateway,
            socket.create_connection(host_port(gateway.url), timeout=5) as sock,
        ):
            sock.sendall(b"GET /x HTTP/1.1\r\nHost: g\r\n\r\n")
            assert read_response(sock).endswith(b"\r\n\r\nok")
            # Chunked, so streamed: once its first byte went out it cannot be sent again.
            sock.sendall(
                b"PUT /y HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n0\r\n\r\n"
            )
            answer = read_all(sock)
    finally:
        upstream.close()

    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"<Code>BadGateway</Code>" in answer
    assert len(upstream.seen) == 2


def test_unreachable_upstream_is_a_502_the_sdk_can_read() -> None:
    with Gateway("http://127.0.0.1:9") as gateway, pytest.raises(ClientError) as raised:
        aws("sts", gateway.url).get_caller_identity()

    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "BadGateway",
        502,
    )
    assert "could not reach its upstream http://127.0.0.1:9" in error["Error"]["Message"]


def test_absolute_uri_and_foreign_host_still_go_to_the_upstream(
    gateway: Gateway, admin: GatewayClient
) -> None:
    absolute = raw_exchange(
        gateway.url,
        b"GET http://example.invalid/ HTTP/1.1\r\n"
        b"Host: example.invalid\r\nConnection: close\r\n\r\n",
    )
    foreign = raw_exchange(
        gateway.url,
        b"GET / HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n",
    )

    for answer in (absolute, foreign):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"<ListAllMyBucketsResult" in body  # moto's answer to an unsigned GET /


def test_connect_is_refused(gateway: Gateway, admin: GatewayClient) -> None:
    answer = raw_exchange(
        gateway.url, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    )

    assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"not an open proxy" in answer


def _s3_put_head(key: str, extra: bytes) -> bytes:
    return (
        b"PUT /forwarding/" + key.encode() + b" HTTP/1.1\r\nHost: g\r\n"
        b"Authorization: " + sigv4_authorization("s3").encode() + b"\r\n"
        b"x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n" + extra + b"\r\n"
    )


@pytest.fixture
def bucket(gateway: Gateway) -> str:
    s3 = aws("s3", gateway.url)
    if "forwarding" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="forwarding")
    return "forwarding"


def test_expect_continue_is_answered_by_the_fault_instead(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    admin.add(fault("s3-down", Mode.THROTTLE, services=("s3",)))
    head = _s3_put_head("expect", b"Content-Length: 10\r\nExpect: 100-continue\r\n")

    with socket.create_connection(host_port(gateway.url), timeout=5) as sock:
        sock.sendall(head)  # the body is held back until "100 Continue"
        answer = read_all(sock)  # the gateway answers, then closes

    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Connection: close\r\n" in answer
    assert b"<Code>SlowDown</Code>" in answer


def test_expect_continue_without_a_fault_gets_100_then_the_upstream(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    head = _s3_put_head("expect", b"Content-Length: 10\r\nExpect: 100-continue\r\n")

    with socket.create_connection(host_port(gateway.url), timeout=5) as sock:
        sock.sendall(head)
        assert read_response_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"0123456789")
        assert read_response_head(sock).startswith(b"HTTP/1.1 200 OK")

    got = aws("s3", gateway.url).get_object(Bucket=bucket, Key="expect")["Body"].read()
    assert got == b"0123456789"


def test_boto3_upload_with_expect_gets_the_fault(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    admin.add(fault("s3-denied", Mode.DENIED, services=("s3",), operations=("PutObject",)))

    started = time.monotonic()
    with pytest.raises(ClientError) as raised:
        # A file-like body: botocore sends "Expect: 100-continue".
        aws("s3", gateway.url).put_object(Bucket=bucket, Key="k", Body=io.BytesIO(b"x" * 4096))

    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert time.monotonic() - started < 0.9  # not after botocore's 1 s wait for "100 Continue"


def test_chunked_upload_is_streamed_through(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    data = os.urandom(700_000)
    pieces = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"

    answer = raw_exchange(
        gateway.url,
        _s3_put_head("chunked", b"Transfer-Encoding: chunked\r\nConnection: close\r\n") + body,
    )

    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert aws("s3", gateway.url).get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def test_aws_chunked_upload_passes_through(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    data = os.urandom(600_000)
    pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
    encoded += b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    head = (
        b"PUT /forwarding/aws-chunked HTTP/1.1\r\nHost: g\r\nConnection: close\r\n"
        b"Authorization: " + sigv4_authorization("s3").encode() + b"\r\n"
        b"Content-Encoding: aws-chunked\r\n"
        b"x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\n"
        b"x-amz-trailer: x-amz-checksum-crc32\r\n"
        b"x-amz-decoded-content-length: %d\r\nContent-Length: %d\r\n\r\n"
        % (len(data), len(encoded))
    )

    answer = raw_exchange(gateway.url, head + encoded)

    assert answer.startswith(b"HTTP/1.1 200 OK")
    got = aws("s3", gateway.url).get_object(Bucket=bucket, Key="aws-chunked")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_compressed_objects_are_not_decompressed(
    gateway: Gateway, admin: GatewayClient, bucket: str
) -> None:
    s3 = aws("s3", gateway.url)
    packed = gzip.compress(b"a compressible line\n" * 5000)
    s3.put_object(Bucket=bucket, Key="gz", Body=packed, ContentEncoding="gzip")

    got = s3.get_object(Bucket=bucket, Key="gz")
    head = s3.head_object(Bucket=bucket, Key="gz")

    assert got["Body"].read() == packed
    assert got["ContentEncoding"] == "gzip"
    assert head["ContentLength"] == len(packed)


@pytest.mark.parametrize(
    ("answer", "payload"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n",
            b"abcdefg",
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the upstream closes", None),
        (b"HTTP/1.0 200 OK\r\n\r\nan HTTP/1.0 body", None),
    ],
    ids=["chunked", "until-close", "http-1.0"],
)
def test_answers_of_every_framing_pass_through(answer: bytes, payload: bytes | None) -> None:
    upstream = ScriptedUpstream(answer=answer, close_after_answer=True)
    try:
        with Gateway(upstream.url) as gateway:
            connection = http.client.HTTPConnection(*host_port(gateway.url), timeout=5)
            try:
                for _ in range(2):  # and the client's connection stays usable
                    connection.request("GET", "/framed")
                    response = connection.getresponse()
                    got = response.read()
                    assert response.status == 200
                    assert got == (payload or answer.partition(b"\r\n\r\n")[2])
            finally:
                connection.close()
    finally:
        upstream.close()


def test_answer_cut_short_becomes_a_502() -> None:
    upstream = ScriptedUpstream(
        answer=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", close_after_answer=True
    )
    try:
        with Gateway(upstream.url) as gateway:
            answer = raw_exchange(gateway.url, b"GET / HTTP/1.1\r\nHost: g\r\n\r\n")
    finally:
        upstream.close()

    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert b"closed the connection mid-answer" in answer


def test_a_client_that_gives_up_is_logged(gateway: Gateway, admin: GatewayClient) -> None:
    admin.add(fault("slow", Mode.LATENCY, services=("sts",), latency=1.0))
    since = admin.requests().last_seq

    with pytest.raises(ReadTimeoutError):
        aws("sts", gateway.url, read_timeout_s=0.2).get_caller_identity()

    wait_until(lambda: admin.requests(since).requests != ())
    [seen] = admin.requests(since).requests
    assert (seen.outcome, seen.status, seen.fault_id) == (Outcome.CLIENT_GONE, None, "slow")


def test_answer_headers_pass_byte_for_byte() -> None:
    upstream = ScriptedUpstream(
        answer=b"HTTP/1.1 201 Made It\r\nx-amzn-RequestId: abc\r\nX-Odd-CASE: v\xc3\xa9\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nKeep-Alive: timeout=5\r\n"
        b"Content-Length: 4\r\n\r\nbody"
    )
    try:
        with Gateway(upstream.url) as gateway:
            answer = raw_exchange(
                gateway.url,
                b"GET / HTTP/1.1\r\nHost: g\r\n\r\n" * 2 + b"GET / HTTP/1.1\r\n"
                b"Host: g\r\nConnection: close\r\n\r\n",
            )
    finally:
        upstream.close()

    expected = (
        b"HTTP/1.1 201 Made It\r\nx-amzn-RequestId: abc\r\nX-Odd-CASE: v\xc3\xa9\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 4\r\n\r\nbody"
    )
    # Keep-alive answers go on as they came (hop-by-hop Keep-Alive dropped, nothing added);
    # the last one, for a client that asked to close, is framed by aiohttp.
    first, second, last = answer.split(b"HTTP/1.1 201 ")[1:]
    assert b"HTTP/1.1 201 " + first == expected
    assert b"HTTP/1.1 201 " + second == expected
    assert b"Connection: close\r\n" in last and last.endswith(b"\r\n\r\nbody")
