"""Read-back that waits and retries (issue 15, items 2 and 3), end to end: a real moto server,
the real gateway, and a real app (tests/fixtures/apps/shipper_app.py) that ships its writes to
CloudWatch Logs in batches and whose read endpoint can fail its first requests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.kinds import RunStatus
from gameday.result import ObjectiveResult, ProbeRecord, RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "shipper_app.py"
GROUP = "/app/orders"
# A fault on STS, which the app calls on every write and shrugs off (a cached identity):
# nothing in this drill can lose a write. expect_calls: false, as the app need not call it.
STS_DOWN = (
    "[{kind: api-fault, services: [sts], start_after: 300ms, duration: 600ms, expect_calls: false}]"
)


def _drill(tmp_path: Path, *, env: dict[str, str], read: str) -> RunResult:
    env_yaml = ", ".join(f"{k}: '{v}'" for k, v in {"LOG_GROUP": GROUP, **env}.items())
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: read-back}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        f"    env: {{{env_yaml}}}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        f"  setup: [{{kind: log-group, name: '{GROUP}'}}]\n"
        f"faults: {STS_DOWN}\n"
        "probes: [{name: orders, kind: data, interval: 100ms, "
        f"write_url: '{{app}}/orders/{{marker}}', read: {read}}}]\n"
        "objectives: [{kind: rpo, probe: orders, target: 0s}]\n"
        "observe: {max: 4s, recovery_window: 300ms}\n"
    )
    return run_drill(make_plan(load_scenario(path)), RunOptions(seed=1), time.monotonic)


def _rpo(result: RunResult) -> tuple[ObjectiveResult, ProbeRecord]:
    (rpo,) = result.objectives
    (probe,) = result.probes
    return rpo, probe


def _acknowledged(probe: ProbeRecord) -> int:
    return sum(1 for _, _, acknowledged, _ in probe.markers if acknowledged)


def test_reading_back_at_once_counts_batched_writes_as_lost(tmp_path: Path) -> None:
    # The finding as reported: watchtower's default batching, read-back with no settle.
    result = _drill(tmp_path, env={}, read=f"{{log_group: '{GROUP}', settle: 0s}}")
    rpo, probe = _rpo(result)
    assert _acknowledged(probe) >= 5
    lost = [m for m in probe.markers if m[2] and m[3] is False]
    assert len(lost) == _acknowledged(probe)
    assert result.status is RunStatus.FAILED and not rpo.met
    assert probe.read_back is not None and probe.read_back.lost == len(lost)


def test_flush_url_ships_the_batch_before_read_back(tmp_path: Path) -> None:
    read = f"{{log_group: '{GROUP}', flush_url: '{{app}}/flush', settle: 0s}}"
    result = _drill(tmp_path, env={}, read=read)
    rpo, probe = _rpo(result)
    assert _acknowledged(probe) >= 5
    assert all(found for _, _, acknowledged, found in probe.markers if acknowledged)
    assert (rpo.measured, rpo.met) == (0.0, True), rpo.detail
    assert result.status is RunStatus.PASSED, result.reason
    assert probe.read_back is not None
    assert (probe.read_back.lost, probe.read_back.unverified) == (0, 0)
    assert probe.read_back.read == _acknowledged(probe)
    assert probe.read_back.flushed is True
    assert any(e.kind == "read-back" and "/flush" in e.detail for e in result.events)


def test_settle_waits_for_the_next_batch(tmp_path: Path) -> None:
    read = f"{{log_group: '{GROUP}', settle: 1500ms}}"
    result = _drill(tmp_path, env={"SEND_INTERVAL": "0.5"}, read=read)
    rpo, probe = _rpo(result)
    assert _acknowledged(probe) >= 5
    assert (rpo.measured, rpo.met) == (0.0, True), rpo.detail
    assert probe.read_back is not None and probe.read_back.settle_s == 1.5


def test_a_read_that_fails_once_is_retried_and_rpo_is_measured(tmp_path: Path) -> None:
    # Issue 15, item 3: one GET failed once and the whole RPO objective was "not measured".
    for how in ("500", "drop"):
        result = _drill(
            tmp_path,
            env={"SEND_INTERVAL": "0", "FAIL_READS": "1", "FAIL_HOW": how},
            read="{url: '{app}/orders/{marker}'}",
        )
        rpo, probe = _rpo(result)
        assert _acknowledged(probe) >= 5
        assert (rpo.measured, rpo.met) == (0.0, True), (how, rpo.detail)
        assert probe.read_back is not None and probe.read_back.unverified == 0
        assert f"{_acknowledged(probe)} read back" in rpo.detail


def test_a_read_that_never_answers_leaves_markers_unverified_not_lost(tmp_path: Path) -> None:
    result = _drill(
        tmp_path,
        env={"SEND_INTERVAL": "0", "FAIL_READS": "100000"},
        read="{url: '{app}/orders/{marker}', settle: 0s, deadline: 500ms}",
    )
    rpo, probe = _rpo(result)
    acknowledged = _acknowledged(probe)
    assert acknowledged >= 5
    assert probe.read_back is not None
    assert (probe.read_back.lost, probe.read_back.unverified) == (0, acknowledged)
    assert rpo.measured is None and not rpo.met
    assert rpo.detail.startswith("not measured: ")
    assert f"{acknowledged} unverified" in rpo.detail
    problems = [e.detail for e in result.events if e.kind == "read-back"]
    assert any("status 500" in p for p in problems), problems
