"""The egress proxy: an HTTP CONNECT proxy that fails the AWS calls active faults match.

An app's SDK reaches AWS through it with ``HTTPS_PROXY`` and trusts ``DIR/ca-bundle.pem``
through ``AWS_CA_BUNDLE``. A CONNECT to a host an active fault may match is decrypted with a
leaf from the run's CA; each request inside is classified, matched and answered exactly as the
gateway does (it is a ``GatewayCore``: same fault store, admin API, ring and metrics), and a
request no fault takes is forwarded to the real host with the client's own headers and body,
so its SigV4 signature stays valid. Every other CONNECT is a blind tunnel: bytes copied both
ways, never decrypted. A decrypted client that negotiates HTTP/2 (ALPN h2) is served by
``H2Server``: each stream goes through the same ``handle`` as an HTTP/1.1 request, and is
forwarded upstream over HTTP/1.1 (SigV4 signs the method, path, query, signed headers and
payload hash, never the framing; ``:authority`` becomes Host). Tunnels, blind or HTTP/2, count
against the gateway's connection cap as its HTTP connections do. While a watch holds (or with
``deny_destructive``), every AWS host the CA may sign is decrypted, so that every call is
classified, counted, and refused when destructive and denied. See docs/egress.md.

>>> core = EgressCore(CertificateAuthority.create(Path("ca")))
>>> await core.start("127.0.0.1", 0)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fnmatch
import re
import socket
import ssl
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from yarl import URL

from gameday.egress.ca import CertificateAuthority, is_aws_name
from gameday.egress.h2_server import H2Server
from gameday.egress.hosts import targeted
from gameday.egress.hosts import warm as warm_hosts
from gameday.errors import InvalidInputError
from gameday.gateway.guard import ServerLimits, describe
from gameday.gateway.server import GatewayCore
from gameday.gateway.upstream import BodySource, UpstreamPool, UpstreamResponse

PLACEHOLDER_UPSTREAM = "https://egress.invalid"
"""The GatewayCore's one upstream, never contacted: each request goes to its CONNECT's host."""
_CONNECT_TIMEOUT_S = 10.0
_RETARGET_INTERVAL_S = 0.25
_RETARGET_QUIET_S = 0.1
"""A blind tunnel to a host a new fault targets is closed once its last bytes were an answer
this long ago: SDKs keep connections pooled, and one opened before the fault would otherwise
never carry it. The SDK finds the pooled connection closed and opens a new one, decrypted. A
request sent in the same instant meets a closed connection, which SDKs retry."""
_RETARGET_PATIENCE_S = 1.0
"""After this long as a target, a tunnel that never goes quiet (a client that sends its next
request within ``_RETARGET_QUIET_S`` of every answer) is closed between an answer and the next
request all the same: otherwise steady traffic would keep it blind for the whole fault."""
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]")

_DESTINATION: contextvars.ContextVar[str] = contextvars.ContextVar("egress_destination")
"""The host of the decrypted connection the current request came on (set per handler task)."""


@dataclass(frozen=True, slots=True)
class Route:
    """``--route PATTERN=URL``: hosts matching ``pattern`` (shell-style) go to ``url``."""

    pattern: str
    url: str


def parse_route(text: str) -> Route:
    """``*.amazonaws.com=https://127.0.0.1:5443``; InvalidInputError naming the option."""
    pattern, separator, url = text.partition("=")
    if not separator or not pattern.strip():
        raise InvalidInputError(
            f"--route {text!r}: expected PATTERN=URL",
            hint="e.g. --route '*.amazonaws.com=https://127.0.0.1:5443'",
        )
    parsed = URL(url)
    if (
        parsed.scheme != "https"
        or not parsed.host
        or parsed.raw_path not in ("", "/")
        or parsed.query_string
    ):
        raise InvalidInputError(
            f"--route {text!r}: {url!r} must be https://HOST:PORT (no path)",
            hint="a routed host is re-encrypted to the route; trust it with --route-ca FILE",
        )
    return Route(pattern.strip().lower(), f"https://{parsed.raw_authority}")


def route_for(routes: Sequence[Route], host: str) -> Route | None:
    """The first route whose pattern matches ``host``."""
    host = host.lower()
    return next((r for r in routes if fnmatch.fnmatchcase(host, r.pattern)), None)


def split_authority(authority: str) -> tuple[str, int] | None:
    """``host:port`` of a CONNECT request target, or None when it is not one."""
    host, separator, port = authority.rpartition(":")
    if not separator or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    if not _HOST.fullmatch(host):
        return None
    return host.strip("[]").lower(), int(port)


