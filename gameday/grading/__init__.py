"""Timelines -> measurements -> credits -> score: pure functions, no I/O.

The engine records samples, fault windows, data markers and alerts (``timeline``), measures
them (``measure``) and grades the measurements (``score``), exactly as DESIGN.md's
"Measurements: exact definitions" and "Score" say. Reports print ``describe_rules()`` so that
anyone can recompute a score.
"""

from __future__ import annotations

from gameday.grading.aborts import (
    GUARDRAIL_PREFIX,
    NOT_MEASURED_ABORTED,
    cut_short,
    is_cut_short,
    is_guardrail_abort,
)
from gameday.grading.measure import (
    DEFAULT_STABLE,
    LATENCY_PERCENTILES,
    PERCENTILE_METHOD,
    Availability,
    DataLoss,
    LatencyStats,
    LostRun,
    Recovery,
    count_destructive,
    describe_human,
    format_seconds,
    measure_availability,
    measure_human,
    measure_latency,
    measure_recovery,
    measure_rpo,
    measure_ttd,
    nearest_rank,
)
from gameday.grading.score import (
    SCORING_RULES,
    ScenarioEntry,
    ScenarioScore,
    ScoringRules,
    SuiteScore,
    credit,
    describe_rules,
    display_score,
    grade_aborted,
    grade_for,
    grade_not_run,
    grade_objective,
    is_met,
    score_scenario,
    suite_score,
)
from gameday.grading.timeline import Alert, FaultWindow, Marker, Sample, fault_span

__all__ = [
    "DEFAULT_STABLE",
    "GUARDRAIL_PREFIX",
    "LATENCY_PERCENTILES",
    "NOT_MEASURED_ABORTED",
    "PERCENTILE_METHOD",
    "SCORING_RULES",
    "Alert",
    "Availability",
    "DataLoss",
    "FaultWindow",
    "LatencyStats",
    "LostRun",
    "Marker",
    "Recovery",
    "Sample",
    "ScenarioEntry",
    "ScenarioScore",
    "ScoringRules",
    "SuiteScore",
    "count_destructive",
    "credit",
    "cut_short",
    "describe_human",
    "describe_rules",
    "display_score",
    "fault_span",
    "format_seconds",
    "grade_aborted",
    "grade_for",
    "grade_not_run",
    "grade_objective",
    "is_cut_short",
    "is_guardrail_abort",
    "is_met",
    "measure_availability",
    "measure_human",
    "measure_latency",
    "measure_recovery",
    "measure_rpo",
    "measure_ttd",
    "nearest_rank",
    "score_scenario",
    "suite_score",
]
