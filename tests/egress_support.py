"""The "real" AWS endpoint for egress tests and benches: moto behind a TLS server that checks
SigV4 signatures with botocore's own signer, and a ``gameday egress`` subprocess routed to it.

>>> with TlsUpstream(moto_url, *upstream_cert(tmp)) as upstream:
...     with egress_proxy(tmp, cert, upstream) as setup:
...         os.environ["HTTPS_PROXY"] = setup.proxy_url
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import io
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import h2.events
from aiohttp import web
from botocore import httpchecksum
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes

from gameday.egress.ca import CertificateAuthority
from gameday.egress.proxy import EgressCore
from gameday.gateway.guard import ServerLimits
from gameday.gateway.models import FaultSpec

UPSTREAM_CN = "egress test upstream"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]+)")


def upstream_cert(
    directory: Path, names: Sequence[str] = ("*.us-east-1.amazonaws.com",)
) -> tuple[Path, Path]:
    """A self-signed certificate for the AWS ``names`` and 127.0.0.1: the 'real' endpoint."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, UPSTREAM_CN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    *(x509.DNSName(name) for name in names),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "upstream.crt", directory / "upstream.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsUpstream:
    """The 'real' AWS endpoint: a keep-alive TLS server (as AWS's are) in front of moto over
    HTTP. It recomputes each SigV4 signature with botocore's own signer and the test's
    credentials first; a mismatch is answered 403 SignatureDoesNotMatch, as AWS would. As S3
    does, it answers ``Expect: 100-continue``, takes bodies of any size (read whole into
    memory), and keeps a HEAD answer's Content-Length."""

    def __init__(self, moto_url: str, cert: Path, key: Path) -> None:
        self.moto_url = moto_url
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.verified = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def __enter__(self) -> TlsUpstream:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            self._session = session
            runner = web.ServerRunner(web.Server(self._handle))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.context)
            await site.start()
            self.port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        return await self._answer(request, await self._body(request))

    async def _body(self, request: web.BaseRequest) -> bytes:
        """The whole body, after ``100 Continue`` if the client waits for it."""
        expect = request.headers.get("Expect", "").lower() == "100-continue"
        if expect and request.version >= aiohttp.HttpVersion11:
            # As S3 does. Without it botocore, on a fresh TLS 1.3 connection, takes the
            # server's session tickets for an answer and waits for a status line that never
            # comes while this server waits for the body (aiohttp's low-level server does not
            # send 100 Continue).
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        # Read past aiohttp's 1 MiB client_max_size, which request.read() enforces (413).
        buffer = bytearray()
        async for chunk in request.content.iter_chunked(1 << 20):
            buffer += chunk
        return bytes(buffer)

    async def _answer(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        """Check the signature of ``request`` (its ``body`` read), then ask moto."""
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("AWS4-HMAC-SHA256"):
            if not _signature_ok(request.method, request.raw_path, request.headers, body):
                return web.Response(
                    status=403,
                    content_type="text/xml",
                    body=b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch"
                    b"</Code><Message>signature mismatch</Message></Error></ErrorResponse>",
                )
            self.verified += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self.moto_url + request.raw_path,
            headers=headers,
            # aiohttp warns that a large bytes body blocks its loop; a file object is streamed.
            data=io.BytesIO(body) if len(body) > _LARGE else body,
        ) as answer:
            payload = await answer.read()
            return self._reply(request, answer, payload)

    def _reply(
        self, request: web.BaseRequest, answer: aiohttp.ClientResponse, payload: bytes
    ) -> web.StreamResponse:
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP]
        if request.method == "HEAD" and answer.content_length is not None:
            # A HEAD answer's Content-Length is the object's size (S3's HeadObject reads it),
            # not the empty body's.
            kept.append(("Content-Length", str(answer.content_length)))
            return web.Response(status=answer.status, headers=kept)
        return web.Response(status=answer.status, headers=kept, body=payload)


_LARGE = 1 << 20
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "expect"})


def _signature_ok(method: str, raw_path: str, headers: Any, body: bytes) -> bool:
    authorization = headers.get("Authorization", "")
    credential = _CREDENTIAL.search(authorization)
    signed = _SIGNED.search(authorization)
    given = _SIGNATURE.search(authorization)
    if credential is None or signed is None or given is None:
        return False
    _, _, region, service = credential.groups()
    names = signed.group(1).split(";")
    signed_headers = {name: headers.get(name, "") for name in names}
    request = AWSRequest(
        method=method,
        url=f"https://{signed_headers.get('host', '')}{raw_path}",
        headers=signed_headers,
        data=body,
    )
    request.context["timestamp"] = signed_headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials("testing", "testing", "testing"), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return bool(expected == given.group(1))


@dataclass
class Setup:
    proxy_url: str
    ca_dir: Path
    client_bundle: Path
    upstream_port: int
    upstream: TlsUpstream


