"""A lean HTTP/1.1 client for the one upstream: pooled keep-alive connections, bodies
streamed both ways with back-pressure, bytes passed through as they are.

Why not aiohttp's ClientSession: measured on a 2-core machine, forwarding through a
ClientSession cost about 300 us of CPU per small request and this client about 200 us (the
aiohttp server side is the same in both), which decides whether the gateway keeps up at
concurrency 16 (bench/gateway.py). It also never adds, drops or re-encodes a header: the
request head is rebuilt from the client's raw header bytes.

>>> pool = UpstreamPool("http://127.0.0.1:5000")
>>> response = await pool.send("POST", b"/", raw_headers, body=b"Action=GetCallerIdentity")
>>> response.status, await response.read()
>>> response.release()
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import StreamReader
from yarl import URL

from gameday.errors import InvalidInputError

MAX_HEAD = 64 * 1024
"""Largest response head (status line and headers) accepted from the upstream."""

_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024
_IDLE_TIMEOUT_S = 30.0

_NO_BODY_STATUS = frozenset({204, 304})

# Parser states of one exchange.
_IDLE, _HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE, _DONE = range(6)
# States inside a chunked body.
_SIZE, _DATA, _DATA_END, _TRAILER = range(4)


class UpstreamError(Exception):
    """The upstream could not be reached, broke off, or answered something that is not HTTP."""


class UpstreamDisconnected(UpstreamError):
    """The connection closed before any byte of the answer: a pooled connection the upstream
    had already dropped. Safe to retry on a fresh connection if the body can be sent again."""


class BodySource(Protocol):
    """A request body streamed from the client; ``started`` once a byte has been taken."""

    started: bool

    def __aiter__(self) -> AsyncIterator[bytes]: ...


class ClientBody:
    """The client's request body as a ``BodySource``, read from aiohttp as it arrives."""

    __slots__ = ("reader", "started")

    def __init__(self, reader: StreamReader) -> None:
        self.reader = reader
        self.started = False

    def __aiter__(self) -> ClientBody:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.reader.readany()
        if not chunk:
            raise StopAsyncIteration
        self.started = True
        return chunk


class UpstreamResponse:
    """The upstream's answer: status, headers (as sent), and the body, read or streamed."""

    __slots__ = ("_connection", "content_length", "headers", "reason", "status")

    def __init__(
        self,
        connection: _Connection,
        status: int,
        reason: bytes,
        headers: list[tuple[bytes, bytes]],
        content_length: int | None,
    ) -> None:
        self._connection = connection
        self.status = status
        self.reason = reason
        """The reason phrase as sent (may be empty)."""
        self.headers = headers
        """Every header line as sent, in order, hop-by-hop ones included."""
        self.content_length = content_length
        """The body length when the upstream said it (0 for a body-less answer), else None."""

    async def read(self) -> bytes:
        """The whole body: only for answers known to be small."""
        parts = []
        while chunk := await self._connection.next_chunk():
            parts.append(chunk)
        return b"".join(parts)

    async def next_chunk(self) -> bytes:
        """The next piece of the body as it arrives; b"" at its end."""
        return await self._connection.next_chunk()

    def release(self) -> None:
        """Give the connection back to the pool if the exchange finished cleanly, else close
        it. Always call this, in a ``finally``."""
        self._connection.release()


