"""Read an FIS experiment template from JSON or YAML, or from a CloudFormation template.

A CloudFormation ``AWS::FIS::ExperimentTemplate`` resource has the API's fields in PascalCase
(``ActionId``, ``ResourceTags``...) and may use intrinsic functions. ``!Ref`` and ``!Sub`` of
a template parameter take its ``Default``; pseudo parameters (``AWS::Region``), parameters
without a default and ``!GetAtt`` stay as written (``${AWS::Region}``, ``${FISRole.Arn}``) and
are reported, so that a person fills them in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gameday.errors import InvalidInputError, ScenarioError
from gameday.scenario.json_bounds import check_json_depth
from gameday.scenario.loader import _read_text
from gameday.scenario.yaml_bounds import MAX_DEPTH, check_yaml_bounds

FIS_RESOURCE = "AWS::FIS::ExperimentTemplate"
_REFERENCE = re.compile(r"\$\{([^}!]+)\}")


@dataclass
class RawTemplate:
    """An experiment template in the API's shape (camelCase), with what could not be resolved."""

    body: dict[str, Any]
    unresolved: list[str] = field(default_factory=list)
    source: str = "FIS experiment template"


def _tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) and value.startswith("!") else None


class _Resolver:
    """CloudFormation intrinsic functions, resolved from parameter defaults where possible."""

    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.defaults = {
            name: str(spec["Default"])
            for name, spec in parameters.items()
            if isinstance(spec, Mapping) and "Default" in spec
        }
        self.unresolved: list[str] = []

    def _keep(self, name: str) -> str:
        if name not in self.unresolved:
            self.unresolved.append(name)
        return "${" + name + "}"

    def ref(self, name: str) -> str:
        return self.defaults[name] if name in self.defaults else self._keep(name)

    def sub(self, text: str) -> str:
        return _REFERENCE.sub(lambda m: self.ref(m.group(1)), text)

    def function(self, name: str, argument: Any) -> Any:
        if name in ("Ref", "!Ref"):
            return self.ref(str(argument))
        if name in ("Fn::Sub", "!Sub"):
            text = argument[0] if isinstance(argument, list) else argument
            return self.sub(str(text))
        if name in ("Fn::GetAtt", "!GetAtt"):
            dotted = ".".join(argument) if isinstance(argument, list) else str(argument)
            return self._keep(dotted)
        return self._keep(f"{name} {argument}")

    def plain(self, node: Any) -> Any:
        tag = _tag(node)
        if tag is not None:
            value = getattr(node, "value", node)
            return self.function(tag, self.plain(value) if isinstance(value, list) else value)
        if isinstance(node, Mapping):
            if len(node) == 1:
                ((key, value),) = node.items()
                if key == "Ref" or str(key).startswith("Fn::"):
                    return self.function(str(key), self.plain(value))
            return {str(k): self.plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.plain(item) for item in node]
        if isinstance(node, bool) or node is None:
            return node
        return node if isinstance(node, int | float) else str(node)


def _camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def _from_cloudformation(properties: Mapping[str, Any]) -> dict[str, Any]:
    """An ``AWS::FIS::ExperimentTemplate``'s properties in the API's camelCase shape."""
    body = {_camel(k): v for k, v in properties.items()}
    body["targets"] = {
        name: {
            _camel(k): ([{_camel(a): b for a, b in f.items()} for f in v] if k == "Filters" else v)
            for k, v in target.items()
        }
        for name, target in (body.get("targets") or {}).items()
    }
    body["actions"] = {
        name: {_camel(k): v for k, v in action.items()}
        for name, action in (body.get("actions") or {}).items()
    }
    body["stopConditions"] = [
        {_camel(k): v for k, v in condition.items()} for condition in body.get("stopConditions", [])
    ]
    return body


_NEEDS = "an FIS template needs about eight"


def _parse(path: Path, text: str) -> Any:
    """The document in ``text``, held first to the bounds of scenario files (DESIGN.md
    "Safety" 7): size (read by ``_read_text``), depth, and for YAML alias expansion. Both
    parsers and ``_Resolver.plain`` recurse once per level."""
    if path.suffix.lower() == ".json":
        check_json_depth(path, text, MAX_DEPTH, needs=_NEEDS)
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ScenarioError(
                [f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"]
            ) from None
    check_yaml_bounds(path, text)
    try:
        # The round-trip loader keeps CloudFormation's short-form tags (!Sub, !Ref, !GetAtt).
        return YAML(typ="rt", pure=True).load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise ScenarioError([f"{path}:{where}: invalid YAML: {error}"]) from None


def read_template(path: Path) -> RawTemplate:
    """The experiment template in ``path``: an FIS template, or the first FIS resource of a
    CloudFormation template."""
    document = _parse(path, _read_text(path))
    if not isinstance(document, Mapping):
        raise InvalidInputError(f"{path}: expected an FIS experiment template (a JSON object)")
    resources = document.get("Resources")
    if not isinstance(resources, Mapping):
        resolver = _Resolver({})
        return RawTemplate(resolver.plain(document), resolver.unresolved)
    found = [
        (name, r)
        for name, r in resources.items()
        if isinstance(r, Mapping) and r.get("Type") == FIS_RESOURCE
    ]
    if not found:
        raise InvalidInputError(
            f"{path}: no {FIS_RESOURCE} resource in this CloudFormation template"
        )
    name, resource = found[0]
    resolver = _Resolver(document.get("Parameters") or {})
    body = _from_cloudformation(resolver.plain(resource.get("Properties") or {}))
    source = f"CloudFormation resource {name}"
    if len(found) > 1:
        source += f" (the first of {len(found)} {FIS_RESOURCE} resources)"
    return RawTemplate(body, resolver.unresolved, source)
