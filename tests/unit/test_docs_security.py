"""docs/security.md (and the limits of docs/scenario.md) against the code they describe: the
isolation allow-list and what gameday sets, the redaction rules, every quoted limit and
default, abort's trust rule. A doc that drifts from the code fails here (issue 14)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from gameday.environments import isolation
from gameday.environments.isolation import isolate
from gameday.environments.workdir import untrusted
from gameday.gateway.guard import ServerLimits
from gameday.redact import (
    _COLON_NAMES,
    _HARMLESS_HEADERS,
    _SECRET_NAME,
    _WHOLE_LINE_HEADERS,
    secret_name,
)
from gameday.reports.egress import EGRESS_HEADING
from gameday.reports.plan import RUNNER_NOTE
from gameday.scenario import durations, yaml_bounds
from gameday.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SECURITY = ROOT / "docs" / "security.md"
SCENARIO = ROOT / "docs" / "scenario.md"

_TICKED = re.compile(r"`([^`]+)`")
_REFERENCE = re.compile(r"`(gameday(?:\.\w+)+(?:\(\w+\))?)`")
_UNITS = {"KiB": 1024.0, "MiB": 1024.0 * 1024.0, "ms": 0.001, "s": 1.0}


@pytest.fixture(scope="module")
def security() -> str:
    return SECURITY.read_text()


def _paragraph(text: str, start: str) -> str:
    """The paragraph (or list item) of ``text`` that begins with ``start``."""
    at = text.index(start)
    ends = [i for i in (text.find("\n\n", at), text.find("\n1", at + 1)) if i > 0]
    item = re.search(r"\n\d+\. ", text[at + 1 :])
    if item:
        ends.append(at + 1 + item.start())
    return text[at : min(ends, default=len(text))]


def _flat(text: str) -> str:
    """``text`` with its line breaks and runs of spaces as single spaces (as it reads)."""
    return " ".join(text.split())


def _ticked(text: str) -> set[str]:
    return set(_TICKED.findall(text))


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after ``heading``, header row excluded."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_allow_list_is_the_code_s(security: str) -> None:
    shown = _ticked(_paragraph(security, "Passed on from the runner as they are"))
    allowed = set(isolation.ALLOWED_NAMES) | {f"{p}*" for p in isolation.ALLOWED_PREFIXES}
    assert shown - {"PYTHONPATH", "PYTHONUTF8"} == allowed


def test_variables_gameday_sets_are_the_code_s(security: str, tmp_path: Path) -> None:
    """The environment a real isolation gives the app: every variable it adds to the
    allow-listed ones is in the table, and the table claims no other."""
    scenario = load_scenario(ROOT / "scenarios" / "identity-loss.yaml").scenario
    with ExitStack() as stack:
        isolated = isolate(
            scenario,
            tmp_path,
            endpoint_url="http://127.0.0.1:9",
            stack=stack,
            now=time.monotonic,
            environ={"PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "runner-secret"},
        )
        env = isolated.app_environment(alert_url="http://127.0.0.1:9/alert")
        probe_env = isolated.probe_environment()
    added = set(env) - set(isolated.base)
    documented = set()
    for first, *_ in _table(security, "Set by gameday:"):
        names = _ticked(first)
        if "lower-case" in first:
            names |= {name.lower() for name in names}
        documented |= names
    assert documented == added
    assert "AWS_SECRET_ACCESS_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in probe_env
    assert f"`{isolation.LOOPBACK}`" in _flat(security)
    # The files, as the doc shows them.
    config = isolated.config_file.read_text()
    assert "[default]" in config and "endpoint_url = http://127.0.0.1:9" in config
    assert isolated.credentials_file.stat().st_mode & 0o777 == 0o600
    assert isolated.config_file.parent.stat().st_mode & 0o777 == 0o700
    assert "(mode 0600)" in security and "`.aws` is mode 0700" in _flat(security)


def test_plan_and_report_words_are_the_code_s(security: str) -> None:
    assert f"`{RUNNER_NOTE}`" in _flat(security)
    assert f"`{RUNNER_NOTE}`" in _flat(SCENARIO.read_text())
    assert f'"{EGRESS_HEADING}"' in _flat(security)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regular expression."""
    parts, depth, current = [], 0, ""
    for char in pattern:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


NOT_SECRET = {"author", "authors", "authority", "authorities", "key", "X-Amz-Date"}
"""Names the doc says are not credentials."""


def test_credential_name_classes_are_the_code_s(security: str) -> None:
    paragraph = _paragraph(security, "A name says it is a credential when")
    words = {w for w in _ticked(paragraph) if len(w) > 1 and w != "keys"}
    assert words >= NOT_SECRET
    for word in NOT_SECRET:
        assert not secret_name(word), f"the doc says {word!r} is no credential name"
    named = words - NOT_SECRET
    for word in named:
        # A word is a name class itself, or one of the prefixes of `<prefix>key`.
        assert secret_name(word) or secret_name(f"{word}_key"), f"{word!r} is no class"
    for alternative in _alternatives(_SECRET_NAME.pattern):
        assert any(
            re.search(alternative, name, re.IGNORECASE)
            for word in named
            for name in (word, f"{word}_key")
        ), f"no word of the doc is of the code's class {alternative!r}"
    prefixes = re.search(r"\(\?:([a-z|]+)\)\[-_\]\?keys\?", _SECRET_NAME.pattern)
    assert prefixes and set(prefixes.group(1).split("|")) <= words


