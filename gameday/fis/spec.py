"""An FIS experiment template as typed data, and the ``create_experiment_template`` request.

The shapes follow botocore's fis model (``CreateExperimentTemplate``); ``to_request`` is what
is sent, what ``gameday export fis`` prints, and what the golden tests pin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gameday.fis.aws_config import Logs, Report
from gameday.fis.iso import iso_duration, parse_iso_duration

MANAGED_BY_TAG = ("managed-by", "gameday")
"""Every template and experiment gameday creates carries this tag; ``abort`` looks for it."""
RUN_ID_TAG = "gameday:run-id"
SCENARIO_TAG = "gameday:scenario"
ALARM_SOURCE = "aws:cloudwatch:alarm"


@dataclass(frozen=True, slots=True)
class TemplateTarget:
    """One template target: a resource type and how FIS finds the resources."""

    resource_type: str
    arns: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    selection: str = "ALL"

    def to_request(self) -> dict[str, Any]:
        """The target as ``create_experiment_template`` takes it."""
        request: dict[str, Any] = {"resourceType": self.resource_type}
        if self.arns:
            request["resourceArns"] = list(self.arns)
        if self.tags:
            request["resourceTags"] = dict(self.tags)
        if self.filters:
            request["filters"] = [{"path": p, "values": list(v)} for p, v in self.filters]
        if self.parameters:
            request["parameters"] = dict(self.parameters)
        request["selectionMode"] = self.selection
        return request


@dataclass(frozen=True, slots=True)
class TemplateAction:
    """One template action; ``faults`` names the gameday faults it realizes (none for a wait)."""

    action_id: str
    description: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    targets: Mapping[str, str] = field(default_factory=dict)
    start_after: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()

    def duration_s(self, duration_param: str | None) -> float:
        """How long the action runs: its duration parameter, or 0 for an instant action."""
        value = self.parameters.get(duration_param or "")
        return parse_iso_duration(value) if value else 0.0

    def to_request(self) -> dict[str, Any]:
        """The action as ``create_experiment_template`` takes it."""
        request: dict[str, Any] = {"actionId": self.action_id, "description": self.description}
        if self.parameters:
            request["parameters"] = dict(self.parameters)
        if self.targets:
            request["targets"] = dict(self.targets)
        if self.start_after:
            request["startAfter"] = list(self.start_after)
        return request


@dataclass(frozen=True, slots=True)
class ExperimentTemplate:
    """A whole template; ``role_arn`` is None only when the environment names no FIS role."""

    description: str
    role_arn: str | None
    stop_conditions: tuple[str, ...]
    targets: Mapping[str, TemplateTarget]
    actions: Mapping[str, TemplateAction]
    tags: Mapping[str, str]
    client_token: str
    logs: Logs | None = None
    report: Report | None = None

    def to_request(self) -> dict[str, Any]:
        """The ``create_experiment_template`` request: what is sent, printed and exported."""
        stop = [{"source": ALARM_SOURCE, "value": arn} for arn in self.stop_conditions]
        request: dict[str, Any] = {
            "clientToken": self.client_token,
            "description": self.description,
            "stopConditions": stop or [{"source": "none"}],
            "targets": {name: t.to_request() for name, t in self.targets.items()},
            "actions": {name: a.to_request() for name, a in self.actions.items()},
        }
        if self.role_arn is not None:
            request["roleArn"] = self.role_arn
        request["tags"] = dict(self.tags)
        # Fail rather than skip: an action whose targets resolve to nothing would inject
        # nothing, and the drill would pass for the wrong reason.
        request["experimentOptions"] = {
            "accountTargeting": "single-account",
            "emptyTargetResolutionMode": "fail",
        }
        if self.logs is not None:
            request["logConfiguration"] = _log_configuration(self.logs)
        if self.report is not None:
            request["experimentReportConfiguration"] = _report_configuration(self.report)
        return request


def _log_configuration(logs: Logs) -> dict[str, Any]:
    config: dict[str, Any] = {"logSchemaVersion": 2}
    if logs.cloudwatch_log_group_arn is not None:
        config["cloudWatchLogsConfiguration"] = {"logGroupArn": logs.cloudwatch_log_group_arn}
    if logs.s3_bucket is not None:
        s3: dict[str, str] = {"bucketName": logs.s3_bucket}
        if logs.s3_prefix is not None:
            s3["prefix"] = logs.s3_prefix
        config["s3Configuration"] = s3
    return config


def _report_configuration(report: Report) -> dict[str, Any]:
    s3: dict[str, str] = {"bucketName": report.s3_bucket}
    if report.s3_prefix is not None:
        s3["prefix"] = report.s3_prefix
    config: dict[str, Any] = {"outputs": {"s3Configuration": s3}}
    if report.dashboards:
        config["dataSources"] = {
            "cloudWatchDashboards": [{"dashboardIdentifier": d} for d in report.dashboards]
        }
    if report.pre_experiment is not None:
        config["preExperimentDuration"] = iso_duration(report.pre_experiment)
    if report.post_experiment is not None:
        config["postExperimentDuration"] = iso_duration(report.post_experiment)
    return config


@dataclass(frozen=True, slots=True)
class Window:
    """When a fault is in force on FIS, in seconds from the start of the experiment."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class FisPlan:
    """What ``run --env aws`` would create: the template, where, and what it means in time.

    ``offset_s`` is when, in scenario time, the experiment starts (the first fault's
    ``start_after``); ``windows`` are each fault's effective window once FIS's minimum
    durations are applied; ``notes`` say where FIS differs from the scenario as written;
    ``problems`` are faults that cannot be mapped, ``refused`` actions off the allow-list.
    """

    template: ExperimentTemplate
    region: str
    offset_s: float
    windows: Mapping[str, Window]
    length_s: float
    notes: tuple[str, ...]
    problems: tuple[str, ...]
    refused: tuple[str, ...]

    @property
    def runnable(self) -> bool:
        """Every fault mapped, and every action on the allow-list."""
        return not self.problems and not self.refused
