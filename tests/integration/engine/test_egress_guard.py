"""The egress guard over raw sockets on loopback (issue 14, finding 2): every request is
refused and recorded, hostile input is bounded, and stopping leaves no thread behind."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ProxyConnectionError

from gameday.environments.egress import HEAD_LIMIT_BYTES, EgressGuard
from tests.unit.environments.test_egress_targets import ask, auth


def test_connect_and_absolute_requests_are_refused_and_counted_by_target_and_source() -> None:
    with EgressGuard(now=time.monotonic) as guard:
        for _ in range(3):
            answer = ask(
                guard.port,
                b"CONNECT sts.us-east-1.amazonaws.com:443 HTTP/1.1\r\n"
                b"Host: sts.us-east-1.amazonaws.com:443\r\n"
                + f"Proxy-Authorization: {auth('app')}\r\n\r\n".encode(),
            )
            assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        answer = ask(
            guard.port,
            b"POST http://iam.amazonaws.com/ HTTP/1.1\r\nHost: iam.amazonaws.com\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + f"Proxy-Authorization: {auth('probe')}\r\n\r\n".encode()
            + body,
        )
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert b"isolated drill reaches only loopback" in answer
        # A label gameday did not hand out is nobody's.
        ask(guard.port, b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n")
        attempts = {(a.host, a.port, a.source): a.attempts for a in guard.attempts()}
    assert attempts == {
        ("sts.us-east-1.amazonaws.com", 443, "app"): 3,
        ("iam.amazonaws.com", 80, "probe"): 1,
        ("2001:db8::1", 8443, ""): 1,
    }


def test_a_real_sdk_fails_closed_against_it() -> None:
    with EgressGuard(now=time.monotonic) as guard:
        client = boto3.client(
            "sts",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            endpoint_url="https://sts.us-east-1.amazonaws.com",
            config=Config(
                proxies={"https": guard.proxy_url("app")},
                retries={"total_max_attempts": 1},
                connect_timeout=2,
            ),
        )
        with pytest.raises(ProxyConnectionError):
            client.get_caller_identity()
        # Plain HTTP through the proxy gets the refusal itself.
        handler = urllib.request.ProxyHandler({"http": guard.proxy_url("probe")})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.build_opener(handler).open("http://example.com/", timeout=5)
        assert refused.value.code == 403
        refused.value.close()
        client.close()
        (sts, example) = guard.attempts()
    assert (sts.host, sts.port, sts.source, sts.attempts) == (
        "sts.us-east-1.amazonaws.com",
        443,
        "app",
        1,
    )
    assert (example.host, example.port, example.source) == ("example.com", 80, "probe")


def test_hostile_input_is_bounded_and_stopping_leaves_no_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    with EgressGuard(now=time.monotonic) as guard:
        assert ask(guard.port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        # A head past the limit is dropped unanswered, never buffered without bound.
        huge = b"CONNECT a.example:443 HTTP/1.1\r\nX: " + b"a" * (HEAD_LIMIT_BYTES * 4)
        with socket.create_connection(("127.0.0.1", guard.port), timeout=5) as sock:
            try:
                sock.sendall(huge)
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
        idle = [socket.create_connection(("127.0.0.1", guard.port), timeout=5) for _ in range(20)]
        started = time.monotonic()
    # Stopping does not wait for idle clients to give up, and closes them.
    assert time.monotonic() - started < 3
    for sock in idle:
        # Closed by an abort: a reset is a close too.
        with sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(10) == b""
    assert guard.attempts() == []
    assert guard.dropped == 2
    assert "gameday-egress" not in {t.name for t in threading.enumerate()} - before
