"""Which AWS services and region a CONNECT's host name stands for, and whether to decrypt it.

A CONNECT names only a host, so the choice to decrypt is made from the host name; each request
inside is then classified in full by the gateway's classifier (its SigV4 scope, target, path).

>>> scope_of("logs.us-east-1.amazonaws.com")   # HostScope(names={"logs"}, region="us-east-1")
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from gameday.egress.ca import PERMITTED_SUFFIXES
from gameday.gateway.store import ActiveFault
from gameday.scenario.botocore_data import service_metadata, service_model_files
from gameday.scenario.service_names import REGISTRY_SERVICE, signing_name

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
# Endpoints without a region in their name sign for us-east-1 (botocore's endpoints.json
# partitionEndpoint "aws-global" of iam, sts, route53, organizations...).
_GLOBAL_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class HostScope:
    """The service names (model and signing names) and the region a host name tells."""

    names: frozenset[str]
    region: str | None


@functools.cache
def _by_endpoint_prefix() -> Mapping[str, frozenset[str]]:
    names: dict[str, set[str]] = {}
    for service in service_model_files():
        metadata = service_metadata(service)
        prefix = str(metadata.get("endpointPrefix") or service)
        names.setdefault(prefix, set()).update({service, signing_name(service, metadata)})
    return {prefix: frozenset(found) for prefix, found in names.items()}


def warm() -> None:
    """Read the models' endpoint prefixes now rather than on the first CONNECT."""
    _by_endpoint_prefix()


def _suffix(host: str) -> str | None:
    for suffix in sorted(PERMITTED_SUFFIXES, key=len, reverse=True):
        if host == suffix or host.endswith("." + suffix):
            return suffix
    return None


def scope_of(host: str) -> HostScope | None:
    """The scope of an AWS host name; None for any other host (never decrypted)."""
    host = host.lower().rstrip(".")
    suffix = _suffix(host)
    if suffix is None:
        return None
    labels = host[: -len(suffix)].rstrip(".").split(".") if host != suffix else []
    region = next((label for label in labels if _REGION.fullmatch(label)), None)
    if region is None and suffix == "amazonaws.com":
        region = _GLOBAL_REGION
    prefixes = _by_endpoint_prefix()
    names: set[str] = set()
    # Endpoint prefixes may hold dots (api.ecr, data-ats.iot): every run of labels is tried,
    # which also finds s3 behind a virtual-hosted bucket's name.
    for start in range(len(labels)):
        for end in range(start + 1, len(labels) + 1):
            names |= prefixes.get(".".join(labels[start:end]), frozenset())
    if "dkr" in labels:
        names.add(REGISTRY_SERVICE)
    return HostScope(frozenset(names), region)


def targeted(host: str, faults: Iterable[ActiveFault]) -> bool:
    """Whether an active fault may match calls to ``host``: only then is it decrypted.

    Decided from the host name, so it errs on the side of decrypting: each request is still
    matched in full, and one a fault does not match is forwarded byte-identical.
    """
    scope = scope_of(host)
    if scope is None:
        return False
    return any(covers(scope, fault.services, fault.regions) for fault in faults)


def covers(scope: HostScope, services: Collection[str], regions: Collection[str]) -> bool:
    """Whether a fault on ``services`` in ``regions`` (empty: every) may match a host of
    ``scope``: the one rule for the proxy's choice and for ``plan``'s list of hosts."""
    if services and scope.names.isdisjoint(services):
        return False
    return not (regions and scope.region is not None and scope.region not in regions)


def candidate_hosts(service: str, region: str) -> tuple[str, ...]:
    """The endpoint host names of ``service`` in ``region`` an SDK may call (standard and
    dual-stack; the global name of a service whose home is us-east-1), for ``plan``."""
    if service == REGISTRY_SERVICE:
        return (f"*.dkr.ecr.{region}.amazonaws.com",)
    try:
        metadata = service_metadata(service)
    except (KeyError, OSError, ValueError):
        metadata = {}
    prefix = str(metadata.get("endpointPrefix") or service)
    hosts = [f"{prefix}.{region}.amazonaws.com", f"{prefix}.{region}.api.aws"]
    global_endpoint = metadata.get("globalEndpoint")
    if region == _GLOBAL_REGION and isinstance(global_endpoint, str):
        hosts.append(global_endpoint)
    return tuple(hosts)
