"""HTTP/2 request trailers through the real proxy subprocess: the HTTP/1.1 leg upstream cannot
carry them, so the request is refused with 501 and never completed upstream (an S3 upload
whose checksum trailer was dropped must not be stored), with or without a Content-Length.
A raw h2 client sends them: httpx has no way to."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import h2.events
import pytest
from h2.connection import H2Connection

from gameday.gateway.client import GatewayClient
from tests.egress_support import (
    RecordedSetup,
    egress_setup,
    fault,
    h2_client,
    h2_tunnel,
    signed_headers,
)

S3_HOST = "s3.us-east-1.amazonaws.com"
BUCKET = "h2-trailers"
BODY = bytes(range(256)) * 1200
"""300 kB: past the gateway's 256 kB, so it streams the body upstream as it comes."""
FORWARDING_S = 0.5
"""Time for the gateway to pass on all it was given: a body it completed upstream would be
stored, and answered 200, within it."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[RecordedSetup]:
    with egress_setup(tmp_path_factory.mktemp("egress-h2-trailers"), moto_url) as proxy:
        yield proxy


def _head(method: str, path: str, body: bytes, length: bool) -> list[tuple[str, str]]:
    url = f"https://{S3_HOST}{path}"
    head = [(":method", method), (":scheme", "https"), (":authority", S3_HOST), (":path", path)]
    head += [(k.lower(), v) for k, v in signed_headers(method, url, body, "s3").items()]
    return [*head, ("content-length", str(len(body)))] if length else head


class _Exchange:
    """A raw h2 client on a decrypted tunnel, reading as it sends."""

    def __init__(self, tls: ssl.SSLSocket) -> None:
        self.tls = tls
        self.h2: H2Connection = h2_client(tls)
        self.answers: dict[int, tuple[int, bytearray, bool]] = {}

    def read(self) -> None:
        data = self.tls.recv(65536)
        assert data, "the proxy closed the connection"
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = int(dict(event.headers)[b":status"])
                self.answers[event.stream_id] = (status, bytearray(), False)
            elif isinstance(event, h2.events.DataReceived):
                self.answers[event.stream_id][1].extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                status, body, _ = self.answers[event.stream_id]
                self.answers[event.stream_id] = (status, body, True)
        self.flush()

    def flush(self) -> None:
        self.tls.sendall(self.h2.data_to_send())

    def send(self, stream_id: int, body: bytes) -> None:
        """``body`` on ``stream_id`` as the windows allow, without ending the stream."""
        sent = 0
        while sent < len(body):
            size = min(
                self.h2.local_flow_control_window(stream_id),
                self.h2.max_outbound_frame_size,
                len(body) - sent,
            )
            if size == 0:
                self.flush()
                self.read()  # the proxy's SETTINGS and WINDOW_UPDATEs
                continue
            self.h2.send_data(stream_id, body[sent : sent + size])
            sent += size
        self.flush()

    def answer(self, stream_id: int) -> tuple[int, bytes]:
        while not self.answers.get(stream_id, (0, b"", False))[2]:
            self.read()
        status, body, _ = self.answers[stream_id]
        return status, bytes(body)

    def call(self, method: str, path: str) -> tuple[int, bytes]:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, _head(method, path, b"", False), end_stream=True)
        self.flush()
        return self.answer(stream_id)


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "no-length"])
def test_trailers_are_refused_and_the_upload_is_never_completed_upstream(
    setup: RecordedSetup, admin: GatewayClient, length: bool
) -> None:
    # s3 is decrypted (a fault targets it), but no call here is the faulted one.
    admin.add(fault("s3-delete", ["s3"], "throttle", operations=["DeleteBucket"]))
    key = f"/{BUCKET}/with-trailers-{'length' if length else 'chunked'}"
    with h2_tunnel(setup, S3_HOST) as tls:
        tls.settimeout(10)
        client = _Exchange(tls)
        assert client.call("PUT", f"/{BUCKET}")[0] == 200
        stream_id = client.h2.get_next_available_stream_id()
        client.h2.send_headers(stream_id, _head("PUT", key, BODY, length))
        client.send(stream_id, BODY)
        time.sleep(FORWARDING_S)
        client.h2.send_headers(stream_id, [("x-amz-checksum-crc32", "AAAAAA==")], end_stream=True)
        client.flush()
        status, answer = client.answer(stream_id)
        assert status == 501, answer
        assert b"trailers (x-amz-checksum-crc32) cannot be forwarded" in answer
        # The connection goes on; the object was never stored.
        status, answer = client.call("GET", key)
        assert status == 404 and b"NoSuchKey" in answer, answer
    assert "PUT" not in [seen.method for seen in setup.upstream.seen if seen.path == key]
