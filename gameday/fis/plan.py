"""``gameday plan --env aws`` and ``gameday export fis``: the exact template and the checks.

Nothing here touches the network: the checks that need the account (approval, the caller's
account) show as ``at-run``; ``safety.clear_for_real_account`` runs them before a drill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gameday.checks import Check, CheckOutcome
from gameday.errors import InvalidInputError
from gameday.fis.actions import ALLOWED, Effect, RefusedActionError
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.spec import FisPlan
from gameday.fis.template import build_fis_plan, rules_for
from gameday.fis.validate import validate_request
from gameday.scenario.durations import format_duration
from gameday.scenario.fault_models import FisAction
from gameday.scenario.loader import LoadedScenario
from gameday.scenario.models import Scenario


def _outcome(ok: bool) -> CheckOutcome:
    return CheckOutcome.PASS if ok else CheckOutcome.FAIL


def _effects(plan: FisPlan) -> str:
    counts: dict[Effect, int] = {}
    for action in plan.template.actions.values():
        spec = ALLOWED.get(action.action_id)
        if spec is not None:
            counts[spec.effect] = counts.get(spec.effect, 0) + 1
    return ", ".join(f"{n} {effect.value}" for effect, n in sorted(counts.items()))


def approval_checks(env: AwsEnvironment) -> list[Check]:
    """Approval and the account allow-list: the first checks on a real account, whatever
    the injector."""
    return [
        Check("approval", CheckOutcome.AT_RUN, "run needs --approve or a yes on a terminal"),
        Check(
            "account allow-list",
            _outcome(bool(env.accounts)),
            f"allowed: {', '.join(env.accounts)}; the caller's account is checked at run (STS)"
            if env.accounts
            else "no account is allowed: list them under 'accounts'",
        ),
    ]


def _account_checks(env: AwsEnvironment) -> list[Check]:
    return [
        *approval_checks(env),
        Check(
            "stop conditions",
            _outcome(bool(env.stop_conditions)),
            f"{len(env.stop_conditions)} CloudWatch alarm(s)"
            if env.stop_conditions
            else "none: FIS needs at least one CloudWatch alarm ('stop_conditions')",
        ),
        Check(
            "FIS role",
            _outcome(env.role_arn is not None),
            env.role_arn or "none: set 'role_arn' in the environment file",
        ),
    ]


def fis_checks(scenario: Scenario, plan: FisPlan, env: AwsEnvironment) -> list[Check]:
    """Every check for running ``scenario`` on the account ``env`` (merged) describes."""
    length = format_duration(plan.length_s)
    rails, observe = scenario.guardrails, scenario.observe
    return [
        *_account_checks(env),
        Check(
            "every fault maps onto FIS",
            _outcome(not plan.problems),
            f"{len(scenario.faults)} fault(s), {len(plan.template.actions)} action(s)"
            if not plan.problems
            else f"{len(plan.problems)} problem(s): see 'problems' below",
        ),
        Check(
            "no destructive actions",
            _outcome(not plan.refused),
            f"every action is on the allow-list ({_effects(plan) or 'none'})"
            if not plan.refused
            else f"{len(plan.refused)} refused: see 'refused' below",
        ),
        Check(
            "blast radius: duration",
            _outcome(plan.length_s <= rails.max_duration),
            f"the experiment runs {length}; max_duration {format_duration(rails.max_duration)}",
        ),
        Check(
            "observation covers the experiment",
            _outcome(plan.length_s <= observe.max),
            f"the experiment runs {length}; observe.max {format_duration(observe.max)}",
        ),
    ]


@dataclass(frozen=True)
class AwsPlan:
    """The FIS plan of one scenario on one account, with its checks."""

    scenario: Scenario
    environment: AwsEnvironment
    fis: FisPlan
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(c.outcome is not CheckOutcome.FAIL for c in self.checks)


def plan_aws(loaded: LoadedScenario, env: AwsEnvironment | None, *, run_id: str) -> AwsPlan:
    """Plan ``loaded`` on the account ``env`` describes (None: the scenario's target.aws)."""
    scenario = loaded.scenario
    merged = merge_environment(scenario, env)
    fis = build_fis_plan(scenario, rules_for(scenario), merged, run_id=run_id)
    return AwsPlan(scenario, merged, fis, fis_checks(scenario, fis, merged))


def _emulator_line(scenario: Scenario) -> str | None:
    only_aws = [
        name
        for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True)
        if isinstance(fault, FisAction)
    ]
    if not only_aws:
        return None
    return f"cannot run on the emulator or LocalStack (fis-action): {', '.join(only_aws)}"


