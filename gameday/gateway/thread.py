"""``Gateway``: a ``GatewayCore`` served from a background thread with its own event loop, for
the engine and tests, which drive it from synchronous code."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Self

from gameday.errors import EnvironmentFailure
from gameday.gateway.guard import ServerLimits
from gameday.gateway.server import GatewayCore
from gameday.gateway.upstream import normalize_upstream


def http_url(host: str, port: int) -> str:
    """The URL of a server bound to host:port (an IPv6 host in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Gateway:
    """A gateway in a background thread with its own event loop, for the engine and tests.

    >>> with Gateway(emulator.url, seed=1) as gateway:
    ...     GatewayClient(gateway.url).add(spec)
    """

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        seed: int | None = None,
        limits: ServerLimits | None = None,
        deny_destructive: bool = False,
        probe_keys: frozenset[str] = frozenset(),
        default_region: str | None = None,
    ) -> None:
        """``probe_keys``: the access key ids of gameday's own probes; ``default_region``: the
        region of requests that name none (both ``GatewayCore``)."""
        self.upstream = normalize_upstream(upstream)
        self._limits = limits
        self._deny_destructive = deny_destructive
        self._probe_keys = probe_keys
        self._default_region = default_region
        self._host = host
        self._port = port
        self._token = token
        self._seed = seed
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._core: GatewayCore | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running gateway."""
        if self._url is None:
            raise RuntimeError("the gateway is not running: use it as a context manager")
        return self._url

    @property
    def open_connections(self) -> int:
        """Client connections open now (read across threads: a snapshot)."""
        return self._core.open_connections if self._core is not None else 0

    def start(self, timeout_s: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("the gateway is already running")
        self._thread = threading.Thread(target=self._run, name="gameday-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise EnvironmentFailure(f"the gateway did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise EnvironmentFailure(
                f"the gateway could not start on {self._host}:{self._port}: {self._error}",
                hint="pick another port, or let it choose one with port=0",
            ) from self._error

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join()
        self._thread = None
        self._url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def make_core(self) -> GatewayCore:
        """The server this thread runs, made inside its loop (the egress proxy's thread
        makes an ``EgressCore``)."""
        return GatewayCore(
            self.upstream,
            token=self._token,
            seed=self._seed,
            limits=self._limits,
            deny_destructive=self._deny_destructive,
            probe_keys=self._probe_keys,
            default_region=self._default_region,
        )

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        core = self._core = self.make_core()
        try:
            host, port = await core.start(self._host, self._port)
        except Exception as error:  # reported by start() in the caller's thread
            self._error = error
            await core.close()
            self._ready.set()
            return
        self._url = http_url(host, port)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await core.close()
