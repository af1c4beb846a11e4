"""The result of one run: everything any report needs, as versioned JSON (DESIGN.md "Results").

Other tools read these files: the field names of DESIGN.md (``schema_version``, ``run_id``,
``scenario.name``, ``environment``, ``started_at``, ``ended_at``, ``status``, ``score``,
``grade``, ``objectives``, ``faults``, ``events``, ``probes``) are an interface; add fields,
never rename them. Times inside a run are offsets in seconds from the run's start on the
monotonic clock; ``started_at``/``ended_at`` are ISO 8601 UTC wall-clock times.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gameday.errors import GameDayError, InvalidInputError
from gameday.kinds import CallClass, Capability, Grade, MarkKind, ObjectiveKind, RunStatus

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioInfo(_Record):
    """Which drill ran; ``spec`` is the whole validated scenario as it was run."""

    name: str
    file: str
    description: str = ""
    owner: str = ""
    runbook: str | None = None
    capabilities: tuple[Capability, ...] = ()
    spec: dict[str, object] = Field(default_factory=dict)


class ObjectiveResult(_Record):
    """One graded objective, the one record of an objective's outcome: what grading decides,
    what the score is computed from, and what the result file holds (DESIGN.md: name, kind,
    probe, target, measured, met, credit, weight, critical, detail; times in seconds,
    ``measured`` null when not recovered)."""

    name: str
    kind: ObjectiveKind
    probe: str
    target: float
    measured: float | None
    met: bool
    credit: float
    weight: float = 1.0
    critical: bool = False
    detail: str = ""
    time_to_impact: float | None = None
    recovered_during_fault: bool | None = None
    impact_start: float | None = None
    recovered_at: float | None = None
    target_source: str | None = None
    """Where the target came from when it is not the scenario's own (a resiliency policy)."""

    @model_validator(mode="after")
    def _consistent(self) -> ObjectiveResult:
        # The score is recomputed from these by anyone who reads the file (DESIGN.md "Score").
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"objective {self.name!r}: weight must be a finite number > 0")
        if not 0.0 <= self.credit <= 1.0:
            raise ValueError(f"objective {self.name!r}: credit must be in [0, 1]")
        if self.met and self.credit != 1.0:
            raise ValueError(f"objective {self.name!r} is met, so its credit must be 1")
        return self


class FaultRecord(_Record):
    """One injected rule and when it was really in force (offsets in seconds)."""

    id: str
    fault: str
    kind: str
    mode: str
    services: tuple[str, ...]
    regions: tuple[str, ...]
    operations: tuple[str, ...]
    probability: float
    planned_start: float
    planned_end: float
    injected_at: float | None
    removed_at: float | None
    """Set only when its removal succeeded."""
    not_removed: str | None = None
    """Why it may still be in force: its removal failed for good (see ``rollback``)."""
    exclude_services: tuple[str, ...] = ()
    """Services it spared (a region loss that leaves the global services up)."""
    matched_calls: int | None = None
    """How many calls it acted on while in force (failed, delayed, dropped), from the
    gateway's counters; None when nobody counted them, and ``matched_calls_unknown`` says
    why (FIS reports no matches; a result from before matched calls were counted)."""
    matched_calls_unknown: str | None = None
    expect_calls: bool = True
    """The scenario's ``expect_calls``: False for a drill that proves the app does *not*
    depend on a service, so matching nothing is no reason to call the run inconclusive."""


class Event(_Record):
    """A moment on the timeline: a phase, an injection, a guardrail, a signal, an error."""

    at: float
    kind: str
    detail: str


class ProbeRecord(_Record):
    """Every sample of one probe: ``samples`` as [offset_s, ok, latency_s]; missed ticks and
    the detail of unhealthy samples apart, so the common healthy sample stays small."""

    name: str
    kind: str
    interval_s: float
    timeout_s: float | None = None
    """The probe's timeout, default or given: a sample not answered within it is unhealthy."""
    samples: list[tuple[float, bool, float | None]] = Field(default_factory=list)
    missed: list[float] = Field(default_factory=list)
    failures: list[tuple[float, str]] = Field(default_factory=list)
    markers: list[tuple[int, float, bool, bool | None]] = Field(default_factory=list)
    """(seq, written_at, acknowledged, found): found is null when not read back."""
    alerts: list[tuple[float, bool]] = Field(default_factory=list)
    read_back: ReadBackRecord | None = None
    """A data probe's read-back; None for other probes and a run that never read back."""


