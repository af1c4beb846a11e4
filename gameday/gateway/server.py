"""The fault gateway's request path: an asyncio HTTP server between an app's AWS SDK and one
upstream endpoint.

Each request is classified (service, region, operation, protocol), matched against the active
faults, and either answered with a protocol-correct AWS error, delayed, held open, reset, or
forwarded unchanged with its body streamed both ways. See docs/gateway.md. ``GatewayCore``
runs inside an event loop: ``gateway.thread.Gateway`` runs it in a thread,
``gateway.process.run_gateway`` as ``gameday gateway``.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import random
import socket
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from yarl import URL

from gameday.faults.modes import Mode
from gameday.gateway.admin import METRICS_PATH, AdminApi
from gameday.gateway.call_class import class_of
from gameday.gateway.classify import (
    UNCLASSIFIED,
    RequestInfo,
    assume_region,
    classify,
    needs_body,
    warm,
)
from gameday.gateway.guard import (
    GuardedConnection,
    GuardedServer,
    RateLimitedLog,
    ServerLimits,
    close_all,
    describe,
    listen,
)
from gameday.gateway.ledger import CallLedger
from gameday.gateway.metrics import GatewayMetrics
from gameday.gateway.models import Caller, Outcome
from gameday.gateway.relay import relay, reset_connection, send_continue
from gameday.gateway.resource_name import resource_name
from gameday.gateway.store import DEFAULT_RING_SIZE, ActiveFault, FaultStore, RequestLog
from gameday.gateway.upstream import (
    ClientBody,
    UpstreamError,
    UpstreamPool,
    normalize_upstream,
)
from gameday.gateway.wire import error_for_mode, render_error
from gameday.kinds import CallClass

TOKEN_ENV = "GAMEDAY_GATEWAY_TOKEN"
DEFAULT_LISTEN = "127.0.0.1:4567"

# Bodies up to this size are read whole before forwarding: fewer writes for the small JSON and
# form calls that are nearly all of the traffic, and a stale connection can be retried with
# the same bytes. Anything larger (or of unknown length) is streamed.
_SMALL_BODY = 256 * 1024
# A form body is read to find its Action only up to this size (query-protocol bodies are a
# few kB; SQS and SNS allow 256 kB messages); a larger one is streamed unread.
_MAX_FORM = 512 * 1024

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never forwarded (the
# answer's: gateway.relay). Host is the upstream's own; Expect is answered here (see _proxy).
_REQUEST_DROP = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade", b"expect", b"host",
    }
)  # fmt: skip
# A header named in Connection is hop-by-hop too, but never the body's framing: dropping
# Content-Length would leave the body's bytes to be read as the next request (smuggling).
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})

_SHUTDOWN_TIMEOUT_S = 2.0
_SWEEP_INTERVAL_S = 1.0

_EMULATOR_ADMIN = frozenset({"moto-api", "_localstack"})
"""First path segments of the emulators' own admin APIs (moto's reset, LocalStack's health,
state and plugins): refused, so that whoever reaches the gateway cannot wipe or stop its
upstream. gameday reaches them at the emulator's own URL."""