class _Connection(asyncio.Protocol):
    """One upstream connection; one exchange at a time (no pipelining)."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self._state = _IDLE
        self._method = ""
        self._buffer = bytearray()
        self._head: asyncio.Future[UpstreamResponse] | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._body_waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._remaining = 0
        self._chunk_state = _SIZE
        self._got_bytes = False
        self._reusable = True
        self._request_sent = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    @property
    def usable(self) -> bool:
        """Idle, and still open as far as this side knows."""
        transport = self.transport
        return self._state == _IDLE and transport is not None and not transport.is_closing()

    async def exchange(
        self, method: str, head: bytes, body: bytes | BodySource | None, chunked: bool
    ) -> UpstreamResponse:
        """Send one request (its head already built; the body as bytes or a stream, framed
        with chunked encoding when ``chunked``) and wait for the head of the answer."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise UpstreamDisconnected("the pooled connection was already closed")
        self._state = _HEAD
        self._method = method
        self._got_bytes = False
        self._request_sent = False
        head_future: asyncio.Future[UpstreamResponse] = self._loop.create_future()
        self._head = head_future
        if body is None or isinstance(body, bytes):
            transport.write(head + body if body else head)
        else:
            transport.write(head)
            await self._stream(body, head_future, chunked)
        self._request_sent = True
        return await head_future

    async def _stream(
        self, body: BodySource, head_future: asyncio.Future[UpstreamResponse], chunked: bool
    ) -> None:
        transport = self.transport
        assert transport is not None
        async for chunk in body:
            if head_future.done():
                # The upstream answered before taking the whole body (an error, a redirect):
                # stop sending; the connection cannot carry another exchange.
                self._reusable = False
                return
            if transport.is_closing():
                raise self._error or UpstreamError("the upstream closed the connection")
            transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if self._writing_paused:
                await self._drain()
        if chunked and not head_future.done():
            transport.write(b"0\r\n\r\n")

    async def _drain(self) -> None:
        self._drain_waiter = self._loop.create_future()
        try:
            await self._drain_waiter
        finally:
            self._drain_waiter = None

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state == _HEAD:
            self._got_bytes = True
            self._buffer += data
            self._parse_head()
        elif state in (_LENGTH, _CHUNKED, _UNTIL_CLOSE):
            self._feed(data)
        else:
            # Bytes nobody asked for: this connection's framing can no longer be trusted.
            self._reusable = False
            if self.transport is not None:
                self.transport.close()

    def _parse_head(self) -> None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._fail(UpstreamError(f"the upstream's response head is over {MAX_HEAD} bytes"))
            return
        head = bytes(self._buffer[:end])
        rest = bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        try:
            response, framing = self._response(head)
        except (ValueError, UnicodeDecodeError) as error:
            self._fail(UpstreamError(f"the upstream's answer is not HTTP/1.x: {error}"))
            return
        if response is None:  # an interim 1xx answer: the real one follows
            self._buffer += rest
            if rest:
                self._parse_head()
            return
        self._state = framing
        if framing == _DONE:
            self._finish()
        head_future = self._head
        if head_future is not None and not head_future.done():
            head_future.set_result(response)
        if rest:
            self.data_received(rest)

    def _response(self, head: bytes) -> tuple[UpstreamResponse | None, int]:
        # Bytes throughout: the headers go on to the client exactly as the upstream sent them.
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ValueError(f"status line {lines[0][:80]!r}")
        status = int(code)
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = until_close = False
        close = version == b"HTTP/1.0"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name[-1:] in (b" ", b"\t"):
                raise ValueError(f"header line {line[:80]!r}")
            value = value.strip(b" \t")
            lowered = name.lower()
            if lowered == b"content-length":
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise ValueError(f"Content-Length {value!r}")
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
                until_close = not chunked
            elif lowered == b"connection":
                tokens = {token.strip().lower() for token in value.split(b",")}
                close = b"close" in tokens or (close and b"keep-alive" not in tokens)
            headers.append((name, value))
        if status < 200:
            if status == 101:
                raise ValueError("the upstream switched protocols")
            return None, _HEAD
        if close:
            self._reusable = False
        if self._method == "HEAD" or status in _NO_BODY_STATUS:
            known = 0 if length is None else length
            return UpstreamResponse(self, status, reason, headers, known), _DONE
        if chunked or until_close:
            framing = _CHUNKED if chunked else _UNTIL_CLOSE
            length = None
        elif length is not None:
            framing = _LENGTH if length else _DONE
            self._remaining = length
        else:
            framing = _UNTIL_CLOSE
        if framing == _UNTIL_CLOSE:
            self._reusable = False
        self._chunk_state = _SIZE
        return UpstreamResponse(self, status, reason, headers, length), framing

    def _feed(self, data: bytes) -> None:
        state = self._state
        if state == _LENGTH:
            take = data if len(data) <= self._remaining else data[: self._remaining]
            self._remaining -= len(take)
            self._push(take)
            if self._remaining == 0:
                if len(data) > len(take):
                    self._reusable = False
                self._finish()
        elif state == _UNTIL_CLOSE:
            self._push(data)
        else:
            self._buffer += data
            try:
                self._dechunk()
            except ValueError as error:
                self._fail(UpstreamError(f"bad chunked body from the upstream: {error}"))

    def _dechunk(self) -> None:
        buffer = self._buffer
        while buffer:
            if self._chunk_state in (_SIZE, _TRAILER):
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise ValueError("a chunk size line is too long")
                    return
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                if self._chunk_state == _TRAILER:
                    if not line:  # trailers end with an empty line; they are not forwarded
                        self._reusable = self._reusable and not buffer
                        self._finish()
                        return
                    continue
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    self._chunk_state = _TRAILER
                else:
                    self._chunk_state, self._remaining = _DATA, size
            elif self._chunk_state == _DATA:
                take = min(self._remaining, len(buffer))
                self._push(bytes(buffer[:take]))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self._chunk_state = _DATA_END
            else:
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise ValueError("a chunk does not end with CRLF")
                del buffer[:2]
                self._chunk_state = _SIZE

    def _push(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport:
            # The client reads slower than the upstream sends: stop reading from the upstream
            # rather than hold the whole body in memory.
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def _finish(self) -> None:
        self._state = _DONE
        self._wake()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._reusable = False
        head_future = self._head
        if head_future is not None and not head_future.done():
            head_future.set_exception(error)
        self._wake()
        if self.transport is not None:
            self.transport.close()

    def _wake(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_chunk(self) -> bytes:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._reading_paused and self._buffered < _LOW_WATER and self.transport:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self._error is not None:
                raise self._error
            if self._state == _DONE:
                return b""
            self._body_waiter = self._loop.create_future()
            try:
                await self._body_waiter
            finally:
                self._body_waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._reusable = False
        if self._state == _UNTIL_CLOSE:
            self._finish()  # the body's end is the connection's end
        elif self._state in (_HEAD, _LENGTH, _CHUNKED) and self._error is None:
            if self._state == _HEAD and not self._got_bytes:
                error: UpstreamError = UpstreamDisconnected(
                    "the upstream closed the connection before answering"
                )
            else:
                error = UpstreamError("the upstream closed the connection mid-answer")
            if exc is not None:
                error.__cause__ = exc
            self._fail(error)
        self.resume_writing()  # a writer waiting to drain must not wait forever
        self._pool.forget(self)

    def release(self) -> None:
        transport = self.transport
        if (
            self._state == _DONE
            and self._reusable
            and self._request_sent
            and self._error is None
            and transport is not None
            and not transport.is_closing()
        ):
            self._state = _IDLE
            self._head = None
            self._pool.give_back(self)
        else:
            self.close()

    def close(self) -> None:
        self._reusable = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class UpstreamPool:
    """Keep-alive connections to one upstream, most recently used first."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout_s: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = URL(base_url)
        self._host = url.raw_host or ""
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = (
            (ssl_context or ssl.create_default_context()) if url.scheme == "https" else None
        )
        default_port = url.port == (443 if url.scheme == "https" else 80)
        authority = self._host if default_port else f"{self._host}:{self._port}"
        if ":" in self._host and not default_port:
            authority = f"[{self._host}]:{self._port}"
        self.host_header = authority.encode("ascii")
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._closed = False

    async def send(
        self,
        method: str,
        head: bytes,
        body: bytes | BodySource | None,
        *,
        chunked: bool = False,
    ) -> UpstreamResponse:
        """Send a request whose head (request line to blank line) is already built. A stale
        pooled connection is retried once on a fresh one while the body can be sent again."""
        for attempt in (1, 2):
            connection = await self._acquire()
            try:
                return await connection.exchange(method, head, body, chunked)
            except UpstreamDisconnected:
                connection.close()
                replayable = body is None or isinstance(body, bytes) or not body.started
                if attempt == 2 or not replayable:
                    raise
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise UpstreamError("the gateway is shutting down")
        now = asyncio.get_running_loop().time()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable and now - connection.idle_since < _IDLE_TIMEOUT_S:
                return connection
            connection.close()
        return await self._connect()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), self._host, self._port, ssl=self._ssl
                )
        except TimeoutError:
            raise UpstreamError(
                f"connecting to {self._host}:{self._port} took over {self._connect_timeout_s} s"
            ) from None
        except OSError as error:
            raise UpstreamError(f"cannot connect to {self._host}:{self._port}: {error}") from error
        self._all.add(connection)
        return connection

    def give_back(self, connection: _Connection) -> None:
        if self._closed:
            connection.close()
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.append(connection)

    def forget(self, connection: _Connection) -> None:
        self._all.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)

    async def close(self) -> None:
        """Close every connection, idle or busy, and wait until they are closed."""
        self._closed = True
        connections = list(self._all)
        for connection in connections:
            connection.close()
        self._idle.clear()
        for _ in range(100):  # connection_lost runs on a later loop iteration
            if not self._all:
                break
            await asyncio.sleep(0.001)


def normalize_upstream(upstream: str) -> str:
    """``scheme://host:port[/base]`` without a trailing slash; InvalidInputError otherwise."""
    url = URL(upstream)
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"upstream {upstream!r} is not an http(s) URL",
            hint="give the emulator's endpoint, e.g. --upstream http://127.0.0.1:5000",
        )
    if url.query_string or url.fragment:
        raise InvalidInputError(f"upstream {upstream!r} must not have a query or fragment")
    return str(url.with_path(url.raw_path.rstrip("/"), encoded=True))
