"""The truth check on a loaded machine (issue 15): the ground-truth drills of RTO, TTD and RPO
while two busy processes load both cores. Every measurement must be made, and the markers
read-back calls lost must be exactly the writes the app dropped; how close each figure comes
to the truth is a goal for bench/truth_under_load.py, not a timed assertion here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.engine.truth_drills import busy_cores, data_drill, recovery_drill

RUNS = 2


@pytest.mark.slow
def test_every_measurement_is_made_on_a_loaded_machine(tmp_path: Path) -> None:
    with busy_cores(2):
        for run in range(RUNS):
            recovery = recovery_drill(tmp_path / f"recovery-{run}")
            assert recovery.rto_s is not None, recovery
            assert recovery.ttd_s is not None, recovery
            data = data_drill(tmp_path / f"data-{run}")
            assert data.rpo_s is not None, data.detail
            assert data.unverified == 0, data.detail
            assert data.dropped, "the fault dropped no write: the drill tested nothing"
            assert data.lost == data.dropped, (sorted(data.lost ^ data.dropped), data.detail)
