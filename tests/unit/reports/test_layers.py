"""Reports and history see results only (STYLE.md section 1): neither imports the other, and
reports import nothing that runs a drill. Read from the source, so a lazy import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "gameday"

FORBIDDEN = {
    "history": {"reports", "engine", "environments", "injectors", "probes", "facilitation",
                "fis", "gateway", "schedule", "cli", "metrics"},
    "reports": {"history", "engine", "environments", "injectors", "probes", "facilitation",
                "fis", "gateway", "schedule", "cli", "metrics"},
}  # fmt: skip


def _imported(package: str) -> dict[str, set[str]]:
    """Each module of ``gameday.<package>`` -> the gameday packages it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            names |= {m.split(".")[1] for m in modules if m.startswith("gameday.")}
        found[path.relative_to(PACKAGE).as_posix()] = names
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_imports_no_forbidden_layer(package: str) -> None:
    crossing = {
        module: sorted(names & FORBIDDEN[package])
        for module, names in _imported(package).items()
        if names & FORBIDDEN[package]
    }
    assert crossing == {}


def test_metrics_live_with_the_other_renderers() -> None:
    assert not (PACKAGE / "metrics.py").exists()
    assert not (PACKAGE / "history" / "table.py").exists()
    assert not (PACKAGE / "schedule" / "skips.py").exists()
