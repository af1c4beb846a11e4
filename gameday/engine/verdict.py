"""Assemble the result of a run from what it recorded and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gameday.engine.causes import exit_before_faults, tool_failure, with_app_exit
from gameday.engine.grade import grade_objectives
from gameday.environments.stage import Evidence
from gameday.faults.plan import Plan
from gameday.grading import (
    cut_short,
    describe_rules,
    grade_aborted,
    grade_not_run,
    measure_rpo,
    score_scenario,
)
from gameday.kinds import Grade, RunStatus
from gameday.recorder import Recorder
from gameday.redact import current_redactor
from gameday.reports.fault_calls import by_fault, expected_calls
from gameday.result import (
    AppExit,
    Event,
    FaultRecord,
    ObjectiveResult,
    ProbeRecord,
    ReadBackRecord,
    Rollback,
    RunResult,
    ScenarioInfo,
)
from gameday.scenario.models import Scenario
from gameday.scenario.probe_models import DataProbe, ProbeVariant

if TYPE_CHECKING:
    from gameday.engine.probing import ProbeSet
    from gameday.facilitation.session import Facilitator


@dataclass
class Outcome:
    """How a run ended, filled in as it goes."""

    steady_before: bool | None = None
    steady_after: bool | None = None
    not_steady: str | None = None
    aborted: str | None = None
    error: str | None = None
    drill_start: float | None = None
    observe_end: float | None = None
    rollback: Rollback = field(default_factory=Rollback)
    probes: ProbeSet | None = None
    evidence: Evidence = field(default_factory=Evidence)
    """What the injector's backend saw: the gateway's tally, the FIS experiment's record."""
    scenario: Scenario | None = None
    """The scenario as graded, when it differs from the plan's (targets read from policies)."""
    target_sources: dict[str, str] = field(default_factory=dict)
    facilitator: Facilitator | None = None
    app_exit: AppExit | None = None
    """Set when the app exited by itself during the run."""
    app_log: str | None = None
    """The kept app log, relative to the result's folder."""
    """A facilitated run's marks, checklist and hold."""


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scenario_info(plan: Plan) -> ScenarioInfo:
    scenario = plan.loaded.scenario
    return ScenarioInfo(
        name=scenario.metadata.name,
        file=str(plan.loaded.path),
        description=scenario.metadata.description,
        owner=scenario.metadata.owner,
        runbook=scenario.metadata.runbook,
        capabilities=tuple(sorted(plan.capabilities)),
        spec=scenario.model_dump(mode="json", by_alias=True),
    )


def _faults(plan: Plan, recorder: Recorder, outcome: Outcome) -> list[FaultRecord]:
    scenario = plan.loaded.scenario
    expects = {
        name: fault.expect_calls
        for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True)
    }
    counted = outcome.evidence.matched_calls
    unknown = outcome.evidence.matched_calls_unknown if counted is None else None
    return [
        FaultRecord(
            id=w.rule.id,
            fault=w.rule.fault,
            kind=w.rule.kind.value,
            mode=w.rule.mode.value,
            services=w.rule.services,
            regions=w.rule.regions,
            operations=w.rule.operations,
            probability=w.rule.probability,
            planned_start=w.rule.start_s,
            planned_end=w.rule.end_s,
            injected_at=w.injected_at,
            removed_at=w.removed_at,
            not_removed=w.not_removed,
            exclude_services=w.rule.exclude_services,
            matched_calls=None if counted is None else counted.get(w.rule.id),
            matched_calls_unknown=unknown,
            expect_calls=expects.get(w.rule.fault, True),
        )
        for w in recorder.faults.values()
    ]


