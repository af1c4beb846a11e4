"""Render a plan as terminal tables or as JSON for machines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gameday.faults.catalog import GLOBAL_HOME_REGION, GLOBAL_SERVICES
from gameday.faults.plan import Plan
from gameday.faults.rules import Rule
from gameday.kinds import HUMAN_OBJECTIVES
from gameday.redact import redact
from gameday.reports.fault_calls import expectation
from gameday.reports.people import FACILITATED_ONLY, PEOPLE
from gameday.scenario.durations import format_duration
from gameday.scenario.models import (
    AvailabilityObjective,
    DestructiveCallsObjective,
    FaultKind,
    LatencyObjective,
    ObjectiveVariant,
    ProbeVariant,
    SteadyObjective,
)
from gameday.scenario.probe_models import DataProbe, DataRead, ProbeCredentials


def _every(values: tuple[str, ...], word: str) -> str:
    return ", ".join(values) if values else f"every {word}"


_GLOBAL_NAMES = {
    "iam": "IAM",
    "route53": "Route 53",
    "cloudfront": "CloudFront",
    "organizations": "Organizations",
    "sts": "STS (global endpoint and us-east-1)",
}
"""How a plan names the global services of ``gameday.faults.catalog.GLOBAL_SERVICES``."""


def _global_services(rule: Rule) -> tuple[str, ...]:
    """The global services (homed in us-east-1) a region-loss rule takes with it."""
    if rule.kind is not FaultKind.REGION_LOSS or GLOBAL_HOME_REGION not in rule.regions:
        return ()
    if rule.services:
        return tuple(s for s in rule.services if s in GLOBAL_SERVICES)
    return tuple(s for s in GLOBAL_SERVICES if s not in rule.exclude_services)


def _region_loss_services(rule: Rule, globals_elsewhere: bool) -> str:
    """What a region-loss rule takes, the global services named: "every service" alone
    leaves the reader to know that IAM, Route 53 and the rest are signed for us-east-1.

    ``globals_elsewhere``: another rule of the same fault takes the global services."""
    taken = ", ".join(f"{_GLOBAL_NAMES.get(s, s)} [{s}]" for s in _global_services(rule))
    if rule.services:
        return f"the global services homed in {GLOBAL_HOME_REGION}: {taken}"
    text = f"every service, every request signed for {', '.join(rule.regions)}"
    if taken:
        return f"{text}, including the global services homed there: {taken}"
    if rule.exclude_services:
        return f"{text}, except the global services homed there: {', '.join(rule.exclude_services)}"
    if globals_elsewhere:
        return text
    spared = f"not the global services homed in {GLOBAL_HOME_REGION}"
    return f"{text}; {spared} (include_global: true adds them)"


def _services(rule: Rule, rules: Sequence[Rule] = ()) -> str:
    if rule.kind is FaultKind.REGION_LOSS:
        elsewhere = any(
            r.fault == rule.fault and r is not rule and _global_services(r) for r in rules
        )
        return _region_loss_services(rule, elsewhere)
    text = _every(rule.services, "service")
    return f"{text} except {', '.join(rule.exclude_services)}" if rule.exclude_services else text


def _mode(rule: Rule) -> str:
    if rule.latency_s is not None:
        low, high = rule.latency_s
        delay = (
            format_duration(low)
            if low == high
            else f"{format_duration(low)}..{format_duration(high)}"
        )
        return f"{rule.mode.value} {delay}"
    if rule.error is not None:
        return f"{rule.mode.value} ({rule.error[0]} {rule.error[1]})"
    return rule.mode.value


def _target(objective: ObjectiveVariant) -> str:
    if isinstance(objective, SteadyObjective):
        return f"{objective.samples} healthy samples before and after"
    if isinstance(objective, AvailabilityObjective):
        return f">= {objective.target:.2%}"
    if isinstance(objective, LatencyObjective):
        return f"{objective.percentile} <= {format_duration(objective.target)}"
    if isinstance(objective, DestructiveCallsObjective):
        return f"<= {objective.target} destructive call(s)"
    if objective.target is None and objective.target_from is not None:
        source = objective.target_from
        return f"from {source.resiliency_policy} ({source.disruption.value})"
    return f"<= {format_duration(objective.target or 0.0)}"


def _probe_of(objective: ObjectiveVariant) -> str:
    """The objective's probe, or ``people`` for a human objective (no probe measures people)."""
    if isinstance(objective, DestructiveCallsObjective):
        return "gateway"  # the gateway counts the app's calls; no probe does
    return PEOPLE if objective.kind in HUMAN_OBJECTIVES else objective.probe


