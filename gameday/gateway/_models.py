"""Indexes over botocore's service models for the gateway's classifier, built lazily and cached.

Everything here is computed once per process from the installed botocore data (and any extra
model folders botocore itself would search), so that the request path only does dict look-ups
and a short walk of a route trie:

- ``service_index()``: every service model's metadata, by model name, by SigV4 signing name
  and by JSON ``targetPrefix``;
- ``signing_routes(signing_name)``: the REST routes of the services signed that way, as a trie;
- ``unsigned_routes()`` / ``unsigned_actions()``: the operations that SDKs send unsigned;
- ``operation_names(service)`` / ``error_codes(service)``: for disambiguation and rendering.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote

from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import JSONFileLoader, Loader, create_loader

from gameday.scenario.botocore_data import service_metadata
from gameday.scenario.service_names import SIGNING_NAME_ALIASES, signing_name

REST_PROTOCOLS = ("rest-json", "rest-xml")
QUERY_PROTOCOLS = ("query", "ec2")

# botocore picks the first of these that a model lists (botocore/utils.py
# PRIORITY_ORDERED_SUPPORTED_PROTOCOLS); mirrored so the gateway guesses the same protocol for a
# request it could not read the protocol from.
_PRIORITY = ("json", "rest-json", "rest-xml", "smithy-rpc-v2-cbor", "query", "ec2")

UNSIGNED_SERVICES = ("cognito-identity", "cognito-idp", "signin", "sso", "sso-oidc", "sts")
"""Services with operations the SDKs send without a signature (``authtype: none`` or
``smithy.api#noAuth`` in the model). A test checks this list against the installed botocore."""

_XID = "x-id"
"""Query key some SDKs add to S3 requests naming the operation (JS v3, Go v2, Java v2)."""


@dataclass(frozen=True, slots=True)
class ServiceMeta:
    """What the classifier needs from one service model's ``metadata``."""

    name: str
    """botocore's service model name: ``cloudwatch``, ``sso-admin``, ``s3``."""
    signing_name: str
    """SigV4 signing name: ``signingName``, else ``endpointPrefix`` (botocore's own rule)."""
    protocols: tuple[str, ...]
    api_version: str | None
    """Sent as ``Version`` by the query protocols: tells elb (2012-06-01) from elbv2."""
    target_prefix: str | None
    json_version: str | None
    xml_namespace: str | None

    @property
    def protocol(self) -> str | None:
        """The protocol botocore would use for this service."""
        for protocol in _PRIORITY:
            if protocol in self.protocols:
                return protocol
        return self.protocols[0] if self.protocols else None


@dataclass(frozen=True, slots=True)
class ServiceIndex:
    services: Mapping[str, ServiceMeta]
    by_signing_name: Mapping[str, tuple[ServiceMeta, ...]]
    """Candidates per signing name; the model named like the signing name comes first."""
    by_target_prefix: Mapping[str, tuple[ServiceMeta, ...]]


@dataclass(frozen=True, slots=True)
class Route:
    """One REST operation: its request URI template and what else must be present."""

    service: str
    operation: str
    query: tuple[tuple[str, str | None], ...]
    """Query keys fixed by the URI template (``?uploads``, ``?list-type=2``), with the value
    the template requires, if any. ``x-id`` is kept apart in ``x_id``."""
    x_id: str | None
    required_query: tuple[str, ...]
    """Query keys of required input members (S3 UploadPart: partNumber, uploadId)."""
    required_headers: tuple[str, ...]
    """Lower-case header names of required input members (S3 CopyObject: x-amz-copy-source)."""
    rank: tuple[int, bool, int, int]
    """Lower wins among routes with the same path: most constrained, then not deprecated
    (S3 GetBucketLifecycle), then the first service for the signing name, then model order."""

    def accepts(self, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        for key, value in self.query:
            got = query.get(key)
            if got is None or (value is not None and got != value):
                return False
        for key in self.required_query:
            if key not in query:
                return False
        for name in self.required_headers:
            if name not in headers:
                return False
        # An SDK that names the operation in x-id names it for this route or another one.
        x_id = query.get(_XID)
        return x_id is None or self.x_id is None or x_id == self.x_id


def _rank(route: Route) -> tuple[int, bool, int, int]:
    return route.rank


class _Leaf:
    """The routes that share one path template, indexed by the first query key they fix, so
    that S3's forty ``GET /{Bucket}?subresource`` routes cost one dict look-up per key."""

    __slots__ = ("keyed", "plain")

    def __init__(self) -> None:
        self.keyed: dict[str, list[Route]] = {}
        self.plain: list[Route] = []

    def add(self, route: Route) -> None:
        if route.query:
            self.keyed.setdefault(route.query[0][0], []).append(route)
        else:
            self.plain.append(route)

    def finish(self) -> None:
        self.plain.sort(key=_rank)
        for routes in self.keyed.values():
            routes.sort(key=_rank)

    def pick(self, query: Mapping[str, str], headers: Mapping[str, str]) -> Route | None:
        candidates = self.plain
        if self.keyed and query:
            keyed = [route for key in query for route in self.keyed.get(key, ())]
            if keyed:
                candidates = sorted(keyed + self.plain, key=_rank)
        x_id = query.get(_XID)
        first: Route | None = None
        for route in candidates:
            if route.accepts(query, headers):
                if x_id is None or route.operation == x_id:
                    return route
                if first is None:
                    first = route
        return first


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    label: _Node | None = None
    leaf: _Leaf | None = None
    greedy: list[tuple[tuple[str | None, ...], _Leaf]] = field(default_factory=list)
    """Routes whose greedy label (``{Key+}``) starts here, grouped by the segments that follow
    it (``None`` for a label): ``/portals/{portalArn+}/browserSettings`` has a suffix."""

    def finish(self) -> None:
        if self.leaf is not None:
            self.leaf.finish()
        self.greedy.sort(key=lambda tail: -len(tail[0]))
        for _, leaf in self.greedy:
            leaf.finish()
        for child in self.literals.values():
            child.finish()
        if self.label is not None:
            self.label.finish()


def split_path(path: str) -> list[str]:
    """Path segments as routes compare them: no leading slash, one trailing slash ignored."""
    segments = path.split("/")
    if segments and segments[0] == "":
        segments = segments[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    return segments


class RouteTable:
    """REST routes by method, as a trie over path segments.

    Matching prefers, at the first segment where routes differ, a literal segment over a label
    over a greedy label; among routes with the same path it takes the first whose query and
    header constraints hold, most constrained first (S3: UploadPartCopy before UploadPart
    before PutObject).
    """

    __slots__ = ("_roots",)

    def __init__(self, routes: Iterable[tuple[str, str, Route]]) -> None:
        self._roots: dict[str, _Node] = {}
        for method, uri_path, route in routes:
            self._add(method, uri_path, route)
        for root in self._roots.values():
            root.finish()

    def _add(self, method: str, uri_path: str, route: Route) -> None:
        node = self._roots.setdefault(method, _Node())
        segments = split_path(uri_path)
        for index, segment in enumerate(segments):
            if segment.startswith("{") and segment.endswith("+}"):
                suffix = tuple(_template_segment(s) for s in segments[index + 1 :])
                for known, leaf in node.greedy:
                    if known == suffix:
                        leaf.add(route)
                        return
                leaf = _Leaf()
                leaf.add(route)
                node.greedy.append((suffix, leaf))
                return
            if segment.startswith("{") and segment.endswith("}"):
                if node.label is None:
                    node.label = _Node()
                node = node.label
            else:
                node = node.literals.setdefault(unquote(segment), _Node())
        if node.leaf is None:
            node.leaf = _Leaf()
        node.leaf.add(route)

    def match(
        self, method: str, segments: list[str], query: Mapping[str, str], headers: Mapping[str, str]
    ) -> Route | None:
        root = self._roots.get(method)
        if root is None:
            return None
        return _match(root, segments, 0, query, headers)


def _template_segment(segment: str) -> str | None:
    return None if segment.startswith("{") else unquote(segment)


def _match(
    node: _Node,
    segments: list[str],
    index: int,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> Route | None:
    if index == len(segments):
        return node.leaf.pick(query, headers) if node.leaf is not None else None
    child = node.literals.get(segments[index])
    if child is not None:
        found = _match(child, segments, index + 1, query, headers)
        if found is not None:
            return found
    if node.label is not None and segments[index]:
        found = _match(node.label, segments, index + 1, query, headers)
        if found is not None:
            return found
    remaining = len(segments) - index
    for suffix, leaf in node.greedy:
        # The greedy label takes at least one segment, the suffix the last len(suffix).
        if remaining <= len(suffix):
            continue
        if suffix and not all(
            want is None or want == got
            for want, got in zip(suffix, segments[len(segments) - len(suffix) :], strict=True)
        ):
            continue
        found = leaf.pick(query, headers)
        if found is not None:
            return found
    return None


@functools.cache
def _loader() -> Loader:
    # The same search path botocore's session uses: AWS_DATA_PATH, ~/.aws/models, the package.
    return create_loader(os.environ.get("AWS_DATA_PATH"))


def _model_file(name: str) -> str | None:
    """The path of a service's newest service-2 file, as botocore's loader would pick it."""
    loader = _loader()
    try:
        version = loader.determine_latest_version(name, "service-2")
    except (DataNotFoundError, UnknownServiceError):
        return None
    for base in loader.search_paths:
        stem = os.path.join(base, name, version, "service-2")
        for extension in (".json", ".json.gz"):
            if os.path.isfile(stem + extension):
                return stem + extension
    return None


def _read_metadata(name: str) -> dict[str, Any]:
    """A model's metadata from the first bytes of its file (``service_metadata``: one reader
    for the gateway and ``validate``); botocore's full load for a name that index lacks."""
    try:
        return dict(service_metadata(name))
    except KeyError:
        return cast(dict[str, Any], load_model(name)["metadata"])


def load_model(name: str) -> dict[str, Any]:
    """A service's full service-2 model, not kept in botocore's loader cache (models are big;
    the gateway keeps only the compact tables it builds from them)."""
    path = _model_file(name)
    if path is not None:
        model = JSONFileLoader().load_file(path.removesuffix(".gz").removesuffix(".json"))
        if isinstance(model, dict):
            return model
    return cast(dict[str, Any], _loader().load_service_model(name, "service-2"))


def _meta(name: str, metadata: Mapping[str, Any]) -> ServiceMeta:
    protocols = metadata.get("protocols") or [metadata.get("protocol", "")]
    return ServiceMeta(
        name=name,
        signing_name=signing_name(name, metadata),
        protocols=tuple(str(p) for p in protocols if p),
        api_version=metadata.get("apiVersion"),
        target_prefix=metadata.get("targetPrefix"),
        json_version=metadata.get("jsonVersion"),
        xml_namespace=metadata.get("xmlNamespace"),
    )


@functools.cache
def service_index() -> ServiceIndex:
    """All service models' metadata, indexed; built on first use (tens of milliseconds)."""
    services: dict[str, ServiceMeta] = {}
    by_signing: dict[str, list[ServiceMeta]] = {}
    by_target: dict[str, list[ServiceMeta]] = {}
    for name in _loader().list_available_services("service-2"):
        meta = _meta(name, _read_metadata(name))
        services[name] = meta
        by_signing.setdefault(meta.signing_name, []).append(meta)
        if meta.target_prefix:
            by_target.setdefault(meta.target_prefix, []).append(meta)

    def primary_first(key: str) -> Callable[[ServiceMeta], tuple[bool, str]]:
        return lambda meta: (meta.name != key, meta.name)

    ordered = {k: sorted(v, key=primary_first(k)) for k, v in by_signing.items()}
    for alias, names in SIGNING_NAME_ALIASES.items():
        ordered.setdefault(alias, []).extend(services[n] for n in names if n in services)
    return ServiceIndex(
        services=services,
        by_signing_name={k: tuple(v) for k, v in ordered.items()},
        by_target_prefix={k: tuple(v) for k, v in by_target.items()},
    )


def _unsigned(operation: Mapping[str, Any]) -> bool:
    return operation.get("authtype") == "none" or operation.get("auth") == ["smithy.api#noAuth"]


def _routes_of(
    name: str, model: Mapping[str, Any], *, service_rank: int = 0, only_unsigned: bool = False
) -> list[tuple[str, str, Route]]:
    shapes: Mapping[str, Any] = model.get("shapes", {})
    found: list[tuple[str, str, Route]] = []
    for order, (op_name, operation) in enumerate(model.get("operations", {}).items()):
        if only_unsigned and not _unsigned(operation):
            continue
        http = operation.get("http", {})
        method = str(http.get("method", "POST")).upper()
        uri_path, _, uri_query = str(http.get("requestUri", "/")).partition("?")
        query: list[tuple[str, str | None]] = []
        x_id: str | None = None
        for part in uri_query.split("&") if uri_query else ():
            key, equals, value = part.partition("=")
            if key == _XID:
                x_id = value
            else:
                query.append((key, value if equals else None))
        required_query: list[str] = []
        required_headers: list[str] = []
        input_shape = shapes.get(operation.get("input", {}).get("shape", ""), {})
        members: Mapping[str, Any] = input_shape.get("members", {})
        for member in input_shape.get("required", ()):
            spec = members.get(member, {})
            location = spec.get("location")
            if location == "querystring":
                required_query.append(str(spec.get("locationName", member)))
            elif location == "header":
                required_headers.append(str(spec.get("locationName", member)).lower())
        constraints = len(query) + len(required_query) + len(required_headers)
        route = Route(
            service=name,
            operation=op_name,
            query=tuple(query),
            x_id=x_id,
            required_query=tuple(required_query),
            required_headers=tuple(required_headers),
            rank=(-constraints, bool(operation.get("deprecated", False)), service_rank, order),
        )
        found.append((method, uri_path, route))
    return found


_NO_ROUTES = RouteTable(())


def signing_routes(signing_name: str) -> RouteTable:
    """The REST routes of every service signed as ``signing_name``, in one trie: s3 and
    s3control, lambda and its siblings. On a tie the service named like the signing name
    wins (the candidates' order in ``service_index``)."""
    candidates = service_index().by_signing_name.get(signing_name)
    if not candidates:
        return _NO_ROUTES  # not cached: signing names come from requests, any string at all
    return _signing_routes(signing_name, candidates)


@functools.cache
def _signing_routes(signing_name: str, candidates: tuple[ServiceMeta, ...]) -> RouteTable:
    found: list[tuple[str, str, Route]] = []
    for rank, meta in enumerate(candidates):
        if not any(p in REST_PROTOCOLS for p in meta.protocols):
            continue
        try:
            model = load_model(meta.name)
        except (DataNotFoundError, UnknownServiceError):
            continue
        found.extend(_routes_of(meta.name, model, service_rank=rank))
    return RouteTable(found)


@functools.cache
def unsigned_routes() -> RouteTable:
    """REST routes of the operations SDKs send unsigned (SSO portal, SSO OIDC tokens...)."""
    index = service_index()
    found: list[tuple[str, str, Route]] = []
    for name in UNSIGNED_SERVICES:
        meta = index.services.get(name)
        if meta is not None and meta.protocol in REST_PROTOCOLS:
            found.extend(_routes_of(name, load_model(name), only_unsigned=True))
    return RouteTable(found)


@functools.cache
def unsigned_actions() -> Mapping[str, str]:
    """Query-protocol operations sent unsigned (STS AssumeRoleWithWebIdentity/SAML): service
    by Action."""
    index = service_index()
    found: dict[str, str] = {}
    for name in UNSIGNED_SERVICES:
        meta = index.services.get(name)
        if meta is None or not any(p in QUERY_PROTOCOLS for p in meta.protocols):
            continue
        for op_name, operation in load_model(name).get("operations", {}).items():
            if _unsigned(operation):
                found.setdefault(op_name, name)
    return found


@functools.cache
def operation_names(name: str) -> frozenset[str]:
    try:
        return frozenset(load_model(name).get("operations", {}))
    except (DataNotFoundError, UnknownServiceError):
        return frozenset()


@functools.cache
def error_codes(name: str) -> frozenset[str]:
    """The error codes a service models (shape name, or its ``error.code`` when set)."""
    try:
        shapes: Mapping[str, Any] = load_model(name).get("shapes", {})
    except (DataNotFoundError, UnknownServiceError):
        return frozenset()
    return frozenset(
        str(shape.get("error", {}).get("code") or shape_name)
        for shape_name, shape in shapes.items()
        if shape.get("exception")
    )
