"""Map a field path (pydantic's error ``loc``) back to a line and column of the YAML file."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """1-based line and column, as editors and compilers print them."""

    line: int
    column: int


def _node_position(node: Any) -> Position:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return Position(1, 1)
    return Position(lc.line + 1, lc.col + 1)


def locate(
    root: Any, loc: Loc, *, key_position: bool = False, missing_key: bool = False
) -> tuple[Position, str]:
    """The position of ``loc`` in the YAML tree and its display path, e.g. ``faults[0].mode``.

    Parts of ``loc`` that are not in the tree (pydantic's union tags, or a missing key) are
    left out of the walk; with ``missing_key`` the last part is named in the path anyway, at
    its parent's place.
    """
    node, position, path = root, _node_position(root), ""
    tagged: Any = None
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if not last and isinstance(node, dict) and node is not tagged and part == node.get("kind"):
            # pydantic's union tag, which a key may share (a command probe's `command`):
            # the tag comes first, once per mapping, never last, and is not a step into the
            # file.
            tagged = node
            continue
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            lc = getattr(node, "lc", None)
            line, col = lc.item(part) if lc is not None else (position.line - 1, 0)
            position, node, path = Position(line + 1, col + 1), node[part], f"{path}[{part}]"
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            lc = getattr(node, "lc", None)
            if lc is None:
                where = (position.line - 1, position.column - 1)
            else:
                where = lc.key(part) if (last and key_position) else lc.value(part)
            position, node = Position(where[0] + 1, where[1] + 1), node[part]
            path = f"{path}.{part}" if path else part
        elif missing_key and last and isinstance(part, str) and isinstance(node, dict):
            path = f"{path}.{part}" if path else part
    return position, path or "(top level)"


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Annotated, Optional and unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _step(candidates: list[Any], part: str | int) -> list[Any]:
    found: list[Any] = []
    for candidate in candidates:
        origin = get_origin(candidate)
        if isinstance(part, int) and origin in (tuple, list):
            found.extend(_unwrap(get_args(candidate)[0]))
        elif isinstance(part, str) and origin is dict:
            found.extend(_unwrap(get_args(candidate)[1]))
        elif (
            isinstance(part, str)
            and isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
        ):
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    found.extend(_unwrap(field.annotation))
    if not found and isinstance(part, str):
        # A union tag: a class name (callable discriminators), or a value of a member's `kind`.
        found = [c for c in candidates if getattr(c, "__name__", None) == part]
        for candidate in [] if found else candidates:
            fields = getattr(candidate, "model_fields", {})
            kind = fields.get("kind")
            if kind is not None and part in {str(a) for a in get_args(kind.annotation)}:
                found.append(candidate)
    return found or candidates


def models_at(model: type[BaseModel], loc: Loc) -> list[type[BaseModel]]:
    """The models that may stand at ``loc`` (several where a union is not yet decided)."""
    candidates: list[Any] = [model]
    for part in loc:
        candidates = _step(candidates, part)
    return [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model at ``loc`` accepts (for "did you mean ..." on an unknown key)."""
    keys = [f.alias or n for m in models_at(model, loc) for n, f in m.model_fields.items()]
    return sorted(set(keys))


def _annotated_metadata(annotation: Any) -> list[Any]:
    """Constraints carried by ``Annotated`` types inside ``annotation`` (Optional included)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        found = [m for item in extra for m in getattr(item, "metadata", [item])]
        return found + _annotated_metadata(inner)
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _annotated_metadata(arg)]
    return []


def field_constraints(model: type[BaseModel], loc: Loc) -> dict[str, Any]:
    """The bounds declared on the field at ``loc`` (``ge``, ``le``, ``gt``, ``lt``), from
    ``Field(...)`` or an ``Annotated`` alias such as ``Probability``."""
    if not loc or not isinstance(loc[-1], str):
        return {}
    found: dict[str, Any] = {}
    for candidate in models_at(model, loc[:-1]):
        for name, field in candidate.model_fields.items():
            if loc[-1] not in (name, field.alias):
                continue
            for item in [*field.metadata, *_annotated_metadata(field.annotation)]:
                for bound in ("ge", "le", "gt", "lt"):
                    if getattr(item, bound, None) is not None:
                        found[bound] = getattr(item, bound)
    return found


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` when one choice is close to ``word``, else the empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