def _human_note(objectives: Sequence[tuple[str, ObjectiveVariant]]) -> list[str]:
    """A line under the objectives naming the human ones, which an unattended run leaves
    ungraded; nothing when there are none."""
    names = [name for name, o in objectives if o.kind in HUMAN_OBJECTIVES]
    if not names:
        return []
    return [f"  {', '.join(names)}: measured on people's marks, {FACILITATED_ONLY}"]


def _probe_line(probe: ProbeVariant) -> str:
    what: dict[str, Callable[[Any], str]] = {
        "http": lambda p: f"{p.method} {p.url}",
        "aws": lambda p: (
            f"{p.service}.{p.call}" + (f", signed with profile {p.profile}" if p.profile else "")
        ),
        "command": lambda p: " ".join(p.command),
        "prometheus": lambda p: p.query,
        "dns": lambda p: f"{p.hostname} {p.record_type}",
        "data": lambda p: (
            f"POST {p.write_url}, read back from "
            + (p.read.url or f"log group {p.read.log_group}")
            + f" ({_read_steps(p.read)})"
        ),
    }
    if probe.kind.value == "alert":
        match = getattr(probe, "match", None)
        return "alerts posted to the runner's webhook sink" + (
            f" matching {match!r}" if match else ""
        )
    # A probe URL or command line may hold a credential: shown redacted, like everywhere.
    every = f"every {format_duration(probe.interval)}, {_timeout(probe)}"
    line = redact(f"{every}: {what[probe.kind.value](probe)}")
    return line + (f"; {RUNNER_NOTE}" if _as_runner(probe) else "")


TIMEOUT_NOTE = "a probe's answer slower than its timeout is an unhealthy sample"
"""Said once under a plan's probes: the timeout, not the app, decides such a sample."""


def _timeout(probe: ProbeVariant) -> str:
    """``timeout 2s (default)`` or ``timeout 1s``: the effective timeout, and whether the
    scenario chose it."""
    chosen = "timeout" in probe.model_fields_set
    return f"timeout {format_duration(probe.timeout)}" + ("" if chosen else " (default)")


def _read_steps(read: DataRead) -> str:
    """How a data probe reads back (docs/measurements.md): the flush, the settle and the
    deadline, ``(default)`` where the scenario left them out."""

    def mark(field: str) -> str:
        return "" if field in read.model_fields_set else " (default)"

    flush = f"flush POST {read.flush_url}" if read.flush_url else "no flush"
    return (
        f"{flush}, settle {format_duration(read.settle)}{mark('settle')}, "
        f"deadline {format_duration(read.deadline)}{mark('deadline')}"
    )


def _read_fields(probe: ProbeVariant) -> dict[str, Any]:
    """A data probe's read-back settings in ``plan --format json``; None for other probes."""
    if not isinstance(probe, DataProbe):
        return {"read_back": None}
    read = probe.read
    return {
        "read_back": {
            "flush_url": redact(read.flush_url) if read.flush_url else None,
            "settle_s": read.settle,
            "settle_default": "settle" not in read.model_fields_set,
            "deadline_s": read.deadline,
            "deadline_default": "deadline" not in read.model_fields_set,
        }
    }


def _timeout_fields(probe: ProbeVariant) -> dict[str, Any]:
    """A probe's timeout in ``plan --format json``; an alert sink waits for nothing."""
    if probe.kind.value == "alert":
        return {"timeout_s": None, "timeout_default": None, "on_timeout": None}
    default = "timeout" not in probe.model_fields_set
    return {"timeout_s": probe.timeout, "timeout_default": default, "on_timeout": "unhealthy"}


RUNNER_NOTE = "credentials: runner (the runner's own AWS identity and network, not isolated)"
"""How a plan marks a probe that the scenario lets out of isolation."""


def _as_runner(probe: ProbeVariant) -> bool:
    """Whether the scenario lets this probe out of isolation (``credentials: runner``)."""
    return getattr(probe, "credentials", None) is ProbeCredentials.RUNNER