class _Destinations(UpstreamPool):
    """One upstream pool per destination (a real host, or a route), chosen per request."""

    def __init__(self, routes: Sequence[Route], route_context: ssl.SSLContext | None) -> None:
        super().__init__(PLACEHOLDER_UPSTREAM)
        self._routes = routes
        self._route_context = route_context
        self._pools: dict[str, UpstreamPool] = {}

    def _pool(self, host: str) -> UpstreamPool:
        route = route_for(self._routes, host)
        url = route.url if route is not None else f"https://{host}"
        pool = self._pools.get(url)
        if pool is None:
            context = self._route_context if route is not None else None
            pool = self._pools[url] = UpstreamPool(url, ssl_context=context)
        return pool

    async def send(
        self,
        method: str,
        head: bytes,
        body: bytes | BodySource | None,
        *,
        chunked: bool = False,
    ) -> UpstreamResponse:
        pool = self._pool(_DESTINATION.get())
        return await pool.send(method, head, body, chunked=chunked)

    async def close(self) -> None:
        for pool in self._pools.values():
            await pool.close()
        await super().close()


class EgressCore(GatewayCore):
    """The egress proxy inside one event loop. ``deny_destructive``: refuse destructive calls
    for its whole life, which means decrypting every AWS host for its whole life."""

    def __init__(
        self,
        authority: CertificateAuthority,
        *,
        routes: Sequence[Route] = (),
        route_ca: Path | None = None,
        token: str | None = None,
        seed: int | None = None,
        limits: ServerLimits | None = None,
        deny_destructive: bool = False,
    ) -> None:
        self.routes = tuple(routes)
        route_context = None
        if route_ca is not None:
            try:
                route_context = ssl.create_default_context(cafile=str(route_ca))
            except (OSError, ssl.SSLError) as error:
                raise InvalidInputError(
                    f"--route-ca {route_ca}: cannot load it as PEM certificates: {error}"
                ) from error
        pool = _Destinations(self.routes, route_context)
        super().__init__(
            PLACEHOLDER_UPSTREAM,
            token=token,
            seed=seed,
            limits=limits,
            pool=pool,
            deny_destructive=deny_destructive,
        )
        self.authority = authority
        # Weak: a leaf context the CA's cache dropped goes once its last connection closes.
        self._hosts: weakref.WeakKeyDictionary[ssl.SSLContext, str] = weakref.WeakKeyDictionary()
        self._fronts: set[_Front] = set()
        self._pending: dict[_Front, None] = {}
        """Connections whose request line has not come yet, oldest first."""
        self._h2: set[H2Server] = set()
        self._tunnels = 0
        """Connections held outside the HTTP server: connections not yet handed to it (from
        their accept), blind tunnels, HTTP/2 connections."""
        self._retargeter: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        bound = await super().start(host, port)
        self._retargeter = asyncio.create_task(self._watch_tunnels())
        await asyncio.get_running_loop().run_in_executor(None, warm_hosts)
        return bound

    async def close(self) -> None:
        if self._retargeter is not None:
            self._retargeter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retargeter
        for front in list(self._fronts):
            front.abort()
        for connection in list(self._h2):
            connection.shutdown()
        await super().close()

    @property
    def open_connections(self) -> int:
        """Client connections open now: the HTTP server's, and tunnels."""
        return super().open_connections + self._tunnels

    def admit(self, front: _Front) -> bool:
        """Count a connection from its accept, before its first byte: otherwise a flood of
        silent ones would hold open files the cap never sees. At the cap, the oldest one that
        has not sent its request line yet is closed to make room (as the gateway closes its
        oldest idle connection), so a newcomer (the kill switch) always gets in; False when
        every connection has."""
        cap = self._server.cap if self._server is not None else 0
        if self.open_connections >= cap:
            if not self._pending:
                busy = "reached with every connection busy: closed a new one"
                self.errors.warning(f"connection limit ({cap}) {busy}")
                return False
            self.errors.warning(
                f"connection limit ({cap}) reached: closed the oldest connection that had not "
                "sent its request line"
            )
            next(iter(self._pending)).drop()
        self._pending[front] = None
        self._tunnels += 1
        return True

    def take_slot(self, front: _Front) -> bool:
        """``front`` sent its CONNECT: the slot it holds from its accept becomes a tunnel's,
        unless the data path is at its cap (the admin reserve is kept, as on the gateway: the
        kill switch stays reachable). Connections still silent do not count here: they make
        room for newcomers instead."""
        self._pending.pop(front, None)
        return self.open_connections - len(self._pending) <= self.data_path_cap

    def give_slot(self) -> None:
        self._tunnels -= 1

    async def _watch_tunnels(self) -> None:
        """Close blind tunnels that carried nothing for the idle timeout (a half-closed one
        would otherwise hold its slot for good), and retarget those a new fault (or a new
        watch: every AWS host) targets."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_RETARGET_INTERVAL_S)
            now = loop.time()
            for front in list(self._fronts):
                if front.quiet_tunnel(now, self.limits.idle_timeout_s):
                    front.close()
            if self.store.active() or self.ledger.watching:
                self._retarget(now)

    def _retarget(self, now: float) -> None:
        for front in list(self._fronts):
            if not self.decrypts(*front.target) and not self._unwatched(*front.target, b""):
                continue
            if front.targeted_since is None:
                front.targeted_since = now
            patient = now - front.targeted_since < _RETARGET_PATIENCE_S
            if front.idle_tunnel(now, _RETARGET_QUIET_S if patient else 0.0):
                front.close()

    async def serve_listener(self, listener: socket.socket) -> None:
        """Each connection goes first to ``_Front``, which reads CONNECT (and hands anything
        else, the admin API, to the HTTP server)."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as error:
                self.errors.warning(f"accepting a connection failed: {describe(error)}")
                await asyncio.sleep(0.1)
                continue
            try:
                await loop.connect_accepted_socket(lambda: _Front(self), sock)
            except OSError as error:
                self.errors.warning(f"a connection failed as it was accepted: {describe(error)}")
                sock.close()

    def decrypts(self, host: str, port: int) -> bool:
        """Whether a CONNECT to host:port is decrypted: an active fault may match it, or it
        is an AWS host while every call is watched."""
        if port != 443:
            return False
        if self.ledger.watching and is_aws_name(host):
            return True
        return targeted(host, self.store.active())

    def sees_all_calls(self) -> bool:
        """Every AWS call through the proxy is seen now: a watch holds (or denial is
        permanent), and no tunnel to an AWS host opened outside it is still open or
        opening (the retargeter closes them between two calls)."""
        if not self.ledger.watching:
            return False
        return not any(is_aws_name(front.target[0]) for front in self._fronts)

    def _unwatched(self, host: str, port: int, early: bytes) -> str | None:
        """Why a CONNECT to an AWS host cannot be decrypted while every call is watched (a
        blind tunnel would hide its calls: refused instead), or None."""
        if not self.ledger.watching or not is_aws_name(host):
            return None
        if port != 443:
            return f"{host}:{port}: every AWS call is watched now, and only port 443 is decrypted"
        if early:
            return (
                f"{host}: the client sent bytes before the proxy's 200; every AWS call is "
                "watched now, and such a tunnel cannot be decrypted"
            )
        return None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """A decrypted request (matched, then answered or forwarded), or an admin call."""
        transport = request.transport
        context = transport.get_extra_info("sslcontext") if transport is not None else None
        host = self._hosts.get(context) if isinstance(context, ssl.SSLContext) else None
        path = request.raw_path.partition("?")[0]
        if host is None:
            if request.method != "CONNECT" and self.admin.owns(request, path):
                return await self.admin.handle(request, path)
            return self._refuse(
                request,
                405,
                f"{request.method} {path[:100]}: this proxy takes CONNECT, and admin calls "
                "under /_gameday/",
            )
        if not request.raw_path.startswith("/"):
            return self._refuse(request, 400, f"request target {request.raw_path[:100]!r}")
        # Never the admin API inside a tunnel: there every path is the AWS host's own.
        _DESTINATION.set(host)
        return await self._proxy(request, request.raw_path)

    def upstream_host(self, request: web.BaseRequest) -> bytes:
        """The client's own Host (signed by SigV4), not the placeholder upstream's."""
        host = request.headers.get("Host") or _DESTINATION.get()
        return host.encode("utf-8", "surrogateescape")

    async def tunnel(self, front: _Front, host: str, port: int, early: bytes) -> None:
        """Connect a CONNECT: decrypted when targeted, else a blind tunnel (refused when
        that would hide a watched AWS call)."""
        if self.decrypts(host, port) and not early:
            await self._decrypt(front, host)
            return
        refusal = self._unwatched(host, port, early)
        if refusal is not None:
            front.answer(403, refusal)
            return
        route = route_for(self.routes, host)
        to_host, to_port = (host, port)
        if route is not None:
            url = URL(route.url)
            to_host, to_port = url.raw_host or host, url.port or 443
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                upstream, _ = await loop.create_connection(lambda: _Pipe(front), to_host, to_port)
        except (OSError, TimeoutError) as error:
            front.answer(502, f"cannot connect to {host}:{port}: {describe(error)}")
            return
        front.join(upstream, early)

    async def _decrypt(self, front: _Front, host: str) -> None:
        loop = asyncio.get_running_loop()
        # Minting a leaf takes milliseconds of CPU: off the event loop (cached afterwards).
        context = await loop.run_in_executor(None, self.authority.server_context, host)
        self._hosts[context] = host
        transport = front.established()
        if transport is None:
            return
        handoff = _Handoff()
        try:
            tls = await loop.start_tls(
                transport,
                handoff,
                context,
                server_side=True,
                ssl_handshake_timeout=self.limits.header_timeout_s,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as error:
            self.errors.warning(
                f"TLS handshake for {host} failed: {describe(error)} (does the client trust "
                f"{self.authority.bundle_path}?)"
            )
            transport.abort()
            return
        finally:
            self._fronts.discard(front)
            front.release_slot()  # the HTTP server or an H2Server counts it from here
        if tls is None:
            transport.abort()
            return
        ssl_object = tls.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject) and ssl_object.selected_alpn_protocol() == "h2":
            self._serve_h2(tls, handoff)
        else:
            self.serve_http(tls, bytes(handoff.buffer), handoff.eof)

    def _serve_h2(self, tls: asyncio.Transport, handoff: _Handoff) -> None:
        self._tunnels += 1  # the CONNECT's slot, given back just before (no await between)

        def closed() -> None:
            self._h2.discard(server)
            self.give_slot()

        server = H2Server(self.handle, limits=self.limits, log=self.errors, on_close=closed)
        self._h2.add(server)
        tls.set_protocol(server)
        server.connection_made(tls)
        if handoff.buffer:
            server.data_received(bytes(handoff.buffer))
        if handoff.eof:
            tls.close()