class GatewayCore:
    """The gateway inside one event loop: server, upstream session, faults, request log.

    ``deny_destructive``: every destructive call is answered AccessDenied for the core's
    whole life; a watch (``PUT /_gameday/watches/{id}``) does the same for its TTL.
    ``probe_keys``: the access key ids gameday's own probes sign with, whose calls are counted
    apart from the app's (``CallLedger``). Given by whoever starts the gateway, never read
    from a request: the app cannot declare its own calls a probe's.
    ``default_region``: the region a request that names none (unsigned, SigV2, the registry
    API) is taken to be in, for matching and in the records: the region the app's SDK is
    configured with, whose endpoints the gateway stands in for. None: such a request has no
    region, and no fault scoped by region matches it."""

    def __init__(
        self,
        upstream: str,
        *,
        token: str | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        ring_size: int = DEFAULT_RING_SIZE,
        limits: ServerLimits | None = None,
        deny_destructive: bool = False,
        pool: UpstreamPool | None = None,
        probe_keys: frozenset[str] = frozenset(),
        default_region: str | None = None,
    ) -> None:
        """``pool``: where forwarded requests go, if not to ``upstream`` (the egress proxy
        picks a destination per request)."""
        self.upstream = normalize_upstream(upstream)
        self.default_region = default_region
        self.limits = limits or ServerLimits()
        self.errors = RateLimitedLog()
        self.store = FaultStore(rng=random.Random(seed), clock=clock)
        self.log = RequestLog(ring_size, wall_clock=wall_clock)
        self.metrics = GatewayMetrics(lambda: len(self.store.active()))
        self.ledger = CallLedger(
            deny_destructive=deny_destructive,
            sees_all_calls=self.sees_all_calls,
            wall_clock=wall_clock,
            clock=clock,
            probe_keys=probe_keys,
        )
        self.admin = AdminApi(
            self.store,
            self.log,
            self.metrics,
            upstream=self.upstream,
            token=token,
            body_timeout_s=self.limits.admin_body_timeout_s,
            ledger=self.ledger,
        )
        self._pool = pool if pool is not None else UpstreamPool(self.upstream)
        self._upstream_path = URL(self.upstream).raw_path.rstrip("/").encode()
        self._runner: web.ServerRunner | None = None
        self._server: GuardedServer | None = None
        self._listeners: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._stopping: asyncio.Event | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (0: any free port); returns the bound address."""
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Errors the loop reports (a failed accept, a callback that raised): one line each,
        # rate-limited, never a traceback per event.
        loop.set_exception_handler(self._loop_error)
        # The model indexes take a few hundred ms to build: before the first request, not in it.
        await loop.run_in_executor(None, warm)
        server = GuardedServer(
            self.handle,
            limits=self.limits,
            log=self.errors,
            # A client that goes away cancels its handler: a held (blackhole) request or a
            # forwarded one stops at once instead of running to its end for nobody.
            handler_cancellation=True,
            access_log=None,
            auto_decompress=False,
        )
        self._server = server
        self._runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        self._listeners = listen(host, port)
        self._accepting = [asyncio.create_task(self.serve_listener(s)) for s in self._listeners]
        bound_host, bound_port = self._listeners[0].getsockname()[:2]
        self._sweeper = asyncio.create_task(self._sweep())
        return str(bound_host), int(bound_port)

    async def serve_listener(self, listener: socket.socket) -> None:
        """Accept connections on ``listener`` until cancelled, each served by the HTTP server.
        A subclass that reads a connection's first bytes itself (the egress proxy's CONNECT)
        overrides this, and hands HTTP connections on with ``serve_http``."""
        assert self._server is not None
        await self._server.accept(listener)

    def serve_http(
        self, transport: asyncio.Transport, data: bytes = b"", eof: bool = False
    ) -> None:
        """Serve a connection accepted elsewhere with the HTTP server, counted against its cap
        like any other: ``data`` was already read from it, ``eof`` it was already seen."""
        assert self._server is not None
        handler = self._server()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if data:
            handler.data_received(data)
        if eof:
            handler.eof_received()

    async def close(self) -> None:
        """Release held requests, stop listening, finish in-flight ones, close the pool."""
        if self._stopping is not None:
            self._stopping.set()
        for task in [*self._accepting, *([self._sweeper] if self._sweeper else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        close_all(self._listeners)
        if self._runner is not None:
            await self._runner.cleanup()
        await self._pool.close()

    async def _sweep(self) -> None:
        interval_s = min(_SWEEP_INTERVAL_S, self.limits.header_timeout_s / 2)
        while True:
            await asyncio.sleep(interval_s)
            self.store.sweep()
            if self._server is not None:
                self._server.sweep()
            self.errors.flush()

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        message = str(context.get("message", "event loop error"))
        detail = describe(error if isinstance(error, BaseException) else None)
        self.errors.warning(f"{message}: {detail}")

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        return self._server.open_connections if self._server is not None else 0

    def sees_all_calls(self) -> bool:
        """Every call sent here is classified and counted (the egress proxy's are not)."""
        return True

    @property
    def data_path_cap(self) -> int:
        """Connections the data path may hold: the connection cap less the admin reserve."""
        server = self._server
        return server.cap - server.reserve if server is not None else 0

    def upstream_host(self, request: web.BaseRequest) -> bytes:
        """The Host header a forwarded request carries: the upstream's own. (The egress proxy
        sends the client's, which SigV4 signed.)"""
        return self._pool.host_header

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Every request: admin API, refused, or proxied."""
        if request.method == "CONNECT":
            return self._refuse(request, 405, "CONNECT: this gateway is not an open proxy")
        target = request.raw_path
        if target[:1] != "/":
            origin = origin_form(target)
            if origin is None:
                return self._refuse(request, 400, f"request target {target[:100]!r}")
            target = origin  # an absolute-form URI still goes to the configured upstream
        if target.startswith("/_") or target.startswith(METRICS_PATH):
            path = target.partition("?")[0]
            if self.admin.owns(request, path):
                return await self.admin.handle(request, path)
        connection = request.protocol
        if isinstance(connection, GuardedConnection) and connection.admin_only:
            cap = self._server.cap if self._server is not None else 0
            return self._refuse(
                request,
                503,
                f"the gateway is at its connection limit ({cap}); this connection takes "
                "admin calls (/_gameday/) only",
            )
        if emulator_admin_path(target.partition("?")[0]):
            return self._refuse(
                request,
                403,
                f"{target.partition('?')[0][:100]} is the emulator's own admin API, not "
                "forwarded by the gateway (gameday calls it at the emulator's URL)",
            )
        return await self._proxy(request, target)

    async def _proxy(self, request: web.BaseRequest, target: str) -> web.StreamResponse:
        started = perf_counter()
        method = request.method
        headers = request.headers
        # botocore sends "Expect: 100-continue" with file-like bodies and waits for the
        # interim answer before sending the body: a faulted request must get its error
        # *instead* of "100 Continue", so it is sent only once the request is forwarded.
        expect = headers.get("Expect")
        expect_pending = False
        if expect is not None and request.version >= aiohttp.HttpVersion11:
            if expect.lower() != "100-continue":
                return self._refuse(request, 417, f"Expect: {expect}")
            expect_pending = True
        form: bytes | None = None
        length = request.content_length
        if length is not None and length <= _MAX_FORM and needs_body(method, headers):
            if expect_pending:
                await send_continue(request)
                expect_pending = False
            form = await request.read()
        path, _, query = target.partition("?")
        info = assume_region(classify(method, path, query, headers, form), self.default_region)
        call = _Call(self, request, info, target, started)
        if call.call_class is CallClass.DESTRUCTIVE:
            form, expect_pending = await self._name_resource(
                call, path, query, form, expect_pending
            )
            if self.ledger.deny_destructive:
                return await self._deny(call, expect_pending)
        fault = self.store.match(info)
        delay_s = self.store.effect_latency_s
        if fault is not None:
            call.fault_id = fault.id
            mode = fault.mode
            if mode is Mode.BLACKHOLE:
                return await self._blackhole(call)
            if mode is Mode.RESET:
                call.done(None, Outcome.RESET)
                reset_connection(request)
                return web.Response(status=503)  # never sent: the connection is gone
            if mode is not Mode.LATENCY:
                return await self._inject_error(call, fault, expect_pending)
            delay_s += self.store.draw_latency_s(fault)
        try:
            if delay_s > 0:
                call.outcome = Outcome.DELAYED
                await asyncio.sleep(delay_s)
            return await self._forward(call, form, expect_pending)
        except (asyncio.CancelledError, ConnectionError):
            if not call.recorded:  # the client went away (or the gateway stops)
                call.done(None, Outcome.CLIENT_GONE)
            raise

    async def _name_resource(
        self, call: _Call, path: str, query: str, form: bytes | None, expect_pending: bool
    ) -> tuple[bytes | None, bool]:
        """Read a destructive call's small body (rare calls: the others stream through) and
        name its resource; returns the body read, and whether "100 Continue" is still owed."""
        request = call.request
        length = request.content_length
        if form is None and request.body_exists and length is not None and length <= _SMALL_BODY:
            if expect_pending:
                await send_continue(request)
                expect_pending = False
            form = await request.read()
        loop = asyncio.get_running_loop()
        # The first destructive call of a service loads its model: off the event loop.
        host = request.headers.get("Host", "")
        call.resource = await loop.run_in_executor(
            None, resource_name, call.info, request.method, path, query, form, host
        )
        return form, expect_pending

    async def _deny(self, call: _Call, expect_pending: bool) -> web.StreamResponse:
        """``deny_destructive``: AccessDenied in the request's own protocol, never forwarded."""
        info = call.info
        status, code = error_for_mode(Mode.DENIED, info)
        what = " ".join(p for p in (info.service, info.operation, call.resource) if p)
        message = f"gameday refused a destructive call ({what or call.request.method}): "
        message += "deny_destructive is on (a drill's target, or --deny-destructive)"
        return await self._answer_error(call, status, code, message, Outcome.DENIED, expect_pending)

    async def _inject_error(
        self, call: _Call, fault: ActiveFault, expect_pending: bool
    ) -> web.StreamResponse:
        status, code = error_for_mode(fault.mode, call.info)
        status = fault.status or status
        code = fault.code or code
        message = f"{code} injected by gameday fault {fault.id!r}"
        return await self._answer_error(call, status, code, message, Outcome.ERROR, expect_pending)

    async def _answer_error(
        self,
        call: _Call,
        status: int,
        code: str,
        message: str,
        outcome: Outcome,
        expect_pending: bool,
    ) -> web.StreamResponse:
        request, info = call.request, call.info
        rendered = render_error(info, status, code, message, method=request.method)
        response = web.Response(
            status=rendered.status, headers=rendered.headers, body=rendered.body
        )
        call.done(rendered.status, outcome)
        if expect_pending:
            # The client holds its body back for a "100 Continue" that never comes, so the
            # connection cannot carry another request: answer, then close it at once (left
            # to aiohttp, it would wait seconds for a body that is not coming).
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            if request.transport is not None:
                request.transport.close()
        return response

    async def _blackhole(self, call: _Call) -> web.StreamResponse:
        call.done(None, Outcome.BLACKHOLE)  # logged now: a held request has no end to wait for
        assert self._stopping is not None
        # Held until the gateway stops; the client going away cancels this task first.
        await self._stopping.wait()
        reset_connection(call.request)
        return web.Response(status=503)  # never sent: the connection is gone

    def _refuse(self, request: web.BaseRequest, status: int, what: str) -> web.StreamResponse:
        response = web.json_response({"error": f"refused: {what}"}, status=status)
        response.force_close()
        _Call(self, request, UNCLASSIFIED, "", perf_counter()).done(status, Outcome.REFUSED)
        return response

    async def _forward(
        self, call: _Call, form: bytes | None, expect_pending: bool
    ) -> web.StreamResponse:
        request = call.request
        if expect_pending:
            await send_continue(request)
        body: bytes | ClientBody | None = form
        chunked = False
        if body is None and request.body_exists:
            length = request.content_length
            if length is not None and length <= _SMALL_BODY:
                body = await request.read()
            else:
                body = ClientBody(request.content)
                chunked = length is None  # the client sent it chunked: so do we
        head = self._request_head(request, call.target, chunked)
        try:
            upstream = await self._pool.send(request.method, head, body, chunked=chunked)
            try:
                response = await relay(request, upstream)
            finally:
                upstream.release()
        except UpstreamError as error:
            return self._bad_gateway(call, error)
        call.done(upstream.status, call.outcome)
        return response

    def _request_head(self, request: web.BaseRequest, target: str, chunked: bool) -> bytes:
        """The request line and headers for the upstream, from the client's raw bytes: SigV4
        signed headers go out exactly as signed; only hop-by-hop ones and Host change."""
        drop = _REQUEST_DROP
        connection = request.headers.get("Connection")
        if connection:
            # Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1), but for the
            # framing: the body forwarded is exactly the one aiohttp framed by those headers.
            named = {
                token.strip().lower().encode("utf-8", "surrogateescape")
                for token in connection.split(",")
            }
            drop = drop | (named - _FRAMING)
        if chunked:
            drop = drop | _FRAMING  # re-framed here, whatever the client sent
        parts = [
            request.method.encode(),
            b" ",
            self._upstream_path,
            target.encode("utf-8", "surrogateescape"),
            b" HTTP/1.1\r\nHost: ",
            self.upstream_host(request),
            b"\r\n",
        ]
        for name, value in request.raw_headers:
            if name.lower() not in drop:
                parts += (name, b": ", value, b"\r\n")
        parts.append(b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"\r\n")
        return b"".join(parts)

    def _bad_gateway(self, call: _Call, error: UpstreamError) -> web.StreamResponse:
        request = call.request
        message = f"gameday gateway could not reach its upstream {self.upstream}: {error}"
        rendered = render_error(call.info, 502, "BadGateway", message, method=request.method)
        response = web.Response(status=502, headers=rendered.headers, body=rendered.body)
        # The client's body may be half read: this connection cannot carry another request.
        response.force_close()
        call.done(502, Outcome.UPSTREAM_ERROR)
        return response


class _Call:
    """One proxied request on its way: what it is, and recording how it ended (once)."""

    __slots__ = ("call_class", "caller", "core", "fault_id", "info", "outcome", "recorded",
                 "request", "resource", "started", "target")  # fmt: skip

    def __init__(
        self,
        core: GatewayCore,
        request: web.BaseRequest,
        info: RequestInfo,
        target: str,
        started: float,
    ) -> None:
        self.core = core
        self.request = request
        self.info = info
        self.target = target
        self.started = started
        self.fault_id: str | None = None
        self.outcome = Outcome.FORWARDED
        self.recorded = False
        self.call_class = class_of(info.service, info.operation, request.method)
        self.resource: str | None = None
        self.caller: Caller = core.ledger.caller_of(info)

    def done(self, status: int | None, outcome: Outcome) -> None:
        """Into the request ring, the metrics and the ledger, as the app's or a probe's."""
        self.recorded = True
        elapsed = perf_counter() - self.started
        info, core, caller, fault_id = self.info, self.core, self.caller, self.fault_id
        core.log.record(self.request.method, info, status, outcome, fault_id, elapsed, caller)
        core.metrics.observe(info.service, info.operation, outcome, fault_id, elapsed, caller)
        core.ledger.record(info, self.call_class, outcome, self.resource, caller)


def origin_form(target: str) -> str | None:
    """The path and query of an absolute-form request target, or None for anything else."""
    lowered = target[:8].lower()
    if not (lowered.startswith("http://") or lowered.startswith("https://")):
        return None
    rest = target[target.index("//") + 2 :]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=-1)
    if cut < 0:
        return "/"
    tail = rest[cut:]
    return tail if tail.startswith("/") else "/" + tail


def emulator_admin_path(path: str) -> bool:
    """Whether a request path reaches an emulator's own admin API (``/moto-api/``,
    ``/_localstack/``) once the upstream decodes and normalizes it: percent-encoding, repeated
    slashes, dot segments and case do not hide it."""
    if "%" in path:
        path = unquote(path)
    lowered = path.lower()
    if "moto-api" not in lowered and "_localstack" not in lowered:
        return False
    segments = [segment for segment in posixpath.normpath(lowered).split("/") if segment]
    return bool(segments) and segments[0] in _EMULATOR_ADMIN
