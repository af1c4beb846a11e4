"""Load scenario text exactly as ``gameday validate`` does (models, then cross-checks)."""

from __future__ import annotations

from pathlib import Path

from gameday.scenario.loader import LoadedScenario, parse_scenario


def load_with_fis_actions(path: Path, text: str) -> LoadedScenario:
    """Validate scenario text through the real loader; fis-action is one of its fault kinds."""
    return LoadedScenario(path=path, scenario=parse_scenario(path, text))
