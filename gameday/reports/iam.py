"""The least-privilege report (``gameday report --format iam``): the IAM actions the app used
during its drills, as a policy document, and how they compare with the app's role policy.

The gateway saw every AWS call the app attempted (and counted gameday's own probes' calls
apart, which are left out: they are not the app's); each is named as the IAM action it needs
(gameday.scenario.iam_actions), whatever the gateway did with it: a call a fault refused was
still attempted, and the app needs the action when the service is back. The document is JSON:

- ``policy``: an IAM policy document allowing exactly those actions (``Resource: "*"``: the
  gateway counts calls by operation, naming resources only for destructive ones; narrow it
  before use), or denying everything when the
  app called nothing; null when no drill's calls were seen (a real account, through FIS);
- ``actions``: each action with its calls, the operations behind it, and the ``aws`` probes of
  the scenario that make the same call (for information: their calls are not counted here,
  but in a result written before they were told apart they are);
- ``no_action``: calls that need no IAM action (sent unsigned) or have no name (unclassified);
- ``unseen``: runs whose calls were not seen, and why;
- ``role_policies``: for each role policy the scenarios name (``target.role_policy``), the
  actions it grants that were never used (wildcards expanded over botocore's operations) and
  the actions used that it does not grant.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePath
from typing import Any

from gameday.errors import ScenarioError
from gameday.result import RunResult
from gameday.scenario.botocore_data import service_operations
from gameday.scenario.iam_actions import actions_for, known_actions, known_prefixes
from gameday.scenario.role_policy import (
    VERSIONS,
    Effect,
    RolePolicy,
    action_matches,
    policy_actions,
    read_role_policy,
)

POLICY_SID = "GamedayObservedCalls"
NOTHING_SID = "GamedayNoCallsSeen"


@dataclass(frozen=True, slots=True)
class AttemptedCall:
    """Calls the app attempted of one operation, however the gateway answered them."""

    service: str
    operation: str
    count: int


def attempted_calls(result: RunResult) -> list[AttemptedCall]:
    """Every call the app attempted through the gateway, by service and operation, every
    outcome counted (forwarded, faulted, dropped, failed upstream): the one place this report
    reads a result's calls. ``calls.counts`` (the app's alone, exact) where the gateway
    counted them; else ``gateway.calls`` (every call its ring held, the probes' among them:
    a result written before calls were classed, or whose count could not be read)."""
    counts: Counter[tuple[str, str]] = Counter()
    if result.calls.counted:
        for row in result.calls.counts:
            counts[(row.service, row.operation)] += row.count
    else:
        for service, operation, _outcome, count in result.gateway.calls:
            counts[(service, operation)] += count
    return [AttemptedCall(s, o, n) for (s, o), n in sorted(counts.items())]


def unseen_because(result: RunResult) -> str | None:
    """Why the app's calls in ``result`` were not seen, or None when the gateway saw them."""
    if result.environment == "aws":
        return "a drill in a real account runs through FIS: no gateway sees the app's calls"
    if result.gateway.read_error and not result.calls.counted:
        return f"the gateway's record was lost: {result.gateway.read_error}"
    return None


@dataclass(slots=True)
class _Used:
    calls: int = 0
    operations: set[str] = field(default_factory=set)
    probes: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Seen:
    used: dict[str, _Used] = field(default_factory=dict)
    no_action: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, result: RunResult) -> None:
        probe_calls = _probe_calls(result)
        for call in attempted_calls(result):
            mapping = actions_for(call.service, call.operation)
            if not mapping.actions:
                self.no_action[(call.service, call.operation, mapping.why_none)] += call.count
            for action in mapping.actions:
                used = self.used.setdefault(action, _Used())
                used.calls += call.count
                used.operations.add(f"{call.service} {call.operation}")
                used.probes.update(probe_calls.get((call.service, call.operation), ()))


def render_iam(
    results: Sequence[RunResult],
    read_policy: Callable[[Path], RolePolicy] = read_role_policy,
) -> str:
    """The least-privilege report of ``results`` as JSON; ``read_policy`` reads the role
    policies the scenarios name (``ScenarioError`` when one cannot be read or checked)."""
    return json.dumps(least_privilege(results, read_policy), indent=2) + "\n"


def least_privilege(
    results: Sequence[RunResult],
    read_policy: Callable[[Path], RolePolicy] = read_role_policy,
) -> dict[str, Any]:
    """The report of ``render_iam`` as a JSON-ready mapping."""
    seen = _Seen()
    unseen = []
    by_policy: dict[Path, list[RunResult]] = defaultdict(list)
    for result in results:
        why = unseen_because(result)
        if why is not None:
            unseen.append({"run_id": result.run_id, "why": why})
            continue
        seen.add(result)
        path = role_policy_path(result)
        if path is not None:
            by_policy[path].append(result)
    counted = len(results) - len(unseen)
    return {
        "policy": policy_document(sorted(seen.used)) if counted else None,
        "runs": [
            {"run_id": r.run_id, "scenario": r.scenario.name, "environment": r.environment}
            for r in results
        ],
        "actions": [
            {
                "action": action,
                "calls": used.calls,
                "operations": sorted(used.operations),
                "probes": sorted(used.probes),
            }
            for action, used in sorted(seen.used.items())
        ],
        "no_action": [
            {"service": service, "operation": operation, "calls": calls, "why": why}
            for (service, operation, why), calls in sorted(seen.no_action.items())
        ],
        "unseen": unseen,
        "role_policies": [
            _compare(path, runs, _read(read_policy, path, runs))
            for path, runs in sorted(by_policy.items())
        ],
    }


