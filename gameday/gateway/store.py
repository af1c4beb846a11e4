"""The gateway's state: active faults (first match in creation order, TTL'd) and a ring of
recent requests.

Time and randomness are parameters: ``clock`` (monotonic seconds, for TTLs), ``wall_clock``
(epoch seconds, for request records) and ``rng`` (probability draws), so tests pass fakes
instead of patching anything.

>>> store = FaultStore(rng=random.Random(7))
>>> store.put(spec)
>>> store.match(info)  # the first live fault that matches, or None
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from gameday.faults.modes import Mode
from gameday.gateway.classify import RequestInfo
from gameday.gateway.models import (
    Caller,
    ChaosEffects,
    ChaosRule,
    FaultBody,
    FaultSpec,
    FaultStatus,
    Outcome,
    RequestPage,
    RequestRecord,
)

Clock = Callable[[], float]

CHAOS_TTL_S = 3600.0
"""LocalStack's Chaos API has no TTL; its rules and effects here end after an hour anyway."""

CHAOS_ID_PREFIX = "localstack-chaos-"

DEFAULT_RING_SIZE = 10_000

MAX_FAULTS = 10_000
"""Every request is matched against the faults in turn: a drill holds a handful, and ten
thousand already cost about 1 ms a request."""


@dataclass(slots=True, eq=False)
class ActiveFault:
    """A fault compiled for the request path: frozensets and plain numbers, no pydantic."""

    spec: FaultSpec
    expires_at: float
    services: frozenset[str]
    exclude_services: frozenset[str]
    regions: frozenset[str]
    operations: frozenset[str]
    probability: float
    mode: Mode
    status: int | None
    code: str | None
    latency_min_s: float
    latency_max_s: float
    max_hits: int | None = None
    hits: int = 0
    chaos_rule: ChaosRule | None = field(default=None)

    @classmethod
    def compile(
        cls, spec: FaultSpec, now: float, chaos_rule: ChaosRule | None = None
    ) -> ActiveFault:
        effect = spec.effect
        latency = effect.latency
        return cls(
            spec=spec,
            expires_at=now + spec.ttl_seconds,
            services=frozenset(spec.match.services),
            exclude_services=frozenset(spec.match.exclude_services),
            regions=frozenset(spec.match.regions),
            operations=frozenset(spec.match.operations),
            probability=spec.match.probability,
            mode=effect.mode,
            status=effect.status,
            code=effect.code,
            latency_min_s=latency.min_s if latency else 0.0,
            latency_max_s=latency.max_s if latency else 0.0,
            max_hits=spec.match.max_hits,
            chaos_rule=chaos_rule,
        )

    @property
    def id(self) -> str:
        return self.spec.id

    def applies_to(self, info: RequestInfo) -> bool:
        """Whether the request is in this fault's scope (probability aside).

        A request the gateway could not classify is failed only by a fault scoped by region
        alone: "never failed by accident" (issue 3) rules out catch-all and service faults.
        ``info.region`` of a request that names none is the gateway's default region, if it
        has one (``classify.assume_region``); else None, which no fault with regions takes.
        """
        if not info.classified:
            return (
                bool(self.regions)
                and not self.services
                and not self.operations
                and info.region in self.regions
            )
        # info.names: the model name and, where it names no other service, the signing name
        # ("cloudwatch" is also "monitoring"; sso-admin, signed as "sso", is not the portal).
        if self.services and self.services.isdisjoint(info.names):
            return False
        if self.exclude_services and not self.exclude_services.isdisjoint(info.names):
            return False
        if self.regions and info.region not in self.regions:
            return False
        return not self.operations or info.operation in self.operations

    def status_now(self, now: float) -> FaultStatus:
        return FaultStatus(
            **self.spec.model_dump(),
            expires_in_s=round(max(0.0, self.expires_at - now), 3),
            hits=self.hits,
        )


