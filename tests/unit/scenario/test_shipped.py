"""Every shipped scenario validates, round-trips through the models, and matches the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gameday.scenario.loader import find_scenario_files, load_scenario
from gameday.scenario.models import Scenario
from gameday.scenario.schema import scenario_schema, scenario_schema_text

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = find_scenario_files([ROOT / "scenarios"])  # skips aws.example.yaml (an env file)
EXPECTED = {
    "alert-path-loss.yaml",
    "automation-under-outage.yaml",
    "break-glass.yaml",
    "control-plane-outage.yaml",
    "identity-loss.yaml",
    "logging-loss.yaml",
    "region-loss.yaml",
    "registry-loss.yaml",
}


def test_the_shipped_drills_ship() -> None:
    assert {p.name for p in SHIPPED} >= EXPECTED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_round_trips(path: Path) -> None:
    scenario = load_scenario(path).scenario
    dumped = scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert Scenario.model_validate(dumped) == scenario
    full = scenario.model_dump(mode="json", by_alias=True)
    assert Scenario.model_validate(full) == scenario


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_matches_json_schema(path: Path) -> None:
    from ruamel.yaml import YAML

    document = json.loads(json.dumps(YAML(typ="safe").load(path.read_text()), default=str))
    jsonschema.validate(document, scenario_schema())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_links_an_existing_runbook(path: Path) -> None:
    scenario = load_scenario(path).scenario
    assert scenario.metadata.runbook is not None
    runbook = (path.parent / scenario.metadata.runbook).resolve()
    assert runbook.is_file()
    assert "## Mitigate" in runbook.read_text()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_declares_the_schema_for_editors(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../docs/scenario.schema.json"


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "docs" / "scenario.schema.json").read_text()
    assert committed == scenario_schema_text(), (
        "run: gameday schema --out docs/scenario.schema.json"
    )


def test_schema_rejects_what_the_models_reject() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"apiVersion": "gameday/v1", "metadata": {"name": "x"}, "bogus": 1}, scenario_schema()
        )


def test_suite_fits_in_a_few_minutes() -> None:
    total = sum(load_scenario(p).scenario.observe.max for p in SHIPPED)
    assert total <= 6 * 60


def test_folder_search_is_recursive_sorted_and_skips_other_kinds(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("apiVersion: gameday/v1\n")
    (tmp_path / "one.yaml").write_text("apiVersion: gameday/v1\n")
    (tmp_path / "env.yaml").write_text("apiVersion: gameday/v1\nkind: AwsEnvironment\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("a: 1\n")
    (tmp_path / "notes.txt").write_text("x")
    found = find_scenario_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["b/two.yml", "one.yaml"]
