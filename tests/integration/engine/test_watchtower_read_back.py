"""A real log shipper under a drill (issue 15, "Tests and measures"): an app that logs every
order through watchtower's CloudWatchLogHandler (tests/fixtures/apps/watchtower_app.py),
the real gateway, a real moto server, gameday's own read-back from the log group.

The store is read a second time by the test itself, straight from the emulator after
gameday's read-back and before the emulator stops, so gameday's verdict is checked against
what the store really holds rather than against itself.
"""

from __future__ import annotations

import re
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.environments.embedded import EmbeddedEnvironment
from gameday.environments.stage import Stage, StageRequest
from gameday.kinds import RunStatus
from gameday.result import ObjectiveResult, ProbeRecord, RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "watchtower_app.py"
GROUP = "/orders/audit"
_MARKER = re.compile(r"marker=(\S+)")


class _StoreReader:
    """The embedded environment, and the marker ids in the log group when it goes down."""

    def __init__(self) -> None:
        self.stored: set[str] | None = None

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        stage = await EmbeddedEnvironment().bring_up(request, stack)
        assert stage.clients is not None
        # Registered last, so it runs first on the way down: after the drill's read-back,
        # while the emulator still serves.
        stack.callback(self._read, stage.clients("logs", "us-east-1"))
        return stage

    def _read(self, logs: Any) -> None:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=GROUP)
        self.stored = {
            found
            for page in pages
            for event in page["events"]
            for found in _MARKER.findall(event["message"])
        }


def _drill(tmp_path: Path, store: _StoreReader, *, fault: str, env: str, read: str) -> RunResult:
    path = tmp_path / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: watchtower}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        f"    env: {{LOG_GROUP: '{GROUP}'{env}}}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 15s\n"
        f"  setup: [{{kind: log-group, name: '{GROUP}'}}]\n"
        f"faults: [{fault}]\n"
        "probes: [{name: orders, kind: data, interval: 100ms, "
        f"write_url: '{{app}}/orders', read: {read}}}]\n"
        "objectives: [{kind: rpo, probe: orders, target: 0s}]\n"
        "observe: {max: 4s, recovery_window: 300ms}\n"
    )
    options = RunOptions(seed=1, environment=store)
    return run_drill(make_plan(load_scenario(path)), options, time.monotonic)


def _rpo(result: RunResult) -> tuple[ObjectiveResult, ProbeRecord]:
    (rpo,) = result.objectives
    (probe,) = result.probes
    return rpo, probe


def _acknowledged(result: RunResult, probe: ProbeRecord) -> dict[int, str]:
    """seq -> marker id of every acknowledged write."""
    prefix = f"{probe.name}-{result.run_id}-"
    return {seq: f"{prefix}{seq}" for seq, _, acknowledged, _ in probe.markers if acknowledged}


def _rpo_of(probe: ProbeRecord, lost: set[int]) -> float:
    """DESIGN.md's RPO over ``lost``, written out again: for each run of consecutive lost
    acknowledged writes a..b, t_b - t_(a-1), t_(a-1) the last durable write before it."""
    written = [(seq, at) for seq, at, acknowledged, _ in probe.markers if acknowledged]
    worst, last_durable, run_from = 0.0, None, None
    for seq, at in written:
        if seq not in lost:
            last_durable, run_from = at, None
            continue
        if run_from is None:
            run_from = last_durable if last_durable is not None else at
        worst = max(worst, at - run_from)
    return worst


# A fault on a service the app never calls: nothing in this drill can lose a write, and the
# drill says so (expect_calls: false), as a drill proving the app does not need STS would.
STS_DOWN = (
    "{kind: api-fault, services: [sts], start_after: 300ms, duration: 600ms, expect_calls: false}"
)


def test_default_batching_read_back_at_once_reports_every_write_lost(tmp_path: Path) -> None:
    # The finding of issue 15, item 2, with the real shipper: the store is read before
    # watchtower's first batch (60 s) is due, so every acknowledged order reads as lost.
    store = _StoreReader()
    result = _drill(
        tmp_path, store, fault=STS_DOWN, env="", read=f"{{log_group: '{GROUP}', settle: 0s}}"
    )
    rpo, probe = _rpo(result)
    acknowledged = _acknowledged(result, probe)
    assert len(acknowledged) >= 5
    assert probe.read_back is not None and probe.read_back.lost == len(acknowledged)
    assert result.status is RunStatus.FAILED and not rpo.met
    assert store.stored == set()  # nothing had been shipped yet: the loss was not real


def test_flush_url_as_the_guide_says_leaves_no_false_loss(tmp_path: Path) -> None:
    store = _StoreReader()
    read = f"{{log_group: '{GROUP}', flush_url: '{{app}}/flush'}}"  # settle: its default
    result = _drill(tmp_path, store, fault=STS_DOWN, env="", read=read)
    rpo, probe = _rpo(result)
    acknowledged = _acknowledged(result, probe)
    assert len(acknowledged) >= 5
    assert result.status is RunStatus.PASSED, result.reason
    assert (rpo.measured, rpo.met) == (0.0, True), rpo.detail
    assert probe.read_back is not None and probe.read_back.flushed is True
    assert (probe.read_back.read, probe.read_back.lost, probe.read_back.unverified) == (
        len(acknowledged),
        0,
        0,
    )
    assert store.stored is not None
    assert set(acknowledged.values()) <= store.stored
    # The store may also hold the write that was in flight when the probe stopped: the app
    # took it, but no answer reached the probe, so it counts as refused, never as lost.
    unanswered = {
        f"{probe.name}-{result.run_id}-{seq}" for seq, _, ack, _ in probe.markers if not ack
    }
    assert store.stored - set(acknowledged.values()) <= unanswered


def test_logging_loss_rpo_matches_the_markers_missing_from_the_store(tmp_path: Path) -> None:
    # A shipper that sends every 300 ms and gives a batch up after one failed call per
    # watchtower attempt (AWS_MAX_ATTEMPTS=1): batches sent while CloudWatch Logs is down are
    # dropped, as watchtower drops them. With the default 60 s interval a drill of seconds
    # ships nothing during the fault, and loses nothing.
    store = _StoreReader()
    fault = "{kind: logging-loss, start_after: 500ms, duration: 1s}"
    read = f"{{log_group: '{GROUP}', flush_url: '{{app}}/flush'}}"
    env = ", SEND_INTERVAL: '0.3', AWS_MAX_ATTEMPTS: '1'"
    result = _drill(tmp_path, store, fault=fault, env=env, read=read)
    rpo, probe = _rpo(result)
    acknowledged = _acknowledged(result, probe)
    assert store.stored is not None
    missing = {seq for seq, marker in acknowledged.items() if marker not in store.stored}
    lost = {seq for seq, _, ack, found in probe.markers if ack and found is False}

    assert missing, "the drill lost nothing: it tested nothing"
    assert lost == missing
    assert probe.read_back is not None
    assert (probe.read_back.lost, probe.read_back.unverified) == (len(missing), 0)
    assert rpo.measured is not None and rpo.measured > 0
    assert abs(rpo.measured - _rpo_of(probe, missing)) < 1e-9, rpo.detail
    assert result.status is RunStatus.FAILED and not rpo.met
    assert [f.matched_calls for f in result.faults] != [0]