class ReadBackRecord(_Record):
    """What a data probe's read-back found among the acknowledged markers, and how it waited.

    ``read`` were found, ``lost`` were missing, ``unverified`` could not be read by the
    deadline: neither lost nor kept, counted apart (docs/measurements.md)."""

    read: int = 0
    lost: int = 0
    unverified: int = 0
    settle_s: float = 0.0
    deadline_s: float = 0.0
    flushed: bool | None = None
    """None without a ``read.flush_url``; else whether the flush was answered with a 2xx."""


class Mark(_Record):
    """A moment people marked in a facilitated run: a key in the live view or ``POST /marks``.

    ``step`` is the runbook step ticked off (kind ``step``); ``source`` is ``keys`` or
    ``http``."""

    at: float
    kind: MarkKind
    author: str
    note: str = ""
    step: int | None = None
    source: str = "keys"


class RunbookStepRecord(_Record):
    """One step of the facilitator's checklist and when it was ticked off (first tick)."""

    number: int
    text: str
    ticked_at: float | None = None
    ticked_by: str | None = None


class Facilitation(_Record):
    """How a facilitated run was run: who facilitated, whether faults were held, the
    checklist read from the runbook, and when and how the hold ended."""

    facilitator: str
    hold: bool = False
    hold_deadline: float | None = None
    """Under ``--hold``: when held faults would have ended by themselves (max_duration)."""
    hold_ended_at: float | None = None
    hold_ended_by: str | None = None
    """Who ended the held faults (key e), or ``max_duration``."""
    runbook: str | None = None
    runbook_heading: str | None = None
    steps: list[RunbookStepRecord] = Field(default_factory=list)
    marks_url: str | None = None


class GatewayTally(_Record):
    """What the gateway saw: calls by service, operation and outcome."""

    total: int = 0
    calls: list[tuple[str, str, str, int]] = Field(default_factory=list)
    """(service, operation, outcome, count)"""
    first_upstream_error_at: float | None = None
    """Offset in seconds of the first call the gateway could not forward (``upstream-error``:
    the emulator or upstream refused the connection, broke off, or did not answer)."""
    read_error: str | None = None
    """Why what the gateway saw could not be read (its admin API did not answer)."""

    @property
    def upstream_errors(self) -> int:
        """Calls the gateway could not forward to its upstream: the tool failed, not the app."""
        return sum(count for _, _, outcome, count in self.calls if outcome == "upstream-error")


class CallCount(_Record):
    """How many calls of one service, operation, outcome and class the app made."""

    service: str
    """botocore service model name; ``unclassified`` when the gateway could not tell."""
    operation: str
    """botocore operation name; ``-`` when the gateway could not tell."""
    outcome: str
    """What the gateway did: ``forwarded``, ``error`` (a fault), ``denied`` (deny_destructive)..."""
    call_class: CallClass
    count: int


class DestructiveCall(_Record):
    """One destructive call (docs/audit.md)."""

    at: float | None
    """Offset in seconds from the run's start; None when it could not be placed."""
    service: str
    operation: str
    resource: str | None = None
    """What the request named (a table, a function, a bucket/key, ARNs); None if nothing."""
    outcome: str
    """``forwarded`` (it reached the emulator), ``denied`` (refused by deny_destructive)..."""
    region: str | None = None


class CallAudit(_Record):
    """What the app called through the gateway, by service, operation, outcome and class
    (DESIGN.md ``calls``), and every destructive call. Exact: the gateway's own counts, not
    its ring of recent requests. ``gateway.calls`` holds the same counts without the class,
    for readers of results written before calls were classed."""

    counted: bool = False
    """False where nobody counted (a real account through FIS; an older result)."""
    counts: list[CallCount] = Field(default_factory=list)
    """The app's calls; those of gameday's own probes are in ``probe_counts``."""
    destructive: list[DestructiveCall] = Field(default_factory=list)
    """The app's destructive calls."""
    destructive_dropped: int = 0
    """Destructive calls the gateway no longer held when they were read (counted above)."""
    deny_destructive: bool = False
    """The target's ``deny_destructive``: destructive calls were answered AccessDenied."""
    read_error: str | None = None
    """Why the calls could not be read (the gateway's admin API did not answer)."""
    probe_counts: list[CallCount] = Field(default_factory=list)
    """The calls of gameday's own ``aws`` and ``command`` probes (signed with the probes'
    key), counted apart: not the app's, in no objective or guardrail. Empty in results
    written before they were told apart (their ``counts`` hold them)."""

    def by_class(self) -> dict[CallClass, int]:
        """The app's calls per class, every class present (0 for none)."""
        return _by_class(self.counts)

    def probe_by_class(self) -> dict[CallClass, int]:
        """The probes' calls per class, every class present (0 for none)."""
        return _by_class(self.probe_counts)

    def by_operation(self) -> dict[tuple[str, str], int]:
        """Calls per (service, operation), every outcome together."""
        totals: dict[tuple[str, str], int] = {}
        for row in self.counts:
            key = (row.service, row.operation)
            totals[key] = totals.get(key, 0) + row.count
        return totals

    @property
    def refused(self) -> list[DestructiveCall]:
        """The destructive calls deny_destructive answered AccessDenied."""
        return [call for call in self.destructive if call.outcome == "denied"]


