"""What every report says, computed once: the suite score of a set of results, the words for
a missed objective, the score formula with its numbers, runbook links, the gateway tally, and
the extent of a run's timeline.

HTML, Markdown and JUnit render these; none of them computes its own version, so the formats
cannot disagree. Pure functions: results in, values out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath
from urllib.parse import quote

from gameday.grading import (
    NOT_MEASURED_ABORTED,
    ScenarioEntry,
    SuiteScore,
    describe_rules,
    display_score,
    is_cut_short,
    suite_score,
)
from gameday.kinds import AT_MOST_OBJECTIVES, ObjectiveKind, RunStatus
from gameday.reports.fault_calls import matched_cell
from gameday.reports.people import probe_label
from gameday.reports.terminal import format_measured, format_target
from gameday.result import FaultRecord, ObjectiveResult, ProbeRecord, RunResult

TrendPoint = tuple[str, float | None]
"""(started_at, score) of one past run; score None for a run with no score (it could not
start, tested nothing, or was stopped by a signal)."""

Trend = Mapping[str, Sequence[TrendPoint]]
"""The last runs of each scenario, oldest first, keyed by scenario name (from history)."""

NOT_RUN = frozenset({RunStatus.ERROR, RunStatus.NOT_STEADY})
"""Statuses of runs that could not start: no score, no grade, an error in JUnit."""

RUN_FAILED = frozenset(
    {RunStatus.ABORTED, RunStatus.ERROR, RunStatus.NOT_STEADY, RunStatus.INCONCLUSIVE}
)
"""Statuses whose run, as a whole, is reported as an error (JUnit) or a banner (HTML, MD)."""


def latest_per_scenario(results: Iterable[RunResult]) -> list[RunResult]:
    """The most recent result of each scenario, in the order scenarios first appear.

    A folder of results may hold several runs of one scenario; a suite counts each once.
    """
    latest: dict[str, RunResult] = {}
    for result in results:
        kept = latest.get(result.scenario.name)
        if kept is None or result.started_at >= kept.started_at:
            latest[result.scenario.name] = result
    return list(latest.values())


def suite_of(results: Sequence[RunResult]) -> SuiteScore:
    """The suite score over the latest run of each scenario (weight 1 each, as the engine)."""
    entries = [
        ScenarioEntry(
            name=r.scenario.name,
            score=r.score,
            weight=1.0,
            capabilities=frozenset(r.scenario.capabilities),
            status=r.status,
        )
        for r in latest_per_scenario(results)
    ]
    return suite_score(entries)


def rules_of(result: RunResult) -> list[str]:
    """The scoring rules the result was graded with; today's rules for a result without any."""
    return list(result.scoring_rules) or describe_rules()


def _bare_target(objective: ObjectiveResult) -> str:
    # format_target reads '<= 30.0s' or '>= 95.00%'; a failure message puts its own comparison
    # in front, so only the value is kept.
    text = format_target(objective)
    operator, _, value = text.partition(" ")
    return value if operator in {"<=", ">="} else text


def measured_text(objective: ObjectiveResult) -> str:
    """The measured value in the terminal's words, or 'not measured (aborted)' for an
    objective an abort left undecided (never 'not recovered' 2 s into a 20 s fault)."""
    return NOT_MEASURED_ABORTED if is_cut_short(objective) else format_measured(objective)


def miss_message(objective: ObjectiveResult) -> str:
    """One line on a missed objective: 'rto 42.1s > target 30.0s (not recovered during fault)'.

    The wording of values comes from the terminal renderer, so every format says the same.
    """
    kind = objective.kind.value
    measured = measured_text(objective)
    if is_cut_short(objective):
        return f"{kind} {measured} (target {_bare_target(objective)})"
    if objective.kind is ObjectiveKind.STEADY:
        return "steady state did not hold (target: holds)"
    if objective.measured is None:
        return f"{kind} {measured} (target {_bare_target(objective)})"
    comparison = ">" if objective.kind in AT_MOST_OBJECTIVES else "<"
    text = f"{kind} {measured} {comparison} target {_bare_target(objective)}"
    if objective.recovered_during_fault is False:
        text += " (not recovered during fault)"
    return text


def score_formula(result: RunResult) -> str | None:
    """The scenario score written out with its numbers, so a reader can recompute it.

    ``100 x (2 x 1.00 + 1 x 0.40) / 3 = 80.0``. None when the run has no objectives, or no
    score (the objectives of an inconclusive run, or of a run stopped by a signal, are
    evidence, not a grade). A guardrail abort's formula gives what the objectives earned
    before its cap set the score to 0.
    """
    if not result.objectives or result.score is None:
        return None
    terms = " + ".join(f"{o.weight:g} x {o.credit:.2f}" for o in result.objectives)
    total_weight = math.fsum(o.weight for o in result.objectives)
    raw = 100.0 * math.fsum(o.weight * o.credit for o in result.objectives) / total_weight
    return f"100 x ({terms}) / {total_weight:g} = {display_score(raw)}"


