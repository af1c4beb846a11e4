"""``python -m gameday.demo [--listen HOST:PORT] [--port-file PATH]``: run the demo service.

It binds (port 0: the OS picks), writes its base URL to ``--port-file`` (atomically) and prints
``gameday-demo listening on URL``, then serves until SIGTERM or SIGINT, after which it flushes
what it can and exits 0 within 2 s. Configuration: ``GAMEDAY_DEMO_*`` (gameday.demo.config).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from gameday.demo.app import build_app
from gameday.demo.config import DemoConfig, DemoConfigError
from gameday.demo.logs import configure_logging, fields
from gameday.demo.service import DemoService

log = logging.getLogger("gameday.demo")

EXIT_OK = 0
EXIT_CANNOT_SERVE = 1
EXIT_USAGE = 2

# In-flight requests get this long after SIGTERM; the rest of the 2 s goes to the audit flush.
_DRAIN_S = 0.3


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:0)")
    return host, int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gameday.demo", description=__doc__)
    parser.add_argument(
        "--listen",
        type=_listen_address,
        default=("127.0.0.1", 0),
        metavar="HOST:PORT",
        help="address to bind; port 0 lets the OS pick (default 127.0.0.1:0)",
    )
    parser.add_argument(
        "--port-file", type=Path, metavar="PATH", help="write the base URL here once bound"
    )
    return parser


def _write_port_file(path: Path, url: str) -> None:
    # A reader polling for the file sees nothing or the whole URL, never half of it.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(url + "\n")
    os.replace(temporary, path)


def _base_url(host: str, runner: web.AppRunner) -> str:
    bound = runner.addresses[0]
    port = int(bound[1])
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(config: DemoConfig, host: str, port: int, port_file: Path | None) -> int:
    """Serve until SIGTERM or SIGINT; the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    service = await DemoService.create(config)
    runner = web.AppRunner(build_app(service), access_log=None, shutdown_timeout=_DRAIN_S)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        url = _base_url(host, runner)
        if port_file is not None:
            _write_port_file(port_file, url)
    except OSError as error:
        log.error("cannot serve", extra=fields(listen=f"{host}:{port}", error=str(error)))
        await runner.cleanup()
        await service.stop()
        return EXIT_CANNOT_SERVE
    print(f"gameday-demo listening on {url}", flush=True)
    log.info("listening", extra=fields(url=url, config=_describe(config)))
    await service.start()
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    await service.stop()
    log.info("stopped")
    return EXIT_OK


def _describe(config: DemoConfig) -> dict[str, object]:
    return {
        "regions": list(config.regions),
        "cache_credentials": config.cache_credentials,
        "log_spool": config.log_spool,
        "image_cache": config.image_cache,
        "failover_region": config.failover_region,
        "alerts": config.alert_url is not None,
        "alert_topic": config.alert_topic_arn,
        "alert_fallback": config.alert_fallback,
        "self_heal": config.self_heal.value,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        config = DemoConfig.from_env(os.environ)
    except DemoConfigError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return EXIT_USAGE
    host, port = args.listen
    return asyncio.run(serve(config, host, port, args.port_file))


if __name__ == "__main__":
    sys.exit(main())
