"""Plans for the lifecycle tests, and what a run left in the FIS backend, found by its tag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gameday.fis.plan import AwsPlan, plan_aws
from gameday.fis.spec import RUN_ID_TAG
from tests.unit.fis.builders import environment, scenario

if TYPE_CHECKING:
    from mypy_boto3_fis import FISClient

REGION = "us-west-2"
EC2 = "compute: {ec2: {tags: {app: orders}}}"


def identity_plan(run_id: str, **fields: object) -> AwsPlan:
    """An identity loss on EC2, planned for us-west-2."""
    loaded = scenario("- {name: sts-down, kind: identity-loss, start_after: 5s, duration: 2m}")
    return plan_aws(loaded, environment(EC2, **fields), run_id=run_id)


def templates_of(fis: FISClient, run_id: str) -> list[str]:
    """Ids of the templates tagged with ``run_id``."""
    return [
        t["id"]
        for page in fis.get_paginator("list_experiment_templates").paginate()
        for t in page["experimentTemplates"]
        if t.get("tags", {}).get(RUN_ID_TAG) == run_id
    ]


def experiments_of(fis: FISClient, run_id: str) -> list[str]:
    """Ids of the experiments tagged with ``run_id``."""
    return [
        e["id"]
        for page in fis.get_paginator("list_experiments").paginate()
        for e in page["experiments"]
        if e.get("tags", {}).get(RUN_ID_TAG) == run_id
    ]
