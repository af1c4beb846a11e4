"""Writing to the gateway's client: the upstream's answer relayed as it is, the interim
"100 Continue", and a connection cut with a TCP reset."""

from __future__ import annotations

import contextlib
import socket
import struct

import aiohttp
from aiohttp import web

from gameday.gateway.upstream import UpstreamError, UpstreamResponse

# Answers up to this size are read whole and sent on in one write; larger ones are streamed.
_SMALL_RESPONSE = 256 * 1024

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never relayed.
_RESPONSE_DROP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
     b"transfer-encoding", b"upgrade"}
)  # fmt: skip
# A whole body gets its own Content-Length (the same number).
_SMALL_RESPONSE_DROP = _RESPONSE_DROP | {b"content-length"}


async def relay(request: web.BaseRequest, upstream: UpstreamResponse) -> web.StreamResponse:
    """The upstream's answer to the client: status, headers and body bytes as they are."""
    length = upstream.content_length
    if length is not None and length <= _SMALL_RESPONSE and request.method != "HEAD":
        body = await upstream.read()
        if request.version == aiohttp.HttpVersion11 and request.keep_alive:
            return _WholeAnswer(upstream, body)
        headers = _str_headers(upstream, _SMALL_RESPONSE_DROP)
        return web.Response(status=upstream.status, reason=_reason(upstream), headers=headers,
                            body=body)  # fmt: skip
    streamed = web.StreamResponse(
        status=upstream.status,
        reason=_reason(upstream),
        headers=_str_headers(upstream, _RESPONSE_DROP),
    )
    await streamed.prepare(request)
    try:
        while chunk := await upstream.next_chunk():
            await streamed.write(chunk)
    except UpstreamError:
        # The upstream broke off mid-answer; the status line is already sent, so the only
        # honest signal left is to cut the client's connection too.
        reset_connection(request)
        return streamed
    except ConnectionError:
        return streamed  # the client went away mid-answer; nothing is left to tell it
    await streamed.write_eof()
    return streamed


class _WholeAnswer(web.StreamResponse):
    """A small upstream answer sent on as one write of the upstream's own header bytes.

    The common case on the request path: it skips aiohttp's header map and serializer (which
    would also add a Server and a default Content-Type), and passes header bytes unchanged.
    For HTTP/1.1 keep-alive clients only; aiohttp frames every other case.
    """

    def __init__(self, upstream: UpstreamResponse, body: bytes) -> None:
        super().__init__(status=upstream.status)
        parts = [b"HTTP/1.1 %d %s\r\n" % (upstream.status, upstream.reason)]
        for name, value in upstream.headers:
            if name.lower() not in _SMALL_RESPONSE_DROP:
                parts += (name, b": ", value, b"\r\n")
        parts += (b"Content-Length: %d\r\n\r\n" % len(body), body)
        self._raw = b"".join(parts)
        self._keep_alive = True  # aiohttp reads this after the answer to keep the connection

    async def prepare(self, request: web.BaseRequest) -> None:
        if not self.prepared:
            await request.writer.write(self._raw)
            self._eof_sent = True

    async def write_eof(self, data: bytes = b"") -> None:
        return None


def _str_headers(upstream: UpstreamResponse, drop: frozenset[bytes]) -> list[tuple[str, str]]:
    # aiohttp serializes headers as UTF-8: bytes that are not UTF-8 cannot pass unchanged here.
    return [
        (name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        for name, value in upstream.headers
        if name.lower() not in drop
    ]


def _reason(upstream: UpstreamResponse) -> str | None:
    return upstream.reason.decode("latin-1") or None


async def send_continue(request: web.BaseRequest) -> None:
    """Send the interim "100 Continue" a client that sent ``Expect: 100-continue`` waits for."""
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    # The interim answer is not part of the response that follows.
    request.writer.output_size = 0


def reset_connection(request: web.BaseRequest) -> None:
    """Close the client's connection at once with a TCP reset, not an orderly close."""
    transport = request.transport
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER with a zero timeout makes close() send RST: the "connection reset by
        # peer" that a crashed load balancer gives, which SDKs report as a closed connection.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
