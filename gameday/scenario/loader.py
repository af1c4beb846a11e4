"""Load scenario files: YAML 1.2 with line numbers, then the models, then the cross-checks.

Every problem is reported as ``path:LINE:COL: field.path: message``, all of a file's problems
at once, so a person fixes a file in one pass. YAML 1.2 (ruamel.yaml) rather than PyYAML's 1.1:
in 1.1 ``no``, ``on`` and ``off`` are booleans, a classic trap in hand-written config.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.checks import cross_check
from gameday.scenario.locate import Loc, locate
from gameday.scenario.messages import describe
from gameday.scenario.models import API_VERSION, Scenario
from gameday.scenario.yaml_bounds import MAX_BYTES, check_yaml_bounds, read_bounded

SCENARIO_SUFFIXES = (".yaml", ".yml")


def _kind_of(node: Any) -> str:
    if isinstance(node, list):
        return "a list"
    if isinstance(node, str):
        return "text"
    return "a single value"


@dataclass(frozen=True)
class LoadedScenario:
    """A valid scenario and the file it came from."""

    path: Path
    scenario: Scenario

    @property
    def base_dir(self) -> Path:
        """Relative paths in the scenario (its runbook) resolve against this folder."""
        return self.path.parent


def _yaml_problem(path: Path, error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"{path}:{line}:{col}: invalid YAML: {detail}"


def _read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; refused past ``MAX_BYTES`` (gameday.scenario.yaml_bounds)."""
    raw = read_bounded(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError([f"{path}:{line}:1: not UTF-8 text (byte {error.start})"]) from None


def _parse_yaml(path: Path, text: str, *, positions: bool) -> Any:
    """Parse YAML 1.2. Without ``positions``: the fast C-backed safe loader, plain values.
    With: the round-trip loader, whose nodes know their line and column (about 8x slower).

    Either way, the text is first held to the bounds of ``check_yaml_bounds`` (size, depth,
    alias expansion): the composers recurse once per level and expand every alias.
    """
    # Lazy: ruamel.yaml takes ~15 ms to import, and `gameday abort` imports this module
    # (environments -> fis.aws_config) without parsing anything.
    from ruamel.yaml import YAML  # noqa: PLC0415
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    check_yaml_bounds(path, text)
    try:
        if positions:
            return YAML(typ="rt", pure=True).load(text)
        return YAML(typ="safe").load(text)
    except (YAMLError, RecursionError, ValueError, ArithmeticError) as error:
        if not positions:
            # The pure parser words its errors better and places them as the editor does.
            return _parse_yaml(path, text, positions=True)
        raise ScenarioError([_yaml_problem(path, error)]) from None


def _plain(node: Any) -> Any:
    """ruamel's round-trip nodes as plain dicts, lists and scalars, for pydantic.

    Recursive, which is safe only because ``_parse_yaml`` bounded the depth with aliases
    expanded (and refused an alias inside its own anchor, which would never end).
    """
    if isinstance(node, dict):
        return {str(key) if not isinstance(key, str) else key: _plain(v) for key, v in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, date):
        # YAML resolves 2021-12-07 to a date; every date-like field here is text.
        return node.isoformat()
    for kind in (str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


def _shape_problem(path: Path, tree: Any) -> str | None:
    if isinstance(tree, dict):
        return None
    found = "an empty file" if tree is None else _kind_of(tree)
    return (
        f"{path}:1:1: expected a scenario (a mapping with apiVersion: {API_VERSION}), found {found}"
    )


def _model_problems(path: Path, error: ValidationError, tree: Any) -> list[str]:
    problems = []
    errors = error.errors(include_url=False)
    failed = [tuple(e["loc"]) for e in errors if e["type"] != "too_short"]
    for item in errors:
        loc = tuple(item["loc"])
        if item["type"] == "too_short" and any(f[: len(loc)] == loc for f in failed):
            continue  # pydantic counts only the valid items; the failed ones are reported
        where, message = describe(item, tree, Scenario)
        problems.append(f"{path}:{where}: {message}")
    return _unique(problems)


def parse_scenario(path: Path, text: str) -> Scenario:
    """Validate YAML text against the models and the cross-checks; raise with every problem.

    Valid files (the common case) are parsed once, fast; a file with problems is parsed again
    with positions, so that each problem names its line and column.
    """
    tree = _parse_yaml(path, text, positions=False)
    shape = _shape_problem(path, tree)
    if shape is not None:
        raise ScenarioError([shape])
    try:
        scenario = Scenario.model_validate(_plain(tree))
    except ValidationError as error:
        located = _parse_yaml(path, text, positions=True)
        raise ScenarioError(_model_problems(path, error, located)) from None
    issues = cross_check(scenario, path.parent)
    if issues:
        located = _parse_yaml(path, text, positions=True)
        problems = []
        for issue in issues:
            position, field = locate(located, issue.loc)
            problems.append(f"{path}:{position.line}:{position.column}: {field}: {issue.message}")
        raise ScenarioError(problems)
    return scenario


def locate_fields(path: Path, locs: Sequence[Loc]) -> list[str]:
    """``path:LINE:COL: field`` for each field path of the scenario file ``path``, which is
    read again (a ``LoadedScenario`` keeps no positions); ``path: field`` for each when the
    file can no longer be read or parsed."""
    try:
        located = _parse_yaml(path, _read_text(path), positions=True)
    except (OSError, InvalidInputError):
        return [f"{path}: {_dotted(loc)}" for loc in locs]
    places = []
    for loc in locs:
        position, field = locate(located, loc)
        places.append(f"{path}:{position.line}:{position.column}: {field}")
    return places


def _dotted(loc: Loc) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)[1:]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def load_scenario(path: Path) -> LoadedScenario:
    """Read and validate one scenario file."""
    return LoadedScenario(path=path, scenario=parse_scenario(path, _read_text(path)))


def find_scenario_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and folders searched recursively for ``*.yaml``/``*.yml`` (sorted).

    Hidden files and folders are skipped, and so are YAML documents of another ``kind``.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            matches = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SCENARIO_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            found.extend(p for p in matches if _looks_like_scenario(p))
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInputError(
                f"{path}: no such file or folder", hint="give scenario files or folders of them"
            )
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise InvalidInputError(f"no scenario files (*.yaml, *.yml) in {shown}")
    return list(dict.fromkeys(found))


def _looks_like_scenario(path: Path) -> bool:
    """Cheap test, without a full parse, that a file in a folder is not another document kind."""
    try:
        with path.open("rb") as stream:  # a huge file is refused when it is loaded
            head = stream.read(MAX_BYTES + 1).decode("utf-8", errors="replace")
    except OSError:
        return True
    for line in head.splitlines():
        if line.startswith("kind:"):
            return line.split(":", 1)[1].split("#")[0].strip().strip("'\"") == "Scenario"
    return True


@dataclass(frozen=True)
class FileVerdict:
    """The outcome of validating one file: a scenario, or the problems that stop it."""

    path: Path
    loaded: LoadedScenario | None
    problems: list[str]


def validate_files(paths: Sequence[Path]) -> list[FileVerdict]:
    """Validate every scenario file under ``paths``; one bad file does not hide the others."""
    verdicts: list[FileVerdict] = []
    for path in find_scenario_files(paths):
        try:
            verdicts.append(FileVerdict(path, load_scenario(path), []))
        except ScenarioError as error:
            verdicts.append(FileVerdict(path, None, error.problems))
        except InvalidInputError as error:
            verdicts.append(FileVerdict(path, None, [error.message]))
    return verdicts
