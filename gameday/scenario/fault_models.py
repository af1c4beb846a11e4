"""Faults: what breaks, where, when and for how long (DESIGN.md "Fault kinds")."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from gameday.faults.modes import Mode
from gameday.scenario.base import Model, Name, Probability, Region
from gameday.scenario.durations import Duration, FaultDuration, parse_duration


class FaultKind(StrEnum):
    """What a fault takes away (DESIGN.md "Fault kinds")."""

    IDENTITY_LOSS = "identity-loss"
    LOGGING_LOSS = "logging-loss"
    REGISTRY_LOSS = "registry-loss"
    REGION_LOSS = "region-loss"
    API_FAULT = "api-fault"
    FIS_ACTION = "fis-action"


_LATENCY = re.compile(r"^\s*(\S+?)\s*\.\.\s*(\S+)\s*$")


class RampStep(Model):
    """From ``after`` into the fault window on, matched requests fail with ``probability``."""

    after: Duration
    probability: Probability


class ErrorOverride(Model):
    """Answer with this status and error code instead of the mode's preset."""

    status: int = Field(ge=400, le=599)
    code: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9.]*$")


class FaultBase(Model):
    """Fields every fault kind has."""

    name: Name | None = Field(default=None, description="Default: '<kind>-<index>'.")
    mode: Mode = Mode.UNAVAILABLE
    operations: tuple[Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$")], ...] = ()
    probability: Probability | None = Field(
        default=None, description="Share of matched calls that fail (default 1); or use 'ramp'."
    )
    start_after: Duration = 0.0
    duration: FaultDuration
    ramp: tuple[RampStep, ...] = ()
    latency: str | None = Field(
        default=None, description="With mode latency: a duration or 'min..max', e.g. '1s..3s'."
    )
    error: ErrorOverride | None = None
    expect_calls: bool = Field(
        default=True,
        description=(
            "The app is expected to call what this fault breaks while it is in force; a fault "
            "that matches none of its calls makes the run inconclusive. false: a drill that "
            "proves the app does not depend on it."
        ),
    )

    @model_validator(mode="after")
    def _mode_fields(self) -> FaultBase:
        if self.mode is Mode.LATENCY and self.latency is None:
            raise ValueError("mode 'latency' needs 'latency: <duration>' or 'latency: min..max'")
        if self.mode is not Mode.LATENCY and self.latency is not None:
            raise ValueError(f"'latency' is only for mode 'latency', not {self.mode.value!r}")
        if self.latency is not None:
            self.latency_range_s()
        if self.error is not None and self.mode not in (
            Mode.UNAVAILABLE,
            Mode.THROTTLE,
            Mode.INTERNAL,
            Mode.DENIED,
            Mode.EXPIRED_TOKEN,
        ):
            raise ValueError(f"'error' overrides an error mode; mode {self.mode.value!r} has none")
        if self.ramp:
            if self.probability is not None:
                raise ValueError("give either 'probability' or 'ramp', not both")
            afters = [step.after for step in self.ramp]
            if afters[0] != 0:
                raise ValueError("the first ramp step must start 'after: 0s'")
            if afters != sorted(set(afters)):
                raise ValueError("ramp steps must be in increasing 'after' order")
            if afters[-1] >= self.duration:
                raise ValueError("every ramp step must start inside the fault's duration")
        return self

    def latency_range_s(self) -> tuple[float, float] | None:
        """The latency as (min, max) seconds; equal for a fixed latency."""
        if self.latency is None:
            return None
        ranged = _LATENCY.match(self.latency)
        low, high = ranged.groups() if ranged else (self.latency, self.latency)
        low_s, high_s = parse_duration(low), parse_duration(high)
        if low_s > high_s:
            raise ValueError(f"latency range {self.latency!r} has its minimum above its maximum")
        return low_s, high_s

    @property
    def end_s(self) -> float:
        """When the fault is removed, in seconds from injection of the first fault."""
        return self.start_after + self.duration

    @property
    def peak_probability(self) -> float:
        """The highest probability this fault reaches."""
        if self.ramp:
            return max(step.probability for step in self.ramp)
        return 1.0 if self.probability is None else self.probability


class RegionalFault(FaultBase):
    regions: tuple[Region, ...] = Field(
        default=(), description="Regions it applies in (default: every target region)."
    )


class IdentityLoss(RegionalFault):
    kind: Literal[FaultKind.IDENTITY_LOSS]
    federation_only: bool = Field(
        default=False,
        description="Only AssumeRoleWithSAML / AssumeRoleWithWebIdentity: an external IdP outage.",
    )


LoggingExtra = Literal["firehose", "kinesis", "monitoring"]


class LoggingLoss(RegionalFault):
    kind: Literal[FaultKind.LOGGING_LOSS]
    include: tuple[LoggingExtra, ...] = Field(
        default=(), description="Add a log pipeline's services: firehose, kinesis, monitoring."
    )


class RegistryLoss(RegionalFault):
    kind: Literal[FaultKind.REGISTRY_LOSS]


class RegionLoss(FaultBase):
    kind: Literal[FaultKind.REGION_LOSS]
    region: Region = Field(description="The region that is lost.")
    include_global: bool | None = Field(
        default=None,
        description="Global services homed in us-east-1 fail too (default: true for us-east-1).",
    )

    @property
    def global_services_fail(self) -> bool:
        """Whether iam, route53, cloudfront, organizations and global sts fail with the region."""
        if self.include_global is None:
            return self.region == "us-east-1"
        return self.include_global


class ApiFault(RegionalFault):
    kind: Literal[FaultKind.API_FAULT]
    services: tuple[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")], ...] = Field(
        min_length=1, description="Service names as in the SigV4 scope or botocore: sts, logs..."
    )


_FIS_ONLY = ("mode", "operations", "probability", "ramp", "latency", "error")


class FisFilter(Model):
    """An FIS target filter: a path into the resource's description and the values to match."""

    path: str = Field(min_length=1)
    values: tuple[str, ...] = Field(min_length=1)


class FisTargetSpec(Model):
    """An FIS target as the experiment template has it (resource type, and how to find them)."""

    resource_type: str = Field(pattern=r"^[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    arns: tuple[str, ...] = Field(default=(), max_length=5)
    filters: tuple[FisFilter, ...] = ()
    parameters: dict[str, str] = Field(default_factory=dict)
    selection: str = Field(default="ALL", pattern=r"^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$")


class FisAction(FaultBase):
    """Run one FIS action on ``aws`` as written; it cannot run on the emulator or LocalStack.

    Its ``duration`` fills the action's duration parameter; ``start_after`` places it in time
    like any fault. Whether the action may run at all is decided by the allow-list in
    ``gameday.fis.actions`` when the template is built.
    """

    kind: Literal[FaultKind.FIS_ACTION]
    action_id: str = Field(pattern=r"^[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="The action's parameters, except its duration."
    )
    targets: dict[str, FisTargetSpec] = Field(
        default_factory=dict, description="Target key (e.g. Instances) -> the resources."
    )

    @field_validator("parameters")
    @classmethod
    def _no_duration(cls, value: dict[str, str]) -> dict[str, str]:
        if "duration" in value:
            raise ValueError("give the fault's 'duration', not parameters.duration")
        return value

    @model_validator(mode="after")
    def _fis_decides_the_effect(self) -> FisAction:
        given = [name for name in _FIS_ONLY if name in self.model_fields_set]
        if given:
            raise ValueError(
                f"'{given[0]}' does not apply to a fis-action fault: the FIS action decides "
                "what fails"
            )
        return self


FaultVariant = IdentityLoss | LoggingLoss | RegistryLoss | RegionLoss | ApiFault | FisAction
Fault = Annotated[FaultVariant, Field(discriminator="kind")]
