"""Probes and objectives: what is sampled during a drill and what it is graded against."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    model_validator,
)

from gameday.kinds import ObjectiveKind
from gameday.scenario.base import Model, Name, Probability, Region
from gameday.scenario.durations import Duration, ProbeInterval, ProbeTimeout
from gameday.scenario.urls import MarkerUrl, ProbeUrl

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110 "token": the characters a field name may have."""
_REFERENCES_ONLY = re.compile(r"(?:[^$]|\$(?!\{)|\$\{[A-Za-z_][A-Za-z0-9_]*\})*")
"""A value whose every '${' starts a well-formed ${NAME} reference."""


class ProbeKind(StrEnum):
    """How a probe samples (DESIGN.md "Probes")."""

    HTTP = "http"
    AWS = "aws"
    COMMAND = "command"
    PROMETHEUS = "prometheus"
    DNS = "dns"
    DATA = "data"
    ALERT = "alert"


class ProbeCredentials(StrEnum):
    """Whose AWS identity and network a probe uses in embedded and localstack drills."""

    ISOLATED = "isolated"
    """The drill's: dummy keys, the gateway, no route past loopback (DESIGN.md "Isolation")."""
    RUNNER = "runner"
    """The runner's own environment, credentials and endpoints, unchanged: say so on purpose."""


_CREDENTIALS_HELP = (
    "'isolated' (default): dummy keys and the gateway, nothing past loopback; 'runner': the "
    "runner's own AWS identity, endpoints and environment (shown by `gameday plan`)."
)


class Retries(Model):
    """Retry a failing sample before recording it unhealthy (tenacity-backed)."""

    attempts: int = Field(default=1, ge=1, le=10)
    backoff: Duration = 0.1


class ProbeBase(Model):
    name: Name
    interval: ProbeInterval = 1.0
    timeout: ProbeTimeout = 2.0
    retries: Retries = Field(default_factory=Retries)


class HttpExpect(Model):
    status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    max_latency: Duration | None = None


class HttpProbe(ProbeBase):
    kind: Literal[ProbeKind.HTTP]
    url: ProbeUrl = Field(description="'{app}' is replaced by the app's base URL.")
    method: Literal["GET", "HEAD", "POST", "PUT"] = "GET"
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers; '${NAME}' in a value is read from gameday's environment "
        "when the run starts and is stored as written, never as its value.",
    )
    expect: HttpExpect = Field(default_factory=HttpExpect)

    @model_validator(mode="after")
    def _headers_well_formed(self) -> HttpProbe:
        for name, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"headers: {name!r} is not a header name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"headers.{name}: a value must be one line")
            if not _REFERENCES_ONLY.fullmatch(value):
                raise ValueError(
                    f"headers.{name}: write a variable as ${{NAME}} (letters, digits, _)"
                )
        return self


class AwsExpect(Model):
    success: bool = True
    error_code: str | None = None


class AwsProbe(ProbeBase):
    kind: Literal[ProbeKind.AWS]
    service: str
    call: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="boto3 method name")
    params: dict[str, object] = Field(default_factory=dict)
    region: Region | None = None
    expect: AwsExpect = Field(default_factory=AwsExpect)
    credentials: ProbeCredentials = Field(
        default=ProbeCredentials.ISOLATED, description=_CREDENTIALS_HELP
    )
    profile: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,63}$",
        description="Sign with this profile's keys: in embedded and localstack drills a "
        "setup 'user' (its long-term access key, a break-glass identity); with "
        "'credentials: runner' or on aws, the runner's own profile of that name.",
    )


class CommandExpect(Model):
    exit_code: int = 0


class CommandProbe(ProbeBase):
    kind: Literal[ProbeKind.COMMAND]
    command: tuple[str, ...] = Field(min_length=1)
    expect: CommandExpect = Field(default_factory=CommandExpect)
    credentials: ProbeCredentials = Field(
        default=ProbeCredentials.ISOLATED, description=_CREDENTIALS_HELP
    )


class PrometheusExpect(Model):
    min: float | None = None
    max: float | None = None


class PrometheusProbe(ProbeBase):
    kind: Literal[ProbeKind.PROMETHEUS]
    url: ProbeUrl = Field(description="Base URL of the Prometheus HTTP API.")
    query: str = Field(min_length=1)
    expect: PrometheusExpect = Field(default_factory=PrometheusExpect)


class DnsExpect(Model):
    answers: tuple[str, ...] = ()


class DnsProbe(ProbeBase):
    kind: Literal[ProbeKind.DNS]
    hostname: str = Field(min_length=1)
    record_type: Literal["A", "AAAA", "CNAME"] = "A"
    expect: DnsExpect = Field(default_factory=DnsExpect)


DEFAULT_SETTLE_S = 2.0
"""``read.settle``: long enough for a shipper flushing every second or two; a longer batch
interval needs ``settle`` above it or a ``flush_url`` (docs/measurements.md)."""
DEFAULT_READ_DEADLINE_S = 10.0
"""``read.deadline``: a loaded machine's hiccup passes well within it."""


