"""The egress proxy end to end on loopback: moto over TLS behind ``--route``, real botocore
clients with no endpoint override (only HTTPS_PROXY and AWS_CA_BUNDLE), faults through the
admin API, blind tunnels, and the CA's own promises."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
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
from tests.egress_support import UPSTREAM_CN, Setup, egress_setup, fault

GAMEDAY_ISSUER = "gameday egress AWS-only CA"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[Setup]:
    with egress_setup(tmp_path_factory.mktemp("egress"), moto_url) as proxy:
        yield proxy


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
    admin.add(fault("sts-expired", ["sts"], "expired-token"))
    admin.add(fault("logs-throttle", ["logs"], "throttle", regions=["us-east-1"]))
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
    GatewayClient(env.proxy_url).add(fault("eu", ["sts"], "throttle", regions=["eu-west-1"]))
    assert _issuer_through_proxy(env.proxy_url, "sts.us-east-1.amazonaws.com", 443) == (UPSTREAM_CN)
    assert _client("sts").get_caller_identity()["Account"].isdigit()


def test_only_targeted_hosts_are_decrypted(env: Setup) -> None:
    GatewayClient(env.proxy_url).add(fault("sts-only", ["sts"], "throttle"))
    proxy = env.proxy_url
    assert _issuer_through_proxy(proxy, "sts.us-east-1.amazonaws.com", 443) == GAMEDAY_ISSUER
    assert _issuer_through_proxy(proxy, "logs.us-east-1.amazonaws.com", 443) == UPSTREAM_CN
    # A non-AWS host: tunnelled blind to itself.
    assert _issuer_through_proxy(proxy, "127.0.0.1", env.upstream_port) == UPSTREAM_CN


def test_a_forwarded_request_keeps_its_signature(env: Setup) -> None:
    admin = GatewayClient(env.proxy_url)
    # sts is decrypted (a fault targets it) but GetCallerIdentity is not the faulted call:
    # it is forwarded, and the upstream checks its signature with botocore's signer.
    admin.add(fault("assume-role", ["sts"], "throttle", operations=["AssumeRole"]))
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
    GatewayClient(env.proxy_url).add(fault("later", ["sts"], "throttle"))
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
