"""The aws environment: a real account. Nothing is started here; the app runs in the account
and faults go through one FIS experiment (``gameday.injectors.fis``), or through the egress
proxy beside the app when the scenario or the environment file says ``injector: egress``
(``aws_egress``).

The real-account checks come first, in DESIGN.md's order: approval before any network call,
then the caller's account, stop conditions, durations and the template.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from gameday.environments.aws_egress import bring_up_egress
from gameday.environments.stage import Evidence, Stage, StageRequest
from gameday.fis.aws_config import AwsEnvironment, merge_environment
from gameday.fis.clients import AwsClients
from gameday.fis.plan import plan_aws
from gameday.fis.safety import clear_for_real_account
from gameday.injectors.fis import FisInjector


class RealAccountEnvironment:
    """A real account through AWS FIS, cleared by the safety checks before anything else."""

    def __init__(self, aws_environment: AwsEnvironment | None, *, approve: bool) -> None:
        self.aws_environment = aws_environment
        self.approve = approve

    async def bring_up(self, request: StageRequest, stack: ExitStack) -> Stage:
        """Clear the account (approval first), then hand over the FIS injector."""
        scenario = request.plan.loaded.scenario
        if merge_environment(scenario, self.aws_environment).injector == "egress":
            return await bring_up_egress(request, self.aws_environment, stack, approve=self.approve)
        del stack  # nothing is started for FIS
        aws = plan_aws(request.plan.loaded, self.aws_environment, run_id=request.run_id)
        clients = AwsClients(aws.fis.region)
        clearance = await asyncio.to_thread(
            clear_for_real_account,
            aws.fis,
            aws.scenario,
            aws.environment,
            approve=self.approve,
            interactive=False,
            ask=None,
            sts=clients.sts,
        )
        request.note("approval", f"account {clearance.account}, region {clearance.region}: cleared")
        app_url = aws.environment.app_url
        request.note("environment", f"real account; app at {app_url or '(no app URL)'}")
        injector = FisInjector(
            aws, clients.fis(), now=request.now, note=request.note, fail=request.fail
        )
        return Stage(
            injector=injector,
            rules=tuple(injector.rules),
            evidence=lambda: Evidence(
                fis=injector.record,
                matched_calls_unknown="FIS does not report which calls a fault matched",
            ),
            app=None,
            aws_endpoint_url=None,
            emulator_url=None,
            clients=None,
            credentials=None,
            app_url=app_url,
        )
