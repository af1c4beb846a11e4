"""The embedded AWS emulator: moto's server on a free loopback port, in this process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Emulator:
    """A running emulator and the endpoint URL that reaches it."""

    url: str
    host: str
    port: int


@contextmanager
def running_emulator(host: str = "127.0.0.1") -> Iterator[Emulator]:
    """Start moto's server on ``host`` and a port the OS picks; stop it on exit.

    >>> with running_emulator() as emulator:
    ...     boto3.client("sts", endpoint_url=emulator.url).get_caller_identity()
    """
    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO; a drill makes thousands of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Port 0 and reading the bound port back: binding, closing and re-binding races.
    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield Emulator(url=f"http://{bound_host}:{port}", host=bound_host, port=port)
    finally:
        server.stop()
