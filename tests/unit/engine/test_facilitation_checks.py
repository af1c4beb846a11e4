"""What `run --facilitate` refuses before anything starts (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.engine.plan import make_plan
from gameday.errors import InvalidInputError
from gameday.facilitation.rules import check_facilitation
from gameday.facilitation.session import FacilitationOptions
from gameday.faults.plan import Plan
from gameday.scenario.loader import load_scenario
from gameday.scenario.models import Environment

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def _plan(name: str, environment: Environment | None = None) -> Plan:
    return make_plan(load_scenario(SCENARIOS / name), environment)


def test_one_scenario_at_a_time() -> None:
    plans = [_plan("identity-loss.yaml"), _plan("logging-loss.yaml")]
    with pytest.raises(InvalidInputError) as caught:
        check_facilitation(plans, FacilitationOptions(author="alice"))
    assert caught.value.message == (
        "--facilitate runs one scenario at a time; 2 were given (identity-loss, logging-loss)"
    )


def test_hold_is_refused_on_a_real_account() -> None:
    plans = [_plan("identity-loss.yaml", Environment.AWS)]
    check_facilitation(plans, FacilitationOptions(author="alice"))  # marks alone are fine
    with pytest.raises(InvalidInputError) as caught:
        check_facilitation(plans, FacilitationOptions(author="alice", hold=True))
    assert caught.value.message == (
        "--hold cannot hold faults on a real account: FIS actions run for the durations in "
        "their template"
    )


def test_hold_needs_room_under_max_duration(tmp_path: Path) -> None:
    text = (SCENARIOS / "identity-loss.yaml").read_text()
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        text.replace("max_duration: 2m", "max_duration: 45s").replace(
            "../runbooks/", str(SCENARIOS.parent / "runbooks") + "/"
        )
    )
    plan = make_plan(load_scenario(tight))
    with pytest.raises(InvalidInputError) as caught:
        check_facilitation([plan], FacilitationOptions(author="alice", hold=True))
    assert caught.value.message == (
        "--hold: identity-loss: guardrails.max_duration (45s) leaves no time to hold the "
        "faults beyond their planned end (25s) and the 20s observed after them"
    )
    check_facilitation([_plan("identity-loss.yaml")], FacilitationOptions(hold=True))
