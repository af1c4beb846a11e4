"""Every probe's timeout in plain sight (issue 15): `plan` as text and JSON, the terminal
summary, the Markdown and HTML probe sections; and a region-loss plan that names the global
services it takes with it (gameday.faults.catalog.GLOBAL_SERVICES), not "every service"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gameday.engine.plan import make_plan
from gameday.faults.catalog import GLOBAL_SERVICES
from gameday.faults.plan import Plan
from gameday.reports.html import render_html
from gameday.reports.markdown import render_markdown
from gameday.reports.plan import TIMEOUT_NOTE, plan_to_dict, render_plan
from gameday.reports.terminal import render_result
from gameday.result import RunResult
from gameday.scenario.loader import LoadedScenario, parse_scenario
from gameday.scenario.models import Environment
from tests.unit.reports.runs import REPO, met_and_missed

IDENTITY = REPO / "scenarios" / "identity-loss.yaml"


def _plan(path: Path, text: str | None = None) -> Plan:
    loaded = LoadedScenario(path, parse_scenario(path, text or path.read_text()))
    return make_plan(loaded, Environment.EMBEDDED)


def _probe_rows(text: str) -> list[str]:
    block = text.split("\nprobes\n")[1].split("\n\n", maxsplit=1)[0]
    return [" ".join(line.split()) for line in block.splitlines()]


def test_plan_shows_each_probes_timeout_given_or_default() -> None:
    rows = _probe_rows(render_plan(_plan(IDENTITY)))
    assert rows[0] == "api http every 500ms, timeout 1s: GET {app}/health"
    assert rows[2].startswith("orders data every 1s, timeout 2s (default): POST ")
    assert rows[3].startswith("pager alert alerts posted")  # a sink waits for nothing
    assert rows[-1] == f"({TIMEOUT_NOTE})"


def test_plan_json_has_each_probes_timeout_and_its_verdict() -> None:
    probes = {p["name"]: p for p in plan_to_dict(_plan(IDENTITY))["probes"]}
    assert (probes["api"]["timeout_s"], probes["api"]["timeout_default"]) == (1.0, False)
    assert (probes["orders"]["timeout_s"], probes["orders"]["timeout_default"]) == (2.0, True)
    assert probes["api"]["on_timeout"] == "unhealthy"
    assert probes["pager"]["timeout_s"] is None


def _with_timeouts() -> RunResult:
    result = met_and_missed()
    probes = [p.model_copy(update={"timeout_s": 1.5}) for p in result.probes]
    return result.model_copy(update={"probes": probes})


def test_terminal_summary_lists_the_probe_timeouts() -> None:
    result = _with_timeouts()
    lines = render_result(result).splitlines()
    names = ", ".join(f"{p.name} 1.5s" for p in result.probes if p.kind != "alert")
    assert f"  probe timeouts: {names} (a slower answer is an unhealthy sample)" in lines


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_report_probe_sections_show_the_timeout(
    render: Callable[[Sequence[RunResult]], str],
) -> None:
    result = _with_timeouts()
    text = render([result])
    api = next(p for p in result.probes if p.kind == "http")
    assert f"{api.kind}, every {api.interval_s:g}s, timeout 1.5s: " in text


REGION_LOSS = """\
apiVersion: gameday/v1
metadata: {{name: rl}}
target: {{regions: [us-east-1, eu-west-1], app: demo}}
faults: [{{kind: region-loss, {fault}, duration: 2s}}]
probes: [{{name: api, kind: http, url: "{{app}}/health"}}]
objectives: [{{kind: rto, probe: api, target: 5s}}]
observe: {{max: 10s}}
"""


def _services(fault: str, tmp_path: Path) -> tuple[list[str], list[list[str]]]:
    path = tmp_path / "rl.yaml"
    plan = _plan(path, REGION_LOSS.format(fault=fault))
    lines = [line.strip() for line in render_plan(plan).splitlines()]
    services = [
        line.removeprefix("services").strip() for line in lines if line.startswith("services ")
    ]
    return services, [r["global_services"] for r in plan_to_dict(plan)["rules"]]


NAMED = (
    "IAM [iam], Route 53 [route53], CloudFront [cloudfront], Organizations [organizations], "
    "STS (global endpoint and us-east-1) [sts]"
)


def test_losing_us_east_1_names_the_global_services_it_takes(tmp_path: Path) -> None:
    services, taken = _services("region: us-east-1", tmp_path)
    assert services == [
        f"every service, every request signed for us-east-1, including the global services "
        f"homed there: {NAMED}"
    ]
    assert taken == [list(GLOBAL_SERVICES)]


def test_sparing_the_global_services_says_which(tmp_path: Path) -> None:
    services, taken = _services("region: us-east-1, include_global: false", tmp_path)
    assert services == [
        "every service, every request signed for us-east-1, except the global services homed "
        "there: iam, route53, cloudfront, organizations, sts"
    ]
    assert taken == [[]]


def test_another_region_with_global_services_lists_them_apart(tmp_path: Path) -> None:
    services, taken = _services("region: eu-west-1, include_global: true", tmp_path)
    assert services == [
        "every service, every request signed for eu-west-1",
        f"the global services homed in us-east-1: {NAMED}",
    ]
    assert taken == [[], list(GLOBAL_SERVICES)]


def test_another_region_alone_says_the_global_services_stay(tmp_path: Path) -> None:
    services, _ = _services("region: eu-west-1", tmp_path)
    assert services == [
        "every service, every request signed for eu-west-1; not the global services homed in "
        "us-east-1 (include_global: true adds them)"
    ]
