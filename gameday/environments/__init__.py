"""Where faults land: embedded, localstack, aws. ``bring_up`` starts the one a plan names."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from gameday.environments.stage import Note, Stage
from gameday.errors import EnvironmentFailure
from gameday.scenario.models import Environment, Scenario


async def bring_up(
    environment: Environment,
    scenario: Scenario,
    stack: ExitStack,
    *,
    workdir: Path,
    seed: int | None,
    alert_url: str | None,
    note: Note,
) -> Stage:
    """Start ``environment`` for ``scenario``; ``stack`` tears every part of it down."""
    if environment is Environment.EMBEDDED:
        from gameday.environments.embedded import bring_up_embedded

        return await bring_up_embedded(
            scenario, stack, workdir=workdir, seed=seed, alert_url=alert_url, note=note
        )
    if environment is Environment.LOCALSTACK:
        from gameday.environments.localstack import bring_up_localstack

        return await bring_up_localstack(
            scenario, stack, workdir=workdir, seed=seed, alert_url=alert_url, note=note
        )
    raise EnvironmentFailure(
        f"the {environment.value} environment is brought up with its FIS plan",
        hint="use bring_up_aws",
    )


def bring_up_aws(app_url: str | None, note: Note) -> Stage:
    """A real account: nothing is started; the app runs there, faults go through FIS."""
    note("environment", f"real account; app at {app_url or '(no app URL)'}")
    return Stage(
        app=None,
        gateway=None,
        aws_endpoint_url=None,
        emulator_url=None,
        clients=None,
        credentials=None,
        app_url=app_url,
    )
