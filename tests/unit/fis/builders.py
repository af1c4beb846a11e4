"""Scenarios and environment files for the fis tests, built from YAML text as users write it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gameday.fis.aws_config import AwsEnvironment
from gameday.scenario.loader import LoadedScenario, parse_scenario
from tests.unit.fis.models import load_with_fis_actions

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/gameday-fis"
ALARM = f"arn:aws:cloudwatch:us-west-2:{ACCOUNT}:alarm:api-5xx"
APP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/orders-app"

_TAIL = """
probes:
  - {name: api, kind: http, url: "{app}/health", interval: 1s}
objectives:
  - {kind: steady, probe: api}
  - {kind: rto, probe: api, target: 30s}
"""


def scenario(
    faults: str,
    *,
    regions: str = "[us-east-1, us-west-2]",
    name: str = "drill",
    observe: str = "15m",
    max_duration: str = "20m",
) -> LoadedScenario:
    """A scenario with ``faults`` (YAML list text), one probe and two objectives."""
    text = (
        f"apiVersion: gameday/v1\nmetadata: {{name: {name}}}\n"
        f"target: {{regions: {regions}}}\nfaults:\n{textwrap.indent(textwrap.dedent(faults), '  ')}"
        + _TAIL
        + f"guardrails: {{max_duration: {max_duration}}}\nobserve: {{max: {observe}}}\n"
    )
    path = Path(f"/scenarios/{name}.yaml")
    if "fis-action" in faults:
        return load_with_fis_actions(path, text)
    return LoadedScenario(path, parse_scenario(path, text))


def environment(extra: str = "", **fields: Any) -> AwsEnvironment:
    """An environment file in us-west-2 with the safety settings; ``extra`` is more YAML."""
    base: dict[str, Any] = {
        "apiVersion": "gameday/v1",
        "kind": "AwsEnvironment",
        "accounts": [ACCOUNT],
        "region": "us-west-2",
        "role_arn": ROLE,
        "stop_conditions": [ALARM],
    }
    if extra:
        base |= YAML(typ="safe").load(textwrap.dedent(extra))
    base |= fields
    return AwsEnvironment.model_validate(base)
