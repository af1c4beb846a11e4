"""The app's role policy a scenario names (``target.role_policy``): read, checked, matched.

An IAM identity-based policy document in JSON. What is supported, and what is refused with a
message naming the file, the line of the statement and the field:

- ``Version`` (``2012-10-17`` or ``2008-10-17``), ``Id``, ``Statement`` (one or a list);
- statements with ``Sid``, ``Effect`` (Allow, Deny), ``Action`` (``*``, ``service:Name``, with
  the wildcards ``*`` and ``?``, case aside, as IAM matches them), ``Resource`` or
  ``NotResource``, ``Condition``;
- refused: ``NotAction`` (what it grants cannot be listed from the calls seen: rewrite the
  statement with ``Action``), ``Principal``/``NotPrincipal`` (a resource or trust policy, not
  a role's permissions), unknown keys, duplicate keys.

Only actions are compared: an Allow grants its actions whatever its resources and conditions;
a Deny takes actions away only when it applies to every resource (``Resource: "*"``) without
a ``Condition``; any other Deny is listed as not evaluated.

>>> policy = read_role_policy(Path("policy.json"))
>>> policy.allows("dynamodb:GetItem"), policy.denied_by("dynamodb:DeleteTable")
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from gameday.errors import ScenarioError

MAX_POLICY_BYTES = 128 * 1024
"""Far above IAM's own limits (10,240 characters of inline policy per role, 6,144 per managed
policy): a bigger file is not a role policy, and is not read."""

VERSIONS = ("2012-10-17", "2008-10-17")

_ACTION = re.compile(r"^(?:\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+)$")
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


class Effect(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class PolicyStatement:
    """One statement: its actions, and whether a Deny of it applies everywhere."""

    index: int
    line: int
    effect: Effect
    actions: tuple[str, ...]
    sid: str | None = None
    everywhere: bool = True
    """``Resource: "*"`` (or a list holding it) and no ``Condition``."""

    @property
    def label(self) -> str:
        """``Statement[1] (Sid ReadTable)``: how reports name it."""
        named = f" (Sid {self.sid})" if self.sid else ""
        return f"Statement[{self.index}]{named}"

    def names(self, action: str) -> str | None:
        """The first of this statement's actions that matches ``action``, or None."""
        return next((a for a in self.actions if action_matches(a, action)), None)


@dataclass(frozen=True, slots=True)
class RolePolicy:
    """A role policy document, as far as this module reads it."""

    path: Path
    statements: tuple[PolicyStatement, ...]

    def allows(self, action: str) -> bool:
        """Some Allow statement names ``action``."""
        return any(s.effect is Effect.ALLOW and s.names(action) for s in self.statements)

    def denied_by(self, action: str) -> PolicyStatement | None:
        """The first Deny that takes ``action`` away everywhere, or None."""
        return next(
            (
                s
                for s in self.statements
                if s.effect is Effect.DENY and s.everywhere and s.names(action)
            ),
            None,
        )

    def partial_denies(self) -> list[PolicyStatement]:
        """Deny statements scoped by resource or condition: not evaluated here."""
        return [s for s in self.statements if s.effect is Effect.DENY and not s.everywhere]


def action_matches(pattern: str, action: str) -> bool:
    """IAM's match of an action against a policy's action: ``*`` any run of characters,
    ``?`` one character, letters in any case."""
    return _pattern(pattern).fullmatch(action) is not None


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE)


class _Located(dict[str, Any]):
    """A JSON object and the line its ``{`` is on."""

    line: int = 1


# CPython's pure-Python JSON scanner takes its object parser from the decoder; the C scanner
# does not, and neither is in typeshed. Policies are small: the pure scanner costs nothing.
_json_object: Callable[..., tuple[list[tuple[str, Any]], int]] = json.decoder.JSONObject  # type: ignore[attr-defined]  # CPython's json.decoder, untyped
_py_make_scanner: Callable[[json.JSONDecoder], Any] = json.scanner.py_make_scanner  # type: ignore[attr-defined]  # CPython's json.scanner, untyped


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _LocatingDecoder(json.JSONDecoder):
    """Decodes JSON objects as ``_Located`` dicts, and refuses a key given twice."""

    def __init__(self) -> None:
        super().__init__()
        self.parse_object = self._parse_object
        self.scan_once = _py_make_scanner(self)

    @staticmethod
    def _parse_object(
        s_and_end: tuple[str, int], strict: bool, scan_once: Any, *_: Any, **__: Any
    ) -> tuple[_Located, int]:
        text, start = s_and_end
        pairs, end = _json_object(s_and_end, strict, scan_once, None, list)
        located = _Located()
        located.line = text.count("\n", 0, start) + 1
        for key, value in pairs:
            if key in located:
                raise _DuplicateKeyError(key, located.line)
            located[key] = value
        return located, end


