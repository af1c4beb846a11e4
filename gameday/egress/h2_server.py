"""HTTP/2 on a decrypted tunnel: frames in and out through h2 (sans-IO), each stream a request.

The egress proxy offers ALPN ``h2`` on its leaves; a client that picks it gets this protocol on
the decrypted connection. Every stream becomes one request for the gateway's own path
(``h2_stream``, where the fault modes' meaning on HTTP/2 is written down). This module keeps
the connection within bounds against a broken or hostile client:

- at most ``MAX_CONCURRENT_STREAMS`` requests at once (SETTINGS_MAX_CONCURRENT_STREAMS; a
  client that opens more gets GOAWAY), header blocks up to the gateway's ``max_head_bytes``
  (SETTINGS_MAX_HEADER_LIST_SIZE) and fields within its ``max_headers`` / ``max_field_bytes``;
- request bodies within flow-control windows: ``STREAM_WINDOW`` per stream and
  ``CONNECTION_WINDOW`` in all, acknowledged only as the gateway reads them; answers sent only
  as the client's windows allow, and no more frames read while the client does not read ours;
- frames that cost work but carry no request (PING, SETTINGS, RST_STREAM, PRIORITY,
  WINDOW_UPDATE, GOAWAY, empty DATA, unknown types) drawn from a budget: a flood gets GOAWAY
  ENHANCE_YOUR_CALM. They are counted from the frame headers as bytes arrive, before h2 parses
  them: h2 drops some without an event (a reset or a WINDOW_UPDATE for a stream already
  closed), and those cost work too. A WINDOW_UPDATE is free while the answers sent have paid
  for it (a client downloading sends a few per DATA frame it gets);
- request trailers, which the HTTP/1.1 leg upstream cannot carry, refused (``h2_stream``);
- a frame h2 rejects gets GOAWAY with h2's error code; an idle connection is closed after the
  gateway's idle timeout (after its header timeout if no request ever came).

Every refusal is one line in the gateway's rate-limited log; none is an exception left to the
event loop.

>>> server = H2Server(core.handle, limits=core.limits, log=core.errors, on_close=release)
>>> tls.set_protocol(server); server.connection_made(tls)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import h2.events as ev
from aiohttp import web
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from h2.exceptions import ProtocolError
from h2.settings import SettingCodes, Settings

from gameday.egress.h2_stream import H2Stream, Handler, Header, serve_stream
from gameday.gateway.guard import RateLimitedLog, ServerLimits, TokenBucket, describe

MAX_CONCURRENT_STREAMS = 100
"""Requests one connection may have open at once. RFC 9113 asks for no fewer than 100, so as
not to limit a client's parallelism; each open stream may hold a task and an upstream
connection, so not more."""
STREAM_WINDOW = 1024 * 1024
"""Request body bytes one stream may have in the proxy, sent but not yet taken upstream."""
CONNECTION_WINDOW = 4 * 1024 * 1024
"""Request body bytes one connection may have in the proxy, all streams together."""
FLOOD_BURST = 1000
FLOOD_PER_S = 100.0
"""Frames that carry no request, allowed at once and then per second. A client sends a few
per request (a PING to test a pooled connection, a reset when it gives up waiting); a flood
(PING, SETTINGS, reset or empty-frame floods, CVE-2019-9512/9514/9515/9518; rapid reset,
CVE-2023-44487; WINDOW_UPDATEs, which make the proxy look at every waiting stream) runs dry
within a second of sending."""
UPDATES_PER_FRAME = 2
BYTES_PER_UPDATE = 2048
"""WINDOW_UPDATEs each DATA frame sent pays for: one per ``BYTES_PER_UPDATE`` bytes, and
``UPDATES_PER_FRAME`` more, stream and connection. Clients acknowledge per frame received
(nghttp2, the CRT) or per 4 KiB read (Go), each on the stream and the connection: within this
with a margin, so a download of any size never draws on the budget."""

_DEFAULT_WINDOW = 65535
"""Every connection's window at its start (RFC 9113 6.9.2), whatever the settings say."""
_PSEUDO_FIELDS = 4
"""``:method``, ``:scheme``, ``:authority`` and ``:path``: not counted as header fields."""


