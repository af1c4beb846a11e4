"""How the egress guard reads a target, over raw sockets to a real guard on loopback: IPv6
literals in brackets (CONNECT, an absolute URI, a Host header) are recorded without brackets in
one canonical spelling, malformed ones are answered 400 and counted apart, and an IPv6 target
is refused like any other: nothing reaches a listener at that address."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import pytest

from gameday.environments.egress import EgressGuard
from gameday.reports.egress import egress_line


def ask(port: int, data: bytes) -> bytes:
    """Send ``data`` to the guard and read its answer until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def auth(label: str) -> str:
    """The Proxy-Authorization a client sends with ``guard.proxy_url(label)``."""
    return "Basic " + base64.b64encode(f"{label}:gameday".encode()).decode()


@pytest.fixture
def guard() -> Iterator[EgressGuard]:
    with EgressGuard(now=time.monotonic) as running:
        yield running


@pytest.mark.parametrize(
    ("head", "host", "port"),
    [
        (b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443", "2001:db8::1", 443),
        (b"CONNECT [2001:DB8:0:0::1]:8443 HTTP/1.1", "2001:db8::1", 8443),
        (b"CONNECT [::ffff:192.0.2.1]:443 HTTP/1.1", "::ffff:192.0.2.1", 443),
        (b"CONNECT [::]:443 HTTP/1.1", "::", 443),
        (b"GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080", "::1", 8080),
        (b"GET https://user:pw@[2001:db8::2]/?a=b HTTP/1.1", "2001:db8::2", 443),
        (b"GET HTTP://[2001:db8::2]#f HTTP/1.1", "2001:db8::2", 80),
        (b"GET /x HTTP/1.1\r\nHost: [2001:db8::1]:443", "2001:db8::1", 443),
        (b"GET /x HTTP/1.1\r\nHost: [2001:db8::1]", "2001:db8::1", 80),
        # A URI in the query of an origin-form target is no target: the Host header is.
        (b"GET /go?to=http://[::1]/ HTTP/1.1\r\nHost: Example.COM", "example.com", 80),
        (b"CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1", "sts.us-east-1.amazonaws.com", 443),
    ],
)
def test_a_target_is_recorded_without_brackets_in_one_spelling(
    guard: EgressGuard, head: bytes, host: str, port: int
) -> None:
    answer = ask(guard.port, head + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert [(a.host, a.port, a.attempts) for a in guard.attempts()] == [(host, port, 1)]
    assert guard.dropped == 0


@pytest.mark.parametrize(
    "head",
    [
        b"CONNECT 2001:db8::1:443 HTTP/1.1",  # no brackets
        b"CONNECT [2001:db8::1:443 HTTP/1.1",  # unclosed
        b"CONNECT 2001:db8::1]:443 HTTP/1.1",
        b"CONNECT [2001:db8::1]x:443 HTTP/1.1",  # something after the bracket
        b"CONNECT [2001:db8::1]:65536 HTTP/1.1",
        b"CONNECT [2001:db8::1]:0 HTTP/1.1",
        b"CONNECT [2001:db8::1]:+443 HTTP/1.1",
        b"CONNECT [fe80::1%25eth0]:443 HTTP/1.1",  # a zone ID
        b"CONNECT [2001:db8::g]:443 HTTP/1.1",
        b"CONNECT [1:2:3:4:5:6:7:8:9]:443 HTTP/1.1",
        b"CONNECT [v1.fe]:443 HTTP/1.1",  # IPvFuture
        b"CONNECT [192.0.2.1]:443 HTTP/1.1",  # IPv4 is never bracketed
        b"CONNECT []:443 HTTP/1.1",
        b"GET http://[::1/x HTTP/1.1",
        b"GET http://[::1]]:80/x HTTP/1.1",
        b"GET /x HTTP/1.1\r\nHost: ::1",
        b"GET /x HTTP/1.1\r\nHost: [::1]:http",
    ],
)
def test_a_malformed_target_is_answered_400_and_counted_apart(
    guard: EgressGuard, head: bytes
) -> None:
    answer = ask(guard.port, head + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"isolated drill reaches only loopback" in answer
    assert guard.attempts() == []
    assert guard.dropped == 1


def test_one_address_however_spelled_is_one_target_and_reads_back_bracketed(
    guard: EgressGuard,
) -> None:
    for spelling in (b"[2001:db8::1]", b"[2001:DB8::0:1]", b"[2001:0db8:0000:0000::0001]"):
        ask(guard.port, b"CONNECT " + spelling + b":443 HTTP/1.1\r\n\r\n")
    (record,) = guard.attempts()
    assert (record.host, record.port, record.attempts) == ("2001:db8::1", 443, 3)
    assert "tried to reach [2001:db8::1]:443 directly: 3 attempts" in egress_line(record)


def test_an_ipv6_target_that_listens_is_refused_and_never_reached(guard: EgressGuard) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as target:
        try:
            target.bind(("::1", 0))
        except OSError as error:
            pytest.skip(f"no IPv6 loopback: {error}")
        target.listen(8)
        target.setblocking(False)
        port = target.getsockname()[1]
        where = f"[::1]:{port}".encode()
        app, probe = auth("app").encode(), auth("probe").encode()
        answers = [
            # A client that goes on with its TLS hello after CONNECT gets no tunnel.
            ask(
                guard.port,
                b"CONNECT " + where + b" HTTP/1.1\r\nProxy-Authorization: " + app
                + b"\r\n\r\n\x16\x03\x01\x00\x05hello",
            ),
            ask(
                guard.port,
                b"POST http://" + where + b"/x HTTP/1.1\r\nContent-Length: 4\r\n"
                b"Proxy-Authorization: " + probe + b"\r\n\r\nbody",
            ),
            ask(guard.port, b"GET /x HTTP/1.1\r\nHost: " + where + b"\r\n\r\n"),
        ]  # fmt: skip
        for answer in answers:
            assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
            assert answer.endswith(b"instead of a real endpoint.\n")
        with pytest.raises(BlockingIOError):
            target.accept()
    attempts = {(a.host, a.port, a.source): a.attempts for a in guard.attempts()}
    assert attempts == {("::1", port, "app"): 1, ("::1", port, "probe"): 1, ("::1", port, ""): 1}
