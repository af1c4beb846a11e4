"""The embedded AWS emulator: moto's server on a free loopback port, in this process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Emulator:
    """A running emulator and the endpoint URL that reaches it."""

    url: str
    host: str
    port: int


_POLL_INTERVAL_S = 0.05
"""How often the server loop looks for a shutdown request. moto's ThreadedMotoServer keeps
werkzeug's 0.5 s, which adds up to half a second to the end of every run."""


@contextmanager
def running_emulator(host: str = "127.0.0.1") -> Iterator[Emulator]:
    """Start moto's server on ``host`` and a port the OS picks; stop it on exit.

    This is moto's ThreadedMotoServer (moto.moto_server.threaded_moto_server) with a shorter
    shutdown poll: the same WSGI application and request handler, served from a thread.

    >>> with running_emulator() as emulator:
    ...     boto3.client("sts", endpoint_url=emulator.url).get_caller_identity()
    """
    # Lazy: moto takes ~0.5 s to import (its werkzeug server ~30 ms more); only the embedded
    # environment starts it, and localstack runs import this module through embedded.
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    # werkzeug logs every request at INFO; a drill makes thousands of them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Port 0 and reading the bound port back: binding, closing and re-binding races.
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": _POLL_INTERVAL_S},
        name="gameday-emulator",
        daemon=True,
    )
    thread.start()
    try:
        bound_host, port = str(server.server_address[0]), int(server.server_address[1])
        yield Emulator(url=f"http://{bound_host}:{port}", host=bound_host, port=port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
