"""Drill results as Prometheus metrics: one registry, three ways to ship it.

``results_registry`` builds a prometheus-client registry from results; ``render_prom`` (the
``prom`` report format), ``write_textfile`` (node_exporter's textfile collector) and ``push``
(a Pushgateway) all expose that same registry, so a dashboard reads the same series whichever
way they arrived. The values are read from the results when the registry is collected,
through a custom collector (prometheus-client's way to export numbers that live elsewhere):
nothing is process-global, and no ``_created`` series with today's time appears. Label values
are escaped by prometheus-client's own exposition code.

Series (labels ``scenario``; objectives add ``objective`` and ``kind``):

- ``gameday_scenario_score`` (absent for runs with no score: they could not start, were
  inconclusive, or were stopped by a signal),
  ``gameday_scenario_status{status}`` (1 for the last run's status, 0 for the others),
  ``gameday_scenario_rollback_complete`` (0 when the last run's rollback failed: a fault may
  still be in force), ``gameday_scenario_last_run_timestamp_seconds`` (when the last run
  ended), ``gameday_scenario_duration_seconds``;
- ``gameday_objective_met``, ``gameday_objective_credit``, and for time objectives (rto, rpo,
  ttd, latency) ``gameday_objective_measured_seconds`` / ``gameday_objective_target_seconds``,
  for availability and steady ``gameday_objective_measured_ratio`` /
  ``gameday_objective_target_ratio``. A not-recovered RTO or an undetected TTD measures
  ``+Inf`` (so ``measured > target`` alerts fire); other missing measurements are absent.
  An objective an abort left undecided has no ``met``, ``credit`` or measured series (it was
  neither met nor missed), only its target and weight;
- the scoring rules: ``gameday_objective_weight`` and ``gameday_objective_critical`` (1 when
  missing it caps the grade; the cap's letter is in the help text) per objective, and
  ``gameday_grade_threshold{grade}``, the minimum score of each letter (F below the last);
- ``gameday_fault_matched_calls{scenario, fault, rule}``: the calls each fault rule matched
  while in force in the last run (absent where nobody counted them: FIS);
- ``gameday_runs_total{status}``: runs by outcome (``inconclusive`` among them: a drill
  whose fault matched no call). Given ``run_counts`` (the history store's
  ``outcome_counts``, read by the caller) it is the store's all-time count, a true counter;
  otherwise it counts the results given.

Gauges describe the latest run of each scenario among the results given.
"""

from __future__ import annotations

import math
import urllib.error
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    generate_latest,
    push_to_gateway,
    write_to_textfile,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gameday.errors import GameDayError
from gameday.grading import SCORING_RULES, is_cut_short
from gameday.kinds import TIME_OBJECTIVES, ObjectiveKind, RunStatus
from gameday.reports.app_calls import calls_families
from gameday.reports.suite import latest_per_scenario
from gameday.result import ObjectiveResult, RunResult

RunCounts = Mapping[tuple[str, RunStatus], int]
"""Runs per (scenario, status), for ``gameday_runs_total``."""

_SCENARIO = ["scenario"]
_OBJECTIVE = ["scenario", "objective", "kind"]
_INFINITE_WHEN_MISSING = frozenset({ObjectiveKind.RTO, ObjectiveKind.TTD})


class MetricsExportError(GameDayError):
    """Metrics could not be written or pushed (the drill itself ran and was recorded)."""


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _scenario_families(latest: Sequence[RunResult]) -> Iterator[Metric]:
    score = GaugeMetricFamily(
        "gameday_scenario_score", "Score of the last run (0-100).", labels=_SCENARIO
    )
    status = GaugeMetricFamily(
        "gameday_scenario_status",
        "1 for the status of the last run, 0 for the others.",
        labels=["scenario", "status"],
    )
    ended = GaugeMetricFamily(
        "gameday_scenario_last_run_timestamp_seconds",
        "When the last run ended (Unix time).",
        labels=_SCENARIO,
    )
    duration = GaugeMetricFamily(
        "gameday_scenario_duration_seconds", "Wall-clock length of the last run.", labels=_SCENARIO
    )
    rollback = GaugeMetricFamily(
        "gameday_scenario_rollback_complete",
        "0 when the last run's rollback failed: a fault may still be in force.",
        labels=_SCENARIO,
    )
    for result in latest:
        name = [result.scenario.name]
        if result.score is not None:
            score.add_metric(name, result.score)
        for each in RunStatus:
            status.add_metric([*name, each.value], 1.0 if each is result.status else 0.0)
        rollback.add_metric(name, 1.0 if result.rollback.complete else 0.0)
        start, end = _epoch(result.started_at), _epoch(result.ended_at)
        if end is not None:
            ended.add_metric(name, end)
            if start is not None:
                duration.add_metric(name, max(0.0, end - start))
    yield from (score, status, rollback, ended, duration)


def _measured(objective: ObjectiveResult) -> float | None:
    if objective.measured is not None:
        return objective.measured
    return math.inf if objective.kind in _INFINITE_WHEN_MISSING else None


