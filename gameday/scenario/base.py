"""Building blocks shared by every scenario model: strict frozen models, names, regions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)

from gameday.scenario.botocore_data import known_regions

API_VERSION = "gameday/v1"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
NAME_HINT = "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit"


class Model(BaseModel):
    """Frozen, strict about keys: the base of every scenario model."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def check_region(region: str) -> str:
    if region not in known_regions():
        raise ValueError(f"unknown region {region!r} (not in botocore's region list)")
    return region


Region = Annotated[str, AfterValidator(check_region)]


class Environment(StrEnum):
    """Where faults land (DESIGN.md "Environments")."""

    EMBEDDED = "embedded"
    LOCALSTACK = "localstack"
    AWS = "aws"
