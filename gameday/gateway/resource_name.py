"""The resource a destructive call names, for the audit (docs/audit.md "Resource names").

The rule, from the operation's input shape in botocore's model:

1. the members bound to the request URI (``/{Bucket}/{Key+}``, ``/functions/{FunctionName}``),
   joined with ``/``;
2. else the first required member that is a string or a list of strings (``TableName``,
   ``InstanceIds``, ``QueueUrl``);
3. else the first member named like a resource (``...Name``, ``...Arn``, ``...Id``,
   ``...Ids``, ``...Identifier``, ``...Url``) that the request carries (EC2's
   RevokeSecurityGroupIngress requires nothing and names ``GroupId``).

Lists are joined with ``,``; the name is cut at ``MAX_CHARS``. Only destructive calls are read
this way (they are rare), so the request path pays nothing for the others.

>>> resource_name(info, "POST", "/", "", b'{"TableName": "orders"}')
'orders'
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import cbor2
from botocore.exceptions import DataNotFoundError, UnknownServiceError

from gameday.gateway import _models
from gameday.gateway.classify import Protocol, RequestInfo, s3_virtual_host_bucket

MAX_CHARS = 200
_RESOURCE_LIKE = re.compile(r"(?:Name|Arn|ARN|Id|Ids|ID|Identifier|Url|URL)$")
_LABEL = re.compile(r"^\{([^}+]+)\+?\}$")


@dataclass(frozen=True, slots=True)
class _Member:
    wire: str
    """The member's name on the wire for the operation's protocol (body key, query key)."""
    location: str | None
    """``uri``, ``querystring``, ``header`` or None (the body)."""
    is_list: bool
    flattened: bool


@dataclass(frozen=True, slots=True)
class _Spec:
    uri_path: str
    uri_labels: tuple[str, ...]
    """The URI labels that name the resource, in the model's member order."""
    members: tuple[_Member, ...]
    """Rule 2's candidates (required), then rule 3's (named like a resource)."""


def resource_name(
    info: RequestInfo,
    method: str,
    path: str,
    query_string: str,
    body: bytes | None,
    host: str = "",
) -> str | None:
    """The resource this request names, or None when it names none the rule finds.

    ``host`` is the request's Host header: a virtual-hosted S3 request names its bucket
    there. Never raises: a body it cannot parse, or a model botocore does not have, is None."""
    if info.service is None or info.operation is None or info.protocol is Protocol.REGISTRY:
        return _registry_name(path) if info.protocol is Protocol.REGISTRY else None
    spec = _specs(info.service).get(info.operation)
    if spec is None:
        return None
    try:
        if spec.uri_labels:
            bucket = s3_virtual_host_bucket(host) if info.service == "s3" else None
            named = _from_uri(spec, f"/{bucket}{path}" if bucket else path)
            if named:
                return _cut("/".join(named))
        values = _request_values(info.protocol, query_string, body)
    except ValueError:
        return None
    for member in spec.members:
        found = _value(member, values, query_string)
        if found:
            return _cut(found)
    return None


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _registry_name(path: str) -> str | None:
    # /v2/<repository>/manifests/<reference>: the repository, and what in it.
    parts = [p for p in path.split("/") if p][1:]
    for index, part in enumerate(parts):
        if part in ("manifests", "blobs") and index > 0 and index + 1 < len(parts):
            return _cut(f"{'/'.join(parts[:index])}:{parts[index + 1]}")
    return None


@functools.cache
def _specs(service: str) -> Mapping[str, _Spec]:
    try:
        model = _models.load_model(service)
    except (DataNotFoundError, UnknownServiceError):
        return {}
    meta = _models.service_index().services.get(service)
    protocol = meta.protocol if meta is not None else None
    shapes: Mapping[str, Any] = model.get("shapes", {})
    return {
        name: _spec(operation, shapes, protocol)
        for name, operation in model.get("operations", {}).items()
    }