def _expectations(plan: Plan) -> list[tuple[str, bool, str]]:
    """(fault, expect_calls, the plan's line) for each fault that has gateway rules."""
    scenario = plan.loaded.scenario
    expected = []
    for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True):
        rules = [r for r in plan.rules if r.fault == name]
        if rules:
            expected.append((name, fault.expect_calls, expectation(rules, fault.expect_calls)))
    return expected


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON-ready data (``gameday plan --format json``). A human objective's
    probe is ``people`` and its ``facilitated_only`` is true: only ``run --facilitate`` grades
    it."""
    scenario = plan.loaded.scenario
    names = scenario.objective_names()
    return {
        "scenario": scenario.metadata.name,
        "file": str(plan.loaded.path),
        "environment": plan.environment.value,
        "capabilities": sorted(c.value for c in plan.capabilities),
        "ok": plan.ok,
        "rules": [
            {
                "id": r.id,
                "fault": r.fault,
                "kind": r.kind.value,
                "mode": r.mode.value,
                "services": list(r.services),
                "exclude_services": list(r.exclude_services),
                "global_services": list(_global_services(r)),
                "regions": list(r.regions),
                "operations": list(r.operations),
                "probability": r.probability,
                "start_s": r.start_s,
                "end_s": r.end_s,
                "ttl_s": r.ttl_s,
                "latency_s": list(r.latency_s) if r.latency_s else None,
                "error": {"status": r.error[0], "code": r.error[1]} if r.error else None,
            }
            for r in plan.rules
        ],
        "expected_calls": [
            {"fault": name, "expect_calls": expect, "text": text}
            for name, expect, text in _expectations(plan)
        ],
        "probes": [
            {
                "name": p.name,
                "kind": p.kind.value,
                "interval_s": p.interval,
                **_timeout_fields(p),
                **_read_fields(p),
                "what": _probe_line(p),
                "credentials": "runner" if _as_runner(p) else "isolated",
            }
            for p in scenario.probes
        ],
        "objectives": [
            {
                "name": name,
                "kind": o.kind.value,
                "probe": _probe_of(o),
                "target": _target(o),
                "weight": o.weight,
                "critical": o.critical,
                "facilitated_only": o.kind in HUMAN_OBJECTIVES,
            }
            for name, o in zip(names, scenario.objectives, strict=True)
        ],
        "checks": [
            {"name": c.name, "outcome": c.outcome.value, "detail": c.detail} for c in plan.checks
        ],
    }


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_plan(plan: Plan) -> str:
    """The plan as plain text that reads at any terminal width: rules, probes, objectives,
    and the outcome of each safety check."""
    scenario = plan.loaded.scenario
    capabilities = ", ".join(sorted(plan.capabilities)) or "none"
    lines = [
        f"{scenario.metadata.name}  ({plan.loaded.path})",
        f"  environment {plan.environment.value}; capabilities {capabilities}",
        "",
        "rules",
    ]
    for r in plan.rules:
        lines.append(
            f"  {r.id}: {_mode(r)}, p={r.probability:g}, "
            f"{format_duration(r.start_s)} -> {format_duration(r.end_s)}, "
            f"ttl {format_duration(r.ttl_s)}"
        )
        lines.append(f"      services    {_services(r, plan.rules)}")
        lines.append(f"      regions     {_every(r.regions, 'region')}")
        lines.append(f"      operations  {_every(r.operations, 'operation')}")
    expected = _expectations(plan)
    if expected:
        lines += ["", "expected calls"]
        lines += [f"  {name}: {text}" for name, _, text in expected]
    lines += ["", "probes"]
    lines += _table([[p.name, p.kind.value, _probe_line(p)] for p in scenario.probes])
    if any(p.kind.value != "alert" for p in scenario.probes):
        lines.append(f"  ({TIMEOUT_NOTE})")
    objectives = list(zip(scenario.objective_names(), scenario.objectives, strict=True))
    lines += ["", "objectives"]
    lines += _table(
        [
            [name, o.kind.value, _probe_of(o), _target(o), f"weight {o.weight:g}"]
            + (["critical"] if o.critical else [""])
            for name, o in objectives
        ]
    )
    lines += _human_note(objectives)
    lines += ["", "safety checks"]
    lines += _table([[c.outcome.value.upper(), c.name, c.detail] for c in plan.checks])
    return "\n".join(lines) + "\n"
