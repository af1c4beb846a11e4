"""The gateway as a process of its own: ``gameday gateway`` (``run_gateway``) and
``python -m gameday.gateway.process``, served until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Callable

from gameday.errors import EnvironmentFailure, GameDayError, InvalidInputError
from gameday.gateway.server import DEFAULT_LISTEN, TOKEN_ENV, GatewayCore
from gameday.gateway.thread import http_url
from gameday.listen import is_loopback, parse_listen
from gameday.scenario.base import check_region


def run_gateway(
    upstream: str,
    listen: str = DEFAULT_LISTEN,
    token: str | None = None,
    seed: int | None = None,
    *,
    allow_unauthenticated: bool = False,
    deny_destructive: bool = False,
    region: str | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly: ``gameday gateway``.

    ``deny_destructive``: answer every destructive call AccessDenied while it runs.
    ``region``: the region of requests that name none (``GatewayCore.default_region``);
    InvalidInputError when botocore knows no such region.

    The token defaults to ``$GAMEDAY_GATEWAY_TOKEN``. Listening beyond loopback without a
    token is refused (InvalidInputError) unless ``allow_unauthenticated``: anyone who reaches
    the port could then inject faults. Prints one line with the URL it listens on once it is
    ready (a script or test can read the port from it when it asked for 0).
    """
    host, port = parse_listen(listen, "--listen", "127.0.0.1:4567")
    if region is not None:
        try:
            check_region(region)
        except ValueError as error:
            raise InvalidInputError(f"--region: {error}", hint="e.g. --region us-east-1") from None
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host):
        if not token and not allow_unauthenticated:
            raise InvalidInputError(
                f"--listen {listen}: the gateway would listen beyond this machine ({host}) "
                "without a token, and anyone who reaches it could inject faults",
                hint=f"set {TOKEN_ENV} (or --token), listen on 127.0.0.1, or add "
                "--allow-unauthenticated if that is really meant",
            )
        if token:
            detail = "its admin API needs the token; its data path is open to anyone"
        else:
            detail = "anyone who reaches it can inject faults (--allow-unauthenticated)"
        print(
            f"warning: the gateway listens on {host}, beyond this machine: {detail}",
            file=sys.stderr,
            flush=True,
        )
    core = GatewayCore(
        upstream, token=token, seed=seed, deny_destructive=deny_destructive, default_region=region
    )

    def ready(bound_host: str, bound_port: int) -> str:
        denying = "; destructive calls are refused" if deny_destructive else ""
        regionless = f"; requests that name no region are in {region}" if region else ""
        return (
            f"gameday gateway listening on {http_url(bound_host, bound_port)}, "
            f"forwarding to {core.upstream}{regionless}{denying}"
        )

    asyncio.run(serve_until_signal(core, host, port, "the gateway", ready))


async def serve_until_signal(
    core: GatewayCore,
    host: str,
    port: int,
    what: str,
    ready: Callable[[str, int], str],
) -> None:
    """Serve ``core`` on host:port until SIGINT or SIGTERM, then close it; once listening,
    print ``ready(bound host, bound port)``. EnvironmentFailure naming ``what`` when the
    address cannot be bound."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            bound_host, bound_port = await core.start(host, port)
        except OSError as error:
            raise EnvironmentFailure(
                f"{what} could not listen on {host}:{port}: {error}",
                hint="pick another port with --listen HOST:PORT",
            ) from error
        # Everything built so far (modules, model indexes) lives as long as the process: out
        # of the collector's sight, a full collection no longer walks it (about 7 ms measured,
        # more than the whole p99 budget of a forwarded call).
        gc.freeze()
        print(ready(bound_host, bound_port), flush=True)
        await stop.wait()
    finally:
        await core.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def main(argv: list[str] | None = None) -> int:
    """``python -m gameday.gateway.process``: the same as ``gameday gateway``, without typer."""
    parser = argparse.ArgumentParser(prog="python -m gameday.gateway.process")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--listen", default=DEFAULT_LISTEN)
    parser.add_argument("--token", default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--allow-unauthenticated", action="store_true")
    parser.add_argument("--deny-destructive", action="store_true")
    parser.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    try:
        run_gateway(
            args.upstream,
            args.listen,
            args.token,
            args.seed,
            allow_unauthenticated=args.allow_unauthenticated,
            deny_destructive=args.deny_destructive,
            region=args.region,
        )
    except GameDayError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return int(error.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
