"""H2Server on a socket pair, driven by a raw h2 client: a body is acknowledged only as the
handler reads it (so the proxy holds at most a window of it), oversized heads get 431, a
handler's error is a 500, an aborted "connection" resets its stream only, and a connection
that sends no request is closed with GOAWAY."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import h2.events as ev
from aiohttp import web
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes

from gameday.egress.h2_server import STREAM_WINDOW, H2Server
from gameday.egress.h2_stream import Handler
from gameday.gateway.guard import RateLimitedLog, ServerLimits

REQUEST = [(":method", "POST"), (":scheme", "https"), (":authority", "a"), (":path", "/x")]


class _Client:
    """The client side: h2 over the socket pair's other end."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.h2 = H2Connection(H2Configuration(client_side=True))
        self.reader = reader
        self.writer = writer
        self.ended = False

    async def flush(self) -> None:
        self.writer.write(self.h2.data_to_send())
        await self.writer.drain()

    async def until(self, done: Callable[[ev.Event], bool], timeout_s: float = 5.0) -> ev.Event:
        """Read events until one satisfies ``done``; TimeoutError if none comes in time."""
        async with asyncio.timeout(timeout_s):
            while True:
                data = await self.reader.read(65536)
                if not data:
                    self.ended = True
                    raise ConnectionResetError("the server closed the connection")
                events = self.h2.receive_data(data)
                await self.flush()
                for event in events:
                    if done(event):
                        return event

    async def answer(self, stream_id: int) -> tuple[int, bytes]:
        """The status and body of ``stream_id``'s answer."""
        status, body = 0, bytearray()

        def take(event: ev.Event) -> bool:
            nonlocal status
            if isinstance(event, ev.ResponseReceived) and event.stream_id == stream_id:
                status = int(dict(event.headers)[b":status"])
            if isinstance(event, ev.DataReceived) and event.stream_id == stream_id:
                body.extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
            return isinstance(event, ev.StreamEnded) and event.stream_id == stream_id

        await self.until(take)
        return status, bytes(body)


@asynccontextmanager
async def _serving(
    handler: Handler, limits: ServerLimits | None = None
) -> AsyncIterator[tuple[_Client, list[int]]]:
    """An H2Server on one end of a socket pair, a started client on the other; the list
    counts the server's on_close calls."""
    loop = asyncio.get_running_loop()
    server_sock, client_sock = socket.socketpair()
    closed: list[int] = []
    await loop.connect_accepted_socket(
        lambda: H2Server(
            handler,
            limits=limits or ServerLimits(),
            log=RateLimitedLog(),
            on_close=lambda: closed.append(1),
        ),
        server_sock,
    )
    reader, writer = await asyncio.open_connection(sock=client_sock)
    client = _Client(reader, writer)
    client.h2.initiate_connection()
    await client.flush()
    await client.until(lambda event: isinstance(event, ev.RemoteSettingsChanged))
    try:
        yield client, closed
    finally:
        writer.close()


def test_a_body_is_acknowledged_only_as_the_handler_reads_it() -> None:
    body = bytes(range(256)) * (3 * STREAM_WINDOW // 256)  # three windows' worth
    gate = asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await gate.wait()
        digest = hashlib.sha256()
        async for chunk in request.content.iter_any():  # readany, as the gateway streams
            digest.update(chunk)
        return web.Response(text=digest.hexdigest())

    async def run() -> None:
        async with _serving(handler) as (client, _):
            client.h2.send_headers(1, REQUEST)
            sent = await _send_while_window(client, 1, body)
            assert sent == STREAM_WINDOW  # the stream's window, and not a byte more
            try:
                await client.until(
                    lambda e: isinstance(e, ev.WindowUpdated) and e.stream_id == 1, 0.3
                )
                raise AssertionError("the window opened before the handler read anything")
            except TimeoutError:
                pass
            gate.set()  # the handler reads: the window opens as it does
            while sent < len(body):
                await client.until(lambda e: isinstance(e, ev.WindowUpdated))
                sent += await _send_while_window(client, 1, body[sent:])
            client.h2.end_stream(1)
            await client.flush()
            status, answer = await client.answer(1)
            assert (status, answer) == (200, hashlib.sha256(body).hexdigest().encode())

    asyncio.run(run())


async def _send_while_window(client: _Client, stream_id: int, data: bytes) -> int:
    sent = 0
    while sent < len(data):
        size = min(
            client.h2.local_flow_control_window(stream_id),
            client.h2.max_outbound_frame_size,
            len(data) - sent,
        )
        if size == 0:
            break
        client.h2.send_data(stream_id, data[sent : sent + size])
        sent += size
    await client.flush()
    return sent


def test_errors_refusals_and_resets_end_one_stream_not_the_connection() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/boom":
            raise RuntimeError("a bug")
        if request.path == "/reset":
            assert request.transport is not None
            request.transport.abort()  # what the gateway's reset fault does
            return web.Response(status=503)
        return web.Response(text=request.headers["Host"])

    async def run() -> None:
        async with _serving(handler) as (client, _):
            many = [*REQUEST, *((f"x-field-{n}", "v") for n in range(150))]
            client.h2.send_headers(1, many, end_stream=True)
            await client.flush()
            status, answer = await client.answer(1)
            assert status == 431 and b"over 100 header fields" in answer

            client.h2.send_headers(3, _get("/boom"), end_stream=True)
            await client.flush()
            status, answer = await client.answer(3)
            assert status == 500 and b"internal error" in answer

            client.h2.send_headers(5, _get("/reset"), end_stream=True)
            await client.flush()
            reset = await client.until(lambda e: isinstance(e, ev.StreamReset))
            assert isinstance(reset, ev.StreamReset)
            assert (reset.stream_id, reset.error_code) == (5, ErrorCodes.INTERNAL_ERROR)

            client.h2.send_headers(7, _get("/fine"), end_stream=True)
            await client.flush()
            assert await client.answer(7) == (200, b"a")  # :authority became Host

    asyncio.run(run())


def _get(path: str) -> list[tuple[str, str]]:
    return [(":method", "GET"), (":scheme", "https"), (":authority", "a"), (":path", path)]


def test_a_connection_without_requests_gets_goaway_and_is_counted_closed() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    async def run() -> None:
        limits = ServerLimits(header_timeout_s=0.2)
        async with _serving(handler, limits) as (client, closed):
            goaway = await client.until(lambda e: isinstance(e, ev.ConnectionTerminated))
            assert isinstance(goaway, ev.ConnectionTerminated)
            assert goaway.error_code == ErrorCodes.NO_ERROR
            assert await client.reader.read() == b""
            await asyncio.sleep(0)
            assert closed == [1]

    asyncio.run(run())
