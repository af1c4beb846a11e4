"""The egress proxy's connection cap counts tunnels: blind ones, and decrypted ones on HTTP/2
as well as HTTP/1.1. Past the cap a CONNECT is refused with 503 (the admin API still answers,
from the reserve), and a tunnel that closes frees its slot."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest

from gameday.egress.ca import CertificateAuthority
from gameday.gateway.client import GatewayClient
from gameday.gateway.guard import ServerLimits
from gameday.gateway.models import FaultSpec
from tests.egress_support import egress_in_thread

STS = "sts.us-east-1.amazonaws.com"
LIMITS = ServerLimits(max_connections=6, admin_reserve=2)
"""A data path of 4 connections (6 less the reserve of 2)."""


def _proxy(
    ca_dir: Path, limits: ServerLimits = LIMITS
) -> AbstractContextManager[tuple[str, int, CertificateAuthority]]:
    """A real EgressCore on its own event loop in a thread (it has no flag for the cap)."""
    return egress_in_thread(ca_dir, limits)


def _connect(address: tuple[str, int], target: str) -> tuple[socket.socket, bytes]:
    """A CONNECT to ``target``: the socket and the proxy's answer head."""
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1024)
        if not chunk:
            break
        answer += chunk
    return sock, answer


def _decrypted(
    address: tuple[str, int], authority: CertificateAuthority, alpn: str
) -> ssl.SSLSocket:
    sock, answer = _connect(address, f"{STS}:443")
    assert answer.startswith(b"HTTP/1.1 200"), answer
    context = ssl.create_default_context(cafile=str(authority.bundle_path))
    context.set_alpn_protocols([alpn])
    tls = context.wrap_socket(sock, server_hostname=STS)
    assert tls.selected_alpn_protocol() == alpn
    if alpn == "h2":
        tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    return tls


class _Drain(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(65536):
            pass  # closes once its client has


class _DrainServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


@pytest.fixture
def blind_target() -> Iterator[str]:
    """A host for blind tunnels: reads what it gets, closes when its client closes."""
    with _DrainServer(("127.0.0.1", 0), _Drain) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"127.0.0.1:{server.server_address[1]}"
        server.shutdown()


def test_tunnels_count_against_the_cap_and_free_their_slot(
    tmp_path: Path, blind_target: str
) -> None:
    with _proxy(tmp_path / "ca") as (host, port, authority), ExitStack() as held:
        address = (host, port)
        admin = GatewayClient(f"http://{host}:{port}")
        admin.add(
            FaultSpec.model_validate(
                {
                    "id": "sts",
                    "match": {"services": ["sts"]},
                    "effect": {"mode": "throttle"},
                    "ttl_seconds": 60,
                }
            )
        )
        tunnels: list[socket.socket] = []
        for _ in range(2):
            sock, answer = _connect(address, blind_target)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            tunnels.append(held.enter_context(sock))
        tunnels.append(held.enter_context(_decrypted(address, authority, "h2")))
        tunnels.append(held.enter_context(_decrypted(address, authority, "http/1.1")))

        refused, answer = _connect(address, blind_target)
        refused.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert b"connection limit (4)" in answer
        assert admin.health().status == "ok"  # the reserve keeps the admin API reachable

        # Each kind of tunnel gives its slot back when it closes.
        for index in (0, 2, 3):
            tunnels[index].close()
            _eventually_connects(address, blind_target, held)


def _eventually_connects(address: tuple[str, int], target: str, held: ExitStack) -> None:
    deadline = time.monotonic() + 5
    while True:
        sock, answer = _connect(address, target)
        if answer.startswith(b"HTTP/1.1 200"):
            held.enter_context(sock)
            return
        sock.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert time.monotonic() < deadline, "no slot was freed"
        time.sleep(0.05)


def test_an_idle_blind_tunnel_is_closed_and_frees_its_slot(tmp_path: Path) -> None:
    """A tunnel whose host never answers nor closes (half-closed by its client, say) would
    hold its slot for good: the idle timeout closes it."""
    limits = ServerLimits(max_connections=2, admin_reserve=1, idle_timeout_s=0.5)
    with (
        socket.create_server(("127.0.0.1", 0)) as silent,  # accepted by the kernel, no more
        _proxy(tmp_path / "ca", limits) as (host, port, _),
        ExitStack() as held,
    ):
        target = f"127.0.0.1:{silent.getsockname()[1]}"
        sock, answer = _connect((host, port), target)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        held.enter_context(sock)
        sock.shutdown(socket.SHUT_WR)  # the client is done sending; the host never answers
        second, answer = _connect((host, port), target)
        second.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer
        assert sock.recv(1024) == b""  # closed by the proxy after the idle timeout
        _eventually_connects((host, port), target, held)