@contextmanager
def egress_proxy(base: Path, cert_path: Path, upstream: TlsUpstream) -> Iterator[Setup]:
    ca_dir = base / "ca"
    argv = [sys.executable, "-m", "gameday", "egress", "--listen", "127.0.0.1:0"]
    argv += ["--ca-dir", str(ca_dir), "--route-ca", str(cert_path)]
    argv += ["--route", f"*.amazonaws.com=https://127.0.0.1:{upstream.port}"]
    stderr = base / "egress.stderr"
    with stderr.open("w") as errors:
        proxy = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, text=True)
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        found = re.search(r"listening on (http://\S+);", line)
        assert found, f"no listening line: {line!r} {stderr.read_text()}"
        # The client trusts the gameday bundle (system roots + the run's CA) plus the test
        # upstream's certificate, which stands in for AWS's own.
        bundle = base / "client-bundle.pem"
        bundle.write_bytes((ca_dir / "ca-bundle.pem").read_bytes() + cert_path.read_bytes())
        yield Setup(found.group(1), ca_dir, bundle, upstream.port, upstream)
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        if proxy.stdout is not None:
            proxy.stdout.close()


@dataclass(frozen=True)
class SeenRequest:
    """What the 'real' endpoint received: the head as sent, and the body's size."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body_bytes: int
    trailer_ok: bool | None
    """For an aws-chunked body: whether its framing held and its trailing checksum matches
    the decoded bytes; None for another body, or an algorithm botocore cannot compute."""


class RecordingTlsUpstream(TlsUpstream):
    """A TlsUpstream that keeps each request's head and checks aws-chunked bodies (chunk
    framing, trailing checksum) against what was decoded: proof that a chunked upload arrived
    byte for byte. Heads only are kept, never bodies."""

    def __init__(self, moto_url: str, cert: Path, key: Path) -> None:
        super().__init__(moto_url, cert, key)
        self.seen: list[SeenRequest] = []

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await self._body(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        trailer_ok = None
        if "aws-chunked" in headers.get("content-encoding", ""):
            trailer_ok = aws_chunked_trailer_ok(body, headers.get("x-amz-trailer", ""))
        self.seen.append(
            SeenRequest(request.method, request.raw_path, headers, len(body), trailer_ok)
        )
        return await self._answer(request, body)


def aws_chunked_trailer_ok(body: bytes, trailer: str) -> bool | None:
    """Whether an unsigned aws-chunked body (``size-hex CRLF data CRLF ... 0 CRLF trailer CRLF
    CRLF``) is well framed and its ``trailer`` checksum header matches the decoded data."""
    algorithm = trailer.lower().removeprefix("x-amz-checksum-")
    # botocore's own checksum classes, by the names it puts in x-amz-trailer; CRC64NVME (AWS
    # CLI v2's default) needs awscrt there, so it is computed here.
    classes: dict[str, Any] = {
        "crc64nvme": Crc64Nvme,
        **getattr(httpchecksum, "_CHECKSUM_CLS", {}),
    }
    if not trailer or algorithm not in classes:
        return None
    checksum = classes[algorithm]()
    view, position = memoryview(body), 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            return False
        size = int(body[position:end].split(b";", 1)[0], 16)
        position = end + 2
        if size == 0:
            break
        checksum.update(view[position : position + size])
        position += size
        if body[position : position + 2] != b"\r\n":
            return False
        position += 2
    lines = body[position:].split(b"\r\n")
    fields = dict(line.split(b":", 1) for line in lines if b":" in line)
    given = fields.get(trailer.lower().encode(), b"").strip().decode()
    return bool(lines[-2:] == [b"", b""] and given == checksum.b64digest())


def _crc64_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC64_NVME if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC64_NVME = 0x9A6C9329AC4BC9B5
"""CRC-64/NVME's polynomial, reflected (init and final xor all ones)."""
_CRC64_TABLE = _crc64_table()


class Crc64Nvme:
    """CRC-64/NVME as S3 computes it, in Python: about 0.1 s a MiB, for test bodies."""

    def __init__(self) -> None:
        self._crc = 0

    def update(self, chunk: bytes | memoryview) -> None:
        crc, table = self._crc ^ 0xFFFFFFFFFFFFFFFF, _CRC64_TABLE
        for byte in chunk:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc ^ 0xFFFFFFFFFFFFFFFF

    def b64digest(self) -> str:
        return base64.b64encode(self._crc.to_bytes(8, "big")).decode("ascii")


@dataclass
class RecordedSetup(Setup):
    """A Setup whose upstream records what it received."""

    upstream: RecordingTlsUpstream


