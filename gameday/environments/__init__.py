"""Where faults land: embedded, localstack, aws. ``open_environment`` gives the one a plan
names; each brings itself up and hands the drill a ``Stage`` carrying its injector."""

from __future__ import annotations

from gameday.environments.stage import Environment, Stage, StageRequest
from gameday.fis.aws_config import AwsEnvironment
from gameday.scenario.models import Environment as EnvironmentKind

__all__ = ["Environment", "Stage", "StageRequest", "open_environment"]


def open_environment(
    kind: EnvironmentKind,
    *,
    aws_environment: AwsEnvironment | None = None,
    approve: bool = False,
) -> Environment:
    """The environment of ``kind``; ``aws_environment`` and ``approve`` are for a real
    account (the file given with ``--aws-config``, and the person's yes)."""
    # Lazy: any gameday.environments import runs this file (`gameday plan` and `abort` do),
    # and each environment imports boto3 (~150 ms): import only the one asked for.
    if kind is EnvironmentKind.EMBEDDED:
        from gameday.environments.embedded import EmbeddedEnvironment  # noqa: PLC0415

        return EmbeddedEnvironment()
    if kind is EnvironmentKind.LOCALSTACK:
        from gameday.environments.localstack import LocalStackEnvironment  # noqa: PLC0415

        return LocalStackEnvironment()
    from gameday.environments.aws import RealAccountEnvironment  # noqa: PLC0415

    return RealAccountEnvironment(aws_environment, approve=approve)
