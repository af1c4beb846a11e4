"""``gameday import fis TEMPLATE``: an FIS experiment template into a gameday scenario.

Actions with a gameday equivalent become native faults, which run everywhere: the API-error
actions become ``api-fault``, cross-region route cuts become ``region-loss``, and LocalStack's
``localstack:generic:api-error`` (which exists in no AWS account) becomes ``api-fault`` or
``region-loss``. Every other action is kept as a pass-through ``fis-action`` fault, so that the
scenario still runs on ``aws``; ``aws:fis:wait`` only places the others in time. The output
is a scenario to finish by hand: the header lists what the template did not say (the app's
roles, stop conditions, references CloudFormation left unresolved), and the probe and
objectives are a starting point.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gameday.faults.modes import Mode
from gameday.fis.actions import is_localstack_action
from gameday.fis.cfn import RawTemplate, read_template
from gameday.fis.iso import parse_iso_duration
from gameday.scenario.botocore_data import known_regions
from gameday.scenario.durations import format_duration

_API_MODES = {
    "aws:fis:inject-api-unavailable-error": Mode.UNAVAILABLE,
    "aws:fis:inject-api-throttle-error": Mode.THROTTLE,
    "aws:fis:inject-api-internal-error": Mode.INTERNAL,
}
_CROSS_REGION = "aws:network:route-table-disrupt-cross-region-connectivity"
_WAIT = "aws:fis:wait"
_DURATION_PARAMETERS = (
    "duration",
    "startInstancesAfterDuration",
    "maxDuration",
    "durationBeforeInterruption",
)
_STATUS_MODES = {"500": Mode.INTERNAL, "503": Mode.UNAVAILABLE, "429": Mode.THROTTLE}
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:([a-z0-9-]+):")
_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):")
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+")
_ALARM = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_OPERATION = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")
DEFAULT_DURATION_S = 60.0
INSTANT_S = 1.0


@dataclass
class ImportResult:
    """The scenario text and what became of each action."""

    text: str
    mapped: list[str] = field(default_factory=list)
    passthrough: list[str] = field(default_factory=list)
    localstack_only: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _name(text: str, fallback: str = "imported") -> str:
    """``text`` as a gameday name: lower-case letters, digits, '.', '_' and '-'."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text)
    cleaned = re.sub(r"[^a-z0-9_.-]+", "-", words.lower()).strip("-_.")
    return (cleaned or fallback)[:63].rstrip("-_.") or fallback


def _seconds(parameters: Mapping[str, Any]) -> float | None:
    for key in _DURATION_PARAMETERS:
        value = parameters.get(key)
        if isinstance(value, str):
            try:
                return parse_iso_duration(value)
            except ValueError:
                return None
    return None


def _offsets(actions: Mapping[str, Any]) -> dict[str, float]:
    """When each action starts: after every action in its ``startAfter`` has ended."""
    starts: dict[str, float] = {}

    def start(name: str, seen: tuple[str, ...]) -> float:
        if name in starts:
            return starts[name]
        after = [a for a in actions[name].get("startAfter") or () if a in actions]
        if name in seen:
            return 0.0
        found = max(
            (
                start(a, (*seen, name)) + (_seconds(actions[a].get("parameters") or {}) or 0.0)
                for a in after
            ),
            default=0.0,
        )
        starts[name] = found
        return found

    for name in actions:
        start(name, ())
    return starts


def _region(body: Mapping[str, Any]) -> str | None:
    regions = known_regions()
    for text in re.findall(r"arn:aws[a-z-]*:[^\"'\s,]+", repr(body)):
        match = _ARN_REGION.match(text)
        if match and match.group(1) in regions:
            return match.group(1)
    return None


def _mode_of(status: str, exception: str | None) -> tuple[Mode, dict[str, Any] | None]:
    mode = _STATUS_MODES.get(status, Mode.INTERNAL)
    if exception and _ERROR_CODE.match(exception) and status.isdigit() and 400 <= int(status) < 600:
        return mode, {"status": int(status), "code": exception}
    return mode, None


