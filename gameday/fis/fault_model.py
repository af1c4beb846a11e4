"""The ``fis-action`` fault: any allowed FIS action, passed through to the template as written.

This is the model to move into ``gameday/scenario/fault_models.py`` (with ``FIS_ACTION`` added
to ``FaultKind`` and ``FisAction`` to the ``Fault`` union); until then the importer and the
template builder use it from here. ``FisActionKind`` stands in for ``FaultKind`` meanwhile.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gameday.scenario.base import Model
from gameday.scenario.fault_models import FaultBase

_FIS_ONLY = ("mode", "operations", "probability", "ramp", "latency", "error")


class FisActionKind(StrEnum):
    """Stands in for ``FaultKind.FIS_ACTION`` until the kind joins ``FaultKind``."""

    FIS_ACTION = "fis-action"


class FisFilter(Model):
    """An FIS target filter: a path into the resource's description and the values to match."""

    path: str = Field(min_length=1)
    values: tuple[str, ...] = Field(min_length=1)


class FisTargetSpec(Model):
    """An FIS target as the experiment template has it (resource type, and how to find them)."""

    resource_type: str = Field(pattern=r"^[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$")
    tags: dict[str, str] = Field(default_factory=dict)
    arns: tuple[str, ...] = Field(default=(), max_length=5)
    filters: tuple[FisFilter, ...] = ()
    parameters: dict[str, str] = Field(default_factory=dict)
    selection: str = Field(default="ALL", pattern=r"^(ALL|COUNT\(\d+\)|PERCENT\(\d+\))$")


class FisAction(FaultBase):
    """Run one FIS action on ``aws`` as written; it cannot run on the emulator or LocalStack.

    Its ``duration`` fills the action's duration parameter; ``start_after`` places it in time
    like any fault. Whether the action may run at all is decided by the allow-list in
    ``gameday.fis.actions`` when the template is built.
    """

    kind: Literal[FisActionKind.FIS_ACTION]
    action_id: str = Field(pattern=r"^[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]+$")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="The action's parameters, except its duration."
    )
    targets: dict[str, FisTargetSpec] = Field(
        default_factory=dict, description="Target key (e.g. Instances) -> the resources."
    )

    @field_validator("parameters")
    @classmethod
    def _no_duration(cls, value: dict[str, str]) -> dict[str, str]:
        if "duration" in value:
            raise ValueError("give the fault's 'duration', not parameters.duration")
        return value

    @model_validator(mode="after")
    def _fis_decides_the_effect(self) -> FisAction:
        given = [name for name in _FIS_ONLY if name in self.model_fields_set]
        if given:
            raise ValueError(
                f"'{given[0]}' does not apply to a fis-action fault: the FIS action decides "
                "what fails"
            )
        return self