class _Handoff(asyncio.Protocol):
    """Holds what arrives between the TLS handshake and the handler taking the connection."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False

    def data_received(self, data: bytes) -> None:
        self.buffer += data

    def eof_received(self) -> bool:
        self.eof = True
        return True


class _Front(asyncio.Protocol):
    """A client connection until its first request head: CONNECT is handled here; anything
    else (the admin API) is handed to the gateway's aiohttp server with the bytes read."""

    def __init__(self, core: EgressCore) -> None:
        self._core = core
        self._buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self._peer: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.target: tuple[str, int] = ("", 0)
        self.answered = False
        """The last bytes through the tunnel came from the upstream (an answer, not a
        request waiting for one)."""
        self.quiet_since = 0.0
        self.targeted_since: float | None = None
        """When a fault first targeted this tunnel's host (the retargeter's clock)."""
        self.holds_slot = False
        """Counted against the connection cap (from its accept on)."""
        self.client_ended = False
        self.upstream_ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self._core.admit(self):
            transport.abort()
            return
        self.holds_slot = True
        self._core._fronts.add(self)
        loop = asyncio.get_running_loop()
        limit_s = self._core.limits.header_timeout_s
        self._timer = loop.call_later(
            limit_s, self.answer, 408, f"request head not complete after {limit_s:g} s"
        )

    def data_received(self, data: bytes) -> None:
        if self._peer is not None:
            self._peer.write(data)
            self.heard(answered=False)
            return
        if self._task is not None:
            return  # reading is paused while the CONNECT is connected; nothing should come
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        limits = self._core.limits
        if end < 0:
            if len(self._buffer) > limits.max_head_bytes:
                self.answer(431, f"request head over {limits.max_head_bytes} bytes")
            return
        line = bytes(self._buffer[: self._buffer.find(b"\r\n")])
        if not line.startswith(b"CONNECT "):
            self._hand_over()
            return
        parts = line.split(b" ")
        target = split_authority(parts[1].decode("ascii", "replace")) if len(parts) == 3 else None
        if target is None or not parts[2].startswith(b"HTTP/1."):
            self.answer(400, f"not a CONNECT host:port request: {line[:100]!r}")
            return
        if not self._core.take_slot(self):
            self.release_slot()
            cap = self._core.data_path_cap
            self.answer(503, f"the egress proxy is at its connection limit ({cap})")
            return
        self._cancel_timer()
        assert self.transport is not None
        self.transport.pause_reading()
        early = bytes(self._buffer[end + 4 :])
        self.target = target
        self._task = asyncio.create_task(self._core.tunnel(self, *target, early))

    def _hand_over(self) -> None:
        self._cancel_timer()
        self._core._fronts.discard(self)
        self.release_slot()  # the HTTP server counts it from here
        assert self.transport is not None
        self._core.serve_http(self.transport, bytes(self._buffer))

    def release_slot(self) -> None:
        """No longer counted against the cap (closed, or counted by what serves it now)."""
        if self.holds_slot:
            self.holds_slot = False
            self._core._pending.pop(self, None)
            self._core.give_slot()

    def drop(self) -> None:
        """Close a connection that has not sent its request line, to make room for another."""
        self.release_slot()
        if self.transport is not None:
            self.transport.abort()

    def established(self) -> asyncio.Transport | None:
        """Tell the client the tunnel is up; the transport, unless the client left."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return None
        transport.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return transport

    def join(self, upstream: asyncio.BaseTransport, early: bytes) -> None:
        """Copy bytes both ways between the client and ``upstream`` from now on."""
        assert isinstance(upstream, asyncio.Transport)
        if self.established() is None:
            upstream.close()
            return
        self._peer = upstream
        self.quiet_since = asyncio.get_running_loop().time()
        if early:
            upstream.write(early)
        assert self.transport is not None
        self.transport.resume_reading()

    def answer(self, status: int, why: str) -> None:
        """Refuse the CONNECT (or the slow head) with ``status`` and close."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self._core.errors.warning(f"refused a proxy request: {why}")
        body = f'{{"error": "refused: {why}"}}'.encode()
        transport.write(
            b"HTTP/1.1 %d Refused\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, len(body), body)
        )
        transport.close()

    def heard(self, *, answered: bool) -> None:
        """Bytes went through the tunnel: from the upstream when ``answered``."""
        self.answered = answered
        self.quiet_since = asyncio.get_running_loop().time()

    def quiet_tunnel(self, now: float, quiet_s: float) -> bool:
        """A blind tunnel that carried no byte either way for ``quiet_s``."""
        return self._peer is not None and now - self.quiet_since >= quiet_s

    def idle_tunnel(self, now: float, quiet_s: float) -> bool:
        """A blind tunnel whose last bytes were an answer at least ``quiet_s`` ago."""
        return self._peer is not None and self.answered and now - self.quiet_since >= quiet_s

    def close(self) -> None:
        for transport in (self.transport, self._peer):
            if transport is not None:
                transport.close()

    def abort(self) -> None:
        for transport in (self.transport, self._peer):
            if transport is not None:
                transport.abort()

    def pause_writing(self) -> None:
        if self._peer is not None:
            self._peer.pause_reading()

    def resume_writing(self) -> None:
        if self._peer is not None:
            self._peer.resume_reading()

    def eof_received(self) -> bool:
        if self._peer is not None and self._peer.can_write_eof():
            self._peer.write_eof()
            self.ended(client=True)
            return True  # the other direction may still carry the answer
        return False

    def ended(self, *, client: bool) -> None:
        """One direction of the tunnel ended (EOF); once both have, the tunnel is closed (no
        transport would close itself: each keeps its other direction open)."""
        if client:
            self.client_ended = True
        else:
            self.upstream_ended = True
        if self.client_ended and self.upstream_ended:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._core._fronts.discard(self)
        self.release_slot()
        if self._peer is not None:
            self._peer.close()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.transport = None

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Pipe(asyncio.Protocol):
    """The upstream side of a blind tunnel."""

    def __init__(self, front: _Front) -> None:
        self._front = front
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        client = self._front.transport
        if client is not None:
            client.write(data)
            self._front.heard(answered=True)

    def eof_received(self) -> bool:
        client = self._front.transport
        if client is not None and client.can_write_eof():
            client.write_eof()
            self._front.ended(client=False)
            return True
        return False

    def pause_writing(self) -> None:
        if self._front.transport is not None:
            self._front.transport.pause_reading()

    def resume_writing(self) -> None:
        if self._front.transport is not None:
            self._front.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        client = self._front.transport
        if client is not None:
            client.close()
