"""The environment file of a real account (``--aws-config FILE``, DESIGN.md "Environments").

Everything account-specific lives here, apart from the scenario, so that one scenario serves the
emulator, LocalStack and every account: where the app runs and how FIS finds it, the FIS role,
the stop-condition alarms, the account allow-list, and optional log and report settings. The
file may carry ``apiVersion: gameday/v1`` and ``kind: AwsEnvironment`` so that it can sit in a
scenarios folder: the folder scan skips documents whose ``kind`` is not ``Scenario``.

Problems are reported as ``path:LINE:COL: field.path: message``, as for scenarios.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from gameday.errors import ScenarioError
from gameday.scenario.base import API_VERSION, Model, Region
from gameday.scenario.durations import Duration
from gameday.scenario.loader import _parse_yaml, _plain, _read_text
from gameday.scenario.locate import allowed_keys, did_you_mean, locate
from gameday.scenario.models import Scenario

AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
RoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")]
AlarmArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+")]
LogGroupArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:logs:[a-z0-9-]+:\d{12}:log-group:.+")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
# FIS takes up to 5 resource ARNs per target (botocore model: ResourceArnList, max 5).
ResourceArns = Annotated[tuple[str, ...], Field(max_length=5)]

SELECTION = re.compile(r"^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$")
ENDPOINT_SERVICES: tuple[str, ...] = (
    "sts",
    "sso",
    "sso-oidc",
    "identitystore",
    "sso-admin",
    "cognito-identity",
    "logs",
    "cloudtrail",
    "firehose",
    "kinesis",
    "monitoring",
    "ecr",
    "registry",
)
"""Services an interface VPC endpoint can serve for a loss kind (iam has no regional endpoint)."""


def check_selection(value: str) -> str:
    """An FIS selection mode: ALL, COUNT(n) or PERCENT(n)."""
    if not SELECTION.match(value):
        raise ValueError(f"selection {value!r} is not ALL, COUNT(n) or PERCENT(n)")
    return value


class Filter(Model):
    """An FIS target filter: a path into the resource's description and the values to match."""

    path: str = Field(min_length=1)
    values: tuple[str, ...] = Field(min_length=1)


class Selector(Model):
    """How FIS finds resources: by tags or by ARNs (not both), narrowed by filters."""

    tags: dict[str, str] = Field(default_factory=dict)
    arns: ResourceArns = ()
    filters: tuple[Filter, ...] = ()
    selection: str = Field(default="ALL", description="ALL, COUNT(n) or PERCENT(n).")

    @field_validator("selection")
    @classmethod
    def _selection(cls, value: str) -> str:
        return check_selection(value)

    @model_validator(mode="after")
    def _tags_or_arns(self) -> Selector:
        if self.tags and self.arns:
            raise ValueError("give either 'tags' or 'arns', not both (FIS takes one or the other)")
        return self

    def require_some(self, what: str) -> None:
        """Refuse a selector that would select every resource of its type in the account."""
        if not self.tags and not self.arns:
            raise ValueError(f"{what} needs 'tags' or 'arns': gameday never targets every {what}")


class Ec2Compute(Selector):
    """EC2 instances that run the app; faults reach them through SSM Run Command."""

    @model_validator(mode="after")
    def _found(self) -> Ec2Compute:
        self.require_some("instance")
        return self


class EcsCompute(Selector):
    """ECS tasks that run the app, by tags, ARNs, or cluster (and service)."""

    cluster: str | None = None
    service: str | None = None
    fargate: bool = Field(
        default=True,
        description="Use the ECS fault injection endpoints (required on Fargate).",
    )

    @model_validator(mode="after")
    def _found(self) -> EcsCompute:
        if self.service and not self.cluster:
            raise ValueError("'service' needs its 'cluster'")
        if not self.cluster:
            self.require_some("task")
        return self


class EksCompute(Model):
    """EKS pods that run the app, and the Kubernetes service account FIS acts through."""

    cluster: str = Field(min_length=1, description="Cluster name or ARN.")
    namespace: str = "default"
    selector_type: Literal["labelSelector", "deploymentName", "podName"] = "labelSelector"
    selector_value: str = Field(min_length=1, description="e.g. app=orders")
    service_account: str = Field(
        min_length=1,
        description="The Kubernetes service account FIS uses (kubernetesServiceAccount).",
    )
    container: str | None = Field(default=None, description="Target container (default: first).")
    selection: str = "ALL"

    @field_validator("selection")
    @classmethod
    def _selection(cls, value: str) -> str:
        return check_selection(value)


