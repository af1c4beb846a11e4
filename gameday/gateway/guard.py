"""What keeps the gateway up against hostile or broken clients: connection and header limits,
timeouts, and a log that a flood of bad requests cannot fill.

The admin API shares the data path's port (its address is an interface), so the kill switch
has to stay reachable when the data path is flooded: connections are counted as they are
accepted, one at a time (asyncio's own accept loop takes up to a backlog's worth at once,
past the open-file limit, before any is counted), the last ``admin_reserve`` of the cap take
admin calls only, and at the cap a new connection evicts the oldest one that has no request in
progress. A flood of idle or slow-header connections never locks out ``DELETE /_gameday/faults``.

>>> server = GuardedServer(core.handle, limits=ServerLimits(), log=RateLimitedLog(logger))
>>> listeners = listen("127.0.0.1", 0)
>>> tasks = [asyncio.create_task(server.accept(sock)) for sock in listeners]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

LOGGER = logging.getLogger("gameday.gateway")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The gateway's limits against hostile clients; the defaults are what ``gameday gateway``
    runs with (docs/gateway.md "Hostile clients")."""

    max_connections: int = 1024
    """Client connections held at once; lowered to fit the open-file limit (see
    ``connection_cap``)."""
    admin_reserve: int = 16
    """The last connections under the cap, which take admin calls only."""
    idle_timeout_s: float = 120.0
    """A connection with no request for this long is closed: longer than SDK pools keep idle
    connections themselves (Go 90 s, Java 60 s), so a client never races the close."""
    header_timeout_s: float = 10.0
    """From the first byte of a request head to its end (slowloris)."""
    max_head_bytes: int = 64 * 1024
    """Request line and headers together (AWS's own limit for S3 is 8 kB)."""
    max_field_bytes: int = 16 * 1024
    """One header line, or the request line (an ALB's limits: 16 kB each, 64 kB in all)."""
    max_headers: int = 100
    admin_body_timeout_s: float = 10.0
    """Time to receive an admin call's whole body."""


_FD_SPARE = 64
"""Open files kept for everything but client connections: the listening socket, logs, the
model files read at start, the upstream pool's connections beyond one per client."""


