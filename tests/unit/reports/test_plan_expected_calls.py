"""`gameday plan` says which calls each fault waits for, and what matching none of them means
(issue 15, "Fault effect")."""

from __future__ import annotations

from pathlib import Path

from gameday.engine.plan import make_plan
from gameday.faults.plan import Plan
from gameday.reports.plan import plan_to_dict, render_plan
from gameday.scenario.loader import LoadedScenario, parse_scenario
from gameday.scenario.models import Environment

DRILL = """\
apiVersion: gameday/v1
metadata: {name: expectations}
target: {regions: [us-east-1, us-west-2]}
faults:
  - {name: sts-down, kind: api-fault, services: [sts], regions: [us-east-1], duration: 10s}
  - name: pulls
    kind: api-fault
    services: [ecr]
    operations: [BatchGetImage, GetDownloadUrlForLayer]
    duration: 10s
    ramp: [{after: 0s, probability: 0.5}, {after: 5s, probability: 1}]
  - {name: west, kind: region-loss, region: us-west-2, include_global: true, duration: 10s}
  - {name: no-logs, kind: logging-loss, duration: 10s, expect_calls: false}
probes: [{name: api, kind: http, url: 'http://127.0.0.1:8080/health'}]
objectives: [{kind: rto, probe: api, target: 5s}]
"""


def _plan(tmp_path: Path) -> Plan:
    path = tmp_path / "drill.yaml"
    return make_plan(LoadedScenario(path, parse_scenario(path, DRILL)), Environment.EMBEDDED)


def test_plan_says_per_fault_which_calls_it_expects(tmp_path: Path) -> None:
    text = render_plan(_plan(tmp_path))
    section = text.split("\nexpected calls\n")[1].split("\n\n", maxsplit=1)[0]
    then = "while in force; a fault that matches none makes the run inconclusive"
    assert section.splitlines() == [
        f"  sts-down: expects calls to sts (any operation) in us-east-1 {then}",
        # A ramp's two steps wait for the same calls: said once.
        "  pulls: expects calls to ecr BatchGetImage or GetDownloadUrlForLayer in us-east-1, "
        f"us-west-2 {then}",
        "  west: expects calls to any service (any operation) in us-west-2; or to iam, route53, "
        f"cloudfront, organizations, sts (any operation) in us-east-1 {then}",
        "  no-logs: expect_calls: false (the drill shows the app does not depend on it; "
        "matching nothing is fine)",
    ]


def test_plan_json_lists_each_fault_expectation(tmp_path: Path) -> None:
    expected = plan_to_dict(_plan(tmp_path))["expected_calls"]
    assert [(e["fault"], e["expect_calls"]) for e in expected] == [
        ("sts-down", True),
        ("pulls", True),
        ("west", True),
        ("no-logs", False),
    ]
    assert expected[0]["text"].startswith("expects calls to sts (any operation) in us-east-1")
