"""Measurements against the truth with several drills at once (``run --parallel``): each in
its worker process, the RTO and RPO still within one probe interval + 50 ms of what the apps
know (tests/fixtures/apps/truth_app.py), as in ``test_ground_truth`` one drill at a time."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from gameday.engine.drill import RunOptions
from gameday.engine.plan import make_plan
from gameday.engine.suite import run_suite
from gameday.kinds import RunStatus
from gameday.scenario.loader import load_scenario
from tests.integration.engine.test_ground_truth import HEALTH_PROBE, INTERVAL_S, STS_DOWN, _scenario

RECOVER_S = ("1", "2", "1.5")


def _rto_drill(folder: Path, recover_s: str) -> Path:
    folder.mkdir()
    return _scenario(
        folder,
        env={
            "MODE": "recover-after",
            "RECOVER_S": recover_s,
            "TRUTH_FILE": str(folder / "t"),
            # Several drills share two cores: a slow call before the fault is not a failure.
            "CALL_TIMEOUT_S": "3",
        },
        faults=STS_DOWN,
        probes=HEALTH_PROBE,
        objectives="[{kind: rto, probe: api, target: 10s}]",
    )


def _rpo_drill(folder: Path) -> Path:
    folder.mkdir()
    return _scenario(
        folder,
        env={"MODE": "drop-writes", "CALL_TIMEOUT_S": "3"},
        setup="[{kind: table, name: orders}]",
        faults="[{kind: api-fault, services: [dynamodb], operations: [PutItem], "
        "start_after: 1s, duration: 1500ms}]",
        probes=f"[{{name: orders, kind: data, write_url: '{{app}}/orders/{{marker}}', "
        f"read: {{url: '{{app}}/orders/{{marker}}'}}, interval: {INTERVAL_S * 1000:g}ms}}]",
        objectives="[{kind: rpo, probe: orders, target: 5s}]",
    )


def test_rto_and_rpo_stay_true_with_several_drills_at_once(tmp_path: Path) -> None:
    drills = [_rto_drill(tmp_path / f"rto-{i}", s) for i, s in enumerate(RECOVER_S)]
    # Two data drills: each writes its table in its own emulator, under the same name.
    drills += [_rpo_drill(tmp_path / f"rpo-{i}") for i in range(2)]
    plans = [make_plan(load_scenario(path)) for path in drills]

    outcome = run_suite(plans, RunOptions(seed=1), tmp_path / "out", parallel=len(plans))

    results = outcome.results
    assert [r.scenario.file for r in results] == [str(p) for p in drills]  # the plans' order
    starts = [datetime.fromisoformat(r.started_at.replace("Z", "+00:00")) for r in results]
    ends = [datetime.fromisoformat(r.ended_at.replace("Z", "+00:00")) for r in results]
    assert max(starts) < min(ends), "the drills did not run at once"
    for path, result in zip(drills[: len(RECOVER_S)], results, strict=False):
        truth = json.loads((path.parent / "t").read_text())
        true_rto = truth["recovered_at"] - truth["first_failure"]
        (rto,) = result.objectives
        assert result.status is RunStatus.PASSED, result.reason
        assert rto.measured is not None
        assert abs(rto.measured - true_rto) <= INTERVAL_S + 0.05, (path, rto.measured, true_rto)
    for result in results[len(RECOVER_S) :]:
        (rpo,) = result.objectives
        (fault,) = result.faults
        assert fault.injected_at is not None and fault.removed_at is not None
        window = fault.removed_at - fault.injected_at
        assert rpo.measured is not None
        assert abs(rpo.measured - window) <= INTERVAL_S + 0.05, (rpo.measured, window)
        (probe,) = result.probes
        assert len([m for m in probe.markers if m[2] and m[3] is False]) >= 10
