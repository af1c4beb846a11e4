"""The one table of endpoint host names per service, for network faults on a real account.

FIS has no action that takes STS, Logs or ECR away by name; packet loss to the service's endpoint
host names does (the ``Sources`` of AWSFIS-Run-Network-Packet-Loss-Sources and of the ECS and
EKS network actions take "a domain name", per
https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html). Service names are
those of ``gameday.faults.catalog``; the host names are botocore's own endpoint resolution
(``tests/unit/fis/test_endpoints.py`` checks them against it), with ``{region}`` and, for the
registry's v2 API, ``{account}`` filled in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gameday.errors import InvalidInputError
from gameday.faults.catalog import GLOBAL_HOME_REGION

REGIONAL_HOSTS: Mapping[str, tuple[str, ...]] = {
    "sts": ("sts.{region}.amazonaws.com",),
    "sso": ("portal.sso.{region}.amazonaws.com",),
    "sso-oidc": ("oidc.{region}.amazonaws.com",),
    "identitystore": ("identitystore.{region}.amazonaws.com",),
    "sso-admin": ("sso.{region}.amazonaws.com",),
    "cognito-identity": ("cognito-identity.{region}.amazonaws.com",),
    "logs": ("logs.{region}.amazonaws.com",),
    "cloudtrail": ("cloudtrail.{region}.amazonaws.com",),
    "firehose": ("firehose.{region}.amazonaws.com",),
    "kinesis": ("kinesis.{region}.amazonaws.com",),
    "monitoring": ("monitoring.{region}.amazonaws.com",),
    "cloudwatch": ("monitoring.{region}.amazonaws.com",),
    "ecr": ("api.ecr.{region}.amazonaws.com",),
    # The registry's v2 API (image pulls) is served from the account's own host name.
    "registry": ("{account}.dkr.ecr.{region}.amazonaws.com",),
}
"""Services with an endpoint in every region."""

GLOBAL_HOSTS: Mapping[str, tuple[str, ...]] = {
    "sts": ("sts.amazonaws.com",),
    "iam": ("iam.amazonaws.com",),
    "route53": ("route53.amazonaws.com",),
    "cloudfront": ("cloudfront.amazonaws.com",),
    "organizations": ("organizations.us-east-1.amazonaws.com",),
    # ECR Public's API lives in us-east-1; its registry is public.ecr.aws.
    "ecr-public": ("api.ecr-public.us-east-1.amazonaws.com", "public.ecr.aws"),
}
"""Global endpoints, homed in us-east-1: a fault there takes them too (DESIGN.md "Fault kinds")."""

MAX_SOURCES_CHARS = 1024
"""FIS action parameter values are at most 1024 characters (botocore's fis model)."""


def _hosts(service: str, region: str, accounts: tuple[str, ...]) -> list[str]:
    hosts: list[str] = []
    for pattern in REGIONAL_HOSTS.get(service, ()):
        if "{account}" in pattern:
            hosts += [pattern.format(region=region, account=a) for a in accounts]
        else:
            hosts.append(pattern.format(region=region))
    if region == GLOBAL_HOME_REGION:
        hosts += GLOBAL_HOSTS.get(service, ())
    return hosts


def endpoint_hosts(
    services: Iterable[str], regions: Iterable[str], accounts: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The host names that serve ``services`` in ``regions``, sorted, each once.

    ``accounts`` fills the registry host names; a service this table does not know is an error
    (a fault that silently spared it would pass a drill it should fail).
    """
    wanted = list(services)
    unknown = [s for s in wanted if s not in REGIONAL_HOSTS and s not in GLOBAL_HOSTS]
    if unknown:
        raise InvalidInputError(
            f"no endpoint host names known for service {unknown[0]!r}",
            hint=f"known: {', '.join(sorted({*REGIONAL_HOSTS, *GLOBAL_HOSTS}))}",
        )
    if "registry" in wanted and not accounts:
        raise InvalidInputError(
            "registry loss needs the registry's account to name its host "
            "(ACCOUNT.dkr.ecr.REGION.amazonaws.com)",
            hint="set 'accounts' (or 'registry.accounts') in the environment file",
        )
    hosts = {h for region in regions for s in wanted for h in _hosts(s, region, accounts)}
    return tuple(sorted(hosts))


def sources_text(hosts: tuple[str, ...], what: str) -> str:
    """``hosts`` as FIS's comma-separated ``sources`` value, checked against its length limit."""
    text = ",".join(hosts)
    if len(text) > MAX_SOURCES_CHARS:
        raise InvalidInputError(
            f"{what}: {len(hosts)} endpoint host names make a sources list of {len(text)} "
            f"characters; FIS takes at most {MAX_SOURCES_CHARS}",
            hint="split the fault by region, or use interface VPC endpoints",
        )
    return text
