"""Which AWS call a proxied request is: service, region, operation and wire protocol.

Runs on every request the gateway proxies, so it only reads headers, the path and the query
string (plus, for form-encoded query/ec2 calls, the small body: see ``needs_body``), and
everything it learns from botocore's models is indexed once and cached (``_models``).

>>> info = classify("POST", "/", "", {"X-Amz-Target": "Logs_20140328.PutLogEvents", ...})
>>> info.service, info.operation, info.protocol   # ("logs", "PutLogEvents", Protocol.JSON)

Naming: ``service`` is botocore's service *model* name (``cloudwatch``, ``sso-admin``,
``sso`` for the SSO portal, ``stepfunctions``) and ``signing_name`` the SigV4 signing name the
request was signed for (``monitoring``, ``sso``, ``states``); ``names`` is the set a fault's
service entry is matched against.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import unquote_plus

from multidict import CIMultiDict, CIMultiDictProxy

from gameday.gateway import _models
from gameday.gateway._models import QUERY_PROTOCOLS, ServiceMeta
from gameday.scenario.service_names import REGISTRY_SERVICE, SIGNING_NAME_ALIASES


class Protocol(StrEnum):
    """The wire protocol of one request (botocore's protocol names)."""

    QUERY = "query"
    EC2 = "ec2"
    JSON = "json"
    REST_JSON = "rest-json"
    REST_XML = "rest-xml"
    RPC_V2_CBOR = "smithy-rpc-v2-cbor"
    REGISTRY = "docker-registry-v2"
    """Image pulls and pushes (the OCI distribution API), not an AWS protocol: ECR's registry
    endpoint answers it with Basic or Bearer auth from GetAuthorizationToken, no SigV4."""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the gateway knows about one request; ``None`` where it could not tell."""

    service: str | None
    """botocore service model name: ``sts``, ``cloudwatch``, ``sso`` (the SSO portal)."""
    region: str | None
    operation: str | None
    """botocore operation name: ``GetCallerIdentity``, ``PutObject``."""
    protocol: Protocol | None
    """The protocol of this request, which for some services is one of several."""
    json_version: str | None = None
    """``1.0`` or ``1.1`` for the json protocol (from the request's Content-Type)."""
    query_mode: bool = False
    """The request carried ``x-amzn-query-mode: true`` (a query-compatible json service)."""
    signing_name: str | None = None
    """The SigV4 signing name of the credential scope; ``None`` for unsigned requests."""
    access_key_id: str | None = None
    """The access key id the request says it was signed with (SigV4 or SigV4A, in the
    Authorization header or a presigned URL; SigV2); ``None`` for unsigned requests. Read,
    never verified (the upstream checks signatures): it tells the app's calls from gameday's
    own probes', which sign with a key id of their own (``CallLedger``)."""

    @property
    def classified(self) -> bool:
        """Service and operation are both known."""
        return self.service is not None and self.operation is not None

    @property
    def names(self) -> frozenset[str]:
        """The names a fault's service entry matches this request by.

        The model name, plus the signing name unless that is another service's model name:
        ``cloudwatch`` is also ``monitoring``, but sso-admin (signed as ``sso``) is not ``sso``,
        which is the SSO portal's name, and s3control (signed as ``s3``) is not ``s3``.
        """
        return _names(self.service, self.signing_name)


UNCLASSIFIED = RequestInfo(service=None, region=None, operation=None, protocol=None)

_FORM = "application/x-www-form-urlencoded"
_SIGV4 = "AWS4-HMAC-SHA256"
_SIGV4A = "AWS4-ECDSA-P256-SHA256"
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")
_MAX_KEY_ID = 128
_FORM_ACTION = re.compile(rb"(?:^|&)Action=([^&]*)")
_FORM_VERSION = re.compile(rb"(?:^|&)Version=([^&]*)")
_JSON_VERSION = re.compile(r"application/x-amz-json-(1\.[01])")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_OPERATION = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_REGION_LABEL = re.compile(r"(?:^|\.)([a-z]{2}(?:-[a-z]+)+-\d{1,2})(?:\.|$)")

# Unsigned calls carry no credential scope, so their region comes from the Host when the SDK
# talks to AWS directly. Global endpoints are homed in us-east-1 (botocore's endpoints.json
# "aws-global" credentialScope).
_GLOBAL_HOSTS = {"sts.amazonaws.com": "us-east-1"}


class _Scope(NamedTuple):
    signing_name: str | None
    region: str | None
    lookup_name: str | None
    """The signing name to look models up by: SigV2 (S3 only) has no scope but is S3."""
    access_key_id: str | None = None


_NO_SCOPE = _Scope(None, None, None)

_S3_SIGNING_NAMES = frozenset({"s3", *SIGNING_NAME_ALIASES})


def assume_region(info: RequestInfo, region: str | None) -> RequestInfo:
    """``info`` taken to be in ``region`` when it names no region at all: no credential scope
    (unsigned, SigV2, the registry API) and no region in its Host, as every such call sent
    to a gateway at ``AWS_ENDPOINT_URL`` is. The SDK aimed it at its configured region's
    endpoint, which the gateway stands in for, so ``region`` is the app's. A SigV4A call
    signed for several regions or "*" keeps None: it names regions, only not one.
    ``region`` None: ``info`` unchanged."""
    if region is None or info.region is not None or info.signing_name is not None:
        return info
    return dataclasses.replace(info, region=region)


def needs_body(method: str, headers: Mapping[str, str]) -> bool:
    """Whether ``classify`` needs the request body: a form-encoded POST, where the query and
    ec2 protocols put ``Action``. Every other body is streamed through unread."""
    if method.upper() != "POST":
        return False
    content_type = _headers(headers).get("content-type", "")
    return content_type.lower().startswith(_FORM)


def classify(
    method: str,
    path: str,
    query_string: str,
    headers: Mapping[str, str],
    form_body: bytes | None = None,
) -> RequestInfo:
    """Classify one request. Never raises: what it cannot read stays ``None``.

    ``path`` is the raw (percent-encoded) path without the query string; ``form_body`` is the
    body when ``needs_body`` said so.
    """
    h = _headers(headers)
    method = method.upper()
    scope = _scope(h, query_string)
    content_type = h.get("content-type", "").lower()

    # RPC v2 CBOR: botocore/serialize.py BaseRpcV2Serializer sends
    # /service/{targetPrefix}/operation/{Operation} with smithy-protocol: rpc-v2-cbor.
    if h.get("smithy-protocol") == "rpc-v2-cbor" or (
        path.startswith("/service/") and content_type.startswith("application/cbor")
    ):
        return _classify_cbor(path, h, scope)
    target = h.get("x-amz-target")
    if target:
        return _classify_json(target, content_type, h, scope)
    call = _query_call(method, query_string, content_type, form_body)
    if call is not None:
        info = _classify_query(call, h, scope)
        if info is not None:
            return info
    if scope.lookup_name is None and (path == "/v2" or path.startswith("/v2/")):
        return _classify_registry(method, path, h)
    return _classify_rest(method, path, query_string, h, scope)


_REGISTRY_HOST = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")


def _registry_operation(method: str, path: str) -> str | None:
    """The distribution-spec endpoint (github.com/opencontainers/distribution-spec, spec.md
    "Endpoints"), named like an API operation for fault matching and the request ring."""
    parts = [p for p in path.split("/") if p]
    if parts == ["v2"]:
        return "Ping"
    if parts[1:] == ["_catalog"]:
        return "Catalog"
    for index in range(len(parts) - 1, 0, -1):
        kind = parts[index]
        if kind == "manifests" and index == len(parts) - 2:
            return {"PUT": "PutManifest", "DELETE": "DeleteManifest"}.get(method, "GetManifest")
        if kind == "blobs" and index == len(parts) - 2:
            return "DeleteBlob" if method == "DELETE" else "GetBlob"
        if kind == "uploads" and parts[index - 1] == "blobs":
            return "InitiateBlobUpload" if index == len(parts) - 1 else "UploadBlob"
        if kind == "list" and parts[index - 1] == "tags" and index == len(parts) - 1:
            return "ListTags"
        if kind == "referrers" and index == len(parts) - 2:
            return "ListReferrers"
    return None


def _classify_registry(method: str, path: str, h: Mapping[str, str]) -> RequestInfo:
    host = _REGISTRY_HOST.match(h.get("host", "").lower())
    return RequestInfo(
        service=REGISTRY_SERVICE,
        region=host.group(1) if host else None,
        operation=_registry_operation(method, path),
        protocol=Protocol.REGISTRY,
    )


def warm(signing_names: Iterable[str] = ()) -> None:
    """Build the model indexes now (and the REST routes of the ``signing_names``), so that the
    first proxied request does not pay for it. Optional: all is built on first use anyway."""
    _models.service_index()
    _models.unsigned_routes()
    _models.unsigned_actions()
    for name in signing_names:
        _models.signing_routes(name)


def _headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    if isinstance(headers, CIMultiDictProxy | CIMultiDict):
        return headers
    return {str(key).lower(): value for key, value in headers.items()}


def _scope(h: Mapping[str, str], query_string: str) -> _Scope:
    authorization = h.get("authorization")
    if authorization:
        if authorization.startswith(_SIGV4):
            return _parse_credential(_credential(authorization), sigv4a=False, region_set=None)
        if authorization.startswith(_SIGV4A):
            return _parse_credential(
                _credential(authorization), sigv4a=True, region_set=h.get("x-amz-region-set")
            )
        if authorization.startswith("AWS "):
            # SigV2 ("AWS AKID:signature") survives only in S3 (and SimpleDB).
            key = authorization[4:].partition(":")[0].strip()
            return _Scope(None, _host_region(h), "s3", _key_id(key))
        return _NO_SCOPE
    if "X-Amz-Credential=" in query_string:
        params = _query(query_string)
        algorithm = params.get("X-Amz-Algorithm")
        return _parse_credential(
            params.get("X-Amz-Credential"),
            sigv4a=algorithm == _SIGV4A,
            region_set=params.get("X-Amz-Region-Set"),
        )
    if "AWSAccessKeyId=" in query_string and "Signature=" in query_string:
        presigned_key = _query(query_string).get("AWSAccessKeyId")
        return _Scope(None, _host_region(h), "s3", _key_id(presigned_key))  # SigV2 presigned
    return _NO_SCOPE


def _credential(authorization: str) -> str | None:
    match = _CREDENTIAL.search(authorization)
    return match.group(1) if match else None


def _parse_credential(credential: str | None, *, sigv4a: bool, region_set: str | None) -> _Scope:
    # SigV4 scope: AKID/YYYYMMDD/region/service/aws4_request; SigV4A drops the region, which
    # travels in X-Amz-Region-Set instead (botocore/crt/auth.py).
    if not credential:
        return _NO_SCOPE
    parts = credential.split("/")
    if len(parts) < (4 if sigv4a else 5) or parts[-1] != "aws4_request":
        return _NO_SCOPE
    service = parts[-2] if _NAME.fullmatch(parts[-2]) else None
    if sigv4a:
        regions = [r.strip() for r in (region_set or "").split(",") if r.strip()]
        # One concrete region is that region; "*" or several cannot be pinned to one.
        region = regions[0] if len(regions) == 1 and _REGION.fullmatch(regions[0]) else None
    else:
        region = parts[-3] if _NAME.fullmatch(parts[-3]) else None
    return _Scope(service, region, service, _key_id(parts[0]))


def _key_id(key: str | None) -> str | None:
    # Real key ids are 16 to 128 characters; a longer one is nobody's to recognise.
    return key if key and len(key) <= _MAX_KEY_ID else None


def _host_region(h: Mapping[str, str]) -> str | None:
    host = h.get("host", "").lower()
    if not host:
        return None
    if host.startswith("["):  # an IPv6 literal has no region in it
        return None
    host = host.rsplit(":", 1)[0]
    match = _REGION_LABEL.search(host)
    if match:
        return match.group(1)
    return _GLOBAL_HOSTS.get(host)


def _query(query_string: str) -> dict[str, str]:
    # urllib.parse.parse_qsl costs more than the rest of classify together; most keys and
    # values need no unquoting at all. The first value of a repeated key wins.
    params: dict[str, str] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        params.setdefault(key, value)
    return params


class _QueryCall(NamedTuple):
    action: str
    version: str | None


def _query_call(
    method: str, query_string: str, content_type: str, form_body: bytes | None
) -> _QueryCall | None:
    """``Action`` and ``Version`` of a query/ec2 call, from the query string or the form body."""
    if "Action=" in query_string:
        params = _query(query_string)
        action = params.get("Action")
        if action is not None and _OPERATION.fullmatch(action):
            return _QueryCall(action, params.get("Version"))
    if form_body and method == "POST" and content_type.startswith(_FORM):
        match = _FORM_ACTION.search(form_body)
        if match:
            action = unquote_plus(match.group(1).decode("latin-1"))
            if _OPERATION.fullmatch(action):
                version = _FORM_VERSION.search(form_body)
                return _QueryCall(
                    action, unquote_plus(version.group(1).decode("latin-1")) if version else None
                )
    return None


def _protocol(name: str | None) -> Protocol | None:
    try:
        return Protocol(name) if name else None
    except ValueError:
        return None


def _primary(lookup_name: str | None) -> ServiceMeta | None:
    """The model a signing name stands for when nothing else tells: the only one, or the one
    named like the signing name."""
    if not lookup_name:
        return None
    candidates = _models.service_index().by_signing_name.get(lookup_name, ())
    if len(candidates) == 1 or (candidates and candidates[0].name == lookup_name):
        return candidates[0]
    return None


def _choose(
    candidates: tuple[ServiceMeta, ...], lookup_name: str | None, operation: str | None
) -> ServiceMeta | None:
    """One model among several that could have sent the request (by target prefix or signing
    name): the signing name narrows, then the one that has the operation."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if lookup_name:
        narrowed = tuple(m for m in candidates if m.signing_name == lookup_name)
        if len(narrowed) == 1:
            return narrowed[0]
        candidates = narrowed or candidates
    if operation:
        for meta in candidates:
            if operation in _models.operation_names(meta.name):
                return meta
    return candidates[0]


def _region(scope: _Scope, h: Mapping[str, str]) -> str | None:
    if scope.signing_name is not None:
        return scope.region
    return scope.region or _host_region(h)


def _classify_cbor(path: str, h: Mapping[str, str], scope: _Scope) -> RequestInfo:
    parts = path.split("/")
    target_prefix = operation = None
    if len(parts) == 5 and parts[1] == "service" and parts[3] == "operation":
        target_prefix = parts[2]
        operation = parts[4] if _OPERATION.fullmatch(parts[4]) else None
    candidates = _models.service_index().by_target_prefix.get(target_prefix or "", ())
    meta = _choose(candidates, scope.lookup_name, operation) or _primary(scope.lookup_name)
    return RequestInfo(
        service=meta.name if meta else None,
        region=_region(scope, h),
        operation=operation,
        protocol=Protocol.RPC_V2_CBOR,
        query_mode=h.get("x-amzn-query-mode") == "true",
        signing_name=scope.signing_name,
        access_key_id=scope.access_key_id,
    )


def _classify_json(
    target: str, content_type: str, h: Mapping[str, str], scope: _Scope
) -> RequestInfo:
    # X-Amz-Target is "{targetPrefix}.{Operation}" (botocore/serialize.py JSONSerializer).
    target_prefix, dot, operation_part = target.rpartition(".")
    operation = operation_part if dot and _OPERATION.fullmatch(operation_part) else None
    candidates = _models.service_index().by_target_prefix.get(target_prefix, ())
    meta = _choose(candidates, scope.lookup_name, operation) or _primary(scope.lookup_name)
    version = _JSON_VERSION.match(content_type)
    return RequestInfo(
        service=meta.name if meta else None,
        region=_region(scope, h),
        operation=operation,
        protocol=Protocol.JSON,
        json_version=version.group(1) if version else (meta.json_version if meta else None),
        query_mode=h.get("x-amzn-query-mode") == "true",
        signing_name=scope.signing_name,
        access_key_id=scope.access_key_id,
    )


def _classify_query(call: _QueryCall, h: Mapping[str, str], scope: _Scope) -> RequestInfo | None:
    index = _models.service_index()
    meta: ServiceMeta | None
    if scope.lookup_name is None:
        # Unsigned: only the operations SDKs really send unsigned (STS federation calls).
        name = _models.unsigned_actions().get(call.action)
        meta = index.services.get(name) if name else None
    else:
        candidates = tuple(
            m
            for m in index.by_signing_name.get(scope.lookup_name, ())
            if any(p in QUERY_PROTOCOLS for p in m.protocols)
        )
        if not candidates:
            return None  # a REST service (S3) with an "Action" key of its own
        # elb and elbv2 share a signing name and operation names; Version tells them apart.
        by_version = tuple(m for m in candidates if m.api_version == call.version)
        meta = _choose(by_version or candidates, None, call.action)
    protocol = Protocol.EC2 if meta is not None and "ec2" in meta.protocols else Protocol.QUERY
    return RequestInfo(
        service=meta.name if meta else None,
        region=_region(scope, h),
        operation=call.action if meta else None,
        protocol=protocol,
        signing_name=scope.signing_name,
        access_key_id=scope.access_key_id,
    )


def _classify_rest(
    method: str, path: str, query_string: str, h: Mapping[str, str], scope: _Scope
) -> RequestInfo:
    segments = _models.split_path(path)
    params = _query(query_string)
    if scope.lookup_name is None:
        route = _models.unsigned_routes().match(method, segments, params, h)
    else:
        route = _match_signed(scope.lookup_name, method, segments, params, h)
    if route is not None:
        meta = _models.service_index().services.get(route.service)
        return RequestInfo(
            service=route.service,
            region=_region(scope, h),
            operation=route.operation,
            protocol=_protocol(meta.protocol) if meta else None,
            signing_name=scope.signing_name,
            access_key_id=scope.access_key_id,
        )
    primary = _primary(scope.lookup_name)
    return RequestInfo(
        service=primary.name if primary else None,
        region=_region(scope, h),
        operation=None,
        protocol=_protocol(primary.protocol) if primary else None,
        signing_name=scope.signing_name,
        access_key_id=scope.access_key_id,
    )


def _match_signed(
    lookup_name: str,
    method: str,
    segments: list[str],
    params: Mapping[str, str],
    h: Mapping[str, str],
) -> _models.Route | None:
    table = _models.signing_routes(lookup_name)
    if lookup_name in _S3_SIGNING_NAMES:
        bucket = s3_virtual_host_bucket(h.get("host", ""))
        if bucket is not None:
            found = table.match(method, [bucket, *segments], params, h)
            if found is not None and found.service == "s3":
                return found
            # Not a virtual-hosted bucket after all: read the path as path-style.
    return table.match(method, segments, params, h)


def s3_virtual_host_bucket(host: str) -> str | None:
    """The bucket of a virtual-hosted S3 request (``bucket.s3.amazonaws.com``,
    ``bucket.s3.localhost.localstack.cloud``, ``bucket.localhost``), else None."""
    host = host.lower()
    if not host or host.startswith("["):
        return None
    host = host.rsplit(":", 1)[0]
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        return None  # an IPv4 address
    for index, label in enumerate(labels):
        if label in ("s3", "localhost") or label.startswith("s3-"):
            # The first S3 or loopback label ends the bucket; none before it means the host
            # is the endpoint itself (s3.amazonaws.com, s3.localhost.localstack.cloud).
            return ".".join(labels[:index]) if index > 0 else None
    return None


@functools.lru_cache(maxsize=1024)
def _names(service: str | None, signing_name: str | None) -> frozenset[str]:
    names = {service} if service else set()
    if signing_name and (
        service is None
        or signing_name == service
        or signing_name not in _models.service_index().services
    ):
        names.add(signing_name)
    return frozenset(names)
