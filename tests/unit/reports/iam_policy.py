"""An independent check that a document is an IAM policy whose every action botocore names.

Independent of gameday.scenario.iam_actions' own code: prefixes come from each model's
metadata (its signing name), operations from botocore's session; only the reviewed tables of
exceptions are taken from gameday, and each of their entries is checked apart
(tests/unit/scenario/test_iam_actions.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import botocore.session

from gameday.scenario.botocore_data import service_metadata, service_model_files
from gameday.scenario.iam_actions import ACTION_EXCEPTIONS, PREFIX_EXCEPTIONS, REGISTRY_ACTIONS

_SID = re.compile(r"^[A-Za-z0-9]*$")


@functools.cache
def _models_by_prefix() -> Mapping[str, tuple[str, ...]]:
    # Only the models' metadata (read fast from the head of each file): loading all ~450
    # models in full takes seconds.
    found: dict[str, list[str]] = {}
    for name in service_model_files():
        metadata = service_metadata(name)
        signing = metadata.get("signingName") or metadata["endpointPrefix"]
        found.setdefault(PREFIX_EXCEPTIONS.get(signing, signing), []).append(name)
    return {prefix: tuple(models) for prefix, models in found.items()}


@functools.cache
def _operations(prefix: str) -> frozenset[str] | None:
    models = _models_by_prefix().get(prefix)
    if models is None:
        return None
    session = botocore.session.get_session()
    return frozenset(op for m in models for op in session.get_service_model(m).operation_names)


def _tabled() -> frozenset[str]:
    return frozenset(
        a for actions in (*ACTION_EXCEPTIONS.values(), *REGISTRY_ACTIONS.values()) for a in actions
    )


def action_problem(action: str) -> str | None:
    """Why ``action`` is not an action botocore (or a reviewed table) names, or None."""
    if action in _tabled():
        return None
    prefix, _, name = action.partition(":")
    operations = _operations(prefix)
    if operations is None:
        return f"{action}: no botocore model is signed as {prefix!r}"
    if name not in operations:
        return f"{action}: no model with IAM prefix {prefix!r} has an operation {name!r}"
    return None


def policy_problems(document: Any) -> list[str]:
    """Everything that keeps ``document`` from being a valid identity policy of named actions."""
    if not isinstance(document, dict) or set(document) != {"Version", "Statement"}:
        return ["expected exactly Version and Statement"]
    problems = [] if document["Version"] == "2012-10-17" else ["Version is not 2012-10-17"]
    statements = document["Statement"]
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement is not a non-empty list"]
    for statement in statements:
        if not set(statement) <= {"Sid", "Effect", "Action", "Resource"}:
            problems.append(f"unexpected keys in {statement}")
        if not _SID.match(statement.get("Sid", "")):
            problems.append(f"Sid {statement['Sid']!r} is not alphanumeric")
        if statement.get("Effect") not in ("Allow", "Deny") or "Resource" not in statement:
            problems.append(f"bad Effect or no Resource in {statement}")
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions
        if not isinstance(actions, list) or not actions:
            problems.append(f"no Action in {statement}")
            continue
        if len(set(actions)) != len(actions):
            problems.append(f"an action listed twice in {statement}")
        problems += [p for a in actions if a != "*" and (p := action_problem(a)) is not None]
    return problems
