"""The "real" AWS endpoint for egress tests and benches: moto behind a TLS server that checks
SigV4 signatures with botocore's own signer, and a ``gameday egress`` subprocess routed to it.

>>> with TlsUpstream(moto_url, *upstream_cert(tmp)) as upstream:
...     with egress_proxy(tmp, cert, upstream) as setup:
...         os.environ["HTTPS_PROXY"] = setup.proxy_url
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UPSTREAM_CN = "egress test upstream"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]+)")


def upstream_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the AWS names and 127.0.0.1: the 'real' endpoint."""
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
                    x509.DNSName("*.us-east-1.amazonaws.com"),
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
    credentials first; a mismatch is answered 403 SignatureDoesNotMatch, as AWS would."""

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
        body = await request.read()
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
            request.method, self.moto_url + request.raw_path, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP]
            return web.Response(status=answer.status, headers=kept, body=payload)


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