class Compute(Model):
    """Where the app runs; any combination, each gets its own FIS action."""

    ec2: Ec2Compute | None = None
    ecs: EcsCompute | None = None
    eks: EksCompute | None = None

    @property
    def configured(self) -> bool:
        """At least one kind of compute is given."""
        return any(c is not None for c in (self.ec2, self.ecs, self.eks))


class VpcEndpoints(Selector):
    """Interface VPC endpoints through which the app reaches ``services``."""

    services: tuple[str, ...] = Field(min_length=1)

    @field_validator("services")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in value if s not in ENDPOINT_SERVICES]
        if unknown:
            raise ValueError(
                f"no interface endpoint service {unknown[0]!r}; "
                f"known: {', '.join(ENDPOINT_SERVICES)}"
            )
        return value

    @model_validator(mode="after")
    def _found(self) -> VpcEndpoints:
        self.require_some("VPC endpoint")
        return self


class TagSelector(Selector):
    """A target FIS can find by tags only (S3 replication pause supports nothing else)."""

    @model_validator(mode="after")
    def _tags_only(self) -> TagSelector:
        if not self.tags:
            raise ValueError("this target is found by 'tags' only")
        return self


class RequiredSelector(Selector):
    """A selector that must name its resources."""

    @model_validator(mode="after")
    def _found(self) -> RequiredSelector:
        self.require_some("resource")
        return self


class Network(Model):
    """Network resources for region loss (and for registry loss's S3 blocking)."""

    subnets: RequiredSelector | None = Field(
        default=None, description="The app's subnets: route tables are swapped for region loss."
    )
    transit_gateways: RequiredSelector | None = Field(
        default=None, description="Transit gateways peered to the lost region."
    )


class Replication(Model):
    """Cross-region replication to pause with a region loss (optional)."""

    s3_buckets: TagSelector | None = None
    dynamodb_tables: RequiredSelector | None = None


class Registry(Model):
    """Registry loss details."""

    accounts: tuple[AccountId, ...] = Field(
        default=(), description="Accounts whose registries the app pulls from (default: accounts)."
    )
    block_s3_layers: bool = Field(
        default=False,
        description="Also block S3 from the subnets: image layers are served from S3.",
    )


class Logs(Model):
    """Where FIS writes the experiment log."""

    cloudwatch_log_group_arn: LogGroupArn | None = None
    s3_bucket: BucketName | None = None
    s3_prefix: str | None = Field(default=None, min_length=1, max_length=700)

    @model_validator(mode="after")
    def _somewhere(self) -> Logs:
        if self.cloudwatch_log_group_arn is None and self.s3_bucket is None:
            raise ValueError("give 'cloudwatch_log_group_arn' or 's3_bucket'")
        if self.s3_prefix is not None and self.s3_bucket is None:
            raise ValueError("'s3_prefix' needs 's3_bucket'")
        return self


class Report(Model):
    """The FIS experiment report: where it goes and what it includes."""

    s3_bucket: BucketName
    s3_prefix: str | None = Field(default=None, min_length=1, max_length=256)
    dashboards: tuple[str, ...] = Field(default=(), description="CloudWatch dashboard ARNs.")
    pre_experiment: Duration | None = None
    post_experiment: Duration | None = None


class EgressConnection(Model):
    """Where the runner finds the egress proxy (``injector: egress``): a running one beside
    the app (``url``), or one it starts with the scenario's ``target.app`` (``start``)."""

    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+/?$",
        description="The proxy's admin API as the runner reaches it, e.g. http://127.0.0.1:4580 "
        "through a port forward to the sidecar (ECS Exec / SSM, kubectl port-forward).",
    )
    start: bool = Field(
        default=False,
        description="The runner starts the proxy on loopback and the scenario's target.app "
        "behind it (HTTPS_PROXY, AWS_CA_BUNDLE...), and stops both after the drill.",
    )
    routes: tuple[str, ...] = Field(
        default=(),
        description="Testing aid, with start: `gameday egress --route PATTERN=URL` for each.",
    )
    route_ca: str | None = Field(
        default=None, description="Testing aid, with start: `gameday egress --route-ca FILE`."
    )
    token_env: str = Field(
        default="GAMEDAY_GATEWAY_TOKEN",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="The variable holding the admin API's bearer token (never the token).",
    )

    @model_validator(mode="after")
    def _url_or_start(self) -> EgressConnection:
        if (self.url is None) == (not self.start):
            raise ValueError("give 'url' (a running proxy) or 'start: true', one of them")
        if (self.routes or self.route_ca) and not self.start:
            raise ValueError("'routes' and 'route_ca' are for a proxy the runner starts")
        return self


