"""pydantic's validation errors in the words of the person who wrote the YAML.

pydantic says what Python expected ("Input should be a valid tuple"); the author of a scenario
needs what they wrote and what to write instead ("expected a list, got text 'python app.py':
write command: [python, app.py]"). One translator per pydantic error type, each reading the
value given, the field's name and its declared bounds; a type without a translator keeps
pydantic's own message.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gameday.scenario.base import NAME_HINT
from gameday.scenario.locate import (
    Loc,
    allowed_keys,
    did_you_mean,
    field_constraints,
    locate,
    models_at,
)

_QUOTED = re.compile(r"'([^']*)'")
_PLAIN = re.compile(r"[A-Za-z0-9_./=+@%-][A-Za-z0-9_./=+@%:-]*")
"""Text that YAML reads back unquoted inside a flow list (no ': ', no flow indicators)."""
_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"

PATTERN_WORDS: Mapping[str, str] = {
    _NAME_PATTERN: f"a name of {NAME_HINT}, at most 63 characters",
    r"^[a-z][a-z0-9_]*$": "a boto3 method name in snake_case, such as create_queue",
    r"^[A-Za-z][A-Za-z0-9.]*$": "an error code such as ThrottlingException",
    r"^[A-Z][A-Za-z0-9]*$": "an API operation name in CamelCase, such as PutLogEvents",
    r"^[a-z0-9][a-z0-9-]*$": "a service name in lower case, as botocore or the SigV4 scope "
    "spells it (sts, logs, dynamodb)",
    r"^[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$": "three lower-case parts joined by ':', such as "
    "aws:ec2:stop-instances",
    r"^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$": "ALL, COUNT(n) or PERCENT(n)",
    r"^[A-Za-z0-9][A-Za-z0-9_.+=@-]{0,63}$": "a profile name: letters, digits and _.+=@-, "
    "starting with a letter or digit, at most 64 characters",
    r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/-]+$": "an IAM role ARN such as "
    "arn:aws:iam::123456789012:role/app",
    r"^arn:aws[a-z-]*:iam::\d{12}:role/.+": "an IAM role ARN such as "
    "arn:aws:iam::123456789012:role/app",
    r"^[A-Za-z0-9_+=,.@-]+$": "made of letters, digits and _+=,.@-",
    r"^[A-Za-z0-9_+=,.@:/-]+$": "made of letters, digits and _+=,.@:/-",
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": "an S3 bucket name: 3 to 63 lower-case letters, "
    "digits, '.' and '-', starting and ending with a letter or digit",
    r"^\d{12}$": "a 12-digit account id",
    r"^[A-Za-z0-9_-]{1,256}$": "an SNS topic name (not its ARN): 1 to 256 letters, digits, "
    "'_' and '-', such as demo-pager",
    r"^[A-Za-z0-9+=,.@_-]{1,64}$": "an IAM user name: 1 to 64 letters, digits and +=,.@_-",
    r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+": "a CloudWatch alarm ARN such "
    "as arn:aws:cloudwatch:us-east-1:123456789012:alarm:high-errors",
}
"""What each pattern of the scenario format means, said in words instead of the regex."""

_TEXT_OF: Mapping[str, str] = {
    "env": "environment values are strings",
    "headers": "header values are strings",
}
"""Why a mapping's values must be text, by the mapping's field name."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One pydantic error, with what a translator needs to word it."""

    kind: str
    loc: Loc
    given: Any
    ctx: Mapping[str, Any]
    model: type[BaseModel]
    message: str
    """pydantic's own message: the fallback."""

    @property
    def key(self) -> str:
        """The field's name as written in the file: ``command``, ``MAX_RETRIES``."""
        named = [p for p in self.loc if isinstance(p, str)]
        return named[-1] if named else "value"

    @property
    def parent(self) -> str | None:
        """The name of the mapping that holds this field (``env`` for an env value)."""
        named = [p for p in self.loc if isinstance(p, str)]
        return named[-2] if len(named) > 1 else None


