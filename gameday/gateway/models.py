"""The gateway's admin API as pydantic models: what a fault is, and what the gateway reports.

These models validate what crosses the admin port and what the typed client returns; the
request path never builds one (the store compiles a fault into plain matchers once, at PUT).

>>> FaultSpec.model_validate({"id": "sts-down", "match": {"services": ["sts"]},
...                           "effect": {"mode": "unavailable"}, "ttl_seconds": 60})
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gameday.faults.modes import ERROR_MODES, Mode
from gameday.kinds import CallClass

FAULT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""A fault id is one URL path segment: no slash, no percent-encoding needed."""

MAX_TTL_S = 7 * 24 * 3600.0
"""A week: long enough for any drill, short enough that a forgotten fault still ends."""

MAX_LATENCY_S = 3600.0

_RANGE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*\.\.\s*([0-9]*\.?[0-9]+)\s*$")

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Outcome(StrEnum):
    """What the gateway did with one request."""

    FORWARDED = "forwarded"
    DELAYED = "delayed"
    """Forwarded after a latency fault or a LocalStack latency effect."""
    ERROR = "error"
    """Answered with an injected AWS error."""
    BLACKHOLE = "blackhole"
    RESET = "reset"
    UPSTREAM_ERROR = "upstream-error"
    """The upstream could not be reached or broke off; the client got a 502."""
    REFUSED = "refused"
    """Not forwarded: CONNECT, a target that is not a path, an unsupported Expect."""
    CLIENT_GONE = "client-gone"
    """The client went away (its own timeout) before the answer was complete."""
    DENIED = "denied"
    """A destructive call answered AccessDenied by ``deny_destructive``, never forwarded."""


class Caller(StrEnum):
    """Who made a request: the app, or gameday's own probes (told apart by the access key id
    they sign with: ``CallLedger.caller_of``)."""

    APP = "app"
    PROBE = "probe"


class Latency(BaseModel):
    """A delay drawn uniformly from [min_s, max_s] for each matched request."""

    model_config = _FROZEN

    min_s: float = Field(ge=0, le=MAX_LATENCY_S)
    max_s: float = Field(ge=0, le=MAX_LATENCY_S)

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) is below min_s ({self.min_s})")
        return self

    @classmethod
    def parse(cls, value: object) -> object:
        """Accept ``1.5`` (fixed), ``"0.1..0.5"`` (a range) or ``{"min_s", "max_s"}``."""
        if isinstance(value, bool):
            return value  # pydantic rejects it with its own message
        if isinstance(value, int | float):
            return {"min_s": value, "max_s": value}
        if isinstance(value, str):
            match = _RANGE.match(value)
            if match:
                return {"min_s": float(match[1]), "max_s": float(match[2])}
            try:
                fixed = float(value)
            except ValueError:
                raise ValueError(
                    f"latency {value!r} is neither seconds nor 'min..max' (e.g. '0.1..0.5')"
                ) from None
            return {"min_s": fixed, "max_s": fixed}
        return value


class FaultMatch(BaseModel):
    """Which requests a fault applies to. An empty list means any."""

    model_config = _FROZEN

    services: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = ()
    """botocore service names ("cloudwatch") or SigV4 signing names ("monitoring")."""
    exclude_services: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = ()
    """Services spared even when the rest matches: a lost us-east-1 without the global
    services homed there (region-loss with ``include_global: false``)."""
    regions: tuple[Annotated[str, Field(min_length=1, max_length=64)], ...] = ()
    operations: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = ()
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    max_hits: int | None = Field(default=None, ge=1)
    """Answer at most this many requests, then match none (None: no limit): "the first N
    matching calls". A spent fault stays listed, with its hits, until removed or expired."""

    @field_validator("probability")
    @classmethod
    def _finite(cls, value: float) -> float:
        if math.isnan(value):
            raise ValueError("probability must be a number between 0 and 1")
        return value


class FaultEffect(BaseModel):
    """What a matched request gets instead of its answer."""

    model_config = _FROZEN

    mode: Mode
    latency: Latency | None = None
    """Required for ``latency``, and only allowed there."""
    status: int | None = Field(default=None, ge=400, le=599)
    """Overrides the HTTP status of an error mode."""
    code: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9._:-]{0,127}$")
    """Overrides the AWS error code of an error mode."""

    @field_validator("latency", mode="before")
    @classmethod
    def _latency_forms(cls, value: object) -> object:
        return Latency.parse(value)

    @model_validator(mode="after")
    def _consistent(self) -> FaultEffect:
        if self.mode is Mode.LATENCY and self.latency is None:
            raise ValueError("mode 'latency' needs a latency (seconds, or 'min..max')")
        if self.mode is not Mode.LATENCY and self.latency is not None:
            raise ValueError(f"latency is only allowed with mode 'latency', not {self.mode!r}")
        if self.mode not in ERROR_MODES and (self.status is not None or self.code is not None):
            raise ValueError(f"status and code only apply to error modes, not {self.mode!r}")
        return self


class FaultBody(BaseModel):
    """The body of ``PUT /_gameday/faults/{id}``."""

    model_config = _FROZEN

    match: FaultMatch = FaultMatch()
    effect: FaultEffect
    ttl_seconds: float = Field(gt=0, le=MAX_TTL_S)
    """Every fault ends by itself, even if whoever injected it is killed (DESIGN.md)."""


class FaultSpec(FaultBody):
    """A fault with its id: what the engine injects and what ``GET /_gameday/faults`` lists."""

    id: str = Field(pattern=FAULT_ID_PATTERN)


class FaultStatus(FaultSpec):
    """A fault as the gateway holds it now."""

    expires_in_s: float
    hits: int
    """Requests this fault has been applied to so far."""


