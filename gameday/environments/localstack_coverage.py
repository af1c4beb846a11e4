"""Which of a scenario's needs a LocalStack does not serve (DESIGN.md "Environments").

LocalStack's free edition has no ECR, CloudTrail or FIS. A drill that needs one of them is
refused before anything starts, with each missing service named together with what needs it:

- a *fault* needs its services as a whole: a fault none of whose services LocalStack serves
  would take away nothing (registry-loss: ecr, ecr-public, registry). A fault that still takes
  away some served service runs; the services it lists that LocalStack does not serve are only
  noted (identity-loss lists sso, identitystore... beside sts and iam), since failing calls
  nobody can make changes nothing;
- a *setup* resource needs the service that creates it (repository: ecr);
- a *probe* needs the service it calls (an aws probe) or reads back from (a data probe reading
  a log group: logs).

>>> coverage = check_coverage(scenario, served)
>>> coverage.missing  # {"ecr": ("fault ecr-down (registry-loss)", "setup[3] repository demo/app")}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gameday.faults.catalog import services_for
from gameday.scenario.models import AwsProbe, DataProbe, RegionLoss, Scenario
from gameday.scenario.target import (
    BucketSetup,
    CallSetup,
    LogGroupSetup,
    RepositorySetup,
    RoleSetup,
    SetupResource,
    TableSetup,
    UserSetup,
)

SERVING_STATES = frozenset({"available", "running", "starting"})
"""States in /_localstack/health of a service that answers; ``available`` ones start on their
first request. Others (``disabled``, ``error``, ``stopped``...) and absent ones do not."""

# The gateway knows a request by its SigV4 signing name; LocalStack names a service by
# botocore's service name. Where they differ, LocalStack's name. ``registry`` is the v2 image
# API, which LocalStack serves as part of ECR.
_LOCALSTACK_NAME = {
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
    "email": "ses",
    "execute-api": "apigateway",
    "registry": "ecr",
}

FREE_EDITION_VERSION = "2026.3.0"
FREE_EDITION_SERVICES = frozenset(
    {
        "acm", "apigateway", "cloudformation", "cloudwatch", "config", "dynamodb",
        "dynamodbstreams", "ec2", "es", "events", "firehose", "iam", "kinesis", "kms", "lambda",
        "logs", "opensearch", "redshift", "resource-groups", "resourcegroupstaggingapi",
        "route53", "route53resolver", "s3", "s3control", "scheduler", "secretsmanager", "ses",
        "sns", "sqs", "ssm", "stepfunctions", "sts", "support", "swf", "transcribe",
    }
)  # fmt: skip
"""What the free edition serves: the services /_localstack/health lists for localstack-core
2026.3.0 (the release CI runs, ci/localstack-constraints.txt). ``plan`` judges by this list
when no LocalStack answers; anything else (ecr, cloudtrail, fis, sso, cognito...) is missing."""


def localstack_name(service: str) -> str:
    """LocalStack's name for a service as gameday knows it (signing or botocore name)."""
    return _LOCALSTACK_NAME.get(service, service)


@dataclass(frozen=True)
class ServedServices:
    """The services one LocalStack serves, and where that list came from."""

    url: str
    services: Mapping[str, str]
    """service -> state, as /_localstack/health reports it."""
    live: bool
    """Read from the running LocalStack; False: the free edition's known list (none answered)."""
    version: str | None = None

    def serves(self, service: str) -> bool:
        """Whether requests for ``service`` (a gameday name) get answers."""
        return self.services.get(localstack_name(service)) in SERVING_STATES

    def describe(self) -> str:
        """``LocalStack 2026.3.0 at http://localhost:4566``, or what was assumed instead."""
        if self.live:
            version = f" {self.version}" if self.version else ""
            return f"LocalStack{version} at {self.url}"
        return (
            f"the LocalStack free edition ({FREE_EDITION_VERSION}'s services; "
            f"none answered at {self.url})"
        )


def known_free_edition(url: str) -> ServedServices:
    """The free edition's services, for a plan made while no LocalStack answers."""
    return ServedServices(
        url=url,
        services=dict.fromkeys(sorted(FREE_EDITION_SERVICES), "available"),
        live=False,
        version=FREE_EDITION_VERSION,
    )


@dataclass(frozen=True)
class Coverage:
    """What a scenario needs that LocalStack does not serve."""

    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """service -> what needs it; the drill cannot run while this is not empty."""
    moot: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """fault -> the services it lists that are not served, beside served ones: failing those
    changes nothing there, and the drill still runs."""

    @property
    def ok(self) -> bool:
        """Every need is served."""
        return not self.missing


def _setup_service(resource: SetupResource) -> str:
    if isinstance(resource, LogGroupSetup):
        return "logs"
    if isinstance(resource, RepositorySetup):
        return "ecr"
    if isinstance(resource, BucketSetup):
        return "s3"
    if isinstance(resource, TableSetup):
        return "dynamodb"
    if isinstance(resource, RoleSetup | UserSetup):
        return "iam"
    return resource.service


def _setup_label(index: int, resource: SetupResource) -> str:
    name = (
        f"{resource.service}.{resource.call}" if isinstance(resource, CallSetup) else resource.name
    )
    return f"setup[{index}] {resource.kind.value} {name}"


def _add(needs: dict[str, list[str]], service: str, what: str) -> None:
    whats = needs.setdefault(localstack_name(service), [])
    if what not in whats:
        whats.append(what)


def check_coverage(scenario: Scenario, served: ServedServices) -> Coverage:
    """Every fault, setup resource and probe of ``scenario`` against what ``served`` serves."""
    missing: dict[str, list[str]] = {}
    moot: dict[str, list[str]] = {}
    for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True):
        if isinstance(fault, RegionLoss):
            continue  # it takes every service of a region: nothing in particular is needed
        services = services_for(fault)
        unserved = [s for s in services if not served.serves(s)]
        label = f"fault {name} ({fault.kind.value})"
        if len(unserved) < len(services):
            if unserved:
                moot[label] = [localstack_name(s) for s in unserved]
            continue
        for service in unserved:
            _add(missing, service, label)
    for index, resource in enumerate(scenario.target.setup):
        service = _setup_service(resource)
        if not served.serves(service):
            _add(missing, service, _setup_label(index, resource))
    for probe in scenario.probes:
        if isinstance(probe, AwsProbe) and not served.serves(probe.service):
            _add(missing, probe.service, f"probe {probe.name} (aws {probe.service}.{probe.call})")
        if (
            isinstance(probe, DataProbe)
            and probe.read.log_group is not None
            and not served.serves("logs")
        ):
            _add(missing, "logs", f"probe {probe.name} (data, read from log group)")
    return Coverage(
        missing={s: tuple(w) for s, w in missing.items()},
        moot={s: tuple(w) for s, w in moot.items()},
    )


def refusal_message(scenario: Scenario, coverage: Coverage, served: ServedServices) -> str:
    """Why ``scenario`` cannot run there: each missing service with what needs it."""
    parts = [f"{service} ({', '.join(whats)})" for service, whats in coverage.missing.items()]
    return (
        f"{scenario.metadata.name}: {served.describe()} does not serve what this drill needs: "
        + "; ".join(parts)
    )


REFUSAL_HINT = (
    "LocalStack's free edition has no ECR, CloudTrail or FIS: run this drill on the embedded "
    "environment (the default), or against a LocalStack that serves these services; nothing "
    "was injected"
)
