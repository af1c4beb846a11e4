"""The egress proxy end to end on loopback: moto over TLS behind ``--route``, real botocore
clients with no endpoint override (only HTTPS_PROXY and AWS_CA_BUNDLE), faults through the
admin API, blind tunnels, and the CA's own promises."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import boto3
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from gameday.egress.ca import KEY_NAME, CertificateAuthority
from gameday.errors import InvalidInputError
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultSpec

UPSTREAM_CN = "egress test upstream"
GAMEDAY_ISSUER = "gameday egress AWS-only CA"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SIGNED = re.compile(r"SignedHeaders=([^,\s]+)")
_SIGNATURE = re.compile(r"Signature=([0-9a-f]+)")


def _upstream_cert(directory: Path) -> tuple[Path, Path]:
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


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("egress")
    cert_path, key_path = _upstream_cert(base)
    with TlsUpstream(moto_url, cert_path, key_path) as upstream:
        yield from _with_proxy(base, cert_path, upstream)


def _with_proxy(base: Path, cert_path: Path, upstream: TlsUpstream) -> Iterator[Setup]:
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


@pytest.fixture
def env(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """No endpoint override: only the proxy and the bundle, as an app in a real account."""
    for key in ("AWS_ENDPOINT_URL", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", setup.proxy_url)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(setup.client_bundle))
    GatewayClient(setup.proxy_url).clear()
    return setup


def _client(service: Literal["sts", "logs"], secret: str = "testing") -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key=secret,
        aws_session_token="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def _fault(fault_id: str, services: list[str], mode: str, **match: Any) -> FaultSpec:
    return FaultSpec.model_validate(
        {
            "id": fault_id,
            "match": {"services": services, **match},
            "effect": {"mode": mode},
            "ttl_seconds": 60,
        }
    )


def _issuer_through_proxy(proxy_url: str, host: str, port: int) -> str:
    """The issuer CN of the certificate a client sees through a CONNECT to host:port."""
    address = proxy_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(1024)
            assert chunk, f"proxy closed: {answer!r}"
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    issuer = x509.load_der_x509_certificate(der).issuer
    return str(issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_calls_succeed_through_the_proxy_without_a_fault(env: Setup) -> None:
    identity = _client("sts").get_caller_identity()
    assert identity["Account"].isdigit()
    groups = _client("logs").describe_log_groups()
    assert "logGroups" in groups


def test_a_fault_answers_with_its_error_code(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    admin.add(_fault("sts-expired", ["sts"], "expired-token"))
    admin.add(_fault("logs-throttle", ["logs"], "throttle", regions=["us-east-1"]))
    with pytest.raises(ClientError) as sts_error:
        _client("sts").get_caller_identity()
    assert sts_error.value.response["Error"]["Code"] == "ExpiredToken"
    with pytest.raises(ClientError) as logs_error:
        _client("logs").describe_log_groups()
    assert logs_error.value.response["Error"]["Code"] == "ThrottlingException"
    hits = {fault.id: fault.hits for fault in admin.list()}
    assert hits == {"sts-expired": 1, "logs-throttle": 1}
    # The kill switch: every fault gone, the same calls succeed again.
    assert admin.clear() == 2
    assert _client("sts").get_caller_identity()["Account"].isdigit()


def test_a_fault_in_another_region_decrypts_nothing(env: Setup) -> None:
    GatewayClient(env.proxy_url).add(_fault("eu", ["sts"], "throttle", regions=["eu-west-1"]))
    assert _issuer_through_proxy(env.proxy_url, "sts.us-east-1.amazonaws.com", 443) == (UPSTREAM_CN)
    assert _client("sts").get_caller_identity()["Account"].isdigit()


def test_only_targeted_hosts_are_decrypted(env: Setup) -> None:
    GatewayClient(env.proxy_url).add(_fault("sts-only", ["sts"], "throttle"))
    proxy = env.proxy_url
    assert _issuer_through_proxy(proxy, "sts.us-east-1.amazonaws.com", 443) == GAMEDAY_ISSUER
    assert _issuer_through_proxy(proxy, "logs.us-east-1.amazonaws.com", 443) == UPSTREAM_CN
    # A non-AWS host: tunnelled blind to itself.
    assert _issuer_through_proxy(proxy, "127.0.0.1", env.upstream_port) == UPSTREAM_CN


def test_a_forwarded_request_keeps_its_signature(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    # sts is decrypted (a fault targets it) but GetCallerIdentity is not the faulted call:
    # it is forwarded, and the upstream checks its signature with botocore's signer.
    admin.add(_fault("assume-role", ["sts"], "throttle", operations=["AssumeRole"]))
    before = env.upstream.verified
    assert _client("sts").get_caller_identity()["Account"].isdigit()
    assert env.upstream.verified == before + 1
    records = admin.requests().requests
    assert [(r.service, r.operation, r.outcome) for r in records[-1:]] == [
        ("sts", "GetCallerIdentity", "forwarded")
    ]
    # The check can fail: a request signed with another secret is refused upstream.
    with pytest.raises(ClientError) as error:
        _client("sts", secret="not-the-secret").get_caller_identity()
    assert error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_a_plain_request_is_refused_and_admin_needs_no_tunnel(env: Setup) -> None:
    health = GatewayClient(env.proxy_url).health()
    assert health.status == "ok"
    address = env.proxy_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=10) as sock:
        sock.sendall(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 405")


def test_the_ca_key_is_private_and_the_intermediate_signs_aws_names_only(
    tmp_path: Path,
) -> None:
    authority = CertificateAuthority.create(tmp_path / "ca", valid_hours=2)
    assert os.stat(tmp_path / "ca" / KEY_NAME).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "ca").st_mode & 0o777 == 0o700
    bundle = (tmp_path / "ca" / "ca-bundle.pem").read_bytes()
    assert authority.root.public_bytes(serialization.Encoding.PEM) in bundle
    lifetime = authority.root.not_valid_after_utc - authority.root.not_valid_before_utc
    assert lifetime <= datetime.timedelta(hours=2, minutes=5)

    store = Store([authority.root])
    good, _ = authority.issue("sts.us-east-1.amazonaws.com")
    verifier = (
        PolicyBuilder()
        .store(store)
        .build_server_verifier(x509.DNSName("sts.us-east-1.amazonaws.com"))
    )
    verifier.verify(good, [authority.intermediate])  # raises if the chain is bad

    with pytest.raises(InvalidInputError, match="not an AWS name"):
        authority.issue("example.com")
    # Even the intermediate's own key cannot make a leaf a client accepts for another name.
    key = serialization.load_pem_private_key((tmp_path / "ca" / KEY_NAME).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    rogue = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")]))
        .issuer_name(authority.intermediate.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("example.com")]), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    rogue_verifier = PolicyBuilder().store(store).build_server_verifier(x509.DNSName("example.com"))
    with pytest.raises(VerificationError):
        rogue_verifier.verify(rogue, [authority.intermediate])


def test_a_pooled_blind_connection_is_closed_once_a_fault_targets_its_host(env: Setup) -> None:
    sts = _client("sts")
    assert sts.get_caller_identity()["Account"].isdigit()  # blind: no fault yet, kept pooled
    GatewayClient(env.proxy_url).add(_fault("later", ["sts"], "throttle"))
    deadline = time.monotonic() + 10
    codes, dropped = [], 0
    while time.monotonic() < deadline:
        try:
            sts.get_caller_identity()
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
            break
        except BotoConnectionError:
            # A request sent at the instant the proxy closes the tunnel meets a closed
            # connection: an SDK with retries retries it; this client has one attempt.
            dropped += 1
        time.sleep(0.1)
    assert codes == ["Throttling"] and dropped <= 1
