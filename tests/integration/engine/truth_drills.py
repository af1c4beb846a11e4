"""Drills against an app that logs its own truth (tests/fixtures/apps/truth_app.py), measured
by the whole engine, and a load that keeps both cores busy: shared by the under-load test and
bench/truth_under_load.py (issue 15, "Ground truth under load").

Each drill returns what gameday measured beside the truth the app wrote; the caller decides
what error it accepts (the bench: one probe interval + 50 ms; the test: only that every
measurement was made and the lost markers are exactly the writes the app dropped).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gameday.engine.drill import RunOptions, run_drill
from gameday.engine.plan import make_plan
from gameday.grading import Marker, measure_rpo
from gameday.result import ObjectiveResult, RunResult
from gameday.scenario.loader import load_scenario

APP = Path(__file__).resolve().parents[2] / "fixtures" / "apps" / "truth_app.py"
INTERVAL_S = 0.1
GOAL_S = INTERVAL_S + 0.05
"""Issue 15: every measurement within one probe interval + 50 ms of the truth."""


@contextmanager
def busy_cores(count: int = 2) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes spinning on a core each until the block ends (killed then)."""
    spinners: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            spinners.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        yield spinners
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait(timeout=10)


class _RunClock:
    """time.monotonic, remembering its first reading: the run's origin (the engine reads the
    clock first to set it), so offsets in the result can be put on the app's clock."""

    def __init__(self) -> None:
        self.origin: float | None = None

    def __call__(self) -> float:
        now = time.monotonic()
        if self.origin is None:
            self.origin = now
        return now


def _run(folder: Path, body: str, env: dict[str, str]) -> tuple[RunResult, float]:
    """(result, run origin on CLOCK_MONOTONIC) of a drill of the truth app."""
    folder.mkdir(parents=True, exist_ok=True)
    # A slow call on a loaded machine must not count as the app's first failure.
    env = {"CALL_TIMEOUT_S": "2", **env}
    env_yaml = ", ".join(f"{k}: '{v}'" for k, v in env.items())
    path = folder / "drill.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: truth-under-load}\n"
        "target:\n"
        "  app:\n"
        f"    command: ['{sys.executable}', '{APP}']\n"
        f"    env: {{{env_yaml}}}\n"
        "    health_url: 'http://127.0.0.1:{port}/health'\n"
        "    ready_timeout: 30s\n" + body
    )
    clock = _RunClock()
    result = run_drill(make_plan(load_scenario(path)), RunOptions(seed=1), clock)
    assert clock.origin is not None
    return result, clock.origin


def _objective(result: RunResult, kind: str) -> ObjectiveResult:
    return next(o for o in result.objectives if o.kind == kind)


@dataclass(frozen=True, slots=True)
class RecoveryTruth:
    """RTO and TTD as measured and as the app saw them (seconds; None: not measured)."""

    rto_s: float | None
    true_rto_s: float
    ttd_s: float | None
    true_ttd_s: float
    status: str
    missed: int
    """Ticks of the health probe missed because a sample ran over (they break a healthy run)."""


def recovery_drill(folder: Path) -> RecoveryTruth:
    """STS down for 1.5 s; the app stays unhealthy 2 s more, and alerts its first failure."""
    truth_file = folder / "truth.json"
    result, origin = _run(
        folder,
        "faults: [{kind: api-fault, services: [sts], start_after: 500ms, duration: 1500ms}]\n"
        f"probes: [{{name: api, kind: http, url: '{{app}}/health', "
        f"interval: {INTERVAL_S * 1000:g}ms, timeout: 1s}}, {{name: pager, kind: alert}}]\n"
        "objectives: [{kind: rto, probe: api, target: 10s}, "
        "{kind: ttd, probe: pager, target: 10s}]\n"
        "observe: {max: 10s, recovery_window: 1s}\n",
        {"MODE": "recover-after", "RECOVER_S": "2", "TRUTH_FILE": str(truth_file)},
    )
    # The app writes its truth once it has recovered: without it, the drill's own reason says
    # what went wrong (not steady, the app's exit...).
    assert truth_file.exists() and result.t0 is not None, f"{result.status}: {result.reason}"
    truth = json.loads(truth_file.read_text())
    return RecoveryTruth(
        rto_s=_objective(result, "rto").measured,
        true_rto_s=truth["recovered_at"] - truth["first_failure"],
        ttd_s=_objective(result, "ttd").measured,
        true_ttd_s=truth["alert_sent"] - (origin + result.t0),
        status=result.status.value,
        missed=sum(len(p.missed) for p in result.probes if p.name == "api"),
    )


@dataclass(frozen=True, slots=True)
class DataTruth:
    """RPO as measured and as the app's own record gives it (DESIGN.md's definition over the
    writes the app received, at the times it received them, less those it dropped), and the
    markers lost beside the writes the app dropped (marker ids)."""

    rpo_s: float | None
    true_rpo_s: float
    lost: frozenset[str]
    dropped: frozenset[str]
    unverified: int
    detail: str


def _true_rpo(received: dict[str, float], dropped: frozenset[str]) -> float:
    markers = [
        Marker(int(order.rsplit("-", 1)[1]), at, acknowledged=True, found=order not in dropped)
        for order, at in received.items()
    ]
    rpo_s = measure_rpo(markers).rpo_s
    assert rpo_s is not None  # the app's own record has nothing unverified
    return rpo_s


def data_drill(folder: Path) -> DataTruth:
    """DynamoDB PutItem fails for 1.5 s; the app acknowledges every write and drops those."""
    truth_file = folder / "truth.json"
    result, _ = _run(
        folder,
        "  setup: [{kind: table, name: orders}]\n"
        "faults: [{kind: api-fault, services: [dynamodb], operations: [PutItem], "
        "start_after: 1s, duration: 1500ms}]\n"
        f"probes: [{{name: orders, kind: data, write_url: '{{app}}/orders/{{marker}}', "
        f"read: {{url: '{{app}}/orders/{{marker}}'}}, interval: {INTERVAL_S * 1000:g}ms}}]\n"
        "objectives: [{kind: rpo, probe: orders, target: 5s}]\n"
        "observe: {max: 8s, recovery_window: 1s}\n",
        {"MODE": "drop-writes", "TRUTH_FILE": str(truth_file)},
    )
    (fault,) = result.faults
    assert fault.injected_at is not None and fault.removed_at is not None, result.reason
    (probe,) = result.probes
    prefix = f"orders-{result.run_id}-"
    truth = json.loads(truth_file.read_text())
    dropped = frozenset(truth["dropped"])
    rpo = _objective(result, "rpo")
    return DataTruth(
        rpo_s=rpo.measured,
        true_rpo_s=_true_rpo(truth["received"], dropped),
        lost=frozenset(
            f"{prefix}{seq}" for seq, _, ack, found in probe.markers if ack and found is False
        ),
        dropped=dropped,
        unverified=sum(1 for _, _, ack, found in probe.markers if ack and found is None),
        detail=rpo.detail,
    )
