"""The scenario format, gameday/v1: one YAML file, one drill (DESIGN.md "Words").

Every model is frozen and forbids unknown keys, so a misspelt key is an error with a line
number, never a silently ignored setting. Cross-field rules that need the whole scenario
(probe names, windows against ``observe.max``) live in ``checks.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from gameday.scenario.base import (
    API_VERSION,
    NAME_HINT,
    Environment,
    Model,
    Name,
    Probability,
    Region,
    check_region,
)
from gameday.scenario.durations import Duration, ObserveMax
from gameday.scenario.fault_models import (
    ApiFault,
    ErrorOverride,
    Fault,
    FaultBase,
    FaultKind,
    FaultVariant,
    FisAction,
    IdentityLoss,
    LoggingLoss,
    RampStep,
    RegionalFault,
    RegionLoss,
    RegistryLoss,
)
from gameday.scenario.probe_models import (
    AlertProbe,
    AvailabilityObjective,
    AwsProbe,
    CommandProbe,
    DataProbe,
    DataRead,
    DestructiveCallsObjective,
    DnsProbe,
    HttpProbe,
    HumanObjective,
    LatencyObjective,
    Objective,
    ObjectiveVariant,
    Probe,
    ProbeKind,
    ProbeVariant,
    PrometheusProbe,
    SteadyObjective,
    TimeObjective,
)
from gameday.scenario.schedule_models import Blackout, check_cron
from gameday.scenario.target import (
    AppSpec,
    AwsTarget,
    CommandApp,
    DemoApp,
    DemoAppRef,
    SetupKind,
    SetupResource,
    Target,
)


class Metadata(Model):
    """Who owns the drill and where responders read what to do."""

    name: Name
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    runbook: str | None = Field(
        default=None, description="Path of the runbook, relative to the scenario file."
    )
    runbook_steps: str | None = Field(
        default=None,
        min_length=1,
        description="Heading of the runbook section whose numbered list (or '- [ ]' items) "
        "is the facilitator's checklist in `run --facilitate` (default: 'Mitigate').",
    )


class AbortWhen(Model):
    """Abort the drill and roll back at once when a probe looks this bad."""

    probe: Name
    max_unhealthy: Probability | None = Field(
        default=None, description="Share of unhealthy samples since injection."
    )
    consecutive_failures: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_condition(self) -> AbortWhen:
        if (self.max_unhealthy is None) == (self.consecutive_failures is None):
            raise ValueError("give exactly one of 'max_unhealthy' or 'consecutive_failures'")
        return self


class AbortOnDestructive(Model):
    """Abort the drill and roll back at once when the app has made this many destructive
    calls since the first injection (docs/audit.md): ``{destructive_calls: 1}`` stops it at
    the first one."""

    destructive_calls: int = Field(ge=1, description="Abort at this many destructive calls.")


_PROBE_KEYS = frozenset(AbortWhen.model_fields)


def _abort_kind(value: object) -> str:
    # Told apart by their keys, so a mistake in one form is reported in that form's words
    # (a misspelt destructive_calls is not "probe: required field is missing"). The tags are
    # the class names, as the loader's error locator reads them.
    if isinstance(value, AbortOnDestructive) or (
        isinstance(value, dict) and _PROBE_KEYS.isdisjoint(value)
    ):
        return "AbortOnDestructive"
    return "AbortWhen"


AbortCondition = Annotated[
    Annotated[AbortWhen, Tag("AbortWhen")]
    | Annotated[AbortOnDestructive, Tag("AbortOnDestructive")],
    Discriminator(_abort_kind),
]


class Guardrails(Model):
    """Limits on the blast radius, and conditions that abort the drill (DESIGN.md "Safety")."""

    max_duration: Duration = Field(default=900.0, description="Hard stop for the whole drill.")
    max_probability: Probability = 1.0
    abort_when: tuple[AbortCondition, ...] = ()

    @property
    def destructive_limit(self) -> int | None:
        """The fewest destructive calls any ``abort_when`` aborts at; None: none watches."""
        limits = [g.destructive_calls for g in self.abort_when if isinstance(g, AbortOnDestructive)]
        return min(limits, default=None)


class Observe(Model):
    """How long to watch after the faults, and what counts as recovered."""

    max: ObserveMax = Field(
        default=300.0,
        description="Observation ends this long after the drill's start (the time base of "
        "start_after); every fault must end before it.",
    )
    recovery_window: Duration = Field(
        default=30.0, description="Availability counts up to this long after the last fault."
    )
    stable: int = Field(default=3, ge=1, le=100, description="Healthy samples that mean recovered.")


class Schedule(Model):
    """When an unattended scheduler runs this drill."""

    cron: str = Field(description="5 fields (minute..weekday) or 6 (with seconds first).")
    timezone: str = "UTC"
    jitter: Duration = 0.0
    blackout: tuple[Blackout, ...] = Field(
        default=(),
        description="Windows in which no drill starts: fixed (start, end) or recurring "
        "(cron, duration), in this timezone.",
    )

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str) -> str:
        return check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (an IANA name such as Europe/Berlin)"
            ) from None
        return value


class Scenario(Model):
    """One drill (gameday/v1)."""

    api_version: Literal["gameday/v1"] = Field(alias="apiVersion")
    kind: Literal["Scenario"] = Field(
        default="Scenario", description="Other gameday documents (environment files) differ."
    )
    metadata: Metadata
    target: Target = Field(default_factory=Target)
    faults: tuple[Fault, ...] = Field(min_length=1)
    probes: tuple[Probe, ...] = Field(min_length=1)
    objectives: tuple[Objective, ...] = Field(min_length=1)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    observe: Observe = Field(default_factory=Observe)
    schedule: Schedule | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def fault_names(self) -> list[str]:
        """Each fault's name, defaulted to '<kind>-<index>' where the file gives none."""
        return [f.name or f"{f.kind.value}-{i}" for i, f in enumerate(self.faults)]

    def objective_names(self) -> list[str]:
        """Each objective's name, defaulted to '<kind>-<probe>' (a human objective: '<kind>')."""
        return [
            o.name or (f"{o.kind.value}-{o.probe}" if o.probe else o.kind.value)
            for o in self.objectives
        ]

    def read_back_s(self) -> float:
        """The longest the data probes' read-back can take after the drill: each one's
        settle, deadline and one more call's timeout (0 without data probes)."""
        return max(
            (p.read.settle + p.read.deadline + p.timeout for p in self.probes
             if isinstance(p, DataProbe)),
            default=0.0,
        )  # fmt: skip


__all__ = [
    "API_VERSION",
    "NAME_HINT",
    "AbortCondition",
    "AbortOnDestructive",
    "AbortWhen",
    "AlertProbe",
    "ApiFault",
    "AppSpec",
    "AvailabilityObjective",
    "AwsProbe",
    "AwsTarget",
    "CommandApp",
    "CommandProbe",
    "DataProbe",
    "DataRead",
    "DemoApp",
    "DemoAppRef",
    "DestructiveCallsObjective",
    "DnsProbe",
    "Duration",
    "Environment",
    "ErrorOverride",
    "Fault",
    "FaultBase",
    "FaultKind",
    "FaultVariant",
    "FisAction",
    "HttpProbe",
    "HumanObjective",
    "IdentityLoss",
    "LatencyObjective",
    "LoggingLoss",
    "Model",
    "Name",
    "Objective",
    "ObjectiveVariant",
    "Probability",
    "Probe",
    "ProbeKind",
    "ProbeVariant",
    "PrometheusProbe",
    "RampStep",
    "Region",
    "RegionLoss",
    "RegionalFault",
    "RegistryLoss",
    "SetupKind",
    "SetupResource",
    "SteadyObjective",
    "Target",
    "TimeObjective",
    "check_region",
]
