"""A failed rollback, shown first and loudly in every format, with every problem; a complete
one adds at most a quiet fact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from prometheus_client.parser import text_string_to_metric_families

from gameday.reports.html import render_html
from gameday.reports.junit import render_junit
from gameday.reports.markdown import render_markdown
from gameday.reports.prom import render_prom
from gameday.reports.render import ReportFormat, render
from gameday.reports.suite import suite_of
from gameday.reports.terminal import render_closing, render_result
from gameday.result import Rollback, RunResult
from tests.unit.reports.runs import (
    HOSTILE,
    ROLLBACK_PROBLEM,
    demo_suite,
    met_and_missed,
    rollback_failed,
)
from tests.unit.reports.test_html import ALLOWED_TAGS, Page
from tests.unit.reports.test_markdown import RENDERED_TAGS, to_html

XSD = Path(__file__).with_name("JUnit.xsd")
RUN_ID = "20261122T091502Z-identity-loss-5d21"
BANNER = "ROLLBACK FAILED: a fault may still be in force"


def _failed(*problems: str) -> RunResult:
    return met_and_missed().model_copy(
        update={"rollback": Rollback(complete=False, problems=list(problems))}
    )


def test_the_terminal_summary_leads_with_the_failed_rollback() -> None:
    lines = render_result(rollback_failed()).splitlines()
    assert lines[:3] == [
        f"!! {BANNER}: identity-loss (run {RUN_ID})",
        f"!!   {ROLLBACK_PROBLEM}",
        "identity-loss: passed, score 100.0 (A)",
    ]


def test_the_suite_summary_says_how_many_drills_left_a_fault_and_what() -> None:
    results = [*demo_suite(), rollback_failed(), _failed("fault x may still be in force")]
    lines = render_closing(suite_of(results), results).splitlines()
    assert lines[:4] == [
        f"!! {BANNER}: 2 of 6 drill(s) left a fault behind",
        f"!!   identity-loss: {ROLLBACK_PROBLEM}",
        "!!   identity-loss: fault x may still be in force",
        "suite score 58.3 (D) over 3 of 4 drills",
    ]


def test_a_complete_rollback_adds_nothing_to_the_terminal() -> None:
    results = demo_suite()
    assert not any("ROLLBACK" in render_result(r) for r in results)
    assert render_closing(suite_of(results), results).startswith("suite score ")


def test_a_failed_rollback_without_problems_still_says_what_to_do() -> None:
    text = render_result(_failed())
    assert text.splitlines()[1] == (
        "!!   the rollback did not complete and recorded no detail; to remove every fault now: "
        "gameday abort"
    )


def test_markdown_leads_with_the_failed_rollback() -> None:
    lines = render_markdown([rollback_failed()]).splitlines()
    assert lines[:6] == [
        "# GameDay drill report",
        "",
        f"**{BANNER}.** 1 of 1 drill(s) left a fault behind:",
        "",
        f"- **identity-loss** (run {RUN_ID}): {ROLLBACK_PROBLEM}",
        "",
    ]
    assert "| rollback | **FAILED** |" in lines
    # Said once on a page of one run; a page of several says it again at the top of the run.
    assert sum(BANNER in line for line in lines) == 1
    several = render_markdown([demo_suite()[1], rollback_failed()])
    assert several.count(BANNER) == 2
    assert "**Rollback failed: 1 of 2 drill(s) left a fault behind** (see the top)." in several


def test_markdown_of_a_complete_rollback_has_only_the_quiet_fact() -> None:
    text = render_markdown(demo_suite())
    assert "ROLLBACK" not in text and "Rollback failed" not in text
    assert text.count("| rollback | complete |") == len(demo_suite())


def test_html_leads_with_a_banner_naming_every_fault_left() -> None:
    page = render_html([rollback_failed()])
    main = page.split("<main>", 1)[1]
    assert main.startswith('<section class="rollback-failed" id="rollback-failed" role="alert">')
    banner = main.split("</section>", 1)[0]
    assert f"<h2>{BANNER}</h2><p>1 of 1 drill(s) left a fault behind:</p>" in banner
    assert (
        f'<li><span class="name">identity-loss</span> (run <code>{RUN_ID}</code>): '
        f"{ROLLBACK_PROBLEM}</li>"
    ) in banner
    assert '<th>rollback</th><td><span class="no">FAILED</span></td>' in page
    several = render_html([demo_suite()[1], rollback_failed()])
    assert several.count(f'<p class="banner rollback">{BANNER}: ') == 1
    assert "rollback failed: 1 of 2 drill(s) left a fault behind (see the top of the page)" in (
        several
    )


def test_html_of_a_complete_rollback_has_only_the_quiet_fact() -> None:
    page = render_html(demo_suite())
    assert "rollback-failed" not in page.split("</style>", 1)[1]
    assert "ROLLBACK" not in page and "banner rollback" not in page
    assert page.count("<th>rollback</th><td>complete</td>") == len(demo_suite())


def test_junit_has_a_failing_rollback_testcase_first() -> None:
    xml = render_junit([rollback_failed()])
    assert [str(e) for e in xmlschema.XMLSchema(str(XSD)).iter_errors(xml)] == []
    suite = ET.fromstring(xml)[0]
    first = suite.findall("testcase")[0]
    assert (first.get("name"), first.get("classname")) == ("rollback", "gameday.identity-loss")
    failure = first.find("failure")
    assert failure is not None
    assert failure.get("type") == "rollback"
    assert failure.get("message") == f"{BANNER}: {ROLLBACK_PROBLEM}"
    assert failure.text == ROLLBACK_PROBLEM
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "0")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["rollback"] == "failed"
    system_out = suite.find("system-out")
    assert system_out is not None and (system_out.text or "").startswith(f"!! {BANNER}")


def test_junit_of_a_complete_rollback_has_no_rollback_testcase() -> None:
    suite = ET.fromstring(render_junit([met_and_missed()]))[0]
    assert "rollback" not in [c.get("name") for c in suite.findall("testcase")]
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["rollback"] == "complete"


def test_prometheus_has_a_rollback_gauge_per_scenario() -> None:
    text = render_prom([rollback_failed(), *demo_suite()[1:]])
    gauges = {
        sample.labels["scenario"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gameday_scenario_rollback_complete"
    }
    assert gauges == {
        "identity-loss": 0.0,
        "registry-loss": 1.0,
        "logging-loss": 1.0,
        "region-loss": 1.0,
    }
    assert (
        "# HELP gameday_scenario_rollback_complete 0 when the last run's rollback failed: a "
        "fault may still be in force.\n# TYPE gameday_scenario_rollback_complete gauge\n"
    ) in text


@pytest.mark.parametrize("fmt", [ReportFormat.HTML, ReportFormat.MARKDOWN, ReportFormat.JUNIT])
def test_problems_are_text_in_every_format(fmt: ReportFormat) -> None:
    text = render([_failed(*HOSTILE.values())], fmt)
    assert "<script>" not in text and "<img" not in text and "<svg onload" not in text
    if fmt is ReportFormat.HTML:
        page = Page(text)
        assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
        assert "".join(page.text).count(HOSTILE["script"]) == 1
    elif fmt is ReportFormat.MARKDOWN:
        page = Page(to_html(text))
        assert {tag for tag, _ in page.tags} <= RENDERED_TAGS
        assert "".join(page.text).count(HOSTILE["script"]) == 1
    else:
        failure = ET.fromstring(text)[0].findall("testcase")[0].find("failure")
        assert failure is not None and HOSTILE["script"] in (failure.get("message") or "")