class FaultStore:
    """Active faults by id, in creation order; a PUT of an existing id replaces it in place."""

    def __init__(self, *, rng: random.Random, clock: Clock = time.monotonic) -> None:
        self._rng = rng
        self._clock = clock
        self._faults: dict[str, ActiveFault] = {}
        self._next_expiry = float("inf")
        self._effects = ChaosEffects()
        self._effects_expire_at = float("inf")
        self.effect_latency_s = 0.0
        """LocalStack Chaos "effects" latency, added to every forwarded request."""

    def __len__(self) -> int:
        return len(self._faults)

    def put(self, spec: FaultSpec, chaos_rule: ChaosRule | None = None) -> tuple[ActiveFault, bool]:
        """Add or replace a fault; returns it and whether it is new."""
        now = self._clock()
        fault = ActiveFault.compile(spec, now, chaos_rule)
        created = spec.id not in self._faults
        self._faults[spec.id] = fault
        self._next_expiry = min(self._next_expiry, fault.expires_at)
        return fault, created

    def now(self) -> float:
        """The store's clock (monotonic seconds), for ``ActiveFault.status_now``."""
        return self._clock()

    def get(self, fault_id: str) -> ActiveFault | None:
        self._expire(self._clock())
        return self._faults.get(fault_id)

    def remove(self, fault_id: str) -> bool:
        return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        """The kill switch: every fault and every LocalStack effect, gone. Returns the count."""
        count = len(self._faults)
        self._faults.clear()
        self._next_expiry = float("inf")
        self.set_effects(ChaosEffects())
        return count

    def active(self) -> list[ActiveFault]:
        """Live faults in creation order."""
        self._expire(self._clock())
        return list(self._faults.values())

    def statuses(self) -> list[FaultStatus]:
        now = self._clock()
        self._expire(now)
        return [fault.status_now(now) for fault in self._faults.values()]

    def match(self, info: RequestInfo) -> ActiveFault | None:
        """The first live fault that applies to the request, after its probability draw.

        A fault with ``max_hits`` that has been applied that many times is skipped (its
        probability is not drawn), so the request may match the next fault or none.
        Runs on every request: an expired fault is dropped here, so it is gone for the very
        next request even if no sweeper ran.
        """
        if not self._faults:
            return None
        now = self._clock()
        if now >= self._next_expiry:
            self._expire(now)
        for fault in self._faults.values():
            if fault.max_hits is not None and fault.hits >= fault.max_hits:
                continue  # spent: it has answered its first N matching requests
            if not fault.applies_to(info):
                continue
            probability = fault.probability
            # Draw only for requests in scope, and never for 0 or 1, so a seeded run is
            # reproducible request by request whatever else passes through.
            if probability < 1.0 and (probability <= 0.0 or not self._rng.random() < probability):
                continue
            fault.hits += 1
            return fault
        return None

    def draw_latency_s(self, fault: ActiveFault) -> float:
        if fault.latency_max_s <= fault.latency_min_s:
            return fault.latency_min_s
        return self._rng.uniform(fault.latency_min_s, fault.latency_max_s)

    def sweep(self) -> int:
        """Drop expired faults now; returns how many. For a periodic sweeper."""
        before = len(self._faults)
        self._expire(self._clock())
        return before - len(self._faults)

    def _expire(self, now: float) -> None:
        if now >= self._effects_expire_at:
            self.set_effects(ChaosEffects())
        if now < self._next_expiry:
            return
        expired = [key for key, fault in self._faults.items() if fault.expires_at <= now]
        for key in expired:
            del self._faults[key]
        self._next_expiry = min((f.expires_at for f in self._faults.values()), default=float("inf"))

    def chaos_rules(self) -> list[ChaosRule]:
        """The LocalStack Chaos API rules in force, in order."""
        return [f.chaos_rule for f in self.active() if f.chaos_rule is not None]

    def set_chaos_rules(self, rules: Iterable[tuple[ChaosRule, FaultBody]]) -> None:
        """LocalStack ``POST /_localstack/chaos/faults``: replace every chaos rule. The rules
        come already validated, with the fault each stands for, so nothing here can fail
        half-way."""
        for fault in self.active():
            if fault.chaos_rule is not None:
                self.remove(fault.id)
        self.add_chaos_rules(rules)

    def add_chaos_rules(self, rules: Iterable[tuple[ChaosRule, FaultBody]]) -> None:
        """LocalStack ``PATCH``: append rules; each becomes a fault with a generated id."""
        taken = set(self._faults)
        number = 0
        for rule, body in rules:
            while f"{CHAOS_ID_PREFIX}{number}" in taken:
                number += 1
            fault_id = f"{CHAOS_ID_PREFIX}{number}"
            taken.add(fault_id)
            self.put(FaultSpec.model_construct(id=fault_id, **dict(body)), chaos_rule=rule)

    def remove_chaos_rules(self, rules: Iterable[ChaosRule]) -> None:
        """LocalStack ``DELETE``: remove every chaos rule equal to one of the given rules, in
        one pass (frozen rules hash by value)."""
        doomed = set(rules)
        for fault in self.active():
            if fault.chaos_rule is not None and fault.chaos_rule in doomed:
                self.remove(fault.id)

    @property
    def effects(self) -> ChaosEffects:
        self._expire(self._clock())
        return self._effects

    def set_effects(self, effects: ChaosEffects) -> None:
        """LocalStack ``POST /_localstack/chaos/effects``."""
        self._effects = effects
        self.effect_latency_s = effects.latency / 1000.0
        self._effects_expire_at = self._clock() + CHAOS_TTL_S if effects.latency else float("inf")
        if effects.latency:
            self._next_expiry = min(self._next_expiry, self._effects_expire_at)