class AwsEnvironment(Model):
    """One real account: where the app runs and the safety settings a drill there needs."""

    api_version: Literal["gameday/v1"] = Field(default="gameday/v1", alias="apiVersion")
    kind: Literal["AwsEnvironment"] = "AwsEnvironment"
    accounts: tuple[AccountId, ...] = Field(
        default=(), description="Account ids a drill may run in (default: target.aws.accounts)."
    )
    region: Region | None = Field(
        default=None, description="Where experiments run (default: the scenario's home region)."
    )
    role_arn: RoleArn | None = Field(
        default=None, description="The FIS experiment role (default: target.aws.role_arn)."
    )
    stop_conditions: tuple[AlarmArn, ...] = Field(
        default=(), description="CloudWatch alarms that stop the experiment."
    )
    app_roles: tuple[RoleArn, ...] = Field(
        default=(), description="The app's IAM roles, for api-fault on ec2 and kinesis."
    )
    compute: Compute = Field(default_factory=Compute)
    vpc_endpoints: tuple[VpcEndpoints, ...] = ()
    network: Network = Field(default_factory=Network)
    replication: Replication = Field(default_factory=Replication)
    registry: Registry = Field(default_factory=Registry)
    logs: Logs | None = None
    report: Report | None = None
    tags: dict[str, str] = Field(
        default_factory=dict, description="Extra tags on every template and experiment."
    )
    app_url: str | None = Field(
        default=None,
        description="The app's base URL in this account: what '{app}' means in probe URLs.",
    )
    injector: Literal["fis", "egress"] | None = Field(
        default=None,
        description="fis (one FIS experiment) or egress (the proxy beside the app); "
        "default: the scenario's target.aws.injector.",
    )
    egress: EgressConnection | None = Field(
        default=None, description="The egress proxy the runner injects into (injector: egress)."
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def region_for(self, scenario: Scenario) -> str:
        """The experiment region: this file's, else the scenario's home region."""
        return self.region or scenario.target.home_region


def merge_environment(scenario: Scenario, env: AwsEnvironment | None) -> AwsEnvironment:
    """``env`` over the scenario's ``target.aws`` defaults: a value the file sets wins."""
    base = env or AwsEnvironment()
    defaults = scenario.target.aws
    return base.model_copy(
        update={
            "accounts": base.accounts or defaults.accounts,
            "role_arn": base.role_arn or defaults.role_arn,
            "stop_conditions": base.stop_conditions or defaults.stop_conditions,
            "region": base.region_for(scenario),
            "injector": base.injector or defaults.injector,
        }
    )


def _problem(path: Path, error: Any, tree: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    position, field = locate(
        tree,
        loc,
        key_position=kind == "extra_forbidden",
        missing_key=kind in ("missing", "extra_forbidden"),
    )
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        keys = allowed_keys(AwsEnvironment, loc[:-1])
        hint = did_you_mean(str(loc[-1]), keys)
        message = f"unknown key {loc[-1]!r}{hint}; allowed keys: {', '.join(keys)}"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}:{position.line}:{position.column}: {field}: {message}"


def parse_aws_environment(path: Path, text: str) -> AwsEnvironment:
    """Validate environment-file text; raise with every problem located at line:column."""
    tree = _parse_yaml(path, text, positions=False)
    if not isinstance(tree, dict):
        raise ScenarioError(
            [
                f"{path}:1:1: expected an environment file "
                f"(a mapping with apiVersion: {API_VERSION} and kind: AwsEnvironment)"
            ]
        )
    try:
        return AwsEnvironment.model_validate(_plain(tree))
    except ValidationError as error:
        located = _parse_yaml(path, text, positions=True)
        problems = [_problem(path, e, located) for e in error.errors(include_url=False)]
        raise ScenarioError(list(dict.fromkeys(problems))) from None


def load_aws_environment(path: Path) -> AwsEnvironment:
    """Read and validate the environment file given with ``--aws-config``."""
    return parse_aws_environment(path, _read_text(path))