def _objective_families(latest: Sequence[RunResult]) -> Iterator[Metric]:
    def gauge(name: str, text: str) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, labels=_OBJECTIVE)

    met = gauge("gameday_objective_met", "1 when the objective was met in the last run.")
    credit = gauge("gameday_objective_credit", "Credit earned in the last run (0-1).")
    seconds = gauge("gameday_objective_measured_seconds", "Measured RTO, RPO, TTD or latency.")
    target_s = gauge("gameday_objective_target_seconds", "Target of a time objective.")
    ratio = gauge("gameday_objective_measured_ratio", "Measured availability or steady (0-1).")
    target_r = gauge(
        "gameday_objective_target_ratio", "Target of an availability or steady objective (0-1)."
    )
    weight = gauge("gameday_objective_weight", "Weight of the objective in the scenario score.")
    cap = SCORING_RULES.critical_cap.value
    critical = gauge(
        "gameday_objective_critical", f"1 when missing the objective caps the grade at {cap}."
    )
    for result in latest:
        for o in result.objectives:
            labels = [result.scenario.name, o.name, o.kind.value]
            weight.add_metric(labels, o.weight)
            critical.add_metric(labels, 1.0 if o.critical else 0.0)
            # Neither met nor missed: a met of 0 would page someone for an operator's Ctrl-C.
            unmeasured = is_cut_short(o)
            if not unmeasured:
                met.add_metric(labels, 1.0 if o.met else 0.0)
                credit.add_metric(labels, o.credit)
            if o.kind is ObjectiveKind.DESTRUCTIVE_CALLS:
                continue  # a count, not seconds or a ratio: gameday_app_destructive_calls
            timed = o.kind in TIME_OBJECTIVES
            (target_s if timed else target_r).add_metric(labels, o.target)
            value = None if unmeasured else _measured(o)
            if value is not None:
                (seconds if timed else ratio).add_metric(labels, value)
    yield from (met, credit, seconds, target_s, ratio, target_r, weight, critical)


def _threshold_family() -> Metric:
    thresholds = GaugeMetricFamily(
        "gameday_grade_threshold",
        "Minimum score of each grade (compared with a "
        f"{SCORING_RULES.grade_tolerance:g} tolerance); F below the last.",
        labels=["grade"],
    )
    for grade, minimum in SCORING_RULES.grade_thresholds:
        thresholds.add_metric([grade.value], minimum)
    return thresholds


def _fault_family(latest: Sequence[RunResult]) -> Metric:
    matched = GaugeMetricFamily(
        "gameday_fault_matched_calls",
        "Calls a fault rule matched while in force in the last run (0: it tested nothing).",
        labels=["scenario", "fault", "rule"],
    )
    for result in latest:
        for fault in result.faults:
            if fault.matched_calls is not None and fault.injected_at is not None:
                labels = [result.scenario.name, fault.fault, fault.id]
                matched.add_metric(labels, float(fault.matched_calls))
    return matched


def _runs_family(results: Sequence[RunResult], run_counts: RunCounts | None) -> Metric:
    counts: dict[tuple[str, RunStatus], int] = {}
    if run_counts is None:
        for result in results:
            key = (result.scenario.name, result.status)
            counts[key] = counts.get(key, 0) + 1
    else:
        counts = dict(run_counts)
    runs = CounterMetricFamily(
        "gameday_runs", "Drill runs by outcome.", labels=["scenario", "status"]
    )
    for (scenario, status), count in sorted(counts.items()):
        runs.add_metric([scenario, status.value], float(count))
    return runs


class _ResultsCollector:
    """Collects the families above from a fixed set of results."""

    def __init__(self, results: Sequence[RunResult], run_counts: RunCounts | None) -> None:
        self._results = list(results)
        self._run_counts = run_counts

    def collect(self) -> Iterator[Metric]:
        latest = latest_per_scenario(self._results)
        yield from _scenario_families(latest)
        yield from _objective_families(latest)
        yield _threshold_family()
        yield _fault_family(latest)
        yield from calls_families(latest)
        yield _runs_family(self._results, self._run_counts)


def results_registry(
    results: Sequence[RunResult], run_counts: RunCounts | None = None
) -> CollectorRegistry:
    """A fresh registry exposing the results (see the module docstring for the series)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_ResultsCollector(results, run_counts))
    return registry


def render_prom(results: Sequence[RunResult], run_counts: RunCounts | None = None) -> str:
    """The text format (version 0.0.4) that Prometheus scrapes and node_exporter reads."""
    return generate_latest(results_registry(results, run_counts)).decode("utf-8")


def write_textfile(
    results: Sequence[RunResult], path: Path, run_counts: RunCounts | None = None
) -> None:
    """Write the metrics for node_exporter's textfile collector, atomically.

    prometheus-client writes a temporary file beside ``path`` and renames it, so the collector
    never reads half a file. node_exporter reads only ``*.prom`` files in its
    ``--collector.textfile.directory``.
    """
    try:
        write_to_textfile(str(path), results_registry(results, run_counts))
    except OSError as error:
        raise MetricsExportError(
            f"{path}: cannot write the metrics file: {error.strerror or error}",
            hint="give a writable path, e.g. the textfile collector's directory",
        ) from None


def push(
    results: Sequence[RunResult],
    url: str,
    job: str = "gameday",
    run_counts: RunCounts | None = None,
    timeout_s: float = 10.0,
) -> None:
    """Push to a Pushgateway: one PUT per run, grouped by ``job`` and ``scenario``.

    Each scenario has its own group (``/metrics/job/<job>/scenario/<name>``), and PUT replaces
    that group only: pushing one scenario never wipes another's series.
    """
    for result in results:
        name = result.scenario.name
        counts = None
        if run_counts is not None:
            counts = {key: n for key, n in run_counts.items() if key[0] == name}
        registry = results_registry([result], counts)
        try:
            push_to_gateway(
                url, job=job, registry=registry, grouping_key={"scenario": name}, timeout=timeout_s
            )
        except OSError as error:
            # urllib's URLError and HTTPError are OSErrors; their reason is the readable part.
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            if isinstance(error, urllib.error.HTTPError):
                error.close()  # it holds the response's socket open until closed
            raise MetricsExportError(
                f"pushgateway {url}: cannot push the metrics of {name}: {reason}",
                hint="check the URL and that the Pushgateway is up; the run itself is recorded",
            ) from None