def connection_cap(limits: ServerLimits) -> int:
    """Client connections the process can hold: ``max_connections``, or fewer when the
    open-file limit is low. Each client connection may need an upstream one as well, and
    accepting past the limit makes ``accept()`` fail in a loop (EMFILE) with nothing answered."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max(1, limits.max_connections)
    return max(1, min(limits.max_connections, (soft - _FD_SPARE) // 2))


class TokenBucket:
    """``burst`` tokens, refilled at ``per_s`` a second: ``take`` spends one if there is one."""

    def __init__(
        self, burst: float, per_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst = float(burst)
        self._per_s = per_s
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend a token; False when none is left."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._per_s)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class RateLimitedLog:
    """One line per event, never a traceback, and at most ``burst`` lines plus ``per_s`` a
    second: a flood of bad requests costs a few lines and a count of what was left out."""

    def __init__(
        self,
        logger: logging.Logger = LOGGER,
        *,
        burst: int = 100,
        per_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._bucket = TokenBucket(burst, per_s, clock)
        self.suppressed = 0
        """Lines left out since the last one written."""

    def warning(self, message: str) -> None:
        if not self._take():
            self.suppressed += 1
            return
        if self.suppressed:
            message += f" ({self.suppressed} lines left out before this one)"
            self.suppressed = 0
        self._logger.warning("gameday gateway: %s", message)

    def flush(self) -> None:
        """Say how many lines were left out, once the rate allows a line again."""
        if self.suppressed and self._take():
            self._logger.warning(
                "gameday gateway: %d log lines left out (rate limit)", self.suppressed
            )
            self.suppressed = 0

    def _take(self) -> bool:
        return self._bucket.take()


def describe(error: BaseException | None) -> str:
    """An exception as one short line: its type, its message, where it was raised."""
    if error is None:
        return "no detail"
    text = one_line(str(error)) or "no message"
    where = ""
    tb = error.__traceback__
    if tb is not None:
        while tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
    return f"{type(error).__name__}: {text}{where}"


def _error_body(message: str) -> bytes:
    return json.dumps({"error": message}, separators=(",", ":")).encode()


class GuardedConnection(RequestHandler):
    """aiohttp's connection handler with a cap on the request head's total size, a clock on
    how long it takes to arrive, and errors answered as JSON and logged as one line."""

    __slots__ = ("_guard", "_head_bytes", "_head_count", "_head_started", "admin_only")

    def __init__(self, manager: GuardedServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = manager
        self._head_bytes = 0
        self._head_count = 0
        self._head_started = 0.0
        self.admin_only = False
        """Accepted into the admin reserve: data-path requests on it are refused."""

    @property
    def idle(self) -> bool:
        """No request in progress or queued: safe to close."""
        return not self._request_in_progress and not self._messages

    def head_overdue(self, now: float) -> bool:
        """A request head began arriving longer than the header timeout ago."""
        return (
            self._head_bytes > 0
            and self._waiter is not None
            and now - self._head_started > self._guard.limits.header_timeout_s
        )

    def data_received(self, data: bytes) -> None:
        # start() waits on _waiter only between requests: bytes then are a request head (a
        # body arrives while a handler runs, or while aiohttp drains one after the answer).
        waiting = self._waiter is not None
        if waiting:
            if not self._head_bytes:
                self._head_started = self._loop.time()
                self._head_count = self._request_count
            self._head_bytes += len(data)
        super().data_received(data)
        if waiting and self._head_bytes:
            if self._request_count != self._head_count:
                self._head_bytes = 0  # the head was complete
            elif self._head_bytes > self._guard.limits.max_head_bytes:
                self.refuse(431, f"request head over {self._guard.limits.max_head_bytes} bytes")

    def refuse(self, status: int, why: str) -> None:
        """Answer a connection that never completed a request, log one line, close it."""
        transport = self.transport
        if transport is None:
            return
        peer = transport.get_extra_info("peername")
        self._guard.log.warning(f"closed a connection from {_peer(peer)}: {why}")
        body = _error_body(f"refused: {why}")
        reason = {408: "Request Timeout", 431: "Request Header Fields Too Large"}.get(status, "")
        transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
        )
        self.force_close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        peer = _peer(self.transport.get_extra_info("peername") if self.transport else None)
        if status >= 500:
            self._guard.log.warning(f"error handling a request from {peer}: {describe(exc)}")
            error = "internal error in the gameday gateway (its log has one line on it)"
        else:
            detail = one_line(message) if message else describe(exc)
            self._guard.log.warning(f"malformed request from {peer}: {detail}")
            error = f"bad request: {detail}"
        if request.writer.output_size > 0:
            raise ConnectionError("the answer was already begun; the connection is closed")
        response = web.Response(
            status=status, body=_error_body(error), content_type="application/json"
        )
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # aiohttp's "Unhandled exception" and friends: one line, never a traceback.
        what = str(args[0]) % args[1:] if args else "error"
        error = kwargs.get("exc_info")
        self._guard.log.warning(
            f"{what}: {describe(error if isinstance(error, BaseException) else None)}"
        )


def one_line(text: str, limit: int = 200) -> str:
    """Whitespace (newlines included) folded to single spaces, cut at ``limit`` characters."""
    return " ".join(text.split())[:limit]


def _peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return "an unknown peer"


class GuardedServer(web.Server):
    """aiohttp's low-level server, counting connections as they are accepted."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Any],
        *,
        limits: ServerLimits,
        log: RateLimitedLog,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            handler,
            keepalive_timeout=limits.idle_timeout_s,
            max_line_size=limits.max_field_bytes,
            max_field_size=limits.max_field_bytes,
            max_headers=limits.max_headers,
            **kwargs,
        )
        self.limits = limits
        self.log = log
        self.cap = connection_cap(limits)
        self.reserve = min(limits.admin_reserve, self.cap // 2)
        self._open: dict[GuardedConnection, asyncio.Transport] = {}
        """In the order they were accepted (dicts keep it): the oldest are evicted first."""

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self, loop=self._loop, **self._kwargs)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        assert isinstance(handler, GuardedConnection)
        if len(self._open) >= self.cap and not self._evict_one():
            self.log.warning(
                f"connection limit ({self.cap}) reached with every connection busy: "
                "closed a new one"
            )
            transport.abort()
            return
        handler.admin_only = len(self._open) >= self.cap - self.reserve
        self._open[handler] = transport

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._open.pop(handler, None)  # type: ignore[call-overload]  # a GuardedConnection
        super().connection_lost(handler, exc)

    def _evict_one(self) -> bool:
        for handler, transport in self._open.items():
            if handler.idle:
                self.log.warning(
                    f"connection limit ({self.cap}) reached: closed the oldest idle connection"
                )
                del self._open[handler]
                transport.abort()
                return True
        return False

    def sweep(self) -> None:
        """Close connections whose request head is overdue; for a periodic sweeper."""
        now = self._loop.time()
        overdue = [handler for handler in self._open if handler.head_overdue(now)]
        for handler in overdue:
            handler.refuse(
                408, f"request head not complete after {self.limits.header_timeout_s:g} s"
            )

    async def accept(self, listener: socket.socket) -> None:
        """Accept connections on ``listener`` until cancelled, one at a time: each is counted,
        and room made for it, before the next is taken."""
        loop = self._loop
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as error:
                # Out of open files (or buffers): wait instead of spinning on the error; the
                # connection stays in the kernel's queue until then.
                self.log.warning(f"accepting a connection failed: {describe(error)}")
                await asyncio.sleep(0.1)
                continue
            try:
                await loop.connect_accepted_socket(self, sock)
            except OSError as error:
                self.log.warning(f"a connection failed as it was accepted: {describe(error)}")
                sock.close()


def listen(host: str, port: int, backlog: int = 1024) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (as asyncio's create_server binds
    them); OSError when one cannot be bound."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def close_all(listeners: list[socket.socket]) -> None:
    for sock in listeners:
        with contextlib.suppress(OSError):
            sock.close()
