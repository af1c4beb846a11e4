"""H2Server on a socket pair, driven by a raw h2 client: a body is acknowledged only as the
handler reads it (so the proxy holds at most a window of it), oversized heads get 431, a
handler's error is a 500, an aborted "connection" resets its stream only, a connection that
sends no request is closed with GOAWAY, the flood budget spares what requests and downloads
send, and request trailers are refused before the body is complete."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import h2.events as ev
import pytest
from aiohttp import web
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from hyperframe.frame import DataFrame, PingFrame, PriorityFrame, WindowUpdateFrame

from gameday.egress import h2_server
from gameday.egress.h2_server import STREAM_WINDOW, H2Server, _FrameMeter
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


SMALL_BUDGET = 4
"""Frames with no request a connection may send in these tests (and ~none refilled)."""


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2_server, "FLOOD_BURST", SMALL_BUDGET)
    monkeypatch.setattr(h2_server, "FLOOD_PER_S", 0.001)


async def _ok(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(text="ok")


@pytest.mark.usefixtures("small_budget")
def test_requests_with_priority_in_their_headers_draw_nothing_from_the_budget() -> None:
    """Older clients put priority in every HEADERS frame: h2 reports a PriorityUpdated for it,
    which is not a frame of its own and must not count as one."""

    async def run() -> None:
        async with _serving(_ok) as (client, _):
            for n in range(3 * SMALL_BUDGET):
                stream_id = 1 + 2 * n
                client.h2.send_headers(
                    stream_id,
                    _get("/"),
                    end_stream=True,
                    priority_weight=200,
                    priority_depends_on=0,
                )
                await client.flush()
                assert await client.answer(stream_id) == (200, b"ok")

    asyncio.run(run())


@pytest.mark.usefixtures("small_budget")
def test_a_download_acknowledged_frame_by_frame_draws_nothing_from_the_budget() -> None:
    """Some clients (nghttp2, the CRT) send a WINDOW_UPDATE on the stream and one on the
    connection for every DATA frame they get: the answers sent pay for them."""
    body = bytes(1024 * 1024)

    async def big(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(body=body)

    async def run() -> None:
        async with _serving(big) as (client, _):
            client.h2.send_headers(1, _get("/"), end_stream=True)
            await client.flush()
            got, frames = 0, 0

            def take(event: ev.Event) -> bool:
                nonlocal got, frames
                if isinstance(event, ev.DataReceived) and event.flow_controlled_length:
                    got += len(event.data)
                    frames += 1
                    size = event.flow_controlled_length
                    if event.stream_ended is None:
                        client.h2.increment_flow_control_window(size, stream_id=1)
                    client.h2.increment_flow_control_window(size)
                return isinstance(event, (ev.StreamEnded, ev.ConnectionTerminated))

            await client.until(take)
            assert got == len(body)
            assert 2 * frames > SMALL_BUDGET  # more updates than the budget would allow

    asyncio.run(run())


@pytest.mark.parametrize(
    "frame",
    [
        WindowUpdateFrame(0, window_increment=1),
        PriorityFrame(1, depends_on=0, stream_weight=16),
        PingFrame(0, opaque_data=b"12345678"),
    ],
    ids=["window-update", "priority", "ping"],
)
@pytest.mark.usefixtures("small_budget")
def test_a_flood_of_frames_without_a_request_gets_goaway(frame: object) -> None:
    async def run() -> None:
        async with _serving(_ok) as (client, _):
            client.writer.write(bytes(frame.serialize()) * (SMALL_BUDGET + 1))  # type: ignore[attr-defined]
            await client.writer.drain()
            goaway = await client.until(lambda e: isinstance(e, ev.ConnectionTerminated))
            assert isinstance(goaway, ev.ConnectionTerminated)
            assert goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM

    asyncio.run(run())


def _padded(data: bytes, padding: int, *, end: bool = False) -> bytes:
    frame = DataFrame(1, data, pad_length=padding)
    frame.flags.add("PADDED")
    if end:
        frame.flags.add("END_STREAM")
    return bytes(frame.serialize())


def test_the_meter_counts_each_frame_once_however_the_bytes_are_cut() -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    stream = b"".join(
        [
            preface,
            bytes(WindowUpdateFrame(0, window_increment=5).serialize()),
            bytes(PingFrame(0, opaque_data=b"12345678").serialize()),
            bytes(DataFrame(1, b"").serialize()),  # empty, stream not ended: costly
            bytes(DataFrame(1, b"", flags=["END_STREAM"]).serialize()),  # ends it: not
            _padded(b"", 7),  # nothing but padding: costly
            _padded(b"x", 7),  # carries a byte: not
            bytes(DataFrame(3, b"body" * 100).serialize()),
        ]
    )
    assert _FrameMeter().costly(stream) == (1, 3)
    meter, updates, others = _FrameMeter(), 0, 0
    for at in range(len(stream)):
        one, other = meter.costly(stream[at : at + 1])
        updates, others = updates + one, others + other
    assert (updates, others) == (1, 3)


def _post(path: str, length: int | None) -> list[tuple[str, str]]:
    head = [(":method", "POST"), (":scheme", "https"), (":authority", "a"), (":path", path)]
    return head if length is None else [*head, ("content-length", str(length))]


def test_trailers_fail_the_body_and_the_request_gets_501() -> None:
    """The handler stands for the gateway forwarding a body: it never sees the whole of it,
    nor its end, and the client is told why its request was refused."""
    body = b"0123456789" * 100
    seen: dict[str, int] = {}

    async def forward(request: web.BaseRequest) -> web.StreamResponse:
        async for chunk in request.content.iter_any():
            seen[request.path] = seen.get(request.path, 0) + len(chunk)
        return web.Response(text="forwarded")

    async def run() -> None:
        async with _serving(forward) as (client, _):
            for stream_id, length in ((1, len(body)), (3, None)):
                path = f"/{stream_id}"
                client.h2.send_headers(stream_id, _post(path, length))
                client.h2.send_data(stream_id, body)
                await client.flush()
                await asyncio.sleep(0.1)  # the handler reads what it may
                client.h2.send_headers(
                    stream_id, [("x-amz-checksum-crc32", "AAAAAA==")], end_stream=True
                )
                await client.flush()
                status, answer = await client.answer(stream_id)
                assert status == 501, answer
                assert b"trailers (x-amz-checksum-crc32) cannot be forwarded" in answer
                if length is not None:  # complete upstream with its last byte: held back
                    assert seen[path] == len(body) - 1
            # Without trailers, the held byte and the end come with END_STREAM.
            client.h2.send_headers(5, _post("/5", len(body)))
            client.h2.send_data(5, body, end_stream=True)
            await client.flush()
            assert await client.answer(5) == (200, b"forwarded")
            assert seen["/5"] == len(body)

    asyncio.run(run())