def policy_document(actions: Sequence[str]) -> dict[str, Any]:
    """An IAM policy document allowing ``actions`` (on every resource); one that denies
    everything when there are none (a statement needs at least one action)."""
    statement: dict[str, Any] = (
        {"Sid": POLICY_SID, "Effect": "Allow", "Action": list(actions), "Resource": "*"}
        if actions
        else {"Sid": NOTHING_SID, "Effect": "Deny", "Action": "*", "Resource": "*"}
    )
    return {"Version": VERSIONS[0], "Statement": [statement]}


def role_policy_path(result: RunResult) -> Path | None:
    """The role policy the run's scenario names, relative to the scenario file as the run
    took it (a relative scenario path from the current folder), or None."""
    target = result.scenario.spec.get("target")
    named = target.get("role_policy") if isinstance(target, dict) else None
    if not isinstance(named, str):
        return None
    return Path(PurePath(result.scenario.file).parent / named)


def _read(
    read_policy: Callable[[Path], RolePolicy], path: Path, runs: Sequence[RunResult]
) -> RolePolicy:
    try:
        return read_policy(path)
    except ScenarioError as error:
        raise ScenarioError(
            error.problems,
            hint=f"{runs[0].scenario.file} names it in target.role_policy; fix or restore it",
        ) from None


def _compare(path: Path, runs: Sequence[RunResult], policy: RolePolicy) -> dict[str, Any]:
    seen = _Seen()
    for run in runs:
        seen.add(run)
    used = sorted(seen.used)
    return {
        "file": str(path),
        "runs": [r.run_id for r in runs],
        "granted_unused": _granted_unused(policy, used),
        "used_not_granted": _used_not_granted(policy, used),
        "not_evaluated": [
            f"{s.label}, line {s.line}: a Deny limited by Resource or Condition"
            for s in policy.partial_denies()
        ],
    }


def _granted_unused(policy: RolePolicy, used: Sequence[str]) -> list[dict[str, Any]]:
    entries = []
    for statement, pattern in policy_actions(policy, Effect.ALLOW):
        matched = [a for a in used if action_matches(pattern, a)]
        entry: dict[str, Any] = {
            "granted": pattern,
            "statement": statement.label,
            "line": statement.line,
            "used": matched,
        }
        universe = _granted_by(pattern)
        if universe is None:
            entry["unused"] = None
            entry["why"] = "a wildcard in the service part matches every service: not expanded"
            entries.append(entry)
            continue
        unused = [
            a
            for a in sorted(universe)
            if a not in matched and action_matches(pattern, a) and policy.denied_by(a) is None
        ]
        if unused:
            entry["unused"] = unused
            entries.append(entry)
    return entries


def _granted_by(pattern: str) -> frozenset[str] | None:
    """The actions ``pattern`` can stand for, from botocore's models (and the pattern itself
    when it names one they do not, such as ``iam:PassRole``); None for ``*`` and other
    patterns with a wildcard in the service part."""
    prefix, _, name = pattern.partition(":")
    if not name or "*" in prefix or "?" in prefix:
        return None
    found = frozenset().union(*(known_actions(p) for p in _prefixes_named(prefix.lower())))
    if "*" in name or "?" in name:
        return found
    return found if any(action_matches(pattern, a) for a in found) else frozenset({pattern})


@cache
def _prefixes_named(lowered: str) -> tuple[str, ...]:
    return tuple(p for p in known_prefixes() if p.lower() == lowered)


def _used_not_granted(policy: RolePolicy, used: Sequence[str]) -> list[dict[str, str]]:
    missing = []
    for action in used:
        denial = policy.denied_by(action)
        if denial is not None:
            missing.append(
                {"action": action, "why": f"denied by {denial.label}, line {denial.line}"}
            )
        elif not policy.allows(action):
            missing.append({"action": action, "why": "no Allow statement names it"})
    return missing


def _probe_calls(result: RunResult) -> Mapping[tuple[str, str], tuple[str, ...]]:
    """(service, operation) -> the names of the scenario's ``aws`` probes that make that call
    (a probe names its call as boto3 does: ``get_item``)."""
    probes = result.scenario.spec.get("probes")
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for probe in probes if isinstance(probes, list) else ():
        if not isinstance(probe, dict) or probe.get("kind") != "aws":
            continue
        service, call = str(probe.get("service")), str(probe.get("call"))
        operation = _operation_of(service, call)
        if operation is not None:
            found[(service, operation)].append(str(probe.get("name")))
    return {key: tuple(names) for key, names in found.items()}


@cache
def _operation_of(service: str, method: str) -> str | None:
    # boto3 names each operation's method with botocore's xform_name; imported here because
    # only a report of a run with aws probes needs it.
    from botocore import xform_name  # noqa: PLC0415

    operations = service_operations(service) or ()
    return next((op for op in operations if xform_name(op) == method), None)
