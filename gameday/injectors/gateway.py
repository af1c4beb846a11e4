"""The gateway injector: rules become faults on the gameday gateway's admin API.

Every fault carries a TTL (its window plus a margin), so the gateway drops it by itself even
when the runner dies or its admin API stops answering; a removal that failed says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from gameday.errors import GameDayError, NotRemovedError
from gameday.faults.rules import Rule
from gameday.gateway.client import GatewayClient
from gameday.gateway.metrics import calls_by_fault
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
    """Injects one run's rules into one gateway (the client retries transient failures)."""

    def __init__(self, client: GatewayClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self._held: dict[str, tuple[Rule, FaultSpec]] = {}
        """Faults added and not yet known to be gone, by rule id."""

    @contextmanager
    def inject(self, rule: Rule) -> Iterator[None]:
        """Add the fault now; remove it on exit (its TTL removes it if we never get there)."""
        spec = fault_spec(rule, self.run_id)
        # Held before the PUT: a PUT that timed out may still have landed, and ``finish``
        # takes back whatever is held.
        self._held[rule.id] = (rule, spec)
        self.client.add(spec)
        try:
            yield
        finally:
            self._remove(rule, spec)

    def _remove(self, rule: Rule, spec: FaultSpec) -> None:
        try:
            self.client.remove(spec.id)  # a 404 is fine: it expired, or the PUT never landed
        except GameDayError as error:
            raise NotRemovedError(
                _not_removed(rule, spec, error.message, self.client.url), (rule.id,)
            ) from None
        self._held.pop(rule.id, None)

    def matched_calls(self, rules: Iterable[Rule]) -> dict[str, int]:
        """How many calls each rule acted on while in force, by rule id, from the gateway's
        counters (they outlive a fault's removal). GameDayError when they cannot be read."""
        counts = calls_by_fault(self.client.metrics())
        return {rule.id: counts.get(fault_spec(rule, self.run_id).id, 0) for rule in rules}

    def finish(self) -> None:
        """Remove every fault of this run still held; NotRemovedError names those left."""
        problems: list[str] = []
        ids: list[str] = []
        for rule, spec in list(self._held.values()):
            try:
                self._remove(rule, spec)
            except NotRemovedError as error:
                problems.append(error.message)
                ids.append(rule.id)
        if problems:
            raise NotRemovedError("; ".join(problems), tuple(ids))


def _not_removed(rule: Rule, spec: FaultSpec, why: str, url: str) -> str:
    return (
        f"fault {spec.id} ({rule.mode.value} on {', '.join(rule.services) or 'every service'}) "
        f"may still be in force: {why}; the gateway drops it by itself at the end of its TTL "
        f"({spec.ttl_seconds:g} s after it was added); to remove it now: "
        f"gameday abort --gateway {url}"
    )
