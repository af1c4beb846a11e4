"""Property: whatever is done to a shipped scenario, `gameday validate` exits 0 or 2 and never
prints a traceback (types, keys, values, truncation, bytes that are not YAML)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from gameday.cli import app
from gameday.scenario.loader import find_scenario_files

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = find_scenario_files([ROOT / "scenarios"])
runner = CliRunner()

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["30s", "1h", "-5s", "us-east-1", "throttle", "demo", "0.5", "", "{app}"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    source = draw(st.sampled_from(SHIPPED)).read_bytes()
    how = draw(st.sampled_from(["value", "key", "drop", "truncate", "bytes", "splice"]))
    if how == "truncate":
        return source[: draw(st.integers(0, len(source)))]
    if how == "bytes":
        at = draw(st.integers(0, len(source)))
        return source[:at] + draw(st.binary(min_size=1, max_size=40)) + source[at:]
    if how == "splice":
        lines = source.splitlines(keepends=True)
        return b"".join(draw(st.permutations(lines))[: draw(st.integers(1, len(lines)))])
    yaml = YAML()
    tree = yaml.load(source)
    path = draw(st.sampled_from(_paths(tree)[1:]))
    parent = tree
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "value":
        parent[last] = draw(_values)
    elif how == "key" and isinstance(parent, dict):
        parent[draw(st.text(min_size=1, max_size=10))] = parent.pop(last)
    elif isinstance(parent, dict):
        parent.pop(last)
    else:
        del parent[last]
    from io import StringIO

    out = StringIO()
    yaml.dump(tree, out)
    return out.getvalue().encode()


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=mutated_documents())
def test_validate_never_crashes(tmp_path_factory: Any, document: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "scenario.yaml"
    path.write_bytes(document)
    # The runbook link is relative: give the mutant a sibling runbooks/ as the original had.
    runbooks = path.parent.parent / "runbooks"
    if not runbooks.exists():
        shutil.copytree(ROOT / "runbooks", runbooks)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 2), result.output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def test_validate_never_crashes_as_a_process(tmp_path: Path) -> None:
    """A few mutants through the real console script: exit code and stderr, end to end."""
    samples = [b"\xff\xfe\x00garbage", b"apiVersion: [", b"faults: !!python/object:os.system x"]
    script = shutil.which("gameday", path=str(Path(sys.executable).parent))
    assert script
    for index, document in enumerate(samples):
        path = tmp_path / f"m{index}.yaml"
        path.write_bytes(document)
        done = subprocess.run(
            [script, "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith(f"error: {path}:")
