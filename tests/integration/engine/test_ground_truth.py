"""Measurements against the truth, end to end: a real moto server, the real gateway, a real
app process whose recovery and data loss are known exactly (tests/fixtures/apps/truth_app.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.kinds import RunStatus
from gameday.result import RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "truth_app.py"
INTERVAL_S = 0.1


def _scenario(
    tmp_path: Path,
    *,
    env: dict[str, str],
    faults: str,
    probes: str,
    objectives: str,
    setup: str = "[]",
    observe: str = "{max: 8s, recovery_window: 1s}",
) -> Path:
    env_yaml = ", ".join(f"{k}: '{v}'" for k, v in env.items())
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: truth}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        f"    env: {{{env_yaml}}}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        f"  setup: {setup}\n"
        f"faults: {faults}\n"
        f"probes: {probes}\n"
        f"objectives: {objectives}\n"
        f"observe: {observe}\n"
    )
    return path


def _run(path: Path) -> RunResult:
    plan = make_plan(load_scenario(path))
    return run_drill(plan, RunOptions(seed=1), time.monotonic)


HEALTH_PROBE = (
    f"[{{name: api, kind: http, url: '{{app}}/health', interval: {INTERVAL_S * 1000:g}ms, "
    "timeout: 1s}]"
)
STS_DOWN = "[{kind: api-fault, services: [sts], start_after: 500ms, duration: 1500ms}]"


def test_rto_matches_an_app_that_recovers_two_seconds_after_the_fault(tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    path = _scenario(
        tmp_path,
        env={"MODE": "recover-after", "RECOVER_S": "2", "TRUTH_FILE": str(truth_file)},
        faults=STS_DOWN,
        probes=HEALTH_PROBE,
        objectives="[{kind: rto, probe: api, target: 10s}, {kind: steady, probe: api}]",
    )
    result = _run(path)
    truth = json.loads(truth_file.read_text())
    true_rto = truth["recovered_at"] - truth["first_failure"]
    rto = next(o for o in result.objectives if o.kind == "rto")
    assert result.status is RunStatus.PASSED, result.reason
    assert rto.measured is not None
    assert abs(rto.measured - true_rto) <= INTERVAL_S + 0.05, (rto.measured, true_rto)
    assert 3.3 <= true_rto <= 4.0  # 1.5 s of fault + 2 s of recovery, less the probe's lag
    assert rto.recovered_during_fault is False
    assert all(f.injected_at is not None and f.removed_at is not None for f in result.faults)


def test_an_app_that_rides_through_has_no_impact(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        env={"MODE": "ride-through"},
        faults=STS_DOWN,
        probes=HEALTH_PROBE,
        objectives="[{kind: rto, probe: api, target: 1s}, "
        "{kind: availability, probe: api, target: 1}]",
    )
    result = _run(path)
    rto, availability = result.objectives
    assert (rto.measured, rto.met, rto.detail) == (0.0, True, rto.detail)
    assert "no impact" in rto.detail
    assert availability.measured == 1.0
    assert result.score == 100.0
    hits = {c[0]: c[3] for c in result.gateway.calls if c[2] == "error"}
    assert hits.get("sts", 0) >= 10  # the fault really hit the app's STS calls


def test_rpo_matches_an_app_that_drops_acknowledged_writes(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        env={"MODE": "drop-writes"},
        setup="[{kind: table, name: orders}]",
        faults="[{kind: api-fault, services: [dynamodb], operations: [PutItem], "
        "start_after: 1s, duration: 1500ms}]",
        probes=f"[{{name: orders, kind: data, write_url: '{{app}}/orders/{{marker}}', "
        f"read: {{url: '{{app}}/orders/{{marker}}'}}, interval: {INTERVAL_S * 1000:g}ms}}]",
        objectives="[{kind: rpo, probe: orders, target: 5s}]",
    )
    result = _run(path)
    (rpo,) = result.objectives
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None
    window = fault.removed_at - fault.injected_at
    assert rpo.measured is not None
    assert abs(rpo.measured - window) <= INTERVAL_S + 0.05, (rpo.measured, window)
    (probe,) = result.probes
    lost = [m for m in probe.markers if m[2] and m[3] is False]
    assert len(lost) >= 10
    assert "lost" in rpo.detail


def test_not_steady_injects_nothing(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        env={"MODE": "ride-through"},
        faults=STS_DOWN,
        probes="[{name: api, kind: http, url: '{app}/missing', interval: 100ms}]",
        objectives="[{kind: steady, probe: api}]",
    )
    result = _run(path)
    assert result.status is RunStatus.NOT_STEADY
    assert result.score is None and result.grade is None
    assert result.faults[0].injected_at is None
    assert "api: status 404, expected 200" in (result.reason or "")


def test_an_app_that_never_gets_ready_is_an_error(tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        env={"MODE": "ride-through", "STEADY": "0"},
        faults=STS_DOWN,
        probes=HEALTH_PROBE,
        objectives="[{kind: steady, probe: api}]",
    )
    path.write_text(path.read_text().replace("ready_timeout: 15s", "ready_timeout: 1s"))
    result = _run(path)
    assert result.status is RunStatus.ERROR
    assert result.faults[0].injected_at is None
    assert (result.reason or "").startswith("the app was not ready within 1 s")


def test_targets_can_come_from_a_resiliency_policy(tmp_path: Path) -> None:
    (tmp_path / "policy.json").write_text(
        json.dumps({"policy": {"Software": {"rtoInSecs": 7, "rpoInSecs": 3}}})
    )
    path = _scenario(
        tmp_path,
        env={"MODE": "ride-through"},
        faults=STS_DOWN,
        probes=HEALTH_PROBE,
        objectives="[{kind: rto, probe: api, "
        "target_from: {resiliency_policy: policy.json, disruption: Software}}]",
    )
    result = _run(path)
    (rto,) = result.objectives
    assert rto.target == 7.0
    assert rto.target_source is not None and "policy.json" in rto.target_source
    assert rto.met
