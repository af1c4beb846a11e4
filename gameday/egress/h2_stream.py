"""One HTTP/2 stream as an aiohttp request, so that the gateway's own path serves it.

Each stream of a decrypted h2 connection goes to ``EgressCore.handle`` as a
``web.BaseRequest``, exactly as an HTTP/1.1 request inside a tunnel does: the gateway's
classifier, fault store, request ring, metrics, rendered errors and forwarding all apply, and
none of them is copied here. What the gateway takes for "the connection" is the stream:

- ``StreamBody``: the request body, fed from DATA frames. A byte is acknowledged to the client
  (WINDOW_UPDATE) only once the gateway has read it, so a client has at most its flow-control
  window of body inside the proxy, however slowly the upstream takes it.
- ``StreamWriter``: the answer, sent as HEADERS and DATA frames within the client's windows.
- ``StreamTransport``: closing or aborting "the connection" ends this stream only.

What the fault modes mean on HTTP/2, that is, what an SDK sees:

- ``reset``: on HTTP/1.1 the gateway aborts the connection with a TCP reset. Here the stream is
  reset (RST_STREAM, INTERNAL_ERROR): h2 clients report the call failed on an I/O error, as when
  a front end loses the backend serving one request. The connection and its other streams go
  on: one connection carries many calls at once, and a fault that matches one operation must
  not fail the calls multiplexed beside it.
- ``blackhole``: the stream is never answered. The connection stays up and answers PINGs, as a
  live front end with a dead backend does, so only the SDK's read timeout ends the call (its
  RST_STREAM cancels the held request). When the proxy stops, held streams are reset.
- an error answered before the client sent all its body (a faulted upload) is followed by
  RST_STREAM NO_ERROR (RFC 9113 section 8.1): the client stops sending and keeps the answer.
- the gateway's interim ``100 Continue`` becomes an informational HEADERS frame.

Request trailers (HEADERS after the body) are refused: the leg to the upstream is HTTP/1.1,
and the gateway's pool has no way to send them as chunked trailers, so forwarding the request
would drop them (an SDK's checksum trailer lost). The body then fails as if its client had
gone (``ConnectionResetError``): the upstream never sees a complete request, and the client
gets ``501`` unless an answer had already started. So that a body with a Content-Length is not
complete upstream before the client's END_STREAM says whether trailers follow, its last byte is
held back until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from aiohttp import HttpVersion, StreamReader, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD
from h2.errors import ErrorCodes
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gameday.gateway.guard import RateLimitedLog, describe

if TYPE_CHECKING:
    from aiohttp.web_protocol import RequestHandler

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
Header = tuple[bytes, bytes]

HTTP2 = HttpVersion(2, 0)
_READ_LIMIT = 256 * 1024
"""StreamReader's buffer mark, which only calls the no-op ``pause_reading`` here: the stream's
flow-control window is what bounds its buffer."""
# Connection-specific headers (RFC 9113 8.2.2): an h2 answer must not carry them.
_NOT_IN_H2 = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}
)
_INTERNAL = '{"error": "internal error in the gameday egress proxy (its log has one line on it)"}'


class Channel(Protocol):
    """What a stream needs of its connection (``H2Server``)."""

    def send_headers(self, stream: H2Stream, headers: list[Header], end_stream: bool) -> None:
        """HEADERS on ``stream``; ConnectionResetError once the stream is gone."""

    async def send_data(self, stream: H2Stream, data: bytes, end_stream: bool) -> None:
        """DATA on ``stream`` as its windows allow; ConnectionResetError once it is gone."""

    def reset(self, stream: H2Stream, code: ErrorCodes) -> None:
        """RST_STREAM with ``code``, unless the stream is already closed."""

    def acknowledge(self, stream: H2Stream, size: int) -> None:
        """``size`` bytes of ``stream``'s body were read: the client may send as many more."""

    def extra_info(self, name: str, default: Any = None) -> Any:
        """The TLS transport's ``get_extra_info``."""


