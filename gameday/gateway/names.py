"""Which service and operation names a fault may name: those some request can be classified
as. A rule naming ``dynamo`` or ``PutItemz`` would be accepted and never fire, so it is refused
with the nearest valid names.

Names come from botocore's models, as the classifier reads them (``_models``): a service is a
model name (``cloudwatch``) or a SigV4 signing name (``monitoring``), or ``registry`` for the
container registry API; an operation is one of those services' operations.

>>> problem_in(("dynamo",), (), ("PutItem",), field="match")
('match.services.0', "unknown service 'dynamo' (did you mean dynamodb?)")
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence

from gameday.gateway import _models
from gameday.gateway.classify import REGISTRY_OPERATIONS, REGISTRY_SERVICE


@functools.cache
def service_names() -> frozenset[str]:
    """Every name a fault's ``services`` entry can match a request by."""
    index = _models.service_index()
    return frozenset(index.services) | frozenset(index.by_signing_name) | {REGISTRY_SERVICE}


def operations_of(service: str) -> frozenset[str]:
    """The operations of the models a service name stands for (a signing name: all of them)."""
    if service == REGISTRY_SERVICE:
        return REGISTRY_OPERATIONS
    index = _models.service_index()
    models = {meta.name for meta in index.by_signing_name.get(service, ())}
    if service in index.services:
        models.add(service)
    return frozenset().union(*(_models.operation_names(name) for name in models))


@functools.cache
def all_operations() -> frozenset[str]:
    """Every operation of every model: about 1.5 s to build the first time (each model read
    in full), so only a rule naming operations without services pays for it."""
    return REGISTRY_OPERATIONS.union(
        *(_models.operation_names(name) for name in _models.service_index().services)
    )


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
    known = service_names()
    for key, names in (("services", services), ("exclude_services", exclude_services)):
        for i, name in enumerate(names):
            if name not in known:
                where = _where(field, "service" if singular else f"{key}.{i}")
                return where, f"unknown service {name!r}{_suggest(name, known)}"
    if not operations:
        return None
    if services:
        valid = frozenset().union(*(operations_of(name) for name in services))
        scope = f"no service of this fault ({', '.join(services)}) has"
    else:
        valid = all_operations()
        scope = "no service has"
    for i, operation in enumerate(operations):
        if operation not in valid:
            where = _where(field, "operation" if singular else f"operations.{i}")
            return where, f"{scope} an operation {operation!r}{_suggest(operation, valid)}"
    return None


def _where(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _suggest(name: str, valid: Iterable[str]) -> str:
    by_lower: dict[str, str] = {}
    for candidate in valid:
        by_lower.setdefault(candidate.lower(), candidate)
    close = difflib.get_close_matches(name.lower(), by_lower, n=3, cutoff=0.6)
    if not close:
        return " (no close match among botocore's names)"
    names = [by_lower[c] for c in close]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f" (did you mean {listed}?)"
