"""Service and operation names no request can have are refused before a drill starts: by
``validate``, and so by ``plan`` and ``run``, with file:line:col, the field and the nearest
valid names (issue 14, finding 7: the gateway refused them only at inject time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_hostile_yaml import _gameday

INVALID = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"


@pytest.mark.parametrize("command", ["validate", "plan", "run"])
@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("unknown-service.yaml",
         "11:21: faults[0].services[1]: unknown service 'dynamo' (did you mean dynamodb?)"),
        ("unknown-api-operation.yaml",
         "14:9: faults[0].operations[1]: no service of this fault (dynamodb, monitoring) has an "
         "operation 'PutItemz' (did you mean PutItem, UpdateItem or GetItem?)"),
    ],
)  # fmt: skip
def test_unknown_names_are_refused_before_anything_runs(
    command: str, fixture: str, message: str
) -> None:
    path = INVALID / fixture
    result = _gameday(command, path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[0] == f"error: {path}:{message}"
    assert "Traceback" not in result.stderr