def inconclusive_reason(faults: Sequence[FaultRecord]) -> str | None:
    """Why a drill that ran to its end tested nothing, or None when it tested something.

    A fault tested nothing when it was injected, its calls were counted, and none of its rules
    matched a call while in force, unless it says ``expect_calls: false`` (DESIGN.md "One
    run"). A fault whose calls nobody counted (FIS) is never the reason.
    """
    untested = []
    for name, records in by_fault(faults).items():
        injected = [r for r in records if r.injected_at is not None]
        if not injected or not all(r.expect_calls for r in injected):
            continue
        if any(r.matched_calls is None or r.matched_calls > 0 for r in injected):
            continue
        untested.append(f"{name!r} (it waited for calls to {expected_calls(injected)})")
    if not untested:
        return None
    which = f"fault {untested[0]}" if len(untested) == 1 else f"faults {', '.join(untested)}"
    return (
        f"{which} matched no call while in force, so the drill tested nothing; make the app "
        "call what the fault breaks during its window, or set 'expect_calls: false' on a "
        "fault the app is meant not to depend on"
    )


def _probe_records(plan: Plan, recorder: Recorder, outcome: Outcome) -> list[ProbeRecord]:
    records = []
    for probe in plan.loaded.scenario.probes:
        samples = recorder.samples.get(probe.name, [])
        extras = outcome.probes.evidence(probe.name) if outcome.probes else ([], [])
        records.append(
            ProbeRecord(
                name=probe.name,
                kind=probe.kind.value,
                interval_s=probe.interval,
                timeout_s=probe.timeout,
                samples=[(s.offset_s, s.ok, s.latency_s) for s in samples if not s.missed],
                missed=[s.offset_s for s in samples if s.missed],
                failures=[(s.offset_s, s.detail) for s in samples if not s.ok and not s.missed],
                markers=[(m.seq, m.written_at_s, m.acknowledged, m.found) for m in extras[0]],
                alerts=[(a.received_at_s, a.matched) for a in extras[1]],
                read_back=_read_back(probe, outcome),
            )
        )
    return records


def _read_back(probe: ProbeVariant, outcome: Outcome) -> ReadBackRecord | None:
    """A data probe's read-back counts; None for other probes or when it never read back."""
    done = outcome.probes.read_backs.get(probe.name) if outcome.probes else None
    if done is None or not isinstance(probe, DataProbe):
        return None
    loss = measure_rpo(done.markers)
    return ReadBackRecord(
        read=loss.read,
        lost=loss.lost,
        unverified=loss.unverified,
        settle_s=probe.read.settle,
        deadline_s=probe.read.deadline,
        flushed=done.flushed,
    )


def _graded(
    plan: Plan, recorder: Recorder, outcome: Outcome
) -> tuple[list[ObjectiveResult], RunStatus, float | None, str | None, tuple[str, ...]]:
    """(objectives, status, score, grade letter, caps) for a run that reached its drill."""
    t0, tend = recorder.t0, recorder.tend
    if outcome.probes is None or t0 is None or tend is None or outcome.observe_end is None:
        return [], RunStatus.ERROR, None, None, ()
    graded = grade_objectives(
        outcome.scenario or plan.loaded.scenario,
        samples=recorder.samples,
        markers=outcome.probes.markers(),
        alerts=outcome.probes.alerts(),
        t0=t0,
        tend=tend,
        observe_end=outcome.observe_end,
        steady=outcome.probes.steady_verdicts(),
        marks=outcome.facilitator.times() if outcome.facilitator is not None else None,
        calls=outcome.evidence.calls,
    )
    score = score_scenario(graded, steady_after_ok=bool(outcome.steady_after))
    grade = score.grade.value if score.grade else None
    results = [
        r.model_copy(update={"target_source": outcome.target_sources.get(r.name)}) for r in graded
    ]
    return results, score.status, score.score, grade, score.caps


def _aborted_at(recorder: Recorder) -> float:
    """When the abort was asked for (the first ``abort`` event), else when the rollback
    ended: the moment observation was cut short."""
    asked = [at for at, kind, _ in recorder.events if kind == "abort"]
    if asked:
        return asked[0]
    return recorder.tend if recorder.tend is not None else recorder.now()


