"""A connection that has not sent its CONNECT line yet holds a slot of the connection cap from
the moment it is accepted: a flood of silent connections cannot hold more than the cap's worth
of the proxy's open files (until the 10 s head timeout, each would hold one). At the cap a new
connection closes the oldest still-silent one, so the admin API and a real CONNECT get in."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gameday.gateway.client import GatewayClient
from gameday.gateway.guard import ServerLimits, connection_cap
from tests.egress_support import egress_in_thread

LIMITS = ServerLimits(max_connections=6, admin_reserve=2, header_timeout_s=10.0)
CAP = connection_cap(LIMITS)
EXTRA = 4
"""Silent connections opened past the cap."""
WAIT_S = 3.0
"""Well under the head timeout: a silent connection closed within it was closed for room."""


@pytest.fixture
def blind_target() -> Iterator[str]:
    """A host for a blind tunnel: accepted by the kernel, never read (enough for a 200)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        yield f"127.0.0.1:{silent.getsockname()[1]}"


def _closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """Whether the proxy closes ``sock`` within ``timeout_s`` (it sends nothing first)."""
    readable, _, _ = select.select([sock], [], [], timeout_s)
    if not readable:
        return False
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_silent_connections_hold_slots_and_the_oldest_make_room(
    tmp_path: Path, blind_target: str
) -> None:
    with egress_in_thread(tmp_path / "ca", LIMITS) as (host, port, _), ExitStack() as held:
        silent = [
            held.enter_context(socket.create_connection((host, port), timeout=5))
            for _ in range(CAP + EXTRA)
        ]
        deadline = time.monotonic() + WAIT_S
        oldest = silent[:EXTRA]
        assert all(
            _closed_by_peer(sock, max(0.0, deadline - time.monotonic())) for sock in oldest
        ), "the proxy holds more silent connections than its cap"
        newest = silent[EXTRA:]
        assert not any(_closed_by_peer(sock, 0.2) for sock in newest)

        # At the cap, a newcomer still gets in: it closes the oldest silent connection.
        assert GatewayClient(f"http://{host}:{port}").health().status == "ok"
        assert _closed_by_peer(newest[0], WAIT_S)
        # Silent connections never keep a CONNECT out of the data path.
        tunnel = held.enter_context(socket.create_connection((host, port), timeout=5))
        tunnel.sendall(f"CONNECT {blind_target} HTTP/1.1\r\nHost: {blind_target}\r\n\r\n".encode())
        assert tunnel.recv(1024).startswith(b"HTTP/1.1 200")
        still_open = [sock for sock in newest[1:] if not _closed_by_peer(sock, 0.2)]
        assert len(still_open) + 1 <= CAP  # and the tunnel
