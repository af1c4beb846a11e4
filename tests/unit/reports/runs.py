"""Realistic run results for report and history tests, built the way the engine builds them.

Probe timelines are written as strings (``H`` healthy, ``U`` unhealthy, ``M`` a missed tick,
one character per 0.5 s from offset 0), measured with ``gameday.grading`` and graded with it,
so every number in a fixture is one the engine could have produced: impact and recovery sit on
sample offsets, credits and scores follow the rules.

``every_result()`` adds the recorded results of real embedded runs from
``tests/fixtures/results/*.json`` when that folder exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gameday.engine.verdict import inconclusive_reason
from gameday.grading import (
    Marker,
    Sample,
    describe_human,
    describe_rules,
    grade_aborted,
    grade_objective,
    measure_availability,
    measure_human,
    measure_recovery,
    measure_rpo,
    score_scenario,
)
from gameday.kinds import HUMAN_MARKS, Capability, MarkKind, ObjectiveKind, RunStatus
from gameday.result import (
    Event,
    Facilitation,
    FaultRecord,
    GatewayTally,
    Mark,
    ObjectiveResult,
    ProbeRecord,
    RunbookStepRecord,
    RunResult,
    ScenarioInfo,
    read_result,
)

REPO = Path(__file__).resolve().parents[3]
RECORDED = REPO / "tests" / "fixtures" / "results"

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "quotes": "\"double\" 'single' & <b>bold</b>",
    "attribute": '"><img src=x onerror=alert(2)>',
    "markdown": "| pipe | [link](javascript:alert(3)) `tick` *star* _under_",
    "svg": 'api"><svg onload=alert(4)>',
    "control": "red \x1b[31mALERT\x1b[0m done",
}
"""Strings a scenario (or a probe's output) could carry; reports must show them as text."""

HOSTILE_NOTE = "<script>alert(1)</script> | **x** ]]>"
HOSTILE_AUTHOR = "<b>carol</b> [c](javascript:alert(5))"
HOSTILE_STEP = "Check <https://health.aws.amazon.com> | run `aws sts get-caller-identity`"
"""What people type into a facilitated run: a note, an author (``--as``), a runbook step."""

INTERVAL_S = 0.5
T0, TEND, OBSERVE_END = 5.0, 25.0, 45.0


def samples(pattern: str) -> list[Sample]:
    """One sample per character (H, U, M), INTERVAL_S apart from offset 0."""
    built = []
    for index, char in enumerate(pattern):
        at = index * INTERVAL_S
        if char == "M":
            built.append(Sample(at, ok=False, latency_s=None, missed=True))
        elif char == "H":
            built.append(Sample(at, ok=True, latency_s=0.012 + 0.004 * (index % 5)))
        else:
            built.append(Sample(at, ok=False, latency_s=1.0))
    return built


def probe_record(
    name: str,
    kind: str,
    pattern: str,
    *,
    detail: str = "GET /health: 503 ServiceUnavailable",
    markers: tuple[Marker, ...] = (),
    alerts: tuple[tuple[float, bool], ...] = (),
) -> ProbeRecord:
    """The ProbeRecord the engine writes for these samples (as ``verdict._probe_records``)."""
    built = samples(pattern)
    return ProbeRecord(
        name=name,
        kind=kind,
        interval_s=INTERVAL_S,
        samples=[(s.offset_s, s.ok, s.latency_s) for s in built if not s.missed],
        missed=[s.offset_s for s in built if s.missed],
        failures=[(s.offset_s, detail) for s in built if not s.ok and not s.missed],
        markers=[(m.seq, m.written_at_s, m.acknowledged, m.found) for m in markers],
        alerts=list(alerts),
    )


def _samples_of(probe: ProbeRecord) -> list[Sample]:
    kept = [Sample(at, ok, latency) for at, ok, latency in probe.samples]
    kept += [Sample(at, ok=False, latency_s=None, missed=True) for at in probe.missed]
    return sorted(kept, key=lambda s: s.offset_s)


def _result(
    graded: ObjectiveResult,
    time_to_impact: float | None = None,
    recovered_during_fault: bool | None = None,
    impact_start: float | None = None,
    recovered_at: float | None = None,
) -> ObjectiveResult:
    return ObjectiveResult(
        name=graded.name,
        kind=graded.kind,
        probe=graded.probe,
        target=graded.target,
        measured=graded.measured,
        met=graded.met,
        credit=graded.credit,
        weight=graded.weight,
        critical=graded.critical,
        detail=graded.detail,
        time_to_impact=time_to_impact,
        recovered_during_fault=recovered_during_fault,
        impact_start=impact_start,
        recovered_at=recovered_at,
    )


def rto(
    name: str, probe: ProbeRecord, target_s: float, weight: float = 1.0, critical: bool = False
) -> ObjectiveResult:
    """An RTO measured on the probe's samples, fault window T0..TEND."""
    found = measure_recovery(_samples_of(probe), T0, TEND, observe_end_s=OBSERVE_END)
    graded = grade_objective(
        name,
        ObjectiveKind.RTO,
        probe.name,
        target_s,
        found.rto_s,
        weight=weight,
        critical=critical,
        detail=found.detail,
    )
    return _result(
        graded,
        time_to_impact=found.time_to_impact_s,
        recovered_during_fault=found.recovered_during_fault,
        impact_start=found.impact_start_s,
        recovered_at=found.recovered_at_s,
    )


def availability(name: str, probe: ProbeRecord, target: float) -> ObjectiveResult:
    found = measure_availability(_samples_of(probe), T0, TEND + 10.0)
    detail = f"{found.healthy} of {found.total} samples healthy in [T0, Tend + 10s]"
    kind = ObjectiveKind.AVAILABILITY
    return _result(grade_objective(name, kind, probe.name, target, found.ratio, detail=detail))


def steady(name: str, probe: str, held: bool, detail: str = "") -> ObjectiveResult:
    detail = detail or ("5 of 5 samples healthy" if held else "2 of 5 samples healthy")
    measured = 1.0 if held else 0.0
    kind = ObjectiveKind.STEADY
    return _result(grade_objective(name, kind, probe, 1.0, measured, detail=detail))


def ttd(name: str, probe: ProbeRecord, target_s: float) -> ObjectiveResult:
    times = [at for at, matched in probe.alerts if matched and at >= T0]
    measured = min(times) - T0 if times else None
    detail = "first matching alert" if times else "no matching alert arrived"
    kind = ObjectiveKind.TTD
    return _result(grade_objective(name, kind, probe.name, target_s, measured, detail=detail))


def rpo(name: str, probe: ProbeRecord, target_s: float, critical: bool = False) -> ObjectiveResult:
    loss = measure_rpo([Marker(seq, at, ack, found) for seq, at, ack, found in probe.markers])
    graded = grade_objective(
        name,
        ObjectiveKind.RPO,
        probe.name,
        target_s,
        loss.rpo_s,
        critical=critical,
        detail=loss.detail,
    )
    return _result(graded)


def fault(
    name: str,
    kind: str,
    services: tuple[str, ...],
    removed_at: float | None = TEND,
    matched_calls: int | None = None,
) -> FaultRecord:
    return FaultRecord(
        id=f"{name}-0",
        fault=name,
        kind=kind,
        mode="unavailable",
        services=services,
        regions=("us-east-1",),
        operations=(),
        probability=1.0,
        planned_start=T0,
        planned_end=TEND,
        injected_at=T0,
        removed_at=removed_at,
        matched_calls=matched_calls,
    )


@dataclass
class Run:
    """What varies between fixtures; ``build`` grades it and assembles the RunResult."""

    name: str
    day: int
    capabilities: tuple[Capability, ...]
    probes: list[ProbeRecord] = field(default_factory=list)
    objectives: list[ObjectiveResult] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    description: str = "A drill."
    owner: str = "platform-team"
    tags: tuple[str, ...] = ()
    runbook: str | None = "../runbooks/identity-loss.md"
    file: str = str(REPO / "scenarios" / "identity-loss.yaml")
    steady_after: bool = True
    calls: tuple[tuple[str, str, str, int], ...] = ()
    events: tuple[tuple[float, str, str], ...] = (
        (0.0, "phase", "steady-before"),
        (T0, "inject", "faults injected"),
        (TEND, "remove", "faults removed"),
        (OBSERVE_END, "phase", "grade"),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(run: Run, hour: int = 2, **overrides: object) -> RunResult:
    """Grade ``run`` with gameday.grading and assemble its RunResult; ``overrides`` last."""
    started = datetime(2026, 11, run.day, hour, 0, 0, tzinfo=UTC)
    graded: dict[str, object] = {"status": RunStatus.PASSED, "score": None, "grade": None}
    if run.objectives:
        score = score_scenario(list(run.objectives), steady_after_ok=run.steady_after)
        graded = {"status": score.status, "score": score.score, "grade": score.grade}
        graded["caps"] = score.caps
    fields: dict[str, object] = {
        "run_id": f"{started:%Y%m%dT%H%M%SZ}-{run.name[:20]}-{run.day:02d}{hour:02d}",
        "scenario": ScenarioInfo(
            name=run.name,
            file=run.file,
            description=run.description,
            owner=run.owner,
            runbook=run.runbook,
            capabilities=run.capabilities,
            spec={"metadata": {"name": run.name, "tags": list(run.tags)}},
        ),
        "environment": "embedded",
        "started_at": _iso(started),
        "ended_at": _iso(started + timedelta(seconds=52.25)),
        "t0": T0 if any(f.injected_at is not None for f in run.faults) else None,
        "tend": TEND if any(f.removed_at is not None for f in run.faults) else None,
        "steady_before": True,
        "steady_after": run.steady_after,
        "objectives": run.objectives,
        "faults": run.faults,
        "events": [Event(at=at, kind=kind, detail=detail) for at, kind, detail in run.events],
        "probes": run.probes,
        "gateway": GatewayTally(total=sum(c[3] for c in run.calls), calls=list(run.calls)),
        "scoring_rules": describe_rules(),
    }
    return RunResult.model_validate({**fields, **graded, **overrides})


_CALLS = (
    ("sts", "AssumeRole", "unavailable", 41),
    ("sts", "AssumeRole", "forwarded", 12),
    ("iam", "GetRole", "unavailable", 3),
    ("dynamodb", "PutItem", "forwarded", 180),
    ("dynamodb", "GetItem", "forwarded", 176),
    ("logs", "PutLogEvents", "forwarded", 52),
)


def met_and_missed(day: int = 22, hour: int = 2) -> RunResult:
    """identity-loss, failed: a met RTO, an RTO recovered only after the fault was lifted, an
    availability miss, a late TTD, no data loss."""
    api = probe_record("api", "http", "H" * 10 + "U" * 6 + "H" * 20 + "M" + "H" * 53)
    credentials = probe_record(
        "credentials",
        "http",
        "H" * 10 + "U" * 43 + "H" * 37,
        detail="GET /health/credentials: 500 (sts:AssumeRole ServiceUnavailable)",
    )
    markers = tuple(Marker(i, float(i), True, True) for i in range(45))
    orders = probe_record("orders", "data", "H" * 90, markers=markers)
    pager = probe_record("pager", "alert", "", alerts=((19.5, True), (20.0, False)))
    run = Run(
        name="identity-loss",
        day=day,
        capabilities=(Capability.IDENTITY,),
        description="STS, IAM and Identity Center unavailable for 20 s in us-east-1.",
        tags=("identity", "sts"),
        probes=[api, credentials, orders, pager],
        objectives=[
            steady("steady", "api", held=True),
            rto("api-rto", api, 5.0, weight=2.0, critical=True),
            rto("credentials-rto", credentials, 15.0),
            availability("availability", api, 0.95),
            rpo("orders-rpo", orders, 0.0, critical=True),
            ttd("detect-credential-refresh-failures", pager, 10.0),
        ],
        faults=[fault("sts-and-iam-down", "identity-loss", ("sts", "iam", "sso"))],
        calls=_CALLS,
    )
    return build(run, hour=hour)


def never_recovered(day: int = 22) -> RunResult:
    """registry-loss, failed and capped at D: the image-pull probe never recovers."""
    deploy = probe_record(
        "image-pull", "http", "H" * 10 + "U" * 80, detail="ecr:GetAuthorizationToken 503"
    )
    run = Run(
        name="registry-loss",
        day=day,
        capabilities=(Capability.REGISTRY,),
        description="ECR unavailable for 20 s: can new tasks still start?",
        runbook="../runbooks/registry-loss.md",
        file=str(REPO / "scenarios" / "registry-loss.yaml"),
        probes=[deploy],
        objectives=[
            steady("steady", "image-pull", held=True),
            rto("image-pull-rto", deploy, 30.0, critical=True),
            steady("healthz", "image-pull", held=True),
            steady("deploys", "image-pull", held=True),
        ],
        faults=[fault("ecr-down", "registry-loss", ("ecr", "ecr-public"))],
        calls=(("ecr", "GetAuthorizationToken", "unavailable", 37),),
    )
    return build(run)


def aborted(day: int = 22) -> RunResult:
    """logging-loss, aborted by a guardrail at 12 s; the fault was rolled back at once."""
    api = probe_record("api", "http", "H" * 12 + "U" * 13)
    reason = "guardrail: probe api failed 12 consecutive samples (limit 12)"
    verdict = grade_aborted(reason)
    run = Run(
        name="logging-loss",
        day=day,
        capabilities=(Capability.LOGGING,),
        runbook="../runbooks/logging-loss.md",
        file=str(REPO / "scenarios" / "logging-loss.yaml"),
        probes=[api],
        objectives=[rto("api-rto", api, 5.0)],
        faults=[fault("logs-down", "logging-loss", ("logs", "cloudtrail"), removed_at=12.3)],
        events=(
            (0.0, "phase", "steady-before"),
            (T0, "inject", "logs-down"),
            (12.0, "guardrail", reason),
        ),
    )
    return build(
        run,
        status=verdict.status,
        score=verdict.score,
        grade=verdict.grade,
        caps=verdict.caps,
        reason=reason,
        tend=12.3,
    )


def not_steady(day: int = 22) -> RunResult:
    """region-loss, not-steady: the steady state did not hold, no fault was injected."""
    api = probe_record("api", "http", "HUHUH", detail="connection refused")
    unplanned = fault("us-east-1-down", "region-loss", ())
    run = Run(
        name="region-loss",
        day=day,
        capabilities=(Capability.REGION,),
        runbook="../runbooks/region-loss.md",
        file=str(REPO / "scenarios" / "region-loss.yaml"),
        probes=[api],
        faults=[unplanned.model_copy(update={"injected_at": None, "removed_at": None})],
        events=((0.0, "phase", "steady-before"), (2.5, "not-steady", "api: 2 of 5 unhealthy")),
    )
    reason = "not steady before the drill: api: 2 of 5 samples unhealthy; no fault was injected"
    return build(run, status=RunStatus.NOT_STEADY, reason=reason, steady_after=None)


def inconclusive(day: int = 22) -> RunResult:
    """image-pull, inconclusive: its ECR fault matched no call (the app pulled nothing while
    it was in force), so the drill tested nothing; the objectives stay, ungraded."""
    api = probe_record("api", "http", "H" * 90)
    untested = fault("ecr-down", "registry-loss", ("ecr", "ecr-public"), matched_calls=0)
    run = Run(
        name="image-pull",
        day=day,
        capabilities=(Capability.REGISTRY,),
        description="ECR unavailable for 20 s, on an app that pulls no image.",
        runbook="../runbooks/registry-loss.md",
        file=str(REPO / "scenarios" / "registry-loss.yaml"),
        probes=[api],
        objectives=[rto("api-rto", api, 5.0)],
        faults=[untested],
        calls=(("sts", "GetCallerIdentity", "forwarded", 12),),
    )
    reason = inconclusive_reason([untested])
    return build(run, status=RunStatus.INCONCLUSIVE, score=None, grade=None, reason=reason)


def hostile(day: int = 22) -> RunResult:
    """Every scenario-supplied string is hostile: reports must show each one as text."""
    h = HOSTILE
    api = probe_record(h["svg"], "http", "H" * 10 + "U" * 4 + "H" * 76, detail=h["control"])
    objectives = [
        steady(h["script"], h["svg"], held=True, detail=h["quotes"]),
        rto(h["attribute"], api, 1.0),
    ]
    run = Run(
        name=h["script"],
        day=day,
        capabilities=(Capability.IDENTITY,),
        description=h["quotes"] + " " + h["markdown"],
        owner=h["attribute"],
        tags=(h["script"], h["markdown"]),
        runbook="javascript:alert(7)",
        file="scenarios/<x>.yaml",
        probes=[api],
        objectives=objectives,
        faults=[fault(h["script"], "api-fault", (h["quotes"],))],
        calls=((h["script"], h["svg"], h["quotes"], 3),),
        events=((T0, h["script"], h["attribute"]),),
    )
    return build(run)


def human(name: str, kind: ObjectiveKind, marks: list[Mark], target_s: float) -> ObjectiveResult:
    """A human objective measured on the marks as the engine measures it (engine/grade.py)."""
    mark = HUMAN_MARKS[kind]
    times = [m.at for m in marks if m.kind is mark]
    measured = measure_human(times, T0, OBSERVE_END)
    detail = describe_human(mark.value, measured)
    return _result(grade_objective(name, kind, "", target_s, measured, detail=detail))


def _mark_event(mark: Mark, steps: list[RunbookStepRecord]) -> tuple[float, str, str]:
    """The ``mark`` event the Facilitator records with each mark (facilitation.describe)."""
    what = mark.kind.value
    if mark.step is not None:
        what = f"step {mark.step} ({steps[mark.step - 1].text[:60]})"
    line = f"{what} by {mark.author}" + (f" via {mark.source}" if mark.source != "keys" else "")
    return (mark.at, "mark", f"{line}: {mark.note}" if mark.note else line)


def _ticked(number: int, text: str, marks: list[Mark]) -> RunbookStepRecord:
    tick = next((m for m in marks if m.step == number), None)
    return RunbookStepRecord(
        number=number,
        text=text,
        ticked_at=tick.at if tick else None,
        ticked_by=tick.author if tick else None,
    )


FACILITATED_MARKS = [
    Mark(at=3.0, kind=MarkKind.NOTE, author="alice", note="bridge open, everyone on the call"),
    Mark(at=9.5, kind=MarkKind.STEP, author="bob", step=1),
    Mark(at=12.3, kind=MarkKind.DETECTED, author="bob"),
    Mark(at=14.0, kind=MarkKind.NOTE, author=HOSTILE_AUTHOR, note=HOSTILE_NOTE, source="http"),
    Mark(at=18.5, kind=MarkKind.STEP, author="alice", step=3),
    Mark(at=21.0, kind=MarkKind.MITIGATION, author="alice", note="cached credentials on"),
    Mark(at=TEND, kind=MarkKind.END, author="alice"),
    Mark(at=31.5, kind=MarkKind.RECOVERED, author="bob"),
]
"""A facilitated run's marks, in time order: one of every kind, one before T0, a hostile note
posted over HTTP; alice ends the held faults at TEND (the ``end`` mark)."""

FACILITATED_STEPS = (
    "Page the identity on-call",
    HOSTILE_STEP,
    "Switch the app to cached credentials",
    "Write the incident note",
)


def facilitated(day: int = 23) -> RunResult:
    """identity-loss run with ``--facilitate --hold``: people detected in 7.3 s (met) and
    mitigated in 16 s (target 10 s: missed); two of four checklist steps ticked."""
    marks = FACILITATED_MARKS
    steps = [_ticked(i, text, marks) for i, text in enumerate(FACILITATED_STEPS, start=1)]
    api = probe_record("api", "http", "H" * 10 + "U" * 8 + "H" * 72)
    events = [(0.0, "phase", "steady-before"), (T0, "inject", "faults injected")]
    events += [_mark_event(m, steps) for m in marks]
    events.append((TEND, "remove", "faults removed"))
    run = Run(
        name="identity-loss",
        day=day,
        capabilities=(Capability.IDENTITY,),
        description="STS, IAM and Identity Center unavailable, held until the team mitigates.",
        probes=[api],
        objectives=[
            steady("steady", "api", held=True),
            rto("api-rto", api, 5.0),
            human("human_ttd", ObjectiveKind.HUMAN_TTD, marks, 60.0),
            human("human_ttm", ObjectiveKind.HUMAN_TTM, marks, 10.0),
        ],
        faults=[fault("sts-and-iam-down", "identity-loss", ("sts", "iam", "sso"))],
        events=tuple(sorted(events)),
    )
    facilitation = Facilitation(
        facilitator="alice",
        hold=True,
        hold_deadline=125.0,
        hold_ended_at=TEND,
        hold_ended_by="alice",
        runbook="../runbooks/identity-loss.md",
        runbook_heading="Mitigate",
        steps=steps,
        marks_url="http://127.0.0.1:8765/marks",
    )
    return build(run, facilitation=facilitation, marks=marks)


def facilitated_unmarked(day: int = 23) -> RunResult:
    """logging-loss with ``--facilitate --hold`` where nobody marked 'detected' or
    'mitigation': both human objectives missed with no value, the hold ran to its deadline,
    no step ticked."""
    marks = [Mark(at=20.0, kind=MarkKind.NOTE, author="dave", note="nothing on the dashboards")]
    steps = [_ticked(1, "Check the log shipper's queue", marks), _ticked(2, "Page logging", marks)]
    api = probe_record("api", "http", "H" * 90)
    run = Run(
        name="logging-loss",
        day=day,
        capabilities=(Capability.LOGGING,),
        runbook="../runbooks/logging-loss.md",
        file=str(REPO / "scenarios" / "logging-loss.yaml"),
        probes=[api],
        objectives=[
            steady("steady", "api", held=True),
            human("human_ttd", ObjectiveKind.HUMAN_TTD, marks, 30.0),
            human("human_ttm", ObjectiveKind.HUMAN_TTM, marks, 60.0),
        ],
        faults=[fault("logs-down", "logging-loss", ("logs",), removed_at=OBSERVE_END)],
        events=(
            (0.0, "phase", "steady-before"),
            (T0, "inject", "logs-down"),
            _mark_event(marks[0], steps),
            (OBSERVE_END, "hold", "the hold reached its deadline (max_duration)"),
            (OBSERVE_END, "remove", "faults removed"),
        ),
    )
    facilitation = Facilitation(
        facilitator="dave",
        hold=True,
        hold_deadline=OBSERVE_END,
        hold_ended_at=OBSERVE_END,
        hold_ended_by="max_duration",
        runbook="../runbooks/logging-loss.md",
        runbook_heading="Mitigate",
        steps=steps,
    )
    return build(run, facilitation=facilitation, marks=marks)


def demo_suite() -> list[RunResult]:
    """The shipped drills as a suite run would leave them (no hostile strings)."""
    return [met_and_missed(), never_recovered(), aborted(), not_steady()]


def synthetic() -> dict[str, RunResult]:
    """Every built fixture by name."""
    return {
        "met-and-missed": met_and_missed(),
        "never-recovered": never_recovered(),
        "aborted": aborted(),
        "not-steady": not_steady(),
        "inconclusive": inconclusive(),
        "hostile": hostile(),
        "facilitated": facilitated(),
        "facilitated-unmarked": facilitated_unmarked(),
    }


def recorded() -> dict[str, RunResult]:
    """Recorded results of real embedded runs, when tests/fixtures/results/ exists."""
    if not RECORDED.is_dir():
        return {}
    return {f"recorded-{p.stem}": read_result(p) for p in sorted(RECORDED.glob("*.json"))}


def every_result() -> dict[str, RunResult]:
    """Synthetic and recorded results together, for parametrized tests."""
    return {**synthetic(), **recorded()}


ROLLBACK_PROBLEM = (
    "fault 20261122T091502Z-identity-loss-5d21.sts-and-iam-down (unavailable on sts, iam, sso, "
    "sso-oidc, identitystore, sso-admin, cognito-identity) may still be in force: cannot reach "
    "the gateway at http://127.0.0.1:44235: timed out after 3 tries; the gateway drops it by "
    "itself at the end of its TTL (95 s after it was added); to remove it now: gameday abort "
    "--gateway http://127.0.0.1:44235"
)
"""The problem of ``tests/fixtures/results/rollback-failed.json``, as the gateway injector
words it."""


def rollback_failed() -> RunResult:
    """A recorded identity-loss run whose fault could not be removed (exit code 5)."""
    return read_result(RECORDED / "rollback-failed.json")