def assemble_result(
    plan: Plan,
    run_id: str,
    recorder: Recorder,
    outcome: Outcome,
    started_at: datetime,
    ended_at: datetime,
) -> RunResult:
    """The result of the run, whatever way it ended, credentials redacted (``redact_result``)."""
    objectives: list[ObjectiveResult] = []
    caps: tuple[str, ...] = ()
    faults = _faults(plan, recorder, outcome)
    reason: str | None
    # The tool failing, or an app gone before any fault, explains whatever came after it (a
    # guardrail abort, an error, not steady): the run tested the tool, not the app.
    not_the_app = tool_failure(outcome.evidence.gateway) or exit_before_faults(
        outcome.app_exit, outcome.app_log
    )
    if not_the_app is not None:
        status, score, grade, reason = RunStatus.ERROR, None, None, not_the_app
    elif outcome.error is not None:
        verdict = grade_not_run(RunStatus.ERROR, outcome.error)
        status, score, grade, reason = verdict.status, None, None, outcome.error
    elif outcome.not_steady is not None:
        status, score, grade = RunStatus.NOT_STEADY, None, None
        reason = f"not steady before the drill: {outcome.not_steady}; no fault was injected"
    elif outcome.aborted is not None:
        if outcome.probes is not None and recorder.tend is not None:
            objectives = cut_short(_graded(plan, recorder, outcome)[0], _aborted_at(recorder))
        aborted = grade_aborted(outcome.aborted, objectives)
        status, score = aborted.status, aborted.score
        grade = aborted.grade.value if aborted.grade else None
        reason, caps = outcome.aborted, aborted.caps
    else:
        objectives, status, score, grade, caps = _graded(plan, recorder, outcome)
        reason = None if status is not RunStatus.ERROR else "the drill did not complete"
        untested = inconclusive_reason(faults) if status is not RunStatus.ERROR else None
        if untested is not None:
            # Grades of a drill that broke nothing the app used would certify what was
            # never tested (issue 15): the objectives stay as evidence, ungraded.
            status, score, grade, reason, caps = RunStatus.INCONCLUSIVE, None, None, untested, ()
    reason = with_app_exit(reason, outcome.app_exit, outcome.app_log)
    fis = outcome.evidence.fis
    result = RunResult(
        run_id=run_id,
        scenario=_scenario_info(plan),
        environment=plan.environment.value,
        started_at=_iso(started_at),
        ended_at=_iso(ended_at),
        status=status,
        score=score,
        grade=Grade(grade) if grade else None,
        caps=caps,
        reason=reason,
        t0=recorder.t0,
        tend=recorder.tend,
        steady_before=outcome.steady_before,
        steady_after=outcome.steady_after,
        objectives=objectives,
        faults=faults,
        events=[Event(at=at, kind=kind, detail=detail) for at, kind, detail in recorder.events],
        probes=_probe_records(plan, recorder, outcome),
        rollback=outcome.rollback,
        gateway=outcome.evidence.gateway,
        calls=outcome.evidence.calls,
        egress=list(outcome.evidence.egress),
        fis_experiments=[str(fis["experiment_id"])] if fis and fis.get("experiment_id") else [],
        fis=fis,
        scoring_rules=describe_rules(),
        facilitation=outcome.facilitator.record() if outcome.facilitator is not None else None,
        marks=list(outcome.facilitator.marks) if outcome.facilitator is not None else [],
        app_log=outcome.app_log,
        app_exit=outcome.app_exit,
    )
    return redact_result(result)


def redact_result(result: RunResult) -> RunResult:
    """``result`` with every credential redacted: the one choke point before a result is
    written anywhere (result.json, history, reports and metrics all render from it).

    Probe URLs, headers and command lines in the scenario copy, failure details, events,
    the reason: every string goes through ``gameday.redact`` (DESIGN.md "Safety" 6).
    """
    redactor = current_redactor()
    return RunResult.model_validate(redactor.data(result.model_dump(mode="json")))
