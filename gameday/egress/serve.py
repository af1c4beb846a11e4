"""``gameday egress``: make the run's CA, serve the proxy until SIGINT or SIGTERM; and
``EgressThread``, the same proxy in a thread of the runner (``egress.start``)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from gameday.egress.ca import CertificateAuthority
from gameday.egress.proxy import PLACEHOLDER_UPSTREAM, EgressCore, parse_route
from gameday.egress.truststore import TRUSTSTORE_NAME, java_tool_options
from gameday.errors import InvalidInputError
from gameday.gateway.process import serve_until_signal
from gameday.gateway.server import TOKEN_ENV, GatewayCore
from gameday.gateway.thread import Gateway
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
    *,
    deny_destructive: bool = False,
) -> None:
    """Serve until a signal; prints one line with the proxy's URL once it is ready.

    Only loopback: a CONNECT proxy on a wider address is an open relay into the account's
    AWS traffic, whatever the admin token (a sidecar shares the app's loopback).
    ``deny_destructive``: refuse every destructive call while it runs, which decrypts every
    AWS host while it runs.
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
    core = EgressCore(
        authority,
        routes=parsed,
        route_ca=route_ca,
        token=token,
        deny_destructive=deny_destructive,
    )
    ready = functools.partial(_ready_line, core)
    asyncio.run(serve_until_signal(core, host, port, "the egress proxy", ready))


def _ready_line(core: EgressCore, host: str, port: int) -> str:
    url = f"http://{host}:{port}"
    bundle = core.authority.bundle_path
    java = java_tool_options(core.authority.directory / TRUSTSTORE_NAME, host, port)
    denying = ""
    if core.ledger.always_deny:
        denying = "; destructive calls are refused (every AWS host is decrypted)"
    return (
        f"gameday egress listening on {url}; trust {bundle}{denying}\n"
        f"  HTTPS_PROXY={url} AWS_CA_BUNDLE={bundle} NO_PROXY={NO_PROXY}\n"
        f"  NODE_EXTRA_CA_CERTS={bundle} JAVA_TOOL_OPTIONS='{java}'"
    )


class EgressThread(Gateway):
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
        deny_destructive: bool = False,
    ) -> None:
        super().__init__(PLACEHOLDER_UPSTREAM, token=token, deny_destructive=deny_destructive)
        self.ca_dir = ca_dir
        self._authority = CertificateAuthority.create(ca_dir, valid_hours=valid_hours)
        self._routes = [parse_route(route) for route in routes]
        self._route_ca = route_ca

    def make_core(self) -> GatewayCore:
        return EgressCore(
            self._authority,
            routes=self._routes,
            route_ca=self._route_ca,
            token=self._token,
            deny_destructive=self._deny_destructive,
        )