_Row = tuple[
    int, float, str, "str | None", "str | None", "str | None", "str | None", "int | None",
    Outcome, "str | None", float, bool, Caller,
]  # fmt: skip


class RequestLog:
    """A bounded ring of recent requests, numbered from 1; the oldest fall off the end.

    Rows are plain tuples on the request path; models are built only when someone asks.
    """

    def __init__(self, size: int = DEFAULT_RING_SIZE, *, wall_clock: Clock = time.time) -> None:
        self._rows: deque[_Row] = deque(maxlen=size)
        self._wall_clock = wall_clock
        self.last_seq = 0

    def record(
        self,
        method: str,
        info: RequestInfo | None,
        status: int | None,
        outcome: Outcome,
        fault_id: str | None,
        latency_s: float,
        caller: Caller = Caller.APP,
    ) -> None:
        """One request as it ended. ``info.region`` is the region it was matched by: for a
        request that names none, the gateway's default region (``assume_region``)."""
        self.last_seq += 1
        if info is None:
            row: _Row = (
                self.last_seq, self._wall_clock(), method, None, None, None, None,
                status, outcome, fault_id, latency_s, True, caller,
            )  # fmt: skip
        else:
            protocol = info.protocol
            row = (
                self.last_seq, self._wall_clock(), method, info.service, info.region,
                info.operation, str(protocol) if protocol is not None else None,
                status, outcome, fault_id, latency_s, not info.classified, caller,
            )  # fmt: skip
        self._rows.append(row)

    def page(self, since: int = 0, limit: int | None = None) -> RequestPage:
        """Records with ``seq > since``, oldest first, at most ``limit`` of them."""
        rows = self._rows
        first_seq = rows[0][0] if rows else self.last_seq + 1
        start = max(0, since + 1 - first_seq)
        dropped = max(0, first_seq - since - 1) if since < self.last_seq else 0
        stop = None if limit is None else start + limit
        records = tuple(_record(row) for row in islice(rows, start, stop))
        last = records[-1].seq if records else max(since, 0)
        return RequestPage(requests=records, last_seq=min(last, self.last_seq), dropped=dropped)


def _record(row: _Row) -> RequestRecord:
    seq, at, method, service, region, operation, protocol, status, outcome, fault, lat, unc, who = (
        row
    )
    return RequestRecord(
        seq=seq,
        time=at,
        method=method,
        service=service,
        region=region,
        operation=operation,
        protocol=protocol,
        status=status,
        outcome=outcome,
        fault_id=fault,
        latency_s=round(lat, 6),
        unclassified=unc,
        caller=who,
    )