@contextmanager
def egress_setup(
    base: Path, moto_url: str, names: Sequence[str] = ("*.us-east-1.amazonaws.com",)
) -> Iterator[RecordedSetup]:
    """moto behind a RecordingTlsUpstream for ``names``, and the proxy routed to it."""
    cert_path, key_path = upstream_cert(base, names)
    upstream = RecordingTlsUpstream(moto_url, cert_path, key_path)
    with upstream, egress_proxy(base, cert_path, upstream) as setup:
        yield RecordedSetup(
            setup.proxy_url, setup.ca_dir, setup.client_bundle, setup.upstream_port, upstream
        )


def client_env(setup: Setup, home: Path) -> dict[str, str]:
    """The environment of a client process (AWS CLI, node) as in a real account: no endpoint
    override, no profile or config file of this machine, dummy credentials, only the proxy
    and the bundle to trust (``AWS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``)."""
    dropped = ("AWS_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(dropped)}
    env.update(
        HOME=str(home),
        HTTPS_PROXY=setup.proxy_url,
        AWS_CA_BUNDLE=str(setup.client_bundle),
        NODE_EXTRA_CA_CERTS=str(setup.client_bundle),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
    )
    return env


def fault(fault_id: str, services: list[str], mode: str, **match: Any) -> FaultSpec:
    """A fault for the proxy's admin API: ``mode`` on ``services``, TTL 60 s."""
    return FaultSpec.model_validate(
        {
            "id": fault_id,
            "match": {"services": services, **match},
            "effect": {"mode": mode},
            "ttl_seconds": 60,
        }
    )


CREDENTIALS = Credentials("testing", "testing", "testing")


def signed_headers(
    method: str, url: str, body: bytes, service: str = "sts", headers: dict[str, str] | None = None
) -> dict[str, str]:
    """Headers botocore's own signer makes for the request (Host is signed, and left out)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if service == "s3":
        request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        S3SigV4Auth(CREDENTIALS, "s3", "us-east-1").add_auth(request)
    else:
        SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def h2_tunnel(setup: Setup, host: str = "sts.us-east-1.amazonaws.com") -> ssl.SSLSocket:
    """A CONNECT to ``host`` (decrypted: a fault must target it), then TLS with ALPN h2 only."""
    address = setup.proxy_url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((address[0], int(address[1])), timeout=10)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1024)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    context = ssl.create_default_context(cafile=str(setup.client_bundle))
    context.set_alpn_protocols(["h2"])
    tls = context.wrap_socket(sock, server_hostname=host)
    assert tls.selected_alpn_protocol() == "h2"
    return tls


def h2_client(tls: ssl.SSLSocket) -> H2Connection:
    """A raw h2 client on ``tls``, its preface and SETTINGS sent."""
    client = H2Connection(H2Configuration(client_side=True))
    client.initiate_connection()
    tls.sendall(client.data_to_send())
    return client


def h2_goaway(tls: ssl.SSLSocket, client: H2Connection) -> ErrorCodes | int | None:
    """Read until the proxy's GOAWAY (its error code) or the connection's end (None); the
    socket's timeout if neither comes."""
    while True:
        try:
            data = tls.recv(65536)
        except (ConnectionError, ssl.SSLError):
            return None
        if not data:
            return None
        for event in client.receive_data(data):
            if isinstance(event, h2.events.ConnectionTerminated):
                return event.error_code


@contextmanager
def egress_in_thread(
    ca_dir: Path, limits: ServerLimits
) -> Iterator[tuple[str, int, CertificateAuthority]]:
    """A real EgressCore with ``limits`` on its own event loop in a thread (``gameday egress``
    has no flag for them): its host, port and CA."""
    authority = CertificateAuthority.create(ca_dir)
    ready = threading.Event()
    bound: list[object] = []

    async def serve() -> None:
        core = EgressCore(authority, limits=limits)
        host, port = await core.start("127.0.0.1", 0)
        stop = asyncio.Event()
        bound.extend([host, port, asyncio.get_running_loop(), stop])
        ready.set()
        try:
            await stop.wait()
        finally:
            await core.close()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(30)
    host, port, loop, stop = bound
    assert isinstance(host, str) and isinstance(port, int)
    assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(stop, asyncio.Event)
    try:
        yield host, port, authority
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


EGRESS_APP = Path(__file__).parent / "fixtures" / "apps" / "egress_app.py"


@contextmanager
def app_in_account(setup: Setup, home: Path) -> Iterator[str]:
    """The fixture app in the "account" (tests/fixtures/apps/egress_app.py): only the proxy
    variables and dummy keys, no endpoint, none of gameday's own variables; its URL."""
    env = client_env(setup, home)
    env = {k: v for k, v in env.items() if not k.startswith("GAMEDAY_")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    process = subprocess.Popen(
        [sys.executable, str(EGRESS_APP)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def alarm_in_ok(moto_url: str, name: str) -> None:
    """A stop-condition alarm ``name`` in moto, in state OK."""
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=moto_url)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="5xx",
        Namespace="app",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="t")