class DataRead(Model):
    """How markers are read back after the drill: through the app, or from the store."""

    url: MarkerUrl | None = Field(default=None, description="GET this with '{marker}' substituted.")
    log_group: str | None = Field(
        default=None, description="Read markers from this log group with FilterLogEvents."
    )
    flush_url: ProbeUrl | None = Field(
        default=None,
        description="POST this once before read-back, so the app ships what it buffered "
        "(a batching log shipper's flush).",
    )
    settle: Duration = Field(
        default=DEFAULT_SETTLE_S,
        description="Wait this long after the steady state is checked again, before reading "
        "back: acknowledged writes the app has not shipped yet are not counted lost.",
    )
    deadline: Duration = Field(
        default=DEFAULT_READ_DEADLINE_S,
        description="Retry a marker that could not be read (an error, no answer) with "
        "backoff for this long; one still unread then is unverified, not lost.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataRead:
        if (self.url is None) == (self.log_group is None):
            raise ValueError("give exactly one of 'url' or 'log_group'")
        return self


class DataProbe(ProbeBase):
    kind: Literal[ProbeKind.DATA]
    write_url: MarkerUrl = Field(description="POST a marker here; '{marker}' is substituted.")
    read: DataRead


class AlertProbe(ProbeBase):
    """A webhook sink the runner hosts; its URL is handed to the app in GAMEDAY_ALERT_URL."""

    kind: Literal[ProbeKind.ALERT]
    match: str | None = Field(default=None, description="Count only alerts containing this text.")


ProbeVariant = (
    HttpProbe | AwsProbe | CommandProbe | PrometheusProbe | DnsProbe | DataProbe | AlertProbe
)
Probe = Annotated[ProbeVariant, Field(discriminator="kind")]


class ObjectiveBase(Model):
    name: Name | None = Field(default=None, description="Default: '<kind>-<probe>'.")
    probe: Name
    weight: float = Field(default=1.0, gt=0)
    critical: bool = False


class Disruption(StrEnum):
    """Resilience Hub's disruption types (the keys of a resiliency policy)."""

    SOFTWARE = "Software"
    HARDWARE = "Hardware"
    AZ = "AZ"
    REGION = "Region"


class TargetFrom(Model):
    """Where an objective's target comes from instead of ``target:``: a Resilience Hub
    resiliency policy's ``rtoInSecs`` / ``rpoInSecs`` for one disruption type."""

    resiliency_policy: str = Field(
        min_length=1, description="A resiliency policy ARN, or a JSON file of the same shape."
    )
    disruption: Disruption


class TimeObjective(ObjectiveBase):
    kind: Literal[ObjectiveKind.RTO, ObjectiveKind.RPO, ObjectiveKind.TTD]
    target: Duration | None = None
    target_from: TargetFrom | None = Field(
        default=None,
        description="Read the target from a Resilience Hub resiliency policy (rto, rpo).",
    )
    stable: int | None = Field(
        default=None, ge=1, description="RTO: consecutive healthy samples (default observe.stable)."
    )

    @model_validator(mode="after")
    def _one_target(self) -> TimeObjective:
        if (self.target is None) == (self.target_from is None):
            raise ValueError("give exactly one of 'target' or 'target_from'")
        if self.target_from is not None and self.kind is ObjectiveKind.TTD:
            raise ValueError(
                "target_from reads recovery targets: it applies to rto and rpo, not ttd"
            )
        return self


class AvailabilityObjective(ObjectiveBase):
    kind: Literal[ObjectiveKind.AVAILABILITY]
    target: Probability


class LatencyObjective(ObjectiveBase):
    kind: Literal[ObjectiveKind.LATENCY]
    percentile: Literal["p50", "p95", "p99"] = "p99"
    target: Duration


class SteadyObjective(ObjectiveBase):
    """The probe holds before faults are injected and after they are removed."""

    kind: Literal[ObjectiveKind.STEADY]
    samples: int = Field(default=3, ge=1, le=100)


class HumanObjective(Model):
    """Time from the first injection to people's own mark in a facilitated run: ``human_ttd``
    to the first ``detected`` mark, ``human_ttm`` to the first ``mitigation`` mark. Graded
    only under ``gameday run --facilitate``; nobody marks an unattended run."""

    kind: Literal[ObjectiveKind.HUMAN_TTD, ObjectiveKind.HUMAN_TTM]
    name: Name | None = Field(default=None, description="Default: the kind ('human_ttd').")
    target: Duration
    weight: float = Field(default=1.0, gt=0)
    critical: bool = False

    @property
    def probe(self) -> str:
        """No probe measures people: the result's ``probe`` is empty for these objectives."""
        return ""


class DestructiveCallsObjective(Model):
    """How many destructive calls (Delete*, Terminate*...) the app makes from the first
    injection to the end of observation, through the gateway: met at or under ``target``
    (docs/audit.md). No probe measures it: the gateway counts the calls."""

    kind: Literal[ObjectiveKind.DESTRUCTIVE_CALLS]
    name: Name | None = Field(default=None, description="Default: the kind ('destructive_calls').")
    target: int = Field(default=0, ge=0, description="The most destructive calls allowed.")
    weight: float = Field(default=1.0, gt=0)
    critical: bool = False

    @property
    def probe(self) -> str:
        """No probe counts calls: the result's ``probe`` is empty for this objective."""
        return ""


ObjectiveVariant = (
    TimeObjective
    | AvailabilityObjective
    | LatencyObjective
    | SteadyObjective
    | HumanObjective
    | DestructiveCallsObjective
)
Objective = Annotated[ObjectiveVariant, Field(discriminator="kind")]