class H2Server(asyncio.Protocol):
    """One decrypted HTTP/2 connection."""

    def __init__(
        self,
        handler: Handler,
        *,
        limits: ServerLimits,
        log: RateLimitedLog,
        on_close: Callable[[], None],
    ) -> None:
        self._handler = handler
        self._limits = limits
        self._log = log
        self._on_close: Callable[[], None] | None = on_close
        self._h2 = H2Connection(H2Configuration(client_side=False, header_encoding=None))
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, H2Stream] = {}
        self._budget = _Budget(FLOOD_BURST, FLOOD_PER_S)
        self._frames = _FrameMeter()
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        h2 = self._h2
        h2.local_settings = Settings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                SettingCodes.MAX_HEADER_LIST_SIZE: self._limits.max_head_bytes,
                SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                SettingCodes.ENABLE_PUSH: 0,
            },
        )
        # In force from the first frame, not from the client's SETTINGS ACK.
        h2.decoder.max_header_list_size = self._limits.max_head_bytes
        h2.initiate_connection()
        h2.increment_flow_control_window(CONNECTION_WINDOW - _DEFAULT_WINDOW)
        self._flush()
        self._arm(self._limits.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if not self._budget.allows(*self._frames.costly(data)):
            # Before h2 parses any of it: none of these frames is worth the work.
            self._refuse("a flood of frames that carry no request", _CALM)
            return
        try:
            events = self._h2.receive_data(data)
        except ProtocolError as error:  # h2 has queued GOAWAY with the matching error code
            self._refuse(f"bad HTTP/2 input: {describe(error)}")
            return
        try:
            for event in events:
                self._dispatch(event)
        except ProtocolError as error:
            self._refuse(f"HTTP/2 state error: {describe(error)}", ErrorCodes.PROTOCOL_ERROR)
            return
        except Exception as error:  # a bug here ends this connection, never the proxy
            self._refuse(f"internal error: {describe(error)}", ErrorCodes.INTERNAL_ERROR)
            return
        self._flush()

    def _dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.RequestReceived):
            self._open(event.stream_id, event.headers, has_body=event.stream_ended is None)
        elif isinstance(event, ev.DataReceived):
            self._data(event)
        elif isinstance(event, ev.TrailersReceived):
            self._trailers(event)
        elif isinstance(event, ev.StreamEnded):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.feed_eof()
        elif isinstance(event, ev.StreamReset):
            stream = self._streams.get(event.stream_id)
            if stream is not None:
                stream.lost("the client reset the stream")
        elif isinstance(event, ev.WindowUpdated):
            self._wake(event.stream_id)
        elif isinstance(event, ev.RemoteSettingsChanged):
            self._wake(0)  # the client's initial window may have grown
        elif isinstance(event, ev.ConnectionTerminated):
            # The client's GOAWAY: h2 sends nothing more on this connection, so nothing left
            # open can be answered on it (a client that leaves has given up on those).
            self.shutdown(None)

    def _open(self, stream_id: int, headers: list[Header], *, has_body: bool) -> None:
        stream = H2Stream(self, stream_id, has_body=has_body, length=_content_length(headers))
        handler: Handler = self._handler
        why = self._oversized(headers)
        if why is not None:
            self._log.warning(f"refused an HTTP/2 request: {why}")
            handler = _Refusal(431, why)
        self._streams[stream_id] = stream
        stream.task = asyncio.get_running_loop().create_task(
            serve_stream(stream, headers, handler, self._log, self._finished)
        )

    def _trailers(self, event: ev.TrailersReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is None or not event.headers:
            return  # an answered stream's, or an empty section: nothing is lost
        names = ", ".join(sorted({name.decode("ascii", "replace") for name, _ in event.headers}))
        why = (
            f"HTTP/2 request trailers ({names[:200]}) cannot be forwarded: the proxy's leg to "
            "the upstream is HTTP/1.1; the request was not completed upstream"
        )
        if stream.refuse_trailers(why):
            self._log.warning(f"refused an HTTP/2 request: {why}")

    def _oversized(self, headers: list[Header]) -> str | None:
        limits = self._limits
        if len(headers) > limits.max_headers + _PSEUDO_FIELDS:
            return f"over {limits.max_headers} header fields"
        if any(len(name) + len(value) > limits.max_field_bytes for name, value in headers):
            return f"a header field over {limits.max_field_bytes} bytes"
        return None

    def _data(self, event: ev.DataReceived) -> None:
        data = event.data or b""
        padding = event.flow_controlled_length - len(data)
        stream = self._streams.get(event.stream_id)
        if stream is None or stream.client_done:
            # Nobody reads it (an answered or abandoned stream): give the window back now.
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            return
        if padding:
            self._h2.acknowledge_received_data(padding, event.stream_id)
        stream.feed(data)

    def _finished(self, stream: H2Stream) -> None:
        """A stream's request ended (answered, reset, or its connection gone)."""
        self._streams.pop(stream.id, None)
        if not stream.closed and not (stream.answered and stream.client_done):
            # Cancelled before its answer: reset; answered before the whole body came:
            # NO_ERROR, so that the client stops sending (RFC 9113 8.1).
            stream.reset(ErrorCodes.NO_ERROR if stream.answered else ErrorCodes.INTERNAL_ERROR)
        if stream.unread and not self._closed:
            self.acknowledge(stream, stream.unread)  # what the gateway left unread
            stream.unread = 0
        if not self._streams and not self._closed:
            self._arm(self._limits.idle_timeout_s)
        self._flush()

    # The Channel a stream sends through (h2_stream.Channel).

    def send_headers(self, stream: H2Stream, headers: list[Header], end_stream: bool) -> None:
        if stream.closed:
            raise ConnectionResetError("the stream is closed")
        try:
            self._h2.send_headers(stream.id, headers, end_stream=end_stream)
        except ProtocolError as error:
            stream.reset(ErrorCodes.INTERNAL_ERROR)
            raise ConnectionResetError(f"cannot send the answer's head: {error}") from error
        self._flush()

    async def send_data(self, stream: H2Stream, data: bytes, end_stream: bool) -> None:
        view = memoryview(data)
        while True:
            if stream.closed:
                raise ConnectionResetError("the stream is closed")
            try:
                size = min(
                    len(view),
                    self._h2.local_flow_control_window(stream.id),
                    self._h2.max_outbound_frame_size,
                )
                if size == 0 and view:
                    await self._window(stream)
                    continue
                last = size == len(view)
                self._h2.send_data(stream.id, view[:size], end_stream=end_stream and last)
                self._budget.earn(size)
            except ProtocolError as error:
                stream.reset(ErrorCodes.INTERNAL_ERROR)
                raise ConnectionResetError(f"cannot send the answer: {error}") from error
            view = view[size:]
            self._flush()
            if self._paused:
                await self._drain()
            if last:
                return

    def reset(self, stream: H2Stream, code: ErrorCodes) -> None:
        if self._closed:
            return
        try:
            self._h2.reset_stream(stream.id, code)
        except ProtocolError:
            return  # already closed on h2's side
        self._flush()

    def acknowledge(self, stream: H2Stream, size: int) -> None:
        if self._closed or size <= 0:
            return
        try:
            self._h2.acknowledge_received_data(size, stream.id)
        except ProtocolError:
            return
        self._flush()

    def extra_info(self, name: str, default: Any = None) -> Any:
        transport = self._transport
        return transport.get_extra_info(name, default) if transport is not None else default

    # Flow control and writing.

    async def _window(self, stream: H2Stream) -> None:
        waiter = asyncio.get_running_loop().create_future()
        stream.window = waiter
        try:
            await waiter
        finally:
            stream.window = None

    def _wake(self, stream_id: int) -> None:
        if stream_id:
            stream = self._streams.get(stream_id)
            if stream is not None:
                stream.wake()
            return
        for stream in self._streams.values():  # the connection's window, or the settings
            stream.wake()

    async def _drain(self) -> None:
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await self._drained
        if self._closed:
            raise ConnectionResetError("the connection is closed")

    def pause_writing(self) -> None:
        # The client does not read what it is sent: read nothing more from it either, so that
        # frames it sends (PINGs to acknowledge) cannot pile answers up here.
        self._paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self._transport is not None and not self._closed:
            self._transport.resume_reading()

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        transport = self._transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)

    # The connection's end.

    def _arm(self, delay_s: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay_s, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self._streams:
            self._arm(self._limits.idle_timeout_s)
        else:
            self.shutdown()

    def _refuse(self, why: str, code: ErrorCodes | None = None) -> None:
        """Close the connection for ``why``: GOAWAY (``code``, or h2's own), one log line."""
        peer = self.extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "a client"
        self._log.warning(f"closed an HTTP/2 connection from {where}: {why}")
        self.shutdown(code)

    def shutdown(self, code: ErrorCodes | None = ErrorCodes.NO_ERROR) -> None:
        """GOAWAY (unless h2 already queued one: ``code`` None) and close; open requests are
        cancelled as if their client went away."""
        if self._closed:
            return
        if code is not None:
            with contextlib.suppress(ProtocolError):  # h2 already said GOAWAY
                self._h2.close_connection(code)
        self._flush()
        self._closed = True
        self._end_streams("the connection closed")
        if self._transport is not None:
            self._transport.close()

    def eof_received(self) -> bool:
        return False  # the client is done with the connection: close it

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._end_streams("the connection was lost")
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._transport = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def _end_streams(self, why: str) -> None:
        for stream in list(self._streams.values()):
            stream.lost(why)


_CALM = ErrorCodes.ENHANCE_YOUR_CALM

# Frame types (RFC 9113 section 6) and the flags the meter reads.
_DATA, _HEADERS, _WINDOW_UPDATE, _CONTINUATION = 0x0, 0x1, 0x8, 0x9
_END_STREAM, _PADDED = 0x1, 0x8
_FRAME_HEAD = 9
_PREFACE = len(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
_REQUEST_FRAMES = frozenset({_HEADERS, _CONTINUATION})
"""A request's head: bounded by the stream limit and h2's own limits on header blocks."""


class _FrameMeter:
    """Finds, in the bytes a client sends, the frames that carry no request: every frame but
    HEADERS, CONTINUATION and DATA with a payload or END_STREAM. It reads frame headers only
    (and a padded DATA frame's pad length), so a frame cut across two reads counts once."""

    def __init__(self) -> None:
        self._preface = _PREFACE  # the client's preface, checked by h2
        self._head = bytearray()
        self._skip = 0
        """Payload bytes of the current frame not yet seen."""
        self._pad_length_next = False
        """The next byte is a padded DATA frame's pad length: the frame is empty if the
        padding is all of it."""

    def costly(self, data: bytes) -> tuple[int, int]:
        """How many of the frames in ``data`` carry no request: WINDOW_UPDATEs, and others."""
        updates = others = 0
        view = memoryview(data)
        at = min(self._preface, len(view))
        self._preface -= at
        while at < len(view):
            if self._skip:
                if self._pad_length_next:
                    self._pad_length_next = False
                    others += view[at] == self._skip - 1
                step = min(self._skip, len(view) - at)
                self._skip -= step
                at += step
                continue
            take = min(_FRAME_HEAD - len(self._head), len(view) - at)
            self._head += view[at : at + take]
            at += take
            if len(self._head) < _FRAME_HEAD:
                break
            head = self._head
            self._skip = int.from_bytes(head[:3], "big")
            kind, flags = head[3], head[4]
            head.clear()
            if kind == _WINDOW_UPDATE:
                updates += 1
            elif kind == _DATA:
                if not flags & _END_STREAM:
                    if not self._skip:
                        others += 1
                    elif flags & _PADDED:
                        self._pad_length_next = True
            elif kind not in _REQUEST_FRAMES:
                others += 1
        return updates, others


class _Budget:
    """A token bucket over the frames that carry no request; WINDOW_UPDATEs draw first on the
    credit that the answers' DATA frames earn. The credit has no cap (a client receives up to
    its whole window before it acknowledges any): what free WINDOW_UPDATEs cost stays bounded
    by the answers sent."""

    def __init__(self, burst: int, per_s: float) -> None:
        self._bucket = TokenBucket(burst, per_s)
        self._credit = 0.0

    def earn(self, size: int) -> None:
        """A DATA frame of ``size`` bytes was sent: the client may acknowledge it."""
        self._credit += UPDATES_PER_FRAME + size / BYTES_PER_UPDATE

    def allows(self, updates: int, others: int) -> bool:
        """Spend for ``updates`` WINDOW_UPDATEs and ``others`` frames; False once dry."""
        paid = min(updates, int(self._credit))
        self._credit -= paid
        return all(self._bucket.take() for _ in range(updates - paid + others))


def _content_length(headers: list[Header]) -> int | None:
    """The request's declared body length (h2 checks the body against it)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class _Refusal:
    """The handler of a request refused before the gateway sees it (as the gateway's HTTP/1.1
    server answers an oversized head: JSON, and not in the request ring)."""

    def __init__(self, status: int, why: str) -> None:
        self._status = status
        self._why = why

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        return web.json_response({"error": f"refused: {self._why}"}, status=self._status)