def missed(result: RunResult) -> list[ObjectiveResult]:
    """The objectives that were not met, in the scenario's order."""
    return [o for o in result.objectives if not o.met]


def runbook_href(result: RunResult, report_dir: Path | None) -> str | None:
    """Where the scenario's runbook is, as a link target, or None when it names none.

    The runbook path in a scenario is relative to the scenario file. When the report's folder
    is known, the link is relative to it (it keeps working when the checkout and the report
    folder move together, as CI artifacts do); otherwise it is an absolute ``file://`` URI.
    Relative scenario paths are taken from the current directory, as the run took them.
    An ``http(s)://`` runbook is linked as given. Other schemes are not links.
    """
    runbook = result.scenario.runbook
    if not runbook:
        return None
    if runbook.startswith(("https://", "http://")):
        return runbook
    target = os.path.abspath(PurePath(result.scenario.file).parent / runbook)
    if report_dir is None:
        return Path(target).as_uri()
    relative = os.path.relpath(target, os.path.abspath(report_dir))
    # quote() turns ':' into %3A, so a runbook named 'javascript:x' stays a path.
    return quote(PurePath(relative).as_posix())


def app_log_href(result: RunResult) -> str | None:
    """The kept app log as a link from a report in the report folder, as ``gameday run
    --report-dir`` lays it out (the log in ``<run id>/``, beside the result), or None."""
    if not result.app_log:
        return None
    return quote(PurePath(result.run_id, result.app_log).as_posix())


@dataclass(frozen=True, slots=True)
class ServiceTally:
    """Calls the gateway saw for one service, by outcome, and by operation and outcome."""

    service: str
    total: int
    by_outcome: dict[str, int]
    by_operation: list[tuple[str, str, int]]


def gateway_by_service(result: RunResult) -> list[ServiceTally]:
    """The gateway tally rolled up per service (most calls first), outcomes sorted by name."""
    outcomes: dict[str, dict[str, int]] = {}
    operations: dict[str, list[tuple[str, str, int]]] = {}
    for service, operation, outcome, count in result.gateway.calls:
        per_service = outcomes.setdefault(service, {})
        per_service[outcome] = per_service.get(outcome, 0) + count
        operations.setdefault(service, []).append((operation, outcome, count))
    tallies = [
        ServiceTally(
            service=service,
            total=sum(counts.values()),
            by_outcome=dict(sorted(counts.items())),
            by_operation=sorted(operations[service], key=lambda row: (-row[2], row[0], row[1])),
        )
        for service, counts in outcomes.items()
    ]
    return sorted(tallies, key=lambda t: (-t.total, t.service))


def outcomes_seen(tallies: Sequence[ServiceTally]) -> list[str]:
    """Every outcome any service had, sorted: the columns of a gateway table."""
    return sorted({outcome for t in tallies for outcome in t.by_outcome})


def gateway_table(result: RunResult) -> tuple[list[str], list[list[str]]]:
    """What the gateway saw as (head, rows): a row per service, a column per outcome.

    Every column but the first holds call counts.
    """
    tallies = gateway_by_service(result)
    outcomes = outcomes_seen(tallies)
    rows = [
        [t.service, str(t.total), *(str(t.by_outcome.get(o, 0)) for o in outcomes)] for t in tallies
    ]
    return ["service", "calls", *outcomes], rows


def timeline_end(result: RunResult) -> float:
    """The last moment anything happened in the run (seconds), at least 1 s."""
    moments: list[float] = [1.0]
    for probe in result.probes:
        moments += [offset + probe.interval_s for offset, _, _ in probe.samples]
        moments += probe.missed
        moments += [at for at, _ in probe.alerts]
    for fault in result.faults:
        moments += [t for t in (fault.injected_at, fault.removed_at) if t is not None]
    moments += [event.at for event in result.events]
    moments += [o.recovered_at for o in result.objectives if o.recovered_at is not None]
    moments += [mark.at for mark in result.marks]
    return max(m for m in moments if math.isfinite(m))


@dataclass(frozen=True, slots=True)
class ProbeCounts:
    """How one probe's samples went: healthy, unhealthy, missed ticks; lost data markers."""

    ok: int
    failed: int
    missed: int
    lost_markers: int
    alerts: int
    unverified_markers: int


def probe_counts(probe: ProbeRecord) -> ProbeCounts:
    """Count a probe's samples by outcome, and its lost markers and received alerts."""
    ok = sum(1 for _, healthy, _ in probe.samples if healthy)
    return ProbeCounts(
        ok=ok,
        failed=len(probe.samples) - ok,
        missed=len(probe.missed),
        lost_markers=sum(1 for _, _, ack, found in probe.markers if ack and found is False),
        alerts=len(probe.alerts),
        unverified_markers=sum(1 for _, _, ack, found in probe.markers if ack and found is None),
    )


