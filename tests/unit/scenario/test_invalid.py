"""Every invalid fixture gives its exact message at its exact line and column.

Each file in tests/fixtures/invalid/ starts with ``# expect: LINE:COL: FIELD: MESSAGE``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ExitCode, InvalidInputError, ScenarioError
from gameday.scenario.loader import find_scenario_files, load_scenario

FIXTURES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "invalid").glob("*.yaml"))


def test_there_are_fixtures() -> None:
    assert len(FIXTURES) >= 15


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_invalid_fixture_gives_its_exact_message(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems[0] == f"{path}:{expected}"
    assert caught.value.exit_code is ExitCode.INVALID_INPUT


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(
        "apiVersion: gameday/v1\n"
        "metadata: {name: many, ownr: me}\n"
        "faults:\n"
        "  - {kind: logging-loss, mode: denyed, duration: 5s}\n"
        "probes: [{name: p, kind: http, url: x}]\n"
        "objectives: [{kind: ttd, probe: p, target: 5}]\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:2:24: metadata.ownr: unknown key 'ownr' (did you mean 'owner'?); "
        "allowed keys: description, name, owner, runbook, runbook_steps, tags",
        f"{path}:4:32: faults[0].mode: unknown value 'denyed' (did you mean 'denied'?); "
        "expected one of: unavailable, throttle, internal, denied, expired-token, latency, "
        "blackhole, reset",
        f"{path}:5:37: probes[0].url: 'x' is not an absolute URL: use {{app}}/x or an absolute URL",
        f"{path}:6:44: objectives[0].target: expected a duration such as 250ms, 30s, 5m or 1h, "
        "got 5 (add a unit)",
    ]


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"apiVersion: gameday/v1\nmetadata:\n  name: caf\xe9\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [f"{path}:3:1: not UTF-8 text (byte 44)"]


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:1:1: expected a scenario (a mapping with apiVersion: gameday/v1), "
        "found an empty file"
    ]


def test_two_documents_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [
        f"{path}:2:1: invalid YAML: but found another document "
        "(expected a single document in the stream)"
    ]


def test_missing_path_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such file or folder"):
        find_scenario_files([tmp_path / "nope.yaml"])


def test_folder_without_scenarios(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"no scenario files \(\*\.yaml, \*\.yml\)"):
        find_scenario_files([tmp_path])
