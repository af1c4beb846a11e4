"""`gameday plan` as text and JSON: human objectives are measured on people, and only a
facilitated run grades them."""

from __future__ import annotations

import re
from pathlib import Path

from gameday.engine.plan import make_plan
from gameday.faults.plan import Plan
from gameday.reports.plan import plan_to_dict, render_plan
from gameday.scenario.loader import LoadedScenario, parse_scenario
from gameday.scenario.models import Environment
from tests.unit.reports.runs import REPO

SCENARIO = REPO / "scenarios" / "region-loss.yaml"
HUMAN_OBJECTIVES = """\
  - {kind: human_ttd, target: 90s, critical: true}
  - {name: mitigate, kind: human_ttm, target: 3m, weight: 2}

guardrails:"""


def _plan(path: Path = SCENARIO, *, human: bool = True) -> Plan:
    # The shipped drill's own human objectives are taken out, so each test says its own.
    text = re.sub(r"  # People's own times.*?(?=\nguardrails:)", "", path.read_text(), flags=re.S)
    if human:
        text = text.replace("\nguardrails:", "\n" + HUMAN_OBJECTIVES, 1)
    return make_plan(LoadedScenario(path, parse_scenario(path, text)), Environment.EMBEDDED)


def _objective_lines(text: str) -> list[str]:
    lines = text.split("\nobjectives\n")[1].split("\n\n", maxsplit=1)[0].splitlines()
    return [" ".join(line.split()) for line in lines]


def test_human_objectives_read_people_and_say_when_they_are_graded() -> None:
    lines = _objective_lines(render_plan(_plan()))
    assert lines[-3:] == [
        "human_ttd human_ttd people <= 90s weight 1 critical",
        "mitigate human_ttm people <= 3m weight 2",
        "human_ttd, mitigate: measured on people's marks, graded only under "
        "`gameday run --facilitate`",
    ]
    assert lines[0] == "steady-api steady api 3 healthy samples before and after weight 1"


def test_a_plan_without_human_objectives_has_no_note() -> None:
    text = render_plan(_plan(human=False))
    assert "people" not in text and "--facilitate" not in text


def test_plan_json_marks_human_objectives_as_facilitated_only() -> None:
    objectives = {o["name"]: o for o in plan_to_dict(_plan())["objectives"]}
    assert objectives["human_ttd"] == {
        "name": "human_ttd",
        "kind": "human_ttd",
        "probe": "people",
        "target": "<= 90s",
        "weight": 1.0,
        "critical": True,
        "facilitated_only": True,
    }
    assert objectives["mitigate"]["probe"] == "people"
    assert objectives["failover-rto"]["probe"] == "orders"
    assert objectives["failover-rto"]["facilitated_only"] is False
