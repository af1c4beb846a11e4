"""Real requests and responses through botocore itself, without a network.

``capture`` runs a boto3 client call and stops it in ``before-send``, returning the exact
request botocore would have put on the wire. ``answer`` runs a call whose ``before-send``
returns a canned HTTP response instead, so botocore's own parser, error factory and
exception classes read it as if a server had sent it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import (
    AWSPreparedRequest,
    AWSResponse,
    create_request_object,
    prepare_request_dict,
)
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.serialize import create_serializer

from gameday.gateway.classify import RequestInfo, classify, needs_body
from gameday.gateway.wire import ErrorResponse

LOCAL = "http://127.0.0.1:9"
"""The discard port: nothing is ever sent there, the hooks stop every call first."""

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret", "token")


@dataclass(frozen=True)
class Captured:
    """One request as botocore prepared it, with the Host header an HTTP client would add."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes | None

    def classify(self) -> RequestInfo:
        form_body = self.body if needs_body(self.method, self.headers) else None
        return classify(self.method, self.path, self.query, self.headers, form_body)


def _captured(request: AWSPreparedRequest) -> Captured:
    url = urlsplit(request.url)
    headers = {
        key: value.decode() if isinstance(value, bytes) else str(value)
        for key, value in request.headers.items()
    }
    headers.setdefault("Host", url.netloc)
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    elif body is not None and not isinstance(body, bytes):
        body = body.read()
    return Captured(request.method, url.path, url.query, headers, body)


@functools.cache
def client(
    service: str,
    region: str = "us-east-1",
    endpoint: str = LOCAL,
    *,
    unsigned: bool = False,
    addressing: str | None = None,
    signature_version: str | None = None,
) -> BaseClient:
    config = Config(retries={"total_max_attempts": 1})
    if unsigned:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    elif signature_version:
        config = config.merge(Config(signature_version=signature_version))
    if addressing:
        config = config.merge(Config(s3={"addressing_style": addressing}))
    return _session().client(service, region_name=region, endpoint_url=endpoint, config=config)


@functools.cache
def _session() -> boto3.session.Session:
    # One session: its loader caches each service model once for all the clients.
    return boto3.session.Session(
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        aws_session_token=CREDENTIALS.token,
    )


class _Stop(Exception):
    """Raised in before-send: the request is captured, nothing is sent."""


def capture(
    service: str, operation: str, params: Mapping[str, Any] | None = None, **client_args: Any
) -> Captured:
    """The request ``client(service, **client_args).operation(**params)`` would send."""
    c = client(service, **client_args)
    seen: list[AWSPreparedRequest] = []

    def stop(request: AWSPreparedRequest, **_: Any) -> None:
        seen.append(request)
        raise _Stop

    c.meta.events.register("before-send", stop)
    try:
        getattr(c, operation)(**(params or {}))
    except _Stop:
        pass
    finally:
        c.meta.events.unregister("before-send", stop)
    assert seen, f"{service}.{operation} sent nothing"
    return _captured(seen[0])


def serialize(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    protocol: str,
    region: str = "us-east-1",
) -> Captured:
    """A SigV4-signed request for ``operation`` in ``protocol``, built by botocore's own
    serializer: for protocols a service lists that the installed botocore does not choose
    (CloudWatch in smithy-rpc-v2-cbor or query, as other SDKs send it)."""
    model = client(service).meta.service_model
    operation_model = model.operation_model(operation)
    request_dict = create_serializer(protocol).serialize_to_request(params, operation_model)
    prepare_request_dict(request_dict, endpoint_url=LOCAL)
    request = create_request_object(request_dict)
    SigV4Auth(CREDENTIALS, model.signing_name, region).add_auth(request)
    return _captured(request.prepare())


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def http_response(response: ErrorResponse) -> AWSResponse:
    return AWSResponse(LOCAL, response.status, response.headers, _Raw(response.body))


def answer(
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    response: ErrorResponse,
    **client_args: Any,
) -> ClientError:
    """The ClientError botocore raises when the call is answered with ``response``."""
    c = client(service, **client_args)

    def reply(**_: Any) -> AWSResponse:
        return http_response(response)

    c.meta.events.register("before-send", reply)
    try:
        getattr(c, operation)(**(params or {}))
    except ClientError as error:
        return error
    finally:
        c.meta.events.unregister("before-send", reply)
    raise AssertionError(f"{service}.{operation} did not fail")


def operation_model(service: str, operation: str) -> OperationModel:
    return client(service).meta.service_model.operation_model(operation)