class _Importer:
    def __init__(self, raw: RawTemplate, path: Path) -> None:
        self.raw = raw
        self.body = raw.body
        self.path = path
        self.result = ImportResult(text="")
        self.actions: Mapping[str, Any] = self.body.get("actions") or {}
        self.targets: Mapping[str, Any] = self.body.get("targets") or {}
        self.offsets = _offsets(self.actions)
        self.base = min((o for n, o in self.offsets.items() if self._kept(n)), default=0.0)
        self.names: set[str] = set()

    def _kept(self, name: str) -> bool:
        return str(self.actions[name].get("actionId")) != _WAIT

    def _fault_name(self, action: str) -> str:
        base = _name(action, "fault")
        unique, n = base, 2
        while unique in self.names:
            unique, n = f"{base[:60]}-{n}", n + 1
        self.names.add(unique)
        return unique

    def _window(self, name: str, parameters: Mapping[str, Any], default: float) -> dict[str, str]:
        seconds = _seconds(parameters)
        if seconds is None or seconds <= 0:
            seconds = default
            self.result.notes.append(
                f"{name}: no duration in the template; the fault's window is "
                f"{format_duration(seconds)}"
            )
        return {
            "start_after": format_duration(max(0.0, self.offsets[name] - self.base)),
            "duration": format_duration(seconds),
        }

    def _api_fault(self, name: str, action: Mapping[str, Any]) -> dict[str, Any] | None:
        parameters = action.get("parameters") or {}
        service = str(parameters.get("service", ""))
        operations = [o.strip() for o in str(parameters.get("operations", "")).split(",")]
        if not _SERVICE.match(service) or not all(_OPERATION.match(o) for o in operations):
            return None
        roles = [
            arn
            for key in (action.get("targets") or {}).values()
            for arn in self.targets.get(key, {}).get("resourceArns", [])
        ]
        if roles:
            self.result.notes.append(
                f"{name}: faults the calls of {', '.join(roles)}: list the app's roles under "
                "app_roles in the environment file"
            )
        return {
            "kind": "api-fault",
            "mode": _API_MODES[action["actionId"]].value,
            "services": [service],
            "operations": operations,
            "probability": int(parameters.get("percentage", "100")) / 100,
        }

    def _localstack(self, name: str, action: Mapping[str, Any]) -> dict[str, Any] | None:
        parameters = action.get("parameters") or {}
        self.result.localstack_only.append(name)
        mode, error = _mode_of(str(parameters.get("errorCode", "500")), parameters.get("exception"))
        service, region = parameters.get("service"), parameters.get("region")
        fault: dict[str, Any] = {}
        if service and _SERVICE.match(str(service)):
            api = str(parameters.get("api", "all"))
            fault |= {"kind": "api-fault", "services": [str(service)]}
            if api != "all" and _OPERATION.match(api):
                fault["operations"] = [api]
            if region in known_regions():
                fault["regions"] = [region]
        elif region in known_regions():
            fault |= {"kind": "region-loss", "region": region}
        else:
            return None
        fault["mode"] = mode.value
        if error is not None:
            fault["error"] = error
        if "percentage" in parameters:
            fault["probability"] = int(parameters["percentage"]) / 100
        self.result.notes.append(
            f"{name}: {action['actionId']} is a LocalStack-only action (FIS in AWS has no such "
            f"action): imported as {fault['kind']}, which runs on embedded and localstack"
        )
        return fault

    def _native(self, name: str, action: Mapping[str, Any]) -> dict[str, Any] | None:
        action_id = str(action.get("actionId", ""))
        if action_id in _API_MODES:
            return self._api_fault(name, action)
        if action_id == _CROSS_REGION:
            region = (action.get("parameters") or {}).get("region")
            if region in known_regions():
                return {"kind": "region-loss", "region": region, "mode": "blackhole"}
        if is_localstack_action(action_id):
            return self._localstack(name, action)
        return None

    def _target(self, key: str) -> dict[str, Any]:
        target = self.targets.get(key) or {}
        found: dict[str, Any] = {"resource_type": target.get("resourceType", "")}
        if target.get("resourceTags"):
            found["tags"] = {str(k): str(v) for k, v in target["resourceTags"].items()}
        if target.get("resourceArns"):
            found["arns"] = [str(a) for a in target["resourceArns"]]
        if target.get("filters"):
            found["filters"] = [
                {"path": str(f.get("path")), "values": [str(v) for v in f.get("values", [])]}
                for f in target["filters"]
            ]
        if target.get("parameters"):
            found["parameters"] = {str(k): str(v) for k, v in target["parameters"].items()}
        found["selection"] = str(target.get("selectionMode", "ALL"))
        return found

    def _passthrough(self, action: Mapping[str, Any]) -> dict[str, Any]:
        parameters = {
            str(k): str(v) for k, v in (action.get("parameters") or {}).items() if k != "duration"
        }
        fault: dict[str, Any] = {"kind": "fis-action", "action_id": str(action.get("actionId"))}
        if parameters:
            fault["parameters"] = parameters
        targets = {str(k): self._target(str(v)) for k, v in (action.get("targets") or {}).items()}
        if targets:
            fault["targets"] = targets
        return fault

    def faults(self) -> list[dict[str, Any]]:
        found = []
        for name, action in self.actions.items():
            if not self._kept(name):
                continue
            fault = self._native(name, action)
            if fault is None:
                self.result.passthrough.append(name)
                fault = self._passthrough(action)
            elif name not in self.result.localstack_only:
                self.result.mapped.append(name)
            # LocalStack's faults last until stopped; other actions without one are instant.
            default = DEFAULT_DURATION_S if name in self.result.localstack_only else INSTANT_S
            window = self._window(name, action.get("parameters") or {}, default)
            found.append({"name": self._fault_name(name), **fault, **window})
        return found


