"""The gateway injector: rules become faults on the gameday gateway's admin API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient
from gameday.gateway.models import FaultEffect, FaultMatch, FaultSpec, Latency


def fault_spec(rule: Rule, run_id: str) -> FaultSpec:
    """The gateway fault for ``rule``; its id carries the run so ``abort`` can find it."""
    latency = Latency(min_s=rule.latency_s[0], max_s=rule.latency_s[1]) if rule.latency_s else None
    status, code = rule.error if rule.error else (None, None)
    return FaultSpec(
        id=f"{run_id}.{rule.id}".replace("#", "-"),
        match=FaultMatch(
            services=rule.services,
            exclude_services=rule.exclude_services,
            regions=rule.regions,
            operations=rule.operations,
            probability=rule.probability,
        ),
        effect=FaultEffect(mode=rule.mode, latency=latency, status=status, code=code),
        ttl_seconds=rule.ttl_s,
    )


class GatewayInjector:
    """Injects rules into one gateway."""

    def __init__(self, client: GatewayClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    @contextmanager
    def inject(self, rule: Rule) -> Iterator[None]:
        """Add the fault now; remove it on exit (its TTL removes it if we never get there)."""
        spec = fault_spec(rule, self.run_id)
        self.client.add(spec)
        try:
            yield
        finally:
            self.client.remove(spec.id)

    def clear(self) -> int:
        """Remove every fault the gateway holds."""
        return self.client.clear()