def _by_class(counts: list[CallCount]) -> dict[CallClass, int]:
    totals = dict.fromkeys(CallClass, 0)
    for row in counts:
        totals[row.call_class] += row.count
    return totals


class EgressRecord(_Record):
    """Connections the app or a probe tried to open past loopback in an isolated drill
    (embedded, localstack): each was refused by the egress guard, never forwarded."""

    host: str
    port: int
    source: str = ""
    """Who tried: ``app``, ``probe``, or "" when the client did not say."""
    attempts: int
    first_at: float | None = None
    """Offset in seconds of the first attempt."""


class AppExit(_Record):
    """The app under test exited by itself during the run (DESIGN.md "One run")."""

    at: float
    """Offset in seconds when the runner saw its process tree end (within 50 ms of it)."""
    code: int
    """Its exit code; negative when a signal ended it (-9: SIGKILL)."""
    before_faults: bool
    """No fault had been injected yet: the drill tested nothing, the run is an error."""
    fault: str | None = None
    """The fault in force when it exited, if any."""


class Rollback(_Record):
    """Whether every injected fault was removed (DESIGN.md ``rollback``).

    ``complete`` is False when a removal failed after its bounded retries: a fault may still
    be in force, and ``problems`` names each one and how to finish the job.
    """

    complete: bool = True
    problems: list[str] = Field(default_factory=list)


class RunResult(_Record):
    """The record of one run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    scenario: ScenarioInfo
    environment: str
    started_at: str
    ended_at: str
    status: RunStatus
    score: float | None
    grade: Grade | None
    caps: tuple[str, ...] = ()
    reason: str | None = None
    rollback: Rollback = Field(default_factory=Rollback)
    t0: float | None = None
    tend: float | None = None
    steady_before: bool | None = None
    steady_after: bool | None = None
    objectives: list[ObjectiveResult] = Field(default_factory=list)
    faults: list[FaultRecord] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    probes: list[ProbeRecord] = Field(default_factory=list)
    gateway: GatewayTally = Field(default_factory=GatewayTally)
    calls: CallAudit = Field(default_factory=CallAudit)
    """What the app called, by class, and its destructive calls (docs/audit.md)."""
    egress: list[EgressRecord] = Field(default_factory=list)
    """Isolated drills: attempts to reach a non-loopback address, refused (fail closed)."""
    fis_experiments: list[str] = Field(default_factory=list)
    fis: dict[str, object] | None = None
    """On a real account: the FIS template and experiment ids, final state, reason, actions."""
    scoring_rules: list[str] = Field(default_factory=list)
    facilitation: Facilitation | None = None
    """Set for ``run --facilitate``; None for an unattended run."""
    marks: list[Mark] = Field(default_factory=list)
    """People's marks, in time order (a facilitated run only)."""
    app_log: str | None = None
    """The app's output (capped, redacted), relative to this result's folder: ``app.log``;
    None when no app was started or its output was not kept (no report folder)."""
    app_exit: AppExit | None = None
    """Set when the app exited by itself during the run."""


def write_result(result: RunResult, path: Path) -> None:
    """Write atomically: a reader never sees half a file, a crash never leaves one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".result-", suffix=".json", dir=path.parent)
    except OSError as error:
        raise GameDayError(
            f"cannot write the result to {path}: {error.strerror or error}",
            hint="check --report-dir",
        ) from None
    try:
        # mkstemp makes the file private (0600); a result is meant to be shared like any
        # file the user writes, so it gets the usual permissions under the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(handle, 0o666 & ~umask)
        with os.fdopen(handle, "w") as out:
            out.write(result.model_dump_json(indent=2))
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> RunResult:
    """Read a result file; a clear error for a file that is not one."""
    try:
        return RunResult.model_validate_json(path.read_bytes())
    except OSError as error:
        raise InvalidInputError(f"{path}: cannot read: {error.strerror or error}") from None
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInputError(f"{path}: not a gameday result: {where}: {first['msg']}") from None