def read_role_policy(path: Path) -> RolePolicy:
    """Read and check the policy document at ``path``; ``ScenarioError`` with every problem,
    each as ``file:line: field: message``."""
    text = _read(path)
    try:
        tree = _LocatingDecoder().decode(text)
    except json.JSONDecodeError as error:
        raise ScenarioError(
            [f"{path}:{error.lineno}:{error.colno}: not JSON: {error.msg}"]
        ) from None
    except _DuplicateKeyError as error:
        raise ScenarioError(
            [f"{path}:{error.line}: {error.key}: given twice in the same object"]
        ) from None
    except RecursionError:
        raise ScenarioError([f"{path}:1: nested too deeply to be a policy"]) from None
    problems: list[str] = []
    statements = _document(tree, path, problems)
    if problems:
        raise ScenarioError(problems)
    return RolePolicy(path=path, statements=tuple(statements))


def _read(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_POLICY_BYTES + 1)
    except OSError as error:
        raise ScenarioError([f"{path}: cannot read: {error.strerror or error}"]) from None
    if len(raw) > MAX_POLICY_BYTES:
        raise ScenarioError(
            [f"{path}: larger than {MAX_POLICY_BYTES // 1024} KiB: not a role policy"]
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ScenarioError([f"{path}:{line}: not UTF-8 text (byte {error.start})"]) from None


def _document(tree: Any, path: Path, problems: list[str]) -> list[PolicyStatement]:
    if not isinstance(tree, _Located):
        problems.append(f"{path}:1: expected a policy document (a JSON object with Statement)")
        return []
    line = tree.line
    problems += [
        f"{path}:{line}: {key}: unknown key (a policy document has {', '.join(sorted(_TOP_KEYS))})"
        for key in tree
        if key not in _TOP_KEYS
    ]
    version = tree.get("Version", VERSIONS[1])
    if version not in VERSIONS:
        problems.append(f"{path}:{line}: Version: {version!r} is not one of {', '.join(VERSIONS)}")
    raw = tree.get("Statement")
    items = [raw] if isinstance(raw, _Located) else raw
    if not isinstance(items, list) or not items:
        problems.append(f"{path}:{line}: Statement: expected a statement or a non-empty list")
        return []
    statements = []
    for index, item in enumerate(items):
        statement = _statement(item, index, path, line, problems)
        if statement is not None:
            statements.append(statement)
    return statements


def _statement(
    item: Any, index: int, path: Path, parent_line: int, problems: list[str]
) -> PolicyStatement | None:
    if not isinstance(item, _Located):
        problems.append(f"{path}:{parent_line}: Statement[{index}]: expected an object")
        return None
    where = f"{path}:{item.line}: Statement[{index}]"
    found = len(problems)
    for key in item:
        if key in ("Principal", "NotPrincipal"):
            problems.append(
                f"{where}.{key}: a role's policy names no principal (Principal belongs in a "
                "trust or resource policy)"
            )
        elif key == "NotAction":
            problems.append(
                f"{where}.NotAction: not supported: what it grants cannot be listed from the "
                "calls seen; write the statement with Action"
            )
        elif key not in _STATEMENT_KEYS:
            problems.append(f"{where}.{key}: unknown key")
    effect = item.get("Effect")
    if effect not in (Effect.ALLOW.value, Effect.DENY.value):
        problems.append(f"{where}.Effect: expected Allow or Deny, got {effect!r}")
    sid = item.get("Sid")
    if sid is not None and not isinstance(sid, str):
        problems.append(f"{where}.Sid: expected text")
    actions = _strings(item.get("Action"))
    if "Action" not in item and "NotAction" not in item:
        problems.append(f"{where}: needs Action")
    elif "Action" in item and (actions is None or not actions):
        problems.append(f"{where}.Action: expected an action or a non-empty list of them")
    for action in actions or ():
        if not _ACTION.match(action):
            problems.append(f"{where}.Action: {action!r} is not '*' or 'service:Action'")
    if "Resource" not in item and "NotResource" not in item:
        problems.append(f"{where}: needs Resource or NotResource")
    resources = _strings(item.get("Resource"))
    if "Resource" in item and resources is None:
        problems.append(f"{where}.Resource: expected a resource or a list of them")
    if "NotResource" in item and _strings(item["NotResource"]) is None:
        problems.append(f"{where}.NotResource: expected a resource or a list of them")
    if "Condition" in item and not isinstance(item["Condition"], _Located):
        problems.append(f"{where}.Condition: expected an object")
    if len(problems) > found:
        return None
    return PolicyStatement(
        index=index,
        line=item.line,
        effect=Effect(str(effect)),
        actions=tuple(actions or ()),
        sid=sid,
        everywhere="*" in (resources or ()) and "Condition" not in item,
    )


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings as a list; None for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def policy_actions(policy: RolePolicy, effect: Effect) -> Iterable[tuple[PolicyStatement, str]]:
    """Every (statement, action pattern) of the statements with ``effect``, in file order."""
    for statement in policy.statements:
        if statement.effect is effect:
            for action in statement.actions:
                yield statement, action
