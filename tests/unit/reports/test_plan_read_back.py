"""`gameday plan` shows how each data probe reads its markers back: the flush, the settle and
the deadline, with the defaults marked (issue 15, "Read-back that waits and retries")."""

from __future__ import annotations

from pathlib import Path

from gameday.engine.plan import make_plan
from gameday.faults.plan import Plan
from gameday.reports.plan import plan_to_dict, render_plan
from gameday.scenario.loader import LoadedScenario, parse_scenario
from gameday.scenario.models import Environment

DRILL = """\
apiVersion: gameday/v1
metadata: {name: read-back}
faults: [{kind: logging-loss, duration: 10s}]
probes:
  - name: orders
    kind: data
    write_url: '{app}/orders'
    read: {url: '{app}/orders/{marker}'}
  - name: audit
    kind: data
    write_url: '{app}/audit/{marker}'
    read: {log_group: /app/audit, flush_url: '{app}/flush', settle: 65s, deadline: 30s}
  - {name: api, kind: http, url: '{app}/health'}
objectives: [{kind: rpo, probe: orders, target: 0s}, {kind: rpo, probe: audit, target: 0s}]
"""


def _plan(tmp_path: Path) -> Plan:
    path = tmp_path / "drill.yaml"
    return make_plan(LoadedScenario(path, parse_scenario(path, DRILL)), Environment.EMBEDDED)


def test_plan_shows_each_data_probes_read_back_steps(tmp_path: Path) -> None:
    lines = render_plan(_plan(tmp_path)).splitlines()
    orders = next(line for line in lines if line.startswith("  orders "))
    audit = next(line for line in lines if line.startswith("  audit "))
    assert orders.endswith(
        "read back from {app}/orders/{marker} (no flush, settle 2s (default), "
        "deadline 10s (default))"
    )
    assert audit.endswith(
        "read back from log group /app/audit (flush POST {app}/flush, settle 65s, deadline 30s)"
    )


def test_plan_json_gives_the_read_back_settings(tmp_path: Path) -> None:
    probes = {p["name"]: p for p in plan_to_dict(_plan(tmp_path))["probes"]}
    assert probes["orders"]["read_back"] == {
        "flush_url": None,
        "settle_s": 2.0,
        "settle_default": True,
        "deadline_s": 10.0,
        "deadline_default": True,
    }
    assert probes["audit"]["read_back"] == {
        "flush_url": "{app}/flush",
        "settle_s": 65.0,
        "settle_default": False,
        "deadline_s": 30.0,
        "deadline_default": False,
    }
    assert probes["api"]["read_back"] is None
