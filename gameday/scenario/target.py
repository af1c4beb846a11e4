"""The system under test: the app, the resources set up for it, and real-account settings."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from gameday.scenario.base import Environment, Model, Region
from gameday.scenario.durations import Duration
from gameday.scenario.urls import HealthUrl


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
    self_heal: Literal["off", "naive", "resilient"] = Field(
        default="off",
        description="What its automation does when the orders table keeps failing: 'naive' "
        "deletes and recreates the table, 'resilient' checks it, backs off and pages.",
    )
    alert_topic: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,256}$",
        description="Page through this SNS topic in the home region first (it goes down "
        "with the region); the alert probe's webhook is subscribed to it.",
    )
    alert_fallback: bool = Field(
        default=True,
        description="With alert_topic: post to the webhook directly when publishing fails.",
    )


class DemoAppRef(Model):
    """``app: {demo: {...}}``: the demo service with chosen features."""

    demo: DemoApp


DEFAULT_PROFILE = "default"
"""gameday's own profile in the app's shared files: dummy keys, the gateway, the home region."""

ProfileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,63}$")]


class AwsProfile(Model):
    """One of the app's own AWS profiles, written into the shared config file gameday gives
    the app (DESIGN.md "Isolation"): the gateway is its endpoint, and a profile without
    ``role_arn`` gets the dummy keys, so ``role_arn`` + ``source_profile`` assume the role
    through the gateway as they do in production."""

    role_arn: str | None = Field(
        default=None,
        max_length=600,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$",
    )
    source_profile: ProfileName | None = Field(
        default=None, description="Where the credentials to assume role_arn come from."
    )
    role_session_name: str | None = Field(
        default=None, min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_+=,.@-]+$"
    )
    external_id: str | None = Field(
        default=None, min_length=2, max_length=1224, pattern=r"^[A-Za-z0-9_+=,.@:/-]+$"
    )
    duration_seconds: int | None = Field(default=None, ge=900, le=43200)
    region: Region | None = Field(default=None, description="Default: the home region.")

    @model_validator(mode="after")
    def _role_and_source(self) -> AwsProfile:
        if (self.role_arn is None) != (self.source_profile is None):
            raise ValueError("give 'role_arn' and 'source_profile' together, or neither")
        if self.role_arn is None and (self.role_session_name or self.external_id):
            raise ValueError("'role_session_name' and 'external_id' need a 'role_arn'")
        if self.role_arn is None and self.duration_seconds is not None:
            raise ValueError("'duration_seconds' needs a 'role_arn'")
        return self


class CommandApp(Model):
    """An app under test started from a command, pointed at the gateway."""

    command: tuple[str, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    health_url: HealthUrl = Field(
        description="URL that answers 2xx when the app is ready; '{port}' is its port."
    )
    ready_timeout: Duration = 30.0
    aws_profiles: dict[ProfileName, AwsProfile] = Field(
        default_factory=dict,
        description="The app's own AWS profiles (select one with env AWS_PROFILE); "
        "'default' is gameday's (dummy keys, the gateway).",
    )

    @model_validator(mode="after")
    def _profiles_resolve(self) -> CommandApp:
        known = {DEFAULT_PROFILE, *self.aws_profiles}
        if DEFAULT_PROFILE in self.aws_profiles:
            raise ValueError(
                "aws_profiles: 'default' is gameday's own profile (dummy keys, the gateway); "
                "name the app's profile and select it with env AWS_PROFILE"
            )
        for name in self.aws_profiles:
            seen = [name]
            source = self.aws_profiles[name].source_profile
            while source is not None:
                if source not in known:
                    raise ValueError(
                        f"aws_profiles.{name}: source_profile {source!r} is not a profile "
                        f"here (profiles: {', '.join(sorted(known))})"
                    )
                if source in seen:
                    raise ValueError(
                        f"aws_profiles.{name}: source_profile loops back to {source!r}"
                    )
                seen.append(source)
                profile = self.aws_profiles.get(source)
                source = profile.source_profile if profile is not None else None
        for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            chosen = self.env.get(variable)
            if chosen is not None and chosen not in known:
                raise ValueError(
                    f"env.{variable}: {chosen!r} is not a profile here "
                    f"(profiles: {', '.join(sorted(known))}); declare it in aws_profiles"
                )
        return self


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
    USER = "user"
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


class UserSetup(Model):
    """An IAM user with a long-term access key (never STS-issued): a break-glass identity.
    Its key is written into the drill's shared credentials file under ``profile``, where an
    ``aws`` probe with that ``profile`` signs with it."""

    kind: Literal[SetupKind.USER]
    name: str = Field(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")
    profile: ProfileName | None = Field(
        default=None, description="The profile that holds its access key (default: its name)."
    )

    @property
    def profile_name(self) -> str:
        return self.profile or self.name


class CallSetup(Model):
    """Any boto3 call, for resources the typed forms do not cover."""

    kind: Literal[SetupKind.CALL]
    service: str = Field(min_length=2)
    call: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="boto3 method, e.g. create_queue")
    params: dict[str, object] = Field(default_factory=dict)
    region: Region | None = None


SetupResource = Annotated[
    LogGroupSetup | RepositorySetup | BucketSetup | TableSetup | RoleSetup | UserSetup | CallSetup,
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
    injector: Literal["fis", "egress"] = Field(
        default="fis",
        description="How faults reach a real account: one FIS experiment (`fis`), or the "
        "egress proxy beside the app that answers its AWS calls with the fault's error "
        "(`egress`, docs/egress.md). An environment file's `injector` wins.",
    )


class Target(Model):
    """The system under test and where it runs."""

    environment: Environment = Environment.EMBEDDED
    regions: tuple[Region, ...] = Field(default=("us-east-1",), min_length=1)
    app: AppSpec | None = None
    setup: tuple[SetupResource, ...] = ()
    aws: AwsTarget = Field(default_factory=AwsTarget)
    role_policy: str | None = Field(
        default=None,
        min_length=1,
        description="The IAM policy document (JSON) of the app's role, relative to the "
        "scenario file: `gameday report --format iam` lists the actions it grants that the "
        "app never used, and those the app used that it does not grant.",
    )
    deny_destructive: bool = Field(
        default=False,
        description="The gateway answers every destructive call (Delete*, Terminate*...) with "
        "AccessDenied, so nothing is destroyed even in the emulator (docs/audit.md).",
    )

    @field_validator("regions")
    @classmethod
    def _regions_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a region is listed twice")
        return value

    @model_validator(mode="after")
    def _user_profiles_unique(self) -> Target:
        taken = {DEFAULT_PROFILE: "gameday's own profile"}
        if isinstance(self.app, CommandApp):
            taken.update(dict.fromkeys(self.app.aws_profiles, "a profile of target.app"))
        for index, item in enumerate(self.setup):
            if not isinstance(item, UserSetup):
                continue
            if item.profile_name in taken:
                raise ValueError(
                    f"setup[{index}] (user {item.name!r}): profile {item.profile_name!r} "
                    f"is already {taken[item.profile_name]}; name another with 'profile'"
                )
            taken[item.profile_name] = f"the profile of setup[{index}]"
        return self

    @property
    def home_region(self) -> str:
        """The first region: where the app lives unless it fails over."""
        return self.regions[0]
