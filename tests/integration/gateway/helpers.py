"""Shared helpers for the gateway tests: boto3 clients pointed at a gateway, faults, raw HTTP."""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from gameday.faults.modes import Mode
from gameday.gateway.models import FaultSpec

FAKE_DATE = "20260101"

Call = Callable[[Any], Any]

# service -> (the call, its operation name, the family of error codes it gets)
CALLS: dict[str, tuple[Call, str, str]] = {
    "sts": (lambda c: c.get_caller_identity(), "GetCallerIdentity", "query"),
    "iam": (lambda c: c.list_users(), "ListUsers", "query"),
    "ec2": (lambda c: c.describe_instances(), "DescribeInstances", "ec2"),
    "logs": (lambda c: c.describe_log_groups(), "DescribeLogGroups", "json"),
    "ecr": (lambda c: c.describe_repositories(), "DescribeRepositories", "json"),
    "dynamodb": (lambda c: c.list_tables(), "ListTables", "dynamodb"),
    "lambda": (lambda c: c.list_functions(), "ListFunctions", "json"),
    "fis": (lambda c: c.list_experiments(), "ListExperiments", "json"),
    "sso": (
        lambda c: c.get_role_credentials(roleName="r", accountId="123456789012", accessToken="t"),
        "GetRoleCredentials",
        "json",
    ),
    "s3": (lambda c: c.list_buckets(), "ListBuckets", "s3"),
    "route53": (lambda c: c.list_hosted_zones(), "ListHostedZones", "query"),
    # CloudWatch is query-compatible: whatever protocol botocore picks, the SDK surfaces the
    # query error code (from x-amzn-query-error when it speaks json).
    "cloudwatch": (lambda c: c.list_metrics(), "ListMetrics", "query"),
}


# One session: its loader caches the service models (a fresh session reloads them, ~100 ms).
# Clients are made here in the test's own thread; boto3 clients may then be used from others.
_SESSION = boto3.session.Session()


@functools.cache
def aws(
    service: str,
    url: str,
    *,
    region: str = "us-east-1",
    retry_mode: str = "standard",
    attempts: int | None = 1,
    read_timeout_s: float = 10.0,
) -> Any:  # boto3 clients are built at run time: their methods are not typed on BaseClient
    """A boto3 client through ``url`` (cached); one attempt unless ``attempts`` is None (the
    mode's own default number of attempts)."""
    retries: dict[str, Any] = {"mode": retry_mode}
    if attempts is not None:
        retries["total_max_attempts"] = attempts
    config = Config(
        retries=retries,  # type: ignore[arg-type]  # botocore-stubs TypedDict lacks total_max_attempts
        connect_timeout=2,
        read_timeout=read_timeout_s,
    )
    # cast: boto3-stubs types client() by literal service name; here the name is a variable.
    session: Any = _SESSION
    return session.client(service, endpoint_url=url, region_name=region, config=config)


def fault(
    fault_id: str,
    mode: Mode | str,
    *,
    services: tuple[str, ...] = (),
    regions: tuple[str, ...] = (),
    operations: tuple[str, ...] = (),
    probability: float = 1.0,
    ttl_s: float = 60.0,
    **effect: Any,
) -> FaultSpec:
    return FaultSpec.model_validate(
        {
            "id": fault_id,
            "match": {
                "services": services,
                "regions": regions,
                "operations": operations,
                "probability": probability,
            },
            "effect": {"mode": str(mode), **effect},
            "ttl_seconds": ttl_s,
        }
    )


def sigv4_authorization(service: str, region: str = "us-east-1") -> str:
    """An Authorization header with a real-looking credential scope (the signature itself is
    not checked by moto, and the gateway reads only the scope)."""
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{FAKE_DATE}/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    )


def host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def raw_exchange(url: str, request: bytes, *, timeout_s: float = 5.0) -> bytes:
    """Send raw bytes to ``url``'s host and port and read until the server closes."""
    with socket.create_connection(host_port(url), timeout=timeout_s) as sock:
        sock.sendall(request)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_response_head(sock: socket.socket) -> bytes:
    """Bytes up to and including the first blank line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def wait_until(condition: Any, timeout_s: float = 5.0, interval_s: float = 0.01) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)
