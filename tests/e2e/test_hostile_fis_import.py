"""Hostile FIS templates through the real console script: ``gameday import fis`` holds a
CloudFormation or FIS template to the bounds of scenario files (size, depth, alias expansion)
and refuses the rest with exit 2 and a located message (issue 14, "bounded input everywhere").

Before the bounds: a template nested 50,000 deep, in YAML or JSON, gave a RecursionError
traceback (exit 1), and a billion-laughs template expanded until memory was gone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_hostile_yaml import _gameday, _refused

TEMPLATE = {
    "description": "stop the API",
    "roleArn": "arn:aws:iam::123456789012:role/fis",
    "targets": {},
    "actions": {
        "throttle": {
            "actionId": "aws:fis:inject-api-throttle-error",
            "parameters": {"service": "ec2", "operations": "DescribeInstances",
                           "percentage": "50", "duration": "PT1M"},
            "targets": {"Roles": "role"},
        }
    },
    "stopConditions": [{"source": "none"}],
}  # fmt: skip


def _import(path: Path) -> tuple[int, str]:
    result = _gameday("import", "fis", path)
    return result.returncode, result.stderr


@pytest.mark.parametrize("depth", [500, 50_000])
def test_a_deep_cloudformation_yaml_template_is_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text("Resources:\n  Deep: " + "[" * depth + "]" * depth + "\n")
    first = _refused(_gameday("import", "fis", path), path, "nested more than 64 levels deep")
    assert first.startswith(f"error: {path}:2:71: YAML refused:")


@pytest.mark.parametrize(
    "body",
    ['{"Resources": ' + "[" * 50_000 + "]" * 50_000 + "}", "[" * 100_000,
     '{"a": ' * 100_000 + "1" + "}" * 100_000],
    ids=["balanced", "unbalanced", "objects"],
)  # fmt: skip
def test_a_deep_json_template_is_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "template.json"
    path.write_text(body)
    first = _refused(_gameday("import", "fis", path), path, "JSON refused")
    assert first.endswith(
        ": JSON refused: nested more than 64 levels deep (arrays and objects inside one "
        "another; an FIS template needs about eight): flatten it"
    )
    sixty_fifth = [i for i, c in enumerate(body[:1000]) if c in "[{"][64]
    column = sixty_fifth + 1
    assert first.startswith(f"error: {path}:1:{column}: ")


def test_a_billion_laughs_template_is_refused_quickly(tmp_path: Path) -> None:
    text = "Resources:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        text += f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    # _gameday's timeout is the "quickly": unbounded, this expands to 10^9 nodes.
    first = _refused(_gameday("import", "fis", path), path, "aliases expand the document")
    assert first.startswith(f"error: {path}:5:")


def test_an_oversized_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({**TEMPLATE, "description": "x" * (1024 * 1024)}))
    _refused(_gameday("import", "fis", path), path, "over the 1 MiB limit")


def test_a_template_within_the_bounds_still_imports(tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(TEMPLATE, indent=2))
    result = _gameday("import", "fis", path)
    assert result.returncode == 0, result.stderr
    assert "kind: api-fault" in result.stdout