def probe_summary(probe: ProbeRecord) -> str:
    """'http, every 0.5s, timeout 2s: 83 healthy, 6 unhealthy, 1 missed' (and lost markers,
    alerts). The timeout is shown because an answer slower than it is an unhealthy sample."""
    counts = probe_counts(probe)
    timeout = (
        f", timeout {probe.timeout_s:g}s"
        if probe.timeout_s is not None and probe.kind != "alert"
        else ""
    )
    text = (
        f"{probe.kind}, every {probe.interval_s:g}s{timeout}: {counts.ok} healthy, "
        f"{counts.failed} unhealthy, {counts.missed} missed"
    )
    if probe.markers:
        text += f", {counts.lost_markers} marker(s) lost"
    if counts.unverified_markers:
        text += f", {counts.unverified_markers} unverified (not read back by the deadline)"
    if probe.alerts:
        text += f", {counts.alerts} alert(s)"
    return text


def tags_of(result: RunResult) -> list[str]:
    """The scenario's tags, read from the resolved scenario it carries (empty when absent)."""
    metadata = result.scenario.spec.get("metadata")
    if not isinstance(metadata, dict):
        return []
    tags = metadata.get("tags")
    if not isinstance(tags, list | tuple):
        return []
    return [str(tag) for tag in tags]


def duration_s(result: RunResult) -> float:
    """Wall-clock seconds from started_at to ended_at; 0 when they cannot be read."""
    try:
        started = datetime.fromisoformat(result.started_at)
        ended = datetime.fromisoformat(result.ended_at)
    except ValueError:
        return 0.0
    return max(0.0, (ended - started).total_seconds())


NOT_GRADED_SUITE = "not graded (could not run, or tested nothing)"
"""How every report names the scenarios a suite score leaves out (a drill stopped by a
signal is among them: it could not run to its end)."""


def not_graded(result: RunResult) -> str:
    """Why a run has no score, in a few words."""
    if result.status is RunStatus.INCONCLUSIVE:
        return "the drill tested nothing (a fault matched no call)"
    if result.status is RunStatus.ABORTED:
        return f"the drill was stopped ({result.reason or 'aborted'}), not by a guardrail"
    return "the run could not start"


def headline(result: RunResult) -> str:
    """'failed, score 72.5 (C)' or 'not-steady, not graded'."""
    if result.score is None:
        return f"{result.status.value}, not graded"
    grade = result.grade.value if result.grade else "-"
    return f"{result.status.value}, score {display_score(result.score)} ({grade})"


def trend_delta(points: Sequence[TrendPoint]) -> float | None:
    """Score change from the previous scored run to the last scored one; None with fewer."""
    scores = [score for _, score in points if score is not None]
    if len(scores) < 2:
        return None
    return scores[-1] - scores[-2]


def format_delta(delta: float | None) -> str:
    """'+7.9', '-3.0', '0.0', or '' when there is nothing to compare with."""
    if delta is None:
        return ""
    shown = display_score(abs(delta))
    if shown == display_score(0.0):
        return shown
    return ("+" if delta > 0 else "-") + shown


OBJECTIVE_HEAD = ("objective", "kind", "probe", "target", "measured", "met", "credit", "weight",
                  "critical")  # fmt: skip
OBJECTIVE_NUMERIC = frozenset({6, 7})
"""Columns of ``objective_cells`` that hold numbers (right-aligned where a format can)."""


def objective_cells(objective: ObjectiveResult) -> list[str]:
    """One objective as the cells of ``OBJECTIVE_HEAD``, in the terminal's wording; a human
    objective's probe reads ``people``, and one an abort left undecided is neither met nor
    missed (``-``)."""
    return [
        objective.name,
        objective.kind.value,
        probe_label(objective),
        format_target(objective),
        measured_text(objective),
        "-" if is_cut_short(objective) else "yes" if objective.met else "NO",
        f"{objective.credit:.2f}",
        f"{objective.weight:g}",
        "yes" if objective.critical else "",
    ]


FAULT_HEAD = ("fault", "kind", "mode", "services", "regions", "operations", "probability",
              "planned", "injected", "removed", "matched calls")  # fmt: skip
FAULT_NUMERIC = frozenset({6, 8, 9, 10})


def _when(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def fault_cells(fault: FaultRecord) -> list[str]:
    """One fault as the cells of ``FAULT_HEAD``: what it broke, when it was in force, and how
    many calls it matched then."""
    return [
        fault.fault,
        fault.kind,
        fault.mode,
        ", ".join(fault.services) or "every service",
        ", ".join(fault.regions),
        ", ".join(fault.operations) or "all",
        f"{fault.probability:g}",
        f"{fault.planned_start:g}s-{fault.planned_end:g}s",
        _when(fault.injected_at),
        _when(fault.removed_at),
        matched_cell(fault),
    ]
