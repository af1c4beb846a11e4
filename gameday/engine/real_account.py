"""``plan --env aws``: the plan of the injector the scenario or environment file names.

``fis`` plans one FIS experiment (``fis.plan``); ``egress`` plans the rules the proxy beside
the app will hold, the hosts it will decrypt and the checks of both (``egress.plan``, and the
rules' own checks from ``engine.safety``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gameday.egress.plan import EgressPlan, egress_plan_dict, egress_plan_text, plan_egress
from gameday.engine.safety import rule_checks
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.plan import AwsPlan, fis_plan_dict, fis_plan_text, plan_aws
from gameday.fis.template import rules_for
from gameday.scenario.loader import LoadedScenario

RealAccountPlan = AwsPlan | EgressPlan


def plan_real_account(
    loaded: LoadedScenario, environment: AwsEnvironment | None, *, run_id: str
) -> RealAccountPlan:
    """The plan of ``loaded`` on the account ``environment`` (None: target.aws) describes."""
    scenario = loaded.scenario
    merged = merge_environment(scenario, environment)
    if merged.injector != "egress":
        return plan_aws(loaded, environment, run_id=run_id)
    rules = rules_for(scenario)
    plan = plan_egress(scenario, merged, rules)
    if not rules:
        return plan
    return dataclasses.replace(plan, checks=(*plan.checks, *rule_checks(scenario, rules)))


def plan_text(plan: RealAccountPlan) -> str:
    """The plan for people."""
    return egress_plan_text(plan) if isinstance(plan, EgressPlan) else fis_plan_text(plan)


def plan_dict(plan: RealAccountPlan) -> dict[str, Any]:
    """The plan as JSON-ready data."""
    return egress_plan_dict(plan) if isinstance(plan, EgressPlan) else fis_plan_dict(plan)