def test_redaction_rules_are_the_code_s(security: str) -> None:
    names = _paragraph(security, "2. **Values of names")
    assert set(_COLON_NAMES) <= _ticked(names)
    headers = _paragraph(security, "3. **Header values**")
    lowered = {word.lower() for word in _ticked(headers)}
    assert set(_WHOLE_LINE_HEADERS) | set(_HARMLESS_HEADERS) <= lowered
    known = _paragraph(security, "1. **Known secrets")
    assert {"_FILE", "_PATH", "_DIR", "_SOCK"} <= _ticked(known)


def _resolve(reference: str) -> Any:
    """``module.NAME``, ``module.Class.field`` (a dataclass default) or ``module.f(param)``
    (a parameter's default) to its value."""
    reference, _, param = reference.partition("(")
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if dataclasses.is_dataclass(found) and isinstance(found, type):
                defaults = {f.name: f.default for f in dataclasses.fields(found)}
                found = defaults[name]
            else:
                found = getattr(found, name)
        break
    if param:
        found = inspect.signature(found).parameters[param.rstrip(")")].default
    if isinstance(found, durations.Floor):
        return found.seconds
    return found


def _value(cell: str) -> object:
    """A table cell as a value: a `quoted` string, or a number with its unit applied."""
    quoted = _TICKED.fullmatch(cell)
    if quoted:
        return quoted.group(1)
    number = re.match(r"([\d,]+(?:\.\d+)?)\s*(KiB|MiB|ms|s)?(?![A-Za-z])", cell)
    assert number, f"no number in {cell!r}"
    return float(number.group(1).replace(",", "")) * _UNITS.get(number.group(2) or "", 1.0)


def _limits(text: str) -> dict[str, object]:
    """reference -> the value its row quotes, for every table row naming a constant."""
    quoted = {}
    for line in text.splitlines():
        found = _REFERENCE.search(line) if line.startswith("|") else None
        if found:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            quoted[found.group(1)] = _value(cells[1])
    return quoted


REQUIRED = {
    "gameday.scenario.yaml_bounds.MAX_BYTES",
    "gameday.scenario.yaml_bounds.MAX_DEPTH",
    "gameday.scenario.yaml_bounds.MAX_ALIAS_NODES",
    "gameday.scenario.durations.MAX_SAMPLES_PER_PROBE",
    "gameday.gateway.admin.MAX_ADMIN_BODY",
    "gameday.gateway.admin.MAX_JSON_DEPTH",
    "gameday.gateway.store.MAX_FAULTS",
    "gameday.environments.egress.HEAD_LIMIT_BYTES",
    "gameday.environments.egress.HEAD_TIMEOUT_S",
    "gameday.environments.egress.MAX_CONNECTIONS",
    "gameday.environments.egress.MAX_TARGETS",
    "gameday.facilitation.marks_api.MAX_BODY_BYTES",
    "gameday.redact.MIN_ENV_SECRET_LEN",
    "gameday.redact.MIN_KNOWN_SECRET_LEN",
    "gameday.gateway.server.DEFAULT_LISTEN",
    "gameday.gateway.server.TOKEN_ENV",
    "gameday.schedule.serve.TOKEN_ENV",
    *(f"gameday.gateway.guard.ServerLimits.{f.name}" for f in dataclasses.fields(ServerLimits)),
}


def test_every_limit_quoted_in_security_md_is_the_code_s(security: str) -> None:
    quoted = _limits(security)
    assert set(quoted) >= REQUIRED, f"not in docs/security.md: {REQUIRED - set(quoted)}"
    wrong = {ref: (shown, _resolve(ref)) for ref, shown in quoted.items()}
    wrong = {ref: pair for ref, pair in wrong.items() if pair[0] != pair[1]}
    assert wrong == {}, "docs/security.md quotes (doc, code): " + repr(wrong)


def test_duration_floors_in_scenario_md_are_the_code_s() -> None:
    text = SCENARIO.read_text()
    quoted = _limits(text)
    floors = {
        f"gameday.scenario.durations.{name}"
        for name, value in vars(durations).items()
        if isinstance(value, durations.Floor)
    }
    assert len(floors) == len(durations.FLOORS)
    assert floors <= set(quoted), f"not in docs/scenario.md: {floors - set(quoted)}"
    for reference in floors:
        assert quoted[reference] == pytest.approx(_resolve(reference)), reference
        # The floor as the error message writes it.
        assert f"| {durations.format_duration(float(_resolve(reference)))} |" in text
    flat = _flat(text)
    assert f"over {yaml_bounds.MAX_BYTES // (1024 * 1024)} MiB" in flat
    assert f"more than {yaml_bounds.MAX_DEPTH} levels" in flat
    assert f"more than {yaml_bounds.MAX_ALIAS_NODES:,} nodes" in flat


def test_abort_trust_rule_says_what_abort_says(security: str, tmp_path: Path) -> None:
    folder = tmp_path / "gameday-run-1-x"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    why = untrusted(folder, folder=True)
    assert why == "has mode 0755, not 0700"
    assert f"`{why}`" in _flat(security)
    folder.chmod(0o700)
    assert untrusted(folder, folder=True) is None


def test_docs_link_to_security_md() -> None:
    for doc in (ROOT / "README.md", ROOT / "docs" / "gateway.md"):
        assert re.search(r"\]\((docs/)?security\.md\)", doc.read_text()), doc