def _fault_lines(plan: AwsPlan) -> list[str]:
    lines = []
    offset = plan.fis.offset_s
    for name, fault in zip(plan.scenario.fault_names(), plan.scenario.faults, strict=True):
        window = plan.fis.windows.get(name)
        start, end = fault.start_after - offset, fault.end_s - offset
        written = f"{format_duration(start)}..{format_duration(end)}"
        on_fis = (
            f"{format_duration(window.start_s)}..{format_duration(window.end_s)}"
            if window
            else "not injected"
        )
        lines.append(f"  {name}: {on_fis} on FIS (as written: {written})")
    return lines


def fis_plan_dict(plan: AwsPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (``gameday plan --env aws --format json``)."""
    return {
        "scenario": plan.scenario.metadata.name,
        "environment": "aws",
        "region": plan.fis.region,
        "ok": plan.ok,
        "starts_at_s": plan.fis.offset_s,
        "length_s": plan.fis.length_s,
        "windows": {
            name: {"start_s": w.start_s, "end_s": w.end_s} for name, w in plan.fis.windows.items()
        },
        "checks": [
            {"name": c.name, "outcome": c.outcome.value, "detail": c.detail} for c in plan.checks
        ],
        "notes": list(plan.fis.notes),
        "problems": list(plan.fis.problems),
        "refused": list(plan.fis.refused),
        "emulator": _emulator_line(plan.scenario),
        "template": plan.fis.template.to_request(),
    }


def fis_plan_text(plan: AwsPlan) -> str:
    """The plan for people: checks, fault windows on FIS, notes, refusals, the template JSON."""
    fis = plan.fis
    lines = [
        f"scenario {plan.scenario.metadata.name} on aws: one FIS experiment in {fis.region}, "
        f"started {format_duration(fis.offset_s)} into the drill, running "
        f"{format_duration(fis.length_s)}",
        "checks:",
        *(f"  {c.outcome.value:<7} {c.name}: {c.detail}" for c in plan.checks),
        "faults (from the start of the experiment):",
        *_fault_lines(plan),
    ]
    emulator = _emulator_line(plan.scenario)
    if emulator:
        lines.append(emulator)
    if fis.notes:
        lines += ["notes:", *(f"  - {note}" for note in fis.notes)]
    if fis.problems:
        lines += ["problems:", *(f"  - {problem}" for problem in fis.problems)]
    if fis.refused:
        lines += ["refused:", *(f"  - {problem}" for problem in fis.refused)]
    lines.append("template (the create_experiment_template request):")
    lines.append(json.dumps(fis.template.to_request(), indent=2))
    return "\n".join(lines) + "\n"


def export_template(plan: AwsPlan) -> str:
    """The template JSON for review (``gameday export fis``); refuses what ``run`` would."""
    fis = plan.fis
    if fis.problems:
        raise InvalidInputError(
            "\n".join(fis.problems), hint="see the problems 'gameday plan --env aws' lists"
        )
    if fis.refused:
        raise RefusedActionError(
            "\n".join(fis.refused),
            hint="gameday runs only FIS actions that undo themselves (DESIGN.md 'Safety')",
        )
    if fis.template.role_arn is None:
        raise InvalidInputError(
            "no FIS role: the template needs one",
            hint="set 'role_arn' in the environment file (or target.aws.role_arn)",
        )
    request = fis.template.to_request()
    validate_request(request)
    return json.dumps(request, indent=2) + "\n"
