"""The egress guard: a loopback HTTP proxy that refuses every request and records its target.

An isolated drill (embedded, localstack) sets ``HTTP_PROXY`` / ``HTTPS_PROXY`` of the app and
of every probe to this proxy, and ``NO_PROXY`` to loopback. Calls to the gateway (loopback) go
direct; anything else, such as an SDK that ignores ``AWS_ENDPOINT_URL`` or code that passes
its own endpoint, reaches this proxy instead of the network, gets ``403`` (fail closed), and is
recorded by host, port and who asked (DESIGN.md "Isolation"). Nothing is ever forwarded.

A target is recorded as host and port apart: a name in lower case, an IPv6 literal without
its brackets and in its one canonical spelling (RFC 5952: ``[2001:DB8:0::1]`` is
``2001:db8::1``, an IPv4-mapped one ``::ffff:192.0.2.1``), so that one address is one target
however a client wrote it; the reports put the brackets back (``[2001:db8::1]:443``). A target
that is neither a name nor a bracketed IPv6 address (an unclosed bracket, a zone ID, a bare
``::1``, a port outside 1-65535) is answered 400 and counted in ``dropped``.

>>> with EgressGuard(now=clock) as guard:
...     env["HTTPS_PROXY"] = guard.proxy_url("app")   # http://app:gameday@127.0.0.1:PORT
...     guard.attempts()                               # [EgressRecord(host='sts...', ...)]
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ipaddress
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from gameday.errors import EnvironmentFailure
from gameday.result import EgressRecord

HEAD_LIMIT_BYTES = 16 * 1024
"""A request head past this is refused unread: a proxy request needs a line and a few
headers."""
HEAD_TIMEOUT_S = 5.0
"""A client that sends no complete head within this is dropped."""
DRAIN_LIMIT_BYTES = 64 * 1024
DRAIN_TIMEOUT_S = 1.0
"""After the refusal, a request body is read and dropped for at most this long: closing with
unread data would reset the connection and hide the 403 from the client."""
MAX_CONNECTIONS = 128
"""Connections served at once (and the listen backlog); more are closed unanswered, each
counted as dropped."""
MAX_TARGETS = 256
"""Distinct (host, port, source) kept; attempts past it are counted in ``dropped``."""
LABELS = frozenset({"app", "probe"})
"""Who may say who they are, as the user name of the proxy URL (Proxy-Authorization)."""

_AUTHORITY = re.compile(
    r"(?:\[(?P<literal>[0-9A-Fa-f:.]{2,45})\]|(?P<name>[A-Za-z0-9._-]{1,253}))"
    r"(?::(?P<port>[0-9]{0,5}))?"
)
"""``host[:port]``: a name (or dotted IPv4), or an IPv6 literal in brackets (RFC 3986), with no
zone ID: a link-local scope means nothing to a proxy, so ``[fe80::1%25eth0]`` is malformed."""
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
"""The scheme of an absolute-form target; an origin-form one starts with ``/``."""
_AUTHORITY_END = re.compile(r"[/?#]")
_REFUSAL = (
    "gameday refused this connection: an isolated drill reaches only loopback (the gateway);\n"
    "point the SDK at AWS_ENDPOINT_URL instead of a real endpoint.\n"
)


@dataclass
class _Tally:
    attempts: int
    first_at: float


def _target(method: str, target: str, host_header: str) -> tuple[str, int] | None:
    """(host, port) a proxy request asks for: CONNECT's authority, an absolute URI, or Host."""
    if method == "CONNECT":
        return _authority(target, 443)
    absolute = _ABSOLUTE.match(target)
    if absolute is None:
        return _authority(host_header, 80)
    rest = target[absolute.end() :]
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0].rpartition("@")[2]
    return _authority(authority, 443 if absolute.group(1).lower() == "https" else 80)


def _authority(text: str, default_port: int) -> tuple[str, int] | None:
    """(host, port) of ``host[:port]`` or ``[IPv6]:port``; None when it is neither."""
    found = _AUTHORITY.fullmatch(text)
    if found is None:
        return None
    port = int(found["port"]) if found["port"] else default_port
    if not 0 < port < 65536:
        return None
    if found["name"] is not None:
        return found["name"].lower(), port
    try:
        address = ipaddress.IPv6Address(found["literal"])
    except ValueError:  # IPvFuture, a bracketed IPv4 or no address at all
        return None
    # One spelling per address (RFC 5952), whichever the client used; str() of a mapped
    # address differs between Python versions, so the dotted tail is written here.
    mapped = address.ipv4_mapped
    return (f"::ffff:{mapped}" if mapped is not None else address.compressed), port


def _label(authorization: str) -> str:
    """The user name of a ``Basic`` Proxy-Authorization, when it is one of ``LABELS``."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        user = base64.b64decode(encoded.strip(), validate=True).decode("ascii").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return user if user in LABELS else ""


def _parse(head: bytes) -> tuple[str, tuple[str, int] | None, str, int]:
    """(method, target or None, label, body length) of a request head."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rpartition(" ")[0] or rest
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    try:
        length = max(0, int(headers.get("content-length", "0")))
    except ValueError:
        length = 0
    where = _target(method.upper(), target, headers.get("host", ""))
    return method.upper(), where, _label(headers.get("proxy-authorization", "")), length


