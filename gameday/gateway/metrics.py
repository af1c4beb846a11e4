"""Prometheus metrics of one gateway: requests by service, operation, outcome and fault, and
the requests each fault was applied to by who made them (the app, or gameday's probes).

Each gateway owns its ``CollectorRegistry``, so two gateways in one process (tests, the
engine) never share or clash on counters.

>>> metrics = GatewayMetrics(fault_count=lambda: 0)
>>> metrics.observe("sts", "GetCallerIdentity", Outcome.ERROR, "sts-down", 0.0004, Caller.APP)
>>> metrics.render()  # Prometheus text format
>>> calls_by_fault(text, Caller.APP)  # {"sts-down": 1}
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from gameday.gateway.models import Caller, Outcome

CONTENT_TYPE = CONTENT_TYPE_LATEST

# Buckets from 0.5 ms (a forwarded call to a local emulator) to 30 s (a latency fault).
_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

_NONE = "none"
_UNKNOWN = "unknown"
_REQUESTS = "gameday_gateway_requests"
_FAULT_CALLS = "gameday_gateway_fault_calls"


class GatewayMetrics:
    """Counters and a latency histogram, with label children cached for the request path."""

    def __init__(self, fault_count: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            _REQUESTS,
            "Requests through the gateway, by what it did with them.",
            ("service", "operation", "outcome", "fault"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "gameday_gateway_request_duration_seconds",
            "Time from request to the end of the answer, as the gateway saw it.",
            ("service", "outcome"),
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        faults = Gauge(
            "gameday_gateway_faults_active",
            "Faults in force now (expired ones excluded).",
            registry=self.registry,
        )
        faults.set_function(lambda: float(fault_count()))
        self._fault_calls = Counter(
            _FAULT_CALLS,
            "Requests a fault was applied to, by who made them: the app, or gameday's own "
            "probes (signed with a key the gateway was told is theirs).",
            ("fault", "caller"),
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str, str], tuple[Counter, Histogram]] = {}
        self._fault_children: dict[tuple[str, Caller], Counter] = {}

    def observe(
        self,
        service: str | None,
        operation: str | None,
        outcome: Outcome,
        fault_id: str | None,
        duration_s: float,
        caller: Caller = Caller.APP,
    ) -> None:
        key = (service or _UNKNOWN, operation or _UNKNOWN, outcome.value, fault_id or _NONE)
        children = self._children.get(key)
        if children is None:
            # labels() takes a lock and builds a tuple each call: resolve once per label set.
            children = (
                self._requests.labels(*key),
                self._duration.labels(key[0], key[2]),
            )
            self._children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(duration_s)
        if fault_id is not None:
            fault_key = (fault_id, caller)
            fault_calls = self._fault_children.get(fault_key)
            if fault_calls is None:
                fault_calls = self._fault_calls.labels(fault_id, caller.value)
                self._fault_children[fault_key] = fault_calls
            fault_calls.inc()

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)


def calls_by_fault(text: str, caller: Caller | None = None) -> dict[str, int]:
    """Requests each fault was applied to since the gateway started, by fault id, read from
    ``render()``'s text: all of them, or only ``caller``'s. Exact, unlike the ring of recent
    requests, which drops the oldest: this is how a drill learns how many of the app's calls
    each of its faults matched (``caller`` ``Caller.APP``).

    A gateway older than the per-caller counter cannot tell callers apart: its text counts
    every request for ``caller``, as it always did."""
    families = {family.name: family for family in text_string_to_metric_families(text)}
    by_caller = families.get(_FAULT_CALLS) if caller is not None else None
    counts: dict[str, int] = {}
    if by_caller is not None:
        for sample in by_caller.samples:
            if sample.name == f"{_FAULT_CALLS}_total" and sample.labels.get("caller") == caller:
                fault = sample.labels["fault"]
                counts[fault] = counts.get(fault, 0) + int(sample.value)
        return counts
    requests = families.get(_REQUESTS)
    for sample in requests.samples if requests is not None else ():
        fault = sample.labels.get("fault", _NONE)
        if sample.name == f"{_REQUESTS}_total" and fault != _NONE:
            counts[fault] = counts.get(fault, 0) + int(sample.value)
    return counts
