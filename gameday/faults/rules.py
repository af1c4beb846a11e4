"""Resolve faults into concrete rules: services x regions x operations x mode x probability x
window (DESIGN.md "One run", step 2). Rules are what injectors apply and what ``plan`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.faults.catalog import (
    FEDERATION_OPERATIONS,
    GLOBAL_HOME_REGION,
    GLOBAL_SERVICES,
    services_for,
)
from gameday.faults.modes import Mode
from gameday.scenario.models import (
    FaultKind,
    FaultVariant,
    FisAction,
    IdentityLoss,
    RegionLoss,
    Scenario,
)

TTL_MARGIN_S = 2.0
"""Added to each rule's window for its TTL: a runner killed with SIGKILL leaves no fault behind
for longer than this past the window, yet a slow injection never expires a rule early."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One concrete fault rule. Empty ``services``/``regions``/``operations`` mean "every"."""

    id: str
    fault: str
    kind: FaultKind
    mode: Mode
    services: tuple[str, ...]
    regions: tuple[str, ...]
    operations: tuple[str, ...]
    probability: float
    start_s: float
    end_s: float
    exclude_services: tuple[str, ...] = ()
    latency_s: tuple[float, float] | None = None
    error: tuple[int, str] | None = None

    @property
    def duration_s(self) -> float:
        """How long the rule is in force."""
        return self.end_s - self.start_s

    @property
    def ttl_s(self) -> float:
        """The TTL the injector gives it: its window plus ``TTL_MARGIN_S``."""
        return self.duration_s + TTL_MARGIN_S


def _windows(fault: FaultVariant) -> list[tuple[float, float, float]]:
    """(start, end, probability) per ramp step, or one window without a ramp."""
    if not fault.ramp:
        return [(fault.start_after, fault.end_s, fault.peak_probability)]
    starts = [fault.start_after + step.after for step in fault.ramp]
    ends = [*starts[1:], fault.end_s]
    return [(s, e, step.probability) for s, e, step in zip(starts, ends, fault.ramp, strict=True)]


def _targets(
    fault: FaultVariant, default_regions: tuple[str, ...]
) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]:
    """(services, regions, exclude_services) triples the fault covers."""
    if isinstance(fault, RegionLoss):
        if fault.region == GLOBAL_HOME_REGION:
            excluded = () if fault.global_services_fail else GLOBAL_SERVICES
            return [((), (fault.region,), excluded)]
        targets: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
            ((), (fault.region,), ())
        ]
        if fault.global_services_fail:
            targets.append((GLOBAL_SERVICES, (GLOBAL_HOME_REGION,), ()))
        return targets
    if isinstance(fault, FisAction):
        return []
    return [(services_for(fault), fault.regions or default_regions, ())]


def _operations(fault: FaultVariant) -> tuple[str, ...]:
    if isinstance(fault, IdentityLoss) and fault.federation_only:
        return fault.operations or FEDERATION_OPERATIONS
    return fault.operations


def resolve_rules(scenario: Scenario) -> list[Rule]:
    """Every rule of the scenario, in fault order then window order."""
    rules: list[Rule] = []
    for name, fault in zip(scenario.fault_names(), scenario.faults, strict=True):
        if isinstance(fault, FisAction):
            # Passed to FIS as written (gameday.fis.template); no gateway rule can stand for
            # it, and an empty service list would mean "every service" to a gateway.
            continue
        windows = _windows(fault)
        targets = _targets(fault, scenario.target.regions)
        error = (fault.error.status, fault.error.code) if fault.error else None
        for w, (start, end, probability) in enumerate(windows):
            for t, (services, regions, excluded) in enumerate(targets):
                suffix = (f"#{w + 1}" if len(windows) > 1 else "") + (
                    f".{t + 1}" if len(targets) > 1 else ""
                )
                rules.append(
                    Rule(
                        id=f"{name}{suffix}",
                        fault=name,
                        kind=fault.kind,
                        mode=fault.mode,
                        services=services,
                        regions=regions,
                        operations=_operations(fault),
                        probability=probability,
                        start_s=start,
                        end_s=end,
                        exclude_services=excluded,
                        latency_s=fault.latency_range_s(),
                        error=error,
                    )
                )
    return rules