class EgressGuard:
    """The refusing proxy, in a background thread with its own event loop.

    ``now`` is the run clock (offsets of the first attempts); ``attempts()`` may be read from
    any thread. Stopping closes the listener and every connection, and joins the thread.
    """

    def __init__(self, *, now: Callable[[], float], host: str = "127.0.0.1") -> None:
        self._now = now
        self._host = host
        self._port: int | None = None
        self._lock = threading.Lock()
        self._tallies: dict[tuple[str, int, str], _Tally] = {}
        self.dropped = 0
        """Attempts not kept by target: past MAX_TARGETS, MAX_CONNECTIONS, or unreadable."""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._connections: set[socket.socket] = set()

    @property
    def port(self) -> int:
        """The port it listens on, once started."""
        if self._port is None:
            raise RuntimeError("the egress guard is not running: use it as a context manager")
        return self._port

    def proxy_url(self, label: str) -> str:
        """``http://<label>:gameday@127.0.0.1:<port>``: clients send the label as the proxy
        user, so that an attempt names who made it (``app`` or ``probe``). The password is
        no secret: botocore sends Proxy-Authorization only when a URL has both parts."""
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        return f"http://{label}:gameday@{self._host}:{self.port}"

    def attempts(self) -> list[EgressRecord]:
        """Every refused target so far, first attempted first."""
        with self._lock:
            items = sorted(self._tallies.items(), key=lambda item: item[1].first_at)
            return [
                EgressRecord(
                    host=host,
                    port=port,
                    source=source,
                    attempts=tally.attempts,
                    first_at=round(tally.first_at, 6),
                )
                for (host, port, source), tally in items
            ]

    def _record(self, where: tuple[str, int] | None, label: str) -> None:
        with self._lock:
            if where is None:
                self.dropped += 1
                return
            key = (*where, label)
            tally = self._tallies.get(key)
            if tally is not None:
                tally.attempts += 1
            elif len(self._tallies) >= MAX_TARGETS:
                self.dropped += 1
            else:
                self._tallies[key] = _Tally(attempts=1, first_at=self._now())

    def start(self, timeout_s: float = 5.0) -> None:
        """Listen on a free loopback port; EnvironmentFailure when it cannot."""
        if self._thread is not None:
            raise RuntimeError("the egress guard is already running")
        self._thread = threading.Thread(target=self._run, name="gameday-egress", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            self.stop()
            raise EnvironmentFailure(
                f"the egress guard could not listen on {self._host}: {self._error or 'timeout'}"
            )

    def stop(self) -> None:
        """Close the listener and every open connection, and join the thread; idempotent."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> EgressGuard:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self._host, 0))
            listener.listen(MAX_CONNECTIONS)
            listener.setblocking(False)
        except OSError as error:  # reported by start() in the caller's thread
            listener.close()
            self._error = error
            self._ready.set()
            return
        self._port = int(listener.getsockname()[1])
        self._ready.set()
        # Accepted here rather than by asyncio.start_server, so that every socket is known
        # from its first moment and closed on stop, even one whose handler never started.
        loop = asyncio.get_running_loop()
        loop.add_reader(listener.fileno(), self._accept_ready, listener)
        try:
            await self._stop.wait()
        finally:
            loop.remove_reader(listener.fileno())
            listener.close()
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            for connection in list(self._connections):
                connection.close()
            self._connections.clear()

    def _accept_ready(self, listener: socket.socket) -> None:
        """Accept what the listener holds; each connection gets its handler task."""
        for _ in range(MAX_CONNECTIONS):
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors: the next readiness tries again
                return
            if len(self._connections) >= MAX_CONNECTIONS:
                self._record(None, "")
                connection.close()
                continue
            connection.setblocking(False)
            self._connections.add(connection)
            task = asyncio.get_running_loop().create_task(self._serve_one(connection))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

    async def _serve_one(self, connection: socket.socket) -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=connection, limit=HEAD_LIMIT_BYTES)
            await self._refuse(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass  # a client that went away or sent no proper head: nothing to answer
        finally:
            if writer is not None:
                writer.transport.abort()
            self._connections.discard(connection)
            connection.close()

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            self._record(None, "")
            raise
        except asyncio.IncompleteReadError as error:
            if error.partial:  # half a request; a connection that said nothing is no attempt
                self._record(None, "")
            raise
        method, where, label, length = _parse(head)
        self._record(where, label)
        status = "403 Forbidden" if where is not None else "400 Bad Request"
        body = _REFUSAL.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await asyncio.wait_for(writer.drain(), HEAD_TIMEOUT_S)
        if method != "CONNECT" and length:
            with contextlib.suppress(TimeoutError, asyncio.IncompleteReadError):
                await asyncio.wait_for(
                    reader.readexactly(min(length, DRAIN_LIMIT_BYTES)), DRAIN_TIMEOUT_S
                )
        # A graceful close sends what is buffered; ``_serve_one`` aborts whatever is left.
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), DRAIN_TIMEOUT_S)