def _yaml(value: object) -> str:
    """``value`` as it would be written in the YAML file, quoted only where it must be."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def _what(value: object) -> str:
    """How a value reads in a message: its kind, and the value when it is short."""
    if isinstance(value, bool):
        return f"{_yaml(value)} (true/false)"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else repr(value)


def _list_items(text: str) -> list[str]:
    """The items a person meant by ``a, b`` or ``python app.py``."""
    if "," in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote
        return text.split()


def _as_list(problem: Problem) -> str:
    given = problem.given
    if isinstance(given, dict):
        return f"expected a list, got a mapping; write {problem.key}: [first, second]"
    items = _list_items(given) if isinstance(given, str) else [given]
    shown = ", ".join(_yaml(item) for item in items)
    return f"expected a list, got {_what(given)}; write {problem.key}: [{shown}]"


def _as_text(problem: Problem) -> str:
    given = problem.given
    if isinstance(given, list | tuple | dict):
        return f"expected text, got {_what(given)}"
    lead = _TEXT_OF.get(problem.parent or "", f"expected text, got {_what(given)}")
    quoted = json.dumps(_yaml(given))
    if isinstance(problem.loc[-1], int):  # an item of a list
        return f"expected text, got {_what(given)}: quote it: {quoted}"
    return f"{lead}: quote it: {problem.key}: {quoted}"


def _as_mapping(problem: Problem) -> str:
    given = problem.given
    models = models_at(problem.model, problem.loc)
    keys = allowed_keys(problem.model, problem.loc)
    if not models or not keys:
        return f"expected a mapping (key: value), got {_what(given)}"
    taking = [
        name
        for m in models
        for name, field in m.model_fields.items()
        if not isinstance(given, bool | dict | list) and field.annotation is type(given)
    ]
    example = (
        f"write {problem.key}: {{{taking[0]}: {_yaml(given)}}}"
        if len(taking) == 1
        else f"write {problem.key}: {{{keys[0]}: ...}}"
    )
    return (
        f"{problem.key} takes a mapping with keys {', '.join(keys)}, not {_what(given)}; {example}"
    )


def _fraction_hint(problem: Problem, number: float, *, percent: bool) -> str | None:
    """For a field that holds a share from 0 to 1: how to write ``number``, when it reads as
    a percentage (``90%``, or a whole ``90``)."""
    bounds = field_constraints(problem.model, problem.loc)
    if bounds.get("ge") != 0 or bounds.get("le") != 1:
        return None
    if 0 <= number <= 100 and (percent or (number > 1 and number.is_integer())):
        return f"write a fraction from 0 to 1: {number / 100:g} for {number:g}%"
    return "a fraction from 0 to 1"


def _percentage(given: object) -> float | None:
    """The number in ``90%``; None for anything else."""
    if not isinstance(given, str) or not given.strip().endswith("%"):
        return None
    try:
        return float(given.strip().removesuffix("%"))
    except ValueError:
        return None


def _as_number(problem: Problem) -> str:
    given = problem.given
    expected = "a whole number" if problem.kind.startswith("int") else "a number"
    number = _percentage(given)
    if number is not None:
        hint = _fraction_hint(problem, number, percent=True)
        if hint is not None:
            return f"expected a number, got {given!r}; {hint}"
        return f"expected {expected}, got {given!r}; write it without '%': {number:g}"
    return f"expected {expected}, got {_what(given)}"


def _bound(problem: Problem) -> str:
    words = {
        "greater_than": ("gt", "above"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "below"),
        "less_than_equal": ("le", "at most"),
    }
    bound, phrase = words[problem.kind]
    message = f"must be {phrase} {_yaml(problem.ctx.get(bound))}, got {_yaml(problem.given)}"
    if isinstance(problem.given, int | float) and not isinstance(problem.given, bool):
        hint = _fraction_hint(problem, float(problem.given), percent=False)
        if hint is not None:
            return f"{message}: {hint}"
    return message


def _pattern(problem: Problem) -> str:
    pattern = str(problem.ctx.get("pattern", ""))
    words = PATTERN_WORDS.get(pattern)
    if words is None:
        return f"{problem.given!r} does not have the expected form (pattern {pattern})"
    message = f"{problem.given!r} is not {words}"
    if pattern == _NAME_PATTERN and isinstance(problem.given, str):
        fixed = re.sub(r"[^a-z0-9_.-]+", "-", problem.given.lower()).strip("-_.")[:63]
        if fixed and re.fullmatch(pattern, fixed):
            message += f": write {fixed!r}"
    return message


def _length(problem: Problem) -> str:
    least = problem.ctx.get("min_length")
    if problem.kind == "too_short":
        return f"give at least {least} item{'s' if least != 1 else ''}"
    if problem.kind == "string_too_short":
        return f"must be at least {least} characters long, got {problem.given!r}"
    return f"must be at most {problem.ctx.get('max_length')} characters long"


def _boolean(problem: Problem) -> str:
    return f"expected true or false, got {_what(problem.given)}"


def _missing(problem: Problem) -> str:
    return "required field is missing"


def _unknown_key(problem: Problem) -> str:
    keys = allowed_keys(problem.model, problem.loc[:-1])
    hint = did_you_mean(str(problem.loc[-1]), keys)
    return f"unknown key {problem.loc[-1]!r}{hint}; allowed keys: {', '.join(keys)}"


def _unknown_value(problem: Problem) -> str:
    expected = _QUOTED.findall(str(problem.ctx.get("expected", "")))
    hint = did_you_mean(str(problem.given), expected)
    return f"unknown value {problem.given!r}{hint}; expected one of: {', '.join(expected)}"


def _unknown_kind(problem: Problem) -> str:
    tags = _QUOTED.findall(str(problem.ctx.get("expected_tags", "")))
    tag = problem.ctx.get("tag")
    hint = did_you_mean(str(tag), tags)
    return f"unknown kind {tag!r}{hint}; expected one of: {', '.join(tags)}"


def _own(problem: Problem) -> str:
    # Raised by the models' own validators, already in the user's words.
    return problem.message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


TRANSLATORS: Mapping[str, Callable[[Problem], str]] = {
    "missing": _missing,
    "union_tag_not_found": _missing,
    "extra_forbidden": _unknown_key,
    "enum": _unknown_value,
    "literal_error": _unknown_value,
    "union_tag_invalid": _unknown_kind,
    "tuple_type": _as_list,
    "list_type": _as_list,
    "string_type": _as_text,
    "model_type": _as_mapping,
    "model_attributes_type": _as_mapping,
    "dict_type": _as_mapping,
    "float_parsing": _as_number,
    "float_type": _as_number,
    "int_parsing": _as_number,
    "int_type": _as_number,
    "int_from_float": _as_number,
    "greater_than": _bound,
    "greater_than_equal": _bound,
    "less_than": _bound,
    "less_than_equal": _bound,
    "string_pattern_mismatch": _pattern,
    "too_short": _length,
    "string_too_short": _length,
    "string_too_long": _length,
    "bool_type": _boolean,
    "bool_parsing": _boolean,
    "value_error": _own,
    "assertion_error": _own,
}
"""pydantic error type -> the message a person reads; others keep pydantic's."""


def describe(error: Mapping[str, Any], tree: Any, model: type[BaseModel]) -> tuple[str, str]:
    """(``LINE:COL: field.path``, message) for one pydantic error on the YAML ``tree``."""
    loc = tuple(error["loc"])
    kind, ctx = str(error["type"]), error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, str(ctx.get("discriminator", "kind")).strip("'"))
    position, path = locate(
        tree,
        loc,
        key_position=kind == "extra_forbidden",
        missing_key=kind in ("missing", "extra_forbidden", "union_tag_not_found"),
    )
    problem = Problem(kind, loc, error.get("input"), ctx, model, str(error["msg"]))
    translate = TRANSLATORS.get(kind, _own)
    return f"{position.line}:{position.column}: {path}", translate(problem)
