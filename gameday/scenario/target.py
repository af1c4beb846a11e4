"""The system under test: the app, the resources set up for it, and real-account settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from gameday.scenario.base import Environment, Model, Region
from gameday.scenario.durations import Duration


class DemoApp(Model):
    """The demo service that ships with gameday, with each resilience feature switchable."""

    cache_credentials: bool = Field(
        default=True, description="Keep STS credentials until they expire instead of failing."
    )
    log_spool: bool = Field(
        default=True, description="Spool audit lines locally and replay them after an outage."
    )
    image_cache: bool = Field(
        default=True, description="Serve /deploy from a local image cache when ECR fails."
    )
    failover_region: Region | None = Field(
        default=None, description="Write orders to this region when the home region fails."
    )


class DemoAppRef(Model):
    """``app: {demo: {...}}``: the demo service with chosen features."""

    demo: DemoApp


class CommandApp(Model):
    """An app under test started from a command, pointed at the gateway."""

    command: tuple[str, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    health_url: str = Field(
        description="URL that answers 2xx when the app is ready; '{port}' is its port."
    )
    ready_timeout: Duration = 30.0


def _app_form(value: object) -> str:
    # Called on raw YAML when validating and on model instances when serialising.
    if isinstance(value, str):
        return "AppName"
    if isinstance(value, DemoAppRef) or (isinstance(value, dict) and "demo" in value):
        return "DemoAppRef"
    return "CommandApp"


AppSpec = Annotated[
    Annotated[Literal["demo"], Tag("AppName")]
    | Annotated[DemoAppRef, Tag("DemoAppRef")]
    | Annotated[CommandApp, Tag("CommandApp")],
    Discriminator(_app_form),
]
"""``demo``, ``{demo: {...features}}``, or ``{command: [...], health_url: ...}``."""


class SetupKind(StrEnum):
    """Resources the embedded and localstack environments create before a drill."""

    LOG_GROUP = "log-group"
    REPOSITORY = "repository"
    BUCKET = "bucket"
    TABLE = "table"
    ROLE = "role"
    CALL = "call"


class LogGroupSetup(Model):
    kind: Literal[SetupKind.LOG_GROUP]
    name: str = Field(min_length=1)
    region: Region | None = None


class RepositorySetup(Model):
    kind: Literal[SetupKind.REPOSITORY]
    name: str = Field(min_length=2)
    images: tuple[str, ...] = Field(default=(), description="Tags of images to push.")
    region: Region | None = None


class BucketSetup(Model):
    kind: Literal[SetupKind.BUCKET]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: Region | None = None


class TableSetup(Model):
    kind: Literal[SetupKind.TABLE]
    name: str = Field(min_length=3)
    hash_key: str = "id"
    regions: tuple[Region, ...] = Field(
        default=(), description="Regions to create it in (default: the target's regions)."
    )


class RoleSetup(Model):
    kind: Literal[SetupKind.ROLE]
    name: str = Field(min_length=1)
    trusted_service: str = "ec2.amazonaws.com"


class CallSetup(Model):
    """Any boto3 call, for resources the typed forms do not cover."""

    kind: Literal[SetupKind.CALL]
    service: str = Field(min_length=2)
    call: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="boto3 method, e.g. create_queue")
    params: dict[str, object] = Field(default_factory=dict)
    region: Region | None = None


SetupResource = Annotated[
    LogGroupSetup | RepositorySetup | BucketSetup | TableSetup | RoleSetup | CallSetup,
    Field(discriminator="kind"),
]


class AwsTarget(Model):
    """Defaults for a real account; an environment file (``--aws-config``) may override them."""

    accounts: tuple[Annotated[str, Field(pattern=r"^\d{12}$")], ...] = Field(
        default=(), description="Account ids a drill may run in; empty allows none."
    )
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
    stop_conditions: tuple[
        Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+")],
        ...,
    ] = ()


class Target(Model):
    """The system under test and where it runs."""

    environment: Environment = Environment.EMBEDDED
    regions: tuple[Region, ...] = Field(default=("us-east-1",), min_length=1)
    app: AppSpec | None = None
    setup: tuple[SetupResource, ...] = ()
    aws: AwsTarget = Field(default_factory=AwsTarget)

    @field_validator("regions")
    @classmethod
    def _regions_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a region is listed twice")
        return value

    @property
    def home_region(self) -> str:
        """The first region: where the app lives unless it fails over."""
        return self.regions[0]
