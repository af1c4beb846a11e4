"""From what a run recorded to graded objectives and a score, through ``gameday.grading``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gameday.grading import (
    Alert,
    Marker,
    Sample,
    count_destructive,
    describe_human,
    format_seconds,
    grade_objective,
    measure_availability,
    measure_human,
    measure_latency,
    measure_recovery,
    measure_rpo,
    measure_ttd,
)
from gameday.grading.timeouts import timeout_note
from gameday.kinds import HUMAN_MARKS, MarkKind, ObjectiveKind
from gameday.result import CallAudit, ObjectiveResult
from gameday.scenario.models import (
    AvailabilityObjective,
    DestructiveCallsObjective,
    HumanObjective,
    LatencyObjective,
    ObjectiveVariant,
    Scenario,
    SteadyObjective,
    TimeObjective,
)


def _percentile(stats: object, percentile: str) -> float | None:
    value = getattr(stats, f"{percentile}_s")
    return value if isinstance(value, float) else None


@dataclass(frozen=True, slots=True)
class SteadyHeld:
    """Whether a steady objective's probe held before the faults and after them (None: not
    checked after), and why it did not hold after."""

    before: bool
    after: bool | None
    after_detail: str = ""

    @property
    def held(self) -> bool:
        """Held before and after: the steady objective is met."""
        return self.before and self.after is True

    def describe(self) -> str:
        """Before and after apart: 'held before; did not hold after ... (HTTP 503)'."""
        if not self.before:
            return "did not hold before the faults"
        if self.after is None:
            return "held before; not checked after"
        if self.after:
            return "held before and after"
        why = f" ({self.after_detail})" if self.after_detail else ""
        return f"held before; did not hold after the faults were removed{why}"


def grade_objectives(
    scenario: Scenario,
    *,
    samples: Mapping[str, Sequence[Sample]],
    markers: Mapping[str, Sequence[Marker]],
    alerts: Mapping[str, Sequence[Alert]],
    t0: float,
    tend: float,
    observe_end: float,
    steady: Mapping[str, SteadyHeld],
    marks: Mapping[MarkKind, Sequence[float]] | None = None,
    calls: CallAudit | None = None,
) -> list[ObjectiveResult]:
    """Measure and grade every objective of ``scenario`` on the recorded timeline, each with
    the evidence its measurement leaves (impact, recovery) for the result.

    ``marks``: when each kind of mark was made, for a facilitated run; None for an unattended
    one, whose human objectives are left out (nobody was there to mark, so a miss would grade
    the tool's mode, not the team). ``calls``: what the gateway saw the app call, for a
    destructive_calls objective (not measured when nobody counted)."""
    evidence = _Evidence(
        samples, markers, alerts, t0, tend, observe_end, steady, marks or {}, calls or CallAudit()
    )
    return [
        _grade_one(name, objective, scenario, evidence)
        for name, objective in zip(scenario.objective_names(), scenario.objectives, strict=True)
        if marks is not None or not isinstance(objective, HumanObjective)
    ]


@dataclass(frozen=True, slots=True)
class _Evidence:
    """What a run recorded, as grading reads it."""

    samples: Mapping[str, Sequence[Sample]]
    markers: Mapping[str, Sequence[Marker]]
    alerts: Mapping[str, Sequence[Alert]]
    t0: float
    tend: float
    observe_end: float
    steady: Mapping[str, SteadyHeld]
    marks: Mapping[MarkKind, Sequence[float]]
    calls: CallAudit


def _grade_one(
    name: str, objective: ObjectiveVariant, scenario: Scenario, evidence: _Evidence
) -> ObjectiveResult:
    probe = objective.probe
    samples, steady = evidence.samples, evidence.steady
    t0, tend = evidence.t0, evidence.tend
    extra: dict[str, float | bool | None] = {}
    measured: float | None
    if isinstance(objective, SteadyObjective):
        held = steady.get(probe, SteadyHeld(before=False, after=None))
        target, measured, detail = 1.0, 1.0 if held.held else 0.0, held.describe()
    elif isinstance(objective, AvailabilityObjective):
        until = tend + scenario.observe.recovery_window
        availability = measure_availability(samples.get(probe, ()), t0, until)
        target, measured = objective.target, availability.ratio
        detail = f"{availability.healthy}/{availability.total} healthy samples"
        detail += f", {availability.missed} missed" if availability.missed else ""
    elif isinstance(objective, HumanObjective):
        mark = HUMAN_MARKS[objective.kind]
        target = objective.target
        measured = measure_human(evidence.marks.get(mark, ()), t0, evidence.observe_end)
        detail = describe_human(mark.value, measured)
    elif isinstance(objective, DestructiveCallsObjective):
        target, measured, detail = _destructive(objective, evidence)
    elif isinstance(objective, LatencyObjective):
        stats = measure_latency(samples.get(probe, ()), t0, tend)
        target, measured = objective.target, _percentile(stats, objective.percentile)
        detail = f"{objective.percentile} over {stats.count} samples in the fault window"
    else:
        target, measured, detail, extra = _time_objective(objective, scenario, evidence)
    note = _timeout_note(objective, scenario, evidence)
    detail = f"{detail}; {note}" if note else detail
    graded = grade_objective(
        name,
        objective.kind,
        probe,
        target,
        measured,
        weight=objective.weight,
        critical=objective.critical,
        detail=detail,
    )
    return graded.model_copy(update=extra) if extra else graded


def _destructive(
    objective: DestructiveCallsObjective, evidence: _Evidence
) -> tuple[float, float | None, str]:
    calls = evidence.calls
    if not calls.counted:
        why = calls.read_error or "no gateway saw the app's calls (a real account)"
        return objective.target, None, f"not counted: {why}"
    t0, end = evidence.t0, evidence.observe_end
    # Calls the gateway no longer held cannot be placed in time: they count, like None.
    seen = count_destructive((c.at for c in calls.destructive), t0, end)
    seen += calls.destructive_dropped
    refused = count_destructive((c.at for c in calls.refused), t0, end)
    detail = f"{seen} destructive call(s) from the first injection to the end of observation"
    if refused:
        detail += f", {refused} refused (deny_destructive)"
    return objective.target, float(seen), detail


def _timeout_note(
    objective: ObjectiveVariant, scenario: Scenario, evidence: _Evidence
) -> str | None:
    """For an objective graded on healthy samples: whether the probe's timeout decided it."""
    if objective.kind not in (ObjectiveKind.RTO, ObjectiveKind.AVAILABILITY):
        return None
    names = [p.name for p in scenario.probes]
    if objective.probe not in names:
        return None
    index = names.index(objective.probe)
    end = evidence.observe_end
    if objective.kind is ObjectiveKind.AVAILABILITY:
        end = evidence.tend + scenario.observe.recovery_window
    samples = evidence.samples.get(objective.probe, ())
    timeout_s = scenario.probes[index].timeout
    return timeout_note(samples, evidence.t0, end, timeout_s, f"probes[{index}]")


def _time_objective(
    objective: TimeObjective, scenario: Scenario, evidence: _Evidence
) -> tuple[float, float | None, str, dict[str, float | bool | None]]:
    probe, t0, tend = objective.probe, evidence.t0, evidence.tend
    if objective.target is None:
        raise ValueError(f"{objective.kind.value} target_from was not resolved before grading")
    if objective.kind is ObjectiveKind.RPO:
        loss = measure_rpo(evidence.markers.get(probe, ()))
        if loss.rpo_s is not None:
            return objective.target, loss.rpo_s, loss.detail, {}
        if loss.most_s <= objective.target:
            # Met however the unverified writes went: the worst case is a measured bound.
            detail = f"{loss.detail}; at most {format_seconds(loss.most_s)}: met either way"
            return objective.target, loss.most_s, detail, {}
        # Writes that could not be read back are neither kept nor lost: claiming an RPO over
        # them would be a number nobody measured.
        return objective.target, None, f"not measured: {loss.detail}", {}
    if objective.kind is ObjectiveKind.TTD:
        ttd = measure_ttd(evidence.alerts.get(probe, ()), t0)
        detail = "no matching alert" if ttd is None else "first matching alert"
        return objective.target, ttd, detail, {}
    stable = objective.stable or scenario.observe.stable
    recovery = measure_recovery(
        evidence.samples.get(probe, ()),
        t0,
        tend,
        observe_end_s=evidence.observe_end,
        stable=stable,
    )
    extra: dict[str, float | bool | None] = {
        "time_to_impact": recovery.time_to_impact_s,
        "recovered_during_fault": recovery.recovered_during_fault,
        "impact_start": recovery.impact_start_s,
        "recovered_at": recovery.recovered_at_s,
    }
    return objective.target, recovery.rto_s, recovery.detail, extra
