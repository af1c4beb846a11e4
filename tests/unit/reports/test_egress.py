"""What an isolated drill refused, in every report, and a probe let out of isolation, in the
plan (issue 14, finding 2; DESIGN.md "Isolation")."""

from __future__ import annotations

import re
from pathlib import Path

from gameday.engine.plan import make_plan
from gameday.reports.html import render_html
from gameday.reports.markdown import render_markdown
from gameday.reports.plan import RUNNER_NOTE, plan_to_dict, render_plan
from gameday.reports.terminal import render_result
from gameday.result import EgressRecord
from gameday.scenario.loader import LoadedScenario, parse_scenario
from gameday.scenario.models import Environment
from tests.unit.reports.runs import met_and_missed

LINE = (
    "the app tried to reach sts.us-east-1.amazonaws.com:443 directly: 3 attempts "
    "(refused, first at 12.50s)"
)


def _refused() -> list[EgressRecord]:
    return [
        EgressRecord(
            host="sts.us-east-1.amazonaws.com", port=443, source="app", attempts=3, first_at=12.5
        ),
        EgressRecord(host="2001:db8::1", port=80, source="", attempts=1, first_at=None),
    ]


def test_every_format_names_each_refused_target_and_a_clean_run_says_nothing() -> None:
    result = met_and_missed().model_copy(update={"egress": _refused()})
    terminal = render_result(result)
    assert f"  egress: {LINE}" in terminal
    assert "the app or a probe tried to reach [2001:db8::1]:80 directly: 1 attempt (refused)" in (
        terminal
    )
    markdown = render_markdown([result])
    assert f"### Refused connections past loopback\n\n- {LINE}\n" in markdown
    assert f"<li>{LINE}</li>" in render_html([result])
    clean = met_and_missed()
    assert "egress" not in render_result(clean)
    assert "Refused connections" not in render_markdown([clean])
    assert "Refused connections" not in render_html([clean])


SCENARIO = """\
apiVersion: gameday/v1
metadata: {name: runner-probe}
target: {app: demo}
faults:
  - {kind: identity-loss, duration: 10s}
probes:
  - {name: real, kind: aws, service: sts, call: get_caller_identity, credentials: runner}
  - {name: own, kind: command, command: [aws, sts, get-caller-identity]}
objectives:
  - {kind: steady, probe: own}
"""


def test_the_plan_shows_a_probe_that_runs_as_the_runner() -> None:
    path = Path("runner-probe.yaml")
    plan = make_plan(LoadedScenario(path, parse_scenario(path, SCENARIO)), Environment.EMBEDDED)
    text = render_plan(plan)
    real = next(line for line in text.splitlines() if re.match(r"\s*real\s", line))
    own = next(line for line in text.splitlines() if re.match(r"\s*own\s", line))
    assert RUNNER_NOTE in real and RUNNER_NOTE not in own
    assert [p["credentials"] for p in plan_to_dict(plan)["probes"]] == ["runner", "isolated"]
