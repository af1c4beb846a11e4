"""Which service and operation names a fault may name: those some request can be classified
as. A fault naming ``dynamo`` or ``PutItemz`` would be accepted and never fire, so it is refused
with the nearest valid names: by ``gameday validate`` (and so ``plan`` and ``run``) for a
scenario, by the gateway's admin API for a rule.

Names come from botocore's models, as the gateway's classifier reads requests: a service is a
model name (``cloudwatch``) or a SigV4 signing name (``monitoring``, and the names S3 endpoint
rules sign with), or ``registry`` for the container registry API; an operation is one of those
services' operations.

>>> problem_in(("dynamo",), (), ("PutItem",), field="match")
('match.services.0', "unknown service 'dynamo' (did you mean dynamodb?)")
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gameday.scenario.botocore_data import (
    service_metadata,
    service_model_files,
    service_operations,
)

REGISTRY_SERVICE = "registry"
"""The service name of registry (v2 API) traffic in fault matching (DESIGN.md registry-loss)."""

REGISTRY_OPERATIONS = frozenset(
    {"Ping", "Catalog", "GetManifest", "PutManifest", "DeleteManifest", "GetBlob", "DeleteBlob",
     "InitiateBlobUpload", "UploadBlob", "ListTags", "ListReferrers"}
)  # fmt: skip
"""Every operation name the gateway gives a registry request."""

SIGNING_NAME_ALIASES: Mapping[str, tuple[str, ...]] = {
    "s3express": ("s3", "s3control"),
    "s3-object-lambda": ("s3",),
    "s3-outposts": ("s3", "s3control"),
}
"""Signing names that endpoint rule sets give some S3 requests (``authSchemes`` in
botocore/data/s3*/*/endpoint-rule-set-1.json: directory buckets, Object Lambda, Outposts)
instead of the model's own signing name. A test checks them against the installed botocore."""


def signing_name(service: str, metadata: Mapping[str, Any]) -> str:
    """A model's SigV4 signing name: ``signingName``, else ``endpointPrefix`` (botocore's own
    rule), else the model's name."""
    return str(metadata.get("signingName") or metadata.get("endpointPrefix") or service)


@functools.cache
def _models_by_signing_name() -> Mapping[str, frozenset[str]]:
    by_signing: dict[str, set[str]] = {}
    for service in service_model_files():
        by_signing.setdefault(signing_name(service, service_metadata(service)), set()).add(service)
    for alias, services in SIGNING_NAME_ALIASES.items():
        by_signing.setdefault(alias, set()).update(services)
    return {name: frozenset(models) for name, models in by_signing.items()}


@functools.cache
def service_names() -> frozenset[str]:
    """Every name a fault's ``services`` entry can match a request by (reads every model's
    metadata the first time: tens of milliseconds)."""
    models = service_model_files()
    return frozenset(models) | frozenset(_models_by_signing_name()) | {REGISTRY_SERVICE}


def _is_service(name: str) -> bool:
    # A model name needs no metadata: most faults name models, and validate stays fast.
    return name in service_model_files() or name in service_names()


def operations_of(service: str) -> frozenset[str]:
    """The operations of the models a service name stands for: the model of that name and
    every model signed with that name."""
    if service == REGISTRY_SERVICE:
        return REGISTRY_OPERATIONS
    models = set(_models_by_signing_name().get(service, ()))
    if service in service_model_files():
        models.add(service)
    return frozenset().union(*(service_operations(model) or () for model in models))


@functools.cache
def all_operations() -> frozenset[str]:
    """Every operation of every model: about 1.5 s to build the first time (each model read
    in full), so only a fault naming operations without services pays for it."""
    return REGISTRY_OPERATIONS.union(
        *(service_operations(model) or () for model in service_model_files())
    )


_ServiceField = Literal["services", "exclude_services"]


@dataclass(frozen=True, slots=True)
class NameProblem:
    """A name no request can be classified as: where it is in the fault, and what is wrong."""

    field: _ServiceField | Literal["operations"]
    index: int
    message: str


def name_problems(
    services: Sequence[str],
    operations: Sequence[str],
    exclude_services: Sequence[str] = (),
) -> list[NameProblem]:
    """Every unknown service, then (when every service is known) every operation none of
    ``services`` has, or none at all has when no service is named; each with its suggestion."""
    fields: tuple[tuple[_ServiceField, Sequence[str]], ...] = (
        ("services", services),
        ("exclude_services", exclude_services),
    )
    problems = [
        NameProblem(key, i, f"unknown service {name!r}{suggest(name, service_names())}")
        for key, names in fields
        for i, name in enumerate(names)
        if not _is_service(name)
    ]
    if problems or not operations:
        return problems  # the operations of a misspelt service are not worth guessing at
    if services:
        direct = frozenset().union(*(service_operations(name) or () for name in services))
        if all(operation in direct for operation in operations):
            return []  # the usual case, without the signing-name index
        valid = frozenset().union(*(operations_of(name) for name in services))
        scope = f"no service of this fault ({', '.join(services)}) has"
    else:
        valid = all_operations()
        scope = "no service has"
    return [
        NameProblem("operations", i, f"{scope} an operation {name!r}{suggest(name, valid)}")
        for i, name in enumerate(operations)
        if name not in valid
    ]


def problem_in(
    services: Sequence[str],
    exclude_services: Sequence[str],
    operations: Sequence[str],
    *,
    field: str,
    singular: bool = False,
) -> tuple[str, str] | None:
    """The first name that cannot match any request, as (field path, message), or None.

    ``field`` prefixes the path (``match``, or ``3`` for the fourth chaos rule); ``singular``
    names fields as the LocalStack Chaos API does (``service``, not ``services.0``).
    """
    problems = name_problems(services, operations, exclude_services)
    if not problems:
        return None
    first = problems[0]
    name = first.field.removesuffix("s") if singular else f"{first.field}.{first.index}"
    return (f"{field}.{name}" if field else name), first.message


def suggest(name: str, valid: Iterable[str]) -> str:
    """`` (did you mean X, Y or Z?)``: the closest of ``valid``, case aside."""
    by_lower: dict[str, str] = {}
    for candidate in valid:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), by_lower, n=3, cutoff=0.6)
    if not close:
        return " (no close match among botocore's names)"
    names = [by_lower[c] for c in close]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f" (did you mean {listed}?)"