class FaultList(BaseModel):
    model_config = _FROZEN

    faults: tuple[FaultStatus, ...]


class RequestRecord(BaseModel):
    """One request the gateway saw, from its ring of recent requests."""

    model_config = _FROZEN

    seq: int
    time: float
    """Wall-clock seconds since the epoch when the request finished."""
    method: str
    service: str | None
    region: str | None
    operation: str | None
    protocol: str | None
    status: int | None
    """None when no response was sent (blackhole, reset, client gone)."""
    outcome: Outcome
    fault_id: str | None
    latency_s: float
    unclassified: bool
    caller: Caller = Caller.APP
    """Whose request it was; ``app`` from a gateway older than this (it could not tell)."""


class RequestPage(BaseModel):
    """``GET /_gameday/requests?since=SEQ``: the records after ``since``, oldest first."""

    model_config = _FROZEN

    requests: tuple[RequestRecord, ...]
    last_seq: int
    """Pass this as the next ``since``."""
    dropped: int
    """Records after ``since`` that the bounded ring no longer holds."""


class CallCountRecord(BaseModel):
    """How many calls of one service, operation, outcome and class the gateway has seen."""

    model_config = _FROZEN

    service: str | None
    operation: str | None
    outcome: Outcome
    call_class: CallClass
    count: int


class DestructiveCallRecord(BaseModel):
    """One destructive call the gateway saw (docs/audit.md)."""

    model_config = _FROZEN

    seq: int
    time: float
    """Wall-clock seconds since the epoch when the gateway answered it."""
    service: str | None
    region: str | None
    operation: str | None
    resource: str | None
    """What the request names (docs/audit.md "Resource names"); None when it names none."""
    outcome: Outcome


class WatchBody(BaseModel):
    """The body of ``PUT /_gameday/watches/{id}``: while it holds, every AWS call is seen
    (the egress proxy decrypts every AWS host), and destructive ones are refused when
    ``deny_destructive``."""

    model_config = _FROZEN

    ttl_seconds: float = Field(gt=0, le=MAX_TTL_S)
    """A watch ends by itself, like a fault, even if whoever set it is killed."""
    deny_destructive: bool = False


class WatchSpec(WatchBody):
    """A watch with its id (a drill's run id): several runs may watch through one proxy."""

    id: str = Field(pattern=FAULT_ID_PATTERN)


class WatchStatus(WatchSpec):
    """A watch as the gateway holds it now."""

    expires_in_s: float


class WatchList(BaseModel):
    model_config = _FROZEN

    watches: tuple[WatchStatus, ...]


class CallsPage(BaseModel):
    """``GET /_gameday/calls?since=SEQ``: every call counted since the gateway started, and
    the destructive calls after ``since``, oldest first."""

    model_config = _FROZEN

    counts: tuple[CallCountRecord, ...]
    """The app's calls: every call but those signed with a probe's access key id."""
    destructive: tuple[DestructiveCallRecord, ...]
    """The app's destructive calls (a probe's are in ``probe_counts`` only)."""
    last_seq: int
    """Pass this as the next ``since``."""
    dropped: int
    """Destructive calls after ``since`` that the bounded list no longer holds."""
    deny_destructive: bool
    """Whether this gateway answers destructive calls with AccessDenied now (its
    ``--deny-destructive``, or a watch in force that denies)."""
    sees_all_calls: bool | None = None
    """Whether every AWS call through it is classified and counted now: always on the
    gateway; on the egress proxy only with ``--deny-destructive`` or a watch in force (else
    hosts no fault targets are tunnelled blind). None: a gateway older than watches."""
    watches: tuple[WatchStatus, ...] | None = None
    """The watches in force; None: a gateway older than watches, which cannot hold one."""
    probe_counts: tuple[CallCountRecord, ...] = ()
    """The calls of gameday's own probes (signed with an access key id the gateway was told
    is a probe's), counted apart from the app's; empty from a gateway older than this."""


class Health(BaseModel):
    model_config = _FROZEN

    status: str
    upstream: str
    faults: int
    requests: int


class ChaosError(BaseModel):
    """LocalStack Chaos API: the error a rule answers with."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    status_code: int = Field(default=503, ge=400, le=599, alias="statusCode")
    code: str = Field(default="ServiceUnavailable", pattern=r"^[A-Za-z][A-Za-z0-9._:-]{0,127}$")


class ChaosRule(BaseModel):
    """LocalStack Chaos API: one rule of ``/_localstack/chaos/faults``; omitted means any."""

    model_config = _FROZEN

    service: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    operation: str | None = Field(default=None, max_length=128)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    error: ChaosError = ChaosError()

    def as_body(self, ttl_s: float) -> FaultBody:
        """The gameday fault this rule stands for."""
        return FaultBody(
            match=FaultMatch(
                services=(self.service,) if self.service else (),
                regions=(self.region,) if self.region else (),
                operations=(self.operation,) if self.operation else (),
                probability=self.probability,
            ),
            effect=FaultEffect(
                mode=Mode.UNAVAILABLE, status=self.error.status_code, code=self.error.code
            ),
            ttl_seconds=ttl_s,
        )

    def to_json(self) -> dict[str, Any]:
        """The rule as it was given: only the fields that were set, camelCase."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ChaosEffects(BaseModel):
    """LocalStack Chaos API: ``/_localstack/chaos/effects``; latency in milliseconds."""

    model_config = _FROZEN

    latency: int = Field(default=0, ge=0, le=int(MAX_LATENCY_S * 1000))


def describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """The first problem of a validation error as (field path, message), for a 400 answer."""
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return field, first["msg"]
