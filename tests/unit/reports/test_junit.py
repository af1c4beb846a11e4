"""JUnit XML: valid against the vendored JUnit.xsd (Windy Road), one testsuite per run, one
testcase per objective, failures worded like the other reports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from gameday.reports.junit import render_junit
from tests.unit.reports.runs import (
    HOSTILE,
    HOSTILE_AUTHOR,
    HOSTILE_NOTE,
    HOSTILE_STEP,
    demo_suite,
    every_result,
    facilitated,
    facilitated_unmarked,
    met_and_missed,
    synthetic,
)

XSD = Path(__file__).with_name("JUnit.xsd")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _validate(schema: xmlschema.XMLSchema, xml: str) -> ET.Element:
    errors = [str(error) for error in schema.iter_errors(xml)]
    assert errors == []
    return ET.fromstring(xml)


@pytest.mark.parametrize("name", sorted(every_result()))
def test_each_result_is_valid_against_the_junit_schema(
    name: str, schema: xmlschema.XMLSchema
) -> None:
    root = _validate(schema, render_junit([every_result()[name]]))
    assert [suite.get("name") for suite in root] == [every_result()[name].scenario.name]


def test_a_suite_is_one_testsuite_per_run_numbered_from_zero(schema: xmlschema.XMLSchema) -> None:
    results = list(every_result().values())
    root = _validate(schema, render_junit(results))
    assert [s.get("id") for s in root] == [str(i) for i in range(len(results))]
    assert [s.get("package") for s in root] == [r.scenario.name for r in results]


def test_a_testcase_per_objective_with_failures_worded_like_the_reports() -> None:
    suite = ET.fromstring(render_junit([met_and_missed()]))[0]
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [o.name for o in met_and_missed().objectives]
    failures = {c.get("name"): f for c in cases if (f := c.find("failure")) is not None}
    assert {name: f.get("message") for name, f in failures.items()} == {
        "credentials-rto": "rto 21.5s > target 15.0s (not recovered during fault)",
        "availability": "availability 90.00% < target 95.00%",
        "detect-credential-refresh-failures": "ttd 14.5s > target 10.0s",
    }
    assert failures["availability"].get("type") == "availability"
    assert failures["availability"].text == "54 of 60 samples healthy in [T0, Tend + 10s]"
    attributes = {k: suite.get(k) for k in ("tests", "failures", "errors", "time", "timestamp")}
    assert attributes == {
        "tests": "6",
        "failures": "3",
        "errors": "0",
        "time": "52.250",
        "timestamp": "2026-11-22T02:00:00",
    }


def test_time_objectives_report_their_measured_seconds_as_testcase_time() -> None:
    suite = ET.fromstring(render_junit([met_and_missed()]))[0]
    times = {c.get("name"): c.get("time") for c in suite.findall("testcase")}
    assert times["api-rto"] == "3.000"
    assert times["credentials-rto"] == "21.500"
    assert times["availability"] == "0.000"


def test_a_never_recovered_objective_fails_with_no_value() -> None:
    suite = ET.fromstring(render_junit([synthetic()["never-recovered"]]))[0]
    failure = suite.find("testcase[@name='image-pull-rto']/failure")
    assert failure is not None
    assert failure.get("message") == "rto not recovered (target 30.0s)"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("aborted", "aborted: guardrail: probe api failed 12 consecutive samples (limit 12)"),
        (
            "not-steady",
            "not-steady: not steady before the drill: api: 2 of 5 samples unhealthy; no fault "
            "was injected",
        ),
    ],
)
def test_runs_that_did_not_complete_get_an_error_element(name: str, message: str) -> None:
    suite = ET.fromstring(render_junit([synthetic()[name]]))[0]
    assert suite.get("errors") == "1"
    error = suite.find("testcase[@name='run']/error")
    assert error is not None
    assert error.get("message") == message
    assert error.get("type") == synthetic()[name].status.value


def test_hostile_strings_survive_as_text_and_control_characters_are_replaced(
    schema: xmlschema.XMLSchema,
) -> None:
    xml = render_junit([synthetic()["hostile"]])
    root = _validate(schema, xml)
    suite = root[0]
    assert suite.get("name") == HOSTILE["script"]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["owner"] == HOSTILE["attribute"]
    out = suite.findtext("system-out") or ""
    assert HOSTILE["script"] in out
    assert "\x1b" not in xml


def test_system_out_is_the_terminal_summary() -> None:
    suite = ET.fromstring(render_junit(demo_suite()))[0]
    out = suite.findtext("system-out") or ""
    assert out.startswith("identity-loss: failed, score 73.0 (C)\n")


def test_the_schema_does_reject_what_ci_systems_reject(schema: xmlschema.XMLSchema) -> None:
    # The check above is only worth something if the schema refuses a broken report.
    xml = render_junit([met_and_missed()])
    assert schema.is_valid(xml)
    assert not schema.is_valid(xml.replace(' hostname="embedded"', ""))
    assert not schema.is_valid(xml.replace('timestamp="2026-11-22T02:00:00"', 'timestamp="x"'))


def test_a_failed_run_with_every_objective_met_still_fails_in_ci(
    schema: xmlschema.XMLSchema,
) -> None:
    result = met_and_missed()
    met = [o for o in result.objectives if o.met]
    cap = "steady state after the drill failed: score set to 0 (was 100.0)"
    broken = result.model_copy(update={"objectives": met, "score": 0.0, "caps": (cap,)})
    suite = _validate(schema, render_junit([broken]))[0]
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    failure = suite.find("testcase[@name='run']/failure")
    assert failure is not None
    assert failure.get("message") == f"failed: {cap}"


def test_a_testcase_per_human_objective(schema: xmlschema.XMLSchema) -> None:
    suite = _validate(schema, render_junit([facilitated(), facilitated_unmarked()]))
    marked, unmarked = suite
    cases = {c.get("name"): c for c in marked.findall("testcase")}
    assert list(cases) == ["steady", "api-rto", "human_ttd", "human_ttm"]
    assert {c.get("classname") for c in cases.values()} == {"gameday.identity-loss"}
    assert (cases["human_ttd"].get("time"), cases["human_ttd"].find("failure")) == ("7.300", None)
    late = cases["human_ttm"].find("failure")
    assert late is not None
    assert (late.get("message"), late.get("type")) == (
        "human_ttm 16.0s > target 10.0s",
        "human_ttm",
    )
    assert cases["human_ttm"].get("time") == "16.000"
    failures = {
        c.get("name"): (f.get("message"), f.get("type"), f.text)
        for c in unmarked.findall("testcase")
        if (f := c.find("failure")) is not None
    }
    assert failures == {
        "human_ttd": (
            "human_ttd not detected (target 30.0s)",
            "human_ttd",
            "not detected: nobody marked 'detected' within the observation window",
        ),
        "human_ttm": (
            "human_ttm no mitigation (target 60.0s)",
            "human_ttm",
            "no mitigation: nobody marked 'mitigation' within the observation window",
        ),
    }
    assert (unmarked.get("tests"), unmarked.get("failures")) == ("3", "2")


def test_a_facilitated_run_carries_its_facilitator_marks_and_checklist() -> None:
    suite = ET.fromstring(render_junit([facilitated()]))[0]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["facilitator"], props["marks"], props["checklist"]) == (
        "alice",
        "8",
        "2 of 4 steps ticked",
    )
    plain = ET.fromstring(render_junit([met_and_missed()]))[0]
    assert "facilitator" not in {p.get("name") for p in plain.iter("property")}


def test_system_out_lists_the_marks_and_the_checklist_as_text() -> None:
    xml = render_junit([facilitated()])
    out = ET.fromstring(xml)[0].findtext("system-out") or ""
    flat = [" ".join(line.split()) for line in out.splitlines()]
    assert f"+9.0s 14.00s note {HOSTILE_AUTHOR} {HOSTILE_NOTE} (via http)" in flat
    assert f"2 {HOSTILE_STEP} not ticked - -" in flat
    assert "+7.3s 12.30s detected bob" in flat
    assert "<script>" not in xml and "]]>" not in xml.replace("]]&gt;", "")
