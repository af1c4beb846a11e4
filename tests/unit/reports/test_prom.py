"""Prometheus text, parsed back with prometheus-client's own parser."""

from __future__ import annotations

import math
from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.kinds import RunStatus
from gameday.reports.prom import render_prom
from gameday.result import RunResult
from tests.unit.reports.runs import HOSTILE, every_result, met_and_missed, synthetic

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


@pytest.mark.parametrize("name", sorted(every_result()))
def test_every_result_parses_back(name: str) -> None:
    result = every_result()[name]
    samples = parse(render_prom([result]))
    scenario = result.scenario.name
    assert value(samples, "gameday_scenario_status", scenario=scenario, status=result.status) == 1
    assert value(samples, "gameday_runs_total", scenario=scenario, status=result.status) == 1
    ended = datetime.fromisoformat(result.ended_at).timestamp()
    assert value(
        samples, "gameday_scenario_last_run_timestamp_seconds", scenario=scenario
    ) == pytest.approx(ended)


def test_scores_and_objectives() -> None:
    result = met_and_missed()
    samples = parse(render_prom([result]))
    assert value(samples, "gameday_scenario_score", scenario="identity-loss") == pytest.approx(
        result.score
    )
    rto = {"scenario": "identity-loss", "objective": "credentials-rto", "kind": "rto"}
    assert value(samples, "gameday_objective_measured_seconds", **rto) == 21.5
    assert value(samples, "gameday_objective_target_seconds", **rto) == 15.0
    assert value(samples, "gameday_objective_met", **rto) == 0
    assert value(samples, "gameday_objective_credit", **rto) == pytest.approx(0.5667, abs=1e-4)
    ratio = {"scenario": "identity-loss", "objective": "availability", "kind": "availability"}
    assert value(samples, "gameday_objective_measured_ratio", **ratio) == pytest.approx(0.9)
    assert value(samples, "gameday_objective_target_ratio", **ratio) == 0.95
    assert value(samples, "gameday_scenario_duration_seconds", scenario="identity-loss") == 52.25


def test_a_never_recovered_rto_measures_infinity() -> None:
    samples = parse(render_prom([synthetic()["never-recovered"]]))
    labels = {"scenario": "registry-loss", "objective": "image-pull-rto", "kind": "rto"}
    assert math.isinf(value(samples, "gameday_objective_measured_seconds", **labels))


def test_a_run_that_could_not_start_has_a_status_but_no_score() -> None:
    samples = parse(render_prom([synthetic()["not-steady"]]))
    assert not [key for key in samples if key[0] == "gameday_scenario_score"]
    status = {
        s: value(samples, "gameday_scenario_status", scenario="region-loss", status=s.value)
        for s in RunStatus
    }
    assert status == {s: float(s is RunStatus.NOT_STEADY) for s in RunStatus}


def test_gauges_describe_the_latest_run_and_the_counter_counts_all() -> None:
    older = met_and_missed(day=21)
    newer = met_and_missed(day=22).model_copy(update={"score": 88.0})
    samples = parse(render_prom([newer, older]))
    assert value(samples, "gameday_scenario_score", scenario="identity-loss") == 88.0
    assert value(samples, "gameday_runs_total", scenario="identity-loss", status="failed") == 2


def test_run_counts_from_the_store_replace_the_count_of_the_results() -> None:
    counts = {("identity-loss", RunStatus.FAILED): 7, ("identity-loss", RunStatus.PASSED): 3}
    samples = parse(render_prom([met_and_missed()], counts))
    assert value(samples, "gameday_runs_total", scenario="identity-loss", status="failed") == 7
    assert value(samples, "gameday_runs_total", scenario="identity-loss", status="passed") == 3


def test_label_values_are_escaped_by_the_library() -> None:
    hostile: RunResult = synthetic()["hostile"]
    tricky = hostile.scenario.model_copy(update={"name": 'a "b" \\ c\nd'})
    text = render_prom([hostile.model_copy(update={"scenario": tricky})])
    assert 'scenario="a \\"b\\" \\\\ c\\nd"' in text
    samples = parse(text)
    assert value(samples, "gameday_scenario_score", scenario='a "b" \\ c\nd') == 50.0
    names = {dict(labels).get("objective") for _, labels in samples}
    assert HOSTILE["attribute"] in names


def test_no_created_series_and_no_process_metrics() -> None:
    text = render_prom([met_and_missed()])
    assert "_created" not in text
    assert "process_" not in text and "python_" not in text