class H2Stream:
    """One request on an h2 connection: its body, its answer, and how it ended."""

    def __init__(
        self, channel: Channel, stream_id: int, *, has_body: bool, length: int | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        self.channel = channel
        self.id = stream_id
        self.protocol = _StreamProtocol(self, loop)
        self.body: StreamReader = StreamBody(self, loop) if has_body else EMPTY_PAYLOAD
        self.writer = StreamWriter(self)
        self.task: asyncio.Task[None] | None = None
        self.client_done = not has_body
        """END_STREAM received: the client sent its whole request."""
        self.answered = False
        """END_STREAM sent: the answer is complete."""
        self.closed = False
        """Reset by either side, or its connection is gone: nothing more may be sent."""
        self.unread = 0
        """Body bytes received but not yet read (acknowledged when the stream ends)."""
        self.window: asyncio.Future[None] | None = None
        """Set while an answer waits for the client to open its flow-control window."""
        self.refusal: str | None = None
        """Why the request was refused after it started (its trailers), if it was."""
        self._length = length
        self._received = 0
        self._held = b""

    def feed(self, data: bytes) -> None:
        """DATA from the client."""
        if data and not self.client_done:
            self.unread += len(data)
            self._received += len(data)
            if self._received == self._length:
                data, self._held = data[:-1], data[-1:]  # until END_STREAM: see the module
            if data:
                self.body.feed_data(data)

    def feed_eof(self) -> None:
        """END_STREAM from the client."""
        if not self.client_done:
            self.client_done = True
            if self._held:
                self.body.feed_data(self._held)
            self.body.feed_eof()

    def refuse_trailers(self, why: str) -> bool:
        """Trailers came: fail the body (``why``) instead of ending it; False if it had ended."""
        if self.client_done:
            return False
        self.client_done = True
        self.refusal = why
        self.body.set_exception(ConnectionResetError(why))
        return True

    def consumed(self, size: int) -> None:
        """The gateway read ``size`` bytes of the body."""
        if size:
            self.unread -= size
            self.channel.acknowledge(self, size)

    def wake(self) -> None:
        """The window opened, or the stream ended: a waiting answer looks again."""
        waiter = self.window
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def lost(self, why: str) -> None:
        """Reset by the client, or the connection is gone: stop its request."""
        self.closed = True
        self.wake()
        if not self.client_done:
            self.body.set_exception(ConnectionResetError(why))
        if self.task is not None:
            self.task.cancel()  # as the gateway cancels a handler whose client went away

    def reset(self, code: ErrorCodes) -> None:
        """End the stream from this side with RST_STREAM ``code``."""
        if not self.closed:
            self.channel.reset(self, code)
            self.closed = True
            self.wake()


class StreamBody(StreamReader):
    """The request body from DATA frames; the gateway reads it with ``readany`` (through
    ``BaseRequest.read``, ``release`` and the upstream client's ``ClientBody``), and what it
    reads is acknowledged to the client."""

    def __init__(self, stream: H2Stream, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(stream.protocol, _READ_LIMIT, loop=loop)
        self._stream = stream

    async def readany(self) -> bytes:
        chunk = await super().readany()
        self._stream.consumed(len(chunk))
        return chunk


class _StreamProtocol(BaseProtocol):
    """The stream as the request's "protocol": its transport and the connection's TLS facts."""

    def __init__(self, stream: H2Stream, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.transport = StreamTransport(stream)
        self.ssl_context = stream.channel.extra_info("sslcontext")
        self.peername = stream.channel.extra_info("peername")
        self.sockname = stream.channel.extra_info("sockname")

    def pause_reading(self) -> None:
        return None  # the client's flow-control window bounds the body, not the socket

    def resume_reading(self, resume_parser: bool = True) -> None:
        return None


class StreamTransport(asyncio.Transport):
    """What the gateway calls the connection of an h2 request: the stream."""

    def __init__(self, stream: H2Stream) -> None:
        super().__init__()
        self._stream = stream

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            # The socket carries every stream: the gateway must not set SO_LINGER on it to
            # reset one request (``abort`` resets the stream instead).
            return default
        return self._stream.channel.extra_info(name, default)

    def is_closing(self) -> bool:
        return self._stream.closed

    def abort(self) -> None:
        """The ``reset`` fault (and a held request when the proxy stops): RST_STREAM."""
        self._stream.reset(ErrorCodes.INTERNAL_ERROR)

    def close(self) -> None:
        """After a complete answer: stop the rest of the client's body; else as ``abort``."""
        stream = self._stream
        if not stream.answered:
            stream.reset(ErrorCodes.INTERNAL_ERROR)
        elif not stream.client_done:
            stream.reset(ErrorCodes.NO_ERROR)


class StreamWriter(AbstractStreamWriter):
    """The answer as HEADERS and DATA frames (h2 does the framing: chunking is a no-op)."""

    def __init__(self, stream: H2Stream) -> None:
        self._stream = stream
        self._head: list[Header] | None = None
        self.head_sent = False
        self.length: int | None = None

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        status = status_line.split(" ", 2)[1]
        head = [(b":status", status.encode("ascii"))]
        for name, value in headers.items():
            lowered = name.lower()
            if lowered not in _NOT_IN_H2:
                head.append((lowered.encode("utf-8"), value.encode("utf-8", "surrogateescape")))
        self._head = head

    def send_headers(self, end_stream: bool = False) -> None:
        if self._head is not None and not self.head_sent:
            self.head_sent = True
            self._stream.channel.send_headers(self._stream, self._head, end_stream)
            if end_stream:
                self._stream.answered = True

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if self._head is None:
            self._interim(bytes(chunk))
            return
        self.send_headers()
        if chunk:
            self.output_size += len(chunk)
            await self._stream.channel.send_data(self._stream, bytes(chunk), False)

    async def write_eof(self, chunk: bytes = b"") -> None:
        if self._stream.answered:
            return
        if not self.head_sent and not chunk:
            self.send_headers(end_stream=True)
            return
        self.send_headers()
        self.output_size += len(chunk)
        await self._stream.channel.send_data(self._stream, bytes(chunk), True)
        self._stream.answered = True

    def _interim(self, raw: bytes) -> None:
        # The only bytes the gateway writes before an answer's head: "HTTP/1.1 100 Continue".
        parts = raw.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].startswith(b"1"):
            raise ValueError(f"bytes written before the answer's head: {raw[:40]!r}")
        self._stream.channel.send_headers(self._stream, [(b":status", parts[1])], False)
        self.output_size = 0

    async def drain(self) -> None:
        return None  # send_data waits for the windows and the socket itself

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        raise NotImplementedError("the gateway passes bodies on as they are, never compressed")

    def enable_chunking(self) -> None:
        return None  # DATA frames carry a body of unknown length


def build_request(stream: H2Stream, headers: list[Header]) -> web.BaseRequest:
    """The aiohttp request for a stream's HEADERS: ``:authority`` becomes Host (first, as on
    HTTP/1.1), ``:path`` the request target; every other header as the client sent it."""
    pseudo: dict[bytes, bytes] = {}
    raw: list[Header] = []
    host = b""
    for name, value in headers:
        if name.startswith(b":"):
            pseudo[name] = value
        elif name == b"host":
            host = value
        else:
            raw.append((name, value))
    authority = pseudo.get(b":authority") or host
    if authority:
        raw.insert(0, (b"host", authority))
    target = pseudo.get(b":path", b"").decode("utf-8", "surrogateescape")
    path, _, query = target.partition("?")
    url = URL.build(path=path, query_string=query, encoded=True) if path[:1] == "/" else URL()
    fields = CIMultiDict(
        (name.decode("ascii", "replace"), value.decode("utf-8", "surrogateescape"))
        for name, value in raw
    )
    message = RawRequestMessage(
        pseudo.get(b":method", b"").decode("ascii", "replace"),
        target,
        HTTP2,
        CIMultiDictProxy(fields),
        tuple(raw),
        False,  # should_close: one stream's end is not its connection's
        None,
        False,
        False,
        url,
    )
    task = asyncio.current_task()
    assert task is not None
    protocol = cast("RequestHandler", stream.protocol)  # BaseRequest reads only its transport
    # and TLS facts from it
    return web.BaseRequest(
        message, stream.body, protocol, stream.writer, task, asyncio.get_running_loop()
    )


async def serve_stream(
    stream: H2Stream,
    headers: list[Header],
    handler: Handler,
    log: RateLimitedLog,
    finished: Callable[[H2Stream], None],
) -> None:
    """Run one stream's request through ``handler`` and send its answer, as aiohttp's own
    connection handler does for HTTP/1.1; ``finished`` is called however it ends."""
    try:
        request = build_request(stream, headers)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = web.Response(status=error.status, reason=error.reason, text=error.text)
        except ConnectionError:
            if stream.refusal is None or stream.closed or stream.writer.head_sent:
                raise
            response = web.json_response({"error": f"refused: {stream.refusal}"}, status=501)
        except Exception as error:  # one line in the log and a 500, as the gateway does
            log.warning(f"error handling an HTTP/2 request: {describe(error)}")
            if stream.writer.head_sent:
                stream.reset(ErrorCodes.INTERNAL_ERROR)
                return
            response = web.Response(status=500, text=_INTERNAL, content_type="application/json")
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        pass  # the stream was reset or the connection lost: nobody is left to answer
    except Exception as error:  # a broken answer: this stream ends, the connection goes on
        log.warning(f"error answering an HTTP/2 request: {describe(error)}")
        stream.reset(ErrorCodes.INTERNAL_ERROR)
    finally:
        finished(stream)
