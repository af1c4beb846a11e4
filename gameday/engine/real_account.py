"""``plan --env aws``: the plan of the injector the scenario or environment file names.

``fis`` plans one FIS experiment (``fis.plan``); ``egress`` plans the rules the proxy beside
the app will hold, the hosts it will decrypt and the checks of both (``egress.plan``, and the
rules' own checks from ``engine.safety``). ``require_run_approval`` is the first real-account
check of ``gameday run``, before any drill starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from gameday.egress.plan import (
    EgressPlan,
    egress_plan_dict,
    egress_plan_text,
    egress_summary,
    plan_egress,
)
from gameday.engine.plan import target_from_checks
from gameday.engine.safety import rule_checks
from gameday.faults.plan import Plan
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.plan import AwsPlan, fis_plan_dict, fis_plan_text, plan_aws
from gameday.fis.safety import approval_summary, require_approval
from gameday.fis.template import rules_for
from gameday.scenario.loader import LoadedScenario
from gameday.scenario.models import Environment

RealAccountPlan = AwsPlan | EgressPlan


def plan_real_account(
    loaded: LoadedScenario, environment: AwsEnvironment | None, *, run_id: str
) -> RealAccountPlan:
    """The plan of ``loaded`` on the account ``environment`` (None: target.aws) describes."""
    scenario = loaded.scenario
    merged = merge_environment(scenario, environment)
    # Said, never done: a policy ARN is read only at run, once the drill is approved.
    targets = target_from_checks(loaded, Environment.AWS)
    if merged.injector != "egress":
        aws = plan_aws(loaded, environment, run_id=run_id)
        return dataclasses.replace(aws, checks=[*aws.checks, *targets])
    rules = rules_for(scenario)
    plan = plan_egress(scenario, merged, rules)
    extra = rule_checks(scenario, rules) if rules else []
    return dataclasses.replace(plan, checks=(*plan.checks, *extra, *targets))


def real_account_summary(plan: RealAccountPlan) -> str:
    """What a person approves for one drill: the FIS experiment, or the proxy's rules."""
    if isinstance(plan, AwsPlan):
        return approval_summary(plan.fis, plan.scenario)
    return egress_summary(plan)


def require_run_approval(
    plans: Sequence[Plan], aws_environment: AwsEnvironment | None, *, approve: bool
) -> None:
    """``ApprovalRequired`` (exit 2) when a plan runs on a real account without approval
    (``--approve`` or the command's interactive yes), naming every such drill.

    Called before any drill starts, so an unapproved run sends nothing, writes no result and
    runs none of a suite's other drills either: a refusal of usage, not a drill that failed.
    """
    on_aws = [p for p in plans if p.environment is Environment.AWS]
    if approve or not on_aws:
        return
    summaries = [
        real_account_summary(plan_real_account(p.loaded, aws_environment, run_id="plan"))
        for p in on_aws
    ]
    require_approval(False, interactive=False, ask=None, summary="; ".join(summaries))


def plan_text(plan: RealAccountPlan) -> str:
    """The plan for people."""
    return egress_plan_text(plan) if isinstance(plan, EgressPlan) else fis_plan_text(plan)


def plan_dict(plan: RealAccountPlan) -> dict[str, Any]:
    """The plan as JSON-ready data."""
    return egress_plan_dict(plan) if isinstance(plan, EgressPlan) else fis_plan_dict(plan)
