"""DESIGN.md "Score": weights, caps and thresholds are printed with every report, JUnit and
Prometheus included; and in both, an objective an abort left undecided is not a miss."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema
from prometheus_client.parser import text_string_to_metric_families

from gameday.grading import SCORING_RULES
from gameday.reports.junit import render_junit
from gameday.reports.prom import render_prom
from gameday.reports.suite import rules_of
from gameday.result import RunResult
from tests.unit.reports.runs import met_and_missed
from tests.unit.reports.test_abort_reports import stopped_by_guardrail, stopped_by_signal

XSD = Path(__file__).with_name("JUnit.xsd")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _suite(schema: xmlschema.XMLSchema, xml: str) -> ET.Element:
    assert [str(error) for error in schema.iter_errors(xml)] == []
    return ET.fromstring(xml)[0]


def test_junit_carries_weights_caps_thresholds_and_the_rules(schema: xmlschema.XMLSchema) -> None:
    result = met_and_missed()
    suite = _suite(schema, render_junit([result]))
    props = {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}
    for objective in result.objectives:
        assert props[f"weight.{objective.name}"] == f"{objective.weight:g}"
        assert props[f"critical.{objective.name}"] == str(objective.critical).lower()
    thresholds = {name: value for name, value in props.items() if "threshold" in name}
    assert thresholds == {f"grade_threshold.{grade.value}": f"{minimum:g}"
                          for grade, minimum in SCORING_RULES.grade_thresholds}  # fmt: skip
    assert list(thresholds.values()) == ["90", "75", "60", "40"]
    assert props["critical_cap"] == SCORING_RULES.critical_cap.value == "D"
    rules = [value for name, value in sorted(props.items()) if name.startswith("scoring_rule.")]
    assert rules == rules_of(result)
    out = suite.findtext("system-out") or ""
    assert out.endswith("scoring rules:\n" + "".join(f"  {rule}\n" for rule in rules))


@pytest.mark.parametrize("build", [stopped_by_signal, stopped_by_guardrail])
def test_junit_reports_an_objective_an_abort_cut_short_as_an_error_not_a_failure(
    schema: xmlschema.XMLSchema, build: Callable[[], RunResult]
) -> None:
    suite = _suite(schema, render_junit([build()]))
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["steady", "api-rto", "availability", "run"]
    error = cases["api-rto"].find("error")
    assert error is not None and cases["api-rto"].find("failure") is None
    assert error.get("message") == "rto not measured (aborted) (target 5.00s)"
    assert (error.text or "").startswith("not measured (aborted): the drill stopped at t=")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "3")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _labels(scenario: str, name: str, kind: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"scenario": scenario, "objective": name, "kind": kind}.items()))


def test_prometheus_carries_weights_critical_flags_and_grade_thresholds() -> None:
    result = met_and_missed()
    samples = _parse(render_prom([result]))
    for o in result.objectives:
        labels = _labels(result.scenario.name, o.name, o.kind.value)
        assert samples[("gameday_objective_weight", labels)] == o.weight
        assert samples[("gameday_objective_critical", labels)] == (1.0 if o.critical else 0.0)
    thresholds = {
        dict(labels)["grade"]: value
        for (name, labels), value in samples.items()
        if name == "gameday_grade_threshold"
    }
    assert thresholds == {"A": 90.0, "B": 75.0, "C": 60.0, "D": 40.0}
    assert "caps the grade at D." in render_prom([result])


def test_prometheus_shows_no_score_and_no_miss_for_a_signal_abort() -> None:
    result = stopped_by_signal()
    samples = _parse(render_prom([result]))
    assert not [key for key in samples if key[0] == "gameday_scenario_score"]
    for name, kind in (("api-rto", "rto"), ("availability", "availability")):
        labels = _labels("ctrl-c", name, kind)
        present = {metric for metric, of in samples if of == labels}
        # Neither met nor missed: no met of 0 to page anyone, no +Inf RTO; target and weight stay.
        assert present == {
            f"gameday_objective_target_{'seconds' if kind == 'rto' else 'ratio'}",
            "gameday_objective_weight",
            "gameday_objective_critical",
        }
    assert samples[("gameday_objective_met", _labels("ctrl-c", "steady", "steady"))] == 1.0
