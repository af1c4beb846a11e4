"""The one table of which services each fault kind takes away (DESIGN.md "Fault kinds").

Service names are those a request is known by at the gateway: the SigV4 signing name or the
botocore service name (``monitoring`` and ``cloudwatch`` both name CloudWatch metrics).
``registry`` names the registry's v2 API (image pulls), which is not signed with SigV4.
"""

from __future__ import annotations

from gameday.kinds import Capability
from gameday.scenario.models import (
    ApiFault,
    FaultKind,
    FaultVariant,
    FisAction,
    IdentityLoss,
    LoggingLoss,
    RegionLoss,
)

KIND_SERVICES: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.IDENTITY_LOSS: (
        "sts",
        "iam",
        "sso",
        "sso-oidc",
        "identitystore",
        "sso-admin",
        "cognito-identity",
    ),
    FaultKind.LOGGING_LOSS: ("logs", "cloudtrail"),
    FaultKind.REGISTRY_LOSS: ("ecr", "ecr-public", "registry"),
}

FEDERATION_OPERATIONS: tuple[str, ...] = ("AssumeRoleWithSAML", "AssumeRoleWithWebIdentity")
"""What an external identity provider's outage breaks: only federated sign-in to STS."""

GLOBAL_SERVICES: tuple[str, ...] = ("iam", "route53", "cloudfront", "organizations", "sts")
"""Global services homed in us-east-1; their requests are signed for us-east-1."""

GLOBAL_HOME_REGION = "us-east-1"

KIND_CAPABILITY: dict[FaultKind, Capability | None] = {
    FaultKind.IDENTITY_LOSS: Capability.IDENTITY,
    FaultKind.LOGGING_LOSS: Capability.LOGGING,
    FaultKind.REGISTRY_LOSS: Capability.REGISTRY,
    FaultKind.REGION_LOSS: Capability.REGION,
    FaultKind.API_FAULT: None,
    FaultKind.FIS_ACTION: None,
}


def services_for(fault: FaultVariant) -> tuple[str, ...]:
    """The services a fault takes away; empty for region-loss, which takes every service."""
    if isinstance(fault, IdentityLoss) and fault.federation_only:
        return ("sts",)
    if isinstance(fault, LoggingLoss):
        return KIND_SERVICES[FaultKind.LOGGING_LOSS] + fault.include
    if isinstance(fault, ApiFault):
        return fault.services
    if isinstance(fault, RegionLoss | FisAction):
        return ()
    return KIND_SERVICES[fault.kind]