def _aws_defaults(body: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    role = str(body.get("roleArn", ""))
    alarms = [
        str(c.get("value", ""))
        for c in body.get("stopConditions") or []
        if c.get("source") == "aws:cloudwatch:alarm"
    ]
    found: dict[str, Any] = {}
    accounts = sorted({m.group(1) for a in (role, *alarms) if (m := _ACCOUNT.match(a))})
    if accounts:
        found["accounts"] = accounts
    if _ROLE.match(role):
        found["role_arn"] = role
    else:
        notes.append(f"roleArn {role or '(none)'} is not a role ARN: set role_arn for aws")
    usable = [a for a in alarms if _ALARM.match(a)]
    if usable:
        found["stop_conditions"] = usable
    else:
        notes.append("no usable CloudWatch alarm stop condition: add stop_conditions for aws")
    return found


def _scenario(importer: _Importer, faults: list[dict[str, Any]], path: Path) -> dict[str, Any]:
    body = importer.body
    tags = body.get("tags") or {}
    title = str(tags.get("Name") or body.get("description") or path.stem)
    region = _region(body)
    if region is None:
        region = "us-east-1"
        importer.result.notes.append("no region in the template: target.regions is us-east-1")
    ends = [
        importer.offsets[n] - importer.base + (_seconds(a.get("parameters") or {}) or INSTANT_S)
        for n, a in importer.actions.items()
    ]
    observe_s = max(60.0, max(ends, default=0.0) + 60.0)
    target: dict[str, Any] = {"regions": [region], "app": "demo"}
    aws = _aws_defaults(body, importer.result.notes)
    if aws:
        target["aws"] = aws
    return {
        "apiVersion": "gameday/v1",
        "metadata": {
            "name": _name(title if "${" not in title else path.stem),
            "description": str(body.get("description", ""))[:500],
            "tags": ["imported", "fis"],
        },
        "target": target,
        "faults": faults,
        "probes": [
            {"name": "health", "kind": "http", "url": "{app}/health", "interval": "1s"},
        ],
        "objectives": [
            {"kind": "steady", "probe": "health"},
            {"kind": "rto", "probe": "health", "target": "1m"},
        ],
        "guardrails": {"max_duration": format_duration(observe_s + 60.0)},
        "observe": {"max": format_duration(observe_s)},
    }


def _header(path: Path, raw: RawTemplate, result: ImportResult) -> str:
    lines = [
        f"Imported from {path.name} ({raw.source}) by gameday import fis.",
        "The probe and objectives are a starting point: point the probe at your service and",
        "set the targets your team declared.",
    ]
    if result.passthrough:
        lines.append(
            f"fis-action faults (aws only, not on the emulator): {', '.join(result.passthrough)}"
        )
    if raw.unresolved:
        lines.append(f"CloudFormation left unresolved: {', '.join(raw.unresolved)}")
    lines += result.notes
    wrapped = [part for line in lines for part in textwrap.wrap(line, 96, break_long_words=False)]
    return "".join(f"# {line}\n" for line in wrapped)


def import_fis_template(path: Path) -> ImportResult:
    """Read ``path`` (an FIS template, JSON or YAML, or a CloudFormation template with an
    ``AWS::FIS::ExperimentTemplate``) and return the scenario YAML text and a summary."""
    raw = read_template(path)
    importer = _Importer(raw, path)
    faults = importer.faults()
    scenario = _scenario(importer, faults, path)
    result = importer.result
    yaml = YAML(typ="rt", pure=True)  # keeps the fields in the order a person reads them
    yaml.default_flow_style = False
    yaml.width = 4096  # ARNs and document parameters stay on one line
    buffer = StringIO()
    yaml.dump(scenario, buffer)
    result.text = _header(path, raw, result) + buffer.getvalue()
    return result
