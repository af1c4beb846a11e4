"""What `run --parallel` refuses before anything starts (exit 2), and which drills share."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gameday.cli import app
from gameday.engine.parallel import check_parallel, default_parallel, shared_environment
from gameday.engine.plan import make_plan
from gameday.errors import InvalidInputError
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_facilitated_runs_stay_one_at_a_time() -> None:
    check_parallel(1, facilitated=True)
    check_parallel(4, facilitated=False)
    with pytest.raises(InvalidInputError) as caught:
        check_parallel(3, facilitated=True)
    assert caught.value.message == (
        "--facilitate runs one drill at a time: --parallel 3 cannot be used with it"
    )


def test_at_least_one_drill_runs() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_parallel(0, facilitated=False)
    assert caught.value.message == "--parallel 0: at least 1 drill must run at a time"


def test_the_default_is_three_per_core() -> None:
    assert [default_parallel(cpus) for cpus in (1, 2, 8)] == [4, 8, 32]


def test_only_embedded_drills_share_nothing() -> None:
    loaded = load_scenario(SCENARIOS / "identity-loss.yaml")
    assert shared_environment(make_plan(loaded)) is None
    assert shared_environment(make_plan(loaded, Environment.AWS)) == "aws"


def test_the_cli_refuses_zero() -> None:
    result = CliRunner().invoke(
        app, ["run", str(SCENARIOS / "identity-loss.yaml"), "--parallel", "0"]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--parallel' / '-j'" in result.output
