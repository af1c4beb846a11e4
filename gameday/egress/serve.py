"""``gameday egress``: make the run's CA, serve the proxy until SIGINT or SIGTERM; and
``EgressThread``, the same proxy in a thread of the runner (``egress.start``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from gameday.egress.ca import CertificateAuthority
from gameday.egress.proxy import EgressCore, parse_route
from gameday.egress.truststore import TRUSTSTORE_NAME, java_tool_options
from gameday.errors import EnvironmentFailure, InvalidInputError
from gameday.gateway.server import TOKEN_ENV
from gameday.listen import is_loopback, parse_listen

DEFAULT_LISTEN = "127.0.0.1:4580"
NO_PROXY = "169.254.169.254,169.254.170.2,169.254.170.23"
"""Instance metadata, ECS task credentials and EKS Pod Identity stay direct: the app's own
credentials keep working whatever the proxy does."""


def app_variables(proxy_url: str, ca_dir: Path) -> dict[str, str]:
    """What an app's environment needs to reach AWS through the proxy at ``proxy_url``."""
    bundle = str(ca_dir / "ca-bundle.pem")
    address = urlsplit(proxy_url)
    java = java_tool_options(ca_dir / TRUSTSTORE_NAME, address.hostname or "", address.port or 0)
    return {
        "JAVA_TOOL_OPTIONS": java,
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "AWS_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": bundle,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
    }


def run_egress(
    ca_dir: Path,
    listen: str = DEFAULT_LISTEN,
    token: str | None = None,
    routes: Sequence[str] = (),
    route_ca: Path | None = None,
    valid_hours: float = 12.0,
) -> None:
    """Serve until a signal; prints one line with the proxy's URL once it is ready.

    Only loopback: a CONNECT proxy on a wider address is an open relay into the account's
    AWS traffic, whatever the admin token (a sidecar shares the app's loopback).
    """
    host, port = parse_listen(listen, "--listen", DEFAULT_LISTEN)
    if not is_loopback(host):
        raise InvalidInputError(
            f"--listen {listen}: the egress proxy listens on loopback only ({host} is not)",
            hint="run it beside the app (a sidecar shares its loopback): --listen 127.0.0.1:PORT",
        )
    parsed = [parse_route(route) for route in routes]
    if route_ca is not None and not route_ca.is_file():
        raise InvalidInputError(f"--route-ca {route_ca}: no such file")
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    try:
        authority = CertificateAuthority.create(ca_dir, valid_hours=valid_hours)
    except OSError as error:
        raise InvalidInputError(
            f"--ca-dir {ca_dir}: cannot write the run's CA there: {error.strerror or error}",
            hint="give a folder this user can create and write (it is made 0700)",
        ) from error
    core = EgressCore(authority, routes=parsed, route_ca=route_ca, token=token)
    asyncio.run(_serve_until_signal(core, host, port))


async def _serve_until_signal(core: EgressCore, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            bound_host, bound_port = await core.start(host, port)
        except OSError as error:
            raise EnvironmentFailure(
                f"the egress proxy could not listen on {host}:{port}: {error}",
                hint="pick another port with --listen HOST:PORT",
            ) from error
        gc.freeze()  # as the gateway does: long-lived objects out of the collector's walk
        url = f"http://{bound_host}:{bound_port}"
        truststore = core.authority.directory / TRUSTSTORE_NAME
        print(
            f"gameday egress listening on {url}; trust {core.authority.bundle_path}\n"
            f"  HTTPS_PROXY={url} AWS_CA_BUNDLE={core.authority.bundle_path} NO_PROXY={NO_PROXY}\n"
            f"  NODE_EXTRA_CA_CERTS={core.authority.bundle_path} JAVA_TOOL_OPTIONS='"
            f"{java_tool_options(truststore, bound_host, bound_port)}'",
            flush=True,
        )
        await stop.wait()
    finally:
        await core.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


class EgressThread:
    """The egress proxy served from a thread of the runner, on loopback; it stops with the
    runner, so an app started behind it (``egress.start``) never outlives it.

    >>> with EgressThread(workdir / "egress-ca", token=token) as proxy:
    ...     env.update(app_variables(proxy.url, proxy.ca_dir))
    """

    def __init__(
        self,
        ca_dir: Path,
        *,
        token: str,
        routes: Sequence[str] = (),
        route_ca: Path | None = None,
        valid_hours: float = 12.0,
    ) -> None:
        self.ca_dir = ca_dir
        self._core = EgressCore(
            CertificateAuthority.create(ca_dir, valid_hours=valid_hours),
            routes=[parse_route(route) for route in routes],
            route_ca=route_ca,
            token=token,
        )
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gameday-egress", daemon=True)

    def __enter__(self) -> EgressThread:
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            self.__exit__(None, None, None)
            raise EnvironmentFailure(f"the egress proxy could not start: {self._error}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            host, port = await self._core.start("127.0.0.1", 0)
        except Exception as error:  # reported by __enter__ in the caller's thread
            self._error = error
            await self._core.close()
            self._ready.set()
            return
        self.url = f"http://{host}:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._core.close()