def _spec(operation: Mapping[str, Any], shapes: Mapping[str, Any], protocol: str | None) -> _Spec:
    uri_path = str(operation.get("http", {}).get("requestUri", "/")).partition("?")[0]
    shape = shapes.get(operation.get("input", {}).get("shape", ""), {})
    members: Mapping[str, Any] = shape.get("members", {})
    labels: list[str] = []
    required: list[_Member] = []
    named: list[_Member] = []
    for name, ref in members.items():
        location = ref.get("location")
        if location == "uri":
            labels.append(str(ref.get("locationName", name)))
            continue
        target = shapes.get(ref.get("shape", ""), {})
        kind = target.get("type")
        is_list = (
            kind == "list"
            and shapes.get(target.get("member", {}).get("shape", ""), {}).get("type") == "string"
        )
        if kind != "string" and not is_list:
            continue
        member = _Member(
            wire=_wire_name(name, ref, target, protocol, location),
            location=location,
            is_list=is_list,
            flattened=bool(target.get("flattened") or ref.get("flattened")),
        )
        if name in shape.get("required", ()):
            required.append(member)
        elif _RESOURCE_LIKE.search(name):
            named.append(member)
    return _Spec(
        uri_path=uri_path,
        uri_labels=tuple(labels),
        members=(*required, *named),
    )


def _wire_name(
    name: str,
    ref: Mapping[str, Any],
    target: Mapping[str, Any],
    protocol: str | None,
    location: str | None,
) -> str:
    if protocol == "ec2":
        # botocore/serialize.py EC2Serializer._get_serialized_name: queryName, else the
        # locationName (or member name) with its first letter upper-cased.
        if "queryName" in ref:
            return str(ref["queryName"])
        located = str(ref.get("locationName", name))
        return located[:1].upper() + located[1:]
    if location is None and protocol in ("json", "smithy-rpc-v2-cbor"):
        return str(ref.get("locationName", name)) if protocol == "json" else name
    return str(ref.get("locationName", name))


def _from_uri(spec: _Spec, path: str) -> list[str]:
    template = _models.split_path(spec.uri_path)
    segments = _models.split_path(path)
    values: dict[str, str] = {}
    for index, part in enumerate(template):
        label = _LABEL.match(part)
        if label is None:
            continue
        if part.endswith("+}"):
            values[label.group(1)] = unquote("/".join(segments[index:]))
            break
        if index < len(segments):
            values[label.group(1)] = unquote(segments[index])
    return [values[label] for label in spec.uri_labels if values.get(label)]


def _request_values(
    protocol: Protocol | None, query_string: str, body: bytes | None
) -> Mapping[str, object]:
    """The request's named values: a JSON or CBOR body's top level, or the form's fields."""
    if protocol in (Protocol.QUERY, Protocol.EC2):
        form = dict(parse_qsl(query_string, keep_blank_values=True))
        if body:
            form.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return form
    if not body:
        return {}
    if protocol is Protocol.RPC_V2_CBOR:
        decoded = cbor2.loads(body)
    elif protocol in (Protocol.JSON, Protocol.REST_JSON):
        decoded = json.loads(body)
    else:
        return {}  # rest-xml bodies are not read: its resources are in the URI
    return decoded if isinstance(decoded, dict) else {}


def _value(member: _Member, values: Mapping[str, object], query_string: str) -> str | None:
    if member.location == "querystring":
        values = dict(parse_qsl(query_string, keep_blank_values=True))
    elif member.location is not None:
        return None  # headers name no resource the rule reads
    found = values.get(member.wire)
    if isinstance(found, str):
        return found or None
    if isinstance(found, list):
        return ",".join(str(item) for item in found if isinstance(item, str)) or None
    if member.is_list:
        # Query protocols flatten lists into numbered keys: Name.member.1 (query),
        # Name.1 (ec2, or a flattened query list).
        pattern = re.compile(rf"^{re.escape(member.wire)}\.(?:member\.)?(\d+)$")
        items = sorted(
            (int(match.group(1)), str(value))
            for key, value in values.items()
            if (match := pattern.match(key))
        )
        return ",".join(value for _, value in items) or None
    return None
