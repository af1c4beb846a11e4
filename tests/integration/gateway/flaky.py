"""A loopback TCP stand-in in front of a real server that misbehaves on cue, connection by
connection: drops it, answers 503, or forwards the bytes both ways."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

DROP = "drop"
"""Read the request, then close the connection without a byte of answer."""
UNAVAILABLE = "503"
"""Read the request, answer 503 with a JSON error, close."""
FORWARD = "forward"

_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b'Content-Length: 26\r\nConnection: close\r\n\r\n{"error": "warming up..."}'
)


class FlakyProxy:
    """Serves ``script[n]`` to the n-th connection (then FORWARD); records what it did."""

    def __init__(self, upstream: tuple[str, int], script: list[str]) -> None:
        self.upstream = upstream
        self.script = list(script)
        self.served: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so that close() is seen by the accept loop
        host, port = self._listener.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            action = self.script.pop(0) if self.script else FORWARD
            self.served.append(action)
            threading.Thread(target=self._serve, args=(conn, action), daemon=True).start()

    def _serve(self, conn: socket.socket, action: str) -> None:
        with conn:
            if action == FORWARD:
                self._forward(conn)
                return
            conn.recv(65536)  # the request (admin requests are small)
            if action == UNAVAILABLE:
                conn.sendall(_503)

    def _forward(self, conn: socket.socket) -> None:
        with socket.create_connection(self.upstream, timeout=5) as upstream:

            def pump(source: socket.socket, sink: socket.socket) -> None:
                # Either side going away ends the pump; the test reads what the client got.
                with suppress(OSError):
                    while chunk := source.recv(65536):
                        sink.sendall(chunk)
                with suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
            back.start()
            pump(conn, upstream)
            back.join(timeout=5)

    def start(self) -> FlakyProxy:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)
        self._listener.close()


@contextmanager
def flaky_proxy(upstream: tuple[str, int], script: list[str]) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream, script).start()
    try:
        yield proxy
    finally:
        proxy.close()
