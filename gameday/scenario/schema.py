"""The JSON Schema of a scenario (``gameday schema``), for editors and linters."""

from __future__ import annotations

import json

from gameday.scenario.models import API_VERSION, Scenario

SCHEMA_ID = "https://gameday.dev/schemas/scenario-v1.json"


def scenario_schema() -> dict[str, object]:
    """The schema of a gameday/v1 scenario as the YAML is written (aliases, duration strings)."""
    schema = Scenario.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"gameday scenario ({API_VERSION})",
        **schema,
    }


def scenario_schema_text() -> str:
    """The schema as stable, indented JSON text ending in a newline."""
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"
