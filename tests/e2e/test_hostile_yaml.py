"""Hostile YAML through the real console script (issue 14, findings 4 and 11): each is refused
with exit 2 and a located message, never a traceback (exit 1) or a crash (exit 139).

Before the bounds: depth 500 gave a RecursionError traceback, depth 50,000 a segmentation
fault, a billion-laughs document ran until memory was gone, and `interval: 0.001ms` passed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "scenarios" / "identity-loss.yaml"
# Generous: each case takes well under a second; only a hang or an expansion gets near it.
TIMEOUT_S = 30


def _gameday(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert script, "the gameday console script is not installed next to this Python"
    return subprocess.run(
        [script, *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def _refused(result: subprocess.CompletedProcess[str], path: Path, message: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr + result.stdout
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {path}:")
    assert message in first
    return first


def _deep(style: str, depth: int) -> str:
    head = "apiVersion: gameday/v1\nmetadata:\n  name: deep\n"
    if style == "flow":
        return head + "probes: " + "[" * depth + "]" * depth + "\n"
    return head + "probes:\n  " + "- " * depth + "x\n"


@pytest.mark.parametrize("style", ["flow", "block"])
@pytest.mark.parametrize("depth", [500, 50_000])
def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path, style: str, depth: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(_deep(style, depth))
    first = _refused(_gameday("validate", path), path, "nested more than 64 levels deep")
    assert first.startswith(f"error: {path}:{4 if style == 'flow' else 5}:")


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    text = "apiVersion: gameday/v1\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in range(1, 10):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n"
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    # The timeout of _gameday is the "quickly": before the bound this ran for a minute.
    first = _refused(_gameday("validate", path), path, "aliases expand the document")
    assert first.startswith(f"error: {path}:5:")


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(SHIPPED.read_bytes() + b"# padding\n" * 110_000)
    result = _gameday("validate", path)
    _refused(result, path, "over the 1 MiB limit on a YAML file")


def test_a_tiny_interval_is_refused_with_its_place(tmp_path: Path) -> None:
    text = SHIPPED.read_text()
    assert "    interval: 1s\n" in text
    path = tmp_path / "tiny.yaml"
    path.write_text(text.replace("    interval: 1s\n", "    interval: 0.001ms\n", 1))
    line = text.splitlines().index("    interval: 1s") + 1
    first = _refused(_gameday("validate", path), path, "0.001ms is below the 10ms floor")
    assert first.startswith(f"error: {path}:{line}:15: probes[")
    # plan shares the loader: the same refusal, before any planning.
    _refused(_gameday("plan", path), path, "0.001ms is below the 10ms floor")


@pytest.mark.parametrize("command", ["plan", "run"])
def test_plan_and_run_refuse_the_same_way(tmp_path: Path, command: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(_deep("flow", 50_000))
    _refused(_gameday(command, path), path, "nested more than 64 levels deep")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tags: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested more than 64 levels deep"),
        ("tags: &t {a: *t}\n", "inside the anchor &t it repeats"),
    ],
    ids=["deep", "loop"],
)
def test_the_aws_environment_file_has_the_same_bounds(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "env.yaml"
    path.write_text("apiVersion: gameday/v1\nkind: AwsEnvironment\n" + body)
    result = _gameday("plan", "--env", "aws", "--aws-config", path, SHIPPED)
    _refused(result, path, message)
